//! What every fuzz target shares: a small, fully deterministic engine
//! (memory store, fixed clock, sequential ids) seeded with a little of
//! everything, and the two assertions every call must satisfy:
//!
//! - a call that fails leaves the store byte for byte as it was (a backup
//!   taken before equals one taken after);
//! - a call that succeeds leaves a store that `verify` finds consistent.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use crm_core::import::{ColumnMap, ImportOptions, ImportPolicy};
use crm_core::{
    AccessRole, Actor, Crm, ManualClock, Money, NewActivity, NewDeal, NewTeam, NewUser,
    PipelineDef, SequentialIds, Store,
};
use crm_store_memory::MemoryStore;

/// The engine the C ABI dispatches to (a boxed store), over memory.
pub type Engine = Crm<Box<dyn Store>>;

/// The repo's example customers, imported into every fixture.
pub const CUSTOMERS_CSV: &str = include_str!("../../examples/data/customers.csv");

/// 2025-01-01T00:00:00Z: the fixed clock's time.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default()
}

/// An empty deterministic engine.
pub fn empty() -> Engine {
    let store: Box<dyn Store> = Box::new(MemoryStore::new());
    Crm::new(store)
        .with_clock(Arc::new(ManualClock::new(t0())))
        .with_ids(SequentialIds::new(1))
}

/// The column names of the repo's example customer file.
pub fn customer_columns() -> ColumnMap {
    ColumnMap::new()
        .column("kind", "Type")
        .column("organisation", "Company")
        .column("lifecycle", "Status")
        .column("created_at", "Customer since")
}

/// The column names of the repo's example deal file.
pub fn deal_columns() -> ColumnMap {
    ColumnMap::new()
        .column("title", "Deal")
        .column("expected_close_date", "Close by")
        .column("created_at", "Opened")
        .column("won_at", "Won on")
        .column("lost_at", "Lost on")
        .column("lost_reason", "Why lost")
}

/// A seeded engine and the ids a fuzzed request may refer to, as
/// placeholders (see [`Fixture::expand`]).
pub struct Fixture {
    /// The engine.
    pub crm: Engine,
    /// `(placeholder, id)` pairs: `$C0`…`$C9` customers, `$D0` a deal,
    /// `$A0` an activity, `$P0` the pipeline, `$U0` a sales rep, `$T0`
    /// their team, `$S0` a saved segment.
    pub ids: Vec<(String, String)>,
}

impl Fixture {
    /// A team, a sales rep, the sales pipeline, the example customers, a
    /// deal in `proposal`, a task on it and a saved segment.
    pub fn new() -> Fixture {
        let crm = empty();
        let mut ids = Vec::new();
        {
            let s = crm.as_actor(Actor::System);
            let team = s.create_team(NewTeam::new("North")).expect("team");
            let rep = s
                .create_user(
                    NewUser::new("Maria", "maria@example.com")
                        .role(AccessRole::SalesRep)
                        .team(team.id),
                )
                .expect("user");
            let p = s
                .create_pipeline(PipelineDef::sales_template("Sales"))
                .expect("pipeline");
            s.import_customers(
                CUSTOMERS_CSV.as_bytes(),
                &ImportOptions::default()
                    .policy(ImportPolicy::SkipInvalid)
                    .columns(customer_columns()),
            )
            .expect("customers");
            let customers = s.customers(&Default::default()).expect("list").items;
            let first = customers.first().expect("a customer");
            let deal = s
                .create_deal(
                    NewDeal::new(first.id, p.id, "Robots")
                        .amount(Money::parse("48000.10", "EUR").expect("money"))
                        .owner(rep.id)
                        .expected_close_date(
                            chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default(),
                        ),
                )
                .expect("deal");
            let deal = s
                .move_deal(deal.id, deal.version, "proposal")
                .expect("move");
            let task = s
                .log_activity(NewActivity::task("Call back", t0()).deal(deal.id))
                .expect("task");
            let seg = s
                .create_segment("VIPs", "tag:vip".parse().expect("expression"))
                .expect("segment");
            for (i, c) in customers.iter().take(10).enumerate() {
                ids.push((format!("$C{i}"), c.id.to_string()));
            }
            ids.push(("$D0".into(), deal.id.to_string()));
            ids.push(("$A0".into(), task.id.to_string()));
            ids.push(("$P0".into(), p.id.to_string()));
            ids.push(("$U0".into(), rep.id.to_string()));
            ids.push(("$T0".into(), team.id.to_string()));
            ids.push(("$S0".into(), seg.id.to_string()));
        }
        Fixture { crm, ids }
    }

    /// `text` with every placeholder replaced by its id.
    pub fn expand(&self, text: &str) -> String {
        let mut out = text.to_owned();
        // Longest first would matter for `$C1` vs `$C10`; there are at most ten.
        for (k, v) in &self.ids {
            out = out.replace(k.as_str(), v);
        }
        out
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// A full backup of `crm`'s store (taken as the system).
pub fn snapshot(crm: &Engine) -> Vec<u8> {
    let mut out = Vec::new();
    crm.as_actor(Actor::System)
        .backup(&mut out)
        .expect("a backup of a healthy store");
    out
}

/// Panics unless `crm`'s store verifies clean.
pub fn assert_consistent(crm: &Engine, after: &str) {
    let findings = crm.as_actor(Actor::System).verify().expect("verify");
    assert!(
        findings.is_empty(),
        "after {after}, verify found: {}",
        findings
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    );
}

/// The two assertions: a failed call changed nothing (`before` is a
/// [`snapshot`] from before the call), a successful one left a
/// consistent store.
pub fn assert_outcome<T, E: std::fmt::Debug>(
    crm: &Engine,
    before: &[u8],
    result: &Result<T, E>,
    what: &str,
) {
    match result {
        Ok(_) => assert_consistent(crm, what),
        Err(e) => assert!(
            snapshot(crm) == before,
            "{what} failed ({e:?}) but changed the store"
        ),
    }
}
