//! Segments: "which customers…?" as an expression, evaluated on any store.
//!
//! A segment expression combines predicates on customer attributes and on
//! values derived from deals and activities with `and`, `or` and `not`:
//!
//! ```text
//! tag:vip and lifecycle = customer and won_amount(EUR, 365d) > 1000
//!     and not last_activity within 30d
//! ```
//!
//! - [`expr`]: the tree ([`Expr`]), serialisable with serde (JSON);
//! - [`parse()`](parse::parse) and [`print`](mod@print): the text syntax and its
//!   canonical printing (printing any tree and parsing it back gives the
//!   same tree);
//! - [`eval`]: the reference evaluator every store is held to;
//! - [`custom`]: `field.KEY` predicates on customers' custom fields,
//!   checked against the customer field schema;
//! - [`rfm`] and [`abc`]: RFM scoring with named segments, and ABC
//!   (Pareto) classification by revenue;
//! - [`Segment`]: a saved, named, versioned expression, stored like every
//!   other record (create / update / delete through the facade, each with
//!   its audit event).
//!
//! ```
//! use crm_core::{Actor, Crm, NewCustomer};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let s = crm.as_actor(Actor::System);
//! s.create_customer(NewCustomer::organisation("ACME").tag("vip"))?;
//! s.create_customer(NewCustomer::person("Bob"))?;
//! let vip = s.create_segment("VIPs", "tag:vip and kind = organisation".parse()?)?;
//! let result = s.evaluate_segment(vip.id, &Default::default())?;
//! assert_eq!(result.count, 1);
//! # Ok::<(), crm_core::Error>(())
//! ```

pub mod abc;
pub mod custom;
pub mod eval;
pub mod expr;
pub mod parse;
pub(crate) mod parse_error;
pub mod print;
pub mod rfm;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use eval::evaluate;
pub use expr::{CmpOp, Expr, Field, Pred, Revenue, Test, Value, Window};
pub use parse::parse;
pub use parse_error::ParseError;

use crate::error::{EntityKind, Error, Result};
use crate::id::{CustomerId, SegmentId};
use crate::query::{Filter, Order, Page, Query, Record, SortValue};

/// A saved segment as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Id.
    pub id: SegmentId,
    /// Version: 1 when created, +1 on every change.
    pub version: u64,
    /// Display name (trimmed, 1 to 200 characters).
    pub name: String,
    /// The expression.
    pub expression: Expr,
    /// The user who saved it (none when the system did): access scopes
    /// `own` and `team` on segments refer to it.
    #[serde(default)]
    pub owner: Option<crate::id::UserId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Changes to a saved segment; `None` leaves a part alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct SegmentPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new expression.
    pub expression: Option<Expr>,
}

impl SegmentPatch {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the expression.
    pub fn expression(mut self, expression: Expr) -> Self {
        self.expression = Some(expression);
        self
    }
}

/// The longest segment name ([`limits::MAX_NAME_CHARS`](crate::limits::MAX_NAME_CHARS)).
pub const MAX_NAME_CHARS: usize = crate::limits::MAX_NAME_CHARS;

/// The most parentheses and `not`s the parser accepts around a condition
/// (keeps parsing, printing and evaluating hostile input bounded).
pub const MAX_DEPTH: usize = 64;

/// The deepest tree that may be saved or evaluated: at least the deepest
/// the parser can produce from [`MAX_DEPTH`] levels (a parenthesis can hold
/// an `or` inside an `and`, two nodes per level, plus the outermost chain
/// and the predicate).
pub const MAX_TREE_DEPTH: usize = 2 * MAX_DEPTH + 2;

/// Validates a segment name: trimmed, not empty, at most 200 characters.
pub(crate) fn validate_name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(
            EntityKind::Segment,
            "name",
            name,
            "a segment needs a name",
        ));
    }
    crate::limits::check_text(
        EntityKind::Segment,
        "name",
        "a segment name",
        trimmed,
        MAX_NAME_CHARS,
        false,
    )?;
    Ok(trimmed.to_owned())
}

