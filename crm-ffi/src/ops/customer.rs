//! `customer.*`: create, read, change, count, merge and find duplicates.

use crm_core::duplicate::DuplicateOptions;
use crm_core::merge::MergePolicy;
use crm_core::query::{CustomerFilter, CustomerQuery};
use crm_core::{CustomerId, CustomerPatch, NewCustomer};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ById, Count, Ctx, Step, json, out, req, step};
use crate::status::Failure;

/// `customer.update`: changes to a customer at a version.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    /// The customer.
    id: CustomerId,
    /// The version the change is based on.
    version: u64,
    /// The fields to change (absent: unchanged; `null`: cleared).
    patch: CustomerPatch,
}

/// `customer.count`: `{"filter"?: CustomerFilter}`.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct CountRequest {
    /// Which customers (default: all the actor may read).
    filter: CustomerFilter,
}

/// `customer.merge`: one customer merged into another.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Merge {
    /// The customer that stays.
    survivor: CustomerId,
    /// The survivor's version the merge is based on.
    survivor_version: u64,
    /// The customer merged into the survivor (and then gone).
    merged: CustomerId,
    /// The merged customer's version.
    merged_version: u64,
    /// Which values win where both have one (default: the survivor's).
    #[serde(default)]
    policy: MergePolicy,
}

pub(super) fn create(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let input: NewCustomer = req(request)?;
    step(move |b| b.create_customer(input))
}

pub(super) fn get(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.customer(req::<ById<CustomerId>>(request)?.id))
}

pub(super) fn update(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Update = req(request)?;
    step(move |b| b.update_customer(r.id, r.version, r.patch))
}

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.customers(&req::<CustomerQuery>(request)?))
}

pub(super) fn count(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: CountRequest = req(request)?;
    json(&Count {
        count: c.s.count_customers(&r.filter)?,
    })
}

pub(super) fn merge(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Merge = req(request)?;
    step(move |b| {
        b.merge_customers(
            r.survivor,
            r.survivor_version,
            r.merged,
            r.merged_version,
            &r.policy,
        )
    })
}

pub(super) fn duplicates(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.find_duplicates(&req::<DuplicateOptions>(request)?))
}
