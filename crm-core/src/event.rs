//! The audit log.
//!
//! Every successful mutation appends exactly one [`Event`] in the same
//! transaction as the change itself: who did it, when, to which record and
//! version, what kind of change, and each changed field with its old and new
//! value. Events are never rewritten or deleted; the store numbers them with
//! a strictly increasing [`Event::seq`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::EntityKind;
use crate::id::EventId;

/// Which record an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntityRef {
    /// The kind of record.
    pub kind: EntityKind,
    /// Its id.
    pub id: Uuid,
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// What kind of change an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The record was created.
    Created,
    /// Fields of the record changed.
    Updated,
    /// A deal moved between two open stages.
    StageChanged,
    /// A deal entered a won stage.
    Won,
    /// A deal entered a lost stage.
    Lost,
    /// A closed deal was moved back into an open stage.
    Reopened,
    /// A task was completed.
    Completed,
    /// Another customer was merged into this one.
    Merged,
    /// The record was deleted (saved segments only: other records are
    /// never deleted).
    Deleted,
    /// A predictive-model run fitted its models and wrote each customer's
    /// scores (one event for the run; its changes hold the parameters and
    /// counts, and the customers' versions bump without events of their own).
    ScoresWritten,
}

impl EventKind {
    /// The snake_case name, as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Updated => "updated",
            EventKind::StageChanged => "stage_changed",
            EventKind::Won => "won",
            EventKind::Lost => "lost",
            EventKind::Reopened => "reopened",
            EventKind::Completed => "completed",
            EventKind::Merged => "merged",
            EventKind::Deleted => "deleted",
            EventKind::ScoresWritten => "scores_written",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One field's value before and after a change (`null` where absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    /// The field name, as in the record's serialised form.
    pub field: String,
    /// The value before (`null` on creation).
    pub old: Value,
    /// The value after.
    pub new: Value,
}

/// An entry in the audit log, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Position in the log, assigned by the store: 1, 2, 3, … without gaps
    /// among committed events of one store.
    pub seq: u64,
    /// The event's own id.
    pub id: EventId,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub actor: Actor,
    /// The record changed.
    pub entity: EntityRef,
    /// The record's version after the change.
    pub version: u64,
    /// What kind of change.
    pub kind: EventKind,
    /// The fields that changed.
    pub changes: Vec<FieldChange>,
}

/// An event before the store has numbered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// The event's id.
    pub id: EventId,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// Who made it.
    pub actor: Actor,
    /// The record changed.
    pub entity: EntityRef,
    /// The record's version after the change.
    pub version: u64,
    /// What kind of change.
    pub kind: EventKind,
    /// The fields that changed.
    pub changes: Vec<FieldChange>,
}

impl NewEvent {
    /// The stored event, numbered `seq`.
    pub fn with_seq(self, seq: u64) -> Event {
        Event {
            seq,
            id: self.id,
            at: self.at,
            actor: self.actor,
            entity: self.entity,
            version: self.version,
            kind: self.kind,
            changes: self.changes,
        }
    }
}

/// Collects the fields that differ between two versions of a record.
#[derive(Debug, Default)]
pub(crate) struct Changes(Vec<FieldChange>);

impl Changes {
    /// Records `field` if `old != new`.
    pub(crate) fn field<T: Serialize + PartialEq + ?Sized>(
        &mut self,
        field: &str,
        old: &T,
        new: &T,
    ) {
        if old != new {
            self.set(field, old, new);
        }
    }

    /// Records `field` unconditionally.
    pub(crate) fn set<T: Serialize + ?Sized, U: Serialize + ?Sized>(
        &mut self,
        field: &str,
        old: &T,
        new: &U,
    ) {
        self.0.push(FieldChange {
            field: field.to_owned(),
            old: serde_json::to_value(old).unwrap_or(Value::Null),
            new: serde_json::to_value(new).unwrap_or(Value::Null),
        });
    }

    /// Whether `field` is among the changes.
    pub(crate) fn touches(&self, field: &str) -> bool {
        self.0.iter().any(|c| c.field == field)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<FieldChange> {
        self.0
    }
}
