//! `store.verify`: the whole-store consistency check
//! ([`crm_core::Session::verify`]), in the spirit of SQLite's
//! `PRAGMA integrity_check`.

use super::{Ctx, Empty, json, req};
use crate::status::Failure;

/// `{}` → `{"findings": [Finding, ...]}` (empty when the store is
/// consistent). Needs an all-powerful actor, like backups.
pub(super) fn verify(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    let findings = c.s.verify()?;
    json(&serde_json::json!({ "findings": findings }))
}
