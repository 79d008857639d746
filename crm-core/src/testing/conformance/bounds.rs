//! The size bounds of [`crate::limits`] that are not per record field:
//! pipelines, rules, custom field definitions and CSV imports. Each is
//! accepted at the bound, refused one past it naming the field and the
//! limit, and a refusal writes nothing.

use super::{all_events, engine};
use crate::automation::{Action, NewRule, Trigger};
use crate::custom_field::{FieldDef, FieldType};
use crate::import::ImportOptions;
use crate::limits;
use crate::pipeline::StageDef;
use crate::*;

fn invalid<T: std::fmt::Debug>(r: Result<T>, what: &str) -> ValidationError {
    match r {
        Err(Error::Invalid(v)) => v,
        other => panic!("{what}: expected a validation error, got {other:?}"),
    }
}

/// A pipeline of `open` open stages plus a won and a lost stage.
fn pipeline(name: &str, open: usize) -> PipelineDef {
    let mut def = PipelineDef::new(name);
    for i in 0..open {
        def = def.stage(StageDef::open(format!("s{i}"), format!("Stage {i}"), 10));
    }
    def.stage(StageDef::won("won", "Won"))
        .stage(StageDef::lost("lost", "Lost"))
}

/// Pipelines: name and stage names are texts with the name bound, and a
/// pipeline has at most [`limits::MAX_STAGES`] stages.
pub fn pipelines_are_bounded<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_pipeline(pipeline("Wide", limits::MAX_STAGES - 2))
        .expect("exactly the bound");
    let before = all_events(crm.store()).len();
    let e = invalid(
        s.create_pipeline(pipeline("Too wide", limits::MAX_STAGES - 1)),
        "51 stages",
    );
    assert_eq!(e.field, "stages");
    assert!(e.reason.contains("50"), "{e}");
    let e = invalid(
        s.create_pipeline(pipeline(&"p".repeat(limits::MAX_NAME_CHARS + 1), 1)),
        "long name",
    );
    assert_eq!(e.field, "name");
    let e = invalid(s.create_pipeline(pipeline("Sales\0", 1)), "NUL");
    assert_eq!(e.field, "name");
    let mut def = pipeline("Sales", 1);
    def.stages[0].name = "x".repeat(limits::MAX_NAME_CHARS + 1);
    let e = invalid(s.create_pipeline(def), "long stage name");
    assert_eq!(e.field, "stages[0].name");
    assert_eq!(all_events(crm.store()).len(), before, "a refusal wrote");
}

/// Rules: the texts their actions write are bounded when the rule is
/// saved (not when it fires), and a store holds at most
/// [`limits::MAX_RULES`] rules.
pub fn rules_are_bounded<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let long = "t".repeat(limits::MAX_NAME_CHARS + 1);
    for (action, field) in [
        (
            Action::CreateTask {
                title: long.clone(),
                due_in_days: 1,
            },
            "actions[0].title",
        ),
        (
            Action::CreateActivity {
                kind: ActivityKind::Call,
                subject: long.clone(),
                in_days: 1,
                assignee: Default::default(),
            },
            "actions[0].subject",
        ),
        (
            Action::Notify {
                text: "n".repeat(limits::MAX_NOTIFICATION_CHARS + 1),
                to: Default::default(),
            },
            "actions[0].text",
        ),
        (
            Action::Notify {
                text: "a\0b".into(),
                to: Default::default(),
            },
            "actions[0].text",
        ),
    ] {
        let e = invalid(
            s.create_rule(NewRule::new("R", Trigger::DealWon).action(action)),
            field,
        );
        assert_eq!(e.field, field);
    }
    for (trigger, field) in [
        (Trigger::DealStageChanged { to: long.clone() }, "trigger.to"),
        (
            Trigger::FieldChanged {
                entity: EntityKind::Deal,
                field: "title".into(),
                from: None,
                to: Some("x".repeat(limits::MAX_CUSTOM_TEXT_CHARS + 1)),
            },
            "trigger.to",
        ),
    ] {
        let e = invalid(
            s.create_rule(NewRule::new("R", trigger).action(Action::AddTag { tag: "x".into() })),
            field,
        );
        assert_eq!(e.field, field);
    }
    let rule = |i: usize| {
        NewRule::new(format!("R{i}"), Trigger::DealWon).action(Action::Notify {
            text: "n".repeat(limits::MAX_NOTIFICATION_CHARS),
            to: Default::default(),
        })
    };
    // One rule through the facade, the others stored directly (creating
    // a thousand rules one by one re-reads every rule each time).
    let first = s.create_rule(rule(0)).expect("a rule at the text bound");
    {
        let mut tx = crm.store().write().expect("write");
        for i in 1..limits::MAX_RULES - 1 {
            let mut r = first.clone();
            r.id = RuleId::from_uuid(uuid::Uuid::from_u128(0xbead_0000 + i as u128));
            r.name = format!("R{i}");
            tx.insert_rule(&r).expect("insert rule");
        }
        tx.commit().expect("commit");
    }
    s.create_rule(rule(limits::MAX_RULES - 1))
        .expect("the 1000th rule");
    assert_eq!(s.rules().expect("rules").len(), limits::MAX_RULES);
    let before = all_events(crm.store()).len();
    let e = invalid(s.create_rule(rule(limits::MAX_RULES)), "one rule too many");
    assert_eq!(e.field, "rules");
    assert!(e.reason.contains("at most 1000 rules"), "{e}");
    assert_eq!(all_events(crm.store()).len(), before, "a refusal wrote");
}

