//! `rule.*`, `automation.run_due` and `outbox.*`: automation rules, time
//! rules and the notifications they leave for the host.

use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::{NotificationId, RuleId};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::paging::{Slice, slice};
use super::{ById, Ctx, Empty, Step, Versioned, expression, json, out, req, step};
use crate::status::Failure;

/// `rule.create`: a rule definition, `NewRule`'s fields with the condition
/// as segment text or an expression tree.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleRequest {
    /// The rule's name.
    name: String,
    /// Whether it fires (default true).
    #[serde(default = "active_by_default")]
    active: bool,
    /// What makes it fire.
    trigger: Trigger,
    /// Which records it fires for (default: every record the trigger
    /// concerns).
    #[serde(default)]
    #[schemars(with = "Option<super::ExpressionForm>")]
    condition: Option<Value>,
    /// What it does, in order.
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

/// `rule.update`: a rule's new definition.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateRule {
    /// The rule.
    id: RuleId,
    /// The version the change is based on.
    version: u64,
    /// The new definition, as `rule.create` takes it.
    rule: RuleRequest,
}

/// `automation.run_due`: fires the time rules due at `now`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RunDue {
    /// The time to run for (default: the request's `at`, else the
    /// engine's clock).
    #[serde(default)]
    now: Option<chrono::DateTime<chrono::Utc>>,
}

/// `outbox.list`: which notifications.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OutboxList {
    /// Include those already acknowledged (default false).
    #[serde(default)]
    include_acknowledged: bool,
    /// One page, in notification-id (creation) order (default: all,
    /// oldest first).
    #[serde(default)]
    page: Option<Slice<NotificationId>>,
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
    let r: OutboxList = req(request)?;
    json(&slice(
        c.s.outbox(r.include_acknowledged)?,
        |n| n.id,
        r.page,
    )?)
}

pub(super) fn acknowledge(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Versioned<NotificationId> = req(request)?;
    step(move |b| b.acknowledge_notification(r.id, r.version))
}
