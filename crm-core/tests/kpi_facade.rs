//! The KPI entry points of the facade over the memory store: data recorded
//! through the facade with historical dates (`Session::at`), figures worked
//! out by hand.

use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use crm_core::kpi::report::KpiOptions;
use crm_core::kpi::rotting::RottingThresholds;
use crm_core::kpi::{KpiFilter, Period};
use crm_core::{
    Actor, Crm, Currency, CustomerPatch, DealPatch, Error, Lifecycle, ManualClock, Money,
    NewActivity, NewCustomer, NewDeal, PipelineDef, SequentialIds, UserId,
};
use crm_store_memory::MemoryStore;
use rust_decimal::Decimal;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::from_str(&format!("{s}:00Z")).unwrap()
}
fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}
fn day(s: &str) -> NaiveDate {
    NaiveDate::from_str(s).unwrap()
}

struct World {
    crm: Crm<MemoryStore>,
    u1: UserId,
    u2: UserId,
}

/// C1 (customer since Dec 1) and C2 (lead, customer Jan 10, churned Feb 15).
/// DA: C1, U1, 1000 EUR: lead Jan 5, qualified Jan 6, won Jan 15.
/// DB: C2, U2, 400 EUR: lead Jan 10, lost Jan 20.
/// DC: C1, U1, 600 EUR: lead Feb 1, won Feb 11.
/// DD: C2, U2, 2000 EUR closing Mar 31: lead Feb 5, proposal Feb 6, open.
/// A call on DD on Feb 20 (U2); a task for U1 created Feb 10, due Feb 25.
/// The clock stands at Mar 1.
fn world() -> World {
    let crm = Crm::new(MemoryStore::new())
        .with_clock(ManualClock::new(t("2026-03-01T00:00")))
        .with_ids(SequentialIds::new(7));
    let u1: UserId = "00000000-0000-7000-8000-000000000001".parse().unwrap();
    let u2: UserId = "00000000-0000-7000-8000-000000000002".parse().unwrap();
    crm_core::testing::seed_users(crm.store(), [u1, u2]);
    let s = crm.as_actor(Actor::System);
    let eur = |a: &str| Money::parse(a, "EUR").unwrap();
    let at = |x: &str| s.at(t(x));
    let p = at("2025-11-01T00:00")
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    let c1 = at("2025-12-01T00:00")
        .create_customer(NewCustomer::organisation("C1").lifecycle(Lifecycle::Customer))
        .unwrap();
    let c2 = at("2025-12-01T00:00")
        .create_customer(NewCustomer::organisation("C2"))
        .unwrap();
    let c2 = at("2026-01-10T00:00")
        .update_customer(
            c2.id,
            c2.version,
            CustomerPatch::default().lifecycle(Lifecycle::Customer),
        )
        .unwrap();
    at("2026-02-15T00:00")
        .update_customer(
            c2.id,
            c2.version,
            CustomerPatch::default().lifecycle(Lifecycle::Churned),
        )
        .unwrap();

    let da = at("2026-01-05T00:00")
        .create_deal(
            NewDeal::new(c1.id, p.id, "DA")
                .amount(eur("1000"))
                .owner(u1),
        )
        .unwrap();
    let da = at("2026-01-06T00:00")
        .move_deal(da.id, da.version, "qualified")
        .unwrap();
    at("2026-01-15T00:00").win_deal(da.id, da.version).unwrap();
    let db = at("2026-01-10T00:00")
        .create_deal(NewDeal::new(c2.id, p.id, "DB").amount(eur("400")).owner(u2))
        .unwrap();
    at("2026-01-20T00:00")
        .lose_deal(db.id, db.version, "price")
        .unwrap();
    let dc = at("2026-02-01T00:00")
        .create_deal(NewDeal::new(c1.id, p.id, "DC").amount(eur("600")).owner(u1))
        .unwrap();
    at("2026-02-11T00:00").win_deal(dc.id, dc.version).unwrap();
    let dd = at("2026-02-05T00:00")
        .create_deal(
            NewDeal::new(c2.id, p.id, "DD")
                .amount(eur("2000"))
                .owner(u2),
        )
        .unwrap();
    let dd = at("2026-02-05T12:00")
        .update_deal(
            dd.id,
            dd.version,
            DealPatch::default().expected_close_date(Some(day("2026-03-31"))),
        )
        .unwrap();
    let dd = at("2026-02-06T00:00")
        .move_deal(dd.id, dd.version, "proposal")
        .unwrap();
    at("2026-02-20T00:00")
        .log_activity(
            NewActivity::new(crm_core::ActivityKind::Call, "Call")
                .deal(dd.id)
                .owner(u2),
        )
        .unwrap();
    at("2026-02-10T00:00")
        .log_activity(
            NewActivity::task("Follow up", t("2026-02-25T00:00"))
                .customer(c1.id)
                .owner(u1),
        )
        .unwrap();
    World { crm, u1, u2 }
}

