//! The resolved access of one actor in one transaction, and the one place
//! where scopes become filters and hidden fields are redacted.

use std::collections::BTreeSet;
use std::fmt;

use crate::access::{Field, Operation, Permissions, Resource, Scope};
use crate::activity::Activity;
use crate::actor::Actor;
use crate::custom_field::{CustomValues, FieldSchema};
use crate::customer::Customer;
use crate::deal::Deal;
use crate::error::{EntityKind, Error, Result};
use crate::event::Event;
use crate::id::{TeamId, UserId};
use crate::query::{
    ActivityFilter, CustomerFilter, DealFilter, EventFilter, Query, TeamFilter, UserFilter,
};
use crate::store::ReadTx;
use crate::team::Team;

/// Which owners' records a scope reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerSet {
    /// Every record, owned or not.
    All,
    /// Only records owned by one of these users (sorted, no duplicates);
    /// empty: no record.
    Only(Vec<UserId>),
}

impl OwnerSet {
    /// Whether a record owned by `owner` is in reach.
    pub fn allows(&self, owner: Option<UserId>) -> bool {
        match self {
            OwnerSet::All => true,
            OwnerSet::Only(set) => owner.is_some_and(|o| set.binary_search(&o).is_ok()),
        }
    }

    /// ANDs this set into a filter's `owner_in`-style field.
    pub fn and_into(&self, field: &mut Option<Vec<UserId>>) {
        if let OwnerSet::Only(set) = self {
            *field = Some(match field.take() {
                None => set.clone(),
                Some(given) => {
                    let mut both: Vec<UserId> = given
                        .into_iter()
                        .filter(|u| set.binary_search(u).is_ok())
                        .collect();
                    both.sort();
                    both.dedup();
                    both
                }
            });
        }
    }
}

/// What one actor may see and do, resolved from the store at the start
/// of a transaction (so checks see the state inside that transaction).
///
/// This is the crate's single enforcement point: every read path ANDs one
/// of the `restrict_*` filters into its query (or checks `can_read` on a
/// record it fetched by id) and passes what it returns through a
/// `redact_*` function; every write path calls `check_write`.
#[derive(Debug, Clone)]
pub struct Access {
    actor: Actor,
    perms: Permissions,
    /// The actor and every user in one of the actor's teams (sorted).
    team_members: Vec<UserId>,
    /// Teams the actor belongs to or manages (sorted).
    teams: Vec<TeamId>,
    /// Teams the actor manages (sorted).
    managed: Vec<TeamId>,
    /// The custom fields (entity, key) hidden from the actor's roles.
    custom_hidden: BTreeSet<(EntityKind, String)>,
    /// The custom fields (entity, key) read-only for the actor's roles
    /// (hidden ones included).
    custom_read_only: BTreeSet<(EntityKind, String)>,
    /// Every custom field is hidden (an actor without any permission).
    custom_none: bool,
}

/// The entity types that have custom fields.
const CUSTOM_KINDS: [EntityKind; 3] =
    [EntityKind::Customer, EntityKind::Deal, EntityKind::Activity];

impl Access {
    /// The system actor: may do everything.
    pub fn system() -> Access {
        Access {
            actor: Actor::System,
            perms: Permissions::ALL,
            team_members: Vec::new(),
            teams: Vec::new(),
            managed: Vec::new(),
            custom_hidden: BTreeSet::new(),
            custom_read_only: BTreeSet::new(),
            custom_none: false,
        }
    }

    /// An actor with no permission at all (a user who deactivated
    /// themselves inside a batch).
    pub fn nothing(actor: Actor) -> Access {
        Access {
            actor,
            perms: Permissions::NONE,
            team_members: Vec::new(),
            teams: Vec::new(),
            managed: Vec::new(),
            custom_hidden: BTreeSet::new(),
            custom_read_only: BTreeSet::new(),
            custom_none: true,
        }
    }

