//! Strict requests and structured errors through the exported functions:
//! unknown fields refused by name, JSON syntax vs shape, positional
//! arrays, bounded echoes and request sizes, quiet panics, rule names and
//! `crm_last_error_json`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use serde_json::{Value, json};

use crate::api::*;
use crate::status::CrmStatus;

const SYSTEM: &str = r#"{"type":"system"}"#;

struct Eng(*mut CrmEngine);

impl Drop for Eng {
    fn drop(&mut self) {
        // SAFETY: opened by `open` below, closed once.
        unsafe { crm_close(self.0) };
    }
}

fn open() -> Eng {
    let mut e = ptr::null_mut();
    // SAFETY: valid string and out pointer.
    let st = unsafe { crm_open(c":memory:".as_ptr(), &mut e) };
    assert_eq!(st, CrmStatus::Ok);
    Eng(e)
}

fn last_error() -> String {
    // SAFETY: never NULL, valid until the next call on this thread.
    unsafe { CStr::from_ptr(crm_last_error()) }
        .to_str()
        .unwrap()
        .to_owned()
}

fn last_error_json() -> Value {
    // SAFETY: as above.
    let text = unsafe { CStr::from_ptr(crm_last_error_json()) }
        .to_str()
        .unwrap()
        .to_owned();
    serde_json::from_str(&text).unwrap()
}

/// Calls `op` with raw request text; on failure returns the status, the
/// message and the structured error.
fn raw(e: &Eng, op: &[u8], request: &[u8]) -> Result<Value, (CrmStatus, String, Value)> {
    let op = CString::new(op).unwrap();
    let request = CString::new(request).unwrap();
    let actor = CString::new(SYSTEM).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: all pointers valid for the call.
    let st = unsafe { crm_call(e.0, actor.as_ptr(), op.as_ptr(), request.as_ptr(), &mut out) };
    if st != CrmStatus::Ok {
        return Err((st, last_error(), last_error_json()));
    }
    assert_eq!(last_error_json(), Value::Null, "null after a success");
    // SAFETY: a response string from the library, freed once.
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
    unsafe { crm_string_free(out) };
    Ok(serde_json::from_str(&text).unwrap())
}

fn ok(e: &Eng, op: &str, request: Value) -> Value {
    raw(e, op.as_bytes(), request.to_string().as_bytes())
        .unwrap_or_else(|(st, m, _)| panic!("{op}: {st:?}: {m}"))
}

fn fails(e: &Eng, op: &str, request: &str) -> (CrmStatus, String, Value) {
    match raw(e, op.as_bytes(), request.as_bytes()) {
        Ok(v) => panic!("{op} {request} should fail, gave {v}"),
        Err(f) => f,
    }
}

fn customer(e: &Eng) -> Value {
    ok(
        e,
        "customer.create",
        json!({"kind": "person", "name": "Ada"}),
    )
}

