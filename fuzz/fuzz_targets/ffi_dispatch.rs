//! The C ABI dispatcher, through its safe Rust entry point
//! (`crm_ffi::ops::call`). The first byte picks the actor (the system, the
//! fixture's sales rep, a user that does not exist, or an actor JSON given
//! in the input); the rest is `operation\nrequest JSON`, or
//! `operation\nactor JSON\nrequest JSON` for the last kind of actor. In
//! the request, `$C0`, `$D0`, … stand for the fixture's ids (see
//! `Fixture`). Operations are named, not numbered, so the seeds stay
//! valid when the operation table changes; an unknown name is skipped.
//! A failed call changes nothing; a successful one leaves a consistent
//! store.
#![no_main]

use crm_fuzz::{Fixture, assert_outcome, snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [actor, input @ ..] = data else {
        return;
    };
    let input = String::from_utf8_lossy(input);
    let Some((name, rest)) = input.split_once('\n') else {
        return;
    };
    let Some(op) = crm_ffi::ops::find(name).map(|o| o.name) else {
        return;
    };
    let fx = Fixture::new();
    let rest = fx.expand(rest);
    let (actor_json, request) = match actor % 4 {
        0 => (r#"{"type":"system"}"#.to_owned(), rest),
        1 => (fx.expand(r#"{"type":"user","id":"$U0"}"#), rest),
        2 => (
            r#"{"type":"user","id":"01000000-0000-7000-8000-000000000bad"}"#.to_owned(),
            rest,
        ),
        _ => match rest.split_once('\n') {
            Some((a, r)) => (a.to_owned(), r.to_owned()),
            None => (rest, "{}".to_owned()),
        },
    };
    let Ok(actor) = crm_ffi::ops::parse_actor(&actor_json) else {
        return;
    };
    let before = snapshot(&fx.crm);
    let result = crm_ffi::ops::call(&fx.crm, actor, op, &request);
    assert_outcome(&fx.crm, &before, &result, op);
});
