//! Request and record types refuse fields they do not know, naming the
//! field, instead of silently dropping a misspelled one; amounts and ids
//! say what form they expect.
//!
//! Each case takes a valid serialised value, adds a misspelled key at one
//! place in it, and checks that deserialising fails with a message naming
//! that key. A last test reads the sources and fails when a type deriving
//! `Deserialize` lacks `deny_unknown_fields`, so a new type cannot slip in.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crm_core::automation::{Action, Trigger};
use crm_core::custom_field::{FieldDef, FieldType};
use crm_core::query::{ActivityQuery, CustomerQuery, DealQuery, EventQuery, PageRequest};
use crm_core::{
    Actor, CustomerId, CustomerPatch, DealPatch, EntityKind, Money, NewActivity, NewCustomer,
    NewDeal, NewTeam, NewUser, PipelineDef, PipelineId, UserPatch,
};

/// Serialises `value`, inserts `bad: 1` into the object at `at` (a list
/// of keys and array indexes from the root), and checks that `T` refuses
/// the result naming `bad`.
fn refuses<T: Serialize + DeserializeOwned>(value: &T, at: &[&str], bad: &str) {
    let mut v = serde_json::to_value(value).expect("serialise");
    refuses_value::<T>(&mut v, at, bad);
}

fn refuses_value<T: DeserializeOwned>(v: &mut Value, at: &[&str], bad: &str) {
    // The unmodified value is accepted: the failure below is the key's.
    serde_json::from_value::<T>(v.clone()).unwrap_or_else(|e| panic!("valid form refused: {e}"));
    let mut node = &mut *v;
    for step in at {
        node = match step.parse::<usize>() {
            Ok(i) => &mut node[i],
            Err(_) => &mut node[*step],
        };
    }
    let shown = node.to_string();
    node.as_object_mut()
        .unwrap_or_else(|| panic!("not an object at {at:?}: {shown}"))
        .insert(bad.to_owned(), json!(1));
    let err = match serde_json::from_value::<T>(v.clone()) {
        Ok(_) => panic!("{bad:?} at {at:?} was accepted"),
        Err(e) => e.to_string(),
    };
    // serde says "unknown field `x`"; an adjacently tagged enum (the
    // actor) says "invalid value: string \"x\"": both name it.
    assert!(
        err.contains(&format!("unknown field `{bad}`"))
            || err.contains(&format!("string \"{bad}\"")),
        "{bad:?} at {at:?}: {err}"
    );
}

fn customer_id() -> CustomerId {
    "0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1e".parse().expect("id")
}

#[test]
fn customers() {
    refuses(
        &NewCustomer::person("Ada").email("ada@example.com"),
        &[],
        "emial",
    );
    refuses(&CustomerPatch::default().name("V"), &[], "nmae");
}

#[test]
fn deals_and_money() {
    let pipeline: PipelineId = "0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1f".parse().expect("id");
    let amount = Money::parse("100", "EUR").expect("money");
    let deal = NewDeal::new(customer_id(), pipeline, "Robots").amount(amount);
    refuses(&deal, &[], "ammount");
    refuses(&deal, &["amount"], "ammount");
    refuses(&DealPatch::default(), &[], "ammount");
}

#[test]
fn activities() {
    refuses(
        &NewActivity::new(crm_core::ActivityKind::Note, "Called").customer(customer_id()),
        &[],
        "bdy",
    );
}

#[test]
fn queries_and_filters() {
    refuses(&CustomerQuery::default(), &[], "fitler");
    refuses(&CustomerQuery::default(), &["filter"], "tgs");
    refuses(&DealQuery::default(), &["filter"], "stge");
    refuses(&ActivityQuery::default(), &["filter"], "knd");
    refuses(&EventQuery::default(), &["filter"], "entty");
    refuses(&PageRequest::default(), &[], "limt");
}

#[test]
fn pipelines_and_stages() {
    let def = PipelineDef::sales_template("Sales");
    refuses(&def, &[], "nme");
    refuses(&def, &["stages", "0"], "probabilty");
}

#[test]
fn users_teams_and_custom_fields() {
    refuses(&NewUser::new("Maria", "maria@example.com"), &[], "rols");
    refuses(&UserPatch::default(), &[], "emial");
    refuses(&NewTeam::new("North"), &[], "mangaer");
    refuses(
        &FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold"]),
        &[],
        "requird",
    );
}

#[test]
fn automation_triggers_and_actions() {
    refuses(
        &Trigger::RecordCreated {
            entity: EntityKind::Customer,
        },
        &["record_created"],
        "entty",
    );
    refuses(&Action::AddTag { tag: "vip".into() }, &["add_tag"], "tga");
}

