//! Users: the people who act on the CRM.
//!
//! A [`User`] has a name, a normalised e-mail address, an `active` flag,
//! the [`AccessRole`]s that decide what they may read and change, and the
//! [`Team`](crate::Team)s they belong to. Users are versioned, audited
//! records like every other: creating, renaming, deactivating a user,
//! changing their roles and their team membership each append one event.
//!
//! A deactivated user keeps owning their records (so history stays
//! intact) but can no longer act: a session for them fails with
//! [`Error::ActorNotAllowed`].
//!
//! Rules: the name is trimmed, not empty, at most 200 characters; the
//! e-mail is validated like a customer's ([`Email`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::access::AccessRole;
use crate::contact::Email;
use crate::error::{EntityKind, Error, Result};
use crate::event::Changes;
use crate::id::{TeamId, UserId};

/// A user of the CRM, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Identity.
    pub id: UserId,
    /// Incremented on every change (starts at 1).
    pub version: u64,
    /// Display name.
    pub name: String,
    /// Normalised e-mail address.
    pub email: Email,
    /// Whether the user may act. Deactivated users keep their records.
    pub active: bool,
    /// The roles the user acts with (combined: the most permissive wins).
    pub roles: BTreeSet<AccessRole>,
    /// The teams the user belongs to.
    pub teams: BTreeSet<TeamId>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input for a new user.
///
/// ```
/// use crm_core::{AccessRole, NewUser};
/// let u = NewUser::new("Maria Rossi", "maria@example.com").role(AccessRole::SalesRep);
/// assert_eq!(u.roles, vec![AccessRole::SalesRep]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Display name.
    pub name: String,
    /// E-mail address (validated and normalised).
    pub email: String,
    /// Roles to grant.
    #[serde(default)]
    pub roles: Vec<AccessRole>,
    /// Teams to join (each must exist).
    #[serde(default)]
    pub teams: Vec<TeamId>,
}

impl NewUser {
    /// A user with a name and e-mail, no roles and no teams.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        NewUser {
            name: name.into(),
            email: email.into(),
            roles: Vec::new(),
            teams: Vec::new(),
        }
    }

    /// Adds a role.
    pub fn role(mut self, role: AccessRole) -> Self {
        self.roles.push(role);
        self
    }

    /// Adds a team.
    pub fn team(mut self, team: TeamId) -> Self {
        self.teams.push(team);
        self
    }

    pub(crate) fn into_user(self, id: UserId, now: DateTime<Utc>) -> Result<User> {
        Ok(User {
            id,
            version: 1,
            name: validate_name(EntityKind::User, &self.name)?,
            email: validate_email(&self.email)?,
            active: true,
            roles: self.roles.into_iter().collect(),
            teams: self.teams.into_iter().collect(),
            created_at: now,
            updated_at: now,
        })
    }
}

/// Changes to a user's name or e-mail. Roles, teams and the active flag
/// have their own, separately permissioned operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct UserPatch {
    /// New name.
    pub name: Option<String>,
    /// New e-mail address.
    pub email: Option<String>,
}

impl UserPatch {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the e-mail address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    pub(crate) fn apply(self, current: &User) -> Result<(User, Changes)> {
        let mut next = current.clone();
        if let Some(n) = &self.name {
            next.name = validate_name(EntityKind::User, n)?;
        }
        if let Some(e) = &self.email {
            next.email = validate_email(e)?;
        }
        let mut ch = Changes::default();
        ch.field("name", &current.name, &next.name);
        ch.field("email", &current.email, &next.email);
        Ok((next, ch))
    }
}

pub(crate) fn validate_name(entity: EntityKind, name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(
            entity,
            "name",
            name,
            format!("a {entity} needs a name"),
        ));
    }
    crate::limits::check_text(
        entity,
        "name",
        "a name",
        trimmed,
        crate::limits::MAX_NAME_CHARS,
        false,
    )?;
    Ok(trimmed.to_owned())
}

fn validate_email(email: &str) -> Result<Email> {
    Email::parse(email).map_err(|e| Error::invalid(EntityKind::User, "email", email, e.to_string()))
}

pub(crate) fn creation_changes(u: &User) -> Changes {
    let mut ch = Changes::default();
    ch.set("name", &(), &u.name);
    ch.set("email", &(), &u.email);
    ch.set("active", &(), &u.active);
    ch.set("roles", &(), &u.roles);
    ch.set("teams", &(), &u.teams);
    ch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default()
    }

    #[test]
    fn new_user_is_normalised_and_active() {
        let id = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let u = NewUser::new("  Maria ", " Maria@Example.COM")
            .role(AccessRole::SalesRep)
            .role(AccessRole::SalesRep)
            .into_user(id, at())
            .unwrap();
        assert_eq!(u.name, "Maria");
        assert_eq!(u.email.as_str(), "maria@example.com");
        assert!(u.active);
        assert_eq!(u.version, 1);
        assert_eq!(u.roles.len(), 1);
    }

    #[test]
    fn bad_input_names_the_field() {
        let id = UserId::from_uuid(uuid::Uuid::from_u128(1));
        let err = NewUser::new("", "a@b.example")
            .into_user(id, at())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid user.name \"\": a user needs a name"
        );
        let err = NewUser::new("A", "nope").into_user(id, at()).unwrap_err();
        assert!(err.to_string().starts_with("invalid user.email \"nope\""));
    }
}