    /// Resolves `actor` from the state `tx` sees. A user who does not
    /// exist or is deactivated cannot act ([`Error::ActorNotAllowed`]).
    pub fn load(tx: &dyn ReadTx, actor: Actor) -> Result<Access> {
        let Actor::User(me) = actor else {
            return Ok(Access::system());
        };
        let user = tx.user(me)?.ok_or_else(|| Error::ActorNotAllowed {
            user: me.to_string(),
            reason: "no user has this id".into(),
        })?;
        if !user.active {
            return Err(Error::ActorNotAllowed {
                user: me.to_string(),
                reason: format!("{} is deactivated", user.name),
            });
        }
        let perms = Permissions::combine(user.roles.iter().map(|r| r.permissions()));
        let managed: Vec<TeamId> = all_pages(
            |q| tx.teams(q),
            TeamFilter {
                manager: Some(me),
                ..TeamFilter::default()
            },
        )?
        .into_iter()
        .map(|t: Team| t.id)
        .collect();
        let mut teams: Vec<TeamId> = user.teams.iter().copied().chain(managed.clone()).collect();
        teams.sort();
        teams.dedup();
        let mut team_members = tx.team_members(&teams)?;
        team_members.push(me);
        team_members.sort();
        team_members.dedup();
        let mut managed = managed;
        managed.sort();
        let mut custom_hidden = BTreeSet::new();
        let mut custom_read_only = BTreeSet::new();
        for kind in CUSTOM_KINDS {
            let Some(schema) = tx.field_schema(kind)? else {
                continue;
            };
            let (hidden, read_only) = custom_rules(&schema, &user.roles);
            custom_hidden.extend(hidden.into_iter().map(|k| (kind, k)));
            custom_read_only.extend(read_only.into_iter().map(|k| (kind, k)));
        }
        Ok(Access {
            actor,
            perms,
            team_members,
            teams,
            managed,
            custom_hidden,
            custom_read_only,
            // Without roles every field rule applies, to every key (one
            // not in the schema too, so an error never tells them apart).
            custom_none: user.roles.is_empty(),
        })
    }

    /// Who acts.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// The combined permissions.
    pub fn permissions(&self) -> &Permissions {
        &self.perms
    }

    fn owners(&self, scope: Scope) -> OwnerSet {
        match (scope, self.actor) {
            (Scope::All, _) | (_, Actor::System) => OwnerSet::All,
            (Scope::Team, _) => OwnerSet::Only(self.team_members.clone()),
            (Scope::Own, Actor::User(me)) => OwnerSet::Only(vec![me]),
            (Scope::None, _) => OwnerSet::Only(Vec::new()),
        }
    }

    /// The owners whose records of `r` the actor may read.
    pub fn read_owners(&self, r: Resource) -> OwnerSet {
        self.owners(self.perms.read(r))
    }

    /// The owners whose records of `r` the actor may change.
    pub fn write_owners(&self, r: Resource) -> OwnerSet {
        self.owners(self.perms.write(r))
    }

    /// Whether the actor may read a record of `r` owned by `owner`.
    pub fn can_read(&self, r: Resource, owner: Option<UserId>) -> bool {
        self.read_owners(r).allows(owner)
    }

    /// The narrowest scope that reaches a record owned by `owner`.
    fn needed(&self, owner: Option<UserId>) -> Scope {
        match (owner, self.actor) {
            (Some(o), Actor::User(me)) if o == me => Scope::Own,
            (Some(o), _) if self.team_members.binary_search(&o).is_ok() => Scope::Team,
            _ => Scope::All,
        }
    }

    /// Refuses the write unless the record of `r` owned by `owner` is
    /// within the actor's write scope.
    pub fn check_write(
        &self,
        r: Resource,
        op: Operation,
        id: impl fmt::Display,
        owner: Option<UserId>,
    ) -> Result<()> {
        if self.write_owners(r).allows(owner) {
            return Ok(());
        }
        Err(self.denied(r, op, id.to_string(), self.needed(owner)))
    }

    /// Refuses unless the actor's write scope on `r` is `all` (operations
    /// on records without an owner, and administration).
    pub fn check_write_all(&self, r: Resource, op: Operation, id: impl fmt::Display) -> Result<()> {
        if self.perms.write(r) == Scope::All || self.actor == Actor::System {
            return Ok(());
        }
        Err(self.denied(r, op, id.to_string(), Scope::All))
    }

