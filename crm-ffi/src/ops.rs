//! The operations `crm_call` dispatches: safe Rust, no pointers.
//!
//! Each operation takes one JSON request and returns one JSON response,
//! both in the serde forms of crm-core's types. The table in the crate
//! docs (and in `crm.h`) lists them all.

use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::kpi::ReportZone;
use crm_core::kpi::report::KpiOptions;
use crm_core::kpi::response::ResponseOptions;
use crm_core::kpi::{KpiFilter, Period};
use crm_core::query::{
    ActivityQuery, CustomerQuery, DealQuery, EventQuery, PageRequest, PipelineQuery,
};
use crm_core::segment::Expr;
use crm_core::{
    ActivityId, Actor, Crm, CustomerId, CustomerPatch, DealId, NewActivity, NewCustomer, NewDeal,
    NewTeam, NewUser, PipelineDef, PipelineId, SegmentId, SegmentQuery, Session, Store, TeamId,
    UserId,
};
use crm_core::{NotificationId, RuleId};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::status::{CrmStatus, Failure};

/// The engine behind a `crm_engine *`: a facade over whichever store
/// `crm_open` chose.
pub type Engine = Crm<Box<dyn Store>>;

/// Every operation name `crm_call` accepts, in documentation order.
pub const OPERATIONS: &[&str] = &[
    "customer.create",
    "customer.get",
    "customer.update",
    "customer.list",
    "pipeline.create",
    "pipeline.get",
    "pipeline.list",
    "deal.create",
    "deal.get",
    "deal.list",
    "deal.move",
    "deal.win",
    "deal.lose",
    "deal.reopen",
    "activity.log",
    "activity.get",
    "activity.list",
    "activity.complete",
    "segment.create",
    "segment.get",
    "segment.list",
    "segment.evaluate",
    "kpi.report",
    "event.list",
    "user.create",
    "user.get",
    "team.create",
    "team.get",
    "predict.fit",
    "predict.score",
    "predict.write_scores",
    // ----- automation -----
    "rule.create",
    "rule.get",
    "rule.list",
    "rule.update",
    "automation.run_due",
    "outbox.list",
    "outbox.acknowledge",
];

/// `{"id": ...}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ById<I> {
    id: I,
}

