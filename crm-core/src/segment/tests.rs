//! Parser, printer and reference-evaluator tests.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::*;
use crate::activity::{Activity, ActivityKind};
use crate::contact::{Email, Phone};
use crate::customer::{Customer, Lifecycle, PartyKind, Role};
use crate::deal::{Deal, DealStatus};
use crate::id::{ActivityId, CustomerId, DealId, PipelineId, UserId};
use crate::money::Money;
use crate::pipeline::StageKey;
use crate::tag::Tag;
use crate::testing::segments as strat;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printing_then_parsing_gives_the_same_tree(e in strat::expr()) {
        prop_assert!(e.check().is_ok(), "generated tree is well-typed: {:?}", e.check());
        let text = e.to_string();
        let back = parse(&text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
        prop_assert_eq!(&back, &e, "text: {}", text);
        // Printing is canonical: the text prints back identically.
        prop_assert_eq!(back.to_string(), text);
    }

    #[test]
    fn json_round_trips(e in strat::expr()) {
        let json = serde_json::to_string(&e).unwrap();
        let back: Expr = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, e);
    }

    #[test]
    fn the_parser_never_panics(s in "[a-z_:(), =<>!\"0-9.]{0,40}") {
        let _ = parse(&s);
    }
}

fn err(input: &str) -> ParseError {
    match parse(input) {
        Ok(e) => panic!("{input:?} parsed as {e:?}"),
        Err(e) => e,
    }
}

