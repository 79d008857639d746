//! Invariants the engine enforces itself, run on every store: each
//! refusal is a typed error that changes nothing (no record, no event).

use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

use super::{all_events, engine};
use crate::automation::{Action, Assignee, NewRule, Rule, Trigger};
use crate::import::{ImportOptions, ImportPolicy};
use crate::limits;
use crate::segment::{self, Expr};
use crate::*;

fn eur(s: &str) -> Money {
    Money::parse(s, "EUR").expect("money")
}

/// The validation error of `r`, or a panic saying what came instead.
fn invalid<T: std::fmt::Debug>(r: Result<T>, what: &str) -> ValidationError {
    match r {
        Err(Error::Invalid(v)) => v,
        other => panic!("{what}: expected a validation error, got {other:?}"),
    }
}

/// An owner or assignee that is not a stored, active user is refused on
/// every path that sets one (create, update, owner change, import rows,
/// automation), and the refusal writes nothing.
pub fn owners_and_assignees_must_be_active_users<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let ann = s
        .create_user(NewUser::new("Ann", "ann@example.com"))
        .expect("ann");
    let bob = s
        .create_user(NewUser::new("Bob", "bob@example.com"))
        .expect("bob");
    let bob = s.deactivate_user(bob.id, bob.version).expect("deactivate");
    let ghost = UserId::from_uuid(uuid::Uuid::from_u128(0xdead));
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME").owner(ann.id))
        .expect("active owner accepted");
    let deal = s
        .create_deal(NewDeal::new(acme.id, p.id, "Robots").owner(ann.id))
        .expect("deal");
    let before = all_events(crm.store()).len();

    for (who, why) in [(ghost, "no user has this id"), (bob.id, "deactivated")] {
        let e = invalid(
            s.create_customer(NewCustomer::organisation("X").owner(who)),
            "customer create",
        );
        assert_eq!(
            (e.entity, e.field.as_str()),
            (EntityKind::Customer, "owner")
        );
        assert!(e.reason.contains(why), "{e}");
        let e = invalid(
            s.update_customer(
                acme.id,
                acme.version,
                CustomerPatch::default().owner(Some(who)),
            ),
            "customer owner change",
        );
        assert_eq!(e.field, "owner");
        let e = invalid(
            s.create_deal(NewDeal::new(acme.id, p.id, "X").owner(who)),
            "deal create",
        );
        assert_eq!((e.entity, e.field.as_str()), (EntityKind::Deal, "owner"));
        let e = invalid(
            s.update_deal(deal.id, deal.version, DealPatch::default().owner(Some(who))),
            "deal owner change",
        );
        assert_eq!(e.field, "owner");
        let e = invalid(
            s.log_activity(
                NewActivity::task("Call", Utc.with_ymd_and_hms(2025, 1, 2, 9, 0, 0).unwrap())
                    .customer(acme.id)
                    .owner(who),
            ),
            "activity assignee",
        );
        assert_eq!(
            (e.entity, e.field.as_str()),
            (EntityKind::Activity, "owner")
        );
        // An import row naming the user is a row problem; nothing written.
        let csv = format!("name,owner\nGlobex,{who}\n");
        let report = s
            .import_customers(csv.as_bytes(), &ImportOptions::default())
            .expect("import runs");
        assert!(!report.written);
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        assert_eq!(report.problems[0].column, "owner");
        // Deal and activity rows too.
        for (report, what) in [
            (
                s.import_deals(
                    format!("title,customer,owner\nGears,ACME,{who}\n").as_bytes(),
                    &ImportOptions::default(),
                ),
                "deal import",
            ),
            (
                s.import_activities(
                    format!("kind,subject,customer,owner\nnote,Hello,ACME,{who}\n").as_bytes(),
                    &ImportOptions::default(),
                ),
                "activity import",
            ),
        ] {
            let report = report.expect("import runs");
            assert!(!report.written, "{what}");
            assert_eq!(report.problems.len(), 1, "{what}: {:?}", report.problems);
            assert_eq!(
                report.problems[0].column, "owner",
                "{what}: {:?}",
                report.problems
            );
            assert!(
                report.problems[0].reason.contains(why),
                "{what}: {:?}",
                report.problems
            );
        }
    }
    assert_eq!(all_events(crm.store()).len(), before, "a refusal wrote");
    assert_eq!(s.count_customers(&CustomerFilter::default()).expect("n"), 1);

    // Automation: assigning to a deactivated user is refused when the rule
    // is saved (the engine's own check, as for any assignee).
    let e = invalid(
        s.create_rule(
            NewRule::new("To Bob", Trigger::DealWon).action(Action::ChangeOwner {
                entity: EntityKind::Deal,
                to: Assignee::User(bob.id),
            }),
        ),
        "rule assignee",
    );
    assert!(e.reason.contains("no active user"), "{e}");

    // Clearing the owner stays allowed; records of a user deactivated
    // later keep them and can be edited otherwise.
    let acme = s.customer(acme.id).expect("acme");
    s.deactivate_user(ann.id, ann.version)
        .expect("deactivate ann");
    let acme = s
        .update_customer(
            acme.id,
            acme.version,
            CustomerPatch::default().name("ACME AG"),
        )
        .expect("other edits still allowed");
    assert_eq!(acme.owner, Some(ann.id));
    let acme = s
        .update_customer(acme.id, acme.version, CustomerPatch::default().owner(None))
        .expect("clearing the owner");
    assert_eq!(acme.owner, None);
}

