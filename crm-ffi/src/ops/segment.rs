//! `segment.*`: saved segments, ad-hoc evaluation, RFM scores and ABC
//! classes.

use chrono::{DateTime, Utc};
use crm_core::query::PageRequest;
use crm_core::segment::Window;
use crm_core::segment::abc::AbcCutoffs;
use crm_core::{Currency, CustomerId, SegmentId, SegmentPatch, SegmentQuery, Session, Store};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::paging::{Slice, slice};
use super::{ById, Ctx, ExpressionForm, Versioned, expression, json, out, req};
use crate::status::{CrmStatus, Failure};

/// `segment.create`: a named expression.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Create {
    /// The segment's name.
    name: String,
    /// Which customers belong to it.
    #[schemars(with = "ExpressionForm")]
    expression: Value,
}

/// `segment.evaluate`: exactly one of a saved segment (`id`) and an
/// `expression`, and a page.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["id"]}, {"required": ["expression"]}]))]
pub(super) struct Evaluate {
    /// A saved segment.
    #[serde(default)]
    id: Option<SegmentId>,
    /// An expression, evaluated without saving it.
    #[serde(default)]
    #[schemars(with = "Option<ExpressionForm>")]
    expression: Option<Value>,
    /// Which page of the members (default: the first).
    #[serde(default)]
    page: PageRequest,
    /// Evaluated as of this time (RFC 3339): relative windows (`365d`)
    /// count back from it (default: the engine's clock).
    #[serde(default)]
    now: Option<DateTime<Utc>>,
}

/// `segment.update`: a new name, a new expression, or both.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    /// The segment.
    id: SegmentId,
    /// The version the change is based on.
    version: u64,
    /// The new name (absent: unchanged).
    #[serde(default)]
    name: Option<String>,
    /// The new expression (absent: unchanged).
    #[serde(default)]
    #[schemars(with = "Option<ExpressionForm>")]
    expression: Option<Value>,
}

/// What `segment.delete` answers.
#[derive(Serialize, JsonSchema)]
pub(super) struct Deleted {
    /// The segment deleted.
    id: SegmentId,
    /// Always `true`.
    deleted: bool,
}

/// `segment.rfm`: RFM scores in one currency.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Rfm {
    /// The currency of the purchases scored (others are left out).
    currency: Currency,
    /// How far back purchases count (default: all of them).
    #[serde(default)]
    window: Option<Window>,
    /// One page of the scores, in customer-id order (default: all, in
    /// the engine's order).
    #[serde(default)]
    page: Option<Slice<CustomerId>>,
    /// Evaluated as of this time (RFC 3339): relative windows (`365d`)
    /// count back from it (default: the engine's clock).
    #[serde(default)]
    now: Option<DateTime<Utc>>,
}

/// `segment.abc`: ABC classes by revenue in one currency.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Abc {
    /// The currency of the revenue classed (others are left out).
    currency: Currency,
    /// How far back purchases count (default: all of them).
    #[serde(default)]
    window: Option<Window>,
    /// The class boundaries (default: A to 80 %, B to 95 %).
    #[serde(default)]
    cutoffs: AbcCutoffs,
    /// One page of the classes, in customer-id order (default: all, in
    /// the engine's order); classes are computed over everyone first.
    #[serde(default)]
    page: Option<Slice<CustomerId>>,
    /// Evaluated as of this time (RFC 3339): relative windows (`365d`)
    /// count back from it (default: the engine's clock).
    #[serde(default)]
    now: Option<DateTime<Utc>>,
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
    let s = as_of(c, r.now);
    match (r.id, r.expression) {
        (Some(id), None) => out(s.evaluate_segment(id, &r.page)),
        (None, Some(e)) => out(s.evaluate_expr(&expression(e)?, &r.page)),
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
    json(&Deleted {
        id: r.id,
        deleted: true,
    })
}

pub(super) fn rfm(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Rfm = req(request)?;
    json(&slice(
        as_of(c, r.now).rfm(r.currency, r.window)?,
        |x| x.customer,
        r.page,
    )?)
}

pub(super) fn abc(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Abc = req(request)?;
    json(&slice(
        as_of(c, r.now).abc(r.currency, r.window, r.cutoffs)?,
        |x| x.customer,
        r.page,
    )?)
}

/// The caller's session, reading as of `now` when given.
fn as_of<'a>(c: &Ctx<'a>, now: Option<DateTime<Utc>>) -> Session<'a, Box<dyn Store>> {
    match now {
        Some(t) => c.s.at(t),
        None => c.s.clone(),
    }
}
