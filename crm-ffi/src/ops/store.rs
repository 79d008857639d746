//! `store.verify`: the whole-store consistency check
//! ([`crm_core::Session::verify`]), in the spirit of SQLite's
//! `PRAGMA integrity_check`.

use crm_core::verify::Finding;
use schemars::JsonSchema;
use serde::Serialize;

use super::{Ctx, Empty, json, req};
use crate::status::Failure;

/// What `store.verify` found.
#[derive(Serialize, JsonSchema)]
pub(super) struct Verified {
    /// Each inconsistency found; empty when the store is consistent.
    findings: Vec<Finding>,
}

/// `{}` → `{"findings": [Finding, ...]}` (empty when the store is
/// consistent). Needs an all-powerful actor, like backups.
pub(super) fn verify(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    let findings = c.s.verify()?;
    json(&Verified { findings })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crm_core::{Actor, Crm, ManualClock, NewCustomer, SequentialIds, Store};
    use crm_store_memory::MemoryStore;
    use serde_json::{Value, json};

    use crate::ops::{Engine, call};

    fn engine() -> Engine {
        let at = chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default();
        let store: Box<dyn Store> = Box::new(MemoryStore::new());
        Crm::new(store)
            .with_clock(Arc::new(ManualClock::new(at)))
            .with_ids(SequentialIds::new(1))
    }

    fn verify(e: &Engine) -> Value {
        let out = call(e, Actor::System, "store.verify", "{}").expect("store.verify");
        serde_json::from_str(&out).expect("JSON")
    }

    /// A store written through the engine verifies clean; one whose
    /// customer was bumped to version 2 behind the engine's back (no event)
    /// gives one finding, as JSON: the record's kind and id, the check and
    /// what is wrong.
    #[test]
    fn store_verify_lists_findings_as_json() {
        let e = engine();
        let ada = e
            .as_actor(Actor::System)
            .create_customer(NewCustomer::person("Ada"))
            .expect("customer");
        assert_eq!(verify(&e), json!({"findings": []}));

        let mut bumped = ada.clone();
        bumped.version = 2;
        let mut tx = e.store().write().expect("write");
        tx.update_customer(&bumped).expect("update");
        tx.commit().expect("commit");
        assert_eq!(
            verify(&e),
            json!({"findings": [{
                "entity": "customer",
                "id": ada.id.to_string(),
                "check": "events",
                "what": "it is at version 2, and the log accounts for 1 version(s)",
            }]})
        );
        // The request is strict, like every other.
        let err = call(&e, Actor::System, "store.verify", r#"{"deep": true}"#).unwrap_err();
        assert_eq!(err.status, crate::CrmStatus::InvalidInput, "{err:?}");
        assert!(err.message.contains("deep"), "{err:?}");
    }
}
