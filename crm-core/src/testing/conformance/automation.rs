//! Automation contracts, run on every store: event rules act inside the
//! triggering transaction, time rules fire once per episode, the outbox
//! keeps notifications until acknowledged. Expected values are worked out
//! by hand from the fixed clock (t0 = 2025-01-01T00:00:00Z).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use super::{all_events, engine, runner};
use crate::automation::{Action, NewRule, Trigger};
use crate::*;

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("valid test time")
}

fn open_tasks<S: Store>(s: &Session<'_, S>, deal: DealId) -> Vec<Activity> {
    s.activities(&ActivityQuery::new().filter(ActivityFilter {
        deal: Some(deal),
        open_tasks_only: true,
        ..Default::default()
    }))
    .expect("tasks")
    .items
}

/// Deal enters "proposal" (moved by its owner, a sales rep) → a task for
/// the owner due two days later, created by the system in the same
/// transaction, right after the stage change.
pub fn automation_proposal_creates_task_for_owner<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let rita = system
        .create_user(
            NewUser::new("rita", "rita@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("rita");
    let p = system
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = system
        .create_customer(NewCustomer::organisation("ACME").owner(rita.id))
        .expect("acme");
    system
        .create_rule(
            NewRule::new(
                "Follow up proposals",
                Trigger::DealStageChanged {
                    to: "proposal".into(),
                },
            )
            .action(Action::CreateTask {
                title: "Call about the proposal".into(),
                due_in_days: 2,
            }),
        )
        .expect("rule");
    let me = crm.as_user(rita.id);
    let deal = me
        .create_deal(NewDeal::new(acme.id, p.id, "Robots"))
        .expect("deal");
    let deal = me
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default()
                .amount(Some(Money::parse("24000", "EUR").expect("money")))
                .expected_close_date(NaiveDate::from_ymd_opt(2025, 3, 31)),
        )
        .expect("amount");
    assert!(open_tasks(&me, deal.id).is_empty(), "no task before");
    clock.set(at(2025, 1, 6, 9));
    let moved = me
        .move_deal(deal.id, deal.version, "proposal")
        .expect("move");
    assert_eq!(moved.stage.as_str(), "proposal");

    let tasks = open_tasks(&me, deal.id);
    assert_eq!(tasks.len(), 1, "one task: {tasks:?}");
    let task = &tasks[0];
    assert_eq!(task.subject, "Call about the proposal");
    assert_eq!(task.owner, Some(rita.id));
    assert_eq!(task.customer, Some(acme.id));
    assert_eq!(task.due_at, Some(at(2025, 1, 8, 9)));

    let events = all_events(crm.store());
    let n = events.len();
    assert_eq!(events[n - 2].kind, EventKind::StageChanged);
    assert_eq!(events[n - 2].actor, Actor::User(rita.id));
    assert_eq!(events[n - 1].kind, EventKind::Created);
    assert_eq!(events[n - 1].entity.kind, EntityKind::Activity);
    assert_eq!(events[n - 1].actor, Actor::System, "actions act as system");

    // Moving elsewhere fires nothing.
    let moved = me
        .move_deal(moved.id, moved.version, "negotiation")
        .expect("move on");
    assert_eq!(moved.stage.as_str(), "negotiation");
    assert_eq!(all_events(crm.store()).len(), n + 1);
}

