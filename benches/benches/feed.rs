//! The change feed on SQLite: what a page costs.
//!
//! One SQLite file holds `N` customers (100 000 under `cargo bench`), each
//! created and then renamed by one of 10 sales reps (no teams), in runs of
//! 100 customers per rep, the reps taking turns: the log has `2 N` events,
//! a tenth of them by each rep about their own customers. Measured:
//!
//! - `page_1000/system`: `Session::feed` of 1 000 events from the middle of
//!   the log, as the system (no access checks);
//! - `page_1000/sales_rep`: the same page size for one rep, whose event
//!   scope (`own`) and record scope leave a tenth of the events: each page
//!   scans about 10 000 events and looks up each of its 500 customers once;
//! - `consumer_read_ack/system`: one consumer page of 1 000 and its
//!   acknowledgement (a write transaction), rewound between iterations.
//!
//! `cargo bench -p crm-benches --bench feed`; `cargo test --benches` runs
//! each once on 2 000 customers. `CRM_BENCH_FEED_N` overrides `N`.

use criterion::{Criterion, criterion_group, criterion_main};
use crm_core::feed::{FeedRequest, NewFeedConsumer};
use crm_core::{AccessRole, Actor, Crm, CustomerPatch, NewCustomer, NewUser, UserId};
use crm_store_sqlite::SqliteStore;

fn customers() -> usize {
    if let Some(n) = std::env::var("CRM_BENCH_FEED_N")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        2_000
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("dir");
    let crm = Crm::new(SqliteStore::open(dir.path().join("crm.db")).expect("open"));
    let s = crm.as_actor(Actor::System);
    let reps: Vec<UserId> = (0..10)
        .map(|i| {
            s.create_user(
                NewUser::new(format!("Rep {i}"), format!("rep{i}@example.com"))
                    .role(AccessRole::SalesRep),
            )
            .expect("rep")
            .id
        })
        .collect();
    let n = customers();
    // Runs of 100 customers (200 events) per rep, the reps taking turns.
    for (run, start) in (0..n).step_by(100).enumerate() {
        let rep = reps[run % reps.len()];
        crm.as_user(rep)
            .batch(|b| {
                for k in start..(start + 100).min(n) {
                    let c = b.create_customer(NewCustomer::person(format!("C{k}")).owner(rep))?;
                    b.update_customer(
                        c.id,
                        c.version,
                        CustomerPatch::default().name(format!("C{k} x")),
                    )?;
                }
                Ok(())
            })
            .expect("customers");
    }
    let middle = (n as u64) / 2;
    s.create_feed_consumer(NewFeedConsumer::new("bench"))
        .expect("consumer");
    let rep = crm.as_user(reps[3]);
    let mut g = c.benchmark_group("feed");
    g.sample_size(20);
    g.bench_function("page_1000/system", |b| {
        b.iter(|| {
            let page = s
                .feed(&FeedRequest::after(middle).limit(1000))
                .expect("page");
            assert_eq!(page.events.len(), 1000.min(2 * n - middle as usize));
        })
    });
    g.bench_function("page_1000/sales_rep", |b| {
        b.iter(|| {
            let page = rep
                .feed(&FeedRequest::after(middle).limit(1000))
                .expect("page");
            assert!(!page.events.is_empty());
        })
    });
    let store = crm.store();
    g.bench_function("consumer_read_ack/system", |b| {
        b.iter(|| {
            let page = s.read_feed_consumer("bench", 1000).expect("page");
            s.ack_feed_consumer("bench", page.next_after).expect("ack");
            // Rewind (outside the facade) so every iteration reads a full page.
            let mut tx = crm_core::Store::write(store).expect("tx");
            let mut c = tx.feed_consumer("bench").expect("read").expect("consumer");
            c.checkpoint = middle;
            tx.update_feed_consumer(&c).expect("rewind");
            tx.commit().expect("commit");
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