/// The guards of the stage a deal is in hold for as long as it is in it:
/// `update_deal`, and rules' `set_field` actions built on it, cannot clear a
/// field the stage requires.
pub fn stage_guards_hold_while_the_deal_is_in_the_stage<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    let d = s
        .create_deal(
            NewDeal::new(acme.id, p.id, "Robots")
                .amount(eur("24000"))
                .expected_close_date(NaiveDate::from_ymd_opt(2026, 3, 31).expect("date")),
        )
        .expect("deal");
    let d = s.move_deal(d.id, d.version, "proposal").expect("proposal");
    let before = all_events(crm.store()).len();
    let e = invalid(
        s.update_deal(d.id, d.version, DealPatch::default().amount(None)),
        "clearing a guarded amount",
    );
    assert_eq!(e.field, "amount");
    assert!(e.reason.contains("'proposal'"), "{e}");
    let e = invalid(
        s.update_deal(
            d.id,
            d.version,
            DealPatch::default().expected_close_date(None),
        ),
        "clearing a guarded date",
    );
    assert_eq!(e.field, "expected_close_date");
    assert_eq!(
        s.deal(d.id).expect("deal"),
        d,
        "the refusal changed the deal"
    );
    assert_eq!(all_events(crm.store()).len(), before);
    // Changing (not clearing) a guarded field is fine.
    s.update_deal(
        d.id,
        d.version,
        DealPatch::default().amount(Some(eur("25000"))),
    )
    .expect("changing the amount");
    // A rule's set_field goes through the same check: a rule that clears
    // the amount once a deal enters `proposal` makes that move fail whole.
    s.create_rule(
        NewRule::new(
            "Clear amount",
            Trigger::DealStageChanged {
                to: "proposal".into(),
            },
        )
        .action(Action::SetField {
            entity: EntityKind::Deal,
            field: "amount".into(),
            value: serde_json::Value::Null,
        }),
    )
    .expect("rule");
    let d2 = s
        .create_deal(
            NewDeal::new(acme.id, p.id, "Spares")
                .amount(eur("900"))
                .expected_close_date(NaiveDate::from_ymd_opt(2026, 4, 30).expect("date")),
        )
        .expect("deal");
    // The refusal names the rule whose action broke the guard.
    let e = match s.move_deal(d2.id, d2.version, "proposal") {
        Err(Error::Rule { name, source, .. }) => {
            assert_eq!(name, "Clear amount");
            invalid::<()>(Err(*source), "the rule clearing a guarded amount")
        }
        other => panic!("the rule clearing a guarded amount: expected Error::Rule, got {other:?}"),
    };
    assert_eq!(e.field, "amount");
    let d2_now = s.deal(d2.id).expect("deal");
    assert_eq!(d2_now, d2, "the refused move changed the deal");
}

