//! The audit log: one event per change, and the quickstart's story with
//! hand-checked events.

use super::*;

/// Across every kind of operation: a success that changes a record appends
/// exactly one event, about that record and its new version; a failure
/// changes nothing and appends nothing.
pub fn every_change_appends_exactly_one_event<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let admin = crm
        .as_actor(Actor::System)
        .create_user(NewUser::new("Ada Admin", "ada@example.com").role(AccessRole::Admin))
        .expect("admin user");
    let s = crm.as_user(admin.id);
    let mut runner = runner(16);
    runner
        .run(&proptest::collection::vec(any_op(), 1..40), |ops| {
            let mut customers: Vec<Customer> = Vec::new();
            let mut tasks: Vec<Activity> = Vec::new();
            let mut pipelines: Vec<Pipeline> = vec![
                s.create_pipeline(PipelineDef::sales_template("P"))
                    .expect("pipeline"),
            ];
            for op in ops {
                clock.advance(Duration::seconds(30));
                let before = snapshot(&s);
                let pick = |i: usize| customers.get(i % customers.len().max(1)).cloned();
                // (entity, version) the operation claims to have written, if it changed something.
                let outcome: Result<Option<(EntityRef, u64)>> = match &op {
                    AnyOp::CreateCustomer {
                        person,
                        good_email,
                        org,
                    } => {
                        let base = if *person {
                            NewCustomer::person("P")
                        } else {
                            NewCustomer::organisation("O")
                        };
                        let mut input = base.email(if *good_email {
                            "ok@example.org"
                        } else {
                            "broken@"
                        });
                        if let Some(o) = org.and_then(pick) {
                            input = input.works_at(o.id);
                        }
                        s.create_customer(input).map(|c| {
                            customers.push(c.clone());
                            Some((
                                EntityRef {
                                    kind: EntityKind::Customer,
                                    id: c.id.as_uuid(),
                                },
                                c.version,
                            ))
                        })
                    }
                    AnyOp::SetLifecycle { who, to, stale } => match pick(*who) {
                        None => continue,
                        Some(c) => {
                            let version = if *stale { c.version + 1 } else { c.version };
                            s.update_customer(
                                c.id,
                                version,
                                CustomerPatch::default().lifecycle(*to),
                            )
                            .map(|n| {
                                let changed = n.version != c.version;
                                if let Some(slot) = customers.iter_mut().find(|x| x.id == n.id) {
                                    *slot = n.clone();
                                }
                                changed.then_some((
                                    EntityRef {
                                        kind: EntityKind::Customer,
                                        id: n.id.as_uuid(),
                                    },
                                    n.version,
                                ))
                            })
                        }
                    },
                    AnyOp::Tag { who, tag } => match pick(*who) {
                        None => continue,
                        Some(c) => s
                            .update_customer(
                                c.id,
                                c.version,
                                CustomerPatch::default().add_tag(*tag),
                            )
                            .map(|n| {
                                let changed = n.version != c.version;
                                if let Some(slot) = customers.iter_mut().find(|x| x.id == n.id) {
                                    *slot = n.clone();
                                }
                                changed.then_some((
                                    EntityRef {
                                        kind: EntityKind::Customer,
                                        id: n.id.as_uuid(),
                                    },
                                    n.version,
                                ))
                            }),
                    },
                    AnyOp::LogActivity { kind, who } => {
                        let mut input = NewActivity::new(*kind, "Touch");
                        if *kind == ActivityKind::Task {
                            input.due_at = Some(clock_now(&clock) + Duration::days(1));
                        }
                        if let Some(c) = who.and_then(pick) {
                            input = input.customer(c.id);
                        }
                        s.log_activity(input).map(|a| {
                            if a.kind == ActivityKind::Task {
                                tasks.push(a.clone());
                            }
                            Some((
                                EntityRef {
                                    kind: EntityKind::Activity,
                                    id: a.id.as_uuid(),
                                },
                                a.version,
                            ))
                        })
                    }
                    AnyOp::CompleteTask { which } => {
                        match tasks.get(which % tasks.len().max(1)).cloned() {
                            None => continue,
                            Some(t) => s.complete_task(t.id, t.version).map(|a| {
                                if let Some(slot) = tasks.iter_mut().find(|x| x.id == a.id) {
                                    *slot = a.clone();
                                }
                                Some((
                                    EntityRef {
                                        kind: EntityKind::Activity,
                                        id: a.id.as_uuid(),
                                    },
                                    a.version,
                                ))
                            }),
                        }
                    }
                    AnyOp::CreatePipeline { valid } => {
                        let def = if *valid {
                            PipelineDef::sales_template("Q")
                        } else {
                            PipelineDef::new("Q").stage(StageDef::open("a", "A", 1))
                        };
                        s.create_pipeline(def).map(|p| {
                            pipelines.push(p.clone());
                            Some((
                                EntityRef {
                                    kind: EntityKind::Pipeline,
                                    id: p.id.as_uuid(),
                                },
                                p.version,
                            ))
                        })
                    }
                    AnyOp::CreateDeal { who, start } => match pick(*who) {
                        None => continue,
                        Some(c) => s
                            .create_deal(NewDeal::new(c.id, pipelines[0].id, "D").stage(*start))
                            .map(|d| {
                                Some((
                                    EntityRef {
                                        kind: EntityKind::Deal,
                                        id: d.id.as_uuid(),
                                    },
                                    d.version,
                                ))
                            }),
                    },
                };
                let after = snapshot(&s);
                let new_events = &after.4[before.4.len()..];
                match outcome {
                    Ok(Some((entity, version))) => {
                        prop_assert_eq!(
                            new_events.len(),
                            1,
                            "{:?} succeeded but appended {} events",
                            op,
                            new_events.len()
                        );
                        prop_assert_eq!(
                            (new_events[0].entity, new_events[0].version),
                            (entity, version),
                            "the event names the changed record and its new version"
                        );
                        prop_assert_eq!(
                            new_events[0].actor,
                            s.actor(),
                            "the event records the actor"
                        );
                    }
                    Ok(None) => {
                        prop_assert!(before == after, "a no-op changed the store ({:?})", op)
                    }
                    Err(e) => prop_assert!(
                        before == after,
                        "{:?} failed ({}) but changed the store",
                        op,
                        e
                    ),
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("event accounting property failed: {e}"));
}

pub(super) fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    Clock::now(clock)
}

/// The quickstart's story with hand-checked expectations: stage history,
/// won/lost times, and the audit trail in order.
pub fn worked_example_sales_flow<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let rep = crm
        .as_actor(Actor::System)
        .create_user(NewUser::new("Maria", "maria@example.com").role(AccessRole::SalesManager))
        .expect("user")
        .id;
    let s = crm.as_actor(Actor::User(rep));
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME GmbH").tag("Key Account"))
        .expect("org");
    let ada = s
        .create_customer(
            NewCustomer::person("Ada")
                .works_at(acme.id)
                .email("ADA@acme.example"),
        )
        .expect("person");
    assert_eq!(ada.emails[0].as_str(), "ada@acme.example");
    let d = s
        .create_deal(NewDeal::new(acme.id, p.id, "200 seats").owner(rep))
        .expect("deal");
    clock.advance(Duration::days(2));
    let d = s
        .update_deal(
            d.id,
            d.version,
            DealPatch::default()
                .amount(Some(Money::parse("48000.00", "EUR").expect("money")))
                .expected_close_date(NaiveDate::from_ymd_opt(2025, 3, 31)),
        )
        .expect("amount");
    let d = s.move_deal(d.id, d.version, "proposal").expect("proposal");
    clock.advance(Duration::days(10));
    let d = s.win_deal(d.id, d.version).expect("win");
    assert_eq!(d.version, 4);
    assert_eq!(d.won_at, Some(t0() + Duration::days(12)));
    let path: Vec<&str> = d.history.iter().map(|c| c.to.as_str()).collect();
    assert_eq!(path, ["lead", "proposal", "won"]);
    assert!(d.history.iter().all(|c| c.by == Actor::User(rep)));
    let call = s
        .log_activity(
            NewActivity::new(ActivityKind::Call, "Kick-off")
                .deal(d.id)
                .direction(Direction::Outbound),
        )
        .expect("call");
    assert_eq!(
        call.customer,
        Some(acme.id),
        "an activity on a deal is linked to the deal's customer"
    );
    let ada2 = s
        .update_customer(
            ada.id,
            ada.version,
            CustomerPatch::default().lifecycle(Lifecycle::Customer),
        )
        .expect("lifecycle");

    let trail = s
        .events(&EventQuery::new().filter(EventFilter {
            entity: Some(EntityRef {
                kind: EntityKind::Deal,
                id: d.id.as_uuid(),
            }),
            ..Default::default()
        }))
        .expect("events")
        .items;
    let kinds: Vec<EventKind> = trail.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Created,
            EventKind::Updated,
            EventKind::StageChanged,
            EventKind::Won
        ]
    );
    assert_eq!(
        trail.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let won = &trail[3];
    assert_eq!(won.actor, Actor::User(rep));
    let stage_change = won
        .changes
        .iter()
        .find(|c| c.field == "stage")
        .expect("stage change");
    assert_eq!(
        (stage_change.old.as_str(), stage_change.new.as_str()),
        (Some("proposal"), Some("won"))
    );
    let all = all_events(crm.store());
    assert_eq!(
        all.len(),
        10,
        "user, pipeline, 2 customers, 4 deal changes, 1 activity, 1 lifecycle change"
    );
    let last = all.last().expect("event");
    assert_eq!(
        (last.entity.id, last.version, last.kind),
        (ada2.id.as_uuid(), 2, EventKind::Updated)
    );
    assert_eq!(last.changes[0].field, "lifecycle");
    assert_eq!(
        (last.changes[0].old.as_str(), last.changes[0].new.as_str()),
        (Some("lead"), Some("customer"))
    );
    verify::assert_consistent(&crm);
}
