//! What a rule does when it fires.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::activity::ActivityKind;
use crate::customer::Lifecycle;
use crate::error::EntityKind;
use crate::id::{TeamId, UserId};

/// One effect of a [`Rule`](super::Rule), run through the same
/// [`Batch`](crate::Batch) as the change that fired it, so every
/// validation applies and every effect appends its own event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Creates a task owned by the subject record's owner, due
    /// `due_in_days` days after the firing time, linked to the subject's
    /// customer (and deal, when the subject is a deal).
    CreateTask {
        /// The task's subject line.
        title: String,
        /// Days from the firing time to the due time.
        due_in_days: u32,
    },
    /// Adds a tag to the subject's customer.
    AddTag {
        /// The tag.
        tag: String,
    },
    /// Removes a tag from the subject's customer.
    RemoveTag {
        /// The tag.
        tag: String,
    },
    /// Moves the subject's customer to a lifecycle (following the
    /// lifecycle's allowed moves; staying put is a no-op).
    SetLifecycle {
        /// The target lifecycle.
        to: Lifecycle,
    },
    /// Puts a notification in the outbox, for the recipient `to` names.
    Notify {
        /// The notification's text.
        text: String,
        /// Who it is for (default: the subject record's owner).
        #[serde(default)]
        to: Recipient,
    },
    /// Creates an activity linked like [`Action::CreateTask`]'s task,
    /// `in_days` days after the firing time: a task is due then, any
    /// other kind (a call or meeting to hold) takes place then.
    CreateActivity {
        /// Task, call, meeting, e-mail or note.
        kind: ActivityKind,
        /// Its subject line.
        subject: String,
        /// Days from the firing time.
        in_days: u32,
        /// Who owns it.
        #[serde(default)]
        assignee: Assignee,
    },
    /// Sets one field of the subject's customer (`entity` = customer) or
    /// deal (`entity` = deal; nothing when the subject has no deal), through
    /// the normal update path so every rule applies. `field` is a
    /// [`CustomerPatch`](crate::CustomerPatch) or
    /// [`DealPatch`](crate::DealPatch) field (`name`, `lifecycle`,
    /// `title`, `amount`, `expected_close_date`, …) with `value` in its
    /// JSON form (`null` clears an optional field), or `custom.KEY` with a
    /// custom value's JSON form (`{"type":"text","value":"gold"}`) or
    /// `null`.
    SetField {
        /// `customer` or `deal`.
        entity: EntityKind,
        /// The field.
        field: String,
        /// The new value, as JSON.
        value: Value,
    },
    /// Gives the subject's customer (`entity` = customer) or deal
    /// (`entity` = deal) a new owner.
    ChangeOwner {
        /// `customer` or `deal`.
        entity: EntityKind,
        /// The new owner (a fixed user or round-robin; not `owner`).
        to: Assignee,
    },
}

impl Action {
    /// The user and the team this action names, if any (an assignee or a
    /// recipient given by id).
    pub fn references(&self) -> (Option<UserId>, Option<TeamId>) {
        match self {
            Action::CreateActivity { assignee: x, .. } | Action::ChangeOwner { to: x, .. } => {
                match x {
                    Assignee::User(u) => (Some(*u), None),
                    Assignee::RoundRobin(t) => (None, Some(*t)),
                    Assignee::Owner => (None, None),
                }
            }
            Action::Notify { to, .. } => match to {
                Recipient::User(u) => (Some(*u), None),
                Recipient::TeamManager(t) => (None, Some(*t)),
                Recipient::Owner => (None, None),
            },
            _ => (None, None),
        }
    }

    /// A [`Action::Notify`] for the subject record's owner.
    ///
    /// ```
    /// use crm_core::automation::{Action, Recipient};
    /// assert_eq!(
    ///     Action::notify("Deal won"),
    ///     Action::Notify { text: "Deal won".into(), to: Recipient::Owner },
    /// );
    /// ```
    pub fn notify(text: impl Into<String>) -> Self {
        Action::Notify {
            text: text.into(),
            to: Recipient::Owner,
        }
    }
}

/// Who gets a record an action creates or reassigns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Assignee {
    /// The subject record's owner (none if it has none, or if its owner
    /// is a deactivated user: a rule never assigns work to one).
    #[default]
    Owner,
    /// A fixed user.
    User(UserId),
    /// The next active member of a team, in id order, after the one the
    /// team's stored round-robin cursor names (wrapping around). The
    /// cursor moves in the same transaction as the firing, so it survives
    /// restarts and an undone firing leaves it where it was.
    RoundRobin(TeamId),
}

/// Who a [`Action::Notify`] notification is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The subject record's owner (none if it has none, or if its owner
    /// is a deactivated user).
    #[default]
    Owner,
    /// A fixed user.
    User(UserId),
    /// The manager of a team (none if the team has no manager, or if the
    /// manager is deactivated).
    TeamManager(TeamId),
}
