//! Access control: what a sales rep's scope costs compared with an admin.
//!
//! One SQLite file holds `N` deals (1 000 000 under `cargo bench`) owned by
//! 200 sales reps in 50 teams of 4; each rep therefore sees their team's
//! 4 × N/200 deals. Measured in the same run, over the same database:
//!
//! - `list_first_page/{admin,sales_rep}`: `Session::deals` with the default
//!   query (50 deals by creation time, stage history included);
//! - `list_page_10/{admin,sales_rep}`: the tenth page of 50, reached with
//!   the cursor of the ninth (cursor pagination under a scope);
//! - `count/{admin,sales_rep}`: `Session::count_deals` over all deals the
//!   actor may read;
//! - `resolve_access/{admin,sales_rep}`: `Session::permissions`, i.e. a read
//!   transaction that only resolves the actor's roles and teams: the fixed
//!   cost every call above includes.
//!
//! Every call includes what the facade does per call: a read transaction,
//! resolving the actor's roles and teams (for the rep: the user, the teams
//! they manage, the members of their team), and ANDing the scope into the
//! query, which the store answers with one `(owner, created_at, id)` index
//! range per team member.
//!
//! Setup: teams, users and the pipeline go through the facade; the `N`
//! deals (with their first stage-history row) are written with one
//! `INSERT … SELECT` each, on the store's own schema, because creating a
//! million deals through the facade takes longer than the measurement.
//!
//! `cargo bench -p crm-benches --bench access` runs the full size;
//! `cargo test --benches` runs each once on 50 000 deals as a smoke test.
//! `CRM_BENCH_ACCESS_N` overrides the number of deals.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use crm_core::{
    AccessRole, Actor, Crm, DealFilter, DealQuery, NewCustomer, NewTeam, NewUser, PipelineDef,
    UserId,
};
use crm_store_sqlite::SqliteStore;

const TEAMS: usize = 50;
const PER_TEAM: usize = 4;

fn deals() -> usize {
    if let Some(n) = std::env::var("CRM_BENCH_ACCESS_N")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        50_000
    }
}

struct Fixture {
    path: PathBuf,
    admin: UserId,
    rep: UserId,
}

fn build(n: usize) -> Fixture {
    let dir = std::env::temp_dir().join(format!("crm-bench-access-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench dir");
    let path = dir.join("access.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let (admin, rep, pipeline, customer) = {
        let crm = Crm::new(SqliteStore::open(&path).expect("open"));
        let s = crm.as_actor(Actor::System);
        let admin = s
            .create_user(NewUser::new("Admin", "admin@example.com").role(AccessRole::Admin))
            .expect("admin");
        let mut reps = Vec::new();
        for t in 0..TEAMS {
            let team = s
                .create_team(NewTeam::new(format!("Team {t}")))
                .expect("team");
            for m in 0..PER_TEAM {
                reps.push(
                    s.create_user(
                        NewUser::new(format!("Rep {t}.{m}"), format!("rep{t}.{m}@example.com"))
                            .role(AccessRole::SalesRep)
                            .team(team.id),
                    )
                    .expect("rep"),
                );
            }
        }
        let p = s
            .create_pipeline(PipelineDef::sales_template("Sales"))
            .expect("pipeline");
        let c = s
            .create_customer(NewCustomer::organisation("ACME"))
            .expect("customer");
        (admin.id, reps[PER_TEAM * 7].id, p.id, c.id)
    };
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute_batch(
        "PRAGMA synchronous = OFF;
         CREATE TEMP TABLE reps AS
           SELECT row_number() OVER (ORDER BY created_at, id) - 1 AS n, id
           FROM users WHERE id IN (SELECT user_id FROM user_roles WHERE role = 'sales_rep');",
    )
    .expect("reps");
    let t0 = 1_735_689_600_000i64;
    conn.execute(
        "INSERT INTO deals (id, version, title, customer_id, pipeline_id, stage, status, amount, \
         currency, expected_close_date, owner, won_at, lost_at, lost_reason, created_at, updated_at) \
         WITH RECURSIVE cnt(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM cnt WHERE x + 1 < ?1) \
         SELECT unhex(printf('0195%028x', x)), 1, 'Deal ' || x, ?2, ?3, 'lead', 'open', '1250.50', \
         'EUR', NULL, (SELECT id FROM reps WHERE n = x % 200), NULL, NULL, NULL, ?4 + x, ?4 + x \
         FROM cnt",
        rusqlite::params![
            n as i64,
            customer.as_uuid().into_bytes(),
            pipeline.as_uuid().into_bytes(),
            t0
        ],
    )
    .expect("deals");
    conn.execute_batch(
        "INSERT INTO deal_stage_history (deal_id, position, from_stage, to_stage, at, by_user)
           SELECT id, 0, NULL, 'lead', created_at, NULL FROM deals;
         ANALYZE;",
    )
    .expect("history");
    Fixture { path, admin, rep }
}

fn bench(c: &mut Criterion) {
    let n = deals();
    let f = build(n);
    let crm = Crm::new(SqliteStore::open(&f.path).expect("open"));
    let actors = [
        ("admin", crm.as_user(f.admin)),
        ("sales_rep", crm.as_user(f.rep)),
    ];
    // The rep sees their team's share, the admin everything.
    let team_share = (n / (TEAMS * PER_TEAM)) * PER_TEAM;
    let rep_count = actors[1]
        .1
        .count_deals(&DealFilter::default())
        .expect("count");
    assert!(rep_count >= team_share as u64 && rep_count <= (team_share + PER_TEAM) as u64);
    assert_eq!(
        actors[0]
            .1
            .count_deals(&DealFilter::default())
            .expect("count"),
        n as u64
    );

    let visible = [n as u64, rep_count];
    // How many deals page `k` (from 0) of 50 holds for an actor seeing `v`.
    let page_len = |v: u64, k: u64| v.saturating_sub(50 * k).min(50) as usize;

    let mut g = c.benchmark_group("access");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    for ((name, s), v) in actors.iter().zip(visible) {
        g.bench_function(format!("list_first_page/{name}"), |b| {
            b.iter(|| {
                let page = s.deals(&DealQuery::new()).expect("list");
                assert_eq!(page.items.len(), page_len(v, 0));
                page
            })
        });
    }
    for ((name, s), v) in actors.iter().zip(visible) {
        let mut q = DealQuery::new();
        for _ in 0..9 {
            q.page.after = s.deals(&q).expect("page").next;
        }
        g.bench_function(format!("list_page_10/{name}"), |b| {
            b.iter(|| {
                let page = s.deals(&q).expect("list");
                assert_eq!(page.items.len(), page_len(v, 9));
                page
            })
        });
    }
    for (name, s) in &actors {
        g.bench_function(format!("resolve_access/{name}"), |b| {
            b.iter(|| s.permissions().expect("permissions"))
        });
    }
    for (name, s) in &actors {
        g.bench_function(format!("count/{name}"), |b| {
            b.iter(|| s.count_deals(&DealFilter::default()).expect("count"))
        });
    }
    g.finish();
    drop(crm);
    if let Some(dir) = f.path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
