//! `*.upsert`, `*.get_by_key`, `customer.find_by_phone`,
//! `customer.find_by_domain` and `external_key.*` through `crm_call`.

use serde_json::json;

use super::{call, ok, open, pipeline_def, status};
use crate::status::CrmStatus;

#[test]
fn upserts_and_lookups_by_key() {
    let e = open(":memory:");
    let key = json!({"system": "shop", "key": "C-1"});
    let up = json!({"key": key, "record": {"kind": "person", "name": "Ada", "phones": ["+49 30 1234567"]}});
    let first = ok(&e, "customer.upsert", up.clone());
    assert_eq!(first["outcome"], "created");
    assert_eq!(first["record"]["version"], 1);
    let again = ok(&e, "customer.upsert", up);
    assert_eq!(again["outcome"], "unchanged");
    assert_eq!(again["record"]["version"], 1);
    let id = first["record"]["id"].clone();
    assert_eq!(ok(&e, "customer.get_by_key", key.clone())["id"], id);
    assert_eq!(
        ok(&e, "external_key.list", json!({"record": {"customer": id}})),
        json!([{"system": "shop", "key": "C-1"}])
    );
    // Modes, as status codes.
    let stale = json!({"key": {"system": "shop", "key": "C-2"}, "mode": "update_only",
        "record": {"kind": "person", "name": "Ghost"}});
    assert_eq!(status(&e, "customer.upsert", stale), CrmStatus::NotFound);
    let dup =
        json!({"key": key, "mode": "create_only", "record": {"kind": "person", "name": "Ada"}});
    assert_eq!(status(&e, "customer.upsert", dup), CrmStatus::Conflict);
    let cas =
        json!({"key": key, "expected_version": 7, "record": {"kind": "person", "name": "Ada L."}});
    assert_eq!(status(&e, "customer.upsert", cas), CrmStatus::Conflict);
    assert_eq!(
        status(
            &e,
            "customer.get_by_key",
            json!({"system": "shop", "key": "nope"})
        ),
        CrmStatus::NotFound
    );
    let st = status(
        &e,
        "customer.get_by_key",
        json!({"system": "bad system", "key": "1"}),
    );
    assert!(
        matches!(st, CrmStatus::InvalidInput | CrmStatus::InvalidJson),
        "{st:?}"
    );
    assert_eq!(ok(&e, "customer.count", json!({}))["count"], 1);

    // Caller ID.
    let found = ok(
        &e,
        "customer.find_by_phone",
        json!({"number": "030 1234567", "default_region": "DE"}),
    );
    assert_eq!(found.as_array().map(|a| a.len()), Some(1));
    assert_eq!(found[0]["id"], id);
    assert_eq!(
        status(
            &e,
            "customer.find_by_phone",
            json!({"number": "030 1234567"})
        ),
        CrmStatus::InvalidInput
    );
    let org = ok(
        &e,
        "customer.create",
        json!({"kind": "organisation", "name": "ACME", "emails": ["info@acme.example"]}),
    );
    let orgs = ok(
        &e,
        "customer.find_by_domain",
        json!({"domain": "x@acme.example"}),
    );
    assert_eq!(orgs[0]["id"], org["id"]);

    // Deals and activities.
    let p = ok(&e, "pipeline.create", pipeline_def());
    let dkey = json!({"system": "erp", "key": "O-1"});
    let deal =
        json!({"key": dkey, "record": {"customer": id, "pipeline": p["id"], "title": "Robots"}});
    let d = ok(&e, "deal.upsert", deal.clone());
    assert_eq!(d["outcome"], "created");
    assert_eq!(ok(&e, "deal.upsert", deal)["outcome"], "unchanged");
    assert_eq!(ok(&e, "deal.get_by_key", dkey)["id"], d["record"]["id"]);
    let akey = json!({"system": "mail", "key": "<m1@example.org>"});
    let note = json!({"key": akey, "record": {"kind": "note", "subject": "Hi", "customer": id}});
    let a = ok(&e, "activity.upsert", note.clone());
    assert_eq!(ok(&e, "activity.upsert", note)["outcome"], "unchanged");
    assert_eq!(ok(&e, "activity.get_by_key", akey)["id"], a["record"]["id"]);

    // external_key.set bumps the version once; a taken key is a conflict.
    let set = json!({"record": {"customer": org["id"]}, "version": 1,
        "keys": [{"system": "shop", "key": "C-9"}]});
    assert_eq!(ok(&e, "external_key.set", set)["version"], 2);
    let taken = json!({"record": {"customer": org["id"]}, "version": 2, "keys": [key]});
    assert_eq!(status(&e, "external_key.set", taken), CrmStatus::Conflict);
    let (_, message) = call(&e, "external_key.set", json!({"record": {"customer": org["id"]}, "version": 2, "keys": [{"system": "shop", "key": "C-1"}]})).unwrap_err();
    assert!(message.contains("shop:C-1"), "{message}");
}

#[test]
fn upserts_run_as_batch_steps() {
    let e = open(":memory:");
    let step = |k: &str| json!({"op": "customer.upsert", "request": {"key": {"system": "shop", "key": k}, "record": {"kind": "person", "name": k}}});
    let r = ok(
        &e,
        "batch",
        json!({"steps": [step("a"), step("b"), step("a")]}),
    );
    let text = r.to_string();
    assert!(text.contains("\"created\""), "{text}");
    assert!(text.contains("\"unchanged\""), "{text}");
    assert_eq!(ok(&e, "customer.count", json!({}))["count"], 2);
}

#[test]
fn idempotency_keys_through_create() {
    let e = open(":memory:");
    let req = json!({"kind": "person", "name": "Ada", "idempotency_key": "req-1"});
    let a = ok(&e, "customer.create", req.clone());
    let b = ok(&e, "customer.create", req);
    assert_eq!(a, b);
    assert_eq!(ok(&e, "customer.count", json!({}))["count"], 1);
}
