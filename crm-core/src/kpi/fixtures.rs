//! Hand-computed fixtures: every expected number below was worked out by
//! hand from the records (the arithmetic is in the comments), never by the
//! code under test.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::activity::activity_metrics;
use super::clv::{ClvParams, historical_clv};
use super::customer::{
    LifecycleChange, churn, new_customers, purchase_summaries, repeat_purchase_rate,
};
use super::deal_size::{deal_size, sales_cycle};
use super::forecast::forecast;
use super::funnel::stage_funnel;
use super::revenue::{revenue_by_period, revenue_in};
use super::rotting::{RottingThresholds, rotting_deals};
use super::velocity::sales_velocity;
use super::win_rate::{close_rate, win_rate, win_rate_by_owner};
use super::*;
use crate::activity::{Activity, ActivityKind};
use crate::actor::Actor;
use crate::customer::Lifecycle;
use crate::deal::{Deal, DealStatus, StageChange};
use crate::id::{ActivityId, CustomerId, DealId, PipelineId, UserId};
use crate::pipeline::{Pipeline, PipelineDef, StageKey, StageKind};

pub(super) fn t(s: &str) -> DateTime<Utc> {
    DateTime::from_str(&format!("{s}:00Z")).unwrap()
}
fn day(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}
fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}
pub(super) fn pid() -> PipelineId {
    PipelineId::from_uuid(Uuid::from_u128(1))
}
fn did(n: u128) -> DealId {
    DealId::from_uuid(Uuid::from_u128(0x100 + n))
}
pub(super) fn cid(n: u128) -> CustomerId {
    CustomerId::from_uuid(Uuid::from_u128(0x200 + n))
}
pub(super) fn uid(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0x300 + n))
}

/// The sales template: lead 10 %, qualified 25 %, proposal 50 %,
/// negotiation 75 %, won, lost.
pub(super) fn sales() -> Pipeline {
    let (name, stages, transitions, allow_reopen) =
        PipelineDef::sales_template("Sales").validate().unwrap();
    Pipeline {
        id: pid(),
        version: 1,
        name,
        stages,
        transitions,
        allow_reopen,
        created_at: t("2025-01-01T00:00"),
        updated_at: t("2025-01-01T00:00"),
    }
}

/// A deal in the sales pipeline whose history is `moves` (stage, time);
/// the first move is its creation.
#[allow(clippy::too_many_arguments)]
pub(super) fn deal(
    id: DealId,
    customer: CustomerId,
    owner: Option<UserId>,
    amount: Option<(&str, &str)>,
    close: Option<NaiveDate>,
    moves: &[(&str, DateTime<Utc>)],
) -> Deal {
    let p = sales();
    let history: Vec<StageChange> = moves
        .iter()
        .enumerate()
        .map(|(i, (to, at))| StageChange {
            from: (i > 0).then(|| StageKey::new(moves[i - 1].0).unwrap()),
            to: StageKey::new(*to).unwrap(),
            at: *at,
            by: Actor::System,
        })
        .collect();
    let last = history.last().unwrap();
    let kind = p.stage(&last.to).unwrap().kind;
    Deal {
        id,
        version: history.len() as u64,
        title: format!("deal {id}"),
        customer,
        pipeline: p.id,
        stage: last.to.clone(),
        status: kind.into(),
        amount: amount.map(|(a, c)| Money::parse(a, c).unwrap()),
        expected_close_date: close,
        owner,
        won_at: (kind == StageKind::Won).then_some(last.at),
        lost_at: (kind == StageKind::Lost).then_some(last.at),
        lost_reason: (kind == StageKind::Lost).then(|| "price".to_owned()),
        created_at: history[0].at,
        updated_at: last.at,
        history,
        custom: Default::default(),
    }
}

