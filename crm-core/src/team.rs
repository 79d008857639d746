//! Teams: groups of users whose records their members may share.
//!
//! A [`Team`] has a name and an optional manager (an existing user, who
//! need not be a member). Membership is kept on the [`User`](crate::User)
//! (`User::teams`), so "which teams is this user in" is one record read;
//! "who is in this team" is a listing with
//! [`UserFilter::team`](crate::query::UserFilter::team).
//!
//! For access control, an actor's teams are the teams they belong to plus
//! the teams they manage: a manager sees their team's records under a
//! `team` scope without being a member.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{EntityKind, Result};
use crate::event::Changes;
use crate::id::{TeamId, UserId};

/// A team, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Identity.
    pub id: TeamId,
    /// Incremented on every change (starts at 1).
    pub version: u64,
    /// Display name.
    pub name: String,
    /// The user who manages the team, if any.
    pub manager: Option<UserId>,
    /// When the team was created.
    pub created_at: DateTime<Utc>,
    /// When the team last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input for a new team.
///
/// ```
/// use crm_core::NewTeam;
/// let t = NewTeam::new("North");
/// assert_eq!(t.manager, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    /// Display name.
    pub name: String,
    /// Manager (must be an existing, active user).
    #[serde(default)]
    pub manager: Option<UserId>,
}

impl NewTeam {
    /// A team without a manager.
    pub fn new(name: impl Into<String>) -> Self {
        NewTeam {
            name: name.into(),
            manager: None,
        }
    }

    /// Sets the manager.
    pub fn manager(mut self, manager: UserId) -> Self {
        self.manager = Some(manager);
        self
    }

    pub(crate) fn into_team(self, id: TeamId, now: DateTime<Utc>) -> Result<Team> {
        Ok(Team {
            id,
            version: 1,
            name: crate::user::validate_name(EntityKind::Team, &self.name)?,
            manager: self.manager,
            created_at: now,
            updated_at: now,
        })
    }
}

pub(crate) fn creation_changes(t: &Team) -> Changes {
    let mut ch = Changes::default();
    ch.set("name", &(), &t.name);
    if t.manager.is_some() {
        ch.set("manager", &(), &t.manager);
    }
    ch
}
