//! `customer.export`, `deal.export`, `activity.export`: CSV out (see
//! [`crm_core::export`] for the columns), inline or to a file.

use serde::Deserialize;
use serde_json::json;

use super::{Ctx, bulk, json, req};
use crate::status::Failure;

/// `{"path"?}`
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Export {
    path: Option<String>,
}

type Exporter = fn(
    &crm_core::Session<'_, Box<dyn crm_core::Store>>,
    &mut dyn std::io::Write,
) -> crm_core::Result<u64>;

fn run(c: &Ctx<'_>, request: &str, export: Exporter) -> Result<String, Failure> {
    let r: Export = req(request)?;
    let (rows, text) = bulk::write(r.path.as_deref(), |w| export(&c.s, w))?;
    match text {
        Some(csv) => json(&json!({"rows": rows, "csv": csv})),
        None => json(&json!({"rows": rows, "path": r.path})),
    }
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