#[test]
fn parse_errors_give_position_and_expectation() {
    let e = err("lifecycle = client");
    assert_eq!((e.position, e.found.as_str()), (12, "'client'"));
    assert_eq!(
        e.expected,
        "a lifecycle (lead, prospect, customer, churned)"
    );

    let e = err("tag:vip and");
    assert_eq!((e.position, e.found.as_str()), (11, "end of input"));
    assert!(e.expected.starts_with("a condition"), "{}", e.expected);

    let e = err("kind < person");
    assert_eq!((e.position, e.found.as_str()), (5, "'<'"));
    assert!(
        e.expected.contains("'kind' cannot be compared with '<'"),
        "{}",
        e.expected
    );

    let e = err("won_amount(EURO, 30d) > 5");
    assert_eq!((e.position, e.found.as_str()), (11, "'EURO'"));
    assert_eq!(e.expected, "an ISO 4217 currency code such as EUR");

    let e = err("name = \"abc");
    assert_eq!((e.position, e.found.as_str()), (11, "end of input"));
    assert!(e.expected.contains("closing '\"'"), "{}", e.expected);

    let e = err("foo = 1");
    assert_eq!(e.position, 0);
    assert!(
        e.expected.starts_with("a field: kind, lifecycle"),
        "{}",
        e.expected
    );

    let e = err("tag:vip or (kind = person");
    assert_eq!((e.position, e.found.as_str()), (25, "end of input"));
    assert_eq!(e.expected, "')' or 'and', 'or'");

    let e = err("created within 30x");
    assert_eq!((e.position, e.found.as_str()), (15, "'30x'"));

    let e = err("kind ! person");
    assert_eq!((e.position, e.expected.as_str()), (6, "'=' after '!'"));

    let e = err("tag:vip tag:b2b");
    assert_eq!((e.position, e.found.as_str()), (8, "'tag:b2b'"));
    assert_eq!(e.expected, "'and', 'or' or the end of the expression");

    let e = err("tag:Bad,Tag");
    assert_eq!(e.position, 7);

    let e = err("tag:a&b");
    assert_eq!((e.position, e.found.as_str()), (5, "'&'"));

    let e = err("open_deals > 1.5");
    assert_eq!((e.position, e.expected.as_str()), (13, "a whole number"));

    let e = err("created exists");
    assert_eq!(e.position, 8);
    assert!(e.expected.contains("always present"), "{}", e.expected);

    let e = err("field.9x = 1");
    assert_eq!(e.position, 6);

    // Nesting is bounded: deep input is an error, not a stack overflow.
    let deep = format!("{}tag:a{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = err(&deep);
    assert_eq!(e.position, MAX_DEPTH);
    assert!(e.expected.contains("levels"), "{}", e.expected);
    let e = err(&"not ".repeat(10_000));
    assert_eq!(e.position, 4 * MAX_DEPTH);
    assert!(
        parse(&format!(
            "{}tag:a{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        ))
        .is_ok()
    );
    // The deepest tree the parser builds is still one that may be saved.
    let mut text = "tag:a".to_owned();
    for _ in 0..MAX_DEPTH {
        text = format!("tag:b and (tag:c or {text})");
    }
    assert!(validate_expr(&parse(&text).unwrap()).is_ok());

    // The message names all three parts.
    assert_eq!(
        err("lifecycle = client").to_string(),
        "segment expression, at byte 12: expected a lifecycle (lead, prospect, customer, churned), found 'client'"
    );
}

#[test]
fn the_issue_example_parses_and_prints_canonically() {
    let e = parse(
        "tag:VIP and Lifecycle = customer AND won_amount(eur, 365d) > 1000 and not last_activity within 30d",
    )
    .unwrap();
    assert_eq!(
        e.to_string(),
        "tag:vip and lifecycle = customer and won_amount(EUR, 365d) > 1000 and not last_activity within 30d"
    );
    let Expr::And(parts) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(parts.len(), 4);
    assert_eq!(
        parts[2],
        Expr::pred(
            Field::WonAmount(Revenue {
                currency: crate::Currency::EUR,
                window: Some(Window::days(365)),
            }),
            Test::Cmp {
                op: CmpOp::Gt,
                value: Value::Decimal(Decimal::new(1000, 0)),
            }
        )
    );
    // Grouping and precedence: and binds tighter than or.
    let e = parse("kind = person or tag:a and tag:b").unwrap();
    assert!(matches!(&e, Expr::Or(p) if matches!(p[1], Expr::And(_))));
    assert_eq!(
        parse("(kind = person or tag:a) and tag:b")
            .unwrap()
            .to_string(),
        "(kind = person or tag:a) and tag:b"
    );
    // Sugar: role:x is roles contains x; 4w is 28d; dates are midnight UTC.
    assert_eq!(
        parse("role:supplier and created within 4w and updated >= 2025-02-01")
            .unwrap()
            .to_string(),
        "roles contains supplier and created within 28d and updated >= 2025-02-01"
    );
    // Custom fields parse (evaluating them is an error, below).
    assert_eq!(
        parse("field.industry = retail").unwrap().to_string(),
        "field.industry = \"retail\""
    );
}

#[test]
fn check_refuses_ill_typed_trees() {
    let e = Expr::pred(
        Field::Kind,
        Test::Cmp {
            op: CmpOp::Eq,
            value: Value::Int(3),
        },
    );
    let msg = e.check().unwrap_err().to_string();
    assert!(msg.contains("'kind' takes a kind"), "{msg}");
    let e = Expr::Not(Box::new(Expr::pred(
        Field::Tags,
        Test::In { values: vec![] },
    )));
    let msg = e.check().unwrap_err().to_string();
    assert!(
        msg.contains("expression.not") && msg.contains("at least one value"),
        "{msg}"
    );
}

// ----- evaluation on hand-built data -----

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 30, 12, 0, 0).unwrap()
}

fn cid(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(n))
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0xA000 + n))
}

fn customer(n: u128, name: &str, kind: PartyKind, lifecycle: Lifecycle) -> Customer {
    Customer {
        id: cid(n),
        version: 1,
        kind,
        name: name.to_owned(),
        organisation: None,
        roles: BTreeSet::from([Role::Customer]),
        lifecycle,
        emails: Vec::new(),
        phones: Vec::new(),
        owner: None,
        tags: BTreeSet::new(),
        created_at: now() - Duration::days(100),
        updated_at: now() - Duration::days(10),
        merged_into: None,
        custom: Default::default(),
    }
}

