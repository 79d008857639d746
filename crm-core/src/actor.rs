//! Who performs a change.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::UserId;

/// The party on whose behalf the engine acts. Every event records one.
///
/// Acting as [`Actor::System`] is always explicit (imports, migrations,
/// automation); there is no default actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// The engine itself or a batch job acting without a user.
    System,
    /// A user of the host application.
    User(UserId),
}

impl Actor {
    /// The user behind this actor, if any.
    pub fn user(&self) -> Option<UserId> {
        match self {
            Actor::System => None,
            Actor::User(u) => Some(*u),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::System => f.pad("system"),
            Actor::User(u) => f.pad(&format!("user {u}")),
        }
    }
}
