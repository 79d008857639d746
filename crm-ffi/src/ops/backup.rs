//! `backup.create` and `backup.restore`: a whole store out and into an
//! empty one (see [`crm_core::backup`] for the format).

use crm_core::backup::BackupCounts;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::bulk::{self, Input};
use super::{Ctx, json, out, req};
use crate::status::Failure;

/// `backup.create`: `{}` for the backup inline, `{"path"}` to write it to a
/// file.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Create {
    /// The file to write the backup to (created or replaced, through
    /// `<path>.partial`); without it the backup comes back inline.
    path: Option<String>,
}

/// What `backup.create` made: the counts, and the backup inline or the
/// path written.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum Created {
    /// The backup as text (JSON lines).
    Inline {
        /// How many records of each kind it holds.
        counts: BackupCounts,
        /// The backup itself, for `backup.restore`.
        backup: String,
    },
    /// The backup was written to a file.
    File {
        /// How many records of each kind it holds.
        counts: BackupCounts,
        /// The file written.
        path: String,
    },
}

/// `backup.restore`: exactly one of `{"backup"}` (the text) and
/// `{"path"}` (a file to read).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["backup"]}, {"required": ["path"]}]))]
pub(super) struct Restore {
    /// The backup text, as `backup.create` returned it.
    #[serde(default)]
    backup: Option<String>,
    /// A backup file to read.
    #[serde(default)]
    path: Option<String>,
}

pub(super) fn create(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Create = req(request)?;
    let (counts, text) = bulk::write(r.path.as_deref(), |w| c.s.backup(w))?;
    json(&match (text, r.path) {
        (Some(backup), _) => Created::Inline { counts, backup },
        (None, path) => Created::File {
            counts,
            path: path.unwrap_or_default(),
        },
    })
}

pub(super) fn restore(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Restore = req(request)?;
    let input = Input::one_of("backup", r.backup, r.path)?;
    input.read(|rd| out(c.s.restore(rd)))
}
