//! Durable notifications the host reads and acknowledges.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::EntityRef;
use crate::id::{NotificationId, RuleId, UserId};

/// A message a rule asked the host to deliver (by e-mail, push, webhook:
/// the engine does no network I/O). It stays in the outbox until the host
/// acknowledges it with
/// [`Session::acknowledge_notification`](crate::Session::acknowledge_notification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Notification {
    /// Identity.
    pub id: NotificationId,
    /// 1 when created, 2 once acknowledged.
    pub version: u64,
    /// The rule that put it here.
    pub rule: RuleId,
    /// Who should hear about it: the subject record's owner (`None`: it
    /// has no owner; the host decides).
    pub recipient: Option<UserId>,
    /// The record the rule fired on.
    pub subject: EntityRef,
    /// The text.
    pub text: String,
    /// When the rule fired.
    pub created_at: DateTime<Utc>,
    /// When the host acknowledged it, if it has.
    pub acknowledged_at: Option<DateTime<Utc>>,
}