/// Deal won → customer lifecycle `customer`, tag, and a notification in
/// the outbox for the deal's owner; a rule whose condition does not hold
/// and an inactive rule do nothing. Acknowledging empties the outbox.
pub fn automation_won_deal_updates_customer_and_outbox<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let owner = s
        .create_user(NewUser::new("otto", "otto@example.com").role(AccessRole::SalesRep))
        .expect("user");
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME").owner(owner.id))
        .expect("acme");
    let won = s
        .create_rule(
            NewRule::new("Won deals make customers", Trigger::DealWon)
                .action(Action::SetLifecycle {
                    to: Lifecycle::Customer,
                })
                .action(Action::AddTag {
                    tag: "customer".into(),
                })
                .action(Action::notify("Deal won")),
        )
        .expect("rule");
    s.create_rule(
        NewRule::new("VIP wins", Trigger::DealWon)
            .condition(segment::parse("tag:vip").expect("expr"))
            .action(Action::notify("A VIP deal was won")),
    )
    .expect("conditional rule");
    s.create_rule(
        NewRule::new("Inactive", Trigger::DealWon)
            .active(false)
            .action(Action::AddTag {
                tag: "never".into(),
            }),
    )
    .expect("inactive rule");
    let deal = s
        .create_deal(NewDeal::new(acme.id, p.id, "Robots").owner(owner.id))
        .expect("deal");
    clock.set(at(2025, 2, 1, 12));
    s.win_deal(deal.id, deal.version).expect("win");

    let c = s.customer(acme.id).expect("customer");
    assert_eq!(c.lifecycle, Lifecycle::Customer);
    assert_eq!(
        c.tags.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        ["customer"]
    );
    assert_eq!(c.version, 3, "two updates: lifecycle, then tag");

    let outbox = s.outbox(false).expect("outbox");
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let n = &outbox[0];
    assert_eq!(n.text, "Deal won");
    assert_eq!(n.rule, won.id);
    assert_eq!(n.recipient, Some(owner.id));
    assert_eq!(n.subject.id, deal.id.as_uuid());
    assert_eq!(n.created_at, at(2025, 2, 1, 12));
    let acked = s.acknowledge_notification(n.id, n.version).expect("ack");
    assert_eq!(acked.version, 2);
    assert_eq!(acked.acknowledged_at, Some(at(2025, 2, 1, 12)));
    assert!(s.outbox(false).expect("outbox").is_empty());
    assert_eq!(s.outbox(true).expect("all").len(), 1);
    assert!(matches!(
        s.acknowledge_notification(n.id, 1),
        Err(Error::Conflict { .. })
    ));
    super::verify::assert_consistent(&crm);
}

/// An action that breaks a business rule fails the triggering change:
/// nothing of it, nor of the rules' effects, is kept.
pub fn automation_failure_undoes_the_triggering_change<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME").lifecycle(Lifecycle::Customer))
        .expect("acme");
    s.create_rule(
        NewRule::new("Tag then demote", Trigger::DealWon)
            .action(Action::AddTag { tag: "won".into() })
            // customer -> lead is not an allowed lifecycle move
            .action(Action::SetLifecycle {
                to: Lifecycle::Lead,
            }),
    )
    .expect("rule");
    let deal = s
        .create_deal(NewDeal::new(acme.id, p.id, "Robots"))
        .expect("deal");
    let before = all_events(crm.store()).len();
    let err = s.win_deal(deal.id, deal.version).expect_err("refused");
    assert!(
        err.to_string()
            .contains("cannot go from lifecycle 'customer' to 'lead'"),
        "{err}"
    );
    assert_eq!(all_events(crm.store()).len(), before);
    assert_eq!(s.deal(deal.id).expect("deal").status, DealStatus::Open);
    let c = s.customer(acme.id).expect("customer");
    assert_eq!((c.version, c.tags.len()), (1, 0));
}

/// Two rules that set each other off stop at the depth limit with a typed
/// error naming the chain; nothing is written.
pub fn automation_cycles_are_refused<S: Store>(store: S) {
    cycle_refused_at(store, None);
}

/// The engine's rule depth is configurable: at depth 2 the same cycle
/// stops one level earlier.
pub fn automation_rule_depth_is_configurable<S: Store>(store: S) {
    cycle_refused_at(store, Some(2));
}

fn cycle_refused_at<S: Store>(store: S, depth_set: Option<u32>) {
    let (crm, _) = engine(store);
    let crm = match depth_set {
        Some(d) => crm.with_max_rule_depth(d).expect("depth"),
        None => crm,
    };
    let s = crm.as_actor(Actor::System);
    let c = s.create_customer(NewCustomer::person("Ada")).expect("ada");
    s.create_rule(
        NewRule::new(
            "A",
            Trigger::LifecycleChanged {
                to: Lifecycle::Prospect,
            },
        )
        .action(Action::SetLifecycle {
            to: Lifecycle::Lead,
        }),
    )
    .expect("A");
    s.create_rule(
        NewRule::new(
            "B",
            Trigger::LifecycleChanged {
                to: Lifecycle::Lead,
            },
        )
        .action(Action::SetLifecycle {
            to: Lifecycle::Prospect,
        }),
    )
    .expect("B");
    let before = all_events(crm.store()).len();
    let err = s
        .update_customer(
            c.id,
            c.version,
            CustomerPatch::default().lifecycle(Lifecycle::Prospect),
        )
        .expect_err("cycle");
    match err {
        Error::AutomationLoop { depth, rules } => {
            // Default 3: A, B, A run; the fourth level (B) is refused.
            let want: &[&str] = match depth_set {
                None => &["A", "B", "A", "B"],
                Some(_) => &["A", "B", "A"],
            };
            assert_eq!(depth, depth_set.unwrap_or(3));
            assert_eq!(rules, want);
        }
        other => panic!("expected AutomationLoop, got {other}"),
    }
    assert_eq!(all_events(crm.store()).len(), before);
    assert_eq!(s.customer(c.id).expect("ada").version, 1);
}