/// A won or lost deal is frozen: `update_deal` of its title, amount, close
/// date or custom fields is refused naming its state; its owner may still
/// change; `correct_deal` changes it with a reason recorded in the event;
/// `reopen_deal` makes it editable again; activities can still be logged.
pub fn closed_deals_are_frozen_except_through_reopen_or_correction<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let rep = s
        .create_user(NewUser::new("Rep", "rep@example.com"))
        .expect("rep");
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    let d = s
        .create_deal(NewDeal::new(acme.id, p.id, "Robots").amount(eur("100")))
        .expect("deal");
    let won = s.win_deal(d.id, d.version).expect("won");
    let before = all_events(crm.store()).len();
    for patch in [
        DealPatch::default().amount(Some(eur("1000000"))),
        DealPatch::default().title("Renamed"),
        DealPatch::default().expected_close_date(NaiveDate::from_ymd_opt(2020, 1, 1)),
    ] {
        let e = invalid(s.update_deal(won.id, won.version, patch), "frozen");
        assert_eq!(e.value, "won");
        assert!(e.reason.contains("reopen_deal"), "{e}");
        assert!(e.reason.contains("correct_deal"), "{e}");
    }
    assert_eq!(s.deal(won.id).expect("deal"), won);
    assert_eq!(all_events(crm.store()).len(), before);

    // Still allowed: an owner change, and an activity on the deal.
    let won = s
        .update_deal(
            won.id,
            won.version,
            DealPatch::default().owner(Some(rep.id)),
        )
        .expect("owner change on a won deal");
    s.log_activity(NewActivity::new(ActivityKind::Note, "Thank-you call").deal(won.id))
        .expect("activity on a won deal");

    // A correction needs a reason, and records it.
    let fix = DealPatch::default().amount(Some(eur("90")));
    let e = invalid(
        s.correct_deal(won.id, won.version, fix.clone(), "  "),
        "empty reason",
    );
    assert_eq!(e.field, "correction_reason");
    let open = s
        .create_deal(NewDeal::new(acme.id, p.id, "Open one"))
        .expect("open");
    let e = invalid(
        s.correct_deal(open.id, open.version, fix.clone(), "typo"),
        "correcting an open deal",
    );
    assert_eq!(e.field, "status");
    let corrected = s
        .correct_deal(won.id, won.version, fix, "invoice 42 was 90 EUR")
        .expect("correction");
    assert_eq!(corrected.amount, Some(eur("90")));
    assert_eq!(corrected.status, DealStatus::Won);
    assert_eq!(corrected.version, won.version + 1);
    let events = all_events(crm.store());
    let last = events.last().expect("event");
    assert_eq!(last.entity.id, won.id.as_uuid());
    assert_eq!(last.kind, EventKind::Updated);
    let fields: Vec<&str> = last.changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["amount", "correction_reason"]);
    assert_eq!(
        last.changes[1].new,
        serde_json::json!("invoice 42 was 90 EUR")
    );

    // Reopened, it is editable again.
    let reopened = s
        .reopen_deal(corrected.id, corrected.version, Some("lead"))
        .expect("reopen");
    let edited = s
        .update_deal(
            reopened.id,
            reopened.version,
            DealPatch::default().title("Robots v2"),
        )
        .expect("edit after reopening");
    assert_eq!(edited.title, "Robots v2");
}

