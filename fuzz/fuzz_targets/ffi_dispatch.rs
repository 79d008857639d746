//! The C ABI dispatcher, through its safe Rust entry point
//! (`crm_ffi::ops::call`): the first byte picks the operation, the second
//! the actor (the system, the fixture's sales rep, a user that does not
//! exist, or the actor JSON given at the start of the request), the rest
//! is the request JSON, in which `$C0`, `$D0`, … stand for the fixture's
//! ids. A failed call changes nothing; a successful one leaves a
//! consistent store.
#![no_main]

use crm_fuzz::{Fixture, assert_outcome, snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [op, actor, request @ ..] = data else {
        return;
    };
    let ops = crm_ffi::ops::OPERATIONS;
    let op = ops[usize::from(*op) % ops.len()];
    let fx = Fixture::new();
    let request = fx.expand(&String::from_utf8_lossy(request));
    let (actor_json, request) = match actor % 4 {
        0 => (r#"{"type":"system"}"#.to_owned(), request),
        1 => (fx.expand(r#"{"type":"user","id":"$U0"}"#), request),
        2 => (
            r#"{"type":"user","id":"01000000-0000-7000-8000-000000000bad"}"#.to_owned(),
            request,
        ),
        // "actor JSON\nrequest JSON"
        _ => match request.split_once('\n') {
            Some((a, r)) => (a.to_owned(), r.to_owned()),
            None => (request, "{}".to_owned()),
        },
    };
    let Ok(actor) = crm_ffi::ops::parse_actor(&actor_json) else {
        return;
    };
    let before = snapshot(&fx.crm);
    let result = crm_ffi::ops::call(&fx.crm, actor, op, &request);
    assert_outcome(&fx.crm, &before, &result, op);
});