/// Ten deals in Q1 2026 (owners A = user 1, B = user 2):
///
/// | deal | cust | owner | amount | history | now |
/// |---|---|---|---|---|---|
/// | D1 | C1 | A | 1000 EUR | lead 01-01 12:00, qualified 01-03 12:00, proposal 01-07 12:00, won 01-11 12:00 | won (cycle 10 d) |
/// | D2 | C2 | A | 500 EUR | lead 01-02, qualified 01-04, lost 01-06 | lost |
/// | D3 | C1 | B | 2000 EUR | lead 01-10 23:30, proposal 01-11 23:30, won 01-31 23:30 | won (21 d) |
/// | D4 | C3 | B | 3000 EUR, close 03-15 | lead 01-10, qualified 01-12 | open (25 %) |
/// | D5 | C3 | - | 400 USD, close 02-10 | lead 01-15 | open (10 %) |
/// | D6 | C2 | A | 300 USD | lead 02-01, negotiation 02-03, won 02-05 | won (4 d) |
/// | D7 | C4 | B | - | lead 02-02 | open, undated |
/// | D8 | C1 | A | 1200 EUR, close 03-20 | lead 02-10, proposal 02-11 | open (50 %) |
/// | D9 | C1 | A | 100 EUR | lead 02-14 10:00, won 02-15 10:00 | won (1 d) |
/// | D10 | C1 | B | 50 EUR | lead 02-15 05:30, won 02-15 23:30 | won (0.75 d) |
pub(super) fn deals() -> Vec<Deal> {
    let (a, b) = (Some(uid(1)), Some(uid(2)));
    vec![
        deal(
            did(1),
            cid(1),
            a,
            Some(("1000.00", "EUR")),
            None,
            &[
                ("lead", t("2026-01-01T12:00")),
                ("qualified", t("2026-01-03T12:00")),
                ("proposal", t("2026-01-07T12:00")),
                ("won", t("2026-01-11T12:00")),
            ],
        ),
        deal(
            did(2),
            cid(2),
            a,
            Some(("500.00", "EUR")),
            None,
            &[
                ("lead", t("2026-01-02T00:00")),
                ("qualified", t("2026-01-04T00:00")),
                ("lost", t("2026-01-06T00:00")),
            ],
        ),
        deal(
            did(3),
            cid(1),
            b,
            Some(("2000.00", "EUR")),
            None,
            &[
                ("lead", t("2026-01-10T23:30")),
                ("proposal", t("2026-01-11T23:30")),
                ("won", t("2026-01-31T23:30")),
            ],
        ),
        deal(
            did(4),
            cid(3),
            b,
            Some(("3000.00", "EUR")),
            Some(day("2026-03-15")),
            &[
                ("lead", t("2026-01-10T00:00")),
                ("qualified", t("2026-01-12T00:00")),
            ],
        ),
        deal(
            did(5),
            cid(3),
            None,
            Some(("400.00", "USD")),
            Some(day("2026-02-10")),
            &[("lead", t("2026-01-15T00:00"))],
        ),
        deal(
            did(6),
            cid(2),
            a,
            Some(("300.00", "USD")),
            None,
            &[
                ("lead", t("2026-02-01T00:00")),
                ("negotiation", t("2026-02-03T00:00")),
                ("won", t("2026-02-05T00:00")),
            ],
        ),
        deal(
            did(7),
            cid(4),
            b,
            None,
            None,
            &[("lead", t("2026-02-02T00:00"))],
        ),
        deal(
            did(8),
            cid(1),
            a,
            Some(("1200.00", "EUR")),
            Some(day("2026-03-20")),
            &[
                ("lead", t("2026-02-10T00:00")),
                ("proposal", t("2026-02-11T00:00")),
            ],
        ),
        deal(
            did(9),
            cid(1),
            a,
            Some(("100.00", "EUR")),
            None,
            &[
                ("lead", t("2026-02-14T10:00")),
                ("won", t("2026-02-15T10:00")),
            ],
        ),
        deal(
            did(10),
            cid(1),
            b,
            Some(("50.00", "EUR")),
            None,
            &[
                ("lead", t("2026-02-15T05:30")),
                ("won", t("2026-02-15T23:30")),
            ],
        ),
    ]
}

fn q1() -> KpiFilter {
    KpiFilter::default()
        .window(t("2026-01-01T00:00"), t("2026-04-01T00:00"))
        .unwrap()
}
fn jan() -> KpiFilter {
    KpiFilter::default()
        .window(t("2026-01-01T00:00"), t("2026-02-01T00:00"))
        .unwrap()
}
fn feb() -> KpiFilter {
    KpiFilter::default()
        .window(t("2026-02-01T00:00"), t("2026-03-01T00:00"))
        .unwrap()
}
fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap()
}
fn plus1() -> FixedOffset {
    FixedOffset::east_opt(3600).unwrap()
}
fn eur() -> Currency {
    Currency::EUR
}
fn usd() -> Currency {
    Currency::USD
}

#[test]
fn win_rate_by_window_and_owner() {
    let d = deals();
    // Q1: won D1 D3 D6 D9 D10 = 5, lost D2 = 1; 5/6 = 0.83333 -> 0.8333.
    let r = win_rate(&d, &q1());
    assert_eq!((r.won, r.lost, r.rate), (5, 1, Some(dec("0.8333"))));
    // January: won D1 (01-11), D3 (01-31 23:30); lost D2; 2/3 -> 0.6667.
    let r = win_rate(&d, &jan());
    assert_eq!((r.won, r.lost, r.rate), (2, 1, Some(dec("0.6667"))));
    // Owner A in Q1: won D1 D6 D9, lost D2: 3/4 = 0.75.
    let r = win_rate(&d, &q1().owner(uid(1)));
    assert_eq!((r.won, r.lost, r.rate), (3, 1, Some(dec("0.75"))));
    // Another pipeline: nothing.
    let other = q1().pipeline(PipelineId::from_uuid(Uuid::from_u128(99)));
    assert_eq!(win_rate(&d, &other).rate, None);
    // Per owner: A 3 won 1 lost; B won D3 D10 = 2/2 = 1; no entry for D5's
    // missing owner (it did not close). 3 + 2 = 5 won, as in total.
    let by = win_rate_by_owner(&d, &q1());
    assert_eq!(by.len(), 2);
    assert_eq!(by[&Some(uid(1))].rate, Some(dec("0.75")));
    assert_eq!(
        (by[&Some(uid(2))].won, by[&Some(uid(2))].rate),
        (2, Some(Decimal::ONE))
    );
}