/// Amounts are bounded at the door: exactly [`limits::MAX_AMOUNT`] is
/// accepted, one cent more (or `Decimal::MAX`) refused, on create, update,
/// import, automation and custom money fields; more decimal places than
/// can be kept exactly are refused, not rounded to 0. A pipeline full of
/// deals at the bound still reports.
pub fn amounts_are_bounded_at_every_door<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    let max = Money::new(limits::MAX_AMOUNT, Currency::EUR);
    let past = eur("1000000000000000.01");
    let before = all_events(crm.store()).len();
    for (what, m) in [
        ("one cent past", past),
        ("Decimal::MAX", Money::new(Decimal::MAX, Currency::EUR)),
        ("negative past", Money::new(-Decimal::MAX, Currency::EUR)),
    ] {
        let e = invalid(
            s.create_deal(NewDeal::new(acme.id, p.id, "Big").amount(m)),
            what,
        );
        assert_eq!(e.field, "amount", "{what}");
    }
    assert_eq!(all_events(crm.store()).len(), before);
    let at = s
        .create_deal(NewDeal::new(acme.id, p.id, "At the bound").amount(max))
        .expect("exactly the bound");
    let e = invalid(
        s.update_deal(at.id, at.version, DealPatch::default().amount(Some(past))),
        "update past the bound",
    );
    assert!(e.reason.contains("out of range"), "{e}");

    // JSON with 29 decimal places used to read as 0: now refused.
    let tiny = format!(
        r#"{{"amount":{{"amount":"0.{}1","currency":"EUR"}}}}"#,
        "0".repeat(28)
    );
    let err = serde_json::from_str::<DealPatch>(&tiny).expect_err("29 decimal places");
    assert!(err.to_string().contains("29 decimal places"), "{err}");

    // Import: a row past the bound is a problem, nothing written.
    let n = s.count_deals(&DealFilter::default()).expect("count");
    let csv = "title,customer,amount,currency\nHuge,ACME,1000000000000000.01,EUR\n";
    let report = s
        .import_deals(
            csv.as_bytes(),
            &ImportOptions::default().policy(ImportPolicy::AllOrNothing),
        )
        .expect("import runs");
    assert!(!report.written);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].column, "amount");
    assert_eq!(s.count_deals(&DealFilter::default()).expect("count"), n);

    // Automation: a set_field amount past the bound is refused on save.
    let e = invalid(
        s.create_rule(
            NewRule::new("Inflate", Trigger::DealWon).action(Action::SetField {
                entity: EntityKind::Deal,
                field: "amount".into(),
                value: serde_json::json!({"amount": "1000000000000000.01", "currency": "EUR"}),
            }),
        ),
        "rule amount",
    );
    assert_eq!(e.field, "actions[0].value");

    // Custom money fields have the same bound.
    s.set_custom_fields(
        EntityKind::Deal,
        0,
        vec![crate::custom_field::FieldDef::new(
            "margin",
            "Margin",
            crate::custom_field::FieldType::Money,
        )],
    )
    .expect("schema");
    let e = invalid(
        s.create_deal(
            NewDeal::new(acme.id, p.id, "Margin")
                .custom("margin", crate::custom_field::CustomValue::Money(past)),
        ),
        "custom money",
    );
    assert_eq!(e.field, "custom.margin");

    // Many deals at the bound still sum: the pipeline report works.
    for i in 0..20 {
        s.create_deal(NewDeal::new(acme.id, p.id, format!("Max {i}")).amount(max))
            .expect("deal at the bound");
    }
    let open = s
        .deals(&DealQuery::new().limit(100))
        .expect("deals")
        .items
        .iter()
        .filter_map(|d| d.amount)
        .collect::<Vec<_>>();
    let total = Money::checked_sum(Currency::EUR, &open).expect("sum at the bound");
    assert_eq!(total.amount, limits::MAX_AMOUNT * Decimal::from(21));
}

