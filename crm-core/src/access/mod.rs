//! Access control: roles, scopes and field rules, enforced by the facade.
//!
//! # Model
//!
//! Every [`Session`](crate::Session) acts as an [`Actor`](crate::Actor):
//! either [`Actor::System`](crate::Actor::System) (imports, migrations,
//! automation; may do everything, always explicit) or a stored, active
//! [`User`](crate::User) acting with their [`AccessRole`]s.
//!
//! A role grants, per [`Resource`], a read [`Scope`] and a write scope
//! out of `none`, `own`, `team` and `all`:
//!
//! - `own`: the record's owner is the actor (an activity's owner is its
//!   assignee; a user record is "owned" by that user; a team by its manager);
//! - `team`: the record's owner is a member of one of the actor's teams
//!   (the teams they belong to or manage), the actor included;
//! - `all`: every record. Records with no owner need `all`.
//!
//! Pipelines (and custom-field schemas, which are configuration like
//! them) have no owner, so only `all` lets an actor see or change them. A
//! saved segment is owned by the user who saved it.
//! For the event log the "owner" of an event is the user who made the
//! change: `own` shows the actor's own changes, `team` their team's.
//!
//! Field rules: a role may hide a [`Field`] (it is absent from everything
//! the actor reads, and filtering, sorting or aggregating on it is an
//! [`Error::FieldHidden`](crate::Error::FieldHidden)) or make it read-only
//! (changing it is an [`Error::PermissionDenied`](crate::Error::PermissionDenied)).
//! A hidden field is also read-only. Today the filters that touch a
//! hideable field are `DealFilter::amount_set` and `CustomerFilter::email`;
//! no listing order sorts by one; aggregations (KPI reports) call
//! [`Access::require_readable`] for every field they sum or average.
//!
//! # Custom fields
//!
//! A custom field ([`FieldDef`](crate::custom_field::FieldDef)) carries
//! its own field rules, by role: `hidden_from` and `read_only_for`. They
//! work as the built-in field rules do, on every path:
//!
//! - hidden: the value is absent from every record the actor reads (single
//!   reads, listings, what a write returns, duplicate search), from the
//!   `custom` change of every event, and its column from CSV exports; a
//!   segment predicate `field.KEY` on it is an
//!   [`Error::CustomFieldHidden`](crate::Error::CustomFieldHidden) before
//!   anything is read (no KPI report sums or averages a custom field
//!   today). A hidden field is also read-only.
//! - read-only: setting, changing or clearing it (a create, an update, a
//!   merge that would copy a value over, an import row, a score run) is an
//!   [`Error::CustomFieldReadOnly`](crate::Error::CustomFieldReadOnly)
//!   naming the field; nothing is written. A write that leaves the field
//!   as it is goes through, and keeps its stored value.
//!
//! Roles combine as for built-in fields: a field is hidden from a user only
//! if every one of their roles is in `hidden_from`, read-only only if every
//! role is in `read_only_for` or `hidden_from`. The schema itself
//! ([`Session::custom_fields`](crate::Session::custom_fields)) is
//! configuration: it lists every field with its rules, to anyone with read
//! scope `all` on pipelines. Backups and consistency checks hold every
//! value, so an actor from whom any custom field is hidden may not take
//! them. An automation rule runs as the system, so saving one checks its
//! author's field rules instead: a trigger or condition on a field hidden
//! from them is refused, and so is an action setting a custom field
//! read-only for them.
//!
//! ```
//! use crm_core::custom_field::{CustomValue, FieldDef, FieldType};
//! use crm_core::{AccessRole, Actor, Crm, EntityKind, Money, NewCustomer, NewDeal, NewUser, PipelineDef};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let system = crm.as_actor(Actor::System);
//! system.set_custom_fields(EntityKind::Deal, 0, vec![
//!     FieldDef::new("margin", "Margin", FieldType::Money).hidden_from([AccessRole::Support]),
//! ])?;
//! let sam = system.create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))?;
//! let p = system.create_pipeline(PipelineDef::sales_template("Sales"))?;
//! let acme = system.create_customer(NewCustomer::organisation("ACME"))?;
//! let deal = system.create_deal(NewDeal::new(acme.id, p.id, "Robots")
//!     .custom("margin", CustomValue::Money(Money::parse("1200.00", "EUR")?)))?;
//! // Support reads the deal without its margin; the system sees it.
//! assert!(crm.as_user(sam.id).deal(deal.id)?.custom.is_empty());
//! assert!(system.deal(deal.id)?.custom.contains_key("margin"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Records outside the read scope
//!
//! A record the actor may not read is never named, in a result or in an
//! error message: looked up by id it does not exist
//! ([`Error::NotFound`](crate::Error::NotFound), or "no customer has this
//! id" when given as a reference); a message about a readable record that
//! refers to an unreadable one says "another customer" instead of its id;
//! and an operation on a readable record that would also change unreadable
//! ones (a merge of a customer holding a deal the actor cannot see) is an
//! [`Error::HiddenRecords`](crate::Error::HiddenRecords), which names the
//! kind of the hidden records only. So is the failure of an automation
//! rule, set off by the actor's change, on a record they cannot read
//! (inside [`Error::Rule`](crate::Error::Rule), which names the rule).
//!
//! # Combining roles
//!
//! A user with several roles gets the most permissive combination: per
//! resource, the widest read scope and the widest write scope any of their
//! roles grants; a field is hidden only if every role hides it, read-only
//! only if every role makes it read-only (or hides it). A user with no
//! roles sees and changes nothing.
//!
//! # Built-in roles
//!
//! | role | customers | deals | activities | pipelines | segments | events | users | teams | fields |
//! |---|---|---|---|---|---|---|---|---|---|
//! | `admin` | all/all | all/all | all/all | all/all | all/all | all/– | all/all | all/all | |
//! | `sales_manager` | all/all | all/all | all/all | all/all | all/all | all/– | all/none | all/own | |
//! | `sales_rep` | team/own | team/own | team/own | all/none | team/own | own/– | all/none | all/none | deal and customer owner read-only |
//! | `support` | all/all | all/none | all/own | all/none | none/none | own/– | all/none | all/none | deal amount hidden; customer owner read-only |
//! | `read_only` | all/none | all/none | all/none | all/none | all/none | all/– | all/none | all/none | |
//!
//! (read/write; events are never written directly.) Team write scope
//! `own` means: the teams the actor manages (their membership).
//!
//! # Enforcement
//!
//! The facade resolves the actor's [`Access`] at the start of every
//! transaction, from the state inside that transaction, and:
//! - ANDs the read scope into every listing and count as an owner filter
//!   (`owner_in`, `actor_in`, `id_in`) that the store evaluates itself (the
//!   SQLite store with an indexed `WHERE owner IN (…)`), so a scoped
//!   listing costs about what an unscoped one does;
//! - reports a record outside the read scope as not found;
//! - refuses a write whose record (before or after the change) is outside
//!   the write scope with [`Error::PermissionDenied`](crate::Error::PermissionDenied),
//!   before anything is written, so no event is appended;
//! - redacts hidden fields from every record and event it returns.
//!
//! The same holds for every other read path: KPI reports, segment
//! evaluation, RFM and ABC aggregate only records within the read scope
//! (and refuse to sum an amount the actor may not see), CSV exports and
//! duplicate searches list only readable records, redacted; merges need
//! read and write scope on everything they change and obey the same field
//! rules as an update of the survivor; backups and restores need an
//! actor who may do everything.
//!
//! # Segment evaluation
//!
//! A segment (and RFM, ABC) evaluated by an actor is the reference
//! evaluator's answer on the records that actor may read: only customers
//! within the customer read scope are candidates, and the predicates over
//! a customer's deals and activities (`open_deals`, `last_won`,
//! `won_amount`, the RFM fields, `last_activity`,
//! `days_since_last_activity`) see only the deals and activities within
//! the deal and activity read scopes, each scope applied on its own (a
//! rep with `team` scope everywhere counts, for a team mate's customer,
//! only the deals owned in the team). In an expression, RFM quintiles
//! are taken over the customers of the won deals in scope (as the
//! reference evaluator does given only those deals);
//! [`Session::rfm`](crate::Session::rfm) and
//! [`Session::abc`](crate::Session::abc) rank the customers in scope by
//! their won deals in scope. An expression that tests a hidden field (`email`,
//! `phone`, or `won_amount` and RFM when deal amounts are hidden) is an
//! [`Error::FieldHidden`](crate::Error::FieldHidden) before anything is
//! read.
//!
//! The facade passes the actor's [`ReadScope`] to the store with the
//! expression
//! ([`ReadTx::segment_push_down_scoped`](crate::ReadTx::segment_push_down_scoped)),
//! and a store that evaluates segments itself applies it in its query:
//! the SQLite store with an indexed `owner IN (…)` on customers and an
//! owner test inside each customer's deal and activity subqueries. What a
//! store declines the facade evaluates in Rust on the same records in
//! scope.