#[test]
fn close_rate_counts_the_created_cohort() {
    let d = deals();
    // Q1: 10 created, 5 won now: 0.5.
    let r = close_rate(&d, &q1());
    assert_eq!((r.created, r.won, r.rate), (10, 5, Some(dec("0.5"))));
    // January: D1..D5 created, D1 and D3 won: 2/5 = 0.4.
    let r = close_rate(&d, &jan());
    assert_eq!((r.created, r.won, r.rate), (5, 2, Some(dec("0.4"))));
}

#[test]
fn deal_size_and_cycle() {
    let d = deals();
    let s = deal_size(&d, &q1()).unwrap();
    // EUR won: 1000, 2000, 100, 50: total 3150, mean 787.50, median of
    // [50, 100, 1000, 2000] = (100 + 1000) / 2 = 550.
    let e = &s.per_currency[&eur()];
    assert_eq!(
        (e.count, e.total, e.mean, e.median),
        (4, dec("3150.00"), dec("787.50"), dec("550.00"))
    );
    let u = &s.per_currency[&usd()];
    assert_eq!(
        (u.count, u.total, u.mean, u.median),
        (1, dec("300"), dec("300"), dec("300"))
    );
    assert_eq!(s.without_amount, 0);
    // Cycles 10, 21, 4, 1, 0.75 days: mean 36.75 / 5 = 7.35, median 4.
    let c = sales_cycle(&d, &q1()).unwrap();
    assert_eq!(
        (c.count, c.mean_days, c.median_days),
        (5, Some(dec("7.35")), Some(dec("4")))
    );
    // January: cycles 10 and 21: mean = median = 15.5.
    let c = sales_cycle(&d, &jan()).unwrap();
    assert_eq!(
        (c.mean_days, c.median_days),
        (Some(dec("15.5")), Some(dec("15.5")))
    );
}

#[test]
fn velocity_per_currency() {
    let v = sales_velocity(&deals(), &q1()).unwrap();
    // EUR: open D4 D8 = 2; won 4 (total 3150, cycles 10+21+1+0.75 = 32.75
    // days), lost 1. 2 × 3150 × 4 / (5 × 32.75) = 25200 / 163.75 = 153.8931…
    // (check: rate 0.8 × size 787.5 × 2 = 1260; 1260 / 8.1875 = 153.89).
    let e = &v[&eur()];
    assert_eq!((e.open_deals, e.won, e.lost), (2, 4, 1));
    assert_eq!(e.win_rate, Some(dec("0.8")));
    assert_eq!(e.average_deal_size, Some(dec("787.50")));
    assert_eq!(e.average_cycle_days, Some(dec("8.19"))); // 8.1875
    assert_eq!(e.per_day, Some(dec("153.89")));
    // USD: open D5 = 1, won D6 300 in 4 days: 1 × 300 × 1 / (1 × 4) = 75.
    assert_eq!(v[&usd()].per_day, Some(dec("75.00")));
}

#[test]
fn forecast_weights_by_stage_probability() {
    let f = forecast(&deals(), &[sales()], &q1()).unwrap();
    // EUR March: D4 3000 × 25 % + D8 1200 × 50 % = 750 + 600 = 1350.
    let march = &f.by_month[&eur()][&day("2026-03-01")];
    assert_eq!(
        (march.deals, march.amount, march.weighted),
        (2, dec("4200"), dec("1350"))
    );
    // USD February: D5 400 × 10 % = 40.
    let feb = &f.by_month[&usd()][&day("2026-02-01")];
    assert_eq!(
        (feb.deals, feb.amount, feb.weighted),
        (1, dec("400"), dec("40"))
    );
    assert_eq!(f.weighted_total[&eur()], dec("1350"));
    assert_eq!(f.open_total[&eur()], dec("4200"));
    assert_eq!(f.open_total[&usd()], dec("400"));
    assert_eq!(f.undated, vec![did(7)]);
    assert!(f.without_amount.is_empty());
    // A window over March only leaves D5 (Feb 10) out of the buckets.
    let march_only = KpiFilter::default()
        .window(t("2026-03-01T00:00"), t("2026-04-01T00:00"))
        .unwrap();
    let f = forecast(&deals(), &[sales()], &march_only).unwrap();
    assert!(!f.by_month.contains_key(&usd()));
    // A deal whose pipeline is unknown is an error, not a silent zero.
    assert!(matches!(
        forecast(&deals(), &[], &q1()),
        Err(KpiError::UnknownPipeline { .. })
    ));
}

