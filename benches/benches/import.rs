//! Getting data in: CSV import and duplicate search.
//!
//! - `import_customers/csv_into_sqlite`: `Session::import_customers` of a
//!   CSV file of 100k customer rows (name, kind, e-mail, phone, tags,
//!   lifecycle, historical created_at) into a fresh SQLite file, policy
//!   skip-invalid (one savepoint per row), everything in one transaction.
//! - `import_customers/csv_chronological_into_sqlite`: the same rows with
//!   `created_at` rising row by row, as in an export sorted by creation.
//! - `import_customers/batch_into_sqlite`: the same customers created with
//!   `Batch::create_customer` in one `Session::batch`, no CSV: the floor
//!   the import is measured against (the rules and the store cost the same
//!   in both; the difference is parsing, reporting and savepoints).
//! - `import_plans/windows1252_semicolons_into_sqlite`: the same rows as
//!   a German Excel writes them (Windows-1252, `;`, detected): what
//!   decoding and detection add to `csv_into_sqlite`.
//! - `import_plans/reimport_matched_by_email`: the file imported again
//!   with `match_by: email` into the store it was imported into: every row
//!   matched, compared and planned `unchanged`, nothing written.
//! - `duplicates/find_100k`: `find_duplicates` over 100k customers whose
//!   names come from a small vocabulary (so name blocks are realistic and
//!   large), with 2 % re-entered with a typo.
//!
//! `cargo bench -p crm-benches --bench import` runs the full sizes;
//! `cargo test --benches` runs each once on 2 000 rows. `CRM_BENCH_N`
//! overrides the row count.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use crm_benches::{bench_size, remove_db};
use crm_core::duplicate::{DuplicateOptions, find_duplicates};
use crm_core::import::{ImportOptions, ImportPolicy};
use crm_core::{Actor, Crm, Customer, CustomerFilter, CustomerQuery, Lifecycle, NewCustomer};
use crm_store_sqlite::SqliteStore;

fn rows() -> usize {
    bench_size(100_000)
}

fn fresh_db() -> PathBuf {
    crm_benches::fresh_db("import")
}

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Margaret",
    "Dennis",
    "Ken",
    "Radia",
    "Tim",
    "Vint",
    "Leslie",
    "Niklaus",
    "Hedy",
    "Katherine",
    "Linus",
    "Guido",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Hamilton",
    "Ritchie",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Cerf",
    "Lamport",
    "Wirth",
    "Lamarr",
    "Johnson",
    "Torvalds",
    "Rossum",
];

/// The i-th generated person: name, e-mail, phone.
fn person(i: usize) -> (String, String, String) {
    let name = format!(
        "{} {} {}",
        FIRST[i % FIRST.len()],
        LAST[(i / FIRST.len()) % LAST.len()],
        i
    );
    (
        name,
        format!("p{i}@example.org"),
        format!("+49 30 {:07}", i % 10_000_000),
    )
}

/// The CSV file: `created_at` jumps across 2023 row by row (the worst
/// case for every date index), or with `chronological` rises through
/// 2023 to 2025 as in an export sorted by creation.
fn csv(n: usize, chronological: bool) -> String {
    let mut out = String::from("name,kind,email,phone,tags,lifecycle,created_at\n");
    let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default();
    for i in 0..n {
        let (name, email, phone) = person(i);
        let created = if chronological {
            // About 100 customers a day.
            (start + chrono::Duration::days((i / 100) as i64)).to_string()
        } else {
            format!("2023-{:02}-{:02}", 1 + i % 12, 1 + i % 28)
        };
        let _ = writeln!(
            out,
            "{name},person,{email},{phone},imported;batch{},prospect,{created}",
            i % 10,
        );
    }
    out
}

fn import_csv(n: usize, file: &str) -> Duration {
    let path = fresh_db();
    let crm = Crm::new(SqliteStore::open(&path).expect("open"));
    let s = crm.as_actor(Actor::System);
    let options = ImportOptions::default().policy(ImportPolicy::SkipInvalid);
    let start = Instant::now();
    let report = s
        .import_customers(file.as_bytes(), &options)
        .expect("import");
    let took = start.elapsed();
    assert_eq!(report.valid_rows as usize, n, "{report}");
    drop(crm);
    remove_db(&path);
    took
}

fn batch_create(n: usize) -> Duration {
    let path = fresh_db();
    let crm = Crm::new(SqliteStore::open(&path).expect("open"));
    let s = crm.as_actor(Actor::System);
    let start = Instant::now();
    s.batch(|b| {
        for i in 0..n {
            let (name, email, phone) = person(i);
            let created: DateTime<Utc> =
                format!("2023-{:02}-{:02}T00:00:00Z", 1 + i % 12, 1 + i % 28)
                    .parse()
                    .expect("time");
            b.set_time(Some(created));
            b.create_customer(
                NewCustomer::person(name)
                    .email(email)
                    .phone(phone)
                    .tag("imported")
                    .tag(format!("batch{}", i % 10))
                    .lifecycle(Lifecycle::Prospect),
            )?;
        }
        Ok(())
    })
    .expect("batch");
    let took = start.elapsed();
    drop(crm);
    remove_db(&path);
    took
}

