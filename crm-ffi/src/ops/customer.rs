//! `customer.*`: create, read, change, count, merge and find duplicates.

use crm_core::duplicate::DuplicateOptions;
use crm_core::merge::MergePolicy;
use crm_core::query::{CustomerFilter, CustomerQuery};
use crm_core::{CustomerId, CustomerPatch, NewCustomer};
use serde::Deserialize;
use serde_json::json;

use super::{ById, Ctx, Step, json, out, req, step};
use crate::status::Failure;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    id: CustomerId,
    version: u64,
    patch: CustomerPatch,
}

/// `{"filter"?: CustomerFilter}`
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Count {
    filter: CustomerFilter,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Merge {
    survivor: CustomerId,
    survivor_version: u64,
    merged: CustomerId,
    merged_version: u64,
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
    let r: Count = req(request)?;
    json(&json!({"count": c.s.count_customers(&r.filter)?}))
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