/// Rules are versioned, audited, validated, and only process
/// administrators (here: the system) may save them.
pub fn automation_rules_are_versioned_audited_records<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let rep = s
        .create_user(NewUser::new("rep", "rep@example.com").role(AccessRole::SalesRep))
        .expect("rep");
    let input =
        NewRule::new("Idle deals", Trigger::DealIdle { days: 14 }).action(Action::notify("Stale"));
    assert!(matches!(
        crm.as_user(rep.id).create_rule(input.clone()),
        Err(Error::PermissionDenied { .. })
    ));
    let no_actions = s
        .create_rule(NewRule::new("Empty", Trigger::DealWon))
        .expect_err("no actions");
    assert!(no_actions.to_string().contains("actions"), "{no_actions}");
    let zero = s
        .create_rule(
            NewRule::new("Zero", Trigger::DealIdle { days: 0 }).action(Action::notify("x")),
        )
        .expect_err("zero days");
    assert!(zero.to_string().contains("trigger.days"), "{zero}");

    let before = all_events(crm.store()).len();
    let r = s.create_rule(input.clone()).expect("rule");
    assert_eq!((r.version, r.author, r.active), (1, Actor::System, true));
    let r2 = s
        .update_rule(r.id, r.version, input.clone().active(false))
        .expect("deactivate");
    assert_eq!((r2.version, r2.active), (2, false));
    assert!(matches!(
        s.update_rule(r.id, 1, input),
        Err(Error::Conflict { .. })
    ));
    assert_eq!(s.rule(r.id).expect("read"), r2);
    assert_eq!(s.rules().expect("all"), vec![r2]);
    let events = all_events(crm.store());
    assert_eq!(events.len(), before + 2);
    assert_eq!(events[before].entity.kind, EntityKind::Rule);
    assert_eq!(events[before].kind, EventKind::Created);
    assert_eq!(events[before + 1].kind, EventKind::Updated);
}

/// Time rules fire once per (rule, record, episode): calling `run_due`
/// twice, or late, fires nothing more; a new activity starts a new idle
/// episode.
pub fn automation_run_due_fires_once_per_episode<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let t0 = at(2025, 1, 1, 0);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    let deal = s
        .create_deal(NewDeal::new(acme.id, p.id, "Robots"))
        .expect("deal");
    let task = s
        .log_activity(NewActivity::task("Send contract", t0 + Duration::days(3)).customer(acme.id))
        .expect("task");
    let idle = s
        .create_rule(
            NewRule::new("Idle 14 days", Trigger::DealIdle { days: 14 })
                .action(Action::notify("Deal is stale")),
        )
        .expect("idle rule");
    let overdue = s
        .create_rule(
            NewRule::new("Overdue", Trigger::TaskOverdue).action(Action::notify("Task overdue")),
        )
        .expect("overdue rule");

    assert!(
        s.run_due(t0 + Duration::days(2))
            .expect("day 2")
            .fired
            .is_empty()
    );
    let r = s.run_due(t0 + Duration::days(5)).expect("day 5");
    assert_eq!(r.fired.len(), 1);
    assert_eq!(r.fired[0].rule, overdue.id);
    assert_eq!(r.fired[0].subject.id, task.id.as_uuid());
    assert_eq!(r.fired[0].episode, "2025-01-04T00:00:00.000Z");
    assert!(
        s.run_due(t0 + Duration::days(5))
            .expect("again")
            .fired
            .is_empty()
    );
    assert!(
        s.run_due(t0 + Duration::days(13))
            .expect("day 13")
            .fired
            .is_empty()
    );
    // Called late: the deal idle since t0 fires once.
    let r = s.run_due(t0 + Duration::days(15)).expect("day 15");
    assert_eq!(r.fired.len(), 1);
    assert_eq!(r.fired[0].rule, idle.id);
    assert_eq!(r.fired[0].subject.id, deal.id.as_uuid());
    assert_eq!(r.fired[0].episode, "2025-01-01T00:00:00.000Z");
    assert!(
        s.run_due(t0 + Duration::days(20))
            .expect("day 20")
            .fired
            .is_empty()
    );
    // A call on day 20 starts a new episode: due again on day 34.
    clock.set(t0 + Duration::days(20));
    s.log_activity(NewActivity::new(ActivityKind::Call, "Check in").deal(deal.id))
        .expect("call");
    assert!(
        s.run_due(t0 + Duration::days(33))
            .expect("day 33")
            .fired
            .is_empty()
    );
    let r = s.run_due(t0 + Duration::days(34)).expect("day 34");
    assert_eq!(r.fired.len(), 1);
    assert_eq!(r.fired[0].episode, "2025-01-21T00:00:00.000Z");

    let texts = outbox_by_day(&s);
    assert_eq!(
        texts,
        [
            "Task overdue @ 01-06",
            "Deal is stale @ 01-16",
            "Deal is stale @ 02-04"
        ]
    );
    // Completing the overdue task fires nothing more for it.
    let task = s.activity(task.id).expect("task");
    s.complete_task(task.id, task.version).expect("complete");
    assert!(
        s.run_due(t0 + Duration::days(40))
            .expect("day 40")
            .fired
            .is_empty()
    );
    super::verify::assert_consistent(&crm);
}