#[test]
fn revenue_by_period_and_offset() {
    let d = deals();
    // UTC months: EUR Jan 1000 + 2000 = 3000, Feb 100 + 50 = 150; USD Feb 300.
    let r = revenue_by_period(&d, &q1(), Period::Month, utc()).unwrap();
    let want_eur: BTreeMap<_, _> = [
        (day("2026-01-01"), dec("3000")),
        (day("2026-02-01"), dec("150")),
    ]
    .into();
    assert_eq!(r[&eur()], want_eur);
    assert_eq!(r[&usd()], [(day("2026-02-01"), dec("300"))].into());
    // At +01:00, D3 (won Jan 31 23:30 UTC) falls on Feb 1: Jan 1000, Feb 2150.
    let r = revenue_by_period(&d, &q1(), Period::Month, plus1()).unwrap();
    let want_eur: BTreeMap<_, _> = [
        (day("2026-01-01"), dec("1000")),
        (day("2026-02-01"), dec("2150")),
    ]
    .into();
    assert_eq!(r[&eur()], want_eur);
    // ISO weeks (UTC): Jan 11 (Sun) -> week of Jan 5; Jan 31 (Sat) -> Jan 26;
    // Feb 15 (Sun) -> Feb 9 (100 + 50); USD Feb 5 (Thu) -> Feb 2.
    let r = revenue_by_period(&d, &q1(), Period::Week, utc()).unwrap();
    let want_eur: BTreeMap<_, _> = [
        (day("2026-01-05"), dec("1000")),
        (day("2026-01-26"), dec("2000")),
        (day("2026-02-09"), dec("150")),
    ]
    .into();
    assert_eq!(r[&eur()], want_eur);
    assert_eq!(r[&usd()], [(day("2026-02-02"), dec("300"))].into());
    // Days at +01:00: D9 Feb 15 11:00, D10 Feb 16 00:30 local.
    let r = revenue_by_period(&d, &feb(), Period::Day, plus1()).unwrap();
    let want_eur: BTreeMap<_, _> = [
        (day("2026-02-15"), dec("100")),
        (day("2026-02-16"), dec("50")),
    ]
    .into();
    assert_eq!(r[&eur()], want_eur);
    // Quarter and year: everything in one bucket.
    for p in [Period::Quarter, Period::Year] {
        let r = revenue_by_period(&d, &q1(), p, utc()).unwrap();
        assert_eq!(r[&eur()], [(day("2026-01-01"), dec("3150"))].into());
    }
    // In EUR at 0.92 EUR per USD: Feb = 150 + 300 × 0.92 = 150 + 276 = 426.
    let r = revenue_by_period(&d, &q1(), Period::Month, utc()).unwrap();
    let rates = RateTable::new(eur()).with_rate(usd(), dec("0.92")).unwrap();
    let conv = revenue_in(&r, &rates).unwrap();
    assert_eq!(
        conv[&day("2026-01-01")],
        Money::parse("3000.00", "EUR").unwrap()
    );
    assert_eq!(
        conv[&day("2026-02-01")],
        Money::parse("426.00", "EUR").unwrap()
    );
    // Without a USD rate: a typed error naming the currency.
    assert_eq!(
        revenue_in(&r, &RateTable::new(eur())).unwrap_err(),
        KpiError::MissingRate {
            from: usd(),
            to: eur()
        }
    );
}

#[test]
fn revenue_by_month_in_a_zone_with_summer_time() {
    // Berlin moves to summer time (+02:00) on 29 March 2026.
    // E1: won 31 March 21:30 UTC = 23:30 local, March.
    // E2: won 31 March 22:30 UTC = 00:30 on 1 April local, April
    //     (at the winter offset +01:00 it would be 23:30, March).
    // E3: won 31 January 23:30 UTC = 00:30 on 1 February local (+01:00).
    let won = |n: u128, amount: &str, at: &str| {
        deal(
            did(100 + n),
            cid(9),
            None,
            Some((amount, "EUR")),
            None,
            &[("lead", t("2026-01-02T09:00")), ("won", t(at))],
        )
    };
    let d = vec![
        won(1, "10", "2026-03-31T21:30"),
        won(2, "20", "2026-03-31T22:30"),
        won(3, "40", "2026-01-31T23:30"),
    ];
    let year = KpiFilter::default()
        .window(t("2026-01-01T00:00"), t("2027-01-01T00:00"))
        .unwrap();
    let berlin = ReportZone::named("Europe/Berlin").unwrap();
    let r = revenue_by_period(&d, &year, Period::Month, berlin).unwrap();
    let want: BTreeMap<_, _> = [
        (day("2026-02-01"), dec("40")),
        (day("2026-03-01"), dec("10")),
        (day("2026-04-01"), dec("20")),
    ]
    .into();
    assert_eq!(r[&eur()], want);
    let r = revenue_by_period(&d, &year, Period::Month, plus1()).unwrap();
    let want: BTreeMap<_, _> = [
        (day("2026-02-01"), dec("40")),
        (day("2026-03-01"), dec("30")),
    ]
    .into();
    assert_eq!(r[&eur()], want);
}

