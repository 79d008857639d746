//! Quickstart: a sales pipeline from first contact to won and lost deals.
//!
//! Defines a pipeline, records customers and deals, moves the deals through
//! their stages (including moves the engine refuses, with the errors it
//! gives), wins one and loses one, logs activities, and prints each deal's
//! history and the audit log.
//!
//! Run it with `cargo run --example quickstart [PATH]`. The CRM is kept in
//! one SQLite file: `crm-quickstart.db` in the current directory by default
//! (recreated on every run), or `PATH` (which must not already hold a CRM),
//! or `:memory:` for an in-memory SQLite database.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use crm_core::{
    AccessRole, ActivityKind, Actor, Crm, CustomerPatch, DealPatch, Direction, Event, EventQuery,
    Lifecycle, ManualClock, Money, NewActivity, NewCustomer, NewDeal, NewUser, PipelineDef,
    StageDef, StageGuard, Store,
};
use crm_store_sqlite::SqliteStore;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Where the CRM lives when no path is given.
const DEFAULT_PATH: &str = "crm-quickstart.db";

fn main() -> std::process::ExitCode {
    match quickstart() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn quickstart() -> Res<()> {
    let path = match std::env::args_os().nth(1) {
        Some(arg) => PathBuf::from(arg),
        None => {
            // The default file is the quickstart's own: start it afresh.
            remove_database(Path::new(DEFAULT_PATH))?;
            PathBuf::from(DEFAULT_PATH)
        }
    };
    let in_memory = path == Path::new(":memory:");
    // The story spans three weeks; a manual clock makes the dates readable
    // and the output the same on every run. Real programs keep the default
    // system clock (`Crm::new(store)`).
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 3, 9, 0, 0)
            .single()
            .ok_or("bad date")?,
    ));
    let crm = Crm::new(SqliteStore::open(&path)?).with_clock(clock.clone());
    if !in_memory {
        let existing = crm
            .as_actor(Actor::System)
            .count_customers(&Default::default())?;
        if existing > 0 {
            return Err(format!(
                "{} already holds a CRM with {existing} customers; give the quickstart a new path, or none to use {DEFAULT_PATH}",
                path.display()
            )
            .into());
        }
    }
    match in_memory {
        true => println!("Store: SQLite in memory (nothing is written to disk)\n"),
        false => println!("Store: SQLite file {}\n", display_path(&path)),
    }

    run(crm, &clock)?;

    if !in_memory {
        // Everything was committed as it happened: reopen the file and count.
        let reopened = Crm::new(SqliteStore::open(&path)?);
        let s = reopened.as_actor(Actor::System);
        println!(
            "\nReopened {}: {} customers, {} deals, {} events. Inspect it with any SQLite tool, e.g. sqlite3 {} 'SELECT * FROM deals'",
            display_path(&path),
            s.count_customers(&Default::default())?,
            s.count_deals(&Default::default())?,
            s.events(&EventQuery::new().limit(1000))?.items.len(),
            path.display(),
        );
    }
    Ok(())
}

/// Deletes an SQLite database and its write-ahead-log files, if present.
fn remove_database(path: &Path) -> Res<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", file.display()).into()),
        }
    }
    Ok(())
}

