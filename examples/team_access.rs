//! Team access: two sales reps in different teams and their manager share
//! one SQLite database, and each sees a different set of deals.
//!
//! - Rita (sales_rep, team North) sees North's deals;
//! - Sven (sales_rep, team South) sees South's deals;
//! - Mona (sales_manager) sees every deal;
//! - Sam (support) sees every deal, without amounts;
//! - the same segment evaluated by each counts only the customers (and
//!   deals) that user may read, and Sam may not segment by revenue;
//! - Sven's attempt to edit one of North's deals is refused, and the
//!   engine's message is printed.
//!
//! Run it with `cargo run --example team_access`.

use crm_core::{
    AccessRole, Actor, Crm, DealPatch, DealQuery, Error, Money, NewCustomer, NewDeal, NewTeam,
    NewUser, PipelineDef, Store, UserId,
};
use crm_store_sqlite::SqliteStore;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    // A scratch directory of its own, deleted when `dir` is dropped.
    let dir = tempfile::Builder::new()
        .prefix("crm-team-access-")
        .tempdir()?;
    let path = dir.path().join("crm.db");
    println!("Store: SQLite file {}\n", path.display());
    run(Crm::new(SqliteStore::open(&path)?))
}

fn run<S: Store>(crm: Crm<S>) -> Res<()> {
    // Setup is the system's job: teams, users and their roles.
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North"))?;
    let south = system.create_team(NewTeam::new("South"))?;
    let user = |name: &str, email: &str, role: AccessRole| {
        system.create_user(NewUser::new(name, email).role(role))
    };
    let rita = user("Rita", "rita@example.com", AccessRole::SalesRep)?;
    let sven = user("Sven", "sven@example.com", AccessRole::SalesRep)?;
    let mona = user("Mona", "mona@example.com", AccessRole::SalesManager)?;
    let sam = user("Sam", "sam@example.com", AccessRole::Support)?;
    system.add_team_member(north.id, rita.id)?;
    system.add_team_member(south.id, sven.id)?;
    let north = system.set_team_manager(north.id, north.version, Some(mona.id))?;
    let pipeline = system.create_pipeline(PipelineDef::sales_template("Sales"))?;
    println!(
        "Teams: North (Rita, managed by {}), South (Sven)",
        name_of(&[&rita, &sven, &mona], north.manager)
    );

    // Each rep records deals; what a user creates is theirs.
    let eur = |s: &str| Money::parse(s, "EUR");
    let as_rita = crm.as_user(rita.id);
    let acme = as_rita.create_customer(NewCustomer::organisation("ACME GmbH"))?;
    let robots = as_rita.create_deal(
        NewDeal::new(acme.id, pipeline.id, "12 welding robots").amount(eur("480000")?),
    )?;
    as_rita.create_deal(NewDeal::new(acme.id, pipeline.id, "Spare parts").amount(eur("12500")?))?;
    let as_sven = crm.as_user(sven.id);
    let globex = as_sven.create_customer(NewCustomer::organisation("Globex Ltd"))?;
    as_sven.create_deal(
        NewDeal::new(globex.id, pipeline.id, "Support contract").amount(eur("36000")?),
    )?;

    // Everyone lists "all deals"; the engine answers with what each may see.
    println!();
    let people = [&rita, &sven, &mona, &sam];
    for who in people {
        let roles: Vec<&str> = who.roles.iter().map(|r| r.as_str()).collect();
        let deals = crm.as_user(who.id).deals(&DealQuery::new())?.items;
        println!(
            "{} ({}) sees {} deal(s):",
            who.name,
            roles.join(", "),
            deals.len()
        );
        for d in deals {
            let amount = d
                .amount
                .map(|m| m.to_string())
                .unwrap_or_else(|| "amount hidden".into());
            println!(
                "  {:<20} {:>16}  owner {}",
                d.title,
                amount,
                name_of(&people, d.owner)
            );
        }
    }

    // Segments count what each user may read: the customers in their scope,
    // and of those customers' deals only the deals in their scope.
    println!();
    let with_open_deals: crm_core::segment::Expr = "open_deals >= 1".parse()?;
    let page = crm_core::PageRequest::default();
    for who in people {
        let r = crm.as_user(who.id).evaluate_expr(&with_open_deals, &page)?;
        let names: Vec<String> = r
            .page
            .items
            .iter()
            .map(|id| Ok(system.customer(*id)?.name))
            .collect::<Res<_>>()?;
        println!(
            "{} evaluates '{with_open_deals}': {} customer(s) {names:?}",
            who.name, r.count
        );
    }
    let big_spenders: crm_core::segment::Expr = "won_amount(EUR) > 10000".parse()?;
    match crm.as_user(sam.id).evaluate_expr(&big_spenders, &page) {
        Err(e @ Error::FieldHidden { .. }) => {
            println!("Sam evaluates '{big_spenders}': refused:\n  {e}")
        }
        other => return Err(format!("expected a hidden-field refusal, got {other:?}").into()),
    }

    // Sven may read only South's deals: North's deal does not exist for him...
    println!();
    match as_sven.deal(robots.id) {
        Err(Error::NotFound { .. }) => {
            println!("Sven looks up Rita's deal by id: not found (its existence does not leak)")
        }
        other => return Err(format!("expected not found, got {other:?}").into()),
    }
    // ...and a team mate of Rita's may read it but not change it: the
    // system adds Sven to North, so he can read it, and he tries.
    system.add_team_member(north.id, sven.id)?;
    let seen = as_sven.deal(robots.id)?;
    let log_size = |s: &crm_core::Session<'_, S>| -> Res<usize> {
        Ok(s.events(&crm_core::EventQuery::new().limit(1000))?
            .items
            .len())
    };
    let events_before = log_size(&system)?;
    println!("Sven joins North and can now read '{}'", seen.title);
    match as_sven.update_deal(
        seen.id,
        seen.version,
        DealPatch::default().title("Mine now"),
    ) {
        Err(e @ Error::PermissionDenied { .. }) => println!("Sven edits it: refused:\n  {e}"),
        other => return Err(format!("expected a refusal, got {other:?}").into()),
    }
    let unchanged = crm.as_user(mona.id).deal(robots.id)?;
    let events_after = log_size(&system)?;
    println!(
        "The deal is unchanged (version {}, title '{}'); audit log: {events_before} events before the attempt, {events_after} after.",
        unchanged.version, unchanged.title
    );
    if unchanged != seen || events_after != events_before {
        return Err("a refused write changed something".into());
    }
    Ok(())
}

fn name_of(people: &[&crm_core::User], id: Option<UserId>) -> String {
    people
        .iter()
        .find(|p| Some(p.id) == id)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "-".into())
}
