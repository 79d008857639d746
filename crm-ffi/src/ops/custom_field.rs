//! `custom_fields.*`: the custom fields of customers, deals and activities.

use crm_core::EntityKind;
use crm_core::custom_field::FieldDef;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Step, out, req, step};
use crate::status::Failure;

/// `custom_fields.get`: which entity type.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Get {
    /// The entity type whose fields to read.
    entity: EntityKind,
}

/// `custom_fields.set`: an entity type's new field definitions.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Set {
    /// The entity type.
    entity: EntityKind,
    /// The schema's version (0 the first time).
    version: u64,
    /// The definitions, replacing the old ones.
    fields: Vec<FieldDef>,
}

pub(super) fn get(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.custom_fields(req::<Get>(request)?.entity))
}

pub(super) fn set(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Set = req(request)?;
    step(move |b| b.set_custom_fields(r.entity, r.version, r.fields))
}