#[test]
fn rate_table_rounds_once() {
    let rates = RateTable::new(eur())
        .with_rate(usd(), dec("0.333"))
        .unwrap();
    // 0.01 USD + 0.01 USD -> 0.00333 + 0.00333 = 0.00666 -> 0.01 EUR (rounded
    // once), where rounding each (0.00 + 0.00) would lose the cent.
    let totals: PerCurrency<Decimal> = [(usd(), dec("0.02"))].into();
    assert_eq!(
        rates.convert_total(&totals).unwrap(),
        Money::parse("0.01", "EUR").unwrap()
    );
    assert!(
        RateTable::new(eur())
            .with_rate(usd(), Decimal::ZERO)
            .is_err()
    );
    assert_eq!(RateTable::new(eur()).rate(eur()).unwrap(), Decimal::ONE);
}

#[test]
fn new_customers_and_repeat_purchases() {
    let d = deals();
    // First purchases: C1 Jan 11 (D1), C2 Feb 5 (D6); C3 and C4 never bought.
    let n = new_customers(&d, &q1(), Period::Month, utc());
    assert_eq!(n, [(day("2026-01-01"), 1), (day("2026-02-01"), 1)].into());
    // In February only C2 is new (C1's first purchase was in January).
    let n = new_customers(&d, &feb(), Period::Month, utc());
    assert_eq!(n, [(day("2026-02-01"), 1)].into());
    // Q1: C1 bought on 3 days, C2 on 1: 1 of 2 repeat = 0.5.
    let r = repeat_purchase_rate(&d, &q1(), utc());
    assert_eq!(
        (r.customers, r.repeat_customers, r.rate),
        (2, 1, Some(dec("0.5")))
    );
    // February UTC: C1 bought twice on Feb 15 (one purchase day), C2 once: 0.
    let r = repeat_purchase_rate(&d, &feb(), utc());
    assert_eq!(
        (r.customers, r.repeat_customers, r.rate),
        (2, 0, Some(Decimal::ZERO))
    );
    // At +01:00 the two are on Feb 15 and Feb 16: C1 repeats, 1 of 2.
    let r = repeat_purchase_rate(&d, &feb(), plus1());
    assert_eq!(r.repeat_customers, 1);
}

#[test]
fn purchase_summary_follows_fader_hardie_lee() {
    let d = deals();
    let end = t("2026-04-01T00:00");
    let s = purchase_summaries(&d, &q1(), end, utc()).unwrap();
    assert_eq!(s.len(), 2);
    // C1 EUR, UTC days: Jan 11 (1000), Jan 31 (2000), Feb 15 (100 + 50 = 150).
    // frequency = 3 days - 1 = 2; recency Jan 11 -> Feb 15 = 20 + 15 = 35;
    // T Jan 11 -> Apr 1 = 21 + 28 + 31 = 80; monetary (2000 + 150) / 2 = 1075.
    let c1 = &s[0];
    assert_eq!((c1.customer, c1.currency), (cid(1), eur()));
    assert_eq!((c1.frequency, c1.recency, c1.t), (2, 35, 80));
    assert_eq!((c1.monetary_value, c1.total), (dec("1075.00"), dec("3150")));
    assert_eq!(
        (c1.first_purchase, c1.last_purchase),
        (day("2026-01-11"), day("2026-02-15"))
    );
    // C2 USD: one day, Feb 5: frequency 0, recency 0, T Feb 5 -> Apr 1 =
    // 24 + 31 = 55, monetary 0 by convention.
    let c2 = &s[1];
    assert_eq!((c2.customer, c2.currency), (cid(2), usd()));
    assert_eq!(
        (c2.frequency, c2.recency, c2.t, c2.monetary_value),
        (0, 0, 55, Decimal::ZERO)
    );
    // At +01:00: days Jan 11 (1000), Feb 1 (2000), Feb 15 (100), Feb 16 (50):
    // frequency 3, recency 21 + 15 = 36, T 80 (Apr 1 01:00 local),
    // monetary (2000 + 100 + 50) / 3 = 716.666… -> 716.67.
    let s = purchase_summaries(&d, &q1(), end, plus1()).unwrap();
    assert_eq!((s[0].frequency, s[0].recency, s[0].t), (3, 36, 80));
    assert_eq!(s[0].monetary_value, dec("716.67"));
    // Observation ending Feb 1: only D1 (Jan 11) of C1; D3 (Jan 31 23:30) too.
    // Days Jan 11, Jan 31: frequency 1, recency 20, T Jan 11 -> Feb 1 = 21,
    // monetary 2000.
    let s = purchase_summaries(&d, &q1(), t("2026-02-01T00:00"), utc()).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].frequency, s[0].recency, s[0].t, s[0].monetary_value),
        (1, 20, 21, dec("2000.00"))
    );
}