fn import_customers(c: &mut Criterion) {
    let n = rows();
    let file = csv(n, false);
    let sorted = csv(n, true);
    let mut group = c.benchmark_group("import_customers");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("csv_into_sqlite", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| import_csv(n, &file)).sum())
    });
    group.bench_function("csv_chronological_into_sqlite", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| import_csv(n, &sorted)).sum())
    });
    group.bench_function("batch_into_sqlite", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| batch_create(n)).sum())
    });
    group.finish();
}

/// The file as a German Excel writes it: `;` between cells (the list of
/// tags quoted), Windows-1252.
fn german(file: &str) -> Vec<u8> {
    let text: String = file
        .lines()
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let cells: Vec<String> = cells
                .iter()
                .map(|c| {
                    if c.contains(';') {
                        format!("\"{c}\"")
                    } else {
                        (*c).to_owned()
                    }
                })
                .collect();
            cells.join(";") + "\r\n"
        })
        .collect::<String>()
        .replacen("Ada", "Zoë", 1);
    encoding_rs::WINDOWS_1252.encode(&text).0.into_owned()
}

fn import_bytes(n: usize, file: &[u8]) -> Duration {
    let path = fresh_db();
    let crm = Crm::new(SqliteStore::open(&path).expect("open"));
    let s = crm.as_actor(Actor::System);
    let options = ImportOptions::default().policy(ImportPolicy::SkipInvalid);
    let start = Instant::now();
    let report = s.import_customers(file, &options).expect("import");
    let took = start.elapsed();
    assert_eq!(report.valid_rows as usize, n, "{report}");
    assert_eq!(
        report.format.delimiter,
        crm_core::import::Delimiter::Semicolon
    );
    drop(crm);
    remove_db(&path);
    took
}

fn reimport(n: usize, file: &str) -> Duration {
    let path = fresh_db();
    let crm = Crm::new(SqliteStore::open(&path).expect("open"));
    let s = crm.as_actor(Actor::System);
    let options = ImportOptions::default().policy(ImportPolicy::SkipInvalid);
    s.import_customers(file.as_bytes(), &options)
        .expect("import");
    let again = options.match_by(crm_core::import::MatchBy::Email);
    let start = Instant::now();
    let report = s
        .import_customers(file.as_bytes(), &again)
        .expect("reimport");
    let took = start.elapsed();
    assert_eq!(report.summary.unchanged as usize, n, "{report}");
    drop(crm);
    remove_db(&path);
    took
}

fn import_plans(c: &mut Criterion) {
    let n = rows();
    let file = csv(n, false);
    let german = german(&file);
    let mut group = c.benchmark_group("import_plans");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("windows1252_semicolons_into_sqlite", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| import_bytes(n, &german)).sum())
    });
    group.bench_function("reimport_matched_by_email", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| reimport(n, &file)).sum())
    });
    group.finish();
}

/// 100k customers in memory, 2 % of them entered again with a typo.
fn customers_with_duplicates(n: usize) -> Vec<Customer> {
    let crm = Crm::new(crm_store_memory::MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    s.batch(|b| {
        for i in 0..n {
            let (mut name, email, _) = person(i);
            if i % 50 == 49 {
                // A re-entered earlier person, one letter dropped.
                let (earlier, _, _) = person(i - 7);
                name = earlier.replacen('a', "", 1);
            }
            b.create_customer(NewCustomer::person(name).email(email))?;
        }
        Ok(())
    })
    .expect("customers");
    let mut q: CustomerQuery = CustomerQuery::new().limit(1000);
    q.filter = CustomerFilter::default();
    let mut all = Vec::new();
    loop {
        let page = s.customers(&q).expect("page");
        all.extend(page.items);
        match page.next {
            Some(c) => q.page.after = Some(c),
            None => return all,
        }
    }
}

fn duplicates(c: &mut Criterion) {
    let n = rows();
    let customers = customers_with_duplicates(n);
    let options = DuplicateOptions::default();
    let mut group = c.benchmark_group("duplicates");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("find_100k", |b| {
        b.iter(|| {
            let report = find_duplicates(&customers, &options);
            assert!(!report.candidates.is_empty());
            report
        })
    });
    group.finish();
}

criterion_group!(benches, import_customers, import_plans, duplicates);
criterion_main!(benches);
