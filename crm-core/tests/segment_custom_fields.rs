//! `field.KEY` in segment expressions through the facade (memory store):
//! evaluation on customers' custom values, and the typed errors for keys
//! and tests that do not fit the customer field schema.

use crm_core::custom_field::{CustomValue, FieldDef, FieldType};
use crm_core::segment::Expr;
use crm_core::{
    Actor, Crm, CustomerId, EntityKind, Error, Money, NewCustomer, PageRequest, SegmentPatch,
};
use crm_store_memory::MemoryStore;

fn setup() -> (Crm<MemoryStore>, Vec<CustomerId>) {
    let crm = Crm::new(MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    s.set_custom_fields(
        EntityKind::Customer,
        0,
        vec![
            FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold", "silver"]),
            FieldDef::new("budget", "Budget", FieldType::Money),
            FieldDef::new("seats", "Seats", FieldType::Integer),
            FieldDef::new("renewal", "Renewal", FieldType::Date),
            FieldDef::new("active", "Active", FieldType::Bool),
            FieldDef::new("note", "Note", FieldType::Text),
        ],
    )
    .unwrap();
    let eur = |a: &str| CustomValue::Money(Money::parse(a, "EUR").unwrap());
    let a = s
        .create_customer(
            NewCustomer::organisation("A")
                .custom("tier", CustomValue::Text("gold".into()))
                .custom("budget", eur("1500.00"))
                .custom("seats", CustomValue::Integer(40))
                .custom("active", CustomValue::Bool(true))
                .custom("note", CustomValue::Text("Key account, Berlin".into())),
        )
        .unwrap();
    let b = s
        .create_customer(
            NewCustomer::organisation("B")
                .custom("tier", CustomValue::Text("silver".into()))
                .custom("budget", eur("800"))
                .custom("seats", CustomValue::Integer(5))
                .custom(
                    "renewal",
                    CustomValue::Date(chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()),
                ),
        )
        .unwrap();
    let c = s.create_customer(NewCustomer::person("C")).unwrap();
    (crm, vec![a.id, b.id, c.id])
}

fn ids(crm: &Crm<MemoryStore>, text: &str) -> Vec<CustomerId> {
    let e: Expr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    crm.as_actor(Actor::System)
        .evaluate_expr(&e, &PageRequest::default())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .page
        .items
}

#[test]
fn custom_fields_evaluate_through_the_facade() {
    let (crm, c) = setup();
    assert_eq!(ids(&crm, "field.tier = gold"), vec![c[0]]);
    assert_eq!(ids(&crm, "field.tier in (gold, silver)"), vec![c[0], c[1]]);
    assert_eq!(ids(&crm, "field.budget >= 800 EUR"), vec![c[0], c[1]]);
    assert_eq!(ids(&crm, "field.budget > 800.00 EUR"), vec![c[0]]);
    assert_eq!(ids(&crm, "field.budget > 1 USD"), Vec::<CustomerId>::new());
    assert_eq!(ids(&crm, "field.seats < 10"), vec![c[1]]);
    assert_eq!(ids(&crm, "field.renewal <= 2025-03-01"), vec![c[1]]);
    assert_eq!(ids(&crm, "field.active = true"), vec![c[0]]);
    assert_eq!(ids(&crm, "field.note contains \"berlin\""), vec![c[0]]);
    assert_eq!(ids(&crm, "not field.tier exists"), vec![c[2]]);
    assert_eq!(
        ids(&crm, "kind = organisation and not field.renewal exists"),
        vec![c[0]]
    );
    // A saved segment evaluates the same way.
    let s = crm.as_actor(Actor::System);
    let seg = s
        .create_segment(
            "Big gold",
            "field.tier = gold and field.seats >= 20".parse().unwrap(),
        )
        .unwrap();
    let r = s.evaluate_segment(seg.id, &PageRequest::default()).unwrap();
    assert_eq!(r.page.items, vec![c[0]]);
}

/// The `Error::Invalid` of evaluating `text`: field and reason.
fn refused(crm: &Crm<MemoryStore>, text: &str) -> (String, String) {
    let e: Expr = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    match crm
        .as_actor(Actor::System)
        .evaluate_expr(&e, &PageRequest::default())
    {
        Err(Error::Invalid(v)) => {
            assert_eq!(v.entity, EntityKind::Segment, "{text}");
            (v.field, v.reason)
        }
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn unknown_keys_and_unfit_tests_are_typed_errors() {
    let (crm, _) = setup();
    assert_eq!(
        refused(&crm, "tag:vip or field.industry = \"retail\""),
        (
            "field.industry".to_owned(),
            "no custom field 'industry' on customers (the fields are tier, budget, seats, \
             renewal, active, note)"
                .to_owned()
        )
    );
    let cases = [
        (
            "field.seats contains \"4\"",
            "'field.seats' is an integer field: 'contains' does not apply (it supports =, !=, <, <=, >, >=, in and exists)",
        ),
        (
            "field.active < true",
            "'field.active' is a bool field: '<' does not apply (it supports =, !=, in and exists)",
        ),
        (
            "field.tier > \"gold\"",
            "'field.tier' is an enum field: '>' does not apply (it supports =, !=, in, contains and exists)",
        ),
        (
            "field.seats within 30d",
            "'field.seats' is an integer field: 'within' does not apply (it supports =, !=, <, <=, >, >=, in and exists)",
        ),
        (
            "field.budget > 1000",
            "'field.budget' is a money field: it takes an amount and a currency such as 1200.50 EUR",
        ),
        (
            "field.seats = 4 EUR",
            "'field.seats' is an integer field: it takes a number such as 42 or 12.5",
        ),
        (
            "field.renewal = 2025-03-01T10:00:00Z",
            "'field.renewal' is a date field: it takes a date such as 2025-01-31",
        ),
        (
            "field.active = \"yes\"",
            "'field.active' is a bool field: it takes true or false",
        ),
        (
            "field.tier in (gold, bronze)",
            "'field.tier' is an enum field: \"bronze\" is not one of its options (gold, silver)",
        ),
    ];
    for (text, reason) in cases {
        let key = text.split_whitespace().next().unwrap().to_owned();
        assert_eq!(refused(&crm, text), (key, reason.to_owned()), "{text}");
    }
    // `contains` on an enum takes any text (a fragment of an option).
    assert_eq!(ids(&crm, "field.tier contains \"IL\"").len(), 1);
}

#[test]
fn segments_are_checked_when_saved_and_when_evaluated() {
    let crm = Crm::new(MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    // No custom fields at all.
    match s.create_segment("x", "field.tier = gold".parse().unwrap()) {
        Err(Error::Invalid(v)) => assert_eq!(
            v.reason,
            "no custom field 'tier': customers have no custom fields"
        ),
        other => panic!("{other:?}"),
    }
    let schema = s
        .set_custom_fields(
            EntityKind::Customer,
            0,
            vec![FieldDef::new("tier", "Tier", FieldType::Text)],
        )
        .unwrap();
    let seg = s
        .create_segment("Gold", "field.tier = gold".parse().unwrap())
        .unwrap();
    // An update with a bad expression is refused and changes nothing.
    let bad = SegmentPatch::default().expression("field.tier < \"x\"".parse().unwrap());
    assert!(matches!(
        s.update_segment(seg.id, seg.version, bad),
        Err(Error::Invalid(_))
    ));
    assert_eq!(s.segment(seg.id).unwrap(), seg);
    // Once the field is gone from the schema, evaluating the saved segment
    // says so instead of answering "nobody".
    s.set_custom_fields(EntityKind::Customer, schema.version, vec![])
        .unwrap();
    match s.evaluate_segment(seg.id, &PageRequest::default()) {
        Err(Error::Invalid(v)) => assert_eq!(v.field, "field.tier"),
        other => panic!("{other:?}"),
    }
}