fn deal(
    n: u128,
    customer: u128,
    status: DealStatus,
    amount: Option<&str>,
    won_days_ago: i64,
) -> Deal {
    let stage = match status {
        DealStatus::Open => "lead",
        DealStatus::Won => "won",
        DealStatus::Lost => "lost",
    };
    Deal {
        id: DealId::from_uuid(Uuid::from_u128(0xD000 + n)),
        version: 1,
        title: format!("deal {n}"),
        customer: cid(customer),
        pipeline: PipelineId::from_uuid(Uuid::from_u128(0xF)),
        stage: StageKey::new(stage).unwrap(),
        status,
        amount: amount.map(|a| {
            let (amt, cur) = a.split_once(' ').unwrap();
            Money::parse(amt, cur).unwrap()
        }),
        expected_close_date: None,
        owner: None,
        history: Vec::new(),
        won_at: (status == DealStatus::Won).then(|| now() - Duration::days(won_days_ago)),
        lost_at: None,
        lost_reason: None,
        created_at: now() - Duration::days(200),
        updated_at: now() - Duration::days(won_days_ago),
        custom: Default::default(),
    }
}

fn activity(n: u128, customer: u128, days_ago: i64) -> Activity {
    Activity {
        id: ActivityId::from_uuid(Uuid::from_u128(0xAC00 + n)),
        version: 1,
        kind: ActivityKind::Call,
        subject: "call".into(),
        body: None,
        customer: Some(cid(customer)),
        deal: None,
        owner: None,
        direction: None,
        occurred_at: now() - Duration::days(days_ago),
        due_at: None,
        completed_at: None,
        created_at: now() - Duration::days(days_ago),
        updated_at: now() - Duration::days(days_ago),
        custom: Default::default(),
    }
}

struct Data {
    customers: Vec<Customer>,
    deals: Vec<Deal>,
    activities: Vec<Activity>,
}

/// Five customers:
/// 1 ACME GmbH   organisation customer, tags vip+berlin, owner A1, email, won 600 EUR (20 d ago) + 500 EUR (400 d ago), 1 open deal
/// 2 Ada Lovelace person prospect, tag vip, owner A2, phone, 2 open deals, activity 5 d ago
/// 3 Bob Builder  person customer, no tags, no owner, won 1000.00 EUR (100 d ago) + 50 USD (10 d ago), activity 90 d ago
/// 4 Zeta AG      organisation churned, tag berlin, supplier+customer, lost deal, activity 1 d in the future
/// 5 Eve          person lead, created (and updated) 2 d ago; all others created 100 d, updated 10 d ago
fn data() -> Data {
    let mut c1 = customer(1, "ACME GmbH", PartyKind::Organisation, Lifecycle::Customer);
    c1.tags = BTreeSet::from([Tag::parse("vip").unwrap(), Tag::parse("berlin").unwrap()]);
    c1.owner = Some(user(1));
    c1.emails = vec![Email::parse("Sales@ACME.example").unwrap()];
    let mut c2 = customer(2, "Ada Lovelace", PartyKind::Person, Lifecycle::Prospect);
    c2.tags = BTreeSet::from([Tag::parse("vip").unwrap()]);
    c2.owner = Some(user(2));
    c2.phones = vec![Phone::parse("+49 30 1234567").unwrap()];
    let c3 = customer(3, "Bob Builder", PartyKind::Person, Lifecycle::Customer);
    let mut c4 = customer(4, "Zeta AG", PartyKind::Organisation, Lifecycle::Churned);
    c4.tags = BTreeSet::from([Tag::parse("berlin").unwrap()]);
    c4.roles = BTreeSet::from([Role::Supplier, Role::Customer]);
    let mut c5 = customer(5, "Eve", PartyKind::Person, Lifecycle::Lead);
    c5.created_at = now() - Duration::days(2);
    c5.updated_at = c5.created_at;
    Data {
        customers: vec![c1, c2, c3, c4, c5],
        deals: vec![
            deal(1, 1, DealStatus::Won, Some("600.00 EUR"), 20),
            deal(2, 1, DealStatus::Won, Some("500 EUR"), 400),
            deal(3, 1, DealStatus::Open, Some("10 EUR"), 0),
            deal(4, 2, DealStatus::Open, None, 0),
            deal(5, 2, DealStatus::Open, Some("99 EUR"), 0),
            deal(6, 3, DealStatus::Won, Some("1000.00 EUR"), 100),
            deal(7, 3, DealStatus::Won, Some("50 USD"), 10),
            deal(8, 4, DealStatus::Lost, Some("70 EUR"), 0),
        ],
        activities: vec![activity(1, 2, 5), activity(2, 3, 90), activity(3, 4, -1)],
    }
}