#[test]
fn historical_clv_formula() {
    let s = purchase_summaries(&deals(), &q1(), t("2026-04-01T00:00"), utc()).unwrap();
    // Yearly periods, lifetime 3: both customers are younger than a year, so
    // observed periods = 1. C1: 3150 × 3 / 1 = 9450; 3 purchases of 1050 on
    // average. C2: 300 × 3 = 900.
    let c = historical_clv(&s, &ClvParams::default()).unwrap();
    assert_eq!(c.customers[0].clv, dec("9450.00"));
    assert_eq!(c.customers[0].purchases, 3);
    assert_eq!(c.customers[0].average_purchase_value, dec("1050.00"));
    assert_eq!(c.customers[0].purchases_per_period, dec("3"));
    assert_eq!(c.customers[1].clv, dec("900.00"));
    assert_eq!(c.average[&eur()], dec("9450.00"));
    // 30-day periods: C1 observed 80 / 30 periods: 3150 × 3 × 30 / 80 =
    // 3543.75, frequency 3 × 30 / 80 = 1.125. C2: 300 × 3 × 30 / 55 =
    // 27000 / 55 = 490.909… -> 490.91.
    let p = ClvParams {
        period_days: 30,
        expected_lifetime_periods: dec("3"),
    };
    let c = historical_clv(&s, &p).unwrap();
    assert_eq!(c.customers[0].clv, dec("3543.75"));
    assert_eq!(c.customers[0].purchases_per_period, dec("1.125"));
    assert_eq!(c.customers[1].clv, dec("490.91"));
    assert_eq!(c.average[&usd()], dec("490.91"));
    let bad = ClvParams {
        period_days: 0,
        ..ClvParams::default()
    };
    assert!(matches!(
        historical_clv(&s, &bad),
        Err(KpiError::InvalidParameter {
            parameter: "period_days",
            ..
        })
    ));
}

#[test]
fn funnel_from_stage_history() {
    let f = stage_funnel(&deals(), &sales(), &q1()).unwrap();
    assert_eq!(f.deals, 10);
    let line = |k: &str| f.stages.iter().find(|s| s.stage == k).unwrap().clone();
    // lead: all 10 entered; 8 left (D5, D7 still there) and all 8 went
    // further down to a non-lost stage; 5 won. Visits: D1 2, D2 2, D3 1,
    // D4 2, D6 2, D8 1, D9 1, D10 0.75 days: mean 11.75 / 8 = 1.46875 ->
    // 1.47, median of [0.75 1 1 1 2 2 2 2] = (1 + 2) / 2 = 1.5.
    let l = line("lead");
    assert_eq!((l.entered, l.moved_on, l.advanced, l.won), (10, 8, 8, 5));
    assert_eq!(
        (l.conversion_to_next, l.conversion_to_won),
        (Some(dec("0.8")), Some(dec("0.5")))
    );
    assert_eq!(
        (l.time_in_stage.mean_days, l.time_in_stage.median_days),
        (Some(dec("1.47")), Some(dec("1.5")))
    );
    // qualified: D1 D2 D4; D1 and D2 left; only D1 advanced (D2 was lost);
    // D1 won: 1/3 = 0.3333 both. Visits D1 4, D2 2 days: mean = median = 3.
    let q = line("qualified");
    assert_eq!((q.entered, q.moved_on, q.advanced, q.won), (3, 2, 1, 1));
    assert_eq!(q.conversion_to_next, Some(dec("0.3333")));
    assert_eq!(q.time_in_stage.mean_days, Some(dec("3")));
    // proposal: D1 D3 D8; D1 and D3 won (2/3 = 0.6667); visits 4 and 20 days.
    let p = line("proposal");
    assert_eq!((p.entered, p.moved_on, p.advanced, p.won), (3, 2, 2, 2));
    assert_eq!(p.conversion_to_won, Some(dec("0.6667")));
    assert_eq!(
        (p.time_in_stage.mean_days, p.time_in_stage.median_days),
        (Some(dec("12")), Some(dec("12")))
    );
    // negotiation: D6 only, 2 days, won.
    let n = line("negotiation");
    assert_eq!(
        (n.entered, n.advanced, n.won, n.time_in_stage.count),
        (1, 1, 1, 1)
    );
    // won: 5 entered, none leaves; lost: D2.
    let w = line("won");
    assert_eq!(
        (
            w.entered,
            w.moved_on,
            w.conversion_to_next,
            w.conversion_to_won
        ),
        (5, 0, Some(Decimal::ZERO), Some(Decimal::ONE))
    );
    assert_eq!(w.time_in_stage.count, 0);
    assert_eq!(line("lost").entered, 1);
    // Owner A's January cohort: D1, D2. lead 2 entered, both advanced, 1 won.
    let f = stage_funnel(&deals(), &sales(), &jan().owner(uid(1))).unwrap();
    assert_eq!(f.deals, 2);
    assert_eq!(f.stages[0].won, 1);
    assert_eq!(f.stages[0].conversion_to_won, Some(dec("0.5")));
}

