//! Activities: calls, e-mails, meetings, notes and tasks on the timeline.
//!
//! An [`Activity`] is linked to a customer, a deal, or both. Rules:
//! - at least one of customer and deal; when only a deal is given the
//!   activity is also linked to the deal's customer; when both are given
//!   the deal must belong to that customer (checked by the facade);
//! - `subject` is trimmed, not empty, at most
//!   [`MAX_NAME_CHARS`](crate::limits::MAX_NAME_CHARS) characters, without
//!   control characters; a body at most
//!   [`MAX_BODY_CHARS`](crate::limits::MAX_BODY_CHARS), control characters
//!   other than line breaks and tabs refused;
//! - the owner (assignee) is a stored, active user (checked by the facade);
//! - only tasks have a due time and can be completed, once;
//! - only calls, e-mails and meetings have a direction (inbound/outbound).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::custom_field::{CustomValue, CustomValues};
use crate::error::{EntityKind, Error, Result};
use crate::event::Changes;
use crate::id::{ActivityId, CustomerId, DealId, UserId};
use crate::limits;

/// What kind of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// A phone call.
    Call,
    /// An e-mail.
    Email,
    /// A meeting.
    Meeting,
    /// A note.
    Note,
    /// A task to be done, with an optional due time.
    Task,
}

impl ActivityKind {
    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Email => "email",
            ActivityKind::Meeting => "meeting",
            ActivityKind::Note => "note",
            ActivityKind::Task => "task",
        }
    }
}

impl fmt::Display for ActivityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Who started a communication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The customer reached out.
    Inbound,
    /// We reached out.
    Outbound,
}

impl Direction {
    /// The lower-case name used in serialised forms.
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// An activity as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Activity {
    /// Id.
    pub id: ActivityId,
    /// Version: 1 when created, +1 on every change.
    pub version: u64,
    /// Kind.
    pub kind: ActivityKind,
    /// One-line summary.
    pub subject: String,
    /// Longer text.
    pub body: Option<String>,
    /// The customer it concerns.
    pub customer: Option<CustomerId>,
    /// The deal it concerns.
    pub deal: Option<DealId>,
    /// The user who did it or must do it (a task's assignee).
    pub owner: Option<UserId>,
    /// Inbound or outbound (calls, e-mails, meetings).
    pub direction: Option<Direction>,
    /// When it happened (for tasks: when it was created).
    pub occurred_at: DateTime<Utc>,
    /// When a task is due.
    pub due_at: Option<DateTime<Utc>>,
    /// When a task was completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Custom field values, by key ([`crate::custom_field`]).
    #[serde(default)]
    pub custom: CustomValues,
}

impl Activity {
    /// True for a task that is not completed.
    pub fn is_open_task(&self) -> bool {
        self.kind == ActivityKind::Task && self.completed_at.is_none()
    }
}