#[test]
fn segment_expressions() {
    let expr = crm_core::segment::parse("lifecycle = customer").expect("parse");
    refuses(&expr, &["pred"], "tset");
}

#[test]
fn options() {
    refuses(&crm_core::kpi::KpiFilter::default(), &[], "ownr");
    refuses(&crm_core::import::ImportOptions::default(), &[], "polcy");
    refuses(
        &crm_core::duplicate::DuplicateOptions::default(),
        &[],
        "rulez",
    );
    refuses(&crm_core::merge::MergePolicy::default(), &[], "kep");
    refuses(&crm_core::predict::FitOptions::default(), &[], "l2");
}

#[test]
fn actors() {
    let mut v = json!({"type": "system"});
    refuses_value::<Actor>(&mut v, &[], "idd");
}

#[test]
fn amounts_say_what_form_they_expect() {
    let err = serde_json::from_value::<Money>(json!({"amount": 100, "currency": "EUR"}))
        .expect_err("a number")
        .to_string();
    assert!(
        err.contains("expected a decimal string such as \"1250.50\""),
        "{err}"
    );
    let err = serde_json::from_value::<Money>(json!({"amount": "1,250", "currency": "EUR"}))
        .expect_err("a comma")
        .to_string();
    assert!(err.contains("'1,250' is not a decimal amount"), "{err}");
    // 29 decimal places cannot be held exactly: refused, not rounded.
    let err = serde_json::from_value::<Money>(
        json!({"amount": "0.00000000000000000000000000001", "currency": "EUR"}),
    )
    .expect_err("too precise")
    .to_string();
    assert!(err.contains("29 decimal places"), "{err}");
    let m: Money =
        serde_json::from_value(json!({"amount": "1250.50", "currency": "EUR"})).expect("valid");
    assert_eq!(m, Money::parse("1250.50", "EUR").expect("money"));
}

#[test]
fn ids_say_what_form_they_expect() {
    let err = serde_json::from_value::<CustomerId>(json!(5))
        .expect_err("a number")
        .to_string();
    assert!(
        err.contains("expected a CustomerId (a UUID string such as"),
        "{err}"
    );
    let err = serde_json::from_value::<CustomerId>(json!("nope"))
        .expect_err("not a uuid")
        .to_string();
    assert!(err.contains("'nope' is not a valid CustomerId"), "{err}");
    let id: CustomerId = serde_json::from_value(json!(customer_id())).expect("round trip");
    assert_eq!(id, customer_id());
}

/// Every struct (and every enum with struct variants or a tag) deriving
/// `Deserialize` in crm-core refuses unknown fields. Newtypes
/// (`transparent`, `try_from`) and tuple or unit structs have no fields to
/// misspell.
#[test]
fn every_deserialisable_type_denies_unknown_fields() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut missing = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(root)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if !path.ends_with("testing") {
                    stack.push(path);
                }
                continue;
            }
            if path.extension().is_some_and(|e| e == "rs") {
                check_file(&path, &mut missing);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "add #[serde(deny_unknown_fields)] to: {missing:#?}"
    );
}

fn check_file(path: &std::path::Path, missing: &mut Vec<String>) {
    let text = std::fs::read_to_string(path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let l = line.trim();
        if !(l.starts_with("#[derive(") && l.contains("Deserialize")) {
            continue;
        }
        let mut attrs = String::new();
        let mut j = i + 1;
        while j < lines.len() {
            let t = lines[j].trim();
            if t.starts_with("pub struct ")
                || t.starts_with("struct ")
                || t.starts_with("pub enum ")
                || t.starts_with("enum ")
                || t.starts_with("pub(crate) struct ")
                || t.starts_with("pub(crate) enum ")
            {
                break;
            }
            attrs.push_str(t);
            j += 1;
        }
        let Some(item) = lines.get(j).map(|s| s.trim()) else {
            continue;
        };
        if attrs.contains("deny_unknown_fields")
            || attrs.contains("transparent")
            || attrs.contains("try_from")
        {
            continue;
        }
        let needs = if item.contains("struct ") {
            let head = item.split('{').next().unwrap_or(item);
            !(head.contains('(') || item.ends_with(';'))
        } else {
            let body: Vec<&str> = lines[j + 1..]
                .iter()
                .take_while(|l| !l.starts_with('}'))
                .copied()
                .collect();
            attrs.contains("tag =")
                || body.iter().any(|l| {
                    let t = l.trim_start();
                    l.len() - t.len() == 4
                        && t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                        && t.trim_end().ends_with('{')
                })
        };
        if needs {
            missing.push(format!("{}:{}: {item}", path.display(), j + 1));
        }
    }
}
