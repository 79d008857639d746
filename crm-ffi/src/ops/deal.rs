//! `deal.*`: create, read, change, count and move deals through their
//! pipeline.

use crm_core::query::{DealFilter, DealQuery};
use crm_core::{DealId, DealPatch, NewDeal};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ById, Count, Ctx, Step, Versioned, json, out, req, step};
use crate::status::Failure;

/// `deal.update`: changes to a deal at a version.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    /// The deal.
    id: DealId,
    /// The version the change is based on.
    version: u64,
    /// The fields to change (absent: unchanged; `null`: cleared).
    patch: DealPatch,
}

/// `deal.correct`: a correction to a closed deal, with its reason.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Correct {
    /// The won or lost deal.
    id: DealId,
    /// The version the correction is based on.
    version: u64,
    /// The fields to correct.
    patch: DealPatch,
    /// Why, recorded in the event.
    reason: String,
}

/// `deal.count`: `{"filter"?: DealFilter}`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct CountRequest {
    /// Which deals (default: all the actor may read).
    filter: DealFilter,
}

/// `deal.move`: a deal to a stage.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Move {
    /// The deal.
    id: DealId,
    /// The version the move is based on.
    version: u64,
    /// The key of the stage to move to.
    stage: String,
}

/// `deal.lose`: a deal lost, with the reason.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Lose {
    /// The deal.
    id: DealId,
    /// The version the change is based on.
    version: u64,
    /// Why it was lost.
    reason: String,
}

/// `deal.lose_in`: a deal lost into a named lost stage.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LoseIn {
    /// The deal.
    id: DealId,
    /// The version the change is based on.
    version: u64,
    /// The key of the lost stage.
    stage: String,
    /// Why it was lost.
    reason: String,
}

/// `deal.reopen`: a closed deal back into an open stage.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Reopen {
    /// The deal.
    id: DealId,
    /// The version the change is based on.
    version: u64,
    /// The open stage to reopen in (default: the one it closed from).
    #[serde(default)]
    stage: Option<String>,
}

pub(super) fn create(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let input: NewDeal = req(request)?;
    step(move |b| b.create_deal(input))
}

pub(super) fn get(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.deal(req::<ById<DealId>>(request)?.id))
}

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.deals(&req::<DealQuery>(request)?))
}

pub(super) fn count(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: CountRequest = req(request)?;
    json(&Count {
        count: c.s.count_deals(&r.filter)?,
    })
}

pub(super) fn update(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Update = req(request)?;
    step(move |b| b.update_deal(r.id, r.version, r.patch))
}

pub(super) fn correct(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Correct = req(request)?;
    step(move |b| b.correct_deal(r.id, r.version, r.patch, &r.reason))
}

pub(super) fn move_to(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Move = req(request)?;
    step(move |b| b.move_deal(r.id, r.version, &r.stage))
}

pub(super) fn win(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Versioned<DealId> = req(request)?;
    step(move |b| b.win_deal(r.id, r.version))
}

pub(super) fn lose(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Lose = req(request)?;
    step(move |b| b.lose_deal(r.id, r.version, &r.reason))
}

pub(super) fn lose_in(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: LoseIn = req(request)?;
    step(move |b| b.lose_deal_in(r.id, r.version, &r.stage, &r.reason))
}

pub(super) fn reopen(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Reopen = req(request)?;
    step(move |b| b.reopen_deal(r.id, r.version, r.stage.as_deref()))
}
