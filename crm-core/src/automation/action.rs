//! What a rule does when it fires.

use serde::{Deserialize, Serialize};

use crate::customer::Lifecycle;

/// One effect of a [`Rule`](super::Rule), run through the same
/// [`Batch`](crate::Batch) as the change that fired it, so every
/// validation applies and every effect appends its own event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Puts a notification for the subject record's owner in the outbox.
    Notify {
        /// The notification's text.
        text: String,
    },
}
