//! The KPI report is the same over the SQLite store as over the memory
//! store (the reference), for the same history recorded through the facade.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::kpi::KpiFilter;
use crm_core::kpi::report::{KpiOptions, KpiReport};
use crm_core::kpi::rotting::RottingThresholds;
use crm_core::*;
use crm_store_memory::MemoryStore;
use crm_store_sqlite::SqliteStore;

/// splitmix64, for a deterministic history.
type Rng = crm_core::predict::simulate::SplitMix64;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn user(i: u64) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(7000 + u128::from(i)))
}

/// 20 customers, 150 deals walking the sales template, activities, tasks
/// and lifecycle moves over 2025, then the report as of 2026-01-01.
fn report<S: Store>(store: S) -> KpiReport {
    let clock = Arc::new(ManualClock::new(start() + Duration::days(365)));
    let crm = Crm::new(store)
        .with_clock(clock)
        .with_ids(SequentialIds::new(42));
    crm_core::testing::seed_users(crm.store(), (0..3).map(user));
    let s = crm.as_actor(Actor::System);
    let mut rng = Rng::new(9);
    let p = s
        .at(start() - Duration::days(30))
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .unwrap();
    let customers: Vec<Customer> = (0..20)
        .map(|i| {
            s.at(start() - Duration::days(20 - i))
                .create_customer(NewCustomer::organisation(format!("C{i}")))
                .unwrap()
        })
        .collect();
    for c in &customers[..10] {
        let c = s
            .at(start() - Duration::days(5))
            .update_customer(
                c.id,
                c.version,
                CustomerPatch::default().lifecycle(Lifecycle::Customer),
            )
            .unwrap();
        if rng.below(3) == 0 {
            s.at(start() + Duration::days(100 + rng.below(200) as i64))
                .update_customer(
                    c.id,
                    c.version,
                    CustomerPatch::default().lifecycle(Lifecycle::Churned),
                )
                .unwrap();
        }
    }
    for i in 0..150u64 {
        let mut at = start() + Duration::minutes(rng.below(330 * 1440) as i64);
        let c = &customers[rng.below(20) as usize];
        let currency = if i % 4 == 0 { "USD" } else { "EUR" };
        let mut d = s
            .at(at)
            .create_deal(
                NewDeal::new(c.id, p.id, format!("D{i}"))
                    .amount(
                        Money::parse(
                            &format!("{}.{:02}", 100 + rng.below(9000), rng.below(100)),
                            currency,
                        )
                        .unwrap(),
                    )
                    .expected_close_date((at + Duration::days(40)).date_naive())
                    .owner(user(rng.below(3))),
            )
            .unwrap();
        s.at(at)
            .log_activity(
                NewActivity::task("Call back", at + Duration::days(3))
                    .deal(d.id)
                    .owner(user(i % 3)),
            )
            .unwrap();
        for stage in ["qualified", "proposal", "negotiation"] {
            at += Duration::minutes(60 + rng.below(10 * 1440) as i64);
            match rng.below(10) {
                0 => break,
                1 | 2 => {
                    s.at(at).lose_deal(d.id, d.version, "price").unwrap();
                    break;
                }
                _ => d = s.at(at).move_deal(d.id, d.version, stage).unwrap(),
            }
            s.at(at)
                .log_activity(
                    NewActivity::new(ActivityKind::Call, "Call")
                        .deal(d.id)
                        .owner(user(i % 3)),
                )
                .unwrap();
        }
        if d.stage == "negotiation" && rng.below(3) > 0 {
            s.at(at + Duration::days(2))
                .win_deal(d.id, d.version)
                .unwrap();
        }
    }
    let options = KpiOptions {
        filter: KpiFilter::default()
            .window(start(), start() + Duration::days(365))
            .unwrap(),
        rotting: RottingThresholds::days(14),
        ..KpiOptions::default()
    };
    s.kpi_report(&options).unwrap()
}

#[test]
fn sqlite_and_memory_give_the_same_report() {
    let reference = report(MemoryStore::new());
    let sqlite = report(SqliteStore::open_in_memory().unwrap());
    // The history is not trivial: deals closed both ways, customers churned.
    assert!(
        reference.win_rate.won > 10 && reference.win_rate.lost > 10,
        "{:?}",
        reference.win_rate
    );
    assert!(reference.churn.as_ref().is_some_and(|c| c.churned > 0));
    assert!(!reference.rotting.is_empty() && !reference.purchase_summaries.is_empty());
    assert_eq!(sqlite, reference);
}
