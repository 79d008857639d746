//! Automation, second round, run on every store: the general event
//! triggers (created, field changed from/to, reopened), date-field timers,
//! and the actions that create activities, set fields, change owners and
//! notify other people, round-robin included. Expected values are worked
//! out by hand from the fixed clock (t0 = 2025-01-01T00:00:00Z) and the
//! sequential ids (users created in order have ascending ids).

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::automation::outbox_by_day;
use super::engine;
use crate::automation::{Action, Assignee, NewRule, Recipient, Trigger};
use crate::custom_field::{CustomValue, FieldDef, FieldType};
use crate::*;

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("valid test time")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

fn tags(c: &Customer) -> Vec<&str> {
    c.tags.iter().map(|t| t.as_str()).collect()
}

fn outbox_texts<S: Store>(s: &Session<'_, S>) -> Vec<(String, Option<UserId>)> {
    s.outbox(false)
        .expect("outbox")
        .into_iter()
        .map(|n| (n.text, n.recipient))
        .collect()
}

/// Created, field changed (standard, owner, custom, with and without
/// from/to) and reopened triggers, each with the change that fires it and
/// one that does not.
pub fn automation_event_triggers_worked_example<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let ann = s
        .create_user(NewUser::new("ann", "ann@example.com").role(AccessRole::SalesRep))
        .expect("ann");
    let bob = s
        .create_user(NewUser::new("bob", "bob@example.com").role(AccessRole::SalesRep))
        .expect("bob");
    s.set_custom_fields(
        EntityKind::Customer,
        0,
        vec![FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold", "silver"])],
    )
    .expect("custom fields");
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let rules = [
        NewRule::new(
            "New customers",
            Trigger::RecordCreated {
                entity: EntityKind::Customer,
            },
        )
        .action(Action::AddTag { tag: "new".into() }),
        NewRule::new(
            "Churn",
            Trigger::field_changed(EntityKind::Customer, "lifecycle").to("churned"),
        )
        .action(Action::notify("Customer churned")),
        NewRule::new(
            "Qualified to proposal",
            Trigger::field_changed(EntityKind::Deal, "stage")
                .from("qualified")
                .to("proposal"),
        )
        .action(Action::notify("Proposal out")),
        NewRule::new(
            "Deal owner changed",
            Trigger::field_changed(EntityKind::Deal, "owner"),
        )
        .action(Action::notify("You own this deal now")),
        NewRule::new(
            "Gold tier",
            Trigger::field_changed(EntityKind::Customer, "custom.tier").to("gold"),
        )
        .action(Action::AddTag { tag: "gold".into() }),
        NewRule::new("Reopened", Trigger::DealReopened).action(Action::notify("Deal reopened")),
    ];
    for r in rules {
        s.create_rule(r).expect("rule");
    }

    // Created: the tag is added in the creating transaction.
    let acme = s
        .create_customer(NewCustomer::organisation("ACME").lifecycle(Lifecycle::Customer))
        .expect("acme");
    let acme = s.customer(acme.id).expect("acme");
    assert_eq!(tags(&acme), ["new"]);
    assert_eq!(acme.version, 2, "created, then tagged");

    // Custom field to gold fires; to silver does not.
    let acme = s
        .update_customer(
            acme.id,
            acme.version,
            CustomerPatch::default().custom("tier", Some(CustomValue::Text("silver".into()))),
        )
        .expect("silver");
    assert_eq!(tags(&s.customer(acme.id).expect("acme")), ["new"]);
    let acme = s
        .update_customer(
            acme.id,
            acme.version,
            CustomerPatch::default().custom("tier", Some(CustomValue::Text("gold".into()))),
        )
        .expect("gold");
    assert_eq!(tags(&s.customer(acme.id).expect("acme")), ["gold", "new"]);

    // Deal: lead -> proposal does not fire the from-qualified rule;
    // qualified -> proposal does.
    let deal = s
        .create_deal(
            NewDeal::new(acme.id, p.id, "Robots")
                .owner(ann.id)
                .amount(Money::parse("1000", "EUR").expect("money"))
                .expected_close_date(date(2025, 3, 31)),
        )
        .expect("deal");
    let deal = s
        .move_deal(deal.id, deal.version, "proposal")
        .expect("to proposal");
    assert!(outbox_texts(&s).is_empty(), "{:?}", outbox_texts(&s));
    let deal = s
        .move_deal(deal.id, deal.version, "qualified")
        .expect("back");
    let deal = s
        .move_deal(deal.id, deal.version, "proposal")
        .expect("again");
    assert_eq!(
        outbox_texts(&s),
        [("Proposal out".to_string(), Some(ann.id))]
    );

    // Owner changed: the notification goes to the new owner.
    clock.set(at(2025, 1, 2, 9));
    let deal = s
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default().owner(Some(bob.id)),
        )
        .expect("owner");
    // Won, then reopened.
    let deal = s.win_deal(deal.id, deal.version).expect("won");
    s.reopen_deal(deal.id, deal.version, Some("negotiation"))
        .expect("reopen");
    let texts = outbox_texts(&s);
    assert_eq!(
        texts[1..],
        [
            ("You own this deal now".to_string(), Some(bob.id)),
            ("Deal reopened".to_string(), Some(bob.id)),
        ]
    );

    // Lifecycle to churned fires; the customer's other changes do not.
    let acme = s.customer(acme.id).expect("acme");
    s.update_customer(
        acme.id,
        acme.version,
        CustomerPatch::default().lifecycle(Lifecycle::Churned),
    )
    .expect("churn");
    let texts = outbox_texts(&s);
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[3], ("Customer churned".to_string(), None));

    // Activity created -> set a custom field of its customer (through
    // the customer update path: the enum option is checked).
    s.create_rule(
        NewRule::new(
            "Contacted customers are silver",
            Trigger::RecordCreated {
                entity: EntityKind::Activity,
            },
        )
        .action(Action::SetField {
            entity: EntityKind::Customer,
            field: "custom.tier".into(),
            value: serde_json::json!({"type": "text", "value": "silver"}),
        }),
    )
    .expect("rule");
    s.log_activity(NewActivity::new(ActivityKind::Note, "Met at a fair").customer(acme.id))
        .expect("note");
    let acme = s.customer(acme.id).expect("acme");
    assert_eq!(acme.custom["tier"], CustomValue::Text("silver".into()));
    assert_eq!(
        tags(&acme),
        ["gold", "new"],
        "to silver: the gold rule stays quiet"
    );
    s.create_rule(
        NewRule::new(
            "Bronze",
            Trigger::RecordCreated {
                entity: EntityKind::Activity,
            },
        )
        .action(Action::SetField {
            entity: EntityKind::Customer,
            field: "custom.tier".into(),
            value: serde_json::json!({"type": "text", "value": "bronze"}),
        }),
    )
    .expect("rule: the value's shape is checked when saved, its option when run");
    let refused = s
        .log_activity(NewActivity::new(ActivityKind::Note, "Again").customer(acme.id))
        .expect_err("bronze is not a tier option");
    assert!(refused.to_string().contains("tier"), "{refused}");
    assert_eq!(s.customer(acme.id).expect("acme").version, acme.version);

    // Bad trigger definitions are refused with the field named.
    let bad = s
        .create_rule(
            NewRule::new("x", Trigger::field_changed(EntityKind::Deal, "colour"))
                .action(Action::notify("x")),
        )
        .expect_err("unknown field");
    assert!(bad.to_string().contains("trigger.field"), "{bad}");
    let bad = s
        .create_rule(
            NewRule::new(
                "x",
                Trigger::field_changed(EntityKind::Customer, "lifecycle").to("gone"),
            )
            .action(Action::notify("x")),
        )
        .expect_err("unknown lifecycle");
    assert!(bad.to_string().contains("trigger.to"), "{bad}");
    super::verify::assert_consistent(&crm);
}