fn ids(expr: &str) -> Vec<u128> {
    let d = data();
    evaluate(
        &parse(expr).unwrap(),
        &d.customers,
        &d.deals,
        &d.activities,
        now(),
    )
    .unwrap()
    .into_iter()
    .map(|id| id.as_uuid().as_u128())
    .collect()
}

#[test]
fn evaluates_attributes() {
    assert_eq!(ids("tag:vip"), vec![1, 2]);
    assert_eq!(ids("tag:vip and kind = organisation"), vec![1]);
    assert_eq!(ids("tags in (berlin, nothing)"), vec![1, 4]);
    assert_eq!(ids("not tags exists"), vec![3, 5]);
    assert_eq!(ids("lifecycle in (lead, prospect)"), vec![2, 5]);
    assert_eq!(ids("lifecycle != customer"), vec![2, 4, 5]);
    assert_eq!(ids("role:supplier"), vec![4]);
    // Absent owner: '=' and '!=' are both false; 'not' makes them true.
    assert_eq!(ids(&format!("owner = {}", user(1))), vec![1]);
    assert_eq!(ids(&format!("owner != {}", user(1))), vec![2]);
    assert_eq!(ids(&format!("not owner = {}", user(1))), vec![2, 3, 4, 5]);
    assert_eq!(ids("owner exists"), vec![1, 2]);
    // Name: contains ignores ASCII case, = is exact.
    assert_eq!(ids("name contains \"ACME\""), vec![1]);
    assert_eq!(ids("name contains lov"), vec![2]);
    assert_eq!(ids("name = \"acme gmbh\""), Vec::<u128>::new());
    assert_eq!(ids("email contains \"acme\""), vec![1]);
    assert_eq!(ids("email exists or phone exists"), vec![1, 2]);
    assert_eq!(ids("phone contains \"+4930\""), vec![2]);
    // created 100 days ago for all but 5 (2 days ago).
    assert_eq!(ids("created within 30d"), vec![5]);
    assert_eq!(ids("created < 2025-06-01"), vec![1, 2, 3, 4]);
    // updated 10 days ago, 5 two days ago; the window includes its start.
    assert_eq!(ids("updated within 10d"), vec![1, 2, 3, 4, 5]);
    assert_eq!(ids("updated within 9d"), vec![5]);
    assert_eq!(ids("true"), vec![1, 2, 3, 4, 5]);
    assert_eq!(ids("false or kind = person"), vec![2, 3, 5]);
}

