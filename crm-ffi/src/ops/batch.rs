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
//!
//! # Step references
//!
//! A step can use what an earlier step of the same batch returned, so one
//! batch can create a customer and a deal for it: anywhere in a step's
//! request, the object `{"$step": i, "field": "id"}` stands for field
//! `field` of step `i`'s result (`i` counts from 0 and must be an earlier
//! step; `field` is a dotted path such as `"id"`, `"version"` or
//! `"history.0.to"`, and defaults to `"id"`):
//!
//! ```json
//! {"steps": [
//!   {"op": "customer.create", "request": {"kind": "person", "name": "Ada"}},
//!   {"op": "deal.create", "request": {"customer": {"$step": 0},
//!                                     "pipeline": "…", "title": "Engines"}},
//!   {"op": "deal.move", "request": {"id": {"$step": 1},
//!                                   "version": {"$step": 1, "field": "version"},
//!                                   "stage": "qualified"}}
//! ]}
//! ```
//!
//! A reference to a later step, to the step itself or to a field the
//! result does not have is `CRM_STATUS_INVALID_INPUT` naming the step and
//! the path of the reference; nothing of the batch is written. A step
//! without references is parsed before anything runs; one with references
//! is parsed when its turn comes, once its references are filled in.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::record::Record;
use super::{Ctx, OPERATIONS, Run, Step, find, json, req, take_at};
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
    /// `"at"` of its own (default `{}`). Anywhere in it, `{"$step": i,
    /// "field": "id"}` stands for that field of an earlier step's result
    /// (`field` a dotted path, default `"id"`).
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
        let request = s.request.unwrap_or_else(|| json!({}));
        let mut refs = Vec::new();
        find_refs(&request, i, &mut String::new(), &mut refs)?;
        let work = if refs.is_empty() {
            Prepared::Ready(prepare(c, build, i, &s.op, &request.to_string())?)
        } else {
            Prepared::Deferred {
                build,
                request,
                refs,
            }
        };
        steps.push((s.op, work));
    }
    let mut failed: Option<(usize, String)> = None;
    // A deferred step's own failure (a reference that does not resolve, a
    // request that does not parse once filled in), returned as it is.
    let mut late: Option<Failure> = None;
    let results = c.s.batch(|b| {
        let mut results: Vec<Record> = Vec::with_capacity(steps.len());
        let mut values: Vec<Value> = Vec::with_capacity(steps.len());
        for (i, (op, work)) in steps.into_iter().enumerate() {
            let (at, work) = match work {
                Prepared::Ready(ready) => ready,
                Prepared::Deferred {
                    build,
                    mut request,
                    refs,
                } => {
                    let filled = fill_refs(&mut request, &refs, &values)
                        .and_then(|()| prepare(c, build, i, &op, &request.to_string()));
                    match filled {
                        Ok(ready) => ready,
                        Err(f) => {
                            late = Some(in_step(i, &op, f));
                            return Err(crm_core::Error::invalid(
                                crm_core::EntityKind::Event,
                                "steps",
                                i,
                                "a step reference did not resolve",
                            ));
                        }
                    }
                }
            };
            b.set_time(at);
            match work(b) {
                Ok(r) => {
                    // Kept as JSON for later steps' references.
                    values.push(serde_json::to_value(&r).unwrap_or(Value::Null));
                    results.push(r);
                }
                Err(e) => {
                    failed = Some((i, op));
                    return Err(e);
                }
            }
        }
        Ok(results)
    });
    if let Some(mut f) = late {
        f.message = format!("{}; nothing of the batch was written", f.message);
        return Err(f);
    }
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