fn activity(n: u128, kind: ActivityKind, deal: Option<DealId>, owner: u128, at: &str) -> Activity {
    Activity {
        id: ActivityId::from_uuid(Uuid::from_u128(0x400 + n)),
        version: 1,
        kind,
        subject: format!("a{n}"),
        body: None,
        customer: None,
        deal,
        owner: Some(uid(owner)),
        direction: None,
        occurred_at: t(at),
        due_at: None,
        completed_at: None,
        created_at: t(at),
        updated_at: t(at),
        custom: Default::default(),
    }
}

/// A1 call on D4 Feb 20 (A); A2 note on D5 Jan 20 (B); A3 call on D7 Mar 5
/// (A); A4 task on D4 created Feb 10 due Feb 25, open (A); A5 task created
/// Feb 20 due Mar 10 (B); A6 task created Jan 25 due Feb 1, done Feb 2 (B).
pub(super) fn activities() -> Vec<Activity> {
    let mut a4 = activity(4, ActivityKind::Task, Some(did(4)), 1, "2026-02-10T00:00");
    a4.due_at = Some(t("2026-02-25T00:00"));
    let mut a5 = activity(5, ActivityKind::Task, None, 2, "2026-02-20T00:00");
    a5.due_at = Some(t("2026-03-10T00:00"));
    let mut a6 = activity(6, ActivityKind::Task, None, 2, "2026-01-25T00:00");
    a6.due_at = Some(t("2026-02-01T00:00"));
    a6.completed_at = Some(t("2026-02-02T00:00"));
    vec![
        activity(1, ActivityKind::Call, Some(did(4)), 1, "2026-02-20T00:00"),
        activity(2, ActivityKind::Note, Some(did(5)), 2, "2026-01-20T00:00"),
        activity(3, ActivityKind::Call, Some(did(7)), 1, "2026-03-05T00:00"),
        a4,
        a5,
        a6,
    ]
}

#[test]
fn rotting_deals_use_stage_entry_and_activities() {
    let now = t("2026-03-01T00:00");
    let th = RottingThresholds::days(14).stage(StageKey::new("proposal").unwrap(), 30);
    let r = rotting_deals(&deals(), &activities(), &th, &KpiFilter::default(), now).unwrap();
    // D4: qualified Jan 12, call Feb 20 -> idle 9 days: fresh.
    // D5: lead Jan 15, note Jan 20 -> idle Jan 20 -> Mar 1 = 11 + 29 = 40 days: rots.
    // D7: lead Feb 2, call Mar 5 is after now -> idle 27 days: rots.
    // D8: proposal Feb 11, threshold 30 -> idle 18: fresh.
    let got: Vec<_> = r
        .iter()
        .map(|x| (x.deal, x.idle_days, x.threshold_days))
        .collect();
    assert_eq!(got, vec![(did(5), dec("40"), 14), (did(7), dec("27"), 14)]);
    assert_eq!(r[0].last_touch, t("2026-01-20T00:00"));
    // Exactly at the threshold is not rotting: D7 at 27 days allowed.
    let th = RottingThresholds::days(27);
    let r = rotting_deals(&deals(), &activities(), &th, &KpiFilter::default(), now).unwrap();
    assert_eq!(r.iter().map(|x| x.deal).collect::<Vec<_>>(), vec![did(5)]);
    // Only owner B's deals: D4 (fresh) and D7.
    let th = RottingThresholds::days(14);
    let r = rotting_deals(
        &deals(),
        &activities(),
        &th,
        &KpiFilter::default().owner(uid(2)),
        now,
    )
    .unwrap();
    assert_eq!(r.iter().map(|x| x.deal).collect::<Vec<_>>(), vec![did(7)]);
}