/// Rule durations are bounded at creation (exactly the bound accepted,
/// one past refused), and a rule stored earlier with a huge value (as an
/// older file may hold) does not panic `run_due`: it is skipped with its
/// reason, and the other rules still run.
pub fn rule_durations_are_bounded_and_old_rules_never_panic<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let rule = |days| {
        NewRule::new("Idle", Trigger::DealIdle { days })
            .action(Action::AddTag { tag: "idle".into() })
    };
    s.create_rule(rule(limits::MAX_RULE_DAYS))
        .expect("exactly the bound");
    for days in [0, limits::MAX_RULE_DAYS + 1, u32::MAX] {
        let e = invalid(s.create_rule(rule(days)), "idle days");
        assert_eq!(e.field, "trigger.days");
    }
    let e = invalid(
        s.create_rule(
            NewRule::new(
                "Date",
                Trigger::DateReached {
                    entity: EntityKind::Deal,
                    field: "expected_close_date".into(),
                    days: -(limits::MAX_RULE_DAYS as i32) - 1,
                },
            )
            .action(Action::AddTag { tag: "x".into() }),
        ),
        "date offset",
    );
    assert_eq!(e.field, "trigger.days");
    let e = invalid(
        s.create_rule(
            NewRule::new("Task", Trigger::DealWon).action(Action::CreateTask {
                title: "t".into(),
                due_in_days: limits::MAX_RULE_DAYS + 1,
            }),
        ),
        "due offset",
    );
    assert_eq!(e.field, "actions[0].due_in_days");

    // An old rule, stored directly with a value past every bound.
    let now = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
    let old = Rule {
        id: RuleId::from_uuid(uuid::Uuid::from_u128(0x01d)),
        version: 1,
        name: "Ancient".into(),
        active: true,
        trigger: Trigger::DealIdle { days: u32::MAX },
        condition: None,
        actions: vec![Action::AddTag { tag: "x".into() }],
        author: Actor::System,
        created_at: now,
        updated_at: now,
    };
    {
        let mut tx = crm.store().write().expect("write");
        tx.insert_rule(&old).expect("insert rule");
        tx.commit().expect("commit");
    }
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    s.create_deal(NewDeal::new(acme.id, p.id, "Quiet"))
        .expect("deal");
    let later = now + chrono::Duration::days(i64::from(limits::MAX_RULE_DAYS) + 400);
    let report = s.run_due(later).expect("run_due does not fail or panic");
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert_eq!(report.skipped[0].0, old.id);
    assert!(report.skipped[0].1.contains("trigger.days"), "{report:?}");
    // The valid idle rule still fired on the quiet deal.
    assert_eq!(report.fired.len(), 1, "{report:?}");
}

