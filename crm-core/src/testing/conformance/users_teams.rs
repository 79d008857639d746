//! Users and teams: round trips, owner-scoped listings, and who may
//! administer what.

use super::*;

pub(super) fn sample_user(id: u128, name: &str, teams: &[u128], at: DateTime<Utc>) -> User {
    User {
        id: UserId::from_uuid(uuid::Uuid::from_u128(id)),
        version: 1,
        name: name.to_owned(),
        email: Email::parse(&format!("u{id}@example.com")).expect("email"),
        active: true,
        roles: [AccessRole::SalesRep].into(),
        teams: teams
            .iter()
            .map(|t| TeamId::from_uuid(uuid::Uuid::from_u128(*t)))
            .collect(),
        created_at: at,
        updated_at: at,
    }
}

/// Users and teams read back equal, update by compare-and-set, roll back
/// with their transaction, and list like the reference pagination.
pub fn users_and_teams_round_trip_and_list<S: Store>(store: S) {
    let team = |id: u128, name: &str, manager: Option<u128>| Team {
        id: TeamId::from_uuid(uuid::Uuid::from_u128(id)),
        version: 1,
        name: name.to_owned(),
        manager: manager.map(|m| UserId::from_uuid(uuid::Uuid::from_u128(m))),
        created_at: t0(),
        updated_at: t0(),
    };
    let teams = vec![
        team(900, "North", Some(1)),
        team(901, "South", None),
        team(902, "East", Some(1)),
    ];
    let mut users: Vec<User> = (1..=9u128)
        .map(|i| {
            let ts: Vec<u128> = [900, 901, 902]
                .into_iter()
                .filter(|t| (i + t) % 3 != 0)
                .collect();
            sample_user(
                i,
                &format!("user {}", 10 - i),
                &ts,
                t0() + Duration::seconds((i % 4) as i64),
            )
        })
        .collect();
    users[3].active = false;
    users[4].roles = [AccessRole::Admin, AccessRole::Support].into();
    users[5].roles.clear();
    {
        let mut tx = store.write().expect("write");
        for t in &teams {
            tx.insert_team(t).expect("insert team");
        }
        for u in &users {
            tx.insert_user(u).expect("insert user");
        }
        assert!(matches!(
            tx.insert_user(&users[0]),
            Err(StoreError::AlreadyExists {
                entity: EntityKind::User,
                ..
            })
        ));
        tx.commit().expect("commit");
    }
    {
        // Dropped: nothing of it stays.
        let mut tx = store.write().expect("write");
        tx.insert_user(&sample_user(50, "ghost", &[], t0()))
            .expect("insert");
        let mut v2 = users[0].clone();
        v2.version = 2;
        v2.teams.clear();
        tx.update_user(&v2).expect("update");
    }
    let tx = store.read().expect("read");
    for u in &users {
        assert_eq!(
            tx.user(u.id).expect("get").as_ref(),
            Some(u),
            "user read back"
        );
    }
    for t in &teams {
        assert_eq!(
            tx.team(t.id).expect("get").as_ref(),
            Some(t),
            "team read back"
        );
    }
    assert_eq!(
        tx.user(UserId::from_uuid(uuid::Uuid::from_u128(50)))
            .expect("get"),
        None,
        "a dropped transaction keeps no user"
    );
    let filters = [
        UserFilter::default(),
        UserFilter {
            active: Some(false),
            ..Default::default()
        },
        UserFilter {
            team: Some(teams[0].id),
            ..Default::default()
        },
        UserFilter {
            team: Some(teams[1].id),
            active: Some(true),
            id_in: Some(vec![users[1].id, users[2].id, users[7].id]),
        },
        UserFilter {
            id_in: Some(vec![]),
            ..Default::default()
        },
    ];
    for f in filters {
        for order in [UserOrder::CreatedAt, UserOrder::Name] {
            for desc in [false, true] {
                let mut q = UserQuery::new().filter(f.clone()).order(order).limit(2);
                if desc {
                    q = q.desc();
                }
                let got = collect(|q| tx.users(q), q.clone());
                let want = collect(|q| paginate(users.iter(), q), q);
                assert_eq!(got, want, "users {f:?} {order:?} desc={desc}");
            }
        }
    }
    for f in [
        TeamFilter::default(),
        TeamFilter {
            manager: users.first().map(|u| u.id),
            ..Default::default()
        },
        TeamFilter {
            id_in: Some(vec![teams[2].id, teams[1].id]),
            ..Default::default()
        },
    ] {
        for order in [TeamOrder::CreatedAt, TeamOrder::Name] {
            let q = TeamQuery::new().filter(f.clone()).order(order).limit(1);
            let got = collect(|q| tx.teams(q), q.clone());
            let want = collect(|q| paginate(teams.iter(), q), q);
            assert_eq!(got, want, "teams {f:?} {order:?}");
        }
    }
    // Team members: the users in any of the teams, sorted, once each.
    for set in [
        vec![],
        vec![teams[0].id],
        vec![teams[2].id, teams[1].id, teams[2].id],
    ] {
        let mut want: Vec<UserId> = users
            .iter()
            .filter(|u| set.iter().any(|t| u.teams.contains(t)))
            .map(|u| u.id)
            .collect();
        want.sort();
        assert_eq!(
            tx.team_members(&set).expect("members"),
            want,
            "members of {set:?}"
        );
    }
    drop(tx);
    let mut tx = store.write().expect("write");
    let mut t2 = teams[1].clone();
    t2.version = 2;
    t2.manager = Some(users[2].id);
    tx.update_team(&t2).expect("team 1 -> 2");
    assert!(matches!(
        tx.update_team(&t2),
        Err(StoreError::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    let mut u2 = users[2].clone();
    u2.version = 2;
    u2.roles = [AccessRole::ReadOnly, AccessRole::SalesManager].into();
    u2.teams = [teams[2].id].into();
    tx.update_user(&u2).expect("user 1 -> 2");
    assert_eq!(
        tx.user(u2.id).expect("get"),
        Some(u2.clone()),
        "write sees its own update"
    );
    tx.commit().expect("commit");
    let tx = store.read().expect("read");
    assert_eq!(tx.team(t2.id).expect("get"), Some(t2));
    assert_eq!(tx.user(u2.id).expect("get"), Some(u2));
}

/// `owner_in`, `actor_in` and `amount_set` list and count exactly like the
/// reference, for no owner, one, a few (the per-owner index walk of the
/// SQLite store) and many (its plain `IN`), in every order and direction.
pub fn owner_scoped_listings_match_reference<S: Store>(store: S) {
    let uid = |i: u128| UserId::from_uuid(uuid::Uuid::from_u128(5000 + i));
    let p = {
        let (name, stages, transitions, allow_reopen) = PipelineDef::sales_template("P")
            .validate()
            .expect("template");
        Pipeline {
            id: PipelineId::from_uuid(uuid::Uuid::from_u128(1)),
            version: 1,
            name,
            stages,
            transitions,
            allow_reopen,
            created_at: t0(),
            updated_at: t0(),
        }
    };
    let c = sample_customer(2, "C", t0());
    let mut deals = Vec::new();
    let mut acts = Vec::new();
    let mut events = Vec::new();
    {
        let mut tx = store.write().expect("write");
        tx.insert_pipeline(&p).expect("pipeline");
        tx.insert_customer(&c).expect("customer");
        for i in 0..120u128 {
            let at = t0() + Duration::seconds((i % 7) as i64);
            let owner = if i % 11 == 0 { None } else { Some(uid(i % 90)) };
            let d = Deal {
                id: DealId::from_uuid(uuid::Uuid::from_u128(10_000 + (i * 7919) % 1000)),
                version: 1,
                title: format!("deal {}", i % 13),
                customer: c.id,
                pipeline: p.id,
                stage: p.stages[0].key.clone(),
                status: DealStatus::Open,
                amount: (i % 3 == 0).then(|| Money::parse("10.00", "EUR").expect("money")),
                expected_close_date: None,
                owner,
                history: vec![StageChange {
                    from: None,
                    to: p.stages[0].key.clone(),
                    at,
                    by: Actor::System,
                }],
                won_at: None,
                lost_at: None,
                lost_reason: None,
                created_at: at,
                updated_at: at + Duration::seconds((i % 5) as i64),
                custom: Default::default(),
            };
            tx.insert_deal(&d).expect("deal");
            deals.push(d);
            let mut a = sample_activity(20_000 + i, at);
            a.owner = owner;
            tx.insert_activity(&a).expect("activity");
            acts.push(a);
            let e = tx
                .append_event(NewEvent {
                    id: EventId::from_uuid(uuid::Uuid::from_u128(30_000 + i)),
                    at,
                    actor: owner.map_or(Actor::System, Actor::User),
                    entity: EntityRef {
                        kind: EntityKind::Deal,
                        id: deals[deals.len() - 1].id.as_uuid(),
                    },
                    version: 1,
                    kind: EventKind::Created,
                    changes: vec![],
                })
                .expect("event");
            events.push(e);
        }
        tx.commit().expect("commit");
    }
    let sets: Vec<Option<Vec<UserId>>> = vec![
        None,
        Some(vec![]),
        Some(vec![uid(3)]),
        Some(vec![uid(4), uid(17), uid(60), uid(999)]),
        Some((0..70).map(uid).collect()),
        Some((0..90).rev().map(uid).collect()),
    ];
    let tx = store.read().expect("read");
    for set in &sets {
        for amount_set in [None, Some(true)] {
            let f = DealFilter {
                owner_in: set.clone(),
                amount_set,
                ..Default::default()
            };
            let want_count = deals.iter().filter(|d| f.matches(d)).count() as u64;
            assert_eq!(
                tx.count_deals(&f).expect("count"),
                want_count,
                "count {set:?}"
            );
            for order in [DealOrder::CreatedAt, DealOrder::UpdatedAt, DealOrder::Title] {
                for desc in [false, true] {
                    let mut q = DealQuery::new().filter(f.clone()).order(order).limit(9);
                    if desc {
                        q = q.desc();
                    }
                    let got = collect(|q| tx.deals(q), q.clone());
                    let want = collect(|q| paginate(deals.iter(), q), q);
                    assert_eq!(got, want, "deals owner_in {set:?} {order:?} desc={desc}");
                }
            }
        }
        let af = ActivityFilter {
            owner_in: set.clone(),
            ..Default::default()
        };
        let q = ActivityQuery::new().filter(af).limit(7);
        let got = collect(|q| tx.activities(q), q.clone());
        assert_eq!(
            got,
            collect(|q| paginate(acts.iter(), q), q),
            "activities {set:?}"
        );
        let ef = EventFilter {
            actor_in: set.clone(),
            ..Default::default()
        };
        let q = EventQuery::new().filter(ef).limit(8).desc();
        let got = collect(|q| tx.events(q), q.clone());
        assert_eq!(
            got,
            collect(|q| paginate(events.iter(), q), q),
            "events {set:?}"
        );
    }
}

pub(super) fn sample_activity(id: u128, at: DateTime<Utc>) -> Activity {
    Activity {
        id: ActivityId::from_uuid(uuid::Uuid::from_u128(id)),
        version: 1,
        kind: ActivityKind::Note,
        subject: "note".into(),
        body: Some("text".into()),
        customer: None,
        deal: None,
        owner: None,
        direction: None,
        occurred_at: at,
        due_at: None,
        completed_at: None,
        created_at: at,
        updated_at: at,
        custom: Default::default(),
    }
}

pub(super) fn events_since<S: Store>(store: &S, seq: u64) -> Vec<Event> {
    all_events(store)
        .into_iter()
        .filter(|e| e.seq > seq)
        .collect()
}

pub(super) fn last_seq<S: Store>(store: &S) -> u64 {
    store.read().expect("read").last_event_seq().expect("seq")
}

/// Creating users and teams, membership, roles and deactivation: who may
/// do each, the one event each appends with the acting user, and the typed
/// refusals that append nothing.
pub fn administration_is_permissioned_and_audited<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let south = system.create_team(NewTeam::new(" South ")).expect("team");
    assert_eq!(south.name, "South");
    let admin = system
        .create_user(NewUser::new("Ada", "ada@example.com").role(AccessRole::Admin))
        .expect("admin");
    let boss = system
        .create_user(NewUser::new("Bea", "bea@example.com").role(AccessRole::SalesManager))
        .expect("manager");
    let rep = system
        .create_user(
            NewUser::new("Rob", "rob@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("rep");
    let north = crm
        .as_user(admin.id)
        .set_team_manager(north.id, north.version, Some(boss.id))
        .expect("manager set");
    assert_eq!((north.version, north.manager), (2, Some(boss.id)));

    // A rep may not create users, change roles or staff teams.
    let before = last_seq(crm.store());
    let r = crm.as_user(rep.id);
    match r.create_user(NewUser::new("Eve", "eve@example.com").role(AccessRole::Admin)) {
        Err(Error::PermissionDenied {
            resource: Resource::Users,
            operation: Operation::Create,
            needed: Scope::All,
            granted: Scope::None,
            ..
        }) => {}
        other => panic!("a rep creating a user must be refused, got {other:?}"),
    }
    match r.set_user_roles(rep.id, rep.version, [AccessRole::Admin]) {
        Err(Error::PermissionDenied {
            resource: Resource::Users,
            operation: Operation::ChangeRoles,
            ..
        }) => {}
        other => panic!("a rep granting themselves roles must be refused, got {other:?}"),
    }
    match r.add_team_member(south.id, rep.id) {
        Err(Error::PermissionDenied {
            resource: Resource::Teams,
            operation: Operation::ChangeMembership,
            needed: Scope::All,
            ..
        }) => {}
        other => panic!("a rep joining a team must be refused, got {other:?}"),
    }
    assert_eq!(last_seq(crm.store()), before, "refusals append nothing");
    assert_eq!(
        crm.as_user(admin.id).user(rep.id).expect("rep"),
        rep,
        "and change nothing"
    );

    // The manager staffs the team they manage, but no other.
    let b = crm.as_user(boss.id);
    let rep2 = b
        .add_team_member(north.id, admin.id)
        .expect("manager adds to own team");
    assert_eq!(rep2.teams.iter().copied().collect::<Vec<_>>(), [north.id]);
    assert_eq!(rep2.version, 2);
    match b.add_team_member(south.id, rep.id) {
        Err(Error::PermissionDenied {
            resource: Resource::Teams,
            needed: Scope::All,
            granted: Scope::Own,
            ..
        }) => {}
        other => panic!("a manager staffing another team must be refused, got {other:?}"),
    }
    let same = b.add_team_member(north.id, admin.id).expect("idempotent");
    assert_eq!(same.version, 2, "adding a member twice changes nothing");

    // Roles and deactivation need the admin.
    let a = crm.as_user(admin.id);
    let rep = a
        .set_user_roles(
            rep.id,
            rep.version,
            [AccessRole::SalesRep, AccessRole::Support],
        )
        .expect("roles");
    assert_eq!(rep.version, 2);
    let rep = a.deactivate_user(rep.id, rep.version).expect("deactivate");
    assert!(!rep.active);
    match crm.as_user(rep.id).deals(&DealQuery::new()) {
        Err(Error::ActorNotAllowed { .. }) => {}
        other => panic!("a deactivated user cannot act, got {other:?}"),
    }
    match crm
        .as_user(UserId::from_uuid(uuid::Uuid::from_u128(4242)))
        .customers(&CustomerQuery::new())
    {
        Err(Error::ActorNotAllowed { reason, .. }) => assert_eq!(reason, "no user has this id"),
        other => panic!("an unknown user cannot act, got {other:?}"),
    }
    match a.set_user_roles(rep.id, 1, [AccessRole::Admin]) {
        Err(Error::Conflict {
            expected: 1,
            actual: 3,
            ..
        }) => {}
        other => panic!("a stale version must conflict, got {other:?}"),
    }

    // Every change above is one event by its actor, in order.
    let log = events_since(crm.store(), 0);
    let summary: Vec<(EntityKind, EventKind, Actor, u64)> = log
        .iter()
        .map(|e| (e.entity.kind, e.kind, e.actor, e.version))
        .collect();
    assert_eq!(
        summary,
        [
            (EntityKind::Team, EventKind::Created, Actor::System, 1),
            (EntityKind::Team, EventKind::Created, Actor::System, 1),
            (EntityKind::User, EventKind::Created, Actor::System, 1),
            (EntityKind::User, EventKind::Created, Actor::System, 1),
            (EntityKind::User, EventKind::Created, Actor::System, 1),
            (
                EntityKind::Team,
                EventKind::Updated,
                Actor::User(admin.id),
                2
            ),
            (
                EntityKind::User,
                EventKind::Updated,
                Actor::User(boss.id),
                2
            ),
            (
                EntityKind::User,
                EventKind::Updated,
                Actor::User(admin.id),
                2
            ),
            (
                EntityKind::User,
                EventKind::Updated,
                Actor::User(admin.id),
                3
            ),
        ]
    );
    let roles = &log[7].changes[0];
    assert_eq!(roles.field, "roles");
    assert_eq!(roles.old, serde_json::json!(["sales_rep"]));
    assert_eq!(roles.new, serde_json::json!(["sales_rep", "support"]));
    let active = &log[8].changes[0];
    assert_eq!(
        (active.field.as_str(), &active.old, &active.new),
        (
            "active",
            &serde_json::json!(true),
            &serde_json::json!(false)
        )
    );
}
