//! Segment evaluation and RFM scoring.
//!
//! Data: `N` customers (every 10th tagged `vip`, lifecycle cycling through
//! the four states) with three deals each (60 % won within the last 730
//! days, 25 % open, 15 % lost; EUR amounts 100.00 to 5 099.00), generated
//! from a fixed seed with SplitMix64 and inserted straight through the
//! store's write transaction (the set-up is not what is measured).
//!
//! - `segment_memory/four_predicates`: the facade evaluating
//!   `tag:vip and lifecycle = customer and won_amount(EUR, 365d) > 1000 and
//!   not last_won within 30d` on the memory store (no push-down: every deal
//!   and customer goes through the reference evaluator);
//! - `segment_memory/hand_loop`: the baseline, the same answer computed by
//!   a hand-written loop over plain vectors of the same records;
//! - `segment_memory/rfm`: `Session::rfm(EUR, 365d)` on the memory store;
//! - `segment_memory/rfm_hand_loop`: the baseline, the same per-customer
//!   sums from plain vectors, then the same quintile scoring;
//! - `segment_sqlite/*`: the same four-predicate segment (its two
//!   attribute predicates pushed down to SQL), an attribute-only segment
//!   (entirely in SQL) and RFM, on an SQLite file.
//!
//! `cargo bench -p crm-benches --bench segment` runs the full sizes:
//! 1 000 000 customers / 3 000 000 deals in memory and 100 000 / 300 000
//! on SQLite. `cargo test --benches` runs each once on 2 000 customers.
//! `CRM_BENCH_CUSTOMERS` and `CRM_BENCH_SQLITE_CUSTOMERS` override the sizes.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use crm_core::segment::rfm::{self, Purchases};
use crm_core::segment::{Expr, Window};
use crm_core::{
    Actor, Crm, Currency, Customer, CustomerId, Deal, DealId, DealStatus, Lifecycle, ManualClock,
    Money, PageRequest, PartyKind, Pipeline, PipelineDef, Role, StageChange, StageKey, Store, Tag,
};
use crm_store_memory::MemoryStore;
use crm_store_sqlite::SqliteStore;
use rust_decimal::Decimal;
use uuid::Uuid;

const FOUR: &str =
    "tag:vip and lifecycle = customer and won_amount(EUR, 365d) > 1000 and not last_won within 30d";
const ATTRIBUTES: &str = "tag:vip and lifecycle = customer and kind = organisation";

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn size(var: &str, full_size: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full() { full_size } else { 2_000 })
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
}

/// splitmix64: deterministic test data.
type Rng = crm_core::predict::simulate::SplitMix64;

/// The records: customers and three deals per customer in `pipeline`.
fn data(n: usize, pipeline: &Pipeline) -> (Vec<Customer>, Vec<Deal>) {
    let mut rng = Rng::new(42);
    let vip = Tag::parse("vip").expect("tag");
    let lifecycles = [
        Lifecycle::Lead,
        Lifecycle::Prospect,
        Lifecycle::Customer,
        Lifecycle::Churned,
    ];
    let key = |k: &str| StageKey::new(k).expect("stage key");
    let created = now() - chrono::Duration::days(800);
    let mut customers = Vec::with_capacity(n);
    let mut deals = Vec::with_capacity(3 * n);
    for i in 0..n {
        let id = CustomerId::from_uuid(Uuid::from_u128(1 + i as u128));
        customers.push(Customer {
            id,
            version: 1,
            kind: if i % 3 == 0 {
                PartyKind::Person
            } else {
                PartyKind::Organisation
            },
            name: format!("Customer {i}"),
            organisation: None,
            roles: [Role::Customer].into_iter().collect(),
            lifecycle: lifecycles[i % 4],
            emails: Vec::new(),
            phones: Vec::new(),
            owner: None,
            tags: if i % 10 == 0 {
                [vip.clone()].into_iter().collect()
            } else {
                Default::default()
            },
            created_at: created,
            updated_at: created,
            merged_into: None,
            custom: Default::default(),
        });
        for j in 0..3 {
            let r = rng.next_u64();
            let (status, stage) = match r % 20 {
                0..=11 => (DealStatus::Won, "won"),
                12..=16 => (DealStatus::Open, "lead"),
                _ => (DealStatus::Lost, "lost"),
            };
            let closed = now() - chrono::Duration::days(((r >> 8) % 730) as i64);
            let cents = 10_000 + ((r >> 20) % 500_000) as i64;
            let mut history = vec![StageChange {
                from: None,
                to: key("lead"),
                at: created,
                by: Actor::System,
            }];
            if status != DealStatus::Open {
                history.push(StageChange {
                    from: Some(key("lead")),
                    to: key(stage),
                    at: closed,
                    by: Actor::System,
                });
            }
            deals.push(Deal {
                id: DealId::from_uuid(Uuid::from_u128(((1 + i as u128) << 2) | j)),
                version: history.len() as u64,
                title: "Order".to_owned(),
                customer: id,
                pipeline: pipeline.id,
                stage: key(stage),
                status,
                amount: Some(Money::new(Decimal::new(cents, 2), Currency::EUR)),
                expected_close_date: None,
                owner: None,
                won_at: (status == DealStatus::Won).then_some(closed),
                lost_at: (status == DealStatus::Lost).then_some(closed),
                lost_reason: (status == DealStatus::Lost).then(|| "price".to_owned()),
                history,
                created_at: created,
                updated_at: closed,
                custom: Default::default(),
            });
        }
    }
    (customers, deals)
}

