//! Property tests: invariants every KPI keeps on arbitrary valid records.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::deal_size::deal_size;
use super::fixtures::{cid, deal, lifecycle, sales, t, uid};
use super::forecast::forecast;
use super::report::{KpiData, KpiOptions, KpiReport, kpi_report};
use super::revenue::revenue_by_period;
use super::win_rate::{win_rate, win_rate_by_owner};
use super::*;
use crate::activity::{Activity, ActivityKind};
use crate::deal::Deal;
use crate::id::{ActivityId, DealId};

const STAGES: [&str; 6] = [
    "lead",
    "qualified",
    "proposal",
    "negotiation",
    "won",
    "lost",
];

/// (customer, owner, amount in cents and currency, close-date offset, start minute, moves)
type DealSpec = (
    u8,
    Option<u8>,
    Option<(i64, bool)>,
    Option<i64>,
    i64,
    Vec<(usize, i64)>,
);

fn spec() -> impl Strategy<Value = DealSpec> {
    (
        0u8..6,
        proptest::option::of(0u8..3),
        proptest::option::of((0i64..10_000_000, any::<bool>())),
        proptest::option::of(-30i64..200),
        0i64..(200 * 1440),
        proptest::collection::vec((0usize..6, 1i64..(20 * 1440)), 0..5),
    )
}

fn build(i: usize, s: &DealSpec) -> Deal {
    let base = t("2026-01-01T00:00");
    let (cust, owner, amount, close, start, moves) = s;
    let mut at = base + Duration::minutes(*start);
    let mut hist: Vec<(&str, DateTime<Utc>)> = vec![(STAGES[*start as usize % 4], at)];
    for (stage, gap) in moves {
        if hist
            .last()
            .is_some_and(|(k, _)| *k == "won" || *k == "lost")
        {
            break;
        }
        if hist.last().is_some_and(|(k, _)| *k == STAGES[*stage]) {
            continue;
        }
        at += Duration::minutes(*gap);
        hist.push((STAGES[*stage], at));
    }
    let amount_text = amount.map(|(c, usd)| {
        (
            Decimal::new(c, 2).to_string(),
            if usd { "USD" } else { "EUR" },
        )
    });
    deal(
        DealId::from_uuid(Uuid::from_u128(0x1000 + i as u128)),
        cid(u128::from(*cust)),
        owner.map(|o| uid(u128::from(o))),
        amount_text.as_ref().map(|(a, c)| (a.as_str(), *c)),
        close.map(|c| (base + Duration::days(c)).date_naive()),
        &hist,
    )
}

fn deals_strategy() -> impl Strategy<Value = Vec<Deal>> {
    proptest::collection::vec(spec(), 0..40)
        .prop_map(|specs| specs.iter().enumerate().map(|(i, s)| build(i, s)).collect())
}

fn activities_for(deals: &[Deal], seeds: &[(usize, u8, i64, bool)]) -> Vec<Activity> {
    let base = t("2026-01-01T00:00");
    seeds
        .iter()
        .enumerate()
        .map(|(i, (d, kind, minute, done))| {
            let at = base + Duration::minutes(*minute);
            let kind =
                [ActivityKind::Call, ActivityKind::Email, ActivityKind::Task][*kind as usize % 3];
            Activity {
                id: ActivityId::from_uuid(Uuid::from_u128(0x9000 + i as u128)),
                version: 1,
                kind,
                subject: "x".into(),
                body: None,
                customer: None,
                deal: deals.get(*d).map(|d| d.id),
                owner: Some(uid(i as u128 % 3)),
                direction: None,
                occurred_at: at,
                due_at: (kind == ActivityKind::Task).then(|| at + Duration::days(3)),
                completed_at: (kind == ActivityKind::Task && *done).then(|| at + Duration::days(1)),
                created_at: at,
                updated_at: at,
                custom: Default::default(),
            }
        })
        .collect()
}

fn window() -> impl Strategy<Value = KpiFilter> {
    (0i64..150, 1i64..150, proptest::option::of(0u8..3)).prop_map(|(from, len, owner)| {
        let base = t("2026-01-01T00:00");
        let mut f = KpiFilter::default()
            .window(
                base + Duration::days(from),
                base + Duration::days(from + len),
            )
            .unwrap();
        f.owner = owner.map(|o| uid(u128::from(o)));
        f
    })
}

