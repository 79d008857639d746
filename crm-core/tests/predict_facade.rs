//! The predictive-model entry points of the facade over the memory store:
//! purchases recorded through the facade at historical dates, then the
//! facade's fits and scores compared with the pure functions on purchase
//! histories written down by hand from the same construction.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::predict::score::score;
use crm_core::predict::{
    BgNbd, ClvOptions, FitOptions, Month, Observation, PredictError, Rfm, Span, Week, fit_bgnbd,
    fit_gamma_gamma,
};
use crm_core::{
    Actor, Crm, Currency, Error, ManualClock, Money, NewCustomer, NewDeal, PipelineDef,
    SequentialIds,
};
use crm_store_memory::MemoryStore;
use rust_decimal::Decimal;

const CUSTOMERS: u32 = 240;
const END_DAY: i64 = 200;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap()
}

/// Customer i: first purchase on day `i % 100`, then `x = i % 4` repeat
/// purchases every `gap = 7 + i % 13` days (customers with i % 5 == 0
/// stop after one repeat), each worth `20 + i % 30` EUR.
fn plan(i: u32) -> (i64, u32, i64, i64) {
    let d0 = i64::from(i % 100);
    let mut x = i % 4;
    if i.is_multiple_of(5) {
        x = x.min(1);
    }
    (d0, x, 7 + i64::from(i % 13), 20 + i64::from(i % 30))
}

fn w(v: f64) -> Span<Week> {
    Span::new(v).unwrap()
}

/// The histories by hand: recency x·gap days, T = 200 − d0 days, monetary
/// the (constant) amount, all in weeks.
fn by_hand() -> Vec<Rfm<Week>> {
    (0..CUSTOMERS)
        .map(|i| {
            let (d0, x, gap, amount) = plan(i);
            let m = if x == 0 {
                Decimal::ZERO
            } else {
                Decimal::from(amount)
            };
            let rec = (i64::from(x) * gap) as f64;
            Rfm::new(x, w(rec / 7.0), w((END_DAY - d0) as f64 / 7.0), m).unwrap()
        })
        .collect()
}

fn world() -> Crm<MemoryStore> {
    let crm = Crm::new(MemoryStore::new())
        .with_clock(ManualClock::new(start()))
        .with_ids(SequentialIds::new(1));
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    for i in 0..CUSTOMERS {
        let (d0, x, gap, amount) = plan(i);
        let c = s
            .create_customer(NewCustomer::person(format!("C{i}")))
            .unwrap();
        for k in 0..=i64::from(x) {
            let at = s.at(start() + Duration::days(d0 + k * gap));
            let d = at
                .create_deal(
                    NewDeal::new(c.id, p.id, "order")
                        .amount(Money::parse(&amount.to_string(), "EUR").unwrap()),
                )
                .unwrap();
            at.win_deal(d.id, d.version).unwrap();
        }
    }
    // A USD buyer and a customer without purchases: neither is in a EUR fit.
    let usd = s.create_customer(NewCustomer::person("Dollar")).unwrap();
    for k in 0..3 {
        let at = s.at(start() + Duration::days(10 * k));
        let d = at
            .create_deal(
                NewDeal::new(usd.id, p.id, "order").amount(Money::parse("5", "USD").unwrap()),
            )
            .unwrap();
        at.win_deal(d.id, d.version).unwrap();
    }
    s.create_customer(NewCustomer::person("Nobody")).unwrap();
    crm
}

#[test]
fn facade_fits_equal_pure_fits_on_the_same_histories() {
    let crm = world();
    let s = crm.as_actor(Actor::System);
    let obs = Observation::new(start() + Duration::days(END_DAY), Currency::EUR);
    let hand = by_hand();

    // These regular buyers never seem to drop out, so without a penalty
    // the dropout parameters run off (a typed error); a small L2 penalty
    // bounds them.
    match s.fit_bgnbd::<Week>(&obs, &FitOptions::default()) {
        Err(Error::Predict(PredictError::Unidentifiable { .. })) => {}
        other => panic!("{other:?}"),
    }
    let opts = FitOptions {
        l2_penalty: 0.001,
        ..FitOptions::default()
    };
    let fit = s.fit_bgnbd::<Week>(&obs, &opts).unwrap();
    assert_eq!(fit, fit_bgnbd(&hand, &opts).unwrap());
    assert_eq!(fit.customers, CUSTOMERS as usize);

    let gg = s.fit_gamma_gamma(&obs, 0.0).unwrap();
    let pure = fit_gamma_gamma(&hand, 0.0).unwrap();
    assert_eq!(gg.left_out, pure.left_out);
    // The facade fits in days and the pure fit in weeks: spend does not
    // depend on the time unit.
    assert!((gg.model.p() - pure.model.p()).abs() < 1e-9 * pure.model.p());
    // i % 4 == 0: 60 customers without repeat purchases.
    assert_eq!(gg.left_out.no_repeat_purchase, 60);
    assert_eq!(gg.customers, 180);
}

#[test]
fn facade_scores_equal_pure_scores() {
    let crm = world();
    let s = crm.as_actor(Actor::System);
    let obs = Observation::new(start() + Duration::days(END_DAY), Currency::EUR);
    let bg = BgNbd::<Week>::new(0.243, 4.414, 0.793, 2.426).unwrap();
    let gg = crm_core::predict::GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let year = ClvOptions::new(
        Span::<Month>::new(12.0).unwrap(),
        Span::<Month>::new(1.0).unwrap(),
        0.01,
    )
    .unwrap();
    let scores = s.predict_scores(&obs, &bg, Some(&gg), &year).unwrap();
    assert_eq!(scores.len(), CUSTOMERS as usize);
    // Customers were created in order, so ids sort like i. The facade
    // scores through a Scorer: exactly its figures, and the reference
    // `score`'s within a relative 1e-12.
    let scorer = bg.scorer();
    for (i, got) in scores.iter().enumerate() {
        let want = scorer.score(Some(&gg), &by_hand()[i], &year).unwrap();
        let reference = score(&bg, Some(&gg), &by_hand()[i], &year).unwrap();
        assert_eq!(got.p_alive, want.p_alive, "customer {i}");
        assert_eq!(got.p_alive, reference.p_alive, "customer {i}");
        assert_eq!(got.expected_purchases, want.expected_purchases);
        assert!(
            (got.expected_purchases / reference.expected_purchases - 1.0).abs() <= 1e-12,
            "customer {i}: {} vs {}",
            got.expected_purchases,
            reference.expected_purchases
        );
        assert!((want.clv.unwrap() / reference.clv.unwrap() - 1.0).abs() <= 1e-12);
        let clv = got.clv.unwrap();
        assert_eq!(clv.currency, Currency::EUR);
        assert!(
            (clv.amount - Decimal::try_from(want.clv.unwrap()).unwrap()).abs()
                <= Decimal::new(5, 3)
        );
        assert!(clv.amount.scale() <= 2);
    }
}

#[test]
fn facade_errors_are_typed() {
    let crm = Crm::new(MemoryStore::new()).with_clock(ManualClock::new(start()));
    let s = crm.as_actor(Actor::System);
    let obs = Observation::new(start(), Currency::EUR);
    match s.fit_bgnbd::<Week>(&obs, &FitOptions::default()) {
        Err(Error::Predict(PredictError::NoCustomers { .. })) => {}
        other => panic!("{other:?}"),
    }
}