fn q1() -> KpiFilter {
    KpiFilter::default()
        .window(t("2026-01-01T00:00"), t("2026-04-01T00:00"))
        .unwrap()
}

#[test]
fn facade_kpis_match_the_hand_computed_figures() {
    let w = world();
    let s = w.crm.as_actor(Actor::System);
    let eur = Currency::EUR;

    // Won DA and DC, lost DB: 2/3.
    let r = s.win_rate(&q1()).unwrap();
    assert_eq!((r.won, r.lost, r.rate), (2, 1, Some(dec("0.6667"))));
    // U1 won both of theirs.
    assert_eq!(
        s.win_rate(&q1().owner(w.u1)).unwrap().rate,
        Some(Decimal::ONE)
    );
    assert_eq!(
        s.win_rate(&q1().owner(w.u2)).unwrap().rate,
        Some(Decimal::ZERO)
    );
    // Won 1000 and 600: mean = median = 800; cycles 10 and 10 days.
    let size = s.deal_size(&q1()).unwrap();
    assert_eq!(size.per_currency[&eur].total, dec("1600"));
    assert_eq!(size.per_currency[&eur].median, dec("800"));
    assert_eq!(s.sales_cycle(&q1()).unwrap().mean_days, Some(dec("10")));
    // DD in proposal (50 %): 2000 × 0.5 = 1000 in March.
    let f = s.forecast(&q1()).unwrap();
    assert_eq!(f.by_month[&eur][&day("2026-03-01")].weighted, dec("1000"));
    // Revenue: Jan 1000, Feb 600.
    let rev = s
        .revenue_by_period(&q1(), Period::Month, FixedOffset::east_opt(0).unwrap())
        .unwrap();
    assert_eq!(
        rev[&eur],
        [
            (day("2026-01-01"), dec("1000")),
            (day("2026-02-01"), dec("600"))
        ]
        .into()
    );
    // Churn. Q1: only C1 is a customer at Jan 1 and stays one: 0.
    let c = s.churn(&q1()).unwrap();
    assert_eq!(
        (c.at_start, c.churned, c.churn_rate),
        (1, 0, Some(Decimal::ZERO))
    );
    // February: C1 and C2 at Feb 1, C2 churns Feb 15: 1/2.
    let feb = KpiFilter::default()
        .window(t("2026-02-01T00:00"), t("2026-03-01T00:00"))
        .unwrap();
    let c = s.churn(&feb).unwrap();
    assert_eq!(
        (c.at_start, c.churned, c.retention_rate),
        (2, 1, Some(dec("0.5")))
    );
    // C1 bought Jan 15 and Feb 11: frequency 1, recency Jan 15 -> Feb 1 = 17
    // plus 10 = 27, T Jan 15 -> Mar 1 = 17 + 28 = 45, monetary 600.
    let ps = s
        .purchase_summaries(
            &q1(),
            t("2026-03-01T00:00"),
            FixedOffset::east_opt(0).unwrap(),
        )
        .unwrap();
    assert_eq!(ps.len(), 1);
    assert_eq!(
        (
            ps[0].frequency,
            ps[0].recency,
            ps[0].t,
            ps[0].monetary_value
        ),
        (1, 27, 45, dec("600.00"))
    );
    // DD: proposal since Feb 6, call Feb 20: idle 9 days at Mar 1.
    assert!(
        s.rotting_deals(&q1(), &RottingThresholds::days(14))
            .unwrap()
            .is_empty()
    );
    let rot = s.rotting_deals(&q1(), &RottingThresholds::days(7)).unwrap();
    assert_eq!(rot.len(), 1);
    assert_eq!((rot[0].idle_days, rot[0].owner), (dec("9"), Some(w.u2)));
    // Two activities; the task (due Feb 25) is overdue.
    let a = s.activity_metrics(&q1()).unwrap();
    assert_eq!((a.total, a.overdue_tasks.len()), (2, 1));
    // Funnel: 4 entered lead; DA went to qualified.
    let pipeline = s.pipelines(&Default::default()).unwrap().items[0].id;
    let funnel = s.stage_funnel(pipeline, &q1()).unwrap();
    assert_eq!(
        (
            funnel.deals,
            funnel.stages[0].entered,
            funnel.stages[1].entered
        ),
        (4, 4, 1)
    );
}