/// Custom field definitions: at most [`limits::MAX_CUSTOM_FIELDS`] per kind
/// of record, at most [`limits::MAX_ENUM_OPTIONS`] options per enum field,
/// each a single-line text of at most [`limits::MAX_NAME_CHARS`].
pub fn custom_field_definitions_are_bounded<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let fields = |n: usize| {
        (0..n)
            .map(|i| FieldDef::new(format!("f{i}"), format!("Field {i}"), FieldType::Text))
            .collect::<Vec<_>>()
    };
    let e = invalid(
        s.set_custom_fields(
            EntityKind::Customer,
            0,
            fields(limits::MAX_CUSTOM_FIELDS + 1),
        ),
        "101 fields",
    );
    assert_eq!(e.field, "custom_fields");
    let options = |n: usize| (0..n).map(|i| format!("o{i}")).collect::<Vec<_>>();
    let e = invalid(
        s.set_custom_fields(
            EntityKind::Deal,
            0,
            vec![
                FieldDef::new("tier", "Tier", FieldType::Enum)
                    .options(options(limits::MAX_ENUM_OPTIONS + 1)),
            ],
        ),
        "201 options",
    );
    assert_eq!(e.field, "custom_fields[0].options");
    let e = invalid(
        s.set_custom_fields(
            EntityKind::Deal,
            0,
            vec![FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold", "sil\0ver"])],
        ),
        "NUL in an option",
    );
    assert_eq!(e.field, "custom_fields[0].options[1]");
    let e = invalid(
        s.set_custom_fields(
            EntityKind::Deal,
            0,
            vec![FieldDef::new("tier", "Ti\ner", FieldType::Text)],
        ),
        "line break in a label",
    );
    assert_eq!(e.field, "custom_fields[0].label");
    s.set_custom_fields(EntityKind::Customer, 0, fields(limits::MAX_CUSTOM_FIELDS))
        .expect("exactly the field bound");
    s.set_custom_fields(
        EntityKind::Deal,
        0,
        vec![
            FieldDef::new("tier", "Tier", FieldType::Enum)
                .options(options(limits::MAX_ENUM_OPTIONS)),
        ],
    )
    .expect("exactly the option bound");
}

/// CSV imports: a header of more than [`limits::MAX_CSV_COLUMNS`] columns
/// refuses the import; a cell longer than [`limits::MAX_CSV_FIELD_BYTES`]
/// is a problem of its row and column. Nothing is written.
pub fn csv_imports_are_bounded<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let header: Vec<String> = std::iter::once("name".to_owned())
        .chain((1..=limits::MAX_CSV_COLUMNS).map(|i| format!("extra{i}")))
        .collect();
    let csv = format!("{}\nAda\n", header.join(","));
    let e = invalid(
        s.import_customers(csv.as_bytes(), &ImportOptions::default()),
        "257 columns",
    );
    assert_eq!(e.field, "csv.columns");
    assert!(e.reason.contains("256"), "{e}");
    let csv = format!(
        "name,tags\nAda,{}\nGrace,vip\n",
        "t".repeat(limits::MAX_CSV_FIELD_BYTES + 1)
    );
    let report = s
        .import_customers(csv.as_bytes(), &ImportOptions::default())
        .expect("the import runs");
    assert!(!report.written);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].column, "tags");
    assert_eq!(report.problems[0].row, 1);
    assert!(
        report.problems[0].reason.contains("at most 1048576"),
        "{:?}",
        report.problems
    );
    assert_eq!(
        s.count_customers(&CustomerFilter::default())
            .expect("count"),
        0
    );
}
