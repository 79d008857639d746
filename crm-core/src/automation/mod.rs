//! Automation: stored rules that act on events and on time passing, and
//! an outbox of notifications for the host.
//!
//! A [`Rule`] has a [`Trigger`], an optional condition (a
//! [segment](crate::segment) expression over the subject record's
//! customer) and [`Action`]s.
//!
//! # Event rules run inside the triggering transaction
//!
//! Every event a [`Batch`](crate::Batch) appends is offered to the active
//! event rules; a matching rule whose condition holds runs its actions
//! through the same batch, right after the event, before the triggering
//! operation returns. The change, the rules' effects and all their events
//! commit together or not at all; an error in an action fails the whole
//! operation.
//!
//! - **Who acts.** Actions run as [`Actor::System`](crate::Actor::System)
//!   (their events say so), whoever made the triggering change: saving a
//!   rule needs the right to change pipelines (process configuration), so
//!   the rule was authorised when it was saved. The actor's own access is
//!   restored right after.
//! - **Chains.** An action's event may fire further rules, up to
//!   [`DEFAULT_MAX_DEPTH`] levels (or the engine's
//!   [`Crm::with_max_rule_depth`](crate::Crm::with_max_rule_depth)); going deeper fails the whole transaction with
//!   [`Error::AutomationLoop`](crate::Error::AutomationLoop) naming the
//!   rules on the chain. Nothing is skipped silently.
//! - **Returned records.** The record an operation returns is the record as
//!   that operation left it; a rule's effect on the same record (say, a tag
//!   added to the customer whose lifecycle just changed) is visible on the
//!   next read.
//!
//! # Time rules run when the host says so
//!
//! [`Session::run_due`](crate::Session::run_due) checks every active time
//! rule against the state at `now`, in one transaction, and fires each
//! (rule, record, episode) at most once: what fired is stored. An episode
//! (the occurrence) is the idle period of a deal (it starts at the deal's
//! last stage change or newest activity), the due time of a task, or, for
//! [`Trigger::DateReached`], the date value itself: a new activity starts a
//! new episode, a rescheduled task a new one, a moved date a new one. Each
//! kind of record is scanned once per call for all the rules on it.
//!
//! # The rule cache
//!
//! A [`Crm`](crate::Crm) keeps its active rules indexed by the (record
//! kind, event kind) they wait for, shared by its batches. A batch uses the
//! index only if the store's
//! [`rules_generation`](crate::store::ReadTx::rules_generation), read once
//! inside the batch's own transaction, is the one the index was built at;
//! every rule insert or update changes it (on SQLite, triggers on the rules
//! table do, whichever process writes), so a rule saved elsewhere is seen
//! by the next write. A batch that saves rules itself reads them from its
//! transaction and neither uses nor fills the shared index.
//!
//! # Assignment
//!
//! [`Assignee::RoundRobin`] gives work to the team's active members in id
//! order, after the one the team's stored cursor names; the cursor moves
//! in the firing's transaction, so an undone firing leaves it in place and
//! it survives restarts (and backups).
//!
//! # Outbox
//!
//! [`Action::Notify`] stores a [`Notification`]; the host lists them with
//! [`Session::outbox`](crate::Session::outbox) and acknowledges them with
//! [`Session::acknowledge_notification`](crate::Session::acknowledge_notification).
//! Unacknowledged notifications stay until acknowledged.

mod action;
mod outbox;
mod rule;
mod trigger;

pub use action::{Action, Assignee, Recipient};
pub use outbox::Notification;
pub(crate) use rule::check_trigger_bounds;
pub(crate) use rule::set_field_patch;
pub use rule::{MAX_ACTIONS, MAX_NAME_CHARS, NewRule, Rule};
pub use trigger::{Trigger, tracked_fields};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::EntityRef;
use crate::id::RuleId;

/// How many levels of rules an event may set off unless the engine says
/// otherwise ([`Crm::with_max_rule_depth`](crate::Crm::with_max_rule_depth)):
/// the change itself is level 0, a rule fired by it level 1, a rule fired
/// by that rule's actions level 2, and so on up to this.
pub const DEFAULT_MAX_DEPTH: u32 = 3;

/// One rule firing on one record: a time rule's, as reported by
/// [`Session::run_due`](crate::Session::run_due) (episode as described in
/// the module docs), or an event rule's (episode `event SEQ`, the sequence
/// number of the event that fired it). Both are stored with the change they
/// made, so each fires at most once per episode or event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Firing {
    /// The rule.
    pub rule: RuleId,
    /// The record it fired on.
    pub subject: EntityRef,
    /// The episode (see the module docs), as text.
    pub episode: String,
    /// When it fired.
    pub at: DateTime<Utc>,
}

/// What [`Session::run_due`](crate::Session::run_due) did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DueReport {
    /// The firings that ran, in the order they ran.
    pub fired: Vec<Firing>,
    /// Firings whose actions failed: each was undone (nothing of it kept,
    /// not even the firing mark), so the next run tries again.
    pub failed: Vec<(Firing, String)>,
    /// Time rules that were not run at all, with why: a rule stored by an
    /// older version with a duration past today's bounds
    /// ([`limits`](crate::limits)). Fix it with `update_rule`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<(RuleId, String)>,
}
