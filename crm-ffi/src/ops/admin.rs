//! `user.*` and `team.*`: the people who act and the teams they form.

use crm_core::query::{TeamQuery, UserQuery};
use crm_core::{AccessRole, NewTeam, NewUser, TeamId, UserId, UserPatch};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ById, Ctx, Step, Versioned, out, req, step};
use crate::status::Failure;

/// `user.update`: changes to a user at a version.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Update {
    /// The user.
    id: UserId,
    /// The version the change is based on.
    version: u64,
    /// The fields to change.
    patch: UserPatch,
}

/// `user.set_roles`: a user's new roles.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetRoles {
    /// The user.
    id: UserId,
    /// The version the change is based on.
    version: u64,
    /// The roles, replacing the old ones.
    roles: Vec<AccessRole>,
}

/// `team.add_member`, `team.remove_member`: a user and a team.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Membership {
    /// The team.
    team: TeamId,
    /// The user joining or leaving it.
    user: UserId,
}

/// `team.set_manager`: a team's manager, or none.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetManager {
    /// The team.
    id: TeamId,
    /// The version the change is based on.
    version: u64,
    /// The new manager; `null` clears it.
    manager: Option<UserId>,
}

pub(super) fn create_user(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let input: NewUser = req(request)?;
    step(move |b| b.create_user(input))
}

pub(super) fn get_user(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.user(req::<ById<UserId>>(request)?.id))
}

pub(super) fn list_users(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.users(&req::<UserQuery>(request)?))
}

pub(super) fn update_user(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Update = req(request)?;
    step(move |b| b.update_user(r.id, r.version, r.patch))
}

pub(super) fn deactivate_user(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Versioned<UserId> = req(request)?;
    step(move |b| b.set_user_active(r.id, r.version, false))
}

pub(super) fn reactivate_user(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Versioned<UserId> = req(request)?;
    step(move |b| b.set_user_active(r.id, r.version, true))
}

pub(super) fn set_user_roles(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: SetRoles = req(request)?;
    step(move |b| b.set_user_roles(r.id, r.version, r.roles))
}

pub(super) fn create_team(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let input: NewTeam = req(request)?;
    step(move |b| b.create_team(input))
}

pub(super) fn get_team(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.team(req::<ById<TeamId>>(request)?.id))
}

pub(super) fn list_teams(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.teams(&req::<TeamQuery>(request)?))
}

pub(super) fn add_member(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Membership = req(request)?;
    step(move |b| b.add_team_member(r.team, r.user))
}

pub(super) fn remove_member(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Membership = req(request)?;
    step(move |b| b.remove_team_member(r.team, r.user))
}

pub(super) fn set_manager(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: SetManager = req(request)?;
    step(move |b| b.set_team_manager(r.id, r.version, r.manager))
}