#[test]
fn the_report_agrees_with_the_single_entry_points() {
    let w = world();
    let s = w.crm.as_actor(Actor::System);
    let options = KpiOptions {
        filter: q1(),
        ..KpiOptions::default()
    };
    let r = s.kpi_report(&options).unwrap();
    assert_eq!(r.now, t("2026-03-01T00:00"));
    assert_eq!(r.win_rate, s.win_rate(&q1()).unwrap());
    assert_eq!(r.deal_size, s.deal_size(&q1()).unwrap());
    assert_eq!(r.forecast, s.forecast(&q1()).unwrap());
    assert_eq!(r.churn, Some(s.churn(&q1()).unwrap()));
    assert_eq!(r.activities, s.activity_metrics(&q1()).unwrap());
    assert_eq!(r.funnels.len(), 1);
    // As of an earlier date (Session::at) the rotting check runs then:
    // on Feb 16 DD has been idle 10 days since Feb 6 (the call is later).
    let earlier = s.at(t("2026-02-16T00:00"));
    let options = KpiOptions {
        rotting: RottingThresholds::days(7),
        ..options
    };
    let r = earlier.kpi_report(&options).unwrap();
    assert_eq!(r.rotting.len(), 1);
    assert_eq!(r.rotting[0].idle_days, dec("10"));
    let _ = w.u2;
}

#[test]
fn bad_parameters_are_typed_errors() {
    let w = world();
    let s = w.crm.as_actor(Actor::System);
    let reversed = KpiFilter {
        from: Some(t("2026-02-01T00:00")),
        to: Some(t("2026-01-01T00:00")),
        ..KpiFilter::default()
    };
    assert!(matches!(s.win_rate(&reversed), Err(Error::Kpi(_))));
    assert!(matches!(s.churn(&KpiFilter::default()), Err(Error::Kpi(_))));
}

#[test]
fn kpis_read_every_page() {
    // 10 050 deals: more than one page of 10 000. Every third is won
    // (3 350 = 10 050 / 3), the rest stay open.
    let crm = Crm::new(MemoryStore::new())
        .with_clock(ManualClock::new(t("2026-03-01T00:00")))
        .with_ids(SequentialIds::new(1));
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    let c = s.create_customer(NewCustomer::organisation("Big")).unwrap();
    let one = Money::parse("1.00", "EUR").unwrap();
    s.batch(|b| {
        for i in 0..10_050 {
            let d = b.create_deal(NewDeal::new(c.id, p.id, format!("D{i}")).amount(one))?;
            if i % 3 == 0 {
                b.win_deal(d.id, d.version)?;
            }
        }
        Ok(())
    })
    .unwrap();
    let r = s.kpi_report(&KpiOptions::default()).unwrap();
    assert_eq!(r.close_rate.created, 10_050);
    assert_eq!(r.win_rate.won, 3_350);
    // 3 350 × 1.00 EUR won; 6 700 × 1.00 EUR open.
    assert_eq!(r.deal_size.per_currency[&Currency::EUR].total, dec("3350"));
    assert_eq!(r.forecast.open_total[&Currency::EUR], dec("6700"));
}
