//! `customer.export`, `deal.export`, `activity.export`: CSV out (see
//! [`crm_core::export`] for the columns), inline or to a file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Ctx, bulk, json, req};
use crate::status::Failure;

/// `{}` for the CSV inline, `{"path"}` to write it to a file.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Export {
    /// The file to write the CSV to (created or replaced, through
    /// `<path>.partial`); without it the CSV comes back inline.
    path: Option<String>,
}

/// What an export made: the row count, and the CSV inline or the path
/// written.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum Exported {
    /// The CSV as text.
    Inline {
        /// Data rows written (the header not counted).
        rows: u64,
        /// The CSV, header first.
        csv: String,
    },
    /// The CSV was written to a file.
    File {
        /// Data rows written (the header not counted).
        rows: u64,
        /// The file written.
        path: String,
    },
}

type Exporter = fn(
    &crm_core::Session<'_, Box<dyn crm_core::Store>>,
    &mut dyn std::io::Write,
) -> crm_core::Result<u64>;

fn run(c: &Ctx<'_>, request: &str, export: Exporter) -> Result<String, Failure> {
    let r: Export = req(request)?;
    let (rows, text) = bulk::write(r.path.as_deref(), |w| export(&c.s, w))?;
    json(&match (text, r.path) {
        (Some(csv), _) => Exported::Inline { rows, csv },
        (None, path) => Exported::File {
            rows,
            path: path.unwrap_or_default(),
        },
    })
}

pub(super) fn customers(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    run(c, request, |s, w| s.export_customers(w))
}

pub(super) fn deals(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    run(c, request, |s, w| s.export_deals(w))
}

pub(super) fn activities(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    run(c, request, |s, w| s.export_activities(w))
}
