//! Automation: a month in a small sales team's life, with seven rules.
//!
//! Three reps and their manager work February 2025 on six inbound deals.
//! Seven rules run the routine: a new deal goes to the next rep of the team
//! (round-robin over its active members); a new lead that has had no
//! outbound reply within 4 business hours (Monday to Friday, 09:00-17:00
//! in Berlin) is flagged and the manager told; a deal entering "proposal" gets
//! a follow-up task for its owner due in two days; a won deal makes its
//! customer a `customer`, tags it and tells the owner and the team's
//! manager; a deal with no stage change and no activity for seven days
//! reminds its owner; a deal a week from its expected close date reminds
//! its owner; an overdue task reminds its owner. The clock advances day by
//! day; the reps' work is scripted; at 18:00 every day the host calls
//! `run_due`. Each day prints what the rules did, and the month ends with
//! the outbox, which the host then acknowledges.
//!
//! Run it with `cargo run --example automation`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use crm_core::automation::{Action, Assignee, NewRule, Recipient, Trigger};
use crm_core::calendar::{BusinessCalendar, WeeklyHours};
use crm_core::{
    AccessRole, ActivityFilter, ActivityKind, ActivityQuery, Actor, Crm, DealId, Direction,
    EntityKind, EventQuery, Lifecycle, ManualClock, Money, NewActivity, NewCustomer, NewDeal,
    NewTeam, NewUser, PipelineDef, SequentialIds, Session, Store, UserId,
};
use crm_store_memory::MemoryStore;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn day(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 2, d, h, 0, 0)
        .single()
        .unwrap_or_default()
}

