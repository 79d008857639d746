//! `batch`: several writes in one transaction, all or nothing.
//!
//! `{"steps": [{"op": "customer.create", "request": {...}}, ...], "at"?}`
//! → `{"results": [each step's response, in order]}`.
//!
//! Every step is parsed before anything runs; then the steps run in order
//! on one [`Batch`](crm_core::Batch), each seeing the earlier steps'
//! writes, and the transaction commits only if every step succeeded. A
//! failing step rolls back the whole batch, and the error (with the
//! step's own status) starts with `request.steps[i] (op)`, the index of
//! the failing step. A step may carry its own `"at"` in its request;
//! without one it is dated at the batch's `"at"`, or by the clock.
//!
//! Steps are the operations whose table entry is batchable (see the
//! operation table: the writes that run on a `Batch`). Reads, segment
//! writes, imports, exports, backups, score runs and `batch` itself are
//! refused as steps with `CRM_STATUS_INVALID_INPUT`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, OPERATIONS, Run, find, json, req, take_at};
use crate::status::{CrmStatus, Failure};

/// `batch`: write steps run in one transaction, all or nothing.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchRequest {
    /// The steps, run in order.
    steps: Vec<StepRequest>,
}

/// The response: each step's result, in order.
#[derive(serde::Serialize, JsonSchema)]
pub(super) struct Results {
    /// Each step's response, in the order of the steps.
    results: Vec<super::Record>,
}

/// One step: a batchable operation and its request.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StepRequest {
    /// The operation (one marked batchable), such as `"customer.create"`.
    op: String,
    /// Its request, as the operation alone takes it, with an optional
    /// `"at"` of its own (default `{}`).
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    request: Option<Value>,
}

/// Names the step in a failure's message, keeping its typed parts (for
/// `crm_last_error_json`) and putting its path under the step's request.
fn in_step(i: usize, op: &str, mut f: Failure) -> Failure {
    f.message = format!("request.steps[{i}] ({op}): {}", f.message);
    f.path = f.path.map(|p| format!("steps[{i}].request.{p}"));
    f
}

/// The batchable operations' names.
pub(super) fn step_ops() -> Vec<&'static str> {
    OPERATIONS
        .iter()
        .filter(|o| o.batchable())
        .map(|o| o.name)
        .collect()
}

pub(super) fn run(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: BatchRequest = req(request)?;
    let max = crm_core::limits::MAX_BATCH_STEPS;
    if r.steps.len() > max {
        return Err(Failure::new(
            CrmStatus::InvalidInput,
            format!(
                "request.steps: {} steps; a batch has at most {max} (split it into several batches)",
                r.steps.len()
            ),
        ));
    }
    let mut steps = Vec::with_capacity(r.steps.len());
    for (i, s) in r.steps.into_iter().enumerate() {
        let build = match find(&s.op).map(|o| o.run) {
            Some(Run::Step(build)) => build,
            Some(_) => {
                return Err(Failure::new(
                    CrmStatus::InvalidInput,
                    format!(
                        "request.steps[{i}].op {:?}: cannot run in a batch; batch steps are: {}",
                        s.op,
                        step_ops().join(", ")
                    ),
                ));
            }
            None => {
                return Err(Failure::new(
                    CrmStatus::UnknownOperation,
                    format!("request.steps[{i}].op {:?}: unknown operation", s.op),
                ));
            }
        };
        let text = s.request.unwrap_or_else(|| json!({})).to_string();
        let (at, text) = take_at(&text).map_err(|f| in_step(i, &s.op, f))?;
        let at = at.or(c.at);
        let work = build(c, &text).map_err(|f| in_step(i, &s.op, f))?;
        steps.push((s.op, at, work));
    }
    let mut failed: Option<(usize, String)> = None;
    let results = c.s.batch(|b| {
        let mut results = Vec::with_capacity(steps.len());
        for (i, (op, at, work)) in steps.into_iter().enumerate() {
            b.set_time(at);
            match work(b) {
                Ok(r) => results.push(r),
                Err(e) => {
                    failed = Some((i, op));
                    return Err(e);
                }
            }
        }
        Ok(results)
    });
    match results {
        Ok(results) => json(&Results { results }),
        Err(e) => Err(match failed {
            Some((i, op)) => {
                // The step's own error, with its entity, field and value.
                let mut f = Failure::from(e);
                f.message = format!(
                    "request.steps[{i}] ({op}): {}; nothing of the batch was written",
                    f.message
                );
                f
            }
            // The transaction itself failed (opening or committing it).
            None => Failure::from(e),
        }),
    }
}
