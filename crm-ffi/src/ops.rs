//! The operations `crm_call` dispatches: safe Rust, no pointers.
//!
//! Each operation takes one JSON request and returns one JSON response,
//! both in the serde forms of crm-core's types. One table,
//! [`OPERATIONS`], drives everything: the dispatcher looks operations up
//! in it, the documentation below and in `crm.h` is generated from it (a
//! test compares them), and a coverage test checks that every public
//! method of [`Session`] is reached by some entry (or is listed in
//! [`RUST_ONLY`] with the reason).
//!
//! The handlers live in one module per domain word (`ops/deal.rs`,
//! `ops/import.rs`, ...); this module holds the table's types, the
//! dispatcher and the request and response helpers they share.
//!
#![doc = include_str!("../doc/operations.md")]

use chrono::{DateTime, Utc};
use crm_core::segment::Expr;
use crm_core::{Actor, Batch, Crm, Session, Store};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::status::{CrmStatus, Failure};

mod access;
mod activity;
mod admin;
mod automation;
mod backup;
mod batch;
mod bulk;
mod custom_field;
mod customer;
mod deal;
mod event;
mod export;
mod external_key;
mod feed;
mod import;
mod kpi;
mod paging;
mod pipeline;
mod predict;
mod record;
mod segment;
mod store;
mod table;

#[cfg(test)]
mod coverage;
#[cfg(test)]
mod doc;
#[cfg(test)]
mod schema_check;

pub use table::{OPERATIONS, RUST_ONLY};

use record::Record;

/// The engine behind a `crm_engine *`: a facade over whichever store
/// `crm_open` chose.
pub type Engine = Crm<Box<dyn Store>>;

/// One operation of `crm_call`: an entry of [`OPERATIONS`].
pub struct Operation {
    /// The name callers pass as `op`, `noun.verb`. A contract: never
    /// renamed.
    pub name: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// The request's shape: a crm-core type name or the object's fields
    /// (`?` marks an optional field).
    pub request: &'static str,
    /// The response's shape.
    pub response: &'static str,
    /// The [`Session`] methods this operation reaches (the coverage test
    /// reads this).
    pub covers: &'static [&'static str],
    /// The JSON Schemas of the request and the response (see
    /// [`Operation::request_schema`]).
    pub(crate) schema: Schemas,
    /// How it runs.
    pub(crate) run: Run,
}

/// Where an operation's JSON Schemas come from: schemars, over the serde
/// types its handler parses the request into and serialises the response
/// from, so the schema and the parsing cannot drift apart.
#[derive(Clone, Copy)]
pub(crate) struct Schemas {
    request: fn() -> schemars::Schema,
    response: fn() -> schemars::Schema,
}

/// The schemas of an operation whose handler parses its request into `Q`
/// and answers with the serde form of `R`.
pub(crate) const fn io<Q: JsonSchema, R: JsonSchema>() -> Schemas {
    Schemas {
        request: crm_core::schema::request_schema::<Q>,
        response: crm_core::schema::response_schema::<R>,
    }
}

impl Operation {
    /// Whether the operation changes the store, and so takes the optional
    /// `"at"` request field (see the module docs).
    pub fn writes(&self) -> bool {
        !matches!(self.run, Run::Read(_))
    }

    /// Whether the operation may be a step of a `batch`.
    pub fn batchable(&self) -> bool {
        matches!(self.run, Run::Step(_))
    }

    /// The JSON Schema (draft 2020-12) of the request: every field with
    /// its description, `additionalProperties: false` where unknown fields
    /// are refused, and for a write the optional `"at"`.
    pub fn request_schema(&self) -> Value {
        let mut s = (self.schema.request)().to_value();
        if self.writes()
            && let Some(o) = s.as_object_mut()
        {
            let properties = o
                .entry("properties")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Some(p) = properties.as_object_mut() {
                p.insert(
                    "at".to_owned(),
                    serde_json::json!({
                        "type": "string",
                        "format": "date-time",
                        "description": "When the change happened (RFC 3339 with an offset), recorded in its event and history instead of the clock's time; for importing history.",
                    }),
                );
            }
        }
        titled(s, self.name, "Request")
    }

    /// The JSON Schema (draft 2020-12) of a successful response.
    pub fn response_schema(&self) -> Value {
        titled((self.schema.response)().to_value(), self.name, "Response")
    }
}

