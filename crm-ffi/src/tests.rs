//! Tests through the exported functions, the way C calls them.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use serde_json::{Value, json};

use crate::api::*;
use crate::status::CrmStatus;

const SYSTEM: &str = r#"{"type":"system"}"#;

mod access;
mod external_keys;
mod feed;
mod import_plan;

struct Eng(*mut CrmEngine);

impl Drop for Eng {
    fn drop(&mut self) {
        // SAFETY: opened by `open` below, closed once.
        unsafe { crm_close(self.0) };
    }
}

// SAFETY: the engine is Send + Sync; the pointer is only shared for calls.
unsafe impl Send for Eng {}
unsafe impl Sync for Eng {}

fn open(path: &str) -> Eng {
    let p = CString::new(path).unwrap();
    let mut e = ptr::null_mut();
    // SAFETY: valid string and out pointer.
    let st = unsafe { crm_open(p.as_ptr(), &mut e) };
    assert_eq!(st, CrmStatus::Ok, "{}", last_error());
    assert!(!e.is_null());
    Eng(e)
}

fn last_error() -> String {
    // SAFETY: crm_last_error never returns NULL and the string lives until
    // the next call on this thread.
    unsafe { CStr::from_ptr(crm_last_error()) }
        .to_str()
        .unwrap()
        .to_owned()
}

/// Calls `op` with raw bytes for the actor and request.
fn call_raw(e: &Eng, actor: &[u8], op: &str, request: &[u8]) -> (CrmStatus, Option<Value>) {
    let actor = CString::new(actor).unwrap();
    let op = CString::new(op).unwrap();
    let request = CString::new(request).unwrap();
    let mut out: *mut c_char = ptr::null_mut();
    // SAFETY: all pointers valid for the call.
    let st = unsafe { crm_call(e.0, actor.as_ptr(), op.as_ptr(), request.as_ptr(), &mut out) };
    if st != CrmStatus::Ok {
        assert!(out.is_null(), "no response on failure");
        assert!(!last_error().is_empty(), "a failure has a message");
        return (st, None);
    }
    assert!(last_error().is_empty());
    // SAFETY: a response string from the library, freed once below.
    let text = unsafe { CStr::from_ptr(out) }.to_str().unwrap().to_owned();
    unsafe { crm_string_free(out) };
    (st, Some(serde_json::from_str(&text).unwrap()))
}

fn call_as(e: &Eng, actor: &str, op: &str, request: Value) -> Result<Value, (CrmStatus, String)> {
    match call_raw(e, actor.as_bytes(), op, request.to_string().as_bytes()) {
        (CrmStatus::Ok, Some(v)) => Ok(v),
        (st, _) => Err((st, last_error())),
    }
}

fn call(e: &Eng, op: &str, request: Value) -> Result<Value, (CrmStatus, String)> {
    call_as(e, SYSTEM, op, request)
}

fn ok(e: &Eng, op: &str, request: Value) -> Value {
    call(e, op, request).unwrap_or_else(|(st, m)| panic!("{op}: {st:?}: {m}"))
}

fn status(e: &Eng, op: &str, request: Value) -> CrmStatus {
    match call(e, op, request) {
        Ok(v) => panic!("{op} should fail, gave {v}"),
        Err((st, _)) => st,
    }
}

fn pipeline_def() -> Value {
    json!({
        "name": "Sales",
        "stages": [
            {"key": "lead", "name": "Lead", "probability": 10, "kind": "open"},
            {"key": "proposal", "name": "Proposal", "probability": 50, "kind": "open",
             "guards": ["requires_amount"]},
            {"key": "won", "name": "Won", "probability": 100, "kind": "won"},
            {"key": "lost", "name": "Lost", "probability": 0, "kind": "lost"}
        ]
    })
}

/// Creates a customer, a pipeline and a deal in its first stage.
fn setup(e: &Eng) -> (Value, Value, Value) {
    let c = ok(
        e,
        "customer.create",
        json!({"kind": "person", "name": "Ada Lovelace", "emails": ["ada@example.org"]}),
    );
    let p = ok(e, "pipeline.create", pipeline_def());
    let d = ok(
        e,
        "deal.create",
        json!({"customer": c["id"], "pipeline": p["id"], "title": "Engines"}),
    );
    (c, p, d)
}