mod visibility;
// ----- access: scope-aware segment push-down -----
mod read_scope;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use visibility::{Access, OwnerSet};
// ----- access: scope-aware segment push-down -----
pub use read_scope::ReadScope;

/// How far a permission reaches. Ordered: `None < Own < Team < All`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// No record.
    None,
    /// Records the actor owns.
    Own,
    /// Records owned by a member of one of the actor's teams.
    Team,
    /// Every record.
    All,
}

impl Scope {
    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::None => "none",
            Scope::Own => "own",
            Scope::Team => "team",
            Scope::All => "all",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// Customers.
    Customers,
    /// Deals.
    Deals,
    /// Activities.
    Activities,
    /// Pipelines.
    Pipelines,
    /// Saved segments.
    Segments,
    /// The audit log.
    Events,
    /// User administration.
    Users,
    /// Team administration and membership.
    Teams,
}

impl Resource {
    /// Every resource, in table order.
    pub const ALL: [Resource; 8] = [
        Resource::Customers,
        Resource::Deals,
        Resource::Activities,
        Resource::Pipelines,
        Resource::Segments,
        Resource::Events,
        Resource::Users,
        Resource::Teams,
    ];

    /// The lower-case plural name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Resource::Customers => "customers",
            Resource::Deals => "deals",
            Resource::Activities => "activities",
            Resource::Pipelines => "pipelines",
            Resource::Segments => "segments",
            Resource::Events => "events",
            Resource::Users => "users",
            Resource::Teams => "teams",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What an actor tried to do, as named in a permission error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Create a record.
    Create,
    /// Change a record.
    Update,
    /// Give a record another owner (or a team another manager).
    ChangeOwner,
    /// Change a user's roles.
    ChangeRoles,
    /// Add a user to a team or remove them.
    ChangeMembership,
    /// Deactivate or reactivate a user.
    ChangeActive,
    /// Take a full backup (needs write scope `all` on everything and no
    /// hidden field: a backup holds every record).
    BackUp,
    /// Restore a backup (needs write scope `all` on everything).
    Restore,
    /// Merge one customer into another.
    Merge,
    /// Check a whole store's consistency (needs write scope `all` on
    /// everything, like a backup: it reads every record).
    Verify,
}