/// An engine over `store` at `now()` holding the generated data.
fn engine<S: Store>(store: S, n: usize) -> (Crm<S>, Vec<Customer>, Vec<Deal>) {
    let crm = Crm::new(store).with_clock(ManualClock::new(now()));
    let pipeline = crm
        .as_actor(Actor::System)
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let (customers, deals) = data(n, &pipeline);
    let mut tx = crm.store().write().expect("write tx");
    for c in &customers {
        tx.insert_customer(c).expect("insert customer");
    }
    for d in &deals {
        tx.insert_deal(d).expect("insert deal");
    }
    tx.commit().expect("commit");
    (crm, customers, deals)
}

/// The four-predicate segment by hand over plain vectors: the baseline.
fn hand_loop(customers: &[Customer], deals: &[Deal]) -> usize {
    let vip = Tag::parse("vip").expect("tag");
    let year = Window::days(365);
    let month = Window::days(30);
    let mut won: HashMap<CustomerId, (Decimal, Option<DateTime<Utc>>)> = HashMap::new();
    for d in deals {
        if d.status != DealStatus::Won {
            continue;
        }
        let Some(at) = d.won_at else { continue };
        let e = won.entry(d.customer).or_insert((Decimal::ZERO, None));
        e.1 = e.1.max(Some(at));
        if let Some(m) = d.amount
            && m.currency == Currency::EUR
            && year.contains(at, now())
        {
            e.0 += m.amount;
        }
    }
    let limit = Decimal::new(1000, 0);
    customers
        .iter()
        .filter(|c| {
            let (sum, last) = won.get(&c.id).copied().unwrap_or((Decimal::ZERO, None));
            c.tags.contains(&vip)
                && c.lifecycle == Lifecycle::Customer
                && sum > limit
                && !last.is_some_and(|t| month.contains(t, now()))
        })
        .count()
}

/// RFM by hand over plain vectors: the baseline.
fn rfm_hand_loop(deals: &[Deal]) -> usize {
    let year = Window::days(365);
    let mut p: HashMap<CustomerId, Purchases> = HashMap::new();
    for d in deals {
        let (Some(at), Some(m)) = (d.won_at, d.amount) else {
            continue;
        };
        if d.status != DealStatus::Won || m.currency != Currency::EUR || !year.contains(at, now()) {
            continue;
        }
        let e = p.entry(d.customer).or_insert(Purchases {
            last: at,
            count: 0,
            total: Decimal::ZERO,
        });
        e.last = e.last.max(at);
        e.count += 1;
        e.total += m.amount;
    }
    rfm::score(&p).len()
}

fn configure(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(if full() { 20 } else { 1 }));
}

fn memory(c: &mut Criterion) {
    let n = size("CRM_BENCH_CUSTOMERS", 1_000_000);
    let (crm, customers, deals) = engine(MemoryStore::new(), n);
    let s = crm.as_actor(Actor::System);
    let four: Expr = FOUR.parse().expect("parse");
    let all = PageRequest::default();
    // Same answer both ways, checked once.
    let count = s.evaluate_expr(&four, &all).expect("evaluate").count;
    assert_eq!(
        count as usize,
        hand_loop(&customers, &deals),
        "baseline disagrees"
    );
    let scored = s
        .rfm(Currency::EUR, Some(Window::days(365)))
        .expect("rfm")
        .len();
    assert_eq!(scored, rfm_hand_loop(&deals), "RFM baseline disagrees");

    let mut group = c.benchmark_group("segment_memory");
    configure(&mut group);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("four_predicates", |b| {
        b.iter(|| s.evaluate_expr(&four, &all).expect("evaluate").count)
    });
    group.bench_function("hand_loop", |b| b.iter(|| hand_loop(&customers, &deals)));
    group.bench_function("rfm", |b| {
        b.iter(|| {
            s.rfm(Currency::EUR, Some(Window::days(365)))
                .expect("rfm")
                .len()
        })
    });
    group.bench_function("rfm_hand_loop", |b| b.iter(|| rfm_hand_loop(&deals)));
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let n = size("CRM_BENCH_SQLITE_CUSTOMERS", 100_000);
    let path = crm_benches::fresh_db("segment");
    let store = SqliteStore::open(&path).expect("open");
    let (crm, customers, deals) = engine(store, n);
    let s = crm.as_actor(Actor::System);
    let four: Expr = FOUR.parse().expect("parse");
    let attributes: Expr = ATTRIBUTES.parse().expect("parse");
    let all = PageRequest::default();
    let count = s.evaluate_expr(&four, &all).expect("evaluate").count;
    assert_eq!(
        count as usize,
        hand_loop(&customers, &deals),
        "baseline disagrees"
    );
    drop((customers, deals));

    let mut group = c.benchmark_group("segment_sqlite");
    configure(&mut group);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("four_predicates", |b| {
        b.iter(|| s.evaluate_expr(&four, &all).expect("evaluate").count)
    });
    group.bench_function("attributes_only", |b| {
        b.iter(|| s.evaluate_expr(&attributes, &all).expect("evaluate").count)
    });
    group.bench_function("rfm", |b| {
        b.iter(|| {
            s.rfm(Currency::EUR, Some(Window::days(365)))
                .expect("rfm")
                .len()
        })
    });
    group.finish();
    drop(crm);
    crm_benches::remove_db(&path);
}

criterion_group!(benches, memory, sqlite);
criterion_main!(benches);
