//! The segment language in its JSON form (as the C ABI takes it): what
//! deserialises serialises back to the same expression, and saving it
//! either fails without a trace or leaves a consistent store.
#![no_main]

use crm_core::Actor;
use crm_core::query::PageRequest;
use crm_core::segment::Expr;
use crm_fuzz::{Fixture, assert_outcome, snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = serde_json::from_slice::<Expr>(data) else {
        return;
    };
    let json = serde_json::to_string(&expr).expect("an expression serialises");
    let again: Expr = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{json} does not deserialise again: {e}"));
    assert_eq!(again, expr, "the JSON form does not round-trip");

    let fx = Fixture::new();
    let s = fx.crm.as_actor(Actor::System);
    let before = snapshot(&fx.crm);
    let evaluated = s.evaluate_expr(&expr, &PageRequest::default());
    assert_outcome(&fx.crm, &before, &evaluated, "evaluate_expr");
    let saved = s.create_segment("fuzzed", expr);
    assert_outcome(&fx.crm, &before, &saved, "create_segment");
});
