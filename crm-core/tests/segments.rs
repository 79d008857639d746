//! Segments through the facade on the memory store: saved segments,
//! evaluation with paging, RFM and ABC on hand-computed data.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::segment::abc::{AbcClass, AbcCutoffs};
use crm_core::segment::rfm::RfmSegment;
use crm_core::segment::{Expr, Window};
use crm_core::{
    Actor, Crm, Currency, CustomerId, Error, ManualClock, Money, NewCustomer, NewDeal, PageRequest,
    PipelineDef, SegmentPatch, SegmentQuery, SequentialIds,
};
use crm_store_memory::MemoryStore;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 12, 31, 12, 0, 0).unwrap()
}

/// Six customers c1..c6 with won EUR deals (days before now, amount):
///   c1: (10, 500), (40, 500), (70, 500)  → last 10, 3 wins, 1500
///   c2: (20, 2000)                       → last 20, 1 win, 2000
///   c3: (200, 300), (250, 300)           → last 200, 2 wins, 600
///   c4: (5, 100)                         → last 5, 1 win, 100
///   c5: (400, 900)                       → outside a 365-day window
///   c6: a won USD deal (30, 50) and an open EUR deal
fn setup() -> (Crm<MemoryStore>, Vec<CustomerId>) {
    let clock = Arc::new(ManualClock::new(now() - Duration::days(1000)));
    let crm = Crm::new(MemoryStore::new())
        .with_clock(clock.clone())
        .with_ids(SequentialIds::new(1));
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    let mut ids = Vec::new();
    let wins: [&[(i64, &str, &str)]; 6] = [
        &[
            (10, "500", "EUR"),
            (40, "500", "EUR"),
            (70, "500.00", "EUR"),
        ],
        &[(20, "2000", "EUR")],
        &[(200, "300", "EUR"), (250, "300", "EUR")],
        &[(5, "100", "EUR")],
        &[(400, "900", "EUR")],
        &[(30, "50", "USD")],
    ];
    for (i, deals) in wins.iter().enumerate() {
        let c = s
            .create_customer(
                NewCustomer::organisation(format!("Customer {}", i + 1)).tag(if i % 2 == 0 {
                    "vip"
                } else {
                    "standard"
                }),
            )
            .unwrap();
        ids.push(c.id);
        for (days, amount, cur) in *deals {
            let d = s
                .create_deal(
                    NewDeal::new(c.id, p.id, "order").amount(Money::parse(amount, cur).unwrap()),
                )
                .unwrap();
            s.at(now() - Duration::days(*days))
                .win_deal(d.id, d.version)
                .unwrap();
        }
    }
    s.create_deal(NewDeal::new(ids[5], p.id, "open").amount(Money::parse("10", "EUR").unwrap()))
        .unwrap();
    clock.set(now());
    (crm, ids)
}

#[test]
fn rfm_through_the_facade_matches_hand_computation() {
    let (crm, ids) = setup();
    let s = crm.as_actor(Actor::System);
    let out = s.rfm(Currency::EUR, Some(Window::days(365))).unwrap();
    // Population: c1..c4 (c5's win is 400 days old, c6 has no EUR win). n = 4,
    // score = 1 + floor(5 × below / 4):
    //   R (later is better): c3 (200 d) below 0 → 1; c2 (20 d) below 1 → 2;
    //     c1 (10 d) below 2 → 3; c4 (5 d) below 3 → 4.
    //   F: c2 1, c4 1 → below 0 → 1, 1; c3 2 → below 2 → 3; c1 3 → below 3 → 4.
    //   M: c4 100 → 1; c3 600 → 2; c1 1500 → 3; c2 2000 → 4.
    //   FM = ceil((F+M)/2): c1 4, c2 ceil(5/2)=3, c3 ceil(5/2)=3, c4 1.
    //   Segments: c1 (R3, FM4) loyal; c2 (R2, FM3) at risk; c3 (R1, FM3) at risk;
    //   c4 (R4, FM1) promising.
    let got: Vec<(CustomerId, u8, u8, u8, RfmSegment)> = out
        .iter()
        .map(|c| (c.customer, c.score.r, c.score.f, c.score.m, c.segment))
        .collect();
    assert_eq!(
        got,
        vec![
            (ids[0], 3, 4, 3, RfmSegment::Loyal),
            (ids[1], 2, 1, 4, RfmSegment::AtRisk),
            (ids[2], 1, 3, 2, RfmSegment::AtRisk),
            (ids[3], 4, 1, 1, RfmSegment::Promising),
        ]
    );
    assert_eq!(out[0].purchases.count, 3);
    assert_eq!(out[0].purchases.total.to_string(), "1500.00");

    // The same scores are available to expressions.
    let r = s
        .evaluate_expr(
            &"rfm_segment(EUR, 365d) = at_risk".parse().unwrap(),
            &PageRequest::default(),
        )
        .unwrap();
    assert_eq!(r.page.items, vec![ids[1], ids[2]]);
}

