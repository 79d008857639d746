//! Custom-field rules through the C ABI: a field's `hidden_from` and
//! `read_only_for` are part of its JSON definition and hold for
//! `crm_call` as for the Rust facade.

use super::*;

#[test]
fn custom_field_rules_hold_through_the_abi() {
    let e = open(":memory:");
    ok(
        &e,
        "custom_fields.set",
        json!({"entity": "customer", "version": 0, "fields": [
            {"key": "credit_limit", "label": "Credit limit", "type": "money",
             "hidden_from": ["support"]},
            {"key": "tier", "label": "Tier", "type": "text"}
        ]}),
    );
    let schema = ok(&e, "custom_fields.get", json!({"entity": "customer"}));
    assert_eq!(schema["fields"][0]["hidden_from"], json!(["support"]));
    assert!(
        schema["fields"][1].get("hidden_from").is_none(),
        "empty rules are left out: {schema}"
    );
    let c = ok(
        &e,
        "customer.create",
        json!({"kind": "organisation", "name": "ACME", "custom": {
            "credit_limit": {"type": "money", "value": {"amount": "5000.00", "currency": "EUR"}},
            "tier": {"type": "text", "value": "gold"}
        }}),
    );
    let user = ok(
        &e,
        "user.create",
        json!({"name": "Sam", "email": "sam@example.com", "roles": ["support"]}),
    );
    let sam = json!({"type": "user", "id": user["id"]}).to_string();
    let seen = call_as(&e, &sam, "customer.get", json!({"id": c["id"]})).unwrap();
    assert_eq!(
        seen["custom"],
        json!({"tier": {"type": "text", "value": "gold"}})
    );
    let before = event_count(&e);
    let (st, message) = call_as(
        &e,
        &sam,
        "customer.update",
        json!({"id": c["id"], "version": 1, "patch": {"custom": {"credit_limit": null}}}),
    )
    .unwrap_err();
    assert_eq!(st, CrmStatus::PermissionDenied, "{message}");
    assert_eq!(
        message,
        format!(
            "permission denied: user {} may not change customer {}: field customer.custom.credit_limit is read-only for their roles",
            user["id"].as_str().unwrap_or_default(),
            c["id"].as_str().unwrap_or_default()
        )
    );
    assert_eq!(event_count(&e), before, "nothing written");
}
