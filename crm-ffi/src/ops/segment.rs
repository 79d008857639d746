//! `segment.*`: saved segments, ad-hoc evaluation, RFM scores and ABC
//! classes.

use crm_core::query::PageRequest;
use crm_core::segment::Window;
use crm_core::segment::abc::AbcCutoffs;
use crm_core::{Currency, SegmentId, SegmentPatch, SegmentQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ById, Ctx, Versioned, expression, json, out, req};
use crate::status::{CrmStatus, Failure};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    name: String,
    expression: Value,
}

/// Either a saved segment (`id`) or an expression, and a page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Evaluate {
    #[serde(default)]
    id: Option<SegmentId>,
    #[serde(default)]
    expression: Option<Value>,
    #[serde(default)]
    page: PageRequest,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    id: SegmentId,
    version: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    expression: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rfm {
    currency: Currency,
    #[serde(default)]
    window: Option<Window>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Abc {
    currency: Currency,
    #[serde(default)]
    window: Option<Window>,
    #[serde(default)]
    cutoffs: AbcCutoffs,
}

pub(super) fn create(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Create = req(request)?;
    out(c.s.create_segment(&r.name, expression(r.expression)?))
}

pub(super) fn get(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.segment(req::<ById<SegmentId>>(request)?.id))
}

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.segments(&req::<SegmentQuery>(request)?))
}

pub(super) fn evaluate(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Evaluate = req(request)?;
    match (r.id, r.expression) {
        (Some(id), None) => out(c.s.evaluate_segment(id, &r.page)),
        (None, Some(e)) => out(c.s.evaluate_expr(&expression(e)?, &r.page)),
        _ => Err(Failure::new(
            CrmStatus::InvalidInput,
            "request: give exactly one of \"id\" (a saved segment) and \"expression\"",
        )),
    }
}

pub(super) fn update(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Update = req(request)?;
    let patch = SegmentPatch {
        name: r.name,
        expression: r.expression.map(expression).transpose()?,
    };
    out(c.s.update_segment(r.id, r.version, patch))
}

pub(super) fn delete(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Versioned<SegmentId> = req(request)?;
    c.s.delete_segment(r.id, r.version)?;
    json(&json!({"id": r.id, "deleted": true}))
}

pub(super) fn rfm(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Rfm = req(request)?;
    out(c.s.rfm(r.currency, r.window))
}

pub(super) fn abc(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Abc = req(request)?;
    out(c.s.abc(r.currency, r.window, r.cutoffs))
}