impl Operation {
    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::ChangeOwner => "change the owner of",
            Operation::ChangeRoles => "change the roles of",
            Operation::ChangeMembership => "change the membership of",
            Operation::ChangeActive => "activate or deactivate",
            Operation::BackUp => "back up",
            Operation::Restore => "restore",
            Operation::Merge => "merge",
            Operation::Verify => "verify",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A field that a role may hide or make read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// [`Deal::amount`](crate::Deal::amount). Hidden: read as `None`.
    DealAmount,
    /// [`Deal::owner`](crate::Deal::owner) (read-only only; never hidden).
    DealOwner,
    /// [`Customer::owner`](crate::Customer::owner) (read-only only; never hidden).
    CustomerOwner,
    /// [`Customer::emails`](crate::Customer::emails). Hidden: read as empty.
    CustomerEmails,
    /// [`Customer::phones`](crate::Customer::phones). Hidden: read as empty.
    CustomerPhones,
    /// [`Activity::body`](crate::Activity::body). Hidden: read as `None`.
    ActivityBody,
}

impl Field {
    /// Every field with rules.
    pub const ALL: [Field; 6] = [
        Field::DealAmount,
        Field::DealOwner,
        Field::CustomerOwner,
        Field::CustomerEmails,
        Field::CustomerPhones,
        Field::ActivityBody,
    ];