    fn denied(&self, r: Resource, op: Operation, id: String, needed: Scope) -> Error {
        Error::PermissionDenied {
            actor: self.actor,
            resource: r,
            operation: op,
            id,
            needed,
            granted: self.perms.write(r),
            field: None,
        }
    }

    /// Refuses unless the actor may do everything to every record (the
    /// System actor, or a user whose roles grant write scope `all` on
    /// every resource and hide no field): backups and restores, which hold
    /// every record of every owner.
    pub fn check_admin(&self, op: Operation) -> Result<()> {
        if self.actor == Actor::System {
            return Ok(());
        }
        for r in Resource::ALL {
            if r != Resource::Events {
                self.check_write_all(r, op, "")?;
            }
        }
        if let Some(f) = self.perms.hidden().iter().next() {
            return Err(Error::FieldHidden {
                actor: self.actor,
                field: f,
            });
        }
        if let Some((entity, key)) = self.custom_hidden.iter().next() {
            return Err(Error::CustomFieldHidden {
                actor: self.actor,
                entity: *entity,
                key: key.clone(),
            });
        }
        Ok(())
    }

    /// Refuses a change of field `f` if it is read-only (or hidden) for the actor.
    pub fn check_field_write(&self, f: Field, id: impl fmt::Display) -> Result<()> {
        if self.actor == Actor::System || !self.perms.is_read_only(f) {
            return Ok(());
        }
        Err(Error::PermissionDenied {
            actor: self.actor,
            resource: f.resource(),
            operation: if matches!(f, Field::DealOwner | Field::CustomerOwner) {
                Operation::ChangeOwner
            } else {
                Operation::Update
            },
            id: id.to_string(),
            needed: Scope::All,
            granted: self.perms.write(f.resource()),
            field: Some(f),
        })
    }

    /// Whether `f` is hidden from the actor.
    pub fn is_hidden(&self, f: Field) -> bool {
        self.actor != Actor::System && self.perms.is_hidden(f)
    }

    /// Refuses to filter, sort or aggregate on a hidden field
    /// ([`Error::FieldHidden`]). KPI and segment code call this for every
    /// field they aggregate or evaluate.
    pub fn require_readable(&self, f: Field) -> Result<()> {
        if self.is_hidden(f) {
            return Err(Error::FieldHidden {
                actor: self.actor,
                field: f,
            });
        }
        Ok(())
    }

    // ----- custom fields -----

    /// Whether custom field `key` of `entity` is hidden from the actor.
    pub fn is_custom_hidden(&self, entity: EntityKind, key: &str) -> bool {
        self.actor != Actor::System
            && (self.custom_none || self.custom_hidden.contains(&(entity, key.to_owned())))
    }

    /// Whether custom field `key` of `entity` is read-only (or hidden) for
    /// the actor.
    pub fn is_custom_read_only(&self, entity: EntityKind, key: &str) -> bool {
        self.actor != Actor::System
            && (self.custom_none || self.custom_read_only.contains(&(entity, key.to_owned())))
    }

    /// Refuses to filter, sort or aggregate on custom field `key` of
    /// `entity` if it is hidden ([`Error::CustomFieldHidden`]).
    pub fn require_custom_readable(&self, entity: EntityKind, key: &str) -> Result<()> {
        if self.is_custom_hidden(entity, key) {
            return Err(Error::CustomFieldHidden {
                actor: self.actor,
                entity,
                key: key.to_owned(),
            });
        }
        Ok(())
    }

    /// Refuses a change of custom field `key` of `entity` on record `id`
    /// (empty for a new record) if it is read-only or hidden for the actor
    /// ([`Error::CustomFieldReadOnly`]).
    pub fn check_custom_write(
        &self,
        entity: EntityKind,
        key: &str,
        id: impl fmt::Display,
    ) -> Result<()> {
        if self.is_custom_read_only(entity, key) {
            return Err(Error::CustomFieldReadOnly {
                actor: self.actor,
                entity,
                id: id.to_string(),
                key: key.to_owned(),
            });
        }
        Ok(())
    }

