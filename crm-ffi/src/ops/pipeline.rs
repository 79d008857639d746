//! `pipeline.*`: define, read and redefine pipelines.

use crm_core::pipeline::StageMapping;
use crm_core::query::PipelineQuery;
use crm_core::{PipelineDef, PipelineId};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ById, Ctx, Step, out, req, step};
use crate::status::Failure;

/// `pipeline.update`: a pipeline's new definition.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    /// The pipeline.
    id: PipelineId,
    /// The version the change is based on.
    version: u64,
    /// The new definition, replacing the old one.
    definition: PipelineDef,
    /// Old stage key → new stage key, for deals in stages that go away.
    #[serde(default)]
    mapping: StageMapping,
}

pub(super) fn create(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let def: PipelineDef = req(request)?;
    step(move |b| b.create_pipeline(def))
}

pub(super) fn get(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.pipeline(req::<ById<PipelineId>>(request)?.id))
}

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.pipelines(&req::<PipelineQuery>(request)?))
}

pub(super) fn update(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Update = req(request)?;
    step(move |b| b.update_pipeline(r.id, r.version, r.definition, &r.mapping))
}