    /// The resource the field belongs to.
    pub fn resource(&self) -> Resource {
        match self {
            Field::DealAmount | Field::DealOwner => Resource::Deals,
            Field::CustomerOwner | Field::CustomerEmails | Field::CustomerPhones => {
                Resource::Customers
            }
            Field::ActivityBody => Resource::Activities,
        }
    }

    /// The field's name in the record (and in event changes).
    pub fn name(&self) -> &'static str {
        match self {
            Field::DealAmount => "amount",
            Field::DealOwner | Field::CustomerOwner => "owner",
            Field::CustomerEmails => "emails",
            Field::CustomerPhones => "phones",
            Field::ActivityBody => "body",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entity = match self.resource() {
            Resource::Deals => "deal",
            Resource::Customers => "customer",
            _ => "activity",
        };
        write!(f, "{entity}.{}", self.name())
    }
}

/// A set of fields (a small bit set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct FieldSet(u32);

impl FieldSet {
    /// No field.
    pub const EMPTY: FieldSet = FieldSet(0);

    /// The set of `fields`.
    pub const fn of(fields: &[Field]) -> FieldSet {
        let mut bits = 0;
        let mut i = 0;
        while i < fields.len() {
            bits |= 1 << (fields[i] as u32);
            i += 1;
        }
        FieldSet(bits)
    }

    /// Whether `f` is in the set.
    pub fn contains(&self, f: Field) -> bool {
        self.0 & f.bit() != 0
    }

    /// The fields in the set.
    pub fn iter(&self) -> impl Iterator<Item = Field> + '_ {
        Field::ALL.into_iter().filter(|f| self.contains(*f))
    }

    fn union(self, o: FieldSet) -> FieldSet {
        FieldSet(self.0 | o.0)
    }

    fn intersection(self, o: FieldSet) -> FieldSet {
        FieldSet(self.0 & o.0)
    }

    const fn all() -> FieldSet {
        FieldSet((1 << Field::ALL.len()) - 1)
    }
}

/// What an actor may do: a read and a write [`Scope`] per [`Resource`],
/// plus hidden and read-only fields. One role's grant, or several
/// combined with [`Permissions::combine`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Permissions {
    read: [Scope; 8],
    write: [Scope; 8],
    hidden: FieldSet,
    read_only: FieldSet,
}

impl Permissions {
    /// Everything, nothing hidden (the system actor; the `admin` role).
    pub const ALL: Permissions = Permissions {
        read: [Scope::All; 8],
        write: [Scope::All; 8],
        hidden: FieldSet::EMPTY,
        read_only: FieldSet::EMPTY,
    };

    /// Nothing at all (a user without roles).
    pub const NONE: Permissions = Permissions {
        read: [Scope::None; 8],
        write: [Scope::None; 8],
        hidden: FieldSet::all(),
        read_only: FieldSet::all(),
    };

    /// The read scope on `r`.
    pub fn read(&self, r: Resource) -> Scope {
        self.read[r.index()]
    }

    /// The write scope on `r`.
    pub fn write(&self, r: Resource) -> Scope {
        self.write[r.index()]
    }

    /// Whether `f` is hidden (absent from what is read).
    pub fn is_hidden(&self, f: Field) -> bool {
        self.hidden.contains(f)
    }

    /// Whether `f` may not be changed (hidden fields included).
    pub fn is_read_only(&self, f: Field) -> bool {
        self.read_only.contains(f) || self.hidden.contains(f)
    }

    /// The hidden fields.
    pub fn hidden(&self) -> FieldSet {
        self.hidden
    }

    /// The most permissive combination of several grants (see the
    /// [module docs](self#combining-roles)); no grant at all gives
    /// [`Permissions::NONE`].
    pub fn combine(grants: impl IntoIterator<Item = Permissions>) -> Permissions {
        grants
            .into_iter()
            .fold(Permissions::NONE, |acc, p| Permissions {
                read: std::array::from_fn(|i| acc.read[i].max(p.read[i])),
                write: std::array::from_fn(|i| acc.write[i].max(p.write[i])),
                hidden: acc.hidden.intersection(p.hidden),
                read_only: acc
                    .read_only
                    .union(acc.hidden)
                    .intersection(p.read_only.union(p.hidden)),
            })
    }
}