#[test]
fn abc_through_the_facade_matches_hand_computation() {
    let (crm, ids) = setup();
    let s = crm.as_actor(Actor::System);
    // All-time EUR revenue: c2 2000, c1 1500, c5 900, c3 600, c4 100; total 5100.
    // 80 % of 5100 = 4080, 95 % = 4845. Revenue before each in rank order:
    //   c2: 0 → A; c1: 2000 → A; c5: 3500 → A; c3: 4400 → B; c4: 5000 → C.
    let out = s.abc(Currency::EUR, None, AbcCutoffs::default()).unwrap();
    let got: Vec<(CustomerId, AbcClass)> = out.iter().map(|c| (c.customer, c.class)).collect();
    assert_eq!(
        got,
        vec![
            (ids[1], AbcClass::A),
            (ids[0], AbcClass::A),
            (ids[4], AbcClass::A),
            (ids[2], AbcClass::B),
            (ids[3], AbcClass::C),
        ]
    );
    // Cut-offs 50 % / 90 %: limits 2550 and 4590.
    //   c2: 0 → A; c1: 2000 → A; c5: 3500 → B; c3: 4400 → B; c4: 5000 → C.
    let cut = AbcCutoffs {
        a: "0.5".parse().unwrap(),
        b: "0.9".parse().unwrap(),
    };
    let classes: Vec<AbcClass> = s
        .abc(Currency::EUR, None, cut)
        .unwrap()
        .iter()
        .map(|c| c.class)
        .collect();
    use AbcClass::*;
    assert_eq!(classes, vec![A, A, B, B, C]);
}

#[test]
fn saved_segments_evaluate_with_paging_and_count() {
    let (crm, ids) = setup();
    let s = crm.as_actor(Actor::System);
    // vip: c1, c3, c5. With more than 1000 EUR ever won: c1 (1500), c2, c5 (900 → no).
    let seg = s
        .create_segment(
            "Big VIPs",
            "tag:vip and won_amount(EUR) > 1000 or open_deals > 0"
                .parse()
                .unwrap(),
        )
        .unwrap();
    let r = s.evaluate_segment(seg.id, &PageRequest::default()).unwrap();
    assert_eq!((r.count, r.page.items.clone()), (2, vec![ids[0], ids[5]]));

    let seg = s
        .update_segment(
            seg.id,
            seg.version,
            SegmentPatch::default().expression("kind = organisation".parse().unwrap()),
        )
        .unwrap();
    let first = s
        .evaluate_segment(
            seg.id,
            &PageRequest {
                limit: 4,
                after: None,
            },
        )
        .unwrap();
    assert_eq!(first.count, 6);
    assert_eq!(first.page.items, ids[..4].to_vec());
    let second = s
        .evaluate_segment(
            seg.id,
            &PageRequest {
                limit: 4,
                after: first.page.next.clone(),
            },
        )
        .unwrap();
    assert_eq!(second.page.items, ids[4..].to_vec());
    assert!(second.page.next.is_none());

    // Listing and bad input.
    assert_eq!(
        s.segments(&SegmentQuery::new()).unwrap().items,
        vec![seg.clone()]
    );
    let bad = s.evaluate_segment(
        seg.id,
        &PageRequest {
            limit: 0,
            after: None,
        },
    );
    assert!(matches!(bad, Err(Error::Invalid(_))));
    let syntax: Result<Expr, Error> = "tag:vip and".parse::<Expr>().map_err(Error::from);
    match syntax {
        Err(Error::Syntax(e)) => assert_eq!(e.position, 11),
        other => panic!("{other:?}"),
    }
    let custom = s.evaluate_expr(
        &"field.industry = \"retail\"".parse().unwrap(),
        &PageRequest::default(),
    );
    assert!(
        matches!(&custom, Err(Error::Invalid(v)) if v.field == "field.industry"),
        "{custom:?}"
    );
}

#[test]
fn relative_windows_follow_the_engine_clock() {
    let (crm, ids) = setup();
    let s = crm.as_actor(Actor::System);
    let e: Expr = "last_won within 15d".parse().unwrap();
    // At now: c1 (10 d) and c4 (5 d).
    let r = s.evaluate_expr(&e, &PageRequest::default()).unwrap();
    assert_eq!(r.page.items, vec![ids[0], ids[3]]);
    // Ten days later: c4's win is 15 d old (inside, the window includes its
    // start), c1's 20 d (outside).
    let later = s.at(now() + Duration::days(10));
    let r = later.evaluate_expr(&e, &PageRequest::default()).unwrap();
    assert_eq!(r.page.items, vec![ids[3]]);
}
