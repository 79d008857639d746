//! Scopes under random data, teams and actors, against a brute-force
//! evaluation of the access rule, record by record.

use super::*;

/// The built-in roles' scopes, written out by hand for the reference.
pub(super) fn ref_scope(role: AccessRole, resource: Resource, write: bool) -> Scope {
    use AccessRole as R;
    use Resource as X;
    use Scope::*;
    match (role, resource, write) {
        (R::Admin, _, _) | (R::SalesManager, _, _) => All,
        (R::ReadOnly, _, false) => All,
        (R::ReadOnly, _, true) => None,
        (R::SalesRep, X::Events, false) => Own,
        (R::SalesRep, _, false) => Team,
        (R::SalesRep, _, true) => Own,
        (R::Support, X::Events, false) => Own,
        (R::Support, _, false) => All,
        (R::Support, X::Customers, true) => All,
        (R::Support, X::Activities, true) => Own,
        (R::Support, _, true) => None,
    }
}

/// The rule, evaluated record by record: may `actor` reach a record owned
/// by `owner` of `resource`?
pub(super) fn ref_allows(
    actor: &User,
    users: &[User],
    teams: &[Team],
    resource: Resource,
    write: bool,
    owner: Option<UserId>,
) -> bool {
    let scope = actor
        .roles
        .iter()
        .map(|r| ref_scope(*r, resource, write))
        .max()
        .unwrap_or(Scope::None);
    let my_teams: Vec<TeamId> = teams
        .iter()
        .filter(|t| actor.teams.contains(&t.id) || t.manager == Some(actor.id))
        .map(|t| t.id)
        .collect();
    let mate = |o: UserId| {
        o == actor.id
            || users
                .iter()
                .any(|u| u.id == o && u.teams.iter().any(|t| my_teams.contains(t)))
    };
    match scope {
        Scope::All => true,
        Scope::Team => owner.is_some_and(mate),
        Scope::Own => owner == Some(actor.id),
        Scope::None => false,
    }
}

#[derive(Debug, Clone)]
pub(super) struct AccessPlan {
    pub(super) teams: usize,
    /// roles bit mask, team bit mask, active, manages team
    pub(super) users: Vec<(u8, u8, bool, Option<usize>)>,
    /// owner index (None: unowned)
    pub(super) customers: Vec<Option<usize>>,
    /// customer index, owner index, has amount
    pub(super) deals: Vec<(usize, Option<usize>, bool)>,
    /// owner index, customer index
    pub(super) activities: Vec<(Option<usize>, usize)>,
    /// acting user index (None: system), deal index
    pub(super) events: Vec<(Option<usize>, usize)>,
    pub(super) page: u32,
}

pub(super) fn access_plan() -> impl Strategy<Value = AccessPlan> {
    (1usize..4, 1usize..6).prop_flat_map(|(teams, n)| {
        let user = (
            0u8..32,
            0u8..8,
            proptest::bool::weighted(0.85),
            proptest::option::of(0..teams),
        );
        let owner = proptest::option::weighted(0.85, 0..n);
        (
            proptest::collection::vec(user, n),
            proptest::collection::vec(owner.clone(), 1..5),
            proptest::collection::vec((0usize..8, owner.clone(), any::<bool>()), 0..8),
            proptest::collection::vec((owner.clone(), 0usize..8), 0..5),
            proptest::collection::vec((proptest::option::of(0..n), 0usize..8), 0..5),
            1u32..6,
        )
            .prop_map(move |(users, customers, deals, activities, events, page)| {
                AccessPlan {
                    teams,
                    users,
                    customers,
                    deals,
                    activities,
                    events,
                    page,
                }
            })
    })
}