#[test]
fn misspelled_fields_are_refused_by_name() {
    let e = open();
    let c = customer(&e);
    let req = json!({"id": c["id"], "version": c["version"], "patch": {"nmae": "V"}});
    let (st, m, j) = fails(&e, "customer.update", &req.to_string());
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(m.contains("patch.nmae: unknown field `nmae`"), "{m}");
    assert_eq!(j["path"], "patch.nmae");
    assert_eq!(
        ok(&e, "customer.get", json!({"id": c["id"]}))["name"],
        "Ada"
    );

    let (st, m, _) = fails(&e, "customer.list", r#"{"filter": {"tgs": "x"}}"#);
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(m.contains("unknown field `tgs`"), "{m}");
    let (st, m, _) = fails(
        &e,
        "customer.create",
        r#"{"kind": "person", "name": "Bo", "emial": "bo@example.com"}"#,
    );
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(m.contains("unknown field `emial`"), "{m}");
}

#[test]
fn syntax_is_invalid_json_and_shape_is_invalid_input_with_a_path() {
    let e = open();
    let c = customer(&e);
    let p = ok(
        &e,
        "pipeline.create",
        json!({"name": "Sales", "stages": [
            {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
            {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
            {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"}]}),
    );
    let (st, m, _) = fails(&e, "customer.create", r#"{"kind": "#);
    assert_eq!(st, CrmStatus::InvalidJson, "{m}");
    assert!(m.contains("line 1"), "{m}");

    let (st, m, j) = fails(&e, "customer.create", r#"{"kind": 1, "name": "x"}"#);
    assert_eq!(st, CrmStatus::InvalidInput, "{m}");
    assert!(m.starts_with("request_json: kind: expected"), "{m}");
    assert!(m.contains("found the number 1"), "{m}");
    assert_eq!(j["path"], "kind");

    let (st, m, _) = fails(&e, "customer.list", r#"{"filter": {"lifecycle": 5}}"#);
    assert_eq!(st, CrmStatus::InvalidInput, "{m}");
    assert!(m.contains("filter.lifecycle"), "{m}");

    let deal = format!(
        r#"{{"customer": "{}", "pipeline": "{}", "title": "T", "amount": {{"amount": 100, "currency": "EUR"}}}}"#,
        c["id"].as_str().unwrap(),
        p["id"].as_str().unwrap()
    );
    let (st, m, j) = fails(&e, "deal.create", &deal);
    assert_eq!(st, CrmStatus::InvalidInput);
    assert_eq!(
        m,
        "request_json: amount.amount: expected a decimal string such as \"1250.50\", found the number 100"
    );
    assert_eq!(j["path"], "amount.amount");
    assert_eq!(j["status_name"], "CRM_STATUS_INVALID_INPUT");

    // 1e999 is valid JSON that fits no number type: a shape error.
    let (st, m, _) = fails(&e, "deal.win", r#"{"id": "x", "version": 1e999}"#);
    assert_eq!(st, CrmStatus::InvalidInput, "{m}");

    let (st, m, _) = fails(&e, "deal.get", r#"{"id": 7}"#);
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(
        m.contains("expected a DealId (a UUID string such as"),
        "{m}"
    );
}

#[test]
fn positional_arrays_are_refused() {
    let e = open();
    let (st, m, _) = fails(&e, "customer.create", r#"["person", "Ada"]"#);
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(m.contains("must be a JSON object"), "{m}");
    assert!(m.contains("positional"), "{m}");
    let (st, _, _) = fails(&e, "customer.list", "5");
    assert_eq!(st, CrmStatus::InvalidInput);
}

#[test]
fn nested_positional_arrays_are_refused_naming_the_path() {
    let e = open();
    let id = "01900000-0000-7000-8000-000000000001";
    // Each of these was accepted: serde reads an array as a struct's
    // fields in order.
    for (op, request, path) in [
        (
            "customer.create",
            r#"{"kind": "person", "name": "x", "custom": {"m": {"type": "money", "value": ["1", "EUR"]}}}"#
                .to_owned(),
            "custom.m.value",
        ),
        (
            "deal.create",
            format!(
                r#"{{"customer": "{id}", "pipeline": "{id}", "title": "x", "amount": ["100", "EUR"]}}"#
            ),
            "amount",
        ),
        ("customer.list", r#"{"filter": []}"#.to_owned(), "filter"),
        ("customer.count", r#"{"filter": ["x"]}"#.to_owned(), "filter"),
        (
            "customer.update",
            format!(r#"{{"id": "{id}", "version": 1, "patch": ["y"]}}"#),
            "patch",
        ),
        (
            "rule.create",
            r#"{"name": "r", "trigger": {"deal_idle": [3]}, "actions": []}"#.to_owned(),
            "trigger.deal_idle",
        ),
    ] {
        let (st, m, err) = fails(&e, op, &request);
        assert_eq!(st, CrmStatus::InvalidInput, "{op} {request}: {m}");
        assert!(m.contains("found an array"), "{op} {request}: {m}");
        assert!(m.contains("name the fields"), "{op} {request}: {m}");
        assert_eq!(err["path"], path, "{op} {request}: {err}");
    }
    // A segment expression's JSON tree is read as strictly.
    let (st, m, _) = fails(
        &e,
        "segment.create",
        r#"{"name": "VIP", "expression": {"pred": [{"name": "tags"}, {"contains": {"value": {"tag": "vip"}}}]}}"#,
    );
    assert_eq!(st, CrmStatus::InvalidInput, "{m}");
    assert!(m.contains("found an array"), "{m}");
    ok(
        &e,
        "segment.create",
        json!({"name": "VIP", "expression": {"pred": {"field": {"name": "tags"},
               "test": {"contains": {"value": {"tag": "vip"}}}}}}),
    );
    // Arrays where a list is asked for stay arrays.
    ok(
        &e,
        "customer.create",
        json!({"kind": "person", "name": "x", "emails": ["a@b.example"], "tags": ["t"]}),
    );
}

#[test]
fn batches_have_a_bounded_number_of_steps() {
    let e = open();
    let step = r#"{"op": "customer.create", "request": {"kind": "person", "name": "x"}}"#;
    let steps = |n: usize| vec![step; n].join(",");
    let max = crm_core::limits::MAX_BATCH_STEPS;
    let (st, m, _) = fails(
        &e,
        "batch",
        &format!(r#"{{"steps": [{}]}}"#, steps(max + 1)),
    );
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(m.contains("at most 10000"), "{m}");
    let n = ok(&e, "customer.count", json!({}));
    assert_eq!(n["count"], 0, "nothing ran");
    ok(
        &e,
        "batch",
        serde_json::from_str(&format!(r#"{{"steps": [{}]}}"#, steps(3))).unwrap(),
    );
    assert_eq!(ok(&e, "customer.count", json!({}))["count"], 3);
}

#[test]
fn long_caller_values_are_not_echoed_whole() {
    let e = open();
    let op = "x".repeat(1_000_000);
    let (st, m, _) = fails(&e, &op, "{}");
    assert_eq!(st, CrmStatus::UnknownOperation);
    assert!(m.len() < 1000, "{} chars", m.len());
    assert!(m.contains("(1000000 chars)"), "{m}");

    // A long string in a request, echoed by serde, is cut too.
    let long = format!(r#"{{"kind": "{}", "name": "x"}}"#, "k".repeat(100_000));
    let (st, m, _) = fails(&e, "customer.create", &long);
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(m.chars().count() <= 4100, "{} chars", m.chars().count());
    assert!(m.contains("message cut from"), "{m}");
}

#[test]
fn requests_over_the_size_bound_are_refused() {
    let e = open();
    let big = format!(
        r#"{{"kind": "person", "name": "{}"}}"#,
        "a".repeat(CRM_MAX_REQUEST_BYTES)
    );
    let (st, m, _) = fails(&e, "customer.create", &big);
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(m.contains("CRM_MAX_REQUEST_BYTES"), "{m}");
}

#[test]
fn a_caught_panic_reports_its_location() {
    let e = open();
    let (st, m, j) = fails(&e, "test.panic", "{}");
    assert_eq!(st, CrmStatus::Internal);
    assert!(m.contains("deliberate"), "{m}");
    assert!(m.contains("(at crm-ffi/src/ops.rs:"), "{m}");
    assert_eq!(j["status"], 12);
}

#[test]
fn structured_errors_carry_the_typed_parts() {
    let e = open();
    let (st, _, j) = fails(
        &e,
        "customer.create",
        r#"{"kind": "person", "name": "Bo", "emails": ["not an email"]}"#,
    );
    assert_eq!(st, CrmStatus::InvalidInput);
    assert_eq!(j["status"], 5);
    assert_eq!(j["entity"], "customer");
    assert_eq!(j["field"], "emails[0]");
    assert_eq!(j["value"], "not an email");
    assert!(j["reason"].is_string());
    assert_eq!(j["id"], Value::Null);
    assert_eq!(j["path"], Value::Null);
    assert_eq!(j["rule"], Value::Null);
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(keys.len(), 10, "{keys:?}");

    let missing = "0190d5d0-0000-7000-8000-000000000000";
    let (st, _, j) = fails(&e, "deal.get", &json!({"id": missing}).to_string());
    assert_eq!(st, CrmStatus::NotFound);
    assert_eq!(j["entity"], "deal");
    assert_eq!(j["id"], missing);
}

#[test]
fn a_rule_failure_names_the_rule() {
    let e = open();
    let rule = ok(
        &e,
        "rule.create",
        json!({"name": "Churn new leads",
               "trigger": {"record_created": {"entity": "customer"}},
               "actions": [{"set_lifecycle": {"to": "churned"}}]}),
    );
    let (st, m, j) = fails(
        &e,
        "customer.create",
        r#"{"kind": "person", "name": "Ada"}"#,
    );
    assert_eq!(st, CrmStatus::TransitionRefused, "{m}");
    assert!(m.starts_with("automation rule 'Churn new leads'"), "{m}");
    assert_eq!(j["rule"]["name"], "Churn new leads");
    assert_eq!(j["rule"]["id"], rule["id"]);
    assert_eq!(
        j["id"],
        Value::Null,
        "the rolled-back customer is not named"
    );
    assert_eq!(j["field"], "lifecycle");
}
