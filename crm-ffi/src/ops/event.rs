//! `event.list`: the audit log.

use crm_core::query::EventQuery;

use super::{Ctx, out, req};
use crate::status::Failure;

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.events(&req::<EventQuery>(request)?))
}