/// Builds the plan's data with the system actor and returns the new users.
pub(super) fn build_access_plan<S: Store>(
    crm: &Crm<S>,
    plan: &AccessPlan,
    case: u64,
) -> Vec<UserId> {
    let system = crm.as_actor(Actor::System);
    let teams: Vec<Team> = (0..plan.teams)
        .map(|i| {
            system
                .create_team(NewTeam::new(format!("team {i}")))
                .expect("team")
        })
        .collect();
    let mut users = Vec::new();
    for (i, (roles, tmask, _, _)) in plan.users.iter().enumerate() {
        let mut input = NewUser::new(format!("user {i}"), format!("c{case}u{i}@example.com"));
        for (bit, role) in AccessRole::ALL.into_iter().enumerate() {
            if roles & (1 << bit) != 0 {
                input = input.role(role);
            }
        }
        for (bit, t) in teams.iter().enumerate() {
            if tmask & (1 << bit) != 0 {
                input = input.team(t.id);
            }
        }
        users.push(system.create_user(input).expect("user"));
    }
    for (i, (_, _, _, manages)) in plan.users.iter().enumerate() {
        if let Some(t) = manages {
            let team = system.team(teams[*t].id).expect("team");
            system
                .set_team_manager(team.id, team.version, Some(users[i].id))
                .expect("manager");
        }
    }
    let owner = |o: &Option<usize>| o.map(|i| users[i].id);
    let p = system
        .create_pipeline(PipelineDef::sales_template("P"))
        .expect("pipeline");
    let customers: Vec<Customer> = plan
        .customers
        .iter()
        .map(|o| {
            let mut c = NewCustomer::organisation("Org").email("info@org.example");
            c.owner = owner(o);
            system.create_customer(c).expect("customer")
        })
        .collect();
    let mut deals = Vec::new();
    for (c, o, amount) in &plan.deals {
        let mut d = NewDeal::new(
            customers[c % customers.len()].id,
            p.id,
            format!("deal {}", deals.len() % 3),
        );
        d.owner = owner(o);
        if *amount {
            d = d.amount(Money::parse("10.00", "EUR").expect("money"));
        }
        deals.push(system.create_deal(d).expect("deal"));
    }
    for (o, c) in &plan.activities {
        let mut a = NewActivity::new(ActivityKind::Note, "note").body("secret");
        a.owner = owner(o);
        a.customer = Some(customers[c % customers.len()].id);
        system.log_activity(a).expect("activity");
    }
    // Deactivated last: an owner must be active when records are given to
    // them, and records keep an owner who was deactivated later.
    for (i, (_, _, active, _)) in plan.users.iter().enumerate() {
        if !active {
            system
                .deactivate_user(users[i].id, users[i].version)
                .expect("deactivate");
        }
    }
    if !deals.is_empty() {
        let mut tx = crm.store().write().expect("write");
        for (k, (actor, d)) in plan.events.iter().enumerate() {
            let deal = &deals[d % deals.len()];
            tx.append_event(NewEvent {
                id: EventId::from_uuid(uuid::Uuid::from_u128(
                    (u128::from(case) << 32) | (k as u128) | (1 << 100),
                )),
                at: t0(),
                actor: actor.map_or(Actor::System, |i| Actor::User(users[i].id)),
                entity: EntityRef {
                    kind: EntityKind::Deal,
                    id: deal.id.as_uuid(),
                },
                version: 1,
                kind: EventKind::Updated,
                changes: vec![
                    FieldChange {
                        field: "amount".into(),
                        old: serde_json::Value::Null,
                        new: serde_json::json!("5 EUR"),
                    },
                    FieldChange {
                        field: "title".into(),
                        old: serde_json::Value::Null,
                        new: serde_json::json!("t"),
                    },
                ],
            })
            .expect("event");
        }
        tx.commit().expect("commit");
    }
    users.into_iter().map(|u| u.id).collect()
}

