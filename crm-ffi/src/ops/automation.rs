//! `rule.*`, `automation.run_due` and `outbox.*`: automation rules, time
//! rules and the notifications they leave for the host.

use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::{NotificationId, RuleId};
use serde::Deserialize;
use serde_json::Value;

use super::{ById, Ctx, Empty, Step, Versioned, expression, out, req, step};
use crate::status::Failure;

/// A rule definition: `NewRule`'s fields, the condition as segment text or
/// an expression tree.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleRequest {
    name: String,
    #[serde(default = "active_by_default")]
    active: bool,
    trigger: Trigger,
    #[serde(default)]
    condition: Option<Value>,
    actions: Vec<Action>,
}

fn active_by_default() -> bool {
    true
}

fn new_rule(r: RuleRequest) -> Result<NewRule, Failure> {
    let mut rule = NewRule::new(r.name, r.trigger).active(r.active);
    if let Some(c) = r.condition {
        rule = rule.condition(expression(c)?);
    }
    rule.actions = r.actions;
    Ok(rule)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRule {
    id: RuleId,
    version: u64,
    rule: RuleRequest,
}

/// `{"now"?}`: the request's `at`, else the engine's clock, when absent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunDue {
    #[serde(default)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxList {
    #[serde(default)]
    include_acknowledged: bool,
}

pub(super) fn create_rule(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let rule = new_rule(req(request)?)?;
    step(move |b| b.create_rule(rule))
}

pub(super) fn get_rule(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.rule(req::<ById<RuleId>>(request)?.id))
}

pub(super) fn list_rules(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    out(c.s.rules())
}

pub(super) fn update_rule(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: UpdateRule = req(request)?;
    let rule = new_rule(r.rule)?;
    step(move |b| b.update_rule(r.id, r.version, rule))
}

pub(super) fn run_due(c: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: RunDue = req(request)?;
    let now = r.now.or(c.at).unwrap_or_else(|| c.engine.now());
    step(move |b| b.run_due(now))
}

pub(super) fn list_outbox(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.outbox(req::<OutboxList>(request)?.include_acknowledged))
}

pub(super) fn acknowledge(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Versioned<NotificationId> = req(request)?;
    step(move |b| b.acknowledge_notification(r.id, r.version))
}