#[test]
fn evaluates_derived_values() {
    // Open deals: 1 → 1, 2 → 2, others 0.
    assert_eq!(ids("open_deals >= 1"), vec![1, 2]);
    assert_eq!(ids("open_deals = 0"), vec![3, 4, 5]);
    // EUR won all time: 1 → 600.00 + 500 = 1100.00; 3 → 1000.00.
    assert_eq!(ids("won_amount(EUR) > 1000"), vec![1]);
    assert_eq!(ids("won_amount(EUR) >= 1000"), vec![1, 3]);
    assert_eq!(ids("won_amount(EUR) = 1000"), vec![3]);
    // EUR within 365 days: 1 → 600.00 (the 500 was 400 days ago); 3 → 1000.00.
    assert_eq!(ids("won_amount(EUR, 365d) > 600"), vec![3]);
    assert_eq!(ids("won_amount(EUR, 365d) = 600.0"), vec![1]);
    // USD: only 3 → 50.
    assert_eq!(ids("won_amount(USD, 30d) > 0"), vec![3]);
    assert_eq!(ids("won_amount(USD, 9d) > 0"), Vec::<u128>::new());
    // Last won: 1 → 20 days ago, 3 → 10 days ago (the USD deal).
    assert_eq!(ids("last_won within 15d"), vec![3]);
    assert_eq!(ids("last_won exists"), vec![1, 3]);
    assert_eq!(ids("not last_won within 15d"), vec![1, 2, 4, 5]);
    // Activities: 2 → 5 days ago, 3 → 90 days ago; 4's is in the future (ignored).
    assert_eq!(ids("last_activity within 30d"), vec![2]);
    assert_eq!(ids("days_since_last_activity > 60"), vec![3]);
    assert_eq!(ids("days_since_last_activity = 5"), vec![2]);
    assert_eq!(ids("not last_activity exists"), vec![1, 4, 5]);
    // The issue's example: vip customers with > 1000 EUR in a year, not contacted for 30 days.
    assert_eq!(
        ids(
            "tag:vip and lifecycle = customer and won_amount(EUR) > 1000 and not last_activity within 30d"
        ),
        vec![1]
    );
}

#[test]
fn evaluates_rfm_fields() {
    // EUR all time: population 1 (last 20 d ago, 2 wins, 1100.00) and 3 (100 d, 1, 1000.00).
    // n = 2, score = 1 + floor(5 × below / 2):
    //   R: 1 is more recent → below 1 → 3; 3 → 1.
    //   F: 1 → 3; 3 → 1.   M: 1 → 3; 3 → 1.
    // FM: 1 → 3; 3 → 1. Segments: 1 (R3, FM3) need attention; 3 (R1, FM1) lost.
    assert_eq!(
        ids("rfm_r(EUR) = 3 and rfm_f(EUR) = 3 and rfm_m(EUR) = 3"),
        vec![1]
    );
    assert_eq!(ids("rfm_segment(EUR) = need_attention"), vec![1]);
    assert_eq!(ids("rfm_segment(EUR) in (lost, champions)"), vec![3]);
    assert_eq!(ids("rfm_segment(EUR) exists"), vec![1, 3]);
    assert_eq!(ids("not rfm_r(EUR) exists"), vec![2, 4, 5]);
}

/// Four customers with custom values (c4 has none); now is 2025-06-30 12:00.
fn custom_customers() -> Vec<Customer> {
    use crate::custom_field::CustomValue as V;
    let date = |y, m, d| V::Date(chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap());
    let money = |a: &str, c: &str| V::Money(Money::parse(a, c).unwrap());
    let with = |n: u128, values: Vec<(&str, V)>| {
        let mut c = customer(n, "C", PartyKind::Organisation, Lifecycle::Customer);
        c.custom = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        c
    };
    vec![
        with(
            1,
            vec![
                ("tier", V::Text("gold".into())),
                ("budget", money("1200.00", "EUR")),
                ("seats", V::Integer(10)),
                ("renewal", date(2025, 6, 15)),
                ("active", V::Bool(true)),
                ("score", V::Decimal(Decimal::new(5, 1))),
            ],
        ),
        with(
            2,
            vec![
                ("tier", V::Text("silver".into())),
                ("budget", money("1200", "USD")),
                ("seats", V::Integer(25)),
                ("renewal", date(2025, 1, 31)),
                ("active", V::Bool(false)),
                ("score", V::Decimal(Decimal::new(125, 2))),
            ],
        ),
        with(
            3,
            vec![
                ("tier", V::Text("Gold Plus".into())),
                ("budget", money("999.99", "EUR")),
                ("seats", V::Integer(-3)),
                ("renewal", date(2026, 1, 1)),
                ("score", V::Decimal(Decimal::new(2, 0))),
            ],
        ),
        with(4, vec![]),
    ]
}