/// Under random data, teams and actors, every read path returns exactly
/// the records and fields a brute-force evaluation of the rule allows,
/// record by record; every write outside the write scope is refused with
/// the right error and changes and appends nothing.
pub fn reads_under_random_actors_match_brute_force<S: Store>(store: S) {
    let (crm, _) = engine(store);
    // Records accumulate over the cases (one store), so each case costs more
    // than the last: at most 32 cases, whatever PROPTEST_CASES asks for.
    let mut runner = {
        let cases = runner(16).config().cases.min(32);
        TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        })
    };
    let case = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(&access_plan(), |plan| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let new_users = build_access_plan(&crm, &plan, n);
            // Users and teams (no write below changes them).
            let tx = crm.store().read().expect("read");
            let users = collect(|q| tx.users(q), UserQuery::new().limit(500));
            let teams = collect(|q| tx.teams(q), TeamQuery::new().limit(500));
            drop(tx);
            let page = plan.page;
            let mut actors: Vec<Option<&User>> = vec![None];
            actors.extend(
                new_users
                    .iter()
                    .map(|id| users.iter().find(|u| u.id == *id)),
            );
            for actor in actors {
                // The truth: everything stored, read without any scope
                // (again for each actor: the previous one's writes count).
                let tx = crm.store().read().expect("read");
                let customers = collect(|q| tx.customers(q), CustomerQuery::new().limit(500));
                let deals = collect(|q| tx.deals(q), DealQuery::new().limit(500));
                let activities = collect(|q| tx.activities(q), ActivityQuery::new().limit(500));
                let events = collect(|q| tx.events(q), EventQuery::new().limit(500));
                drop(tx);
                let (s, me) = match actor {
                    None => (crm.as_actor(Actor::System), None),
                    Some(u) => (crm.as_user(u.id), Some(u)),
                };
                if me.is_some_and(|u| !u.active) {
                    prop_assert!(
                        matches!(
                            s.deals(&DealQuery::new()),
                            Err(Error::ActorNotAllowed { .. })
                        ),
                        "a deactivated user reads nothing"
                    );
                    continue;
                }
                let allows = |r: Resource, owner: Option<UserId>| match me {
                    None => true,
                    Some(u) => ref_allows(u, &users, &teams, r, false, owner),
                };
                let may_write = |r: Resource, owner: Option<UserId>| match me {
                    None => true,
                    Some(u) => ref_allows(u, &users, &teams, r, true, owner),
                };
                let amount_hidden = me.is_some_and(|u| {
                    !u.roles.is_empty() && u.roles.iter().all(|r| *r == AccessRole::Support)
                });
                let who = format!("{:?}", me.map(|u| (&u.roles, &u.teams)));

                // Deals: listing (two orders), count, and every lookup by id.
                let want: Vec<Deal> = deals
                    .iter()
                    .filter(|d| allows(Resource::Deals, d.owner))
                    .map(|d| Deal {
                        amount: if amount_hidden { None } else { d.amount },
                        ..d.clone()
                    })
                    .collect();
                let got = collect(
                    |q| s.deals(q).map_err(to_store),
                    DealQuery::new().limit(page),
                );
                prop_assert_eq!(&got, &want, "deals listed by {}", who);
                let mut by_title = want.clone();
                by_title.sort_by(|a, b| (&b.title, b.id).cmp(&(&a.title, a.id)));
                let got = collect(
                    |q| s.deals(q).map_err(to_store),
                    DealQuery::new().order(DealOrder::Title).desc().limit(page),
                );
                prop_assert_eq!(&got, &by_title, "deals by title desc for {}", who);
                prop_assert_eq!(
                    s.count_deals(&DealFilter::default()).expect("count"),
                    want.len() as u64,
                    "deals counted by {}",
                    who
                );
                // Lookups by id: the newest records (older ones were looked up
                // in earlier cases, and the listings above cover them all).
                for d in deals.iter().rev().take(12) {
                    match s.deal(d.id) {
                        Ok(seen) => {
                            prop_assert!(
                                allows(Resource::Deals, d.owner),
                                "{} read an out-of-scope deal",
                                who
                            );
                            prop_assert_eq!(
                                seen.amount.is_none(),
                                amount_hidden || d.amount.is_none()
                            );
                        }
                        Err(Error::NotFound { .. }) => {
                            prop_assert!(
                                !allows(Resource::Deals, d.owner),
                                "{} lost an in-scope deal",
                                who
                            )
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("deal lookup: {e}"))),
                    }
                }
                // Customers and activities.
                let want: Vec<&Customer> = customers
                    .iter()
                    .filter(|c| allows(Resource::Customers, c.owner))
                    .collect();
                let got = collect(
                    |q| s.customers(q).map_err(to_store),
                    CustomerQuery::new().limit(page),
                );
                prop_assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    want.clone(),
                    "customers for {}",
                    who
                );
                prop_assert_eq!(
                    s.count_customers(&CustomerFilter::default())
                        .expect("count"),
                    want.len() as u64
                );
                for c in customers.iter().rev().take(8) {
                    prop_assert_eq!(
                        s.customer(c.id).is_ok(),
                        allows(Resource::Customers, c.owner)
                    );
                }
                let want: Vec<&Activity> = activities
                    .iter()
                    .filter(|a| allows(Resource::Activities, a.owner))
                    .collect();
                let got = collect(
                    |q| s.activities(q).map_err(to_store),
                    ActivityQuery::new().limit(page),
                );
                prop_assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    want,
                    "activities for {}",
                    who
                );
                for a in activities.iter().rev().take(8) {
                    prop_assert_eq!(
                        s.activity(a.id).is_ok(),
                        allows(Resource::Activities, a.owner)
                    );
                }
                // The event log, by acting user, with hidden changes removed.
                let want: Vec<Event> = events
                    .iter()
                    .filter(|e| allows(Resource::Events, e.actor.user()))
                    .map(|e| {
                        let mut e = e.clone();
                        if amount_hidden && e.entity.kind == EntityKind::Deal {
                            e.changes.retain(|c| c.field != "amount");
                        }
                        e
                    })
                    .collect();
                let got = collect(
                    |q| s.events(q).map_err(to_store),
                    EventQuery::new().limit(page),
                );
                prop_assert_eq!(&got, &want, "events for {}", who);

                // Writes outside the write scope: refused, nothing changes.
                // (On the newest records: earlier cases' ones were tried before.)
                let Some(me) = me else { continue };
                for d in deals.iter().rev().take(8) {
                    let before = (
                        last_seq(crm.store()),
                        crm.as_actor(Actor::System).deal(d.id).expect("deal"),
                    );
                    let result = s.update_deal(
                        d.id,
                        before.1.version,
                        DealPatch::default().title(format!("by {}", me.name)),
                    );
                    let readable = allows(Resource::Deals, d.owner);
                    let writable = may_write(Resource::Deals, d.owner);
                    match result {
                        Ok(_) => {
                            prop_assert!(readable && writable, "{} changed a deal it may not", who)
                        }
                        Err(e) => {
                            match (&e, readable) {
                                (Error::NotFound { .. }, false) => {}
                                (
                                    Error::PermissionDenied {
                                        resource: Resource::Deals,
                                        operation: Operation::Update,
                                        ..
                                    },
                                    true,
                                ) => {
                                    prop_assert!(!writable, "{} refused a write it may make", who)
                                }
                                _ => {
                                    return Err(TestCaseError::fail(format!(
                                        "unexpected refusal for {who}: {e}"
                                    )));
                                }
                            }
                            let after = (
                                last_seq(crm.store()),
                                crm.as_actor(Actor::System).deal(d.id).expect("deal"),
                            );
                            prop_assert_eq!(&before, &after, "a refused write changed something");
                        }
                    }
                }
                for c in customers.iter().rev().take(4) {
                    let before = (
                        last_seq(crm.store()),
                        crm.as_actor(Actor::System)
                            .customer(c.id)
                            .expect("customer"),
                    );
                    let result = s.update_customer(
                        c.id,
                        before.1.version,
                        CustomerPatch::default().name(format!("by {}", me.name)),
                    );
                    match result {
                        Ok(_) => prop_assert!(
                            allows(Resource::Customers, c.owner)
                                && may_write(Resource::Customers, c.owner)
                        ),
                        Err(Error::NotFound { .. }) => {
                            prop_assert!(!allows(Resource::Customers, c.owner))
                        }
                        Err(Error::PermissionDenied { .. }) => {
                            prop_assert!(!may_write(Resource::Customers, c.owner))
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("customer update: {e}"))),
                    }
                    if !may_write(Resource::Customers, c.owner) {
                        let after = (
                            last_seq(crm.store()),
                            crm.as_actor(Actor::System)
                                .customer(c.id)
                                .expect("customer"),
                        );
                        prop_assert_eq!(
                            &before,
                            &after,
                            "a refused customer write changed something"
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("access property failed: {e}"));
}