fn report(
    deals: &[Deal],
    activities: &[Activity],
    lc: &[crate::kpi::customer::LifecycleChange],
    filter: &KpiFilter,
) -> KpiReport {
    let options = KpiOptions {
        filter: filter.clone(),
        zone: FixedOffset::east_opt(5400).unwrap().into(),
        ..KpiOptions::default()
    };
    let p = [sales()];
    let data = KpiData {
        deals,
        pipelines: &p,
        activities,
        lifecycle: lc,
        customers: &[],
    };
    kpi_report(data, &options, t("2026-06-01T00:00")).unwrap()
}

fn unit(r: Option<Decimal>) -> bool {
    r.is_none_or(|r| r >= Decimal::ZERO && r <= Decimal::ONE)
}

proptest! {
    #[test]
    fn the_single_pass_report_equals_the_single_functions(
        deals in deals_strategy(),
        seeds in proptest::collection::vec((0usize..40, 0u8..3, 0i64..(200 * 1440), any::<bool>()), 0..20),
        filter in window(),
    ) {
        use super::{customer, deal_size as ds, funnel, rotting, velocity, win_rate as wr};
        let acts = activities_for(&deals, &seeds);
        let lc = lifecycle();
        let r = report(&deals, &acts, &lc, &filter);
        let now = t("2026-06-01T00:00");
        let off = FixedOffset::east_opt(5400).unwrap();
        let o = KpiOptions::default();
        let end = filter.to.map_or(now, |e| e.min(now));
        prop_assert_eq!(&r.win_rate, &wr::win_rate(&deals, &filter));
        prop_assert_eq!(&r.win_rate_by_owner, &wr::win_rate_by_owner(&deals, &filter));
        prop_assert_eq!(&r.close_rate, &wr::close_rate(&deals, &filter));
        prop_assert_eq!(&r.funnels[0], &funnel::stage_funnel(&deals, &sales(), &filter).unwrap());
        prop_assert_eq!(&r.deal_size, &ds::deal_size(&deals, &filter).unwrap());
        prop_assert_eq!(&r.sales_cycle, &ds::sales_cycle(&deals, &filter).unwrap());
        prop_assert_eq!(&r.velocity, &velocity::sales_velocity(&deals, &filter).unwrap());
        prop_assert_eq!(&r.forecast, &forecast(&deals, &[sales()], &filter).unwrap());
        prop_assert_eq!(&r.revenue, &revenue_by_period(&deals, &filter, o.period, off).unwrap());
        prop_assert_eq!(&r.new_customers, &customer::new_customers(&deals, &filter, o.period, off));
        prop_assert_eq!(&r.repeat_purchase, &customer::repeat_purchase_rate(&deals, &filter, off));
        prop_assert_eq!(&r.purchase_summaries, &customer::purchase_summaries(&deals, &filter, end, off).unwrap());
        prop_assert_eq!(&r.rotting, &rotting::rotting_deals(&deals, &acts, &o.rotting, &filter, now).unwrap());
    }

    #[test]
    fn the_report_round_trips_through_json(
        deals in deals_strategy(),
        seeds in proptest::collection::vec((0usize..40, 0u8..3, 0i64..(200 * 1440), any::<bool>()), 0..20),
        filter in window(),
    ) {
        let acts = activities_for(&deals, &seeds);
        let r = report(&deals, &acts, &lifecycle(), &filter);
        let json = serde_json::to_string(&r).unwrap();
        let back: KpiReport = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, r);
    }

    #[test]
    fn input_order_changes_nothing(
        (deals, shuffled) in deals_strategy().prop_flat_map(|d| (Just(d.clone()), Just(d).prop_shuffle())),
        seeds in proptest::collection::vec((0usize..40, 0u8..3, 0i64..(200 * 1440), any::<bool>()), 0..20),
        filter in window(),
    ) {
        let acts = activities_for(&deals, &seeds);
        let mut acts_rev = acts.clone();
        acts_rev.reverse();
        let lc = lifecycle();
        let mut lc_rev = lc.clone();
        lc_rev.reverse();
        prop_assert_eq!(
            report(&deals, &acts, &lc, &filter),
            report(&shuffled, &acts_rev, &lc_rev, &filter)
        );
    }

    #[test]
    fn rates_stay_within_zero_and_one(deals in deals_strategy(), filter in window()) {
        let r = report(&deals, &[], &lifecycle(), &filter);
        prop_assert!(unit(r.win_rate.rate));
        prop_assert!(unit(r.close_rate.rate));
        prop_assert!(unit(r.repeat_purchase.rate));
        for w in r.win_rate_by_owner.values() {
            prop_assert!(unit(w.rate));
        }
        for f in &r.funnels {
            for s in &f.stages {
                prop_assert!(unit(s.conversion_to_next) && unit(s.conversion_to_won), "{:?}", s);
                prop_assert!(s.advanced <= s.entered && s.won <= s.entered && s.moved_on <= s.entered);
            }
        }
        for v in r.velocity.values() {
            prop_assert!(unit(v.win_rate));
        }
        let c = r.churn.unwrap();
        prop_assert!(unit(c.churn_rate) && unit(c.retention_rate));
        for s in &r.purchase_summaries {
            prop_assert!(s.recency <= s.t);
            prop_assert!(s.monetary_value >= Decimal::ZERO);
        }
    }

    #[test]
    fn per_owner_figures_add_up_to_the_total(deals in deals_strategy(), filter in window()) {
        let all = KpiFilter { owner: None, ..filter };
        let owners = [Some(uid(0)), Some(uid(1)), Some(uid(2)), None];
        let part = |o: Option<crate::id::UserId>| -> Vec<Deal> {
            deals.iter().filter(|d| d.owner == o).cloned().collect()
        };
        // Win rate: won and lost counts.
        let total = win_rate(&deals, &all);
        let by = win_rate_by_owner(&deals, &all);
        prop_assert_eq!(by.values().map(|w| w.won).sum::<u64>(), total.won);
        prop_assert_eq!(by.values().map(|w| w.lost).sum::<u64>(), total.lost);
        // Won amounts, revenue and open amounts, per currency.
        let size = deal_size(&deals, &all).unwrap();
        let rev = revenue_by_period(&deals, &all, Period::Month, FixedOffset::east_opt(0).unwrap()).unwrap();
        let fc = forecast(&deals, &[sales()], &all).unwrap();
        for c in [Currency::EUR, Currency::USD] {
            let mut won = Decimal::ZERO;
            let mut revenue = Decimal::ZERO;
            let mut open = Decimal::ZERO;
            for o in owners {
                let ds = part(o);
                won += deal_size(&ds, &all).unwrap().per_currency.get(&c).map_or(Decimal::ZERO, |s| s.total);
                revenue += revenue_by_period(&ds, &all, Period::Month, FixedOffset::east_opt(0).unwrap())
                    .unwrap().get(&c).map_or(Decimal::ZERO, |m| m.values().sum());
                open += forecast(&ds, &[sales()], &all).unwrap().open_total.get(&c).copied().unwrap_or_default();
            }
            prop_assert_eq!(won, size.per_currency.get(&c).map_or(Decimal::ZERO, |s| s.total));
            prop_assert_eq!(revenue, rev.get(&c).map_or(Decimal::ZERO, |m| m.values().sum()));
            prop_assert_eq!(open, fc.open_total.get(&c).copied().unwrap_or_default());
        }
    }

    #[test]
    fn forecast_never_exceeds_the_open_amount(deals in deals_strategy(), filter in window()) {
        let f = forecast(&deals, &[sales()], &filter).unwrap();
        for (c, months) in &f.by_month {
            let mut amount = Decimal::ZERO;
            for b in months.values() {
                prop_assert!(b.weighted >= Decimal::ZERO && b.weighted <= b.amount, "{:?}", b);
                amount += b.amount;
            }
            prop_assert!(f.weighted_total[c] <= amount);
            prop_assert!(amount <= f.open_total[c]);
        }
    }
}