fn event_count(e: &Eng) -> usize {
    ok(e, "event.list", json!({"page": {"limit": 10000}}))["items"]
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn version_and_status_names() {
    // SAFETY: static strings.
    let v = unsafe { CStr::from_ptr(crm_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    let name = |s| {
        unsafe { CStr::from_ptr(crm_status_name(s)) }
            .to_str()
            .unwrap()
    };
    assert_eq!(name(0), "CRM_STATUS_OK");
    assert_eq!(name(6), "CRM_STATUS_NOT_FOUND");
    assert_eq!(name(12), "CRM_STATUS_INTERNAL");
    assert_eq!(name(13), "CRM_STATUS_AUTOMATION_LOOP");
    assert_eq!(name(14), "CRM_STATUS_UNKNOWN");
    assert_eq!(name(-1), "CRM_STATUS_UNKNOWN");
}

#[test]
fn deal_workflow_in_memory() {
    let e = open(":memory:");
    let (c, p, d) = setup(&e);
    assert_eq!(c["name"], "Ada Lovelace");
    assert_eq!(p["stages"].as_array().unwrap().len(), 4);
    assert_eq!(d["stage"], "lead");
    assert_eq!(d["version"], 1);

    // The proposal stage requires an amount.
    let err = call(
        &e,
        "deal.move",
        json!({"id": d["id"], "version": 1, "stage": "proposal"}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::GuardFailed);
    assert!(err.1.contains("proposal"), "{}", err.1);

    let won = ok(&e, "deal.win", json!({"id": d["id"], "version": 1}));
    assert_eq!(won["stage"], "won");
    assert_eq!(won["version"], 2);
    // Won deals in a pipeline without reopening cannot move.
    let err = call(
        &e,
        "deal.move",
        json!({"id": d["id"], "version": 2, "stage": "lead"}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::TransitionRefused, "{}", err.1);
    // A stale version is a conflict.
    assert_eq!(
        status(
            &e,
            "deal.lose",
            json!({"id": d["id"], "version": 1, "reason": "price"})
        ),
        CrmStatus::Conflict
    );

    let got = ok(&e, "deal.get", json!({"id": d["id"]}));
    assert_eq!(got, won);
    // customer, pipeline, deal created, deal won: four events.
    assert_eq!(event_count(&e), 4);
}

#[test]
fn customers_update_and_list() {
    let e = open(":memory:");
    let (c, _, _) = setup(&e);
    let u = ok(
        &e,
        "customer.update",
        json!({"id": c["id"], "version": 1, "patch": {"name": "Ada King"}}),
    );
    assert_eq!(u["name"], "Ada King");
    assert_eq!(u["version"], 2);
    ok(
        &e,
        "customer.create",
        json!({"kind": "organisation", "name": "Analytical Engines Ltd"}),
    );
    let page = ok(&e, "customer.list", json!({"order": "name"}));
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada King", "Analytical Engines Ltd"]);
    assert!(page["next"].is_null());
}

#[test]
fn activities_segments_kpis_users() {
    let e = open(":memory:");
    let (c, _, d) = setup(&e);
    let task = ok(
        &e,
        "activity.log",
        json!({"kind": "task", "subject": "Send offer", "customer": c["id"], "deal": d["id"],
               "due_at": "2030-01-01T00:00:00Z"}),
    );
    let done = ok(
        &e,
        "activity.complete",
        json!({"id": task["id"], "version": 1}),
    );
    assert_eq!(done["version"], 2);
    assert!(!done["completed_at"].is_null(), "{done}");

    let seg = ok(
        &e,
        "segment.create",
        json!({"name": "Leads", "expression": "lifecycle = lead"}),
    );
    let r = ok(&e, "segment.evaluate", json!({"id": seg["id"]}));
    assert_eq!(r["count"], 1);
    assert_eq!(r["page"]["items"][0], c["id"]);
    let r = ok(
        &e,
        "segment.evaluate",
        json!({"expression": "lifecycle = customer"}),
    );
    assert_eq!(r["count"], 0);
    assert_eq!(
        status(
            &e,
            "segment.evaluate",
            json!({"expression": "lifecycle = = lead"})
        ),
        CrmStatus::InvalidInput
    );

    ok(&e, "deal.win", json!({"id": d["id"], "version": 1}));
    let report = ok(&e, "kpi.report", json!({}));
    // One deal, won, no owner: 1 won of 1 closed.
    assert_eq!(
        report["win_rate"],
        json!({"won": 1, "lost": 0, "rate": "1"})
    );
    assert_eq!(
        report["win_rate_by_owner"],
        json!([{"owner": null, "value": {"won": 1, "lost": 0, "rate": "1"}}])
    );
    assert!(report["activities"]["by_owner"].is_array(), "{report}");

    let user = ok(
        &e,
        "user.create",
        json!({"name": "Rita", "email": "rita@example.com", "roles": ["read_only"]}),
    );
    let team = ok(&e, "team.create", json!({"name": "North"}));
    assert_eq!(
        ok(&e, "team.get", json!({"id": team["id"]}))["name"],
        "North"
    );
    let rita = json!({"type": "user", "id": user["id"]}).to_string();
    // A read-only user may read but not write.
    assert_eq!(
        call_as(&e, &rita, "customer.get", json!({"id": c["id"]})).unwrap()["id"],
        c["id"]
    );
    let before = event_count(&e);
    let err = call_as(
        &e,
        &rita,
        "customer.create",
        json!({"kind": "person", "name": "Bo"}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::PermissionDenied, "{}", err.1);
    assert_eq!(event_count(&e), before, "nothing written");
    // An unknown user cannot act.
    let ghost = r#"{"type":"user","id":"0190d5d0-0000-7000-8000-000000000000"}"#;
    assert_eq!(
        call_as(&e, ghost, "customer.list", json!({}))
            .unwrap_err()
            .0,
        CrmStatus::PermissionDenied
    );
}

#[test]
fn null_arguments() {
    let e = open(":memory:");
    let s = CString::new(SYSTEM).unwrap();
    let op = CString::new("customer.list").unwrap();
    let mut sentinel: c_char = 0;
    let mut out: *mut c_char = &mut sentinel; // must be overwritten with NULL
    // SAFETY: NULLs are allowed and must be reported.
    unsafe {
        assert_eq!(
            crm_call(ptr::null(), s.as_ptr(), op.as_ptr(), ptr::null(), &mut out),
            CrmStatus::NullArgument
        );
        assert!(out.is_null());
        assert!(last_error().contains("engine"), "{}", last_error());
        assert_eq!(
            crm_call(e.0, ptr::null(), op.as_ptr(), ptr::null(), &mut out),
            CrmStatus::NullArgument
        );
        assert!(last_error().contains("actor_json"));
        assert_eq!(
            crm_call(e.0, s.as_ptr(), ptr::null(), ptr::null(), &mut out),
            CrmStatus::NullArgument
        );
        assert_eq!(
            crm_call(e.0, s.as_ptr(), op.as_ptr(), ptr::null(), ptr::null_mut()),
            CrmStatus::NullArgument
        );
        assert!(last_error().contains("response_json"));
        // NULL request means {}: the first page.
        assert_eq!(
            crm_call(e.0, s.as_ptr(), op.as_ptr(), ptr::null(), &mut out),
            CrmStatus::Ok
        );
        crm_string_free(out);
        let mut eng: *mut CrmEngine = std::ptr::NonNull::dangling().as_ptr();
        assert_eq!(crm_open(ptr::null(), &mut eng), CrmStatus::NullArgument);
        assert!(eng.is_null());
        assert_eq!(
            crm_open(c":memory:".as_ptr(), ptr::null_mut()),
            CrmStatus::NullArgument
        );
        crm_close(ptr::null_mut());
        crm_string_free(ptr::null_mut());
    }
}

#[test]
fn invalid_utf8_and_json() {
    let e = open(":memory:");
    let before = event_count(&e);
    let (st, _) = call_raw(
        &e,
        SYSTEM.as_bytes(),
        "customer.create",
        b"{\"kind\":\"person\",\"name\":\"\xff\"}",
    );
    assert_eq!(st, CrmStatus::InvalidUtf8);
    assert!(last_error().contains("request_json"), "{}", last_error());
    let (st, _) = call_raw(&e, b"\xc3", "customer.list", b"{}");
    assert_eq!(st, CrmStatus::InvalidUtf8);
    assert_eq!(
        status(&e, "customer.create", json!("x")),
        CrmStatus::InvalidInput
    );
    let (st, _) = call_raw(&e, SYSTEM.as_bytes(), "customer.create", b"{\"kind\":");
    assert_eq!(st, CrmStatus::InvalidJson);
    let (st, _) = call_raw(&e, b"{type: system}", "customer.list", b"{}");
    assert_eq!(st, CrmStatus::InvalidJson);
    assert!(last_error().contains("actor_json"), "{}", last_error());
    let (st, _) = call_raw(&e, br#"{"type":"robot"}"#, "customer.list", b"{}");
    assert_eq!(st, CrmStatus::InvalidInput);
    assert_eq!(event_count(&e), before, "nothing written");
}

#[test]
fn validation_unknown_ids_and_operations() {
    let e = open(":memory:");
    let (_, p, _) = setup(&e);
    let before = event_count(&e);
    let err = call(
        &e,
        "customer.create",
        json!({"kind": "person", "name": "Bo", "emails": ["not an email"]}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::InvalidInput);
    assert!(err.1.contains("emails"), "{}", err.1);
    let missing = "0190d5d0-0000-7000-8000-000000000000";
    assert_eq!(
        status(&e, "deal.get", json!({"id": missing})),
        CrmStatus::NotFound
    );
    // A reference to a missing record inside new input is a validation
    // error on that field.
    let err = call(
        &e,
        "deal.create",
        json!({"customer": missing, "pipeline": p["id"], "title": "x"}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::InvalidInput);
    assert!(err.1.contains("customer"), "{}", err.1);
    assert_eq!(
        status(&e, "deal.get", json!({"id": "nope"})),
        CrmStatus::InvalidInput
    );
    assert_eq!(
        status(&e, "deal.get", json!({"id": missing, "extra": 1})),
        CrmStatus::InvalidInput
    );
    let err = call(&e, "deal.explode", json!({})).unwrap_err();
    assert_eq!(err.0, CrmStatus::UnknownOperation);
    assert!(
        err.1.contains("deal.move"),
        "lists the known operations: {}",
        err.1
    );
    assert_eq!(event_count(&e), before, "nothing written");
}

#[test]
fn panics_are_caught() {
    let e = open(":memory:");
    let err = call(&e, "test.panic", json!({})).unwrap_err();
    assert_eq!(err.0, CrmStatus::Internal);
    assert!(err.1.contains("deliberate"), "{}", err.1);
    // The engine still works.
    ok(&e, "customer.list", json!({}));
}

#[test]
fn sqlite_file_keeps_records_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let path = path.to_str().unwrap().to_owned();
    let id = {
        let e = open(&path);
        ok(
            &e,
            "customer.create",
            json!({"kind": "person", "name": "Ada"}),
        )["id"]
            .clone()
    };
    let e = open(&path);
    assert_eq!(ok(&e, "customer.get", json!({"id": id}))["name"], "Ada");
    drop(e);

    // A file that is not a database is a storage error.
    let bad = dir.path().join("notes.txt");
    std::fs::write(&bad, b"hello, this is not sqlite at all, just some text").unwrap();
    let p = CString::new(bad.to_str().unwrap()).unwrap();
    let mut eng = ptr::null_mut();
    // SAFETY: valid pointers.
    assert_eq!(
        unsafe { crm_open(p.as_ptr(), &mut eng) },
        CrmStatus::Storage
    );
    assert!(eng.is_null());
    assert!(
        last_error().contains("not an SQLite database"),
        "{}",
        last_error()
    );
}

#[test]
fn one_engine_from_several_threads() {
    let e = open(":memory:");
    std::thread::scope(|s| {
        for t in 0..4 {
            let e = &e;
            s.spawn(move || {
                for i in 0..25 {
                    ok(
                        e,
                        "customer.create",
                        json!({"kind": "person", "name": format!("T{t} C{i}")}),
                    );
                }
                // Each thread has its own last error.
                assert_eq!(
                    status(e, "deal.get", json!({"id": "x"})),
                    CrmStatus::InvalidInput
                );
            });
        }
    });
    let page = ok(&e, "customer.list", json!({"page": {"limit": 1000}}));
    assert_eq!(page["items"].as_array().unwrap().len(), 100);
    assert!(last_error().is_empty());
}

#[test]
fn every_operation_is_dispatched_and_documented() {
    let header = include_str!("../include/crm.h");
    let e = open(":memory:");
    for op in crate::ops::OPERATIONS {
        let name = op.name;
        assert!(
            header.contains(&format!(" {name} ")),
            "{name} is missing from crm.h"
        );
        if let Err((st, msg)) = call(&e, name, json!({})) {
            assert_ne!(st, CrmStatus::UnknownOperation, "{name}: {msg}");
        }
    }
}

#[test]
fn reads_and_reopen() {
    let e = open(":memory:");
    let (c, p, d) = setup(&e);
    assert_eq!(ok(&e, "pipeline.get", json!({"id": p["id"]})), p);
    assert_eq!(
        ok(&e, "pipeline.list", json!({}))["items"][0]["id"],
        p["id"]
    );
    assert_eq!(ok(&e, "deal.list", json!({}))["items"][0]["id"], d["id"]);
    let a = ok(
        &e,
        "activity.log",
        json!({"kind": "note", "subject": "Met at the fair", "customer": c["id"]}),
    );
    assert_eq!(
        ok(&e, "activity.get", json!({"id": a["id"]}))["subject"],
        "Met at the fair"
    );
    assert_eq!(
        ok(&e, "activity.list", json!({}))["items"][0]["id"],
        a["id"]
    );
    let seg = ok(
        &e,
        "segment.create",
        json!({"name": "All", "expression": "lifecycle = lead"}),
    );
    assert_eq!(
        ok(&e, "segment.get", json!({"id": seg["id"]}))["name"],
        "All"
    );
    assert_eq!(
        ok(&e, "segment.list", json!({}))["items"][0]["id"],
        seg["id"]
    );
    let u = ok(
        &e,
        "user.create",
        json!({"name": "Sam", "email": "sam@example.com"}),
    );
    assert_eq!(ok(&e, "user.get", json!({"id": u["id"]}))["name"], "Sam");

    // Reopening needs a pipeline that allows it.
    let mut def = pipeline_def();
    def["name"] = json!("Renewals");
    def["allow_reopen"] = json!(true);
    let p2 = ok(&e, "pipeline.create", def);
    let d2 = ok(
        &e,
        "deal.create",
        json!({"customer": c["id"], "pipeline": p2["id"], "title": "Renewal"}),
    );
    let lost = ok(
        &e,
        "deal.lose",
        json!({"id": d2["id"], "version": 1, "reason": "budget"}),
    );
    assert_eq!(lost["stage"], "lost");
    let back = ok(&e, "deal.reopen", json!({"id": d2["id"], "version": 2}));
    assert_eq!(back["stage"], "lead");
    assert_eq!(back["version"], 3);
    // Reopening a deal that is open is a validation error (crm-core's
    // choice: the request is wrong, not the pipeline).
    assert_eq!(
        status(&e, "deal.reopen", json!({"id": d2["id"], "version": 3})),
        CrmStatus::InvalidInput
    );
}

// ----- predictive models -----

/// A database file with 300 customers' purchases over 2025 (the BG/NBD
/// process at the CDNOW parameters in days, deterministic), written with
/// crm-core at historical dates (the C ABI dates everything now).
fn purchase_history_db() -> (tempfile::TempDir, String) {
    use crm_core::predict::simulate::SplitMix64;
    use crm_core::{Actor, Crm, Currency, Money, NewCustomer, NewDeal, PipelineDef};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let crm = Crm::new(crm_store_sqlite::SqliteStore::open(&path).unwrap());
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Shop"))
        .unwrap();
    let t0 = chrono::DateTime::from_timestamp(1_735_732_800, 0).unwrap(); // 2025-01-01 12:00
    let mut rng = SplitMix64::new(99);
    s.batch(|b| {
        for i in 0..300 {
            let c = b.create_customer(NewCustomer::person(format!("C{i}")))?;
            let rate = rng.gamma(0.243) / 30.9;
            let drop = rng.beta(0.793, 2.426);
            let mut day = 182.0 * rng.uniform();
            let mut first = true;
            while day < 364.0 {
                b.set_time(Some(t0 + chrono::Duration::days(day as i64)));
                let amount = Money::new((20 + i % 40).into(), Currency::EUR);
                let d = b.create_deal(NewDeal::new(c.id, p.id, "order").amount(amount))?;
                b.win_deal(d.id, d.version)?;
                if !first && rng.uniform() < drop {
                    break;
                }
                first = false;
                day += -rng.uniform().ln() / rate;
            }
        }
        Ok(())
    })
    .unwrap();
    (dir, path.to_str().unwrap().to_owned())
}

#[test]
fn predict_fit_score_and_write_through_the_abi() {
    let (dir, path) = purchase_history_db();
    let e = open(&path);
    let obs = json!({"end": "2025-12-31T00:00:00Z", "currency": "EUR"});
    let clv = json!({"horizon": 12, "discount_period": 1, "unit": "month", "discount_rate": 0.01});

    let fit = ok(
        &e,
        "predict.fit",
        json!({"observation": obs, "unit": "week"}),
    );
    assert_eq!(fit["bg_nbd"]["customers"], 300);
    assert!(fit["bg_nbd"]["iterations"].as_u64().unwrap() > 2, "{fit}");
    // The iteration limit is the caller's: too few is a typed error that
    // says so.
    let short = call(
        &e,
        "predict.fit",
        json!({"observation": obs, "unit": "week", "max_iterations": 2}),
    )
    .unwrap_err();
    assert_eq!(short.0, CrmStatus::InvalidInput);
    assert!(short.1.contains("after 2 iterations"), "{}", short.1);
    let r = fit["bg_nbd"]["model"]["r"].as_f64().unwrap();
    assert!(r > 0.0, "{fit}");
    let repeat = fit["gamma_gamma"]["customers"].as_u64().unwrap();
    assert_eq!(
        repeat
            + fit["gamma_gamma"]["left_out"]["no_repeat_purchase"]
                .as_u64()
                .unwrap(),
        300
    );

    // Scores under the fitted parameters; a weekly model is also a daily
    // one with α seven times larger: the scores agree.
    let m = &fit["bg_nbd"]["model"];
    let g = &fit["gamma_gamma"]["model"];
    let weekly = ok(
        &e,
        "predict.score",
        json!({"observation": obs, "unit": "week", "bg_nbd": m, "gamma_gamma": g, "clv": clv}),
    );
    let mut daily_model = m.clone();
    daily_model["alpha"] = json!(m["alpha"].as_f64().unwrap() * 7.0);
    let daily = ok(
        &e,
        "predict.score",
        json!({"observation": obs, "unit": "day", "bg_nbd": daily_model, "gamma_gamma": g, "clv": clv}),
    );
    let (weekly, daily) = (weekly.as_array().unwrap(), daily.as_array().unwrap());
    assert_eq!(weekly.len(), 300);
    for (w, d) in weekly.iter().zip(daily) {
        let (pw, pd) = (
            w["p_alive"].as_f64().unwrap(),
            d["p_alive"].as_f64().unwrap(),
        );
        assert!((pw - pd).abs() < 1e-9, "{w} vs {d}");
        assert_eq!(w["clv"], d["clv"]);
    }
    // Parameters are checked: a negative r is refused, not scored.
    let mut bad = m.clone();
    bad["r"] = json!(-1.0);
    let err = call(
        &e,
        "predict.score",
        json!({"observation": obs, "bg_nbd": bad, "clv": clv}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::InvalidInput, "{}", err.1);
    assert!(err.1.contains("invalid r -1"), "{}", err.1);
    // A horizon that is not a whole number of periods is refused.
    let mut odd = clv.clone();
    odd["horizon"] = json!(12.5);
    assert_eq!(
        status(
            &e,
            "predict.score",
            json!({"observation": obs, "bg_nbd": m, "clv": odd})
        ),
        CrmStatus::InvalidInput
    );

    // Write the scores: one event; the fields then drive a segment.
    let before = event_count(&e);
    let run = ok(
        &e,
        "predict.write_scores",
        json!({"observation": obs, "unit": "week", "clv": clv}),
    );
    assert_eq!(run["written"], 300);
    assert_eq!(run["fields"]["clv"], "clv_12m", "{}", run["fields"]);
    assert_eq!(event_count(&e), before + 1);
    let gone: Vec<&Value> = weekly
        .iter()
        .filter(|s| s["p_alive"].as_f64().unwrap() < 0.5)
        .collect();
    assert!(!gone.is_empty());
    let seg = ok(
        &e,
        "segment.evaluate",
        json!({"expression": "field.p_alive < 0.5", "page": {"limit": 1000}}),
    );
    // p_alive is stored to 6 decimals: no score sits that close to 0.5.
    assert_eq!(seg["count"], gone.len(), "{seg}");
    drop(e);
    drop(dir);
}

#[test]
fn predict_errors_through_the_abi() {
    let e = open(":memory:");
    setup(&e);
    let obs = json!({"end": "2100-01-01T00:00:00Z", "currency": "EUR"});
    // No purchases: nothing to fit on, a typed error.
    let err = call(&e, "predict.fit", json!({"observation": obs})).unwrap_err();
    assert_eq!(err.0, CrmStatus::InvalidInput, "{}", err.1);
    assert!(err.1.contains("needs at least one customer"), "{}", err.1);
    // Unknown fields and units are refused before the engine runs.
    assert_eq!(
        status(
            &e,
            "predict.fit",
            json!({"observation": obs, "unit": "year"})
        ),
        CrmStatus::InvalidInput
    );
    assert_eq!(
        status(&e, "predict.fit", json!({"observation": obs, "penalty": 1})),
        CrmStatus::InvalidInput
    );
    let err = call(
        &e,
        "predict.fit",
        json!({"observation": obs, "max_iterations": 0}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::InvalidInput);
    assert!(err.1.contains("request.max_iterations 0"), "{}", err.1);
    let bad_offset =
        json!({"end": "2100-01-01T00:00:00Z", "currency": "EUR", "utc_offset_seconds": 90000});
    let err = call(&e, "predict.fit", json!({"observation": bad_offset})).unwrap_err();
    assert_eq!(err.0, CrmStatus::InvalidInput);
    assert!(err.1.contains("utc_offset_seconds"), "{}", err.1);
}

#[test]
fn a_won_deal_is_corrected_with_a_reason_and_the_store_verifies_clean() {
    let e = open(":memory:");
    let (_, _, d) = setup(&e);
    let won = ok(&e, "deal.win", json!({"id": d["id"], "version": 1}));
    let patch = json!({"amount": {"amount": "1200.00", "currency": "EUR"}});
    // A closed deal is frozen for deal.update ...
    let err = call(
        &e,
        "deal.update",
        json!({"id": d["id"], "version": won["version"], "patch": patch}),
    )
    .unwrap_err();
    assert_eq!(err.0, CrmStatus::InvalidInput, "{}", err.1);
    // ... and changed by deal.correct, whose event keeps the reason.
    let fixed = ok(
        &e,
        "deal.correct",
        json!({"id": d["id"], "version": won["version"], "patch": patch,
               "reason": "invoice 118 was 1200"}),
    );
    assert_eq!(fixed["amount"]["amount"], "1200.00");
    assert_eq!(fixed["stage"], "won");
    let events = ok(&e, "event.list", json!({"page": {"limit": 100}}));
    let last = events["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .to_string();
    assert!(last.contains("invoice 118 was 1200"), "{last}");
    // An empty reason is refused.
    assert_eq!(
        status(
            &e,
            "deal.correct",
            json!({"id": d["id"], "version": fixed["version"], "patch": patch, "reason": " "}),
        ),
        CrmStatus::InvalidInput
    );
    assert_eq!(ok(&e, "store.verify", json!({})), json!({"findings": []}));
    // Verifying needs an all-powerful actor.
    let rep = ok(
        &e,
        "user.create",
        json!({"name": "Rep", "email": "rep@example.com"}),
    );
    let actor = json!({"type": "user", "id": rep["id"]}).to_string();
    let err = call_as(&e, &actor, "store.verify", json!({})).unwrap_err();
    assert_eq!(err.0, CrmStatus::PermissionDenied, "{}", err.1);
}

#[test]
fn segments_rfm_and_abc_read_as_of_a_given_now() {
    let e = open(":memory:");
    let c = ok(
        &e,
        "customer.create",
        json!({"kind": "person", "name": "Ada"}),
    );
    let p = ok(&e, "pipeline.create", pipeline_def());
    let d = ok(
        &e,
        "deal.create",
        json!({"customer": c["id"], "pipeline": p["id"], "title": "Engines",
               "amount": {"amount": "100", "currency": "EUR"}, "at": "2024-01-01T00:00:00Z"}),
    );
    ok(
        &e,
        "deal.win",
        json!({"id": d["id"], "version": 1, "at": "2024-01-10T00:00:00Z"}),
    );
    let members = |now: &str| {
        ok(
            &e,
            "segment.evaluate",
            json!({"expression": "won_amount(EUR, 30d) > 0", "now": now}),
        )["count"]
            .clone()
    };
    assert_eq!(members("2024-01-20T00:00:00Z"), 1);
    // 30 days after the win (2024-02-09) it is still inside the window;
    // from 2024-02-10 the window starts after it.
    assert_eq!(members("2024-02-09T00:00:00Z"), 1);
    assert_eq!(members("2024-03-01T00:00:00Z"), 0);
    let rfm = |now: &str| {
        ok(
            &e,
            "segment.rfm",
            json!({"currency": "EUR", "window": {"days": 30}, "now": now}),
        )
        .as_array()
        .unwrap()
        .len()
    };
    assert_eq!(
        (rfm("2024-01-20T00:00:00Z"), rfm("2024-03-01T00:00:00Z")),
        (1, 0)
    );
    let abc = ok(
        &e,
        "segment.abc",
        json!({"currency": "EUR", "window": {"days": 30}, "now": "2024-01-20T00:00:00Z"}),
    );
    assert_eq!(abc.as_array().unwrap().len(), 1, "{abc}");
    assert_eq!(
        status(
            &e,
            "segment.evaluate",
            json!({"expression": "tag:x", "now": "yesterday"})
        ),
        CrmStatus::InvalidInput
    );
}

#[test]
fn batch_steps_use_earlier_steps_results() {
    let e = open(":memory:");
    let p = ok(&e, "pipeline.create", pipeline_def());
    let out = ok(
        &e,
        "batch",
        json!({"steps": [
            {"op": "customer.create", "request": {"kind": "person", "name": "Ada"}},
            {"op": "deal.create", "request": {
                "customer": {"$step": 0}, "pipeline": p["id"], "title": "Engines"}},
            {"op": "deal.update", "request": {
                "id": {"$step": 1}, "version": {"$step": 1, "field": "version"},
                "patch": {"amount": {"amount": "1200", "currency": "EUR"}}}},
            {"op": "deal.move", "request": {
                "id": {"$step": 2, "field": "id"}, "version": {"$step": 2, "field": "version"},
                "stage": "proposal"}},
            {"op": "activity.log", "request": {
                "kind": "note", "subject": {"$step": 3, "field": "history.0.to"},
                "customer": {"$step": 0}, "deal": {"$step": 3}}}
        ]}),
    );
    let r = out["results"].as_array().unwrap();
    let (c, d) = (&r[0], &r[3]);
    assert_eq!(r[1]["customer"], c["id"]);
    assert_eq!(d["id"], r[1]["id"]);
    assert_eq!(
        (d["stage"].as_str(), d["version"].as_u64()),
        (Some("proposal"), Some(3))
    );
    assert_eq!(d["amount"]["amount"], "1200");
    assert_eq!(r[4]["subject"], d["history"][0]["to"]);
    assert_eq!(r[4]["deal"], d["id"]);
    assert_eq!(ok(&e, "deal.get", json!({"id": d["id"]})), *d);

    // A reference that cannot resolve writes nothing and says where it is.
    let refused = |steps: Value| {
        let before = event_count(&e);
        let (st, message) = call(&e, "batch", json!({ "steps": steps })).unwrap_err();
        assert_eq!(st, CrmStatus::InvalidInput, "{message}");
        assert_eq!(event_count(&e), before, "{message}");
        message
    };
    let create = json!({"op": "customer.create", "request": {"kind": "person", "name": "Bo"}});
    let m = refused(json!([
        create,
        {"op": "customer.update", "request": {"id": {"$step": 1}, "version": 1, "patch": {}}}
    ]));
    assert!(
        m.starts_with("request.steps[1].request.id: \"$step\": 1 is not an earlier step (this one can refer to steps 0 to 0)"),
        "{m}"
    );
    let m = refused(json!([
        {"op": "customer.update", "request": {"id": {"$step": 0}, "version": 1, "patch": {}}}
    ]));
    assert!(m.contains("the first step has no earlier step"), "{m}");
    let m = refused(json!([
        create,
        {"op": "customer.update", "request": {
            "id": {"$step": 0, "field": "idd"}, "version": 1, "patch": {}}}
    ]));
    assert_eq!(
        m,
        "request.steps[1] (customer.update): request.id: step 0's result has no field \"idd\"; nothing of the batch was written"
    );
    let m = refused(json!([
        create,
        {"op": "customer.update", "request": {
            "id": {"$step": 0, "fld": "id"}, "version": 1, "patch": {}}}
    ]));
    assert!(m.contains("unknown field `fld` in a step reference"), "{m}");
    // Filled in, the request is checked as any other: a version is a number.
    let m = refused(json!([
        create,
        {"op": "customer.update", "request": {
            "id": {"$step": 0}, "version": {"$step": 0, "field": "name"}, "patch": {}}}
    ]));
    assert!(m.starts_with("request.steps[1] (customer.update): "), "{m}");
    assert_eq!(ok(&e, "customer.count", json!({}))["count"], 1);
}

#[test]
fn a_failing_batch_step_keeps_its_index_and_its_structured_error() {
    let e = open(":memory:");
    let error_json = || -> Value {
        // SAFETY: never NULL; lives until the next call on this thread.
        let text = unsafe { CStr::from_ptr(crm_last_error_json()) };
        serde_json::from_str(text.to_str().unwrap()).unwrap()
    };
    // A step the facade refuses: the index in the message, the field in the parts.
    let steps = json!({"steps": [
        {"op": "customer.create", "request": {"kind": "person", "name": "Ada"}},
        {"op": "customer.create", "request": {"kind": "person", "name": ""}},
    ]});
    let (st, message) = call(&e, "batch", steps).unwrap_err();
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(
        message.starts_with("request.steps[1] (customer.create): "),
        "{message}"
    );
    let detail = error_json();
    assert_eq!(detail["field"], "name", "{detail}");
    assert_eq!(detail["entity"], "customer", "{detail}");
    assert_eq!(ok(&e, "customer.count", json!({}))["count"], 0);
    // A step of the wrong shape: its path is under the step's request.
    let steps = json!({"steps": [
        {"op": "customer.create", "request": {"kind": "person", "name": "Ada"}},
        {"op": "deal.move", "request": {"id": "x", "version": 1, "stage": "won"}},
    ]});
    let (st, message) = call(&e, "batch", steps).unwrap_err();
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(
        message.starts_with("request.steps[1] (deal.move): "),
        "{message}"
    );
    assert_eq!(error_json()["path"], "steps[1].request.id");
}