/// The builder of a batchable operation (its table entry's `Run::Step`).
type Build = fn(&Ctx<'_>, &str) -> Result<Step, Failure>;

/// A step parsed and ready to run, with the time it is dated at.
type Ready = (Option<chrono::DateTime<chrono::Utc>>, Step);

/// A step before the batch runs.
enum Prepared {
    /// Parsed already (it has no references).
    Ready(Ready),
    /// Parsed when its turn comes, once its references are filled in.
    Deferred {
        build: Build,
        request: Value,
        refs: Vec<StepRef>,
    },
}

/// Parses step `i`'s request text into a step, dated at its own `"at"` or
/// the batch's.
fn prepare(c: &Ctx<'_>, build: Build, i: usize, op: &str, text: &str) -> Result<Ready, Failure> {
    let (at, text) = take_at(text).map_err(|f| in_step(i, op, f))?;
    let at = at.or(c.at);
    let work = build(c, &text).map_err(|f| in_step(i, op, f))?;
    Ok((at, work))
}

/// A reference found in a step's request: where it is (a JSON pointer into
/// the request, and the same path for messages) and what it stands for.
struct StepRef {
    pointer: String,
    path: String,
    step: usize,
    field: String,
}

/// The longest `field` path a reference may give, in bytes.
const MAX_REF_FIELD_BYTES: usize = 200;

/// Collects the references in `v` (step `i`'s request, at `path`),
/// refusing malformed ones and references to the step itself or later.
fn find_refs(
    v: &Value,
    i: usize,
    pointer: &mut String,
    out: &mut Vec<StepRef>,
) -> Result<(), Failure> {
    let bad = |pointer: &str, why: String| {
        let path = pointer_path(pointer);
        Failure::new(
            CrmStatus::InvalidInput,
            format!("request.steps[{i}].request{path}: {why}"),
        )
    };
    match v {
        Value::Object(o) if o.contains_key("$step") => {
            if let Some(k) = o.keys().find(|k| *k != "$step" && *k != "field") {
                return Err(bad(
                    pointer,
                    format!(
                        "unknown field `{k}` in a step reference (it has \"$step\" and \"field\")"
                    ),
                ));
            }
            let step = match o.get("$step").and_then(Value::as_u64) {
                Some(n) if n < i as u64 => n as usize,
                Some(n) => {
                    return Err(bad(
                        pointer,
                        if i == 0 {
                            format!(
                                "\"$step\": {n}: the first step has no earlier step to refer to"
                            )
                        } else {
                            format!(
                                "\"$step\": {n} is not an earlier step (this one can refer to steps 0 to {})",
                                i - 1
                            )
                        },
                    ));
                }
                None => {
                    return Err(bad(
                        pointer,
                        "\"$step\" must be the index of an earlier step (0, 1, ...)".to_owned(),
                    ));
                }
            };
            let field = match o.get("field") {
                None => "id".to_owned(),
                Some(Value::String(f)) if !f.is_empty() && f.len() <= MAX_REF_FIELD_BYTES => {
                    f.clone()
                }
                Some(other) => {
                    return Err(bad(
                        pointer,
                        format!(
                            "\"field\" {}: a dotted path of 1 to {MAX_REF_FIELD_BYTES} bytes, such as \"id\" or \"version\"",
                            crate::status::echo_plain(&other.to_string())
                        ),
                    ));
                }
            };
            out.push(StepRef {
                pointer: pointer.clone(),
                path: pointer_path(pointer),
                step,
                field,
            });
        }
        Value::Object(o) => {
            for (k, v) in o {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                find_refs(v, i, pointer, out)?;
                pointer.truncate(len);
            }
        }
        Value::Array(a) => {
            for (n, v) in a.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&n.to_string());
                find_refs(v, i, pointer, out)?;
                pointer.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// `.customer_id` or `.items[2]` for messages, from a JSON pointer.
fn pointer_path(pointer: &str) -> String {
    let mut out = String::new();
    for part in pointer.split('/').skip(1) {
        let part = part.replace("~1", "/").replace("~0", "~");
        if part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            out.push('.');
            out.push_str(&part);
        }
    }
    out
}

/// Replaces each reference in `request` by the value it stands for.
fn fill_refs(request: &mut Value, refs: &[StepRef], results: &[Value]) -> Result<(), Failure> {
    for r in refs {
        let found = results.get(r.step).and_then(|v| {
            r.field.split('.').try_fold(v, |v, part| match v {
                Value::Object(o) => o.get(part),
                Value::Array(a) => part.parse::<usize>().ok().and_then(|n| a.get(n)),
                _ => None,
            })
        });
        let Some(value) = found.cloned() else {
            return Err(Failure::new(
                CrmStatus::InvalidInput,
                format!(
                    "request{}: step {}'s result has no field {:?}",
                    r.path, r.step, r.field
                ),
            ));
        };
        if let Some(slot) = request.pointer_mut(&r.pointer) {
            *slot = value;
        }
    }
    Ok(())
}