fn depth(e: &Expr) -> usize {
    match e {
        Expr::Const(_) | Expr::Pred(_) => 1,
        Expr::And(p) | Expr::Or(p) => 1 + p.iter().map(depth).max().unwrap_or(0),
        Expr::Not(inner) => 1 + depth(inner),
    }
}

/// How many nodes (conditions, constants, `and`, `or`, `not`) `e` has.
pub(crate) fn node_count(e: &Expr) -> usize {
    match e {
        Expr::Const(_) | Expr::Pred(_) => 1,
        Expr::And(p) | Expr::Or(p) => p.iter().map(node_count).fold(1, usize::saturating_add),
        Expr::Not(inner) => node_count(inner).saturating_add(1),
    }
}

/// Validates an expression to be saved or evaluated: [`Expr::check`], a
/// tree depth of at most [`MAX_TREE_DEPTH`] and at most
/// [`MAX_EXPRESSION_NODES`](crate::limits::MAX_EXPRESSION_NODES) nodes
/// (whether it came from text or from JSON).
pub(crate) fn validate_expr(e: &Expr) -> Result<()> {
    let nodes = node_count(e);
    let max = crate::limits::MAX_EXPRESSION_NODES;
    if nodes > max {
        return Err(Error::invalid(
            EntityKind::Segment,
            "expression",
            format!("{nodes} nodes"),
            format!("an expression has at most {max} conditions and operators"),
        ));
    }
    if depth(e) > MAX_TREE_DEPTH {
        return Err(Error::invalid(
            EntityKind::Segment,
            "expression",
            "…",
            format!("an expression tree is at most {MAX_TREE_DEPTH} levels deep"),
        ));
    }
    // The JSON form is held to the text form's length, so every stored
    // expression can be printed and parsed back (and no single value in
    // it, such as a `contains` text, is larger than the text allows).
    let bytes = e.to_string().len();
    let max = crate::limits::MAX_EXPRESSION_BYTES;
    if bytes > max {
        return Err(Error::invalid(
            EntityKind::Segment,
            "expression",
            format!("{bytes} bytes as text"),
            format!("an expression is at most {max} bytes in its text form"),
        ));
    }
    e.check()
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Syntax(e)
    }
}

/// The result of evaluating a segment: how many customers match, and one
/// page of their ids (ascending).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SegmentResult {
    /// How many customers match in total.
    pub count: u64,
    /// One page of matching customer ids, in ascending id order (which is
    /// creation order for UUID v7 ids).
    pub page: Page<CustomerId>,
}

// ----- listing -----

impl Record for Segment {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// Which saved segments to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct SegmentFilter {
    /// Name contains this text, ignoring ASCII case.
    pub name_contains: Option<String>,
    /// Saved by one of these users (unowned segments never match; an
    /// empty list matches nothing). The facade ANDs the actor's read scope
    /// in here.
    pub owner_in: Option<Vec<crate::id::UserId>>,
}

impl Filter<Segment> for SegmentFilter {
    fn matches(&self, s: &Segment) -> bool {
        self.name_contains.as_ref().is_none_or(|n| {
            s.name
                .to_ascii_lowercase()
                .contains(&n.to_ascii_lowercase())
        }) && self
            .owner_in
            .as_ref()
            .is_none_or(|set| s.owner.is_some_and(|o| set.contains(&o)))
    }
}

/// How to order saved segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SegmentOrder {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By name (byte-wise).
    Name,
}

impl Order<Segment> for SegmentOrder {
    fn name(&self) -> &'static str {
        match self {
            SegmentOrder::CreatedAt => "created_at",
            SegmentOrder::Name => "name",
        }
    }
    fn value(&self, s: &Segment) -> SortValue {
        match self {
            SegmentOrder::CreatedAt => SortValue::Int(s.created_at.timestamp_millis()),
            SegmentOrder::Name => SortValue::Text(s.name.clone()),
        }
    }
}

/// A listing request for saved segments.
pub type SegmentQuery = Query<SegmentFilter, SegmentOrder>;

#[cfg(test)]
mod tests;
