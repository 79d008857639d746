//! The segment language as text: parsing never panics, what parses prints
//! back to text that parses to the same expression, and saving it as a
//! segment either fails without a trace or leaves a consistent store.
#![no_main]

use crm_core::Actor;
use crm_core::query::PageRequest;
use crm_fuzz::{Fixture, assert_outcome, snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = crm_core::segment::parse(text) else {
        return;
    };
    let printed = expr.to_string();
    let again = crm_core::segment::parse(&printed)
        .unwrap_or_else(|e| panic!("{printed:?} (printed from {text:?}) does not parse: {e}"));
    assert_eq!(again, expr, "{text:?} printed as {printed:?} parses differently");

    let fx = Fixture::new();
    let s = fx.crm.as_actor(Actor::System);
    let before = snapshot(&fx.crm);
    let evaluated = s.evaluate_expr(&expr, &PageRequest::default());
    assert_outcome(&fx.crm, &before, &evaluated, "evaluate_expr");
    if evaluated.is_ok() {
        assert!(snapshot(&fx.crm) == before, "evaluating a segment wrote something");
    }
    let saved = s.create_segment("fuzzed", expr);
    assert_outcome(&fx.crm, &before, &saved, "create_segment");
});
