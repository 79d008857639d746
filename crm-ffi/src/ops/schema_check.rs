//! The JSON Schemas against the table, the committed files and real
//! calls.
//!
//! - `schema/<op>.request.json` and `schema/<op>.response.json` are the
//!   table's schemas ([`docs_match_the_table_json_schemas`], blessed with
//!   the docs by `CRM_FFI_BLESS=1 cargo test -p crm-ffi docs_match_the_table`).
//! - In the tests, every successful `call` checks its request against the
//!   operation's request schema and its response against the response
//!   schema ([`conforms`]), so every request the crm-ffi tests send is an
//!   example the schemas must accept.
//! - Strictness carries over: every object a request schema describes
//!   refuses unknown properties, as `deny_unknown_fields` does.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

use super::coverage::{check_or_bless, manifest_dir};
use super::{OPERATIONS, Operation};

/// A compiled validator per operation and direction, built once.
fn validator(op: &'static Operation, request: bool) -> &'static jsonschema::Validator {
    type Cache = Mutex<HashMap<(&'static str, bool), &'static jsonschema::Validator>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache.entry((op.name, request)).or_insert_with(|| {
        let schema = if request {
            op.request_schema()
        } else {
            op.response_schema()
        };
        let v = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: the schema does not compile: {e}", op.name));
        Box::leak(Box::new(v))
    })
}

/// The reasons `instance` fails `op`'s request (or response) schema.
pub(super) fn violations(op: &'static Operation, request: bool, instance: &Value) -> Vec<String> {
    validator(op, request)
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Panics unless `request` (JSON text, as the caller sent it) is valid
/// against `op`'s request schema and `response` against its response
/// schema. Called by `call` in the tests after every success.
pub(super) fn conforms(op: &'static Operation, request: &str, response: &str) {
    let req: Value = serde_json::from_str(request).expect("an accepted request is JSON");
    let bad = violations(op, true, &req);
    assert!(
        bad.is_empty(),
        "{}: a request it accepted fails its request schema: {bad:#?}\nrequest: {req}",
        op.name
    );
    let resp: Value = serde_json::from_str(response).expect("a response is JSON");
    let bad = violations(op, false, &resp);
    assert!(
        bad.is_empty(),
        "{}: its response fails its response schema: {bad:#?}\nresponse: {}",
        op.name,
        cut(&resp.to_string())
    );
}

fn cut(s: &str) -> String {
    s.chars().take(2000).collect()
}

/// The committed schema file of `op`, as generated.
fn file_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serialises");
    text.push('\n');
    text
}

#[test]
fn docs_match_the_table_json_schemas() {
    let dir = manifest_dir().join("schema");
    if std::env::var_os("CRM_FFI_BLESS").is_some() {
        std::fs::create_dir_all(&dir).expect("create schema/");
    }
    let mut want = std::collections::BTreeSet::new();
    for o in OPERATIONS {
        for (suffix, schema) in [
            ("request", o.request_schema()),
            ("response", o.response_schema()),
        ] {
            let name = format!("{}.{suffix}.json", o.name);
            check_or_bless(&dir.join(&name), &file_text(&schema));
            want.insert(name);
        }
    }
    // No file left over from an operation that is gone.
    for entry in std::fs::read_dir(&dir).expect("read schema/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.ends_with(".json") && !want.contains(&name) {
            if std::env::var_os("CRM_FFI_BLESS").is_some() {
                std::fs::remove_file(&path).expect("remove a stale schema");
            } else {
                panic!("schema/{name} belongs to no operation; CRM_FFI_BLESS=1 removes it");
            }
        }
    }
}

/// Every subschema of `schema` that lists properties, with its JSON
/// pointer.
fn objects<'a>(schema: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match schema {
        Value::Object(o) => {
            if o.contains_key("properties") {
                out.push((at.clone(), schema));
            }
            for (k, v) in o {
                objects(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                objects(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn request_objects_refuse_unknown_fields() {
    for o in OPERATIONS {
        let schema = o.request_schema();
        let mut found = Vec::new();
        objects(&schema, String::new(), &mut found);
        for (at, s) in found {
            // A `properties` keyword inside `properties` is a field named
            // "properties", not a subschema.
            if at.ends_with("/properties/properties") {
                continue;
            }
            assert_eq!(
                s.get("additionalProperties"),
                Some(&json!(false)),
                "{}: the object at {at} accepts unknown fields",
                o.name
            );
        }
        // And the validator agrees on the top level.
        if schema.get("properties").is_some() {
            let mut probe = json!({"no_such_field": 1});
            // Fill the required fields with anything: the unknown one
            // must be named whatever the rest says.
            for r in schema["required"].as_array().into_iter().flatten() {
                probe[r.as_str().unwrap_or_default()] = json!(null);
            }
            let bad = violations(o, true, &probe);
            assert!(
                bad.iter().any(|m| m.contains("no_such_field")),
                "{}: an unknown field is not refused: {bad:?}",
                o.name
            );
        }
    }
}

#[test]
fn writes_take_at_and_reads_do_not() {
    for o in OPERATIONS {
        let schema = o.request_schema();
        assert_eq!(
            schema.get("type"),
            Some(&json!("object")),
            "{}: a request is an object",
            o.name
        );
        let at = &schema["properties"]["at"];
        if o.writes() {
            assert_eq!(at["format"], json!("date-time"), "{}", o.name);
        } else {
            assert!(at.is_null(), "{}: a read takes no \"at\"", o.name);
        }
    }
}

#[test]
fn custom_forms_are_described_truthfully() {
    let op = |name: &str| super::find(name).expect("op");
    let deal = op("deal.create").request_schema();
    let defs = &deal["$defs"];
    // Amounts are decimal strings, never numbers.
    let amount = &defs["Money"]["properties"]["amount"];
    assert_eq!(amount["type"], json!("string"), "{amount}");
    assert_eq!(amount["pattern"], json!(crm_core::schema::DECIMAL_PATTERN));
    let money = op("deal.create");
    let with_amount = |amount: Value| {
        json!({
            "customer": "0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1e",
            "pipeline": "0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1f",
            "title": "Boiler",
            "amount": {"amount": amount, "currency": "EUR"}
        })
    };
    assert!(violations(money, true, &with_amount(json!("1250.50"))).is_empty());
    assert!(!violations(money, true, &with_amount(json!(1250.5))).is_empty());
    assert!(!violations(money, true, &with_amount(json!("1,250.50"))).is_empty());
    // Ids are UUID strings.
    assert_eq!(deal["properties"]["customer"]["format"], json!("uuid"));
    let mut bad_id = with_amount(json!("1"));
    bad_id["customer"] = json!("c-1");
    assert!(!violations(money, true, &bad_id).is_empty());
    // A patch tells absent from null: both are allowed, neither required.
    let update = op("deal.update").request_schema();
    let patch = &update["$defs"]["DealPatch"];
    assert!(patch["required"].is_null(), "{patch}");
    let patch_ok = |p: Value| {
        violations(
            op("deal.update"),
            true,
            &json!({"id": "0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1e", "version": 1, "patch": p}),
        )
    };
    assert!(patch_ok(json!({})).is_empty());
    assert!(patch_ok(json!({"amount": null})).is_empty());
    assert!(patch_ok(json!({"amount": {"amount": "10", "currency": "EUR"}})).is_empty());
    assert!(!patch_ok(json!({"amount": 10})).is_empty());
    // Times and dates carry their formats.
    let at = &op("deal.move").request_schema()["properties"]["at"];
    assert_eq!(at["format"], json!("date-time"));
    let new_customers = op("kpi.new_customers").response_schema();
    assert_eq!(
        new_customers["propertyNames"]["format"],
        json!("date"),
        "{new_customers}"
    );
    // Tagged enums: the actor-style tag is a required property.
    let expr = &op("segment.create").request_schema();
    assert!(
        violations(
            op("segment.create"),
            true,
            &json!({"name": "VIPs", "expression": "tag = vip"})
        )
        .is_empty(),
        "{expr}"
    );
}

#[test]
fn ops_describe_gives_one_or_all_and_names_an_unknown_op() {
    let engine = crate::ops::Engine::new(
        Box::new(crm_store_memory::MemoryStore::new()) as Box<dyn crm_core::Store>
    );
    let one: Value = serde_json::from_str(
        &super::call(
            &engine,
            crm_core::Actor::System,
            "ops.describe",
            r#"{"op":"deal.move"}"#,
        )
        .expect("describe"),
    )
    .expect("json");
    assert_eq!(one["name"], json!("deal.move"));
    assert_eq!(one["writes"], json!(true));
    assert_eq!(one["batchable"], json!(true));
    assert_eq!(
        one["request_schema"]["required"],
        json!(["id", "version", "stage"])
    );
    assert_eq!(one["response_schema"]["x-rust-type"], json!("Deal"));
    let all: Value = serde_json::from_str(
        &super::call(&engine, crm_core::Actor::System, "ops.describe", "{}").expect("describe"),
    )
    .expect("json");
    assert_eq!(all.as_array().map(Vec::len), Some(OPERATIONS.len()));
    let err = super::call(
        &engine,
        crm_core::Actor::System,
        "ops.describe",
        r#"{"op":"deal.fly"}"#,
    )
    .expect_err("unknown op");
    assert_eq!(err.status, crate::status::CrmStatus::InvalidInput);
    assert!(err.message.contains("\"deal.fly\""), "{}", err.message);
}

#[test]
fn conforms_catches_a_request_or_response_of_another_shape() {
    let op = super::find("customer.get").expect("op");
    let id = r#"{"id":"0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1e"}"#;
    let wrong_response = std::panic::catch_unwind(|| conforms(op, id, r#"{"count": 1}"#));
    assert!(wrong_response.is_err());
    let wrong_request = std::panic::catch_unwind(|| conforms(op, r#"{"id": 7}"#, "{}"));
    assert!(wrong_request.is_err());
}

#[test]
fn one_of_two_fields_is_in_the_schema() {
    let import = super::find("customer.import").expect("op");
    assert!(violations(import, true, &json!({"csv": "name\n"})).is_empty());
    assert!(violations(import, true, &json!({"path": "/tmp/x.csv"})).is_empty());
    assert!(!violations(import, true, &json!({})).is_empty());
    assert!(!violations(import, true, &json!({"csv": "", "path": "/tmp/x.csv"})).is_empty());
}

/// Runs `op` as the system and returns the response, after checking it
/// (and the request) against the schemas explicitly.
fn checked(engine: &super::Engine, op: &str, request: Value) -> Value {
    let text = request.to_string();
    let response = super::call(engine, crm_core::Actor::System, op, &text)
        .unwrap_or_else(|f| panic!("{op}: {:?}: {}", f.status, f.message));
    let o = super::find(op).expect("op");
    let value: Value = serde_json::from_str(&response).expect("json");
    assert!(violations(o, true, &request).is_empty(), "{op} request");
    assert!(violations(o, false, &value).is_empty(), "{op} response");
    value
}

#[test]
fn representative_requests_and_real_responses_match_the_schemas() {
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-20T00:00:00Z")
        .expect("time")
        .to_utc();
    let engine = super::Engine::new(
        Box::new(crm_store_memory::MemoryStore::new()) as Box<dyn crm_core::Store>
    )
    .with_clock(crm_core::ManualClock::new(start));
    let e = &engine;
    let c = checked(
        e,
        "customer.create",
        json!({"kind": "person", "name": "Ada Lovelace", "emails": ["ada@example.org"],
               "at": "2025-01-10T09:00:00Z"}),
    );
    let got = checked(e, "customer.get", json!({"id": c["id"]}));
    assert_eq!(got["name"], json!("Ada Lovelace"));
    let page = checked(e, "customer.list", json!({"page": {"limit": 10}}));
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let p = checked(
        e,
        "pipeline.create",
        json!({"name": "Sales", "stages": [
            {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
            {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open",
             "guards": ["requires_amount"]},
            {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
            {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"}
        ]}),
    );
    let d = checked(
        e,
        "deal.create",
        json!({"customer": c["id"], "pipeline": p["id"], "title": "Boiler",
               "at": "2025-01-11T09:00:00Z"}),
    );
    let d = checked(
        e,
        "deal.update",
        json!({"id": d["id"], "version": d["version"],
               "patch": {"amount": {"amount": "1250.50", "currency": "EUR"}}}),
    );
    assert_eq!(d["amount"]["amount"], json!("1250.50"));
    let d = checked(
        e,
        "deal.move",
        json!({"id": d["id"], "version": d["version"], "stage": "proposal"}),
    );
    assert_eq!(d["stage"], json!("proposal"));
    checked(
        e,
        "deal.win",
        json!({"id": d["id"], "version": d["version"], "at": "2025-02-01T09:00:00Z"}),
    );
    let report = checked(e, "kpi.report", json!({"now": "2025-03-01T00:00:00Z"}));
    assert!(report.is_object());
    let rfm = checked(e, "segment.rfm", json!({"currency": "EUR"}));
    assert_eq!(rfm.as_array().map(Vec::len), Some(1), "{rfm}");
    let page = checked(
        e,
        "segment.rfm",
        json!({"currency": "EUR", "page": {"limit": 1}}),
    );
    assert_eq!(page["items"][0]["customer"], c["id"], "{page}");
    assert_eq!(page["next"], json!(null));
    let outbox = checked(e, "outbox.list", json!({"page": {"limit": 5}}));
    assert_eq!(outbox, json!({"items": [], "next": null}));
    let backup = checked(e, "backup.create", json!({}));
    assert!(backup["backup"].is_string());
    let batch = checked(
        e,
        "batch",
        json!({"steps": [
            {"op": "customer.create", "request": {"kind": "organisation", "name": "Acme"}},
            {"op": "deal.create", "request": {"customer": c["id"], "pipeline": p["id"],
                                              "title": "Second", "at": "2025-02-02T09:00:00Z"}}
        ]}),
    );
    assert_eq!(batch["results"].as_array().map(Vec::len), Some(2));
}

/// The calls the Python smoke test recorded (`CRM_FFI_RECORD=file python3
/// crm-ffi/tests/python/smoke.py`, as `.ci/run` does), each checked
/// against its operation's schemas. Without `CRM_FFI_CALLS` (the recorded
/// file) there is nothing to check and the test says so.
#[test]
fn recorded_calls_match_the_schemas() {
    let Some(path) = std::env::var_os("CRM_FFI_CALLS") else {
        eprintln!("CRM_FFI_CALLS is not set: no recorded calls to check");
        return;
    };
    let text = std::fs::read_to_string(&path).expect("read the recorded calls");
    let mut checked = 0;
    for (i, line) in text.lines().enumerate() {
        let call: Value = serde_json::from_str(line).expect("a recorded call is JSON");
        let name = call["op"].as_str().expect("op");
        let Some(op) = super::find(name) else {
            continue;
        };
        let bad = violations(op, true, &call["request"]);
        assert!(bad.is_empty(), "line {}: {name} request: {bad:#?}", i + 1);
        let bad = violations(op, false, &call["response"]);
        assert!(bad.is_empty(), "line {}: {name} response: {bad:#?}", i + 1);
        checked += 1;
    }
    assert!(checked > 0, "{}: no calls recorded", path.to_string_lossy());
}

#[test]
fn the_short_shapes_in_the_docs_name_every_request_field() {
    for o in OPERATIONS {
        // A type name (`NewCustomer`, `DealQuery`) stands for all its fields.
        if !o.request.starts_with('{') {
            continue;
        }
        let schema = o.request_schema();
        let Some(props) = schema["properties"].as_object() else {
            continue;
        };
        for name in props.keys().filter(|k| *k != "at") {
            assert!(
                o.request.contains(&format!("\"{name}\"")),
                "{}: the request field {name:?} is missing from the documented shape {}",
                o.name,
                o.request
            );
        }
    }
}