/// Sizes are bounded, each at its documented limit (at the bound
/// accepted, one past refused, naming the field and the limit): names,
/// control characters, tags per customer, contact points, activity bodies,
/// custom texts, segment expressions (text length, node count, JSON form).
pub fn sizes_are_bounded_with_clear_errors<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let before = all_events(crm.store()).len();
    // Names.
    let e = invalid(
        s.create_customer(NewCustomer::person("x".repeat(limits::MAX_NAME_CHARS + 1))),
        "long name",
    );
    assert!(e.reason.contains("at most 200 characters"), "{e}");
    for bad in ["Ada\0Lovelace", "Ada\nLovelace", "Ada\u{1b}[31m"] {
        let e = invalid(s.create_customer(NewCustomer::person(bad)), "control char");
        assert_eq!(e.field, "name");
        assert!(e.reason.contains("control character"), "{e}");
    }
    // Tags.
    let tags = |n: usize| (0..n).map(|i| format!("t{i}")).collect::<Vec<_>>();
    let mut input = NewCustomer::person("Many tags");
    input.tags = tags(limits::MAX_TAGS_PER_RECORD + 1);
    let e = invalid(s.create_customer(input), "101 tags");
    assert_eq!(e.field, "tags");
    assert!(e.reason.contains("100"), "{e}");
    // Contact points.
    let mut input = NewCustomer::person("Many e-mails");
    input.emails = (0..=limits::MAX_CONTACT_POINTS)
        .map(|i| format!("a{i}@example.com"))
        .collect();
    let e = invalid(s.create_customer(input), "21 e-mails");
    assert_eq!(e.field, "emails");
    assert_eq!(all_events(crm.store()).len(), before, "a refusal wrote");

    // At the bounds: accepted.
    let mut input = NewCustomer::person("x".repeat(limits::MAX_NAME_CHARS));
    input.tags = tags(limits::MAX_TAGS_PER_RECORD - 1);
    let c = s.create_customer(input).expect("at the bounds");
    let c = s
        .update_customer(c.id, c.version, CustomerPatch::default().add_tag("last"))
        .expect("the 100th tag");
    assert_eq!(c.tags.len(), limits::MAX_TAGS_PER_RECORD);
    let e = invalid(
        s.update_customer(
            c.id,
            c.version,
            CustomerPatch::default().add_tag("one-more"),
        ),
        "the 101st tag",
    );
    assert_eq!(e.field, "tags");

    // Activity bodies (line breaks allowed, NUL not).
    let body = |n: usize| "a\n".repeat(n / 2);
    s.log_activity(
        NewActivity::new(ActivityKind::Note, "Minutes")
            .customer(c.id)
            .body(body(limits::MAX_BODY_CHARS)),
    )
    .expect("body at the bound");
    let e = invalid(
        s.log_activity(
            NewActivity::new(ActivityKind::Note, "Minutes")
                .customer(c.id)
                .body(body(limits::MAX_BODY_CHARS) + "xy"),
        ),
        "body past the bound",
    );
    assert_eq!(e.field, "body");
    let e = invalid(
        s.log_activity(
            NewActivity::new(ActivityKind::Note, "Minutes")
                .customer(c.id)
                .body("a\0b"),
        ),
        "NUL in body",
    );
    assert_eq!(e.field, "body");

    // Segment expressions: text length and node count.
    let preds = |n: usize| vec!["tag:a"; n].join(" or ");
    let ok = segment::parse(&preds(limits::MAX_EXPRESSION_NODES - 1)).expect("1000 nodes");
    s.create_segment("At the bound", ok).expect("saved");
    let err = segment::parse(&preds(limits::MAX_EXPRESSION_NODES)).expect_err("1001 nodes");
    assert!(err.expected.contains("at most 1000"), "{err}");
    let long = format!("tag:{}", "a".repeat(limits::MAX_EXPRESSION_BYTES));
    let err = segment::parse(&long).expect_err("too long");
    assert!(err.expected.contains("65536 bytes"), "{err}");
    // The JSON form goes through the same node bound.
    let wide = Expr::Or(vec![Expr::Const(true); limits::MAX_EXPRESSION_NODES]);
    let e = invalid(s.create_segment("Too wide", wide.clone()), "wide JSON");
    assert_eq!(e.field, "expression");
    assert!(e.reason.contains("at most 1000"), "{e}");
    assert!(
        s.evaluate_expr(&wide, &PageRequest::default()).is_err(),
        "evaluating a tree past the bound"
    );
    // The JSON form is held to the text form's length: one huge value in
    // a single node is refused too.
    let near: Expr = format!("name contains \"{}\"", "a".repeat(60_000))
        .parse()
        .expect("within the text bound");
    s.create_segment("Long value", near.clone())
        .expect("a long value within the bound");
    let segment::Expr::Pred(mut pred) = near else {
        panic!("a predicate")
    };
    pred.test = segment::Test::Contains {
        value: segment::Value::Text("a".repeat(limits::MAX_EXPRESSION_BYTES)),
    };
    let e = invalid(
        s.create_segment("Huge value", Expr::Pred(pred)),
        "a huge value in JSON",
    );
    assert_eq!(e.field, "expression");
    assert!(e.reason.contains("65536 bytes in its text form"), "{e}");
}