/// A date field N days ahead or past: fires once per (rule, record, date);
/// changing the date re-arms it; custom date fields on customers too.
pub fn automation_date_reached_fires_once_per_date<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.set_custom_fields(
        EntityKind::Customer,
        0,
        vec![FieldDef::new("renewal", "Renewal", FieldType::Date)],
    )
    .expect("custom fields");
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(
            NewCustomer::organisation("ACME")
                .custom("renewal", CustomValue::Date(date(2025, 2, 10))),
        )
        .expect("acme");
    let deal = s
        .create_deal(NewDeal::new(acme.id, p.id, "Robots").expected_close_date(date(2025, 1, 31)))
        .expect("deal");
    let ahead = s
        .create_rule(
            NewRule::new(
                "Closing in a week",
                Trigger::DateReached {
                    entity: EntityKind::Deal,
                    field: "expected_close_date".into(),
                    days: -7,
                },
            )
            .action(Action::notify("Closes in 7 days")),
        )
        .expect("rule");
    let renewal = s
        .create_rule(
            NewRule::new(
                "Renewal passed",
                Trigger::DateReached {
                    entity: EntityKind::Customer,
                    field: "custom.renewal".into(),
                    days: 1,
                },
            )
            .action(Action::AddTag {
                tag: "renewal-overdue".into(),
            }),
        )
        .expect("rule");

    // 2025-01-31 - 7 days = 2025-01-24T00:00Z.
    assert!(
        s.run_due(at(2025, 1, 23, 23))
            .expect("run")
            .fired
            .is_empty()
    );
    let r = s.run_due(at(2025, 1, 24, 0)).expect("run");
    assert_eq!(r.fired.len(), 1);
    assert_eq!(
        (r.fired[0].rule, r.fired[0].subject.id),
        (ahead.id, deal.id.as_uuid())
    );
    assert_eq!(r.fired[0].episode, "2025-01-31");
    assert!(
        s.run_due(at(2025, 1, 30, 0))
            .expect("again")
            .fired
            .is_empty()
    );

    // The close date moves to 2025-02-28: re-armed, due 2025-02-21.
    clock.set(at(2025, 1, 30, 0));
    let deal = s.deal(deal.id).expect("deal");
    s.update_deal(
        deal.id,
        deal.version,
        DealPatch::default().expected_close_date(Some(date(2025, 2, 28))),
    )
    .expect("move date");
    // Renewal 2025-02-10 + 1 day = 2025-02-11T00:00Z.
    let r = s.run_due(at(2025, 2, 11, 0)).expect("run");
    assert_eq!(r.fired.len(), 1);
    assert_eq!(
        (r.fired[0].rule, r.fired[0].episode.as_str()),
        (renewal.id, "2025-02-10")
    );
    assert_eq!(
        tags(&s.customer(acme.id).expect("acme")),
        ["renewal-overdue"]
    );
    let r = s.run_due(at(2025, 2, 21, 12)).expect("run");
    assert_eq!(r.fired.len(), 1);
    assert_eq!(r.fired[0].episode, "2025-02-28");
    // A won deal is no longer checked.
    let deal = s.deal(deal.id).expect("deal");
    let deal = s
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default().expected_close_date(Some(date(2025, 3, 1))),
        )
        .expect("date");
    s.win_deal(deal.id, deal.version).expect("won");
    assert!(s.run_due(at(2025, 3, 5, 0)).expect("run").fired.is_empty());
    let texts = outbox_by_day(&s);
    assert_eq!(
        texts,
        ["Closes in 7 days @ 01-24", "Closes in 7 days @ 02-21"]
    );
    super::verify::assert_consistent(&crm);
}

