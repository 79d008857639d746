//! Automation costs, each against a baseline measured in the same run
//! (SQLite on a file, every write its own transaction):
//!
//! - `event_rules/no_rules`: one customer update (its name, alternating)
//!   on a store without rules.
//! - `event_rules/1000_rules_10_match`: the same update with 1 000 active
//!   rules defined: 490 wait for other changes of customers (lifecycle,
//!   owner, custom fields: the same (customer, updated) index bucket, so
//!   each is matched against the event and rejected), 500 wait for deal
//!   events, and 10 match (name changed) and evaluate their condition
//!   (`tag:vip`, false for this customer), so no action runs. What this
//!   isolates is finding and checking the rules; the effects of actions are
//!   ordinary writes, measured by the store benches.
//! - `event_rules/1000_rules_10_act`: the same, but the 10 matching rules'
//!   condition holds and each puts a notification in the outbox (10 more
//!   records and 10 more events per write): for information.
//! - `run_due/scan_open_deals`: one scan of every open deal through the
//!   store (`ReadTx::scan_deals`, a visitor that counts): the baseline.
//! - `run_due/20_time_rules`: `Session::run_due` over the same deals with
//!   20 time rules (10 "idle for N days", 10 "N days from the expected
//!   close date"), in the steady state: every firing already recorded by a
//!   first call (1 deal in 100 is due for one date rule), so each call
//!   scans, finds the due pairs and checks their firing marks.
//!
//! `cargo bench -p crm-benches --bench automation` runs 1 000 000 deals;
//! `cargo test --benches` runs each once on 2 000 as a smoke test.
//! `CRM_BENCH_N` overrides the deal count.

use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use crm_benches::{bench_size, fresh_db, remove_db};
use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::{
    Actor, Crm, CustomerPatch, DealFilter, DealStatus, EntityKind, ManualClock, NewCustomer,
    NewDeal, PipelineDef, Store,
};
use crm_store_sqlite::SqliteStore;

fn t0() -> DateTime<chrono::Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default() // 2025-01-01
}

/// 1 000 rules, 10 of them matching a change of a customer's name; with
/// `act`, the 10 put a notification in the outbox, otherwise their
/// condition does not hold.
fn rules(act: bool) -> Vec<NewRule> {
    let mut out = Vec::new();
    let condition =
        crm_core::segment::parse(if act { "not tag:vip" } else { "tag:vip" }).expect("condition");
    for i in 0..10 {
        out.push(
            NewRule::new(
                format!("match {i}"),
                Trigger::field_changed(EntityKind::Customer, "name"),
            )
            .condition(condition.clone())
            .action(Action::notify("Renamed")),
        );
    }
    for i in 0..490 {
        let field = match i % 3 {
            0 => "lifecycle".to_string(),
            1 => "owner".to_string(),
            _ => format!("custom.f{i}"),
        };
        out.push(
            NewRule::new(
                format!("customer {i}"),
                Trigger::field_changed(EntityKind::Customer, field),
            )
            .action(Action::AddTag { tag: "x".into() }),
        );
    }
    for i in 0..500 {
        let trigger = match i % 4 {
            0 => Trigger::field_changed(EntityKind::Deal, "stage").to(format!("s{i}")),
            1 => Trigger::DealWon,
            2 => Trigger::RecordCreated {
                entity: EntityKind::Deal,
            },
            _ => Trigger::field_changed(EntityKind::Deal, "owner"),
        };
        out.push(NewRule::new(format!("deal {i}"), trigger).action(Action::notify("deal")));
    }
    out
}

fn event_rules(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_rules");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for (name, rules) in [
        ("no_rules", Vec::new()),
        ("1000_rules_10_match", rules(false)),
        ("1000_rules_10_act", rules(true)),
    ] {
        let path = fresh_db("automation");
        let crm = Crm::new(SqliteStore::open(&path).expect("open"));
        let s = crm.as_actor(Actor::System);
        let p = s
            .create_pipeline(PipelineDef::sales_template("Sales"))
            .expect("pipeline");
        let customer = s
            .create_customer(NewCustomer::organisation("ACME"))
            .expect("customer");
        s.create_deal(NewDeal::new(customer.id, p.id, "Robots"))
            .expect("deal");
        s.batch(|b| {
            for r in rules {
                b.create_rule(r)?;
            }
            Ok(())
        })
        .expect("rules");
        let mut version = customer.version;
        group.bench_function(name, |b| {
            b.iter(|| {
                let to = if version.is_multiple_of(2) {
                    "ACME A"
                } else {
                    "ACME B"
                };
                let c = s
                    .update_customer(customer.id, version, CustomerPatch::default().name(to))
                    .expect("update");
                version = c.version;
            })
        });
        drop(crm);
        remove_db(&path);
    }
    group.finish();
}

fn run_due(c: &mut Criterion) {
    let n = bench_size(1_000_000);
    let path = fresh_db("automation");
    let clock = std::sync::Arc::new(ManualClock::new(t0()));
    let crm = Crm::new(SqliteStore::open(&path).expect("open")).with_clock(clock.clone());
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let start = NaiveDate::from_ymd_opt(2025, 2, 1).expect("date");
    s.batch(|b| {
        let mut customer = None;
        for i in 0..n {
            if i.is_multiple_of(1000) {
                customer = Some(
                    b.create_customer(NewCustomer::organisation(format!("C{i}")))?
                        .id,
                );
            }
            let Some(c) = customer else { continue };
            // Close dates spread over 100 days from 2025-02-01.
            let close = start + chrono::Duration::days((i % 100) as i64);
            b.create_deal(NewDeal::new(c, p.id, format!("Deal {i}")).expected_close_date(close))?;
        }
        for days in [30u32, 45, 60, 75, 90, 120, 150, 180, 270, 365] {
            b.create_rule(
                NewRule::new(format!("idle {days}"), Trigger::DealIdle { days })
                    .action(Action::notify("Idle")),
            )?;
        }
        for days in [-30i32, -21, -14, -10, -7, -5, -3, -2, -1, 0] {
            b.create_rule(
                NewRule::new(
                    format!("close {days}"),
                    Trigger::DateReached {
                        entity: EntityKind::Deal,
                        field: "expected_close_date".into(),
                        days,
                    },
                )
                .action(Action::notify("Closing")),
            )?;
        }
        Ok(())
    })
    .expect("fill");
    // 2025-01-03: only "30 days before the close date" is due, for the
    // deals closing on 2025-02-01 or 2025-02-02 (2 in 100).
    let now = t0() + chrono::Duration::days(2);
    let first = s.run_due(now).expect("first run");
    assert_eq!(first.fired.len(), 2 * n / 100, "the expected firings");

    let mut group = c.benchmark_group("run_due");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("scan_open_deals", |b| {
        b.iter(|| {
            let tx = crm.store().read().expect("read");
            let mut count = 0usize;
            tx.scan_deals(
                &DealFilter {
                    status: Some(DealStatus::Open),
                    ..Default::default()
                },
                &mut |_| count += 1,
            )
            .expect("scan");
            assert_eq!(count, n);
        })
    });
    group.bench_function("20_time_rules", |b| {
        b.iter(|| {
            let r = s.run_due(now).expect("run_due");
            assert!(r.fired.is_empty());
        })
    });
    group.finish();
    drop(crm);
    remove_db(&path);
}

criterion_group!(benches, event_rules, run_due);
criterion_main!(benches);