/// Amounts stored before the bound (written here straight into the store)
/// can still overflow a sum: the KPI report and the `won_amount` segment
/// fail with a typed error that names the currency and the figure.
pub fn aggregate_overflow_names_the_currency_and_the_figure<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("acme");
    for title in ["Old 1", "Old 2"] {
        let d = s
            .create_deal(NewDeal::new(acme.id, p.id, title).amount(eur("1")))
            .expect("deal");
        let d = s.win_deal(d.id, d.version).expect("won");
        let mut tx = crm.store().write().expect("write");
        let mut old = d.clone();
        old.amount = Some(Money::new(Decimal::MAX, Currency::EUR));
        old.version += 1;
        tx.update_deal(&old).expect("an old file's amount");
        tx.commit().expect("commit");
    }
    let err = s
        .kpi_report(&crate::kpi::report::KpiOptions::default())
        .expect_err("the sum overflows");
    let text = err.to_string();
    assert!(matches!(err, Error::Kpi(_)), "{err:?}");
    assert!(text.contains("in EUR"), "{text}");
    assert!(text.contains("too large"), "{text}");
    let expr: Expr = "won_amount(EUR) > 10".parse().expect("expr");
    let e = invalid(
        s.evaluate_expr(&expr, &PageRequest::default()),
        "won_amount overflow",
    );
    assert_eq!(e.field, "won_amount");
    assert!(e.reason.contains("in EUR"), "{e}");
}

/// A rule's `set_field` value is read as strictly as a request: an array
/// where a struct is expected (an amount given as `["100", "EUR"]`) is
/// refused when the rule is saved, naming the action, instead of being
/// read field by field in declaration order.
pub fn rule_values_refuse_positional_arrays<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let before = all_events(crm.store()).len();
    let e = invalid(
        s.create_rule(
            NewRule::new("Price", Trigger::DealWon).action(Action::SetField {
                entity: EntityKind::Deal,
                field: "amount".into(),
                value: serde_json::json!(["100", "EUR"]),
            }),
        ),
        "positional amount",
    );
    assert_eq!(e.field, "actions[0].value");
    assert!(e.reason.contains("found an array"), "{e}");
    assert_eq!(all_events(crm.store()).len(), before, "a refusal wrote");
    s.create_rule(
        NewRule::new("Price", Trigger::DealWon).action(Action::SetField {
            entity: EntityKind::Deal,
            field: "amount".into(),
            value: serde_json::json!({"amount": "100", "currency": "EUR"}),
        }),
    )
    .expect("the named form is accepted");
}

/// A deactivated user keeps the records they own (history says who was
/// responsible), and those records stay usable: a rule that assigns work
/// or notifies "the owner" of such a record creates the task unassigned
/// and the notification without a recipient, instead of failing the
/// change that fired it (a stage move by a colleague) for as long as the
/// record is not reassigned. A deactivated user is never newly assigned.
pub fn rules_never_assign_to_a_deactivated_owner<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let ann = s
        .create_user(NewUser::new("Ann", "ann@example.com"))
        .expect("ann");
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME").owner(ann.id))
        .expect("acme");
    let d = s
        .create_deal(
            NewDeal::new(acme.id, p.id, "Robots")
                .owner(ann.id)
                .amount(eur("100"))
                .expected_close_date(NaiveDate::from_ymd_opt(2026, 3, 31).expect("date")),
        )
        .expect("deal");
    s.create_rule(
        NewRule::new(
            "Proposal follow-up",
            Trigger::DealStageChanged {
                to: "proposal".into(),
            },
        )
        .action(Action::CreateTask {
            title: "Send the proposal".into(),
            due_in_days: 2,
        })
        .action(Action::CreateActivity {
            kind: ActivityKind::Call,
            subject: "Call about the proposal".into(),
            in_days: 3,
            assignee: Assignee::Owner,
        })
        .action(Action::Notify {
            text: "Proposal stage".into(),
            to: crate::automation::Recipient::Owner,
        }),
    )
    .expect("rule");
    let ann = s.deactivate_user(ann.id, ann.version).expect("deactivate");
    assert!(!ann.active);
    let moved = s
        .move_deal(d.id, d.version, "proposal")
        .expect("a colleague moves the deal of a deactivated owner");
    assert_eq!(moved.owner, Some(ann.id), "the deal keeps its owner");
    let made = s
        .activities(&ActivityQuery::new().limit(10))
        .expect("activities")
        .items;
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(
        made.iter().all(|a| a.owner.is_none()),
        "work is never assigned to a deactivated user: {made:?}"
    );
    let outbox = s.outbox(false).expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].recipient, None);

    // Reactivated, the owner gets the work again.
    let ann = s.reactivate_user(ann.id, ann.version).expect("reactivate");
    let d2 = s
        .create_deal(
            NewDeal::new(acme.id, p.id, "Spares")
                .owner(ann.id)
                .amount(eur("100"))
                .expected_close_date(NaiveDate::from_ymd_opt(2026, 3, 31).expect("date")),
        )
        .expect("deal");
    s.move_deal(d2.id, d2.version, "proposal").expect("move");
    let owned = s
        .activities(&ActivityQuery::new().limit(10))
        .expect("activities")
        .items
        .into_iter()
        .filter(|a| a.owner == Some(ann.id))
        .count();
    assert_eq!(owned, 2);
    assert_eq!(
        s.outbox(false).expect("outbox").last().map(|n| n.recipient),
        Some(Some(ann.id))
    );
}

