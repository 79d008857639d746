//! What the SQLite store evaluates itself and what it declines ("can't
//! push this down"), and that a declined expression is still answered
//! correctly through the facade.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::segment::Expr;
use crm_core::{
    Actor, Crm, ManualClock, Money, NewActivity, NewCustomer, NewDeal, PageRequest, PipelineDef,
    Store,
};
use crm_store_sqlite::SqliteStore;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn pushed(store: &SqliteStore, text: &str) -> Option<usize> {
    let e: Expr = text.parse().unwrap();
    let tx = store.read().unwrap();
    tx.segment_push_down(&e, now())
        .unwrap()
        .map(|ids| ids.len())
}

#[test]
fn attribute_and_simple_derived_predicates_run_in_sql_the_rest_is_declined() {
    let crm = Crm::new(SqliteStore::open_in_memory().unwrap()).with_clock(ManualClock::new(now()));
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    let acme = s
        .create_customer(
            NewCustomer::organisation("ACME GmbH")
                .tag("vip")
                .email("a@acme.example"),
        )
        .unwrap();
    let bob = s.create_customer(NewCustomer::person("Bob")).unwrap();
    let d = s
        .at(now() - Duration::days(20))
        .create_deal(
            NewDeal::new(acme.id, p.id, "Order").amount(Money::parse("1500", "EUR").unwrap()),
        )
        .unwrap();
    s.at(now() - Duration::days(3))
        .win_deal(d.id, d.version)
        .unwrap();
    s.create_deal(NewDeal::new(bob.id, p.id, "Open")).unwrap();
    s.at(now() - Duration::days(10))
        .log_activity(NewActivity::new(crm_core::ActivityKind::Call, "Hi").customer(bob.id))
        .unwrap();
    let store = crm.store();

    // Answered in SQL.
    assert_eq!(pushed(store, "tag:vip and kind = organisation"), Some(1));
    assert_eq!(
        pushed(store, "email contains \"ACME\" or not tags exists"),
        Some(2)
    );
    assert_eq!(pushed(store, "open_deals > 0"), Some(1));
    assert_eq!(pushed(store, "last_won within 7d"), Some(1));
    assert_eq!(pushed(store, "days_since_last_activity >= 10"), Some(1));
    assert_eq!(pushed(store, "not last_activity exists"), Some(1));
    // Declined: exact money sums, population-wide RFM, custom decimals and
    // money (decimal strings), and times finer than the stored millisecond.
    for text in [
        "won_amount(EUR) > 1000",
        "tag:vip and won_amount(EUR, 30d) > 1000",
        "rfm_segment(EUR) = champions",
        "field.score > 1.5",
        "field.budget > 100 EUR",
        "field.renewal < 2025-01-01",
        "field.renewal within 30d",
        "created < 2025-06-01T00:00:00.0000001Z",
    ] {
        assert_eq!(pushed(store, text), None, "{text}");
    }
    // Declined expressions are still answered (by the reference evaluator).
    let r = s
        .evaluate_expr(
            &"tag:vip and won_amount(EUR, 30d) > 1000".parse().unwrap(),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(r.page.items, vec![acme.id]);
    let r = s
        .evaluate_expr(
            &"created < 2025-06-01T12:00:00.0000001Z".parse().unwrap(),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(r.count, 2);
}

#[test]
fn exact_custom_field_tests_run_in_sql() {
    use crm_core::custom_field::{CustomValue as V, FieldDef, FieldType};
    let crm = Crm::new(SqliteStore::open_in_memory().unwrap()).with_clock(ManualClock::new(now()));
    let s = crm.as_actor(Actor::System);
    s.set_custom_fields(
        crm_core::EntityKind::Customer,
        0,
        vec![
            FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold", "silver"]),
            FieldDef::new("seats", "Seats", FieldType::Integer),
            FieldDef::new("renewal", "Renewal", FieldType::Date),
            FieldDef::new("active", "Active", FieldType::Bool),
            FieldDef::new("note", "Note", FieldType::Text),
            FieldDef::new("score", "Score", FieldType::Decimal),
        ],
    )
    .unwrap();
    let date = |y, m, d| V::Date(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap());
    s.create_customer(
        NewCustomer::organisation("A")
            .custom("tier", V::Text("gold".into()))
            .custom("seats", V::Integer(40))
            .custom("renewal", date(2025, 3, 1))
            .custom("active", V::Bool(true))
            .custom("note", V::Text("Key \"account\" Berlin".into())),
    )
    .unwrap();
    s.create_customer(
        NewCustomer::organisation("B")
            .custom("tier", V::Text("silver".into()))
            .custom("seats", V::Integer(5))
            .custom("active", V::Bool(false)),
    )
    .unwrap();
    s.create_customer(NewCustomer::person("C")).unwrap();
    let store = crm.store();
    for (text, want) in [
        ("field.tier = gold", 1),
        ("field.tier != gold", 1),
        ("not field.tier = gold", 2),
        ("field.tier in (gold, silver)", 2),
        ("field.note contains \"ACCOUNT\"", 1),
        ("field.note = \"Key \\\"account\\\" Berlin\"", 1),
        ("field.seats > 5", 1),
        ("field.seats <= 40", 2),
        ("field.seats != 40", 1),
        ("field.seats in (5, 6)", 1),
        ("field.renewal = 2025-03-01", 1),
        ("field.renewal != 2025-03-01", 0),
        ("field.active = true", 1),
        ("field.active in (false)", 1),
        ("not field.active = true", 2),
        ("field.renewal exists", 1),
        ("not field.seats exists", 1),
        // A value of another type never matches.
        ("field.seats = \"5\"", 0),
        ("field.tier = 5", 0),
    ] {
        assert_eq!(pushed(store, text), Some(want), "{text}");
        // And the facade (which checks the schema) agrees where it accepts.
        if let Ok(r) = s.evaluate_expr(&text.parse().unwrap(), &PageRequest::default()) {
            assert_eq!(r.count, want as u64, "facade: {text}");
        }
    }
    // Whole numbers against a key holding a decimal are not exact in SQL.
    s.create_customer(
        NewCustomer::person("D").custom("score", V::Decimal("2.50".parse().unwrap())),
    )
    .unwrap();
    assert_eq!(pushed(store, "field.score > 2"), None);
    assert_eq!(pushed(store, "field.seats > 2"), Some(2));
    let r = s
        .evaluate_expr(&"field.score > 2".parse().unwrap(), &PageRequest::default())
        .unwrap();
    assert_eq!(r.count, 1);
}