    /// Refuses a change from `old` to `new` custom values of record `id`
    /// of `entity` that sets, changes or clears a field read-only for the
    /// actor (the first such key, in key order).
    pub fn check_custom_changes(
        &self,
        entity: EntityKind,
        old: &CustomValues,
        new: &CustomValues,
        id: impl fmt::Display,
    ) -> Result<()> {
        if self.actor == Actor::System {
            return Ok(());
        }
        let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for key in keys {
            if old.get(key) != new.get(key) {
                self.check_custom_write(entity, key, &id)?;
            }
        }
        Ok(())
    }

    /// Removes the custom values hidden from the actor.
    pub fn redact_custom(&self, entity: EntityKind, values: &mut CustomValues) {
        if self.actor == Actor::System || (!self.custom_none && self.custom_hidden.is_empty()) {
            return;
        }
        values.retain(|key, _| !self.is_custom_hidden(entity, key));
    }

    // ----- scopes as filters -----

    /// ANDs the deal read scope into `f`; refuses filters on hidden fields.
    pub fn restrict_deals(&self, f: &mut DealFilter) -> Result<()> {
        if f.amount_set.is_some() {
            self.require_readable(Field::DealAmount)?;
        }
        self.read_owners(Resource::Deals).and_into(&mut f.owner_in);
        Ok(())
    }

    /// ANDs the customer read scope into `f`; refuses filters on hidden fields.
    pub fn restrict_customers(&self, f: &mut CustomerFilter) -> Result<()> {
        if f.email.is_some() {
            self.require_readable(Field::CustomerEmails)?;
        }
        self.read_owners(Resource::Customers)
            .and_into(&mut f.owner_in);
        Ok(())
    }

    /// ANDs the activity read scope into `f`.
    pub fn restrict_activities(&self, f: &mut ActivityFilter) -> Result<()> {
        self.read_owners(Resource::Activities)
            .and_into(&mut f.owner_in);
        Ok(())
    }

    /// ANDs the event-log read scope (by acting user) into `f`.
    pub fn restrict_events(&self, f: &mut EventFilter) -> Result<()> {
        self.read_owners(Resource::Events).and_into(&mut f.actor_in);
        Ok(())
    }

    /// ANDs the user read scope into `f` (a user record is owned by that user).
    pub fn restrict_users(&self, f: &mut UserFilter) -> Result<()> {
        self.read_owners(Resource::Users).and_into(&mut f.id_in);
        Ok(())
    }

    /// The teams within `scope`: `own` the managed ones, `team` those the
    /// actor belongs to or manages.
    fn team_set(&self, scope: Scope) -> Option<Vec<TeamId>> {
        match (scope, self.actor) {
            (Scope::All, _) | (_, Actor::System) => None,
            (Scope::Team, _) => Some(self.teams.clone()),
            (Scope::Own, _) => Some(self.managed.clone()),
            (Scope::None, _) => Some(Vec::new()),
        }
    }

    /// ANDs the team read scope into `f`.
    pub fn restrict_teams(&self, f: &mut TeamFilter) -> Result<()> {
        if let Some(set) = self.team_set(self.perms.read(Resource::Teams)) {
            f.id_in = Some(match f.id_in.take() {
                None => set,
                Some(given) => given.into_iter().filter(|t| set.contains(t)).collect(),
            });
        }
        Ok(())
    }

    /// Whether the actor may read team `t`.
    pub fn can_read_team(&self, t: TeamId) -> bool {
        self.team_set(self.perms.read(Resource::Teams))
            .is_none_or(|s| s.contains(&t))
    }

    /// Refuses a change to team `t` (its membership, or with `all` anything).
    pub fn check_team_write(&self, t: TeamId, op: Operation) -> Result<()> {
        let scope = self.perms.write(Resource::Teams);
        if self.team_set(scope).is_none_or(|s| s.contains(&t)) {
            return Ok(());
        }
        let needed = if self.managed.contains(&t) {
            Scope::Own
        } else if self.teams.contains(&t) {
            Scope::Team
        } else {
            Scope::All
        };
        Err(self.denied(Resource::Teams, op, t.to_string(), needed))
    }

