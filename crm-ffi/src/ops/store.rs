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