/// The path as the user can find it: absolute where it can be resolved.
fn display_path(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

fn run<S: Store>(crm: Crm<S>, clock: &ManualClock) -> Res<()> {
    // Every call says who acts; here a sales rep, and the system for setup.
    // Maria is a stored user acting with the sales_rep role: she may change
    // the records she owns (new ones are hers) and read her team's.
    let system = crm.as_actor(Actor::System);
    let maria = system
        .create_user(NewUser::new("Maria Rossi", "maria@example.com").role(AccessRole::SalesRep))?
        .id;
    let rep = crm.as_user(maria);

    // 1. A pipeline: stages with win probabilities and entry guards.
    let pipeline = system.create_pipeline(
        PipelineDef::new("New business")
            .stage(StageDef::open("lead", "Lead", 10))
            .stage(StageDef::open("qualified", "Qualified", 30))
            .stage(
                StageDef::open("proposal", "Proposal sent", 60)
                    .guard(StageGuard::RequiresAmount)
                    .guard(StageGuard::RequiresExpectedCloseDate),
            )
            .stage(StageDef::open("negotiation", "Negotiation", 80))
            .stage(StageDef::won("won", "Won"))
            .stage(StageDef::lost("lost", "Lost").guard(StageGuard::RequiresLostReason)),
    )?;
    println!("Pipeline '{}':", pipeline.name);
    for s in &pipeline.stages {
        let guards: Vec<&str> = s.guards.iter().map(|g| g.as_str()).collect();
        println!(
            "  {:<12} {:<14} {:>3} %  {:<5} {}",
            s.key,
            s.name,
            s.probability,
            s.kind,
            guards.join(", ")
        );
    }

    // 2. Customers: an organisation, a person working there, and a lead.
    let acme = rep.create_customer(
        NewCustomer::organisation("ACME Robotics GmbH")
            .tag("Manufacturing")
            .owner(maria),
    )?;
    let ada = rep.create_customer(
        NewCustomer::person("Ada Byron")
            .works_at(acme.id)
            .email("  Ada.Byron@ACME-robotics.example ")
            .phone("0049 (30) 1234-5678"),
    )?;
    let globex = rep
        .create_customer(NewCustomer::organisation("Globex Ltd").lifecycle(Lifecycle::Prospect))?;
    println!("\nCustomers:");
    for c in [&acme, &ada, &globex] {
        let contact = c.emails.first().map(|e| e.to_string()).unwrap_or_default();
        println!(
            "  {:<20} {:<13} {:<9} {:<32} {}",
            c.name,
            format!("{:?}", c.kind).to_lowercase(),
            c.lifecycle,
            contact,
            c.phones.first().map(|p| p.to_string()).unwrap_or_default()
        );
    }

    // Bad input gets a typed error that names the field and the reason.
    let refused = rep.create_customer(NewCustomer::person("Bob").email("bob@example"));
    println!(
        "\nRefused: {}",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    );

    // 3. Deals start in the first open stage.
    let robots =
        rep.create_deal(NewDeal::new(acme.id, pipeline.id, "12 welding robots").owner(maria))?;
    let support =
        rep.create_deal(NewDeal::new(globex.id, pipeline.id, "Support contract").owner(maria))?;

    // 4. Move them. The pipeline refuses what its rules forbid.
    clock.advance(Duration::days(2));
    let robots = rep.move_deal(robots.id, robots.version, "qualified")?;
    rep.log_activity(
        NewActivity::new(ActivityKind::Call, "Discovery call with Ada")
            .deal(robots.id)
            .direction(Direction::Outbound)
            .owner(maria),
    )?;
    clock.advance(Duration::days(1));
    match rep.move_deal(robots.id, robots.version, "proposal") {
        Err(e) => println!("Refused: {e}"),
        Ok(_) => return Err("the guard should have refused this move".into()),
    }
    let robots = rep.update_deal(
        robots.id,
        robots.version,
        DealPatch::default()
            .amount(Some(Money::parse("480000.00", "EUR")?))
            .expected_close_date(NaiveDate::from_ymd_opt(2025, 3, 31)),
    )?;
    let robots = rep.move_deal(robots.id, robots.version, "proposal")?;
    let follow_up = rep.log_activity(
        NewActivity::task(
            "Follow up on the proposal",
            clock_now(clock) + Duration::days(5),
        )
        .deal(robots.id)
        .owner(maria),
    )?;

    // Someone else's stale copy is refused instead of overwriting a newer change.
    let stale = rep.update_deal(
        robots.id,
        robots.version - 1,
        DealPatch::default().title("Old title"),
    );
    println!(
        "Refused: {}",
        stale.err().map(|e| e.to_string()).unwrap_or_default()
    );

    clock.advance(Duration::days(5));
    rep.complete_task(follow_up.id, follow_up.version)?;
    let robots = rep.move_deal(robots.id, robots.version, "negotiation")?;
    clock.advance(Duration::days(7));
    let robots = rep.win_deal(robots.id, robots.version)?;
    rep.update_customer(
        acme.id,
        acme.version,
        CustomerPatch::default().lifecycle(Lifecycle::Customer),
    )?;

    // Losing needs a reason in this pipeline.
    match rep.lose_deal(support.id, support.version, "") {
        Err(e) => println!("Refused: {e}"),
        Ok(_) => return Err("the guard should have refused this move".into()),
    }
    let support = rep.lose_deal(support.id, support.version, "Chose a cheaper vendor")?;

    // A won deal cannot go back to a lead stage unless the pipeline allows reopening.
    match rep.move_deal(robots.id, robots.version, "lead") {
        Err(e) => println!("Refused: {e}"),
        Ok(_) => return Err("a won deal should not reopen".into()),
    }

    // 5. Each deal's history, and the audit log.
    for deal in [&robots, &support] {
        let amount = deal
            .amount
            .map(|m| m.to_string())
            .unwrap_or_else(|| "-".into());
        println!("\nDeal '{}' ({}, {amount}):", deal.title, deal.status);
        for change in &deal.history {
            let from = change.from.as_ref().map(|k| k.as_str()).unwrap_or("(new)");
            println!(
                "  {}  {:<12} -> {:<12} by {}",
                fmt_time(change.at),
                from,
                change.to.as_str(),
                who(change.by)
            );
        }
        if let Some(reason) = &deal.lost_reason {
            println!("  lost because: {reason}");
        }
    }

    println!("\nAudit log:");
    let mut query = EventQuery::new().limit(100);
    loop {
        let page = system.events(&query)?;
        for e in &page.items {
            println!("{}", describe(e));
        }
        match page.next {
            Some(cursor) => query = query.after(Some(cursor)),
            None => break,
        }
    }
    Ok(())
}

/// One audit-log line: sequence, time, who, which record and version, what changed.
fn describe(e: &Event) -> String {
    let fields: Vec<String> = e
        .changes
        .iter()
        .filter(|c| !c.new.is_array())
        .map(|c| {
            if c.old.is_null() {
                format!("{}={}", c.field, value(&c.new))
            } else {
                format!("{}: {} -> {}", c.field, value(&c.old), value(&c.new))
            }
        })
        .collect();
    format!(
        "  #{:<3} {}  {:<6} {:<8} {:<9} v{:<2} {:<13} {}",
        e.seq,
        fmt_time(e.at),
        who(e.actor),
        e.entity.kind,
        short(&e.entity.id.to_string()),
        e.version,
        e.kind,
        fields.join(", ")
    )
}

/// A changed value as a person reads it: money as "480000.00 EUR", ids shortened.
fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) if uuid::Uuid::parse_str(s).is_ok() => short(s),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => match (o.get("amount"), o.get("currency")) {
            (Some(a), Some(c)) => format!(
                "{} {}",
                a.as_str().unwrap_or_default(),
                c.as_str().unwrap_or_default()
            ),
            _ => v.to_string(),
        },
        other => other.to_string(),
    }
}

fn who(actor: Actor) -> &'static str {
    match actor {
        Actor::System => "system",
        Actor::User(_) => "maria",
    }
}

fn short(id: &str) -> String {
    format!("…{}", &id[id.len().saturating_sub(6)..])
}

fn fmt_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    crm_core::Clock::now(clock)
}
