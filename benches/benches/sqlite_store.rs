//! SQLite store throughput.
//!
//! - `bulk_insert/facade`: 100k customers (one e-mail, one tag) and 100k
//!   deals (one per customer, with an amount) created through the facade in
//!   one `Session::batch`, i.e. with validation, the existence checks the
//!   facade makes (customer and pipeline read back per deal), and one audit
//!   event per record.
//! - `bulk_insert/raw_rusqlite`: the same rows (customers, e-mails, tags,
//!   deals, first stage-history entries and the 200k events with their JSON
//!   changes) written with hand-written prepared `INSERT`s in one
//!   transaction, on the same schema and settings: the floor the store is
//!   measured against.
//! - `stage_moves/move_and_commit`: one deal stage move per write
//!   transaction (BEGIN IMMEDIATE … COMMIT), round-robin over 1000 deals.
//!
//! `cargo bench -p crm-benches --bench sqlite_store` runs the full sizes;
//! `cargo test --benches` runs each once on 2 000 records as a smoke test.
//! `CRM_BENCH_N` overrides the record count.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use crm_benches::{bench_size, remove_db};
use crm_core::{Actor, Crm, DealId, Money, NewCustomer, NewDeal, PipelineDef};
use crm_store_sqlite::SqliteStore;

fn records() -> usize {
    bench_size(100_000)
}

fn fresh_db() -> PathBuf {
    crm_benches::fresh_db("sqlite")
}

fn facade_bulk(n: usize) -> Duration {
    let path = fresh_db();
    let mut crm = Crm::new(SqliteStore::open(&path).expect("open"));
    if std::env::var_os("CRM_BENCH_SEQUENTIAL_IDS").is_some() {
        crm = crm.with_ids(crm_core::SequentialIds::new(1));
    }
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let amount = Money::parse("1250.50", "EUR").expect("money");
    let start = Instant::now();
    s.batch(|b| {
        for i in 0..n {
            let c = b.create_customer(
                NewCustomer::person(format!("Customer {i}"))
                    .email(format!("c{i}@example.org"))
                    .tag("bulk"),
            )?;
            b.create_deal(NewDeal::new(c.id, p.id, format!("Deal {i}")).amount(amount))?;
        }
        Ok(())
    })
    .expect("batch");
    let took = start.elapsed();
    drop(crm);
    remove_db(&path);
    took
}

