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
//!   cost every call above includes;
//! - `segment_pushed/{admin,sales_rep}`: `Session::evaluate_expr` of
//!   `lifecycle = customer and open_deals >= 5`, which the SQLite store
//!   answers with one query (the rep's scope ANDed in as indexed owner
//!   lookups on customers and an owner test inside the per-customer deal
//!   subquery);
//! - `segment_mixed/{admin,sales_rep}`: `lifecycle = customer and
//!   won_amount(EUR) > 3000`: the attribute part in SQL (scoped the same
//!   way), `won_amount` in Rust over the won deals in scope (read with an
//!   indexed `owner IN (…)`).
//!
//! After the listing group the bench also runs both listings with admin
//! and rep calls alternated (2 000 rounds at full size) and prints the
//! fastest and the median time of each and their ratios: criterion
//! measures one function after the other, so a change of machine load
//! between them skews its ratio, while the alternated calls share it.
//!
//! The deals belong to `N / 10` customers (10 each, owned like their
//! customer, 3 of the 10 won for 1 250.50 EUR, the rest open); customer
//! lifecycles cycle so that a quarter are `customer`. Both segments match
//! those: the admin gets `N / 40` customers, the rep their team's
//! `N / 2000`.
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
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crm_core::segment::Expr;
use crm_core::{
    AccessRole, Actor, Crm, DealFilter, DealQuery, NewTeam, NewUser, PageRequest, PipelineDef,
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

/// How many customers hold the `n` deals: a tenth, a multiple of the 200
/// reps (so that a deal's owner is its customer's owner).
fn customers(n: usize) -> usize {
    (n / 10).div_ceil(TEAMS * PER_TEAM).max(1) * TEAMS * PER_TEAM
}

fn build(n: usize) -> Fixture {
    let path = crm_benches::fresh_db("access");
    let (admin, rep, pipeline) = {
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
        (admin.id, reps[PER_TEAM * 7].id, p.id)
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
    let c = customers(n);
    // Customer i: owned by rep i % 200, lifecycle by (i / 200) % 4 (so
    // every rep has customers in each lifecycle).
    conn.execute(
        "INSERT INTO customers (id, version, kind, name, organisation, roles, lifecycle, owner, \
         created_at, updated_at) \
         WITH RECURSIVE cnt(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM cnt WHERE x + 1 < ?1) \
         SELECT unhex(printf('0193%028x', x)), 1, 'organisation', 'Customer ' || x, NULL, 1, \
         CASE (x / 200) % 4 WHEN 0 THEN 'lead' WHEN 1 THEN 'prospect' WHEN 2 THEN 'customer' \
         ELSE 'churned' END, (SELECT id FROM reps WHERE n = x % 200), ?2 + x, ?2 + x FROM cnt",
        rusqlite::params![c as i64, t0],
    )
    .expect("customers");
    // Deal x: customer x % c, owner x % 200 (the customer's owner); the
    // customer's deals number x / c = 0..10, and numbers 0, 4, 8 are won.
    conn.execute(
        "INSERT INTO deals (id, version, title, customer_id, pipeline_id, stage, status, amount, \
         currency, expected_close_date, owner, won_at, lost_at, lost_reason, created_at, updated_at) \
         WITH RECURSIVE cnt(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM cnt WHERE x + 1 < ?1) \
         SELECT unhex(printf('0195%028x', x)), 1, 'Deal ' || x, \
         unhex(printf('0193%028x', x % ?2)), ?3, \
         CASE WHEN (x / ?2) % 4 = 0 THEN 'won' ELSE 'lead' END, \
         CASE WHEN (x / ?2) % 4 = 0 THEN 'won' ELSE 'open' END, '1250.50', \
         'EUR', NULL, (SELECT id FROM reps WHERE n = x % 200), \
         CASE WHEN (x / ?2) % 4 = 0 THEN ?4 + x END, NULL, NULL, ?4 + x, ?4 + x \
         FROM cnt",
        rusqlite::params![n as i64, c as i64, pipeline.as_uuid().into_bytes(), t0],
    )
    .expect("deals");
    conn.execute_batch(
        "INSERT INTO deal_stage_history (deal_id, position, from_stage, to_stage, at, by_user)
           SELECT id, 0, NULL, stage, created_at, NULL FROM deals;
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

    // The same listings with admin and rep calls alternated, so that a
    // change of machine load between criterion's measurements (which run
    // one after the other) hits both alike.
    let rounds = if n >= 1_000_000 { 2_000 } else { 20 };
    let first = DealQuery::new();
    let mut tenth = [DealQuery::new(), DealQuery::new()];
    for (q, (_, s)) in tenth.iter_mut().zip(&actors) {
        for _ in 0..9 {
            q.page.after = s.deals(q).expect("page").next;
        }
    }
    interleaved("list_first_page", rounds, |k| {
        actors[k].1.deals(&first).expect("list");
    });
    interleaved("list_page_10", rounds, |k| {
        actors[k].1.deals(&tenth[k]).expect("list");
    });

    // Segment evaluation: both segments match the `customer`-lifecycle
    // customers (each has 7 open deals and 3 won ones worth 3 751.50 EUR),
    // counted here by brute force over the fixture's layout.
    let nc = customers(n);
    let team: Vec<usize> = (7 * PER_TEAM..8 * PER_TEAM).collect();
    let expected = |rep_only: bool| {
        (0..nc)
            .filter(|i| !rep_only || team.contains(&(i % (TEAMS * PER_TEAM))))
            .filter(|i| (i / (TEAMS * PER_TEAM)) % 4 == 2)
            .filter(|i| {
                // Deals i, i + nc, i + 2 nc, … below n; the k-th is won
                // when k % 4 == 0 (1 250.50 EUR each).
                let (mut open, mut won) = (0u64, 0u64);
                for k in (0..).take_while(|k| i + k * nc < n) {
                    if k % 4 == 0 { won += 1 } else { open += 1 }
                }
                open >= 5 && won * 125_050 > 300_000
            })
            .count() as u64
    };
    let wants = [expected(false), expected(true)];
    let exprs: [(&str, Expr); 2] = [
        (
            "segment_pushed",
            "lifecycle = customer and open_deals >= 5"
                .parse()
                .expect("expr"),
        ),
        (
            "segment_mixed",
            "lifecycle = customer and won_amount(EUR) > 3000"
                .parse()
                .expect("expr"),
        ),
    ];
    let page = PageRequest {
        limit: 50,
        after: None,
    };
    let mut g = c.benchmark_group("access");
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    for (label, e) in &exprs {
        for ((name, s), want) in actors.iter().zip(wants) {
            let r = s.evaluate_expr(e, &page).expect("segment");
            assert_eq!(r.count, want, "{label} as {name}");
            g.bench_function(format!("{label}/{name}"), |b| {
                b.iter(|| s.evaluate_expr(e, &page).expect("segment"))
            });
        }
    }
    g.finish();
    drop(crm);
    if let Some(dir) = f.path.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Runs `call(0)` (the admin) and `call(1)` (the rep) alternately,
/// `rounds` times each, the one or the other first in turn, and prints
/// for each the fastest and the median time and the ratios. The fastest
/// call is the least disturbed by other processes on a loaded machine
/// (a preempted call takes a whole scheduler slice longer).
fn interleaved(label: &str, rounds: usize, call: impl Fn(usize)) {
    let mut times = [Vec::with_capacity(rounds), Vec::with_capacity(rounds)];
    for round in 0..rounds {
        for k in [round % 2, 1 - round % 2] {
            let start = Instant::now();
            call(k);
            times[k].push(start.elapsed());
        }
    }
    let [admin, rep] = times.map(|mut t| {
        t.sort();
        (t[0], t[t.len() / 2])
    });
    let ratio = |a: Duration, r: Duration| r.as_secs_f64() / a.as_secs_f64().max(f64::MIN_POSITIVE);
    println!(
        "access/{label} interleaved ({rounds} rounds): fastest admin {:?}, sales_rep {:?} \
         (ratio {:.2}); median admin {:?}, sales_rep {:?} (ratio {:.2})",
        admin.0,
        rep.0,
        ratio(admin.0, rep.0),
        admin.1,
        rep.1,
        ratio(admin.1, rep.1)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