/// Actions: an activity for a fixed user, tasks round-robin over a team's
/// active users (the cursor only moves with a firing that commits), set a
/// standard and a custom field, change owner, notify a fixed user and a
/// team's manager.
pub fn automation_actions_worked_example<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let team = s.create_team(NewTeam::new("Inside sales")).expect("team");
    let mut reps = Vec::new();
    for name in ["a", "b", "c"] {
        reps.push(
            s.create_user(
                NewUser::new(name, format!("{name}@example.com"))
                    .role(AccessRole::SalesRep)
                    .team(team.id),
            )
            .expect("rep"),
        );
    }
    let boss = s
        .create_user(NewUser::new("boss", "boss@example.com").role(AccessRole::SalesManager))
        .expect("boss");
    let team = s
        .set_team_manager(team.id, team.version, Some(boss.id))
        .expect("manager");
    // b leaves: the round-robin goes a, c, a, c, …
    s.deactivate_user(reps[1].id, reps[1].version)
        .expect("deactivate");
    s.set_custom_fields(
        EntityKind::Deal,
        0,
        vec![FieldDef::new("source", "Source", FieldType::Text)],
    )
    .expect("custom fields");
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    s.create_rule(
        NewRule::new(
            "Assign new deals",
            Trigger::RecordCreated {
                entity: EntityKind::Deal,
            },
        )
        .action(Action::ChangeOwner {
            entity: EntityKind::Deal,
            to: Assignee::RoundRobin(team.id),
        })
        .action(Action::CreateActivity {
            kind: ActivityKind::Task,
            subject: "Qualify".into(),
            in_days: 1,
            assignee: Assignee::RoundRobin(team.id),
        })
        .action(Action::SetField {
            entity: EntityKind::Deal,
            field: "custom.source".into(),
            value: serde_json::json!({"type": "text", "value": "inbound"}),
        })
        .action(Action::SetField {
            entity: EntityKind::Deal,
            field: "expected_close_date".into(),
            value: serde_json::json!("2025-06-30"),
        }),
    )
    .expect("rule");
    s.create_rule(
        NewRule::new("Big deal", Trigger::DealWon)
            .action(Action::CreateActivity {
                kind: ActivityKind::Meeting,
                subject: "Kick-off".into(),
                in_days: 3,
                assignee: Assignee::User(boss.id),
            })
            .action(Action::Notify {
                text: "Won: tell the manager".into(),
                to: Recipient::TeamManager(team.id),
            })
            .action(Action::Notify {
                text: "Won: tell a".into(),
                to: Recipient::User(reps[0].id),
            }),
    )
    .expect("rule");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    clock.set(at(2025, 1, 10, 9));
    let mut deals = Vec::new();
    for i in 0..3 {
        let d = s
            .create_deal(NewDeal::new(acme.id, p.id, format!("Deal {i}")))
            .expect("deal");
        deals.push(s.deal(d.id).expect("deal"));
    }
    // Owner: a, then (task) c; next deal owner a, task c; … The cursor
    // moves per assignment: a, c, a, c, a, c.
    let a = reps[0].id;
    let c = reps[2].id;
    let owners: Vec<Option<UserId>> = deals.iter().map(|d| d.owner).collect();
    assert_eq!(owners, [Some(a), Some(a), Some(a)]);
    let tasks = s
        .activities(&ActivityQuery::new().filter(ActivityFilter {
            open_tasks_only: true,
            ..Default::default()
        }))
        .expect("tasks")
        .items;
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t.owner == Some(c)), "{tasks:?}");
    assert!(tasks.iter().all(|t| t.due_at == Some(at(2025, 1, 11, 9))));
    let d = &deals[0];
    assert_eq!(d.custom["source"], CustomValue::Text("inbound".into()));
    assert_eq!(d.expected_close_date, Some(date(2025, 6, 30)));

    // Won: a meeting in three days for the boss, notifications.
    let d = s.deal(deals[0].id).expect("deal");
    s.win_deal(d.id, d.version).expect("won");
    let meetings = s
        .activities(&ActivityQuery::new().filter(ActivityFilter {
            deal: Some(d.id),
            ..Default::default()
        }))
        .expect("activities")
        .items
        .into_iter()
        .filter(|a| a.kind == ActivityKind::Meeting)
        .collect::<Vec<_>>();
    assert_eq!(meetings.len(), 1);
    assert_eq!(meetings[0].owner, Some(boss.id));
    assert_eq!(meetings[0].occurred_at, at(2025, 1, 13, 9));
    assert_eq!(
        outbox_texts(&s),
        [
            ("Won: tell the manager".to_string(), Some(boss.id)),
            ("Won: tell a".to_string(), Some(a)),
        ]
    );

    // Bad actions are refused when the rule is saved.
    let bad = s
        .create_rule(
            NewRule::new("x", Trigger::DealWon).action(Action::SetField {
                entity: EntityKind::Deal,
                field: "amount".into(),
                value: serde_json::json!("lots"),
            }),
        )
        .expect_err("bad value");
    assert!(bad.to_string().contains("actions[0].value"), "{bad}");
    let bad = s
        .create_rule(
            NewRule::new("x", Trigger::DealWon).action(Action::ChangeOwner {
                entity: EntityKind::Deal,
                to: Assignee::Owner,
            }),
        )
        .expect_err("owner to owner");
    assert!(bad.to_string().contains("actions[0].to"), "{bad}");
    let bad = s
        .create_rule(NewRule::new("x", Trigger::DealWon).action(Action::Notify {
            text: "x".into(),
            to: Recipient::User(reps[1].id),
        }))
        .expect_err("inactive user");
    assert!(bad.to_string().contains("no active user"), "{bad}");
    let bad = s
        .create_rule(
            NewRule::new("x", Trigger::DealWon).action(Action::ChangeOwner {
                entity: EntityKind::Deal,
                to: Assignee::RoundRobin(TeamId::from_uuid(uuid::Uuid::from_u128(1))),
            }),
        )
        .expect_err("unknown team");
    assert!(bad.to_string().contains("no team"), "{bad}");

    // A team with no active user fails the triggering change, typed; the
    // round-robin step before it is undone with it (cursor still at c).
    let empty = s.create_team(NewTeam::new("Empty")).expect("team");
    s.create_rule(
        NewRule::new("To nobody", Trigger::DealLost)
            .action(Action::ChangeOwner {
                entity: EntityKind::Deal,
                to: Assignee::RoundRobin(team.id),
            })
            .action(Action::ChangeOwner {
                entity: EntityKind::Deal,
                to: Assignee::RoundRobin(empty.id),
            }),
    )
    .expect("rule");
    let d = s.deal(deals[1].id).expect("deal");
    let err = s
        .lose_deal(d.id, d.version, "price")
        .expect_err("no one to assign");
    assert!(err.to_string().contains("no active users"), "{err}");
    assert_eq!(s.deal(d.id).expect("deal").status, DealStatus::Open);
    let next = s
        .create_deal(NewDeal::new(acme.id, p.id, "Deal 3"))
        .expect("deal");
    assert_eq!(
        s.deal(next.id).expect("deal").owner,
        Some(a),
        "cursor was at c"
    );

    // A user an active rule names cannot be deactivated (every change that
    // fired the rule would fail): refused, naming the rule, nothing written.
    let named = s
        .create_user(NewUser::new("named", "named@example.com"))
        .expect("user");
    let tell = |active: bool| {
        NewRule::new("Tell Named", Trigger::DealWon)
            .action(Action::Notify {
                text: "won".into(),
                to: Recipient::User(named.id),
            })
            .active(active)
    };
    let rule = s.create_rule(tell(true)).expect("rule");
    let events = s
        .events(&EventQuery::new().limit(1000))
        .expect("events")
        .items
        .len();
    let err = s
        .deactivate_user(named.id, named.version)
        .expect_err("named by a rule");
    assert!(
        err.to_string()
            .contains("active automation rules name this user: 'Tell Named'"),
        "{err}"
    );
    assert!(s.user(named.id).expect("user").active);
    let after = s.events(&EventQuery::new().limit(1000)).expect("events");
    assert_eq!(after.items.len(), events);
    // With the rule switched off, the user can go.
    s.update_rule(rule.id, rule.version, tell(false))
        .expect("rule off");
    let gone = s
        .deactivate_user(named.id, named.version)
        .expect("deactivated");
    assert!(!gone.active);
    super::verify::assert_consistent(&crm);
}

