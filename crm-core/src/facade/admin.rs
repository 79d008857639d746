//! Users and teams: administration, membership and their reads. Every
//! operation is permissioned (see [`crate::access`]) and appends one event
//! about the user or team it changes.

use std::collections::BTreeSet;

use super::batch::entity;
use super::{Batch, Session, reads};
use crate::access::{AccessRole, Operation, Resource};
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EventKind};
use crate::id::{TeamId, UserId};
use crate::query::{Page, TeamQuery, UserQuery};
use crate::store::Store;
use crate::team::{self, NewTeam, Team};
use crate::user::{self, NewUser, User, UserPatch};

impl Batch<'_> {
    fn store_user(&mut self, current: &User, mut next: User, ch: Changes) -> Result<User> {
        if ch.is_empty() {
            return Ok(current.clone());
        }
        let now = self.now();
        next.version += 1;
        next.updated_at = now.max(current.updated_at);
        self.tx.update_user(&next)?;
        self.record(
            entity(EntityKind::User, next.id.as_uuid()),
            next.version,
            EventKind::Updated,
            ch,
            now,
        )?;
        self.reload_access()?;
        Ok(next)
    }

    fn existing_team(&self, t: TeamId, field: &str, entity_kind: EntityKind) -> Result<Team> {
        self.tx
            .team(t)?
            .filter(|team| self.access.can_read_team(team.id))
            .ok_or_else(|| Error::invalid(entity_kind, field, t, "no team has this id"))
    }

    /// Creates a user (needs write scope `all` on users).
    pub fn create_user(&mut self, input: NewUser) -> Result<User> {
        self.access
            .check_write_all(Resource::Users, Operation::Create, "")?;
        let now = self.now();
        let id = UserId::from_uuid(self.new_uuid());
        let user = input.into_user(id, now)?;
        for t in &user.teams {
            self.existing_team(*t, "teams", EntityKind::User)?;
        }
        self.tx.insert_user(&user)?;
        self.record(
            entity(EntityKind::User, id.as_uuid()),
            1,
            EventKind::Created,
            user::creation_changes(&user),
            now,
        )?;
        self.reload_access()?;
        Ok(user)
    }

    /// Changes a user's name or e-mail (write scope on users reaching
    /// that user: `own` lets a user edit themselves).
    pub fn update_user(&mut self, id: UserId, version: u64, patch: UserPatch) -> Result<User> {
        let current = reads::user_in_scope(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::User, id, version, current.version)?;
        self.access
            .check_write(Resource::Users, Operation::Update, id, Some(id))?;
        let (next, ch) = patch.apply(&current)?;
        self.store_user(&current, next, ch)
    }

    /// Deactivates (`false`) or reactivates a user (needs write scope
    /// `all` on users). A deactivated user keeps their records but cannot act.
    ///
    /// The policy for the records they own: deactivation is allowed while
    /// the user still owns customers, deals or activities (someone who
    /// left stays on record as who was responsible), and those records stay
    /// fully usable. What a deactivated user can no longer become is a *new*
    /// owner or assignee: creating or reassigning a record to them is
    /// refused (`owner`: "that user is deactivated"), a rule naming them
    /// (as assignee or recipient) blocks their deactivation until it is
    /// changed, and a rule that assigns work to
    /// or notifies "the owner" of one of their records leaves the task
    /// unassigned and the notification without a recipient. Reassign their
    /// records with `update_customer` / `update_deal` (owner changes are
    /// allowed on closed deals too).
    pub fn set_user_active(&mut self, id: UserId, version: u64, active: bool) -> Result<User> {
        let current = reads::user_in_scope(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::User, id, version, current.version)?;
        self.access
            .check_write_all(Resource::Users, Operation::ChangeActive, id)?;
        if current.active && !active {
            self.check_no_rule_names(id)?;
        }
        let next = User {
            active,
            ..current.clone()
        };
        let mut ch = Changes::default();
        ch.field("active", &current.active, &next.active);
        self.store_user(&current, next, ch)
    }

    /// Replaces a user's roles (needs write scope `all` on users, so no
    /// one can grant themselves more than they have).
    pub fn set_user_roles(
        &mut self,
        id: UserId,
        version: u64,
        roles: impl IntoIterator<Item = AccessRole>,
    ) -> Result<User> {
        let current = reads::user_in_scope(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::User, id, version, current.version)?;
        self.access
            .check_write_all(Resource::Users, Operation::ChangeRoles, id)?;
        let next = User {
            roles: roles.into_iter().collect::<BTreeSet<_>>(),
            ..current.clone()
        };
        let mut ch = Changes::default();
        ch.field("roles", &current.roles, &next.roles);
        self.store_user(&current, next, ch)
    }

    fn change_membership(&mut self, team: TeamId, user: UserId, join: bool) -> Result<User> {
        self.existing_team(team, "team", EntityKind::Team)?;
        let current = reads::user_in_scope(&*self.tx, &self.access, user)?;
        self.access
            .check_team_write(team, Operation::ChangeMembership)?;
        let mut next = current.clone();
        if join {
            next.teams.insert(team);
        } else {
            next.teams.remove(&team);
        }
        let mut ch = Changes::default();
        ch.field("teams", &current.teams, &next.teams);
        self.store_user(&current, next, ch)
    }

    /// Adds `user` to `team` (write scope on teams reaching that team:
    /// `own` lets a manager staff the teams they manage). Adding a member
    /// twice changes nothing.
    pub fn add_team_member(&mut self, team: TeamId, user: UserId) -> Result<User> {
        self.change_membership(team, user, true)
    }

    /// Removes `user` from `team` (permissioned like [`Batch::add_team_member`]).
    pub fn remove_team_member(&mut self, team: TeamId, user: UserId) -> Result<User> {
        self.change_membership(team, user, false)
    }

    fn check_manager(&self, manager: Option<UserId>) -> Result<()> {
        if let Some(m) = manager {
            match reads::user_in_scope(&*self.tx, &self.access, m) {
                Ok(u) if u.active => {}
                Ok(_) => {
                    return Err(Error::invalid(
                        EntityKind::Team,
                        "manager",
                        m,
                        "that user is deactivated",
                    ));
                }
                Err(_) => {
                    return Err(Error::invalid(
                        EntityKind::Team,
                        "manager",
                        m,
                        "no user has this id",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Creates a team (needs write scope `all` on teams).
    pub fn create_team(&mut self, input: NewTeam) -> Result<Team> {
        self.access
            .check_write_all(Resource::Teams, Operation::Create, "")?;
        self.check_manager(input.manager)?;
        let now = self.now();
        let id = TeamId::from_uuid(self.new_uuid());
        let t = input.into_team(id, now)?;
        self.tx.insert_team(&t)?;
        self.record(
            entity(EntityKind::Team, id.as_uuid()),
            1,
            EventKind::Created,
            team::creation_changes(&t),
            now,
        )?;
        self.reload_access()?;
        Ok(t)
    }

    /// Sets or clears a team's manager (needs write scope `all` on teams).
    pub fn set_team_manager(
        &mut self,
        id: TeamId,
        version: u64,
        manager: Option<UserId>,
    ) -> Result<Team> {
        let current = reads::team(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::Team, id, version, current.version)?;
        self.access
            .check_write_all(Resource::Teams, Operation::ChangeOwner, id)?;
        self.check_manager(manager)?;
        if manager == current.manager {
            return Ok(current);
        }
        let now = self.now();
        let next = Team {
            manager,
            version: current.version + 1,
            updated_at: now.max(current.updated_at),
            ..current.clone()
        };
        let mut ch = Changes::default();
        ch.field("manager", &current.manager, &next.manager);
        self.tx.update_team(&next)?;
        self.record(
            entity(EntityKind::Team, id.as_uuid()),
            next.version,
            EventKind::Updated,
            ch,
            now,
        )?;
        self.reload_access()?;
        Ok(next)
    }

    /// The user with `id`, if the actor may read it.
    pub fn user(&self, id: UserId) -> Result<User> {
        reads::user(&*self.tx, &self.access, id)
    }

    /// A page of the users the actor may read.
    pub fn users(&self, query: &UserQuery) -> Result<Page<User>> {
        reads::users(&*self.tx, &self.access, query)
    }

    /// The team with `id`, if the actor may read it.
    pub fn team(&self, id: TeamId) -> Result<Team> {
        reads::team(&*self.tx, &self.access, id)
    }

    /// A page of the teams the actor may read.
    pub fn teams(&self, query: &TeamQuery) -> Result<Page<Team>> {
        reads::teams(&*self.tx, &self.access, query)
    }
}

impl<S: Store> Session<'_, S> {
    /// Creates a user. See [`Batch::create_user`].
    ///
    /// ```
    /// use crm_core::{AccessRole, Actor, Crm, NewTeam, NewUser};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let system = crm.as_actor(Actor::System);
    /// let north = system.create_team(NewTeam::new("North"))?;
    /// let maria = system.create_user(
    ///     NewUser::new("Maria", "maria@example.com").role(AccessRole::SalesRep).team(north.id),
    /// )?;
    /// assert!(maria.active && maria.teams.contains(&north.id));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_user(&self, input: NewUser) -> Result<User> {
        self.batch(|b| b.create_user(input))
    }

    /// Changes a user's name or e-mail. See [`Batch::update_user`].
    pub fn update_user(&self, id: UserId, version: u64, patch: UserPatch) -> Result<User> {
        self.batch(|b| b.update_user(id, version, patch))
    }

    /// Deactivates a user. See [`Batch::set_user_active`].
    pub fn deactivate_user(&self, id: UserId, version: u64) -> Result<User> {
        self.batch(|b| b.set_user_active(id, version, false))
    }

    /// Reactivates a user. See [`Batch::set_user_active`].
    pub fn reactivate_user(&self, id: UserId, version: u64) -> Result<User> {
        self.batch(|b| b.set_user_active(id, version, true))
    }

    /// Replaces a user's roles. See [`Batch::set_user_roles`].
    pub fn set_user_roles(
        &self,
        id: UserId,
        version: u64,
        roles: impl IntoIterator<Item = AccessRole>,
    ) -> Result<User> {
        self.batch(|b| b.set_user_roles(id, version, roles))
    }

    /// Adds a user to a team. See [`Batch::add_team_member`].
    pub fn add_team_member(&self, team: TeamId, user: UserId) -> Result<User> {
        self.batch(|b| b.add_team_member(team, user))
    }

    /// Removes a user from a team. See [`Batch::remove_team_member`].
    pub fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<User> {
        self.batch(|b| b.remove_team_member(team, user))
    }

    /// Creates a team. See [`Batch::create_team`].
    pub fn create_team(&self, input: NewTeam) -> Result<Team> {
        self.batch(|b| b.create_team(input))
    }

    /// Sets or clears a team's manager. See [`Batch::set_team_manager`].
    pub fn set_team_manager(
        &self,
        id: TeamId,
        version: u64,
        manager: Option<UserId>,
    ) -> Result<Team> {
        self.batch(|b| b.set_team_manager(id, version, manager))
    }

    /// The user with `id`, if the actor may read it.
    pub fn user(&self, id: UserId) -> Result<User> {
        self.with_access(|tx, a| reads::user(tx, a, id))
    }

    /// A page of the users the actor may read.
    pub fn users(&self, query: &UserQuery) -> Result<Page<User>> {
        self.with_access(|tx, a| reads::users(tx, a, query))
    }

    /// The team with `id`, if the actor may read it.
    pub fn team(&self, id: TeamId) -> Result<Team> {
        self.with_access(|tx, a| reads::team(tx, a, id))
    }

    /// A page of the teams the actor may read.
    pub fn teams(&self, query: &TeamQuery) -> Result<Page<Team>> {
        self.with_access(|tx, a| reads::teams(tx, a, query))
    }
}