/// `{"id": ..., "version": n}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Versioned<I> {
    id: I,
    version: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateCustomer {
    id: CustomerId,
    version: u64,
    patch: CustomerPatch,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveDeal {
    id: DealId,
    version: u64,
    stage: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoseDeal {
    id: DealId,
    version: u64,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReopenDeal {
    id: DealId,
    version: u64,
    #[serde(default)]
    stage: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSegment {
    name: String,
    expression: Value,
}

/// Either a saved segment (`id`) or an expression, and a page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateSegment {
    #[serde(default)]
    id: Option<SegmentId>,
    #[serde(default)]
    expression: Option<Value>,
    #[serde(default)]
    page: PageRequest,
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct KpiRequest {
    filter: KpiFilter,
    period: Option<Period>,
    /// An IANA time zone name for calendar dates (default UTC).
    zone: Option<String>,
    /// First-response times and the SLA, when given.
    response: Option<ResponseRequest>,
}

/// `{"calendar": BusinessCalendar, "sla_minutes"?: n}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResponseRequest {
    calendar: crm_core::calendar::BusinessCalendar,
    #[serde(default)]
    sla_minutes: Option<u32>,
}

// ----- automation -----

/// `{}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

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

/// `{"now"?}`: the engine's clock when absent.
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

/// Parses the actor JSON: `{"type":"system"}` or `{"type":"user","id":"…"}`.
pub fn parse_actor(json: &str) -> Result<Actor, Failure> {
    parse(json, "actor_json")
}

/// Runs operation `op` for `actor` with the request `request` (JSON text)
/// and returns the response JSON.
pub fn call(engine: &Engine, actor: Actor, op: &str, request: &str) -> Result<String, Failure> {
    let s = engine.as_actor(actor);
    match op {
        "customer.create" => out(s.create_customer(req::<NewCustomer>(request)?)),
        "customer.get" => out(s.customer(req::<ById<CustomerId>>(request)?.id)),
        "customer.update" => {
            let r: UpdateCustomer = req(request)?;
            out(s.update_customer(r.id, r.version, r.patch))
        }
        "customer.list" => out(s.customers(&req::<CustomerQuery>(request)?)),
        "pipeline.create" => out(s.create_pipeline(req::<PipelineDef>(request)?)),
        "pipeline.get" => out(s.pipeline(req::<ById<PipelineId>>(request)?.id)),
        "pipeline.list" => out(s.pipelines(&req::<PipelineQuery>(request)?)),
        "deal.create" => out(s.create_deal(req::<NewDeal>(request)?)),
        "deal.get" => out(s.deal(req::<ById<DealId>>(request)?.id)),
        "deal.list" => out(s.deals(&req::<DealQuery>(request)?)),
        "deal.move" => {
            let r: MoveDeal = req(request)?;
            out(s.move_deal(r.id, r.version, &r.stage))
        }
        "deal.win" => {
            let r: Versioned<DealId> = req(request)?;
            out(s.win_deal(r.id, r.version))
        }
        "deal.lose" => {
            let r: LoseDeal = req(request)?;
            out(s.lose_deal(r.id, r.version, &r.reason))
        }
        "deal.reopen" => {
            let r: ReopenDeal = req(request)?;
            out(s.reopen_deal(r.id, r.version, r.stage.as_deref()))
        }
        "activity.log" => out(s.log_activity(req::<NewActivity>(request)?)),
        "activity.get" => out(s.activity(req::<ById<ActivityId>>(request)?.id)),
        "activity.list" => out(s.activities(&req::<ActivityQuery>(request)?)),
        "activity.complete" => {
            let r: Versioned<ActivityId> = req(request)?;
            out(s.complete_task(r.id, r.version))
        }
        "segment.create" => {
            let r: CreateSegment = req(request)?;
            out(s.create_segment(&r.name, expression(r.expression)?))
        }
        "segment.get" => out(s.segment(req::<ById<SegmentId>>(request)?.id)),
        "segment.list" => out(s.segments(&req::<SegmentQuery>(request)?)),
        "segment.evaluate" => evaluate(&s, req(request)?),
        "kpi.report" => {
            let r: KpiRequest = req(request)?;
            let mut options = KpiOptions {
                filter: r.filter,
                ..KpiOptions::default()
            };
            if let Some(p) = r.period {
                options.period = p;
            }
            if let Some(zone) = r.zone {
                options.zone = ReportZone::named(&zone).map_err(crm_core::Error::from)?;
            }
            if let Some(resp) = r.response {
                let mut o = ResponseOptions::new(resp.calendar);
                if let Some(m) = resp.sla_minutes {
                    o = o.sla(chrono::TimeDelta::minutes(i64::from(m)));
                }
                options.response = Some(o);
            }
            out(s.kpi_report(&options))
        }
        "event.list" => out(s.events(&req::<EventQuery>(request)?)),
        "user.create" => out(s.create_user(req::<NewUser>(request)?)),
        "user.get" => out(s.user(req::<ById<UserId>>(request)?.id)),
        "team.create" => out(s.create_team(req::<NewTeam>(request)?)),
        "team.get" => out(s.team(req::<ById<TeamId>>(request)?.id)),
        "predict.fit" => crate::predict::fit(&s, req(request)?),
        "predict.score" => crate::predict::score(&s, req(request)?),
        "predict.write_scores" => crate::predict::write_scores(&s, req(request)?),
        // ----- automation -----
        "rule.create" => out(s.create_rule(new_rule(req(request)?)?)),
        "rule.get" => out(s.rule(req::<ById<RuleId>>(request)?.id)),
        "rule.list" => {
            req::<Empty>(request)?;
            out(s.rules())
        }
        "rule.update" => {
            let r: UpdateRule = req(request)?;
            out(s.update_rule(r.id, r.version, new_rule(r.rule)?))
        }
        "automation.run_due" => {
            let r: RunDue = req(request)?;
            out(s.run_due(r.now.unwrap_or_else(|| engine.now())))
        }
        "outbox.list" => out(s.outbox(req::<OutboxList>(request)?.include_acknowledged)),
        "outbox.acknowledge" => {
            let r: Versioned<NotificationId> = req(request)?;
            out(s.acknowledge_notification(r.id, r.version))
        }
        #[cfg(test)]
        "test.panic" => panic!("a deliberate panic for the tests"),
        other => Err(Failure::new(
            CrmStatus::UnknownOperation,
            format!(
                "unknown operation {other:?}; known operations: {}",
                OPERATIONS.join(", ")
            ),
        )),
    }
}

fn evaluate(s: &Session<'_, Box<dyn Store>>, r: EvaluateSegment) -> Result<String, Failure> {
    match (r.id, r.expression) {
        (Some(id), None) => out(s.evaluate_segment(id, &r.page)),
        (None, Some(e)) => out(s.evaluate_expr(&expression(e)?, &r.page)),
        _ => Err(Failure::new(
            CrmStatus::InvalidInput,
            "request: give exactly one of \"id\" (a saved segment) and \"expression\"",
        )),
    }
}

/// A segment expression: its text form (`"lifecycle = customer and ..."`)
/// or its JSON tree.
fn expression(v: Value) -> Result<Expr, Failure> {
    match v {
        Value::String(text) => crm_core::segment::parse(&text)
            .map_err(|e| Failure::new(CrmStatus::InvalidInput, format!("request.expression: {e}"))),
        tree => serde_json::from_value(tree).map_err(|e| {
            Failure::new(
                CrmStatus::InvalidInput,
                format!("request.expression: not a segment expression: {e}"),
            )
        }),
    }
}

/// Parses the request JSON into `T` (see [`parse`]).
fn req<T: DeserializeOwned>(json: &str) -> Result<T, Failure> {
    parse(json, "request_json")
}

/// Parses `json` (the argument named `what`) into `T`.
///
/// - Text that is not JSON is `InvalidJson`, with the line and column.
/// - JSON that is not an object is `InvalidInput`: requests name their
///   fields; a positional array (which serde would otherwise read as a
///   struct's fields in order) is refused.
/// - An object of the wrong shape is `InvalidInput`, naming the JSON path,
///   what was expected there and what was found:
///   `request_json: amount.amount: expected a decimal string such as
///   "1250.50", found the number 100`. The path is also the `path` of
///   `crm_last_error_json()`.
fn parse<T: DeserializeOwned>(json: &str, what: &str) -> Result<T, Failure> {
    // Syntax first, without building anything: a number too large for
    // any type (`1e999`) is still valid JSON here and is refused below
    // with its path.
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(json) {
        return Err(Failure::new(
            CrmStatus::InvalidJson,
            format!("{what} is not valid JSON: {e}"),
        ));
    }
    let first = json
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .chars()
        .next();
    if first != Some('{') {
        let found = match first {
            Some('[') => "an array (positional requests are not accepted: name the fields)",
            Some('"') => "a string",
            Some('t' | 'f') => "a boolean",
            Some('n') => "null",
            _ => "a number",
        };
        return Err(Failure::new(
            CrmStatus::InvalidInput,
            format!("{what} must be a JSON object such as {{\"id\": ...}}, found {found}"),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = shape_message(&inner, json);
        if path.is_empty() || path == "." {
            Failure::new(CrmStatus::InvalidInput, format!("{what}: {message}"))
        } else {
            Failure::new(
                CrmStatus::InvalidInput,
                format!("{what}: {path}: {message}"),
            )
            .at_path(path)
        }
    })
}

/// serde's message for a value of the wrong shape, said the way a caller
/// reads it: "expected X, found Y" rather than "invalid type: Y, expected
/// X", without the position (the path says where), and with the form a
/// date must take when chrono refused one.
fn shape_message(e: &serde_json::Error, json: &str) -> String {
    let mut m = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    if let Some(stripped) = m.strip_suffix(&at) {
        m = stripped.to_owned();
    }
    // serde_json says only "expected value" where a name (an enum such
    // as `kind` or `lifecycle`) was expected and something else came.
    if m == "expected value" {
        return format!(
            "expected a string naming one of this field's values, found {}",
            token_at(json, e.line(), e.column())
        );
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = m.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            return format!("expected {expected}, found {}", found_as_words(found));
        }
    }
    const CHRONO: [&str; 6] = [
        "input contains invalid characters",
        "premature end of input",
        "input is out of range",
        "trailing input",
        "input is not enough for unique date and time",
        "no possible date and time matching input",
    ];
    if CHRONO.contains(&m.as_str()) {
        return format!(
            "{m}: expected an RFC 3339 time such as \"2025-06-30T09:00:00Z\" (or, where only a day is asked, a date such as \"2025-06-30\")"
        );
    }
    m
}

/// The JSON value starting at `line`, `column` (serde_json's position of
/// an error, both from 1), in words, cut to a few characters.
fn token_at(json: &str, line: usize, column: usize) -> String {
    let text = json
        .split('\n')
        .nth(line.saturating_sub(1))
        .and_then(|l| l.get(column.saturating_sub(1)..))
        .unwrap_or("");
    let token: String = text
        .chars()
        .take_while(|c| !matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\r' | '\n'))
        .take(40)
        .collect();
    match token.chars().next() {
        Some('0'..='9' | '-') => format!("the number {token}"),
        Some('t' | 'f' | 'n') => token,
        Some('[') => "an array".to_owned(),
        Some('{') => "an object".to_owned(),
        _ => "another kind of value".to_owned(),
    }
}

/// serde's name of an unexpected JSON value, in words.
fn found_as_words(found: &str) -> String {
    let unquote = |s: &str| s.trim_matches('`').to_owned();
    if let Some(n) = found
        .strip_prefix("integer ")
        .or_else(|| found.strip_prefix("floating point "))
    {
        format!("the number {}", unquote(n))
    } else if let Some(b) = found.strip_prefix("boolean ") {
        unquote(b)
    } else if let Some(s) = found.strip_prefix("string ") {
        format!("the string {s}")
    } else {
        match found {
            "map" => "an object".to_owned(),
            "sequence" => "an array".to_owned(),
            "unit value" | "null" => "null".to_owned(),
            other => other.to_owned(),
        }
    }
}

/// Serialises a result for the caller.
fn out<T: serde::Serialize>(r: crm_core::Result<T>) -> Result<String, Failure> {
    let value = r?;
    serde_json::to_string(&value).map_err(|e| {
        Failure::new(
            CrmStatus::Internal,
            format!("cannot serialise the response: {e}"),
        )
    })
}