/// The built-in roles. See the [module docs](self#built-in-roles) for what
/// each grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccessRole {
    /// Everything.
    Admin,
    /// Reads and changes all business records; manages their own teams.
    SalesManager,
    /// Reads their team's records, changes their own.
    SalesRep,
    /// Customers and activities; sees deals without amounts.
    Support,
    /// Reads everything, changes nothing.
    ReadOnly,
}

impl AccessRole {
    /// Every built-in role.
    pub const ALL: [AccessRole; 5] = [
        AccessRole::Admin,
        AccessRole::SalesManager,
        AccessRole::SalesRep,
        AccessRole::Support,
        AccessRole::ReadOnly,
    ];

    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessRole::Admin => "admin",
            AccessRole::SalesManager => "sales_manager",
            AccessRole::SalesRep => "sales_rep",
            AccessRole::Support => "support",
            AccessRole::ReadOnly => "read_only",
        }
    }

    /// What the role grants.
    pub fn permissions(&self) -> Permissions {
        use Scope::{All, None as No, Own, Team};
        // Order: customers, deals, activities, pipelines, segments, events, users, teams.
        match self {
            AccessRole::Admin => Permissions {
                write: [All, All, All, All, All, No, All, All],
                ..Permissions::ALL
            },
            AccessRole::SalesManager => Permissions {
                read: [All; 8],
                write: [All, All, All, All, All, No, No, Own],
                hidden: FieldSet::EMPTY,
                read_only: FieldSet::EMPTY,
            },
            AccessRole::SalesRep => Permissions {
                read: [Team, Team, Team, All, Team, Own, All, All],
                write: [Own, Own, Own, No, Own, No, No, No],
                hidden: FieldSet::EMPTY,
                read_only: FieldSet::of(&[Field::DealOwner, Field::CustomerOwner]),
            },
            AccessRole::Support => Permissions {
                read: [All, All, All, All, No, Own, All, All],
                write: [All, No, Own, No, No, No, No, No],
                hidden: FieldSet::of(&[Field::DealAmount]),
                read_only: FieldSet::of(&[Field::CustomerOwner]),
            },
            AccessRole::ReadOnly => Permissions {
                read: [All; 8],
                write: [No; 8],
                hidden: FieldSet::EMPTY,
                read_only: FieldSet::EMPTY,
            },
        }
    }
}

impl fmt::Display for AccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for AccessRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("'{s}' is not a role (admin, sales_manager, sales_rep, support, read_only)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_combine_to_the_most_permissive() {
        let p = Permissions::combine([
            AccessRole::SalesRep.permissions(),
            AccessRole::Support.permissions(),
        ]);
        // customers: rep team/own, support all/all -> all/all
        assert_eq!(p.read(Resource::Customers), Scope::All);
        assert_eq!(p.write(Resource::Customers), Scope::All);
        // deals: rep team/own, support all/none -> all/own
        assert_eq!(p.read(Resource::Deals), Scope::All);
        assert_eq!(p.write(Resource::Deals), Scope::Own);
        // support hides the amount, the rep does not: visible
        assert!(!p.is_hidden(Field::DealAmount));
        // both make the customer owner read-only; only the rep the deal owner
        assert!(p.is_read_only(Field::CustomerOwner));
        assert!(!p.is_read_only(Field::DealOwner));
        // segments: rep team/own, support none -> team/own
        assert_eq!(p.read(Resource::Segments), Scope::Team);
    }

    #[test]
    fn no_roles_means_nothing() {
        let p = Permissions::combine([]);
        for r in Resource::ALL {
            assert_eq!((p.read(r), p.write(r)), (Scope::None, Scope::None));
        }
    }

    #[test]
    fn support_hides_amounts_only() {
        let p = AccessRole::Support.permissions();
        let hidden: Vec<Field> = p.hidden().iter().collect();
        assert_eq!(hidden, [Field::DealAmount]);
        assert!(p.is_read_only(Field::DealAmount));
        assert_eq!("support".parse::<AccessRole>(), Ok(AccessRole::Support));
        assert!("boss".parse::<AccessRole>().is_err());
    }
}
