//! `deal.*`: create, read, change, count and move deals through their
//! pipeline.

use crm_core::query::{DealFilter, DealQuery};
use crm_core::{DealId, DealPatch, NewDeal};
use serde::Deserialize;
use serde_json::json;

use super::{ById, Ctx, Step, Versioned, json, out, req, step};
use crate::status::Failure;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    id: DealId,
    version: u64,
    patch: DealPatch,
}

/// `{"filter"?: DealFilter}`
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Count {
    filter: DealFilter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    id: DealId,
    version: u64,
    stage: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lose {
    id: DealId,
    version: u64,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoseIn {
    id: DealId,
    version: u64,
    stage: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reopen {
    id: DealId,
    version: u64,
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
    let r: Count = req(request)?;
    json(&json!({"count": c.s.count_deals(&r.filter)?}))
}

pub(super) fn update(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Update = req(request)?;
    step(move |b| b.update_deal(r.id, r.version, r.patch))
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