/// Property: over a fixed state, any sequence of `run_due` calls ending at
/// `end` fires exactly the (rule, record, episode) set one call at `end`
/// fires, each once. Each case runs in batches that are rolled back, so
/// one store serves every case.
pub fn automation_split_run_due_fires_like_one_call<S: Store>(store: S) {
    use proptest::prelude::*;
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let t0 = at(2025, 1, 1, 0);
    let end = t0 + Duration::hours(3000);
    clock.set(t0);
    let strategy = (
        proptest::collection::vec(
            (
                0i64..2000,
                proptest::collection::vec(0i64..2000, 0..3),
                proptest::option::of(-10i64..140),
            ),
            0..5,
        ),
        proptest::collection::vec((0i64..2000, 0i64..3000), 0..5),
        (1u32..40, -10i32..10),
        proptest::collection::vec(0i64..3000, 0..6),
        proptest::collection::vec((0i64..2000, proptest::option::of(0i64..2500)), 0..4),
    );
    // Deals: (created, activities, expected close day from t0); tasks;
    // (idle days, days from the close date); run_due calls.
    type Deals = Vec<(i64, Vec<i64>, Option<i64>)>;
    // Leads: (created, first outbound call after so many hours).
    type Leads = Vec<(i64, Option<i64>)>;
    type Case = (Deals, Vec<(i64, i64)>, (u32, i32), Vec<i64>, Leads);
    // The fired keys, with subjects named by creation order.
    let run = |deals: &[(i64, Vec<i64>, Option<i64>)],
               tasks: &[(i64, i64)],
               (days, close_days): (u32, i32),
               calls: &[i64],
               leads: &[(i64, Option<i64>)]|
     -> Result<Vec<(String, usize, String)>> {
        let mut out = Vec::new();
        let refused = s.batch(|b| -> Result<()> {
            let hours = |h: i64| t0 - Duration::hours(3000) + Duration::hours(h);
            b.set_time(Some(hours(0)));
            let p = b.create_pipeline(PipelineDef::sales_template("Sales"))?;
            let c = b.create_customer(NewCustomer::organisation("ACME"))?;
            let mut subjects = Vec::new();
            for (created, acts, close) in deals {
                b.set_time(Some(hours(*created)));
                let mut d = b.create_deal(NewDeal::new(c.id, p.id, "Deal"))?;
                if let Some(day) = close {
                    let close = (t0 + Duration::days(*day)).date_naive();
                    d = b.update_deal(
                        d.id,
                        d.version,
                        DealPatch::default().expected_close_date(Some(close)),
                    )?;
                }
                subjects.push(d.id.as_uuid());
                for a in acts {
                    b.set_time(Some(hours(created + a)));
                    b.log_activity(NewActivity::new(ActivityKind::Call, "Call").deal(d.id))?;
                }
            }
            for (created, due) in tasks {
                b.set_time(Some(hours(*created)));
                let t =
                    b.log_activity(NewActivity::task("Task", hours(*due + 1000)).customer(c.id))?;
                subjects.push(t.id.as_uuid());
            }
            for (created, reply) in leads {
                b.set_time(Some(hours(*created)));
                let lead = b.create_customer(NewCustomer::person("Lead"))?;
                subjects.push(lead.id.as_uuid());
                if let Some(r) = reply {
                    b.set_time(Some(hours(created + r)));
                    b.log_activity(
                        NewActivity::new(ActivityKind::Call, "Reply")
                            .customer(lead.id)
                            .direction(Direction::Outbound),
                    )?;
                }
            }
            b.set_time(None);
            let mut rules = Vec::new();
            for (name, trigger) in [
                ("idle", Trigger::DealIdle { days }),
                ("overdue", Trigger::TaskOverdue),
                (
                    "close",
                    Trigger::DateReached {
                        entity: EntityKind::Deal,
                        field: "expected_close_date".into(),
                        days: close_days,
                    },
                ),
                (
                    "sla",
                    Trigger::FirstResponseOverdue {
                        hours: days,
                        calendar: crate::calendar::BusinessCalendar::new(
                            "Europe/Berlin",
                            crate::calendar::WeeklyHours::weekdays("09:00-17:00").expect("hours"),
                        )
                        .expect("calendar"),
                    },
                ),
            ] {
                rules
                    .push(b.create_rule(NewRule::new(name, trigger).action(Action::notify(name)))?);
            }
            let name = |id: RuleId| {
                rules
                    .iter()
                    .find(|r| r.id == id)
                    .map(|r| r.name.clone())
                    .unwrap_or_default()
            };
            for call in calls.iter().map(|h| t0 + Duration::hours(*h)).chain([end]) {
                for f in b.run_due(call)?.fired {
                    let i = subjects
                        .iter()
                        .position(|u| *u == f.subject.id)
                        .unwrap_or(usize::MAX);
                    out.push((name(f.rule), i, f.episode));
                }
            }
            Err(Error::invalid(EntityKind::Rule, "test", "", "roll back"))
        });
        assert!(refused.is_err(), "the test batch rolls back");
        Ok(out)
    };
    let fired_any = std::cell::Cell::new(0usize);
    let closes = std::cell::Cell::new(0usize);
    let slas = std::cell::Cell::new(0usize);
    runner(32)
        .run(&strategy, |(deals, tasks, days, mut calls, leads): Case| {
            calls.sort_unstable();
            let split = run(&deals, &tasks, days, &calls, &leads).expect("split run");
            let one = run(&deals, &tasks, days, &[], &leads).expect("one run");
            closes.set(closes.get() + one.iter().filter(|f| f.0 == "close").count());
            slas.set(slas.get() + one.iter().filter(|f| f.0 == "sla").count());
            fired_any.set(fired_any.get() + one.len());
            let mut split_sorted = split.clone();
            split_sorted.sort();
            split_sorted.dedup();
            prop_assert_eq!(split_sorted.len(), split.len(), "something fired twice");
            let mut one_sorted = one;
            one_sorted.sort();
            prop_assert_eq!(split_sorted, one_sorted);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("split run_due property failed: {e}"));
    assert!(fired_any.get() > 0, "the cases fired something");
    assert!(closes.get() > 0, "the cases fired date rules");
    assert!(slas.get() > 0, "the cases fired SLA rules");
}

/// A rule saved in a batch step that is undone (`Batch::attempt`) does not
/// fire afterwards in the same batch.
pub fn automation_rule_undone_by_attempt_does_not_fire<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    let deal = s
        .create_deal(NewDeal::new(acme.id, p.id, "Robots"))
        .expect("deal");
    s.batch(|b| {
        let undone = b.attempt(|b| -> Result<()> {
            b.create_rule(
                NewRule::new("Phantom", Trigger::DealWon).action(Action::AddTag {
                    tag: "phantom".into(),
                }),
            )?;
            // An event in the step loads the rules, the new one included.
            b.create_customer(NewCustomer::person("Temp"))?;
            Err(Error::invalid(
                EntityKind::Rule,
                "test",
                "",
                "undo the step",
            ))
        });
        assert!(undone.is_err());
        let d = b.deal(deal.id)?;
        b.win_deal(d.id, d.version)?;
        Ok(())
    })
    .expect("batch");
    assert!(s.rules().expect("rules").is_empty());
    assert!(s.customer(acme.id).expect("acme").tags.is_empty());
}

/// The unacknowledged notifications as "TEXT @ MM-DD" (the day each was
/// put in the outbox), in outbox order.
pub(super) fn outbox_by_day<S: Store>(s: &Session<'_, S>) -> Vec<String> {
    s.outbox(false)
        .expect("outbox")
        .into_iter()
        .map(|n| format!("{} @ {}", n.text, n.created_at.format("%m-%d")))
        .collect()
}