    // ----- redaction -----

    /// Removes hidden fields from a deal.
    pub fn redact_deal(&self, d: &mut Deal) {
        if self.is_hidden(Field::DealAmount) {
            d.amount = None;
        }
        self.redact_custom(EntityKind::Deal, &mut d.custom);
    }

    /// Removes hidden fields from a customer.
    pub fn redact_customer(&self, c: &mut Customer) {
        if self.is_hidden(Field::CustomerEmails) {
            c.emails.clear();
        }
        if self.is_hidden(Field::CustomerPhones) {
            c.phones.clear();
        }
        self.redact_custom(EntityKind::Customer, &mut c.custom);
    }

    /// Removes hidden fields from an activity.
    pub fn redact_activity(&self, a: &mut Activity) {
        if self.is_hidden(Field::ActivityBody) {
            a.body = None;
        }
        self.redact_custom(EntityKind::Activity, &mut a.custom);
    }

    /// Removes the changes of hidden fields from an event.
    pub fn redact_event(&self, e: &mut Event) {
        let resource = match e.entity.kind {
            EntityKind::Deal => Resource::Deals,
            EntityKind::Customer => Resource::Customers,
            EntityKind::Activity => Resource::Activities,
            _ => return,
        };
        let hidden: Vec<&str> = Field::ALL
            .into_iter()
            .filter(|f| f.resource() == resource && self.is_hidden(*f))
            .map(|f| f.name())
            .collect();
        if !hidden.is_empty() {
            e.changes.retain(|c| !hidden.contains(&c.field.as_str()));
        }
        // Custom values change as one `custom` map: drop the hidden keys
        // from both sides, and the change if nothing visible is left of it.
        let kind = e.entity.kind;
        let strip = |v: &mut serde_json::Value| {
            if let serde_json::Value::Object(map) = v {
                map.retain(|key, _| !self.is_custom_hidden(kind, key));
            }
        };
        for c in e.changes.iter_mut().filter(|c| c.field == "custom") {
            strip(&mut c.old);
            strip(&mut c.new);
        }
        let blank = |v: &serde_json::Value| {
            v.is_null() || v.as_object().is_some_and(serde_json::Map::is_empty)
        };
        e.changes.retain(|c| {
            c.field != "custom" || (c.old != c.new && !(blank(&c.old) && blank(&c.new)))
        });
    }
}

/// The keys of `schema`'s fields hidden from, and read-only for, a user
/// with `roles` (see [field rules](crate::access#custom-fields)): hidden
/// if every role is in `hidden_from`, read-only if every role is in
/// `read_only_for` or `hidden_from`. A user without roles has every field
/// hidden, as every built-in field rule applies to them.
fn custom_rules(
    schema: &FieldSchema,
    roles: &BTreeSet<crate::access::AccessRole>,
) -> (Vec<String>, Vec<String>) {
    let mut hidden = Vec::new();
    let mut read_only = Vec::new();
    for def in &schema.fields {
        let hides = roles.iter().all(|r| def.hidden_from.contains(r));
        if hides {
            hidden.push(def.key.clone());
        }
        if hides
            || roles
                .iter()
                .all(|r| def.read_only_for.contains(r) || def.hidden_from.contains(r))
        {
            read_only.push(def.key.clone());
        }
    }
    (hidden, read_only)
}

fn all_pages<T, F: Clone + Default, O: Default + Clone>(
    mut fetch: impl FnMut(&Query<F, O>) -> std::result::Result<crate::Page<T>, crate::StoreError>,
    filter: F,
) -> Result<Vec<T>> {
    let mut q: Query<F, O> = Query::new()
        .filter(filter)
        .limit(crate::PageRequest::MAX_LIMIT);
    let mut out = Vec::new();
    loop {
        let page = fetch(&q)?;
        out.extend(page.items);
        match page.next {
            Some(c) => q.page.after = Some(c),
            None => return Ok(out),
        }
    }
}
