//! Writing customers, deals and activities as CSV.
//!
//! The files have the columns [`crate::import`] reads (plus `id`, `status`
//! and `updated_at`, which an import ignores), so an export opens in any
//! spreadsheet and can be imported again. Lists are joined with `;`, times
//! are RFC 3339 in UTC, amounts are exact decimals with their currency in
//! the next column, and references (organisation, customer, pipeline,
//! deal, owner) are ids. Rows come in order of creation time (ties by id).
//!
//! For a complete, lossless copy of a store use a backup instead; a CSV
//! export leaves out stage histories and the audit log.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::activity::Activity;
use crate::customer::Customer;
use crate::deal::Deal;

/// The header of a customer export.
pub const CUSTOMER_HEADER: &[&str] = &[
    "id",
    "name",
    "kind",
    "organisation",
    "roles",
    "lifecycle",
    "email",
    "phone",
    "owner",
    "tags",
    "created_at",
    "updated_at",
];

/// The header of a deal export.
pub const DEAL_HEADER: &[&str] = &[
    "id",
    "title",
    "customer",
    "pipeline",
    "stage",
    "status",
    "amount",
    "currency",
    "expected_close_date",
    "owner",
    "created_at",
    "won_at",
    "lost_at",
    "lost_reason",
    "updated_at",
];

/// The header of an activity export.
pub const ACTIVITY_HEADER: &[&str] = &[
    "id",
    "kind",
    "subject",
    "body",
    "customer",
    "deal",
    "owner",
    "direction",
    "occurred_at",
    "due_at",
    "completed_at",
    "created_at",
];

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn list<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// The cells of a customer's row, in [`CUSTOMER_HEADER`] order.
pub fn customer_row(c: &Customer) -> Vec<String> {
    vec![
        c.id.to_string(),
        c.name.clone(),
        c.kind.as_str().to_owned(),
        opt(c.organisation),
        list(c.roles.iter().map(|r| r.as_str())),
        c.lifecycle.as_str().to_owned(),
        list(&c.emails),
        list(&c.phones),
        opt(c.owner),
        list(&c.tags),
        time(c.created_at),
        time(c.updated_at),
    ]
}

/// The cells of a deal's row, in [`DEAL_HEADER`] order.
pub fn deal_row(d: &Deal) -> Vec<String> {
    vec![
        d.id.to_string(),
        d.title.clone(),
        d.customer.to_string(),
        d.pipeline.to_string(),
        d.stage.to_string(),
        d.status.as_str().to_owned(),
        opt(d.amount.map(|m| m.amount)),
        opt(d.amount.map(|m| m.currency)),
        opt(d.expected_close_date),
        opt(d.owner),
        time(d.created_at),
        opt(d.won_at.map(time)),
        opt(d.lost_at.map(time)),
        d.lost_reason.clone().unwrap_or_default(),
        time(d.updated_at),
    ]
}

/// The cells of an activity's row, in [`ACTIVITY_HEADER`] order.
pub fn activity_row(a: &Activity) -> Vec<String> {
    vec![
        a.id.to_string(),
        a.kind.as_str().to_owned(),
        a.subject.clone(),
        a.body.clone().unwrap_or_default(),
        opt(a.customer),
        opt(a.deal),
        opt(a.owner),
        opt(a.direction.map(|d| d.as_str())),
        time(a.occurred_at),
        opt(a.due_at.map(time)),
        opt(a.completed_at.map(time)),
        time(a.created_at),
    ]
}
