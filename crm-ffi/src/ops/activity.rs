//! `activity.*`: log activities, create and complete tasks, read them.

use crm_core::query::ActivityQuery;
use crm_core::{ActivityId, NewActivity};

use super::{ById, Ctx, Step, Versioned, out, req, step};
use crate::status::Failure;

pub(super) fn log(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let input: NewActivity = req(request)?;
    step(move |b| b.log_activity(input))
}

pub(super) fn get(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.activity(req::<ById<ActivityId>>(request)?.id))
}

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.activities(&req::<ActivityQuery>(request)?))
}

pub(super) fn complete(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Versioned<ActivityId> = req(request)?;
    step(move |b| b.complete_task(r.id, r.version))
}