/// The facade's own cost (validation, ids, events) over the in-memory store.
fn memory_bulk(n: usize) -> Duration {
    let crm = Crm::new(crm_store_memory::MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let amount = Money::parse("1250.50", "EUR").expect("money");
    let start = Instant::now();
    s.batch(|b| {
        for i in 0..n {
            let c = b.create_customer(
                NewCustomer::person(format!("Customer {i}"))
                    .email(format!("c{i}@example.org"))
                    .tag("bulk"),
            )?;
            b.create_deal(NewDeal::new(c.id, p.id, format!("Deal {i}")).amount(amount))?;
        }
        Ok(())
    })
    .expect("batch");
    start.elapsed()
}

fn raw_bulk(n: usize) -> Duration {
    let path = fresh_db();
    // Create the schema (and the pipeline the deals point to) through the store.
    let pipeline_id = {
        let crm = Crm::new(SqliteStore::open(&path).expect("open"));
        crm.as_actor(Actor::System)
            .create_pipeline(PipelineDef::sales_template("Sales"))
            .expect("pipeline")
            .id
    };
    let mut conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.pragma_update(None, "synchronous", "NORMAL")
        .expect("pragma");
    conn.pragma_update(None, "foreign_keys", true)
        .expect("pragma");
    let pipeline = pipeline_id.as_uuid().into_bytes();
    let start = Instant::now();
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .expect("begin");
    {
        let mut customer = tx
            .prepare(
                "INSERT INTO customers (id, version, kind, name, organisation, roles, lifecycle, owner, created_at, updated_at) \
                 VALUES (?, 1, 'person', ?, NULL, 1, 'lead', NULL, ?, ?)",
            )
            .expect("prepare");
        let mut email = tx
            .prepare("INSERT INTO customer_emails (customer_id, position, email) VALUES (?, 0, ?)")
            .expect("prepare");
        let mut tag = tx
            .prepare("INSERT INTO customer_tags (customer_id, tag) VALUES (?, 'bulk')")
            .expect("prepare");
        let mut deal = tx
            .prepare(
                "INSERT INTO deals (id, version, title, customer_id, pipeline_id, stage, status, amount, currency, \
                 expected_close_date, owner, won_at, lost_at, lost_reason, created_at, updated_at) \
                 VALUES (?, 1, ?, ?, ?, 'lead', 'open', '1250.50', 'EUR', NULL, NULL, NULL, NULL, NULL, ?, ?)",
            )
            .expect("prepare");
        let mut history = tx
            .prepare(
                "INSERT INTO deal_stage_history (deal_id, position, from_stage, to_stage, at, by_user) \
                 VALUES (?, 0, NULL, 'lead', ?, NULL)",
            )
            .expect("prepare");
        let mut event = tx
            .prepare(
                "INSERT INTO events (id, at, actor, entity_kind, entity_id, version, kind, changes) \
                 VALUES (?, ?, NULL, ?, ?, 1, 'created', ?)",
            )
            .expect("prepare");
        let now = 1_735_689_600_000i64;
        for i in 0..n as u128 {
            let cid = (0x0194_0000_0000_7000_8000_0000_0000_0000u128 | (i * 4)).to_be_bytes();
            let did = (0x0194_0000_0000_7000_8000_0000_0000_0000u128 | (i * 4 + 1)).to_be_bytes();
            let e1 = (0x0194_0000_0000_7000_8000_0000_0000_0000u128 | (i * 4 + 2)).to_be_bytes();
            let e2 = (0x0194_0000_0000_7000_8000_0000_0000_0000u128 | (i * 4 + 3)).to_be_bytes();
            let name = format!("Customer {i}");
            let mail = format!("c{i}@example.org");
            customer
                .execute(rusqlite::params![cid, name, now, now])
                .expect("customer");
            email.execute(rusqlite::params![cid, mail]).expect("email");
            tag.execute([cid]).expect("tag");
            let changes = format!(
                r#"[{{"field":"kind","old":null,"new":"person"}},{{"field":"name","old":null,"new":"{name}"}},{{"field":"roles","old":null,"new":["customer"]}},{{"field":"lifecycle","old":null,"new":"lead"}},{{"field":"emails","old":null,"new":["{mail}"]}},{{"field":"tags","old":null,"new":["bulk"]}}]"#
            );
            event
                .execute(rusqlite::params![e1, now, "customer", cid, changes])
                .expect("event");
            let title = format!("Deal {i}");
            deal.execute(rusqlite::params![did, title, cid, pipeline, now, now])
                .expect("deal");
            history
                .execute(rusqlite::params![did, now])
                .expect("history");
            let changes = format!(
                r#"[{{"field":"title","old":null,"new":"{title}"}},{{"field":"customer","old":null,"new":"{}"}},{{"field":"pipeline","old":null,"new":"{}"}},{{"field":"stage","old":null,"new":"lead"}},{{"field":"amount","old":null,"new":{{"amount":"1250.50","currency":"EUR"}}}}]"#,
                u128::from_be_bytes(cid),
                pipeline_id
            );
            event
                .execute(rusqlite::params![e2, now, "deal", did, changes])
                .expect("event");
        }
    }
    tx.commit().expect("commit");
    let took = start.elapsed();
    drop(conn);
    remove_db(&path);
    took
}

fn bulk_insert(c: &mut Criterion) {
    let n = records();
    let mut group = c.benchmark_group("bulk_insert");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(15));
    // Customers plus deals.
    group.throughput(Throughput::Elements(2 * n as u64));
    group.bench_function("facade", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| facade_bulk(n)).sum())
    });
    group.bench_function("raw_rusqlite", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| raw_bulk(n)).sum())
    });
    group.bench_function("facade_over_memory_store", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| memory_bulk(n)).sum())
    });
    group.finish();
}

fn stage_moves(c: &mut Criterion) {
    let path = fresh_db();
    let crm = Crm::new(SqliteStore::open(&path).expect("open"));
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let customer = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("customer");
    let mut deals: Vec<(DealId, u64)> = s
        .batch(|b| {
            (0..1000)
                .map(|i| {
                    b.create_deal(NewDeal::new(customer.id, p.id, format!("Deal {i}")))
                        .map(|d| (d.id, d.version))
                })
                .collect()
        })
        .expect("deals");
    let mut next = 0usize;
    let mut group = c.benchmark_group("stage_moves");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(1));
    group.bench_function("move_and_commit", |b| {
        b.iter(|| {
            let k = next % deals.len();
            next += 1;
            let (id, version) = deals[k];
            // Alternate lead -> qualified -> lead: each move is one commit.
            let to = if version % 2 == 1 {
                "qualified"
            } else {
                "lead"
            };
            let d = s.move_deal(id, version, to).expect("move");
            deals[k].1 = d.version;
        })
    });
    group.finish();
    drop(crm);
    remove_db(&path);
}

criterion_group!(benches, bulk_insert, stage_moves);
criterion_main!(benches);