#[test]
fn evaluates_custom_fields_per_value_type() {
    let customers = custom_customers();
    let ids = |text: &str| -> Vec<u128> {
        let e = parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        evaluate(&e, &customers, &[], &[], now())
            .unwrap()
            .into_iter()
            .map(|id| id.as_uuid().as_u128())
            .collect()
    };
    let cases: &[(&str, &[u128])] = &[
        // Text and enum values: equality, in, contains (ASCII case ignored).
        ("field.tier = \"gold\"", &[1]),
        ("field.tier = gold", &[1]),
        ("field.tier != \"gold\"", &[2, 3]),
        ("not field.tier = \"gold\"", &[2, 3, 4]),
        ("field.tier in (gold, silver)", &[1, 2]),
        ("field.tier contains \"GOLD\"", &[1, 3]),
        ("field.tier < \"z\"", &[]),
        ("field.tier = 10", &[]),
        // Money: exact, same currency only (never `!=` across currencies).
        ("field.budget > 1000 EUR", &[1]),
        ("field.budget = 1200 EUR", &[1]),
        ("field.budget = 1200.00 eur", &[1]),
        ("field.budget != 1200 EUR", &[3]),
        ("field.budget <= 999.99 EUR", &[3]),
        ("field.budget < 999.99 EUR", &[]),
        ("field.budget = 1200 USD", &[2]),
        ("field.budget in (999.99 EUR, 1200 USD)", &[2, 3]),
        ("field.budget > 1000", &[]),
        // Integers and decimals against whole and decimal literals.
        ("field.seats >= 10", &[1, 2]),
        ("field.seats < 0", &[3]),
        ("field.seats = 10.0", &[1]),
        ("field.seats > 9.5", &[1, 2]),
        ("field.seats in (25, -3)", &[2, 3]),
        ("field.seats = \"10\"", &[]),
        ("field.score > 1", &[2, 3]),
        ("field.score = 2", &[3]),
        ("field.score <= 0.50", &[1]),
        ("field.score != 1.250", &[1, 3]),
        // Dates are their midnight UTC.
        ("field.renewal < 2025-06-15", &[2]),
        ("field.renewal >= 2025-06-15", &[1, 3]),
        ("field.renewal = 2025-01-31", &[2]),
        ("field.renewal = 2025-06-15T00:00:00Z", &[1]),
        ("field.renewal = 2025-06-15T00:00:01Z", &[]),
        ("field.renewal in (2026-01-01, 2025-01-31)", &[2, 3]),
        // now − 30 d = 2025-05-31 12:00; 2026-01-01 is in the future.
        ("field.renewal within 30d", &[1]),
        // now − 150 d = 2025-01-31 12:00, after c2's midnight; 151 d reaches it.
        ("field.renewal within 150d", &[1]),
        ("field.renewal within 151d", &[1, 2]),
        // Bools: equality only.
        ("field.active = true", &[1]),
        ("field.active != true", &[2]),
        ("field.active in (true, false)", &[1, 2]),
        ("field.active < true", &[]),
        // Absent values fail everything but `not … exists`.
        ("field.active exists", &[1, 2]),
        ("not field.seats exists", &[4]),
        ("not field.active exists", &[3, 4]),
        ("field.nothing exists", &[]),
        ("not field.nothing = 1", &[1, 2, 3, 4]),
    ];
    for (text, want) in cases {
        assert_eq!(ids(text), want.to_vec(), "{text}");
    }
}