/// `schema` with the title `CustomerCreateRequest` for `customer.create`
/// (what a binding generator names the type), the serde type's own name
/// kept as `x-rust-type`.
fn titled(mut schema: Value, op: &str, suffix: &str) -> Value {
    let mut title: String = op
        .split(['.', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    title.push_str(suffix);
    if let Some(o) = schema.as_object_mut() {
        if let Some(rust) = o.remove("title") {
            o.insert("x-rust-type".to_owned(), rust);
        }
        o.insert("title".to_owned(), Value::String(title));
    }
    schema
}

/// What a handler sees: the session (already dated when the request has
/// an `"at"`), the engine, and that time.
pub(crate) struct Ctx<'a> {
    pub(crate) s: Session<'a, Box<dyn Store>>,
    pub(crate) engine: &'a Engine,
    pub(crate) at: Option<DateTime<Utc>>,
}

/// A parsed write, ready to run on a [`Batch`]: what `batch` steps are.
pub(crate) type Step = Box<dyn FnOnce(&mut Batch<'_>) -> crm_core::Result<Record>>;

/// How an operation runs.
#[derive(Clone, Copy)]
pub(crate) enum Run {
    /// A read: request in, response out.
    Read(fn(&Ctx<'_>, &str) -> Result<String, Failure>),
    /// A write that runs on a [`Batch`]: parsed first into a [`Step`], run
    /// alone in its own transaction or as one step of a `batch`.
    Step(fn(&Ctx<'_>, &str) -> Result<Step, Failure>),
    /// A write with its own transaction (segments, imports, restore,
    /// score runs, `batch` itself): cannot be a batch step.
    Write(fn(&Ctx<'_>, &str) -> Result<String, Failure>),
}

/// The entry of the operation named `name`.
pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// Runs operation `op` for `actor` with the request `request` (JSON text)
/// and returns the response JSON.
pub fn call(engine: &Engine, actor: Actor, op: &str, request: &str) -> Result<String, Failure> {
    #[cfg(test)]
    if op == "test.panic" {
        panic!("a deliberate panic for the tests");
    }
    let Some(entry) = find(op) else {
        return Err(Failure::new(
            CrmStatus::UnknownOperation,
            format!(
                "unknown operation {op:?}; known operations: {}",
                OPERATIONS
                    .iter()
                    .map(|o| o.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    #[cfg(test)]
    let sent = request;
    let (at, request) = if entry.writes() {
        take_at(request)?
    } else {
        (None, std::borrow::Cow::Borrowed(request))
    };
    let s = engine.as_actor(actor);
    let s = match at {
        Some(t) => s.at(t),
        None => s,
    };
    let ctx = Ctx { s, engine, at };
    let response = match entry.run {
        Run::Read(f) | Run::Write(f) => f(&ctx, &request),
        Run::Step(f) => {
            let step = f(&ctx, &request)?;
            out(ctx.s.batch(step))
        }
    };
    // Every request a test sends and gets an answer to is an example the
    // schemas must accept, and every answer must match its schema.
    #[cfg(test)]
    if let Ok(text) = &response {
        schema_check::conforms(entry, sent, text);
    }
    response
}

/// Takes the optional top-level `"at"` (RFC 3339) out of a write request:
/// the time the change is recorded as having happened.
fn take_at(request: &str) -> Result<(Option<DateTime<Utc>>, std::borrow::Cow<'_, str>), Failure> {
    // Cheap test first: a request without the key is passed on untouched
    // (a large CSV import is not parsed twice).
    if !request.contains("\"at\"") {
        return Ok((None, std::borrow::Cow::Borrowed(request)));
    }
    let mut value: Value = req(request)?;
    let at = match value.as_object_mut().and_then(|o| o.remove("at")) {
        None => return Ok((None, std::borrow::Cow::Borrowed(request))),
        Some(v) => time_field(v, "request.at")?,
    };
    Ok((Some(at), std::borrow::Cow::Owned(value.to_string())))
}

/// Parses `v` as an RFC 3339 time; `what` names the field in the error.
fn time_field(v: Value, what: &str) -> Result<DateTime<Utc>, Failure> {
    serde_json::from_value(v.clone()).map_err(|e| {
        Failure::new(
            CrmStatus::InvalidInput,
            format!("{what} {v}: not an RFC 3339 time with an offset ({e})"),
        )
    })
}

/// Serialises a value for the caller.
fn json<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| {
        Failure::new(
            CrmStatus::Internal,
            format!("cannot serialise the response: {e}"),
        )
    })
}

/// A [`Step`] from a closure over the batch.
fn step<T: Into<Record>>(
    work: impl FnOnce(&mut Batch<'_>) -> crm_core::Result<T> + 'static,
) -> Result<Step, Failure> {
    Ok(Box::new(move |b| work(b).map(Into::into)))
}

/// `{"id": ...}`: one record by id.
#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ById<I> {
    /// The record's id.
    id: I,
}

/// `{"id": ..., "version": n}`: a change to a record at a version.
#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Versioned<I> {
    /// The record's id.
    id: I,
    /// The version the change is based on (a stale one is a conflict).
    version: u64,
}

/// `{}`: no fields.
#[derive(serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// `{"count": n}`
#[derive(serde::Serialize, JsonSchema)]
struct Count {
    /// How many records match.
    count: u64,
}

/// A segment expression as a request gives it: its text form or its JSON
/// tree (schema only: handlers read a [`Value`] and call [`expression`]).
struct ExpressionForm;

impl JsonSchema for ExpressionForm {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExpressionForm".into()
    }

    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let tree = g.subschema_for::<Expr>();
        schemars::json_schema!({
            "description": "A segment expression: its text form, such as \"lifecycle = customer and tag = vip\", or its JSON tree.",
            "anyOf": [
                {"type": "string", "description": "The expression's text form."},
                tree,
            ],
        })
    }
}

/// Parses the actor JSON: `{"type":"system"}` or `{"type":"user","id":"…"}`.
pub fn parse_actor(json: &str) -> Result<Actor, Failure> {
    parse(json, "actor_json")
}

/// A segment expression: its text form (`"lifecycle = customer and ..."`)
/// or its JSON tree.
fn expression(v: Value) -> Result<Expr, Failure> {
    match v {
        Value::String(text) => crm_core::segment::parse(&text)
            .map_err(|e| Failure::new(CrmStatus::InvalidInput, format!("request.expression: {e}"))),
        tree => crm_core::strict_json::from_value(tree).map_err(|e| {
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
///   struct's fields in order) is refused, here and at every depth
///   (`{"amount": ["100", "EUR"]}`, see [`crm_core::strict_json`]).
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
    // Strict: an array is refused wherever a struct is expected, at any
    // depth (serde would read it positionally).
    serde_path_to_error::deserialize(crm_core::strict_json::Strict::new(&mut de)).map_err(|e| {
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