/// Input for logging an activity or creating a task.
///
/// ```
/// use crm_core::{ActivityKind, CustomerId, NewActivity};
/// # let customer = CustomerId::from_uuid(uuid::Uuid::nil());
/// let call = NewActivity::new(ActivityKind::Call, "Intro call").customer(customer);
/// assert_eq!(call.kind, ActivityKind::Call);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewActivity {
    /// Kind.
    pub kind: ActivityKind,
    /// One-line summary.
    pub subject: String,
    /// Longer text.
    #[serde(default)]
    pub body: Option<String>,
    /// Customer.
    #[serde(default)]
    pub customer: Option<CustomerId>,
    /// Deal.
    #[serde(default)]
    pub deal: Option<DealId>,
    /// Owner or assignee.
    #[serde(default)]
    pub owner: Option<UserId>,
    /// Direction (calls, e-mails, meetings).
    #[serde(default)]
    pub direction: Option<Direction>,
    /// When it happened (default: now).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// When a task is due.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    /// Custom field values.
    #[serde(default)]
    pub custom: CustomValues,
    /// External keys to give the new record ([`crate::external_key`]).
    #[serde(default)]
    pub external_keys: Vec<crate::external_key::ExternalKey>,
    /// A caller's key that makes a retried create return the first
    /// create's record instead of a second one ([`crate::external_key`]).
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl NewActivity {
    /// Gives the new record an external key ([`crate::external_key`]).
    pub fn external_key(mut self, key: crate::external_key::ExternalKey) -> Self {
        self.external_keys.push(key);
        self
    }

    /// Sets the idempotency key: a retried create with the same key
    /// returns the first one's record ([`crate::external_key`]).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// An activity of `kind` with a subject line.
    pub fn new(kind: ActivityKind, subject: impl Into<String>) -> Self {
        NewActivity {
            kind,
            subject: subject.into(),
            body: None,
            customer: None,
            deal: None,
            owner: None,
            direction: None,
            occurred_at: None,
            due_at: None,
            custom: CustomValues::new(),
            external_keys: Vec::new(),
            idempotency_key: None,
        }
    }

    /// A task, due at `due_at`.
    pub fn task(subject: impl Into<String>, due_at: DateTime<Utc>) -> Self {
        NewActivity {
            due_at: Some(due_at),
            ..NewActivity::new(ActivityKind::Task, subject)
        }
    }

    /// Sets a custom field's value.
    pub fn custom(mut self, key: impl Into<String>, value: CustomValue) -> Self {
        self.custom.insert(key.into(), value);
        self
    }

    /// Links a customer.
    pub fn customer(mut self, customer: CustomerId) -> Self {
        self.customer = Some(customer);
        self
    }

    /// Links a deal.
    pub fn deal(mut self, deal: DealId) -> Self {
        self.deal = Some(deal);
        self
    }

    /// Sets the owner or assignee.
    pub fn owner(mut self, owner: UserId) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Sets the text.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Sets the direction.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.direction = Some(direction);
        self
    }

    /// Sets when it happened.
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = Some(at);
        self
    }

    /// Validates the parts that need no store look-up.
    pub(crate) fn into_activity(self, id: ActivityId, now: DateTime<Utc>) -> Result<Activity> {
        let invalid = |field: &str, value: &dyn fmt::Display, reason: &str| {
            Error::invalid(EntityKind::Activity, field, value, reason)
        };
        let subject = self.subject.trim().to_owned();
        if subject.is_empty() {
            return Err(invalid(
                "subject",
                &self.subject,
                "an activity needs a subject",
            ));
        }
        limits::check_text(
            EntityKind::Activity,
            "subject",
            "a subject",
            &subject,
            limits::MAX_NAME_CHARS,
            false,
        )?;
        if self.customer.is_none() && self.deal.is_none() {
            return Err(invalid(
                "customer",
                &"none",
                "an activity is linked to a customer, a deal or both",
            ));
        }
        if let Some(due) = self.due_at
            && self.kind != ActivityKind::Task
        {
            return Err(invalid(
                "due_at",
                &due.to_rfc3339(),
                &format!("only tasks have a due time, not a {}", self.kind),
            ));
        }
        if let Some(d) = self.direction
            && !matches!(
                self.kind,
                ActivityKind::Call | ActivityKind::Email | ActivityKind::Meeting
            )
        {
            return Err(invalid(
                "direction",
                &format!("{d:?}").to_lowercase(),
                &format!("a {} has no direction", self.kind),
            ));
        }
        let body = self
            .body
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty());
        if let Some(b) = &body {
            limits::check_text(
                EntityKind::Activity,
                "body",
                "a body",
                b,
                limits::MAX_BODY_CHARS,
                true,
            )?;
        }
        Ok(Activity {
            id,
            version: 1,
            kind: self.kind,
            subject,
            body,
            customer: self.customer,
            deal: self.deal,
            owner: self.owner,
            direction: self.direction,
            occurred_at: self
                .occurred_at
                .map(crate::clock::truncate_to_millis)
                .unwrap_or(now),
            due_at: self.due_at.map(crate::clock::truncate_to_millis),
            completed_at: None,
            created_at: now,
            updated_at: now,
            custom: self.custom,
        })
    }
}

/// The fields of a new activity, for its `created` event.
pub(crate) fn creation_changes(a: &Activity) -> Changes {
    let mut ch = Changes::default();
    ch.set("kind", &(), &a.kind);
    ch.set("subject", &(), &a.subject);
    if a.customer.is_some() {
        ch.set("customer", &(), &a.customer);
    }
    if a.deal.is_some() {
        ch.set("deal", &(), &a.deal);
    }
    if a.owner.is_some() {
        ch.set("owner", &(), &a.owner);
    }
    if a.direction.is_some() {
        ch.set("direction", &(), &a.direction);
    }
    if a.due_at.is_some() {
        ch.set("due_at", &(), &a.due_at);
    }
    if !a.custom.is_empty() {
        ch.set("custom", &(), &a.custom);
    }
    ch
}
