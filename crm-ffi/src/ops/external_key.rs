//! `*.upsert`, `*.get_by_key`, `customer.find_by_phone`,
//! `customer.find_by_domain` and `external_key.*`: keeping the CRM in step
//! with other systems (see `crm_core::external_key`).

use crm_core::external_key::{ExternalKey, KeyedRecord};
use crm_core::{ActivityUpsert, CustomerUpsert, DealUpsert};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Ctx, Step, out, req, step};
use crate::status::Failure;

/// `customer.find_by_phone`: a phone number as dialled.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ByPhone {
    /// The number: international (`+49 30 1234567`, `0049 …`) or, with
    /// `default_region`, national (`030 1234567`).
    number: String,
    /// The ISO 3166 region a national number is dialled in (`DE`, `US`).
    #[serde(default)]
    default_region: Option<String>,
}

/// `customer.find_by_domain`: an e-mail domain or a whole address.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ByDomain {
    /// `example.org` or `someone@example.org`.
    domain: String,
}

/// `external_key.list`: whose keys.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OfRecord {
    /// The record: `{"customer": id}`, `{"deal": id}` or `{"activity": id}`.
    record: KeyedRecord,
}

/// `external_key.set`: a record's new external keys, at a version.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetKeys {
    /// The record: `{"customer": id}`, `{"deal": id}` or `{"activity": id}`.
    record: KeyedRecord,
    /// The version the change is based on.
    version: u64,
    /// The keys the record holds afterwards (`[]` removes them all).
    keys: Vec<ExternalKey>,
}

/// `external_key.set`'s answer.
#[derive(Serialize, JsonSchema)]
pub(crate) struct NewVersion {
    /// The record's version after the change (unchanged when the keys
    /// already were these).
    pub version: u64,
}

pub(super) fn upsert_customer(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let up: CustomerUpsert = req(request)?;
    step(move |b| b.upsert_customer(up))
}

pub(super) fn upsert_deal(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let up: DealUpsert = req(request)?;
    step(move |b| b.upsert_deal(up))
}

pub(super) fn upsert_activity(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let up: ActivityUpsert = req(request)?;
    step(move |b| b.upsert_activity(up))
}

pub(super) fn customer_by_key(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.customer_by_key(&req::<ExternalKey>(request)?))
}

pub(super) fn deal_by_key(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.deal_by_key(&req::<ExternalKey>(request)?))
}

pub(super) fn activity_by_key(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.activity_by_key(&req::<ExternalKey>(request)?))
}

pub(super) fn find_by_phone(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: ByPhone = req(request)?;
    out(c
        .s
        .customers_by_phone(&r.number, r.default_region.as_deref()))
}

pub(super) fn find_by_domain(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: ByDomain = req(request)?;
    out(c.s.organisations_by_domain(&r.domain))
}

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.external_keys(req::<OfRecord>(request)?.record))
}

pub(super) fn set(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: SetKeys = req(request)?;
    step(move |b| {
        b.set_external_keys(r.record, r.version, &r.keys)
            .map(|version| NewVersion { version })
    })
}
