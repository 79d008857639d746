//! `backup.create` and `backup.restore`: a whole store out and into an
//! empty one (see [`crm_core::backup`] for the format).

use serde::Deserialize;
use serde_json::json;

use super::bulk::{self, Input};
use super::{Ctx, json, out, req};
use crate::status::Failure;

/// `{"path"?}`
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Create {
    path: Option<String>,
}

/// `{"backup": "..."}` or `{"path": "..."}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Restore {
    #[serde(default)]
    backup: Option<String>,
    #[serde(default)]
    path: Option<String>,
}

pub(super) fn create(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Create = req(request)?;
    let (counts, text) = bulk::write(r.path.as_deref(), |w| c.s.backup(w))?;
    match text {
        Some(backup) => json(&json!({"counts": counts, "backup": backup})),
        None => json(&json!({"counts": counts, "path": r.path})),
    }
}

pub(super) fn restore(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Restore = req(request)?;
    let input = Input::one_of("backup", r.backup, r.path)?;
    input.read(|rd| out(c.s.restore(rd)))
}