/// What the rules did since event `seq`: the system's events, described.
fn rule_effects<S: Store>(
    s: &Session<'_, S>,
    after: u64,
    names: &HashMap<UserId, String>,
) -> Res<(Vec<String>, u64)> {
    let mut out = Vec::new();
    let mut last = after;
    let mut q = EventQuery::new().limit(500);
    loop {
        let page = s.events(&q)?;
        for e in page.items.iter().filter(|e| e.seq > after) {
            last = last.max(e.seq);
            if e.actor != Actor::System {
                continue;
            }
            let what = match e.entity.kind {
                EntityKind::Activity => "task created".to_owned(),
                EntityKind::Customer => e
                    .changes
                    .iter()
                    .map(|c| format!("customer {} -> {}", c.field, c.new))
                    .collect::<Vec<_>>()
                    .join(", "),
                EntityKind::Deal if e.kind == crm_core::EventKind::Updated => e
                    .changes
                    .iter()
                    .map(|c| {
                        let user = c
                            .new
                            .as_str()
                            .and_then(|u| u.parse().ok())
                            .and_then(|u| names.get(&UserId::from_uuid(u)));
                        match user {
                            Some(name) => format!("deal {} -> {name}", c.field),
                            None => format!("deal {} -> {}", c.field, c.new),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                // Listed from the outbox, with the record they are about.
                EntityKind::Notification => continue,
                other => format!("{other} {}", e.kind),
            };
            out.push(what);
        }
        match page.next {
            Some(next) => q.page.after = Some(next),
            None => break,
        }
    }
    Ok((out, last))
}

fn main() -> Res<()> {
    let clock = Arc::new(ManualClock::new(day(1, 8)));
    let crm = Crm::new(MemoryStore::new())
        .with_clock(clock.clone())
        .with_ids(SequentialIds::new(2025));
    let admin = crm.as_actor(Actor::System);

    let mut names: HashMap<UserId, String> = HashMap::new();
    let team = admin.create_team(NewTeam::new("Inside sales"))?;
    let mut reps = Vec::new();
    for name in ["Rita", "Sven", "Mia"] {
        let u = admin.create_user(
            NewUser::new(name, format!("{}@example.com", name.to_lowercase()))
                .role(AccessRole::SalesRep)
                .team(team.id),
        )?;
        names.insert(u.id, name.to_owned());
        reps.push(u.id);
    }
    let mara = admin
        .create_user(NewUser::new("Mara", "mara@example.com").role(AccessRole::SalesManager))?;
    names.insert(mara.id, "Mara".to_owned());
    admin.set_team_manager(team.id, team.version, Some(mara.id))?;
    let p = admin.create_pipeline(PipelineDef::sales_template("Sales"))?;

    admin.create_rule(
        NewRule::new(
            "Route new deals",
            Trigger::RecordCreated {
                entity: EntityKind::Deal,
            },
        )
        // The team's active members, in turn: Rita, Sven, Mia, Rita, …
        // (Mara manages the team without being one of its members.)
        .action(Action::ChangeOwner {
            entity: EntityKind::Deal,
            to: Assignee::RoundRobin(team.id),
        }),
    )?;
    admin.create_rule(
        NewRule::new(
            "First reply within 4 business hours",
            Trigger::FirstResponseOverdue {
                hours: 4,
                calendar: BusinessCalendar::new(
                    "Europe/Berlin",
                    WeeklyHours::weekdays("09:00-17:00")?,
                )?,
            },
        )
        .action(Action::AddTag {
            tag: "no-reply".into(),
        })
        .action(Action::Notify {
            text: "Lead without a reply for 4 business hours".into(),
            to: Recipient::TeamManager(team.id),
        }),
    )?;
    admin.create_rule(
        NewRule::new(
            "Follow up proposals",
            Trigger::field_changed(EntityKind::Deal, "stage").to("proposal"),
        )
        .action(Action::CreateActivity {
            kind: ActivityKind::Task,
            subject: "Follow up on the proposal".into(),
            in_days: 2,
            assignee: Assignee::Owner,
        }),
    )?;
    admin.create_rule(
        NewRule::new("Won deals make customers", Trigger::DealWon)
            .action(Action::SetLifecycle {
                to: Lifecycle::Customer,
            })
            .action(Action::AddTag {
                tag: "customer".into(),
            })
            .action(Action::notify("Deal won: send the welcome pack"))
            .action(Action::Notify {
                text: "A deal was won".into(),
                to: Recipient::TeamManager(team.id),
            }),
    )?;
    admin.create_rule(
        NewRule::new(
            "Closing soon",
            Trigger::DateReached {
                entity: EntityKind::Deal,
                field: "expected_close_date".into(),
                days: -7,
            },
        )
        .action(Action::notify("Closes in a week: confirm the date")),
    )?;
    admin.create_rule(
        NewRule::new("Stale deals", Trigger::DealIdle { days: 7 })
            .action(Action::notify("No movement for a week")),
    )?;
    admin.create_rule(
        NewRule::new("Overdue tasks", Trigger::TaskOverdue)
            .action(Action::notify("A task is overdue")),
    )?;

    // Six inbound deals arrive on 1 February; the routing rule hands them
    // out. Globex and Initech are expected to close by the 28th.
    println!("Feb  1  inbound: six deals");
    let companies = ["ACME", "Globex", "Initech", "Umbrella", "Hooli", "Stark"];
    let mut deals: Vec<(DealId, UserId, &str)> = Vec::new();
    let mut seq = 0;
    for (i, name) in companies.iter().enumerate() {
        let c = admin.create_customer(NewCustomer::organisation(*name))?;
        // The setup so far was the administrator's, not the rules'.
        seq = rule_effects(&admin, seq, &names)?.1;
        let close = if (1..=2).contains(&i) { 28 } else { 31 };
        let month = if close == 28 { 2 } else { 3 };
        let d = admin.create_deal(
            NewDeal::new(c.id, p.id, format!("{name} rollout"))
                .amount(Money::parse(&format!("{}000", 10 + 5 * i), "EUR")?)
                .expected_close_date(NaiveDate::from_ymd_opt(2025, month, close).ok_or("a date")?),
        )?;
        let (effects, last) = rule_effects(&admin, seq, &names)?;
        seq = last;
        // The first event is the deal's creation itself.
        for e in effects.iter().skip(1) {
            println!("Feb  1    rule: {e} ({name})");
        }
        let owner = admin
            .deal(d.id)?
            .owner
            .ok_or("the routing rule gave it an owner")?;
        deals.push((d.id, owner, name));
    }
    let who = |u: Option<UserId>| u.and_then(|u| names.get(&u).cloned()).unwrap_or("-".into());
    let about = |e: &crm_core::EntityRef| -> Res<String> {
        Ok(match e.kind {
            EntityKind::Deal => admin.deal(DealId::from_uuid(e.id))?.title,
            EntityKind::Customer => admin.customer(crm_core::CustomerId::from_uuid(e.id))?.name,
            EntityKind::Activity => {
                let t = admin.activity(crm_core::ActivityId::from_uuid(e.id))?;
                let deal = t.deal.map(|d| admin.deal(d)).transpose()?;
                format!(
                    "{} on {}",
                    t.subject,
                    deal.map(|d| d.title).unwrap_or_default()
                )
            }
            other => other.to_string(),
        })
    };

    // The reps' script: (day, deal index, what they do).
    // Saturday's leads are due a reply by Monday 13:00 in Berlin.
    let script: &[(u32, usize, &str)] = &[
        (3, 0, "intro call"),
        (3, 1, "intro call"),
        (3, 3, "intro call"),
        (3, 4, "intro call"),
        (3, 0, "qualified"),
        (4, 0, "proposal"),
        (5, 1, "call"),
        (6, 0, "complete"),
        (6, 3, "qualified"),
        (10, 3, "proposal"),
        (11, 0, "won"),
        (13, 4, "call"),
        (14, 1, "qualified"),
        (17, 3, "complete"),
        (18, 1, "proposal"),
        (20, 3, "won"),
        (24, 2, "lost"),
        (25, 1, "complete"),
        (26, 1, "won"),
    ];
    for d in 1..=28 {
        clock.set(day(d, 10));
        for (_, i, what) in script.iter().filter(|(sd, _, _)| *sd == d) {
            let (deal_id, owner, name) = deals[*i];
            let me = crm.as_user(owner);
            let deal = me.deal(deal_id)?;
            match *what {
                "call" => {
                    me.log_activity(
                        NewActivity::new(ActivityKind::Call, "Check in").deal(deal_id),
                    )?;
                }
                "intro call" => {
                    me.log_activity(
                        NewActivity::new(ActivityKind::Call, "Introduction")
                            .deal(deal_id)
                            .direction(Direction::Outbound),
                    )?;
                }
                "complete" => {
                    let open = me.activities(&ActivityQuery::new().filter(ActivityFilter {
                        deal: Some(deal_id),
                        open_tasks_only: true,
                        ..Default::default()
                    }))?;
                    for t in open.items {
                        me.complete_task(t.id, t.version)?;
                    }
                }
                "won" => {
                    me.win_deal(deal_id, deal.version)?;
                }
                "lost" => {
                    me.lose_deal(deal_id, deal.version, "went with a competitor")?;
                }
                stage => {
                    me.move_deal(deal_id, deal.version, stage)?;
                }
            }
            println!("Feb {d:2}  {:<5} {name}: {what}", names[&owner]);
        }
        let report = admin.run_due(day(d, 18))?;
        let (effects, last) = rule_effects(&admin, seq, &names)?;
        seq = last;
        for e in &effects {
            println!("Feb {d:2}    rule: {e}");
        }
        for n in admin.outbox(false)? {
            if n.created_at.date_naive() == day(d, 0).date_naive() {
                println!(
                    "Feb {d:2}    rule: notify {}: {} ({})",
                    who(n.recipient),
                    n.text,
                    about(&n.subject)?
                );
            }
        }
        assert!(
            report.failed.is_empty(),
            "no rule failed: {:?}",
            report.failed
        );
    }

    println!("\nOutbox at the end of the month:");
    let outbox = admin.outbox(false)?;
    for n in &outbox {
        println!(
            "  {}  to {:<5} {} ({})",
            n.created_at.format("%b %d %H:%M"),
            who(n.recipient),
            n.text,
            about(&n.subject)?
        );
    }
    for n in outbox {
        admin.acknowledge_notification(n.id, n.version)?;
    }
    println!("Acknowledged; {} left.", admin.outbox(false)?.len());
    let customers = admin.count_customers(&crm_core::CustomerFilter {
        lifecycle: Some(Lifecycle::Customer),
        ..Default::default()
    })?;
    println!("Customers won this month: {customers}");
    Ok(())
}