/// Rules, the outbox (with its acknowledgements), recorded firings and
/// round-robin cursors go into a backup and come back from it: the copy's
/// backup is the same byte for byte, a restored firing does not fire
/// again, and the restored cursor picks up where it was.
pub fn automation_backup_round_trip<S: Store, T: Store>(source: S, target: T) {
    let (crm, _) = engine(source);
    let s = crm.as_actor(Actor::System);
    let t0 = at(2025, 1, 1, 0);
    let team = s.create_team(NewTeam::new("T")).expect("team");
    let u1 = s
        .create_user(NewUser::new("u1", "u1@example.com").team(team.id))
        .expect("u1");
    let u2 = s
        .create_user(NewUser::new("u2", "u2@example.com").team(team.id))
        .expect("u2");
    s.create_rule(
        NewRule::new(
            "Assign leads",
            Trigger::RecordCreated {
                entity: EntityKind::Customer,
            },
        )
        .action(Action::ChangeOwner {
            entity: EntityKind::Customer,
            to: Assignee::RoundRobin(team.id),
        })
        .action(Action::notify("New lead for you")),
    )
    .expect("rule");
    s.create_rule(NewRule::new("Overdue", Trigger::TaskOverdue).action(Action::notify("Overdue")))
        .expect("rule");
    let one = s.create_customer(NewCustomer::person("One")).expect("one");
    let first = s.outbox(false).expect("outbox").remove(0);
    s.acknowledge_notification(first.id, first.version)
        .expect("ack");
    s.create_customer(NewCustomer::person("Two")).expect("two");
    s.log_activity(NewActivity::task("Call", t0 + chrono::Duration::hours(1)).customer(one.id))
        .expect("task");
    assert_eq!(
        s.run_due(t0 + chrono::Duration::days(1))
            .expect("due")
            .fired
            .len(),
        1
    );

    let mut file = Vec::new();
    let counts = s.backup(&mut file).expect("backup");
    assert_eq!(
        (
            counts.rules,
            counts.notifications,
            counts.firings,
            counts.round_robin_cursors
        ),
        // Firings: the created rule on One and on Two, and the overdue task.
        (2, 3, 3, 1)
    );
    let copy = Crm::new(target)
        .with_clock(std::sync::Arc::new(ManualClock::new(t0)))
        .with_ids(SequentialIds::new(99));
    let c = copy.as_actor(Actor::System);
    assert_eq!(c.restore(file.as_slice()).expect("restore"), counts);
    let mut again = Vec::new();
    c.backup(&mut again).expect("backup of the copy");
    assert!(file == again, "the copy's backup differs");

    assert_eq!(c.outbox(false).expect("outbox").len(), 2, "ack state kept");
    assert!(
        c.run_due(t0 + chrono::Duration::days(2))
            .expect("due")
            .fired
            .is_empty(),
        "the restored firing does not fire again"
    );
    // The cursor was at u2: the copy's next lead goes to u1.
    let three = c
        .create_customer(NewCustomer::person("Three"))
        .expect("three");
    assert_eq!(c.customer(three.id).expect("three").owner, Some(u1.id));
    assert_eq!(s.customer(one.id).expect("one").owner, Some(u1.id));
    let _ = u2;
}