#[test]
fn activity_counts_and_overdue_tasks() {
    let now = t("2026-03-01T00:00");
    let m = activity_metrics(&activities(), &q1(), now);
    // A: calls A1 A3, task A4; B: note A2, tasks A5 A6.
    assert_eq!(m.total, 6);
    assert_eq!(
        m.by_owner[&Some(uid(1))],
        [(ActivityKind::Call, 2), (ActivityKind::Task, 1)].into()
    );
    assert_eq!(
        m.by_owner[&Some(uid(2))],
        [(ActivityKind::Note, 1), (ActivityKind::Task, 2)].into()
    );
    assert_eq!(m.by_kind[&ActivityKind::Task], 3);
    // Overdue at Mar 1: A4 (due Feb 25, open). A6 is done, A5 due Mar 10.
    assert_eq!(m.overdue_tasks.len(), 1);
    assert_eq!(m.overdue_tasks[0].due_at, t("2026-02-25T00:00"));
    // February: A1 (call, A), A4 (task, A), A5 (task, B).
    let m = activity_metrics(&activities(), &feb(), now);
    assert_eq!(m.total, 3);
    assert_eq!(
        m.by_kind,
        [(ActivityKind::Call, 1), (ActivityKind::Task, 2)].into()
    );
    // Owner B only: nothing overdue.
    let m = activity_metrics(&activities(), &q1().owner(uid(2)), now);
    assert_eq!((m.total, m.overdue_tasks.len()), (3, 0));
}

fn lc(c: u128, at: &str, seq: u64, to: Lifecycle) -> LifecycleChange {
    LifecycleChange {
        customer: cid(c),
        at: t(at),
        seq,
        to,
    }
}

/// C1 lead (Dec 1) -> customer (Dec 20); C2 customer (Nov 1) -> churned
/// (Feb 10); C3 customer (Nov 2) -> churned (Jan 15) -> customer (Mar 1);
/// C4 lead (Nov 3) -> customer (Jan 5); C5 created customer at exactly
/// Jan 1 00:00.
pub(super) fn lifecycle() -> Vec<LifecycleChange> {
    vec![
        lc(1, "2025-12-01T00:00", 1, Lifecycle::Lead),
        lc(2, "2025-11-01T00:00", 2, Lifecycle::Customer),
        lc(3, "2025-11-02T00:00", 3, Lifecycle::Customer),
        lc(4, "2025-11-03T00:00", 4, Lifecycle::Lead),
        lc(1, "2025-12-20T00:00", 5, Lifecycle::Customer),
        lc(3, "2026-01-15T00:00", 6, Lifecycle::Churned),
        lc(4, "2026-01-05T00:00", 7, Lifecycle::Customer),
        lc(2, "2026-02-10T00:00", 8, Lifecycle::Churned),
        lc(3, "2026-03-01T00:00", 9, Lifecycle::Customer),
        lc(5, "2026-01-01T00:00", 10, Lifecycle::Customer),
    ]
}

#[test]
fn churn_and_retention_from_lifecycle_history() {
    // Q1: customers at Jan 1: C1, C2, C3 (C5 arrives at Jan 1 itself, so
    // not before it). At Apr 1: C2 churned; C3 was won back. 1/3 churn.
    let c = churn(&lifecycle(), &q1()).unwrap();
    assert_eq!((c.at_start, c.churned, c.retained), (3, 1, 2));
    assert_eq!(
        (c.churn_rate, c.retention_rate),
        (Some(dec("0.3333")), Some(dec("0.6667")))
    );
    // February: at Feb 1 C1, C2, C4, C5 (C3 churned); C2 churns Feb 10: 1/4.
    let c = churn(&lifecycle(), &feb()).unwrap();
    assert_eq!((c.at_start, c.churned, c.retained), (4, 1, 3));
    assert_eq!(
        (c.churn_rate, c.retention_rate),
        (Some(dec("0.25")), Some(dec("0.75")))
    );
    // An open-ended window is refused.
    assert!(matches!(
        churn(&lifecycle(), &KpiFilter::default()),
        Err(KpiError::InvalidParameter { .. })
    ));
}

#[test]
fn reversed_windows_are_refused() {
    let err = KpiFilter::default()
        .window(t("2026-02-01T00:00"), t("2026-01-01T00:00"))
        .unwrap_err();
    assert!(
        err.to_string().contains("start must be before its end"),
        "{err}"
    );
}

#[test]
fn reopened_deals_count_by_current_state() {
    // D1 won Jan 11, then reopened to proposal Jan 20 (won_at cleared).
    let mut d = deals();
    d[0].history.push(StageChange {
        from: Some(StageKey::new("won").unwrap()),
        to: StageKey::new("proposal").unwrap(),
        at: t("2026-01-20T00:00"),
        by: Actor::System,
    });
    d[0].stage = StageKey::new("proposal").unwrap();
    d[0].status = DealStatus::Open;
    d[0].won_at = None;
    // Q1 now: won 4, lost 1: 0.8.
    assert_eq!(win_rate(&d, &q1()).rate, Some(dec("0.8")));
}