/// A merge builds a new state of the survivor, so it is held to the same
/// invariants as an update: the union of tags, e-mails and phones stays
/// within the per-record bounds, and an owner taken from the merged
/// customer must be an active user. A refused merge changes nothing.
pub fn merges_keep_the_record_invariants<S: Store>(store: S) {
    use crate::merge::{Keep, MergePolicy};
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let tags = |prefix: &str, n: usize| (0..n).map(|i| format!("{prefix}{i}")).collect();
    let mut a = NewCustomer::person("Ada");
    a.tags = tags("a", 60);
    let a = s.create_customer(a).expect("a");
    let mut b = NewCustomer::person("Ada L.");
    b.tags = tags("b", 60);
    let b = s.create_customer(b).expect("b");
    let before = all_events(crm.store()).len();
    let e = invalid(
        s.merge_customers(a.id, a.version, b.id, b.version, &MergePolicy::default()),
        "120 tags",
    );
    assert_eq!(e.field, "tags");
    assert!(e.reason.contains("100"), "{e}");

    let mails = |prefix: &str| {
        (0..15)
            .map(|i| format!("{prefix}{i}@example.com"))
            .collect::<Vec<_>>()
    };
    let mut c = NewCustomer::person("Grace");
    c.emails = mails("c");
    let c = s.create_customer(c).expect("c");
    let mut d = NewCustomer::person("Grace H.");
    d.emails = mails("d");
    let d = s.create_customer(d).expect("d");
    let e = invalid(
        s.merge_customers(c.id, c.version, d.id, d.version, &MergePolicy::default()),
        "30 e-mails",
    );
    assert_eq!(e.field, "emails");

    let bob = s
        .create_user(NewUser::new("Bob", "bob@example.com"))
        .expect("bob");
    let x = s.create_customer(NewCustomer::person("Linus")).expect("x");
    let y = s
        .create_customer(NewCustomer::person("Linus T.").owner(bob.id))
        .expect("y");
    s.deactivate_user(bob.id, bob.version).expect("deactivate");
    let e = invalid(
        s.merge_customers(
            x.id,
            x.version,
            y.id,
            y.version,
            &MergePolicy::default().owner(Keep::Merged),
        ),
        "a deactivated owner taken from the merged customer",
    );
    assert_eq!(e.field, "owner");
    assert!(e.reason.contains("deactivated"), "{e}");
    assert_eq!(all_events(crm.store()).len(), before + 6, "a refusal wrote");
    // Keeping the survivor's owner, the same merge goes through.
    let kept = s
        .merge_customers(x.id, x.version, y.id, y.version, &MergePolicy::default())
        .expect("merge");
    assert_eq!(kept.owner, None);
}