#[test]
fn custom_field_literals_are_typed_by_their_form() {
    let lit = |text: &str| match parse(text).unwrap() {
        Expr::Pred(Pred {
            test: Test::Cmp { value, .. },
            ..
        }) => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(lit("field.x = \"gold\""), Value::Text("gold".into()));
    assert_eq!(lit("field.x = gold"), Value::Text("gold".into()));
    assert_eq!(lit("field.x = \"true\""), Value::Text("true".into()));
    assert_eq!(lit("field.x = \"12\""), Value::Text("12".into()));
    assert_eq!(lit("field.x = 12"), Value::Int(12));
    assert_eq!(
        lit("field.x = -12.50"),
        Value::Decimal(Decimal::new(-1250, 2))
    );
    assert_eq!(lit("field.x = TRUE"), Value::Bool(true));
    assert_eq!(lit("field.x = false"), Value::Bool(false));
    assert_eq!(
        lit("field.x = 1200.50 eur"),
        Value::Money(Money::parse("1200.50", "EUR").unwrap())
    );
    assert_eq!(
        lit("field.x = 7 JPY"),
        Value::Money(Money::parse("7", "JPY").unwrap())
    );
    assert_eq!(
        lit("field.x = 2025-01-31"),
        Value::Time(Utc.with_ymd_and_hms(2025, 1, 31, 0, 0, 0).unwrap())
    );
    assert_eq!(
        lit("field.x = 2025-01-31T12:30:00Z"),
        Value::Time(Utc.with_ymd_and_hms(2025, 1, 31, 12, 30, 0).unwrap())
    );
    // A keyword after a number is not a currency.
    let e = parse("field.x = 5 and field.y = 2.5 or tag:vip").unwrap();
    assert_eq!(e.to_string(), "(field.x = 5 and field.y = 2.5) or tag:vip");
    // A word that is not a currency code after a number is an error.
    let e = err("field.x = 5 EURO");
    assert_eq!((e.position, e.found.as_str()), (12, "'EURO'"));
    // Canonical printing of the new literal forms, read back the same.
    for (text, canonical) in [
        (
            "field.budget in (1 eur, 2.50 usd)",
            "field.budget in (1 EUR, 2.50 USD)",
        ),
        ("field.active = TRUE", "field.active = true"),
        ("field.renewal >= 2025-01-31", "field.renewal >= 2025-01-31"),
        ("field.tier = gold", "field.tier = \"gold\""),
        ("field.score = 5.0", "field.score = 5.0"),
        ("field.seats = -3", "field.seats = -3"),
    ] {
        let e = parse(text).unwrap();
        assert_eq!(e.to_string(), canonical, "{text}");
        assert_eq!(parse(canonical).unwrap(), e, "{canonical}");
    }
}

#[test]
fn check_refuses_enum_like_values_on_custom_fields() {
    // Only literal forms the parser can write are accepted for field.KEY.
    let e = Expr::pred(
        Field::Custom { key: "tier".into() },
        Test::Cmp {
            op: CmpOp::Eq,
            value: Value::Kind(PartyKind::Person),
        },
    );
    let msg = e.check().unwrap_err().to_string();
    assert!(msg.contains("'tier' takes a custom field value"), "{msg}");
}

#[test]
fn only_the_deals_an_expression_looks_at_are_read() {
    use crate::deal::DealStatus;
    let status = |s: &str| {
        eval::Needs::of(&parse(s).unwrap())
            .unwrap()
            .deal_filter()
            .map(|f| f.status)
    };
    assert_eq!(status("tag:vip"), None);
    assert_eq!(status("open_deals > 0"), Some(Some(DealStatus::Open)));
    assert_eq!(status("last_won exists"), Some(Some(DealStatus::Won)));
    assert_eq!(status("rfm_r(EUR) = 5"), Some(Some(DealStatus::Won)));
    assert_eq!(status("open_deals > 0 or won_amount(EUR) > 0"), Some(None));
}