/// The first-response SLA: 4 business hours, Monday to Friday 09:00-17:00
/// in Berlin. Leads arrive on Friday 2026-11-27 at 16:00 Berlin (15:00
/// UTC): 1 business hour on Friday, so the 4 hours end on Monday at 12:00
/// Berlin (11:00 UTC). The unanswered lead and the one with only an
/// inbound call breach (flagged, the team's manager told); the leads
/// answered at 10:30 and 11:00 Berlin on Monday (2.5 and 3 business hours)
/// and the prospect do not.
pub fn automation_first_response_sla<S: Store>(store: S) {
    use crate::calendar::{BusinessCalendar, WeeklyHours};
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let team = s.create_team(NewTeam::new("Inbound")).expect("team");
    let boss = s
        .create_user(NewUser::new("boss", "boss@example.com").role(AccessRole::SalesManager))
        .expect("boss");
    s.set_team_manager(team.id, team.version, Some(boss.id))
        .expect("manager");
    let calendar = BusinessCalendar::new(
        "Europe/Berlin",
        WeeklyHours::weekdays("09:00-17:00").expect("hours"),
    )
    .expect("calendar");
    let rule = s
        .create_rule(
            NewRule::new(
                "First response",
                Trigger::FirstResponseOverdue {
                    hours: 4,
                    calendar: calendar.clone(),
                },
            )
            .action(Action::AddTag {
                tag: "sla-breached".into(),
            })
            .action(Action::Notify {
                text: "Lead waiting for a first response".into(),
                to: Recipient::TeamManager(team.id),
            }),
        )
        .expect("rule");
    clock.set(at(2026, 11, 27, 15));
    let mut leads = Vec::new();
    for name in ["Silent", "Called", "Mailed", "Inbound only"] {
        leads.push(
            s.create_customer(NewCustomer::person(name))
                .expect("lead")
                .id,
        );
    }
    let prospect = s
        .create_customer(NewCustomer::person("Prospect").lifecycle(Lifecycle::Prospect))
        .expect("prospect");
    let log = |c: CustomerId, kind: ActivityKind, dir: Direction, t: DateTime<Utc>| {
        s.log_activity(
            NewActivity::new(kind, "reply")
                .customer(c)
                .direction(dir)
                .occurred_at(t),
        )
        .expect("activity")
    };
    log(
        leads[1],
        ActivityKind::Call,
        Direction::Outbound,
        at(2026, 11, 30, 9) + chrono::Duration::minutes(30),
    );
    log(
        leads[2],
        ActivityKind::Email,
        Direction::Outbound,
        at(2026, 11, 30, 10),
    );
    log(
        leads[3],
        ActivityKind::Call,
        Direction::Inbound,
        at(2026, 11, 30, 8),
    );

    // Saturday: only 1 business hour has passed.
    assert!(
        s.run_due(at(2026, 11, 28, 12))
            .expect("run")
            .fired
            .is_empty()
    );
    // Monday 11:00 UTC: exactly 4 business hours, not more.
    assert!(
        s.run_due(at(2026, 11, 30, 11))
            .expect("run")
            .fired
            .is_empty()
    );
    let r = s
        .run_due(at(2026, 11, 30, 11) + chrono::Duration::minutes(1))
        .expect("run");
    let mut fired: Vec<uuid::Uuid> = r.fired.iter().map(|f| f.subject.id).collect();
    fired.sort();
    let mut want = vec![leads[0].as_uuid(), leads[3].as_uuid()];
    want.sort();
    assert_eq!(fired, want);
    assert!(r.fired.iter().all(|f| f.rule == rule.id));
    assert!(
        r.fired
            .iter()
            .all(|f| f.episode == "2026-11-27T15:00:00.000Z")
    );
    for (i, c) in leads.iter().enumerate() {
        let flagged = tags(&s.customer(*c).expect("lead")) == ["sla-breached"];
        assert_eq!(flagged, i == 0 || i == 3, "lead {i}");
    }
    assert!(tags(&s.customer(prospect.id).expect("prospect")).is_empty());
    let outbox = outbox_texts(&s);
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|(_, to)| *to == Some(boss.id)));
    // A reply now does not undo the breach, nor fire it again.
    log(
        leads[0],
        ActivityKind::Call,
        Direction::Outbound,
        at(2026, 11, 30, 12),
    );
    assert!(
        s.run_due(at(2026, 12, 7, 12))
            .expect("run")
            .fired
            .is_empty()
    );
    // A calendar with no open hours is refused.
    let bad = s
        .create_rule(
            NewRule::new(
                "Never",
                Trigger::FirstResponseOverdue {
                    hours: 4,
                    calendar: BusinessCalendar::new("UTC", WeeklyHours::closed())
                        .expect("calendar"),
                },
            )
            .action(Action::notify("x")),
        )
        .expect_err("closed calendar");
    assert!(bad.to_string().contains("trigger.calendar"), "{bad}");
    super::verify::assert_consistent(&crm);
}
