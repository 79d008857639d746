//! `customer.import`, `deal.import`, `activity.import`: CSV in (see
//! [`crm_core::import`] for the columns and the report).
//!
//! The options match rows to existing records (`match_by`: `id`, or
//! `email` for customers; `unmatched`: `create`, `skip` or `error`) and
//! say how the file is written (`delimiter`, `encoding`, `date_order`,
//! `decimal_mark`, `phone_region`); the response has the plan of every
//! row (`plan`, `summary`), what was detected (`detected`) and, with
//! `failed_rows_csv`, the rows with problems as a CSV of their own. A
//! file given by `path` may be in any of the encodings; `csv` text is
//! already UTF-8.

use crm_core::import::{ImportOptions, ImportReport};
use schemars::JsonSchema;
use serde::Deserialize;

use super::bulk::Input;
use super::{Ctx, json, req};
use crate::status::Failure;
use crm_core::Session;

/// Exactly one of `{"csv"}` (the text) and `{"path"}` (a file to read),
/// and the import options.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["csv"]}, {"required": ["path"]}]))]
pub(super) struct Import {
    /// The CSV text, header first.
    #[serde(default)]
    csv: Option<String>,
    /// A CSV file to read.
    #[serde(default)]
    path: Option<String>,
    /// The import options (their defaults when absent); an unknown
    /// option is refused.
    #[serde(default)]
    options: ImportOptions,
}

type Importer = fn(
    &Session<'_, Box<dyn crm_core::Store>>,
    &mut dyn std::io::BufRead,
    &ImportOptions,
) -> crm_core::Result<ImportReport>;

fn run(c: &Ctx<'_>, request: &str, import: Importer) -> Result<String, Failure> {
    let r: Import = req(request)?;
    let input = Input::one_of("csv", r.csv, r.path)?;
    let report = input.read(|rd| Ok(import(&c.s, rd, &r.options)?))?;
    json(&report)
}

pub(super) fn customers(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    run(c, request, |s, rd, o| s.import_customers(rd, o))
}

pub(super) fn deals(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    run(c, request, |s, rd, o| s.import_deals(rd, o))
}

pub(super) fn activities(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    run(c, request, |s, rd, o| s.import_activities(rd, o))
}
