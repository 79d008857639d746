//! The facade: the one way in for every caller.
//!
//! [`Crm`] owns a store, a [`Clock`] and an [`IdGenerator`]. Every call
//! names who is acting: [`Crm::as_actor`] (or [`Crm::as_user`]) returns a
//! [`Session`], the facade as seen by that actor. A session's write
//! methods each run in their own transaction; [`Session::batch`] runs many
//! in one, all-or-nothing.
//!
//! Every call resolves the actor's [`Access`] (roles, teams) inside its
//! own transaction first; see [`crate::access`] for what it enforces.
//!
//! Every write:
//! 1. opens a write transaction and resolves the actor's access in it,
//! 2. loads what it needs through the actor's read scope (a record outside
//!    it is not found) and checks the caller's expected version
//!    (optimistic concurrency: a stale version is an [`Error::Conflict`](crate::Error::Conflict)),
//! 3. checks the write scope and field rules ([`Error::PermissionDenied`](crate::Error::PermissionDenied)),
//! 4. applies the domain rules (validation, pipeline state machine, guards),
//! 5. stores the new version of the record and appends exactly one event,
//! 6. commits; on any error nothing of it is kept.
//!
//! # For facade extensions (KPI, segments, export)
//!
//! Code in another `impl Session` block must load records through the
//! crate-internal scope API, never straight from the store:
//! - [`Session::with_access`] runs a closure with a read transaction and
//!   the actor's resolved [`Access`];
//! - [`Access::restrict_deals`] (and `restrict_customers`,
//!   `restrict_activities`, `restrict_events`) ANDs the read scope into a
//!   filter before it goes to the store; [`Session::deal_scope`] gives the
//!   same scope as an [`OwnerSet`] for code that builds its own queries;
//! - [`Access::redact_deal`] (and `redact_customer`, `redact_activity`,
//!   `redact_event`) removes hidden fields from every record returned;
//! - [`Access::require_readable`] refuses aggregating, filtering or sorting
//!   on a hidden field (e.g. `Field::DealAmount` for a revenue KPI).

mod admin;
mod automation;
mod backup;
mod batch;
mod custom_field;
mod duplicate;
mod export;
mod external_key;
mod feed;
mod import;
mod kpi;
mod merge;
mod predict;
mod reads;
mod segment;
mod verify;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use batch::Batch;

use crate::access::{Access, Field, OwnerSet, Permissions, Resource};
use crate::activity::{Activity, NewActivity};
use crate::actor::Actor;
use crate::clock::{Clock, SystemClock, truncate_to_millis};
use crate::customer::{Customer, CustomerPatch, NewCustomer};
use crate::deal::{Deal, DealPatch, NewDeal};
use crate::error::Result;
use crate::event::Event;
use crate::id::{ActivityId, CustomerId, DealId, IdGenerator, PipelineId, RandomIds, UserId};
use crate::pipeline::{Pipeline, PipelineDef, StageMapping};
use crate::query::{
    ActivityQuery, CustomerFilter, CustomerQuery, DealFilter, DealQuery, EventQuery, Page,
    PipelineQuery,
};
use crate::store::{ReadTx, Store};

/// The CRM engine over a store `S`.
///
/// ```
/// use crm_core::{Actor, Crm, NewCustomer};
/// use crm_store_memory::MemoryStore;
///
/// let crm = Crm::new(MemoryStore::new());
/// let system = crm.as_actor(Actor::System);
/// let ada = system.create_customer(NewCustomer::person("Ada Lovelace").email("ada@example.org"))?;
/// assert_eq!(system.customer(ada.id)?.name, "Ada Lovelace");
/// # Ok::<(), crm_core::Error>(())
/// ```
pub struct Crm<S> {
    store: S,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    /// Automation: the active rules, shared by this engine's batches.
    rule_cache: automation::RuleCache,
    /// Automation: how deep rules may set each other off.
    max_rule_depth: u32,
}

impl<S: Store> Crm<S> {
    /// An engine over `store` using the system clock and random UUID v7 ids.
    pub fn new(store: S) -> Self {
        Crm {
            store,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds::new()),
            rule_cache: Default::default(),
            max_rule_depth: crate::automation::DEFAULT_MAX_DEPTH,
        }
    }

    /// Lets automation rules set each other off up to `depth` levels deep
    /// (the change itself is level 0; the default is
    /// [`DEFAULT_MAX_DEPTH`](crate::automation::DEFAULT_MAX_DEPTH)). A
    /// change whose rules would go deeper is refused whole with
    /// [`Error::AutomationLoop`](crate::Error::AutomationLoop). A depth of 0
    /// would refuse every change that fires a rule, so it is an error.
    ///
    /// ```
    /// use crm_core::Crm;
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new()).with_max_rule_depth(5)?;
    /// assert!(Crm::new(MemoryStore::new()).with_max_rule_depth(0).is_err());
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn with_max_rule_depth(mut self, depth: u32) -> Result<Self> {
        if depth == 0 {
            return Err(crate::Error::Invalid(crate::ValidationError::new(
                crate::EntityKind::Rule,
                "max_rule_depth",
                depth,
                "must be at least 1: the rules an event fires directly are level 1",
            )));
        }
        self.max_rule_depth = depth;
        Ok(self)
    }

    /// Uses `clock` for every timestamp (for example a
    /// [`ManualClock`](crate::ManualClock) in tests).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Uses `ids` to make new ids (for example
    /// [`SequentialIds`](crate::SequentialIds) in tests).
    pub fn with_ids(mut self, ids: impl IdGenerator + 'static) -> Self {
        self.ids = Arc::new(ids);
        self
    }

    /// The store underneath, for the host program itself (backups,
    /// diagnostics). It is outside access control: reading it directly
    /// sees every record of every owner, and writing it bypasses every
    /// rule. Never hand it, or what it returns, to an actor: give them a
    /// [`Session`].
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The engine's current time, as used for new timestamps.
    pub fn now(&self) -> DateTime<Utc> {
        truncate_to_millis(self.clock.now())
    }

    /// The facade as seen by `actor`. Every change made through it is
    /// recorded as made by `actor`, and every call is checked against the
    /// actor's access: [`Actor::System`] may do everything; an
    /// [`Actor::User`] acts with the roles and teams stored for that user
    /// (resolved in each call's transaction; an unknown or deactivated
    /// user gets [`Error::ActorNotAllowed`](crate::Error::ActorNotAllowed)).
    pub fn as_actor(&self, actor: Actor) -> Session<'_, S> {
        Session {
            crm: self,
            actor,
            at: None,
        }
    }
}

impl<S: Store> Crm<S> {
    /// The facade as seen by the stored user `user`: shorthand for
    /// `as_actor(Actor::User(user))`.
    ///
    /// ```
    /// use crm_core::{AccessRole, Actor, Crm, NewUser};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let admin = crm.as_actor(Actor::System);
    /// let ro = admin.create_user(NewUser::new("Rita", "rita@example.com").role(AccessRole::ReadOnly))?;
    /// let rita = crm.as_user(ro.id);
    /// let err = rita.create_customer(crm_core::NewCustomer::person("Ada")).unwrap_err();
    /// assert!(matches!(err, crm_core::Error::PermissionDenied { .. }));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn as_user(&self, user: UserId) -> Session<'_, S> {
        self.as_actor(Actor::User(user))
    }
}

/// The engine as seen by one actor: every read and write goes through here.
///
/// Obtain one with [`Crm::as_actor`]. Cheap to create; create one per
/// request or job.
pub struct Session<'c, S> {
    crm: &'c Crm<S>,
    actor: Actor,
    at: Option<DateTime<Utc>>,
}

impl<S> Clone for Session<'_, S> {
    fn clone(&self) -> Self {
        Session {
            crm: self.crm,
            actor: self.actor,
            at: self.at,
        }
    }
}

impl<'c, S: Store> Session<'c, S> {
    /// Who this session acts as.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// A session whose changes are dated `at` instead of the clock's now:
    /// for importing historical data (a deal created in 2021 and won in
    /// 2022). Times are truncated to milliseconds.
    pub fn at(&self, at: DateTime<Utc>) -> Session<'c, S> {
        Session {
            at: Some(truncate_to_millis(at)),
            ..self.clone()
        }
    }

    /// Runs `work` in one write transaction: if it returns `Ok`, everything
    /// it did is committed together; if it returns an error (or panics),
    /// nothing is. Each operation inside still appends its own event.
    ///
    /// Inside `work`, use the [`Batch`] handle it receives, not the session
    /// (a second transaction on the same store would wait for this one).
    ///
    /// ```
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let result = s.batch(|b| {
    ///     b.create_customer(NewCustomer::person("Grace Hopper"))?;
    ///     b.create_customer(NewCustomer::person("")) // invalid: rolls back both
    /// });
    /// assert!(result.is_err());
    /// assert_eq!(s.count_customers(&Default::default())?, 0);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn batch<T>(&self, work: impl FnOnce(&mut Batch<'_>) -> Result<T>) -> Result<T> {
        let mut batch = self.open_batch()?;
        let out = work(&mut batch)?;
        batch.commit()?;
        Ok(out)
    }

    /// A write transaction as a [`Batch`] of this session, with the
    /// engine's rule cache and rule depth.
    pub(super) fn open_batch(&self) -> Result<Batch<'_>> {
        let tx = self.crm.store.write()?;
        let mut batch = Batch::new(tx, &*self.crm.clock, &*self.crm.ids, self.actor, self.at)?;
        batch.automation.shared = Some(self.crm.rule_cache.clone());
        batch.automation.max_depth = self.crm.max_rule_depth;
        Ok(batch)
    }

    // ----- writes: each one a batch of one -----

    /// Creates a customer. See [`crate::customer`] for the rules.
    pub fn create_customer(&self, input: NewCustomer) -> Result<Customer> {
        self.batch(|b| b.create_customer(input))
    }

    /// Changes a customer that is at `version`.
    pub fn update_customer(
        &self,
        id: CustomerId,
        version: u64,
        patch: CustomerPatch,
    ) -> Result<Customer> {
        self.batch(|b| b.update_customer(id, version, patch))
    }

    /// Creates a pipeline from a validated definition.
    pub fn create_pipeline(&self, def: PipelineDef) -> Result<Pipeline> {
        self.batch(|b| b.create_pipeline(def))
    }

    /// Replaces a pipeline's definition. Deals in stages that disappear
    /// move to the stage `mapping` names for them.
    pub fn update_pipeline(
        &self,
        id: PipelineId,
        version: u64,
        def: PipelineDef,
        mapping: &StageMapping,
    ) -> Result<Pipeline> {
        self.batch(|b| b.update_pipeline(id, version, def, mapping))
    }

    /// Creates a deal.
    pub fn create_deal(&self, input: NewDeal) -> Result<Deal> {
        self.batch(|b| b.create_deal(input))
    }

    /// Changes a deal's fields.
    ///
    /// A won or lost deal is frozen (see [`crate::deal`]): only its owner
    /// changes here; any other change is refused naming its status, and
    /// goes through [`reopen_deal`](Self::reopen_deal) or the audited
    /// [`correct_deal`](Self::correct_deal). The guards of the deal's
    /// current stage hold: a change that clears a field they require is
    /// refused. A new owner must be a stored, active user.
    pub fn update_deal(&self, id: DealId, version: u64, patch: DealPatch) -> Result<Deal> {
        self.batch(|b| b.update_deal(id, version, patch))
    }

    /// Corrects a won or lost deal's fields (a closed deal is otherwise
    /// frozen, see [`crate::deal`]): `reason` (not empty, at most
    /// [`MAX_CORRECTION_REASON_CHARS`](crate::limits::MAX_CORRECTION_REASON_CHARS))
    /// is recorded in the event as `correction_reason`, next to the old and
    /// new values. The deal stays closed; the stage's guards still hold.
    ///
    /// ```
    /// use crm_core::{Actor, Crm, DealPatch, Money, NewCustomer, NewDeal, PipelineDef};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let p = s.create_pipeline(PipelineDef::sales_template("Sales"))?;
    /// let c = s.create_customer(NewCustomer::organisation("ACME"))?;
    /// let d = s.create_deal(NewDeal::new(c.id, p.id, "Robots").amount(Money::parse("100", "EUR")?))?;
    /// let d = s.win_deal(d.id, d.version)?;
    /// let fix = DealPatch::default().amount(Some(Money::parse("90", "EUR")?));
    /// assert!(s.update_deal(d.id, d.version, fix.clone()).is_err()); // frozen
    /// let d = s.correct_deal(d.id, d.version, fix, "invoice 42 was 90 EUR")?;
    /// assert_eq!(d.amount, Some(Money::parse("90", "EUR")?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn correct_deal(
        &self,
        id: DealId,
        version: u64,
        patch: DealPatch,
        reason: &str,
    ) -> Result<Deal> {
        self.batch(|b| b.correct_deal(id, version, patch, reason))
    }

    /// Moves a deal to the stage with key `stage`.
    pub fn move_deal(&self, id: DealId, version: u64, stage: &str) -> Result<Deal> {
        self.batch(|b| b.move_deal(id, version, stage))
    }

    /// Moves a deal to its pipeline's won stage (which must be the only one).
    pub fn win_deal(&self, id: DealId, version: u64) -> Result<Deal> {
        self.batch(|b| b.win_deal(id, version))
    }

    /// Moves a deal to its pipeline's lost stage (which must be the only
    /// one), giving a reason.
    pub fn lose_deal(&self, id: DealId, version: u64, reason: &str) -> Result<Deal> {
        self.batch(|b| b.lose_deal(id, version, reason))
    }

    /// Moves a deal to a lost stage named by key, giving a reason.
    pub fn lose_deal_in(
        &self,
        id: DealId,
        version: u64,
        stage: &str,
        reason: &str,
    ) -> Result<Deal> {
        self.batch(|b| b.lose_deal_in(id, version, stage, reason))
    }

    /// Reopens a won or lost deal into `stage`, or into the open stage it
    /// was closed from when `stage` is `None`.
    pub fn reopen_deal(&self, id: DealId, version: u64, stage: Option<&str>) -> Result<Deal> {
        self.batch(|b| b.reopen_deal(id, version, stage))
    }

    /// Logs an activity or creates a task.
    pub fn log_activity(&self, input: NewActivity) -> Result<Activity> {
        self.batch(|b| b.log_activity(input))
    }

    /// Marks a task done.
    pub fn complete_task(&self, id: ActivityId, version: u64) -> Result<Activity> {
        self.batch(|b| b.complete_task(id, version))
    }

    // ----- reads: every one scoped by the actor's access -----

    /// Runs `f` in one read transaction with the actor's access resolved
    /// in it. The one way facade extensions read: see the
    /// [module docs](self#for-facade-extensions-kpi-segments-export).
    pub(crate) fn with_access<T>(
        &self,
        f: impl FnOnce(&dyn ReadTx, &Access) -> Result<T>,
    ) -> Result<T> {
        let tx = self.crm.store.read()?;
        let access = Access::load(&*tx, self.actor)?;
        f(&*tx, &access)
    }

    /// The owners whose deals this actor may read, as seen by `tx`: the
    /// filter addition for code that queries deals itself (KPI reports,
    /// segment evaluation). [`OwnerSet::and_into`] puts it into a
    /// [`DealFilter::owner_in`].
    #[allow(dead_code)] // used by the KPI and segment facades after the merge
    pub(crate) fn deal_scope(&self, tx: &dyn ReadTx) -> Result<OwnerSet> {
        Ok(Access::load(tx, self.actor)?.read_owners(Resource::Deals))
    }

    /// What this session's actor may do, resolved now.
    pub fn permissions(&self) -> Result<Permissions> {
        self.with_access(|_, a| {
            Ok(match a.actor() {
                Actor::System => Permissions::ALL,
                Actor::User(_) => *a.permissions(),
            })
        })
    }

    /// The fields this actor cannot see. A hidden field reads as empty
    /// (`Deal::amount` as `None`, `Customer::emails` as `[]`): this list
    /// is how a caller tells "hidden" from "not set".
    ///
    /// ```
    /// use crm_core::{AccessRole, Actor, Crm, Field, NewUser};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let u = crm.as_actor(Actor::System)
    ///     .create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))?;
    /// assert_eq!(crm.as_user(u.id).hidden_fields()?, [Field::DealAmount]);
    /// assert!(crm.as_actor(Actor::System).hidden_fields()?.is_empty());
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn hidden_fields(&self) -> Result<Vec<Field>> {
        self.with_access(|_, a| Ok(Field::ALL.into_iter().filter(|f| a.is_hidden(*f)).collect()))
    }

    /// The customer with `id` ([`Error::NotFound`](crate::Error::NotFound) also when it is outside
    /// the actor's read scope).
    pub fn customer(&self, id: CustomerId) -> Result<Customer> {
        self.with_access(|tx, a| reads::customer(tx, a, id))
    }

    /// A page of the customers the actor may read.
    pub fn customers(&self, query: &CustomerQuery) -> Result<Page<Customer>> {
        self.with_access(|tx, a| reads::customers(tx, a, query))
    }

    /// How many customers the actor may read match `filter`.
    pub fn count_customers(&self, filter: &CustomerFilter) -> Result<u64> {
        self.with_access(|tx, a| reads::count_customers(tx, a, filter))
    }

    /// The pipeline with `id`.
    pub fn pipeline(&self, id: PipelineId) -> Result<Pipeline> {
        self.with_access(|tx, a| reads::pipeline(tx, a, id))
    }

    /// A page of pipelines (empty unless the actor may read all pipelines).
    pub fn pipelines(&self, query: &PipelineQuery) -> Result<Page<Pipeline>> {
        self.with_access(|tx, a| reads::pipelines(tx, a, query))
    }

    /// The deal with `id` ([`Error::NotFound`](crate::Error::NotFound) also when it is outside the
    /// actor's read scope), hidden fields removed.
    pub fn deal(&self, id: DealId) -> Result<Deal> {
        self.with_access(|tx, a| reads::deal(tx, a, id))
    }

    /// A page of the deals the actor may read, hidden fields removed.
    pub fn deals(&self, query: &DealQuery) -> Result<Page<Deal>> {
        self.with_access(|tx, a| reads::deals(tx, a, query))
    }

    /// How many deals the actor may read match `filter`.
    pub fn count_deals(&self, filter: &DealFilter) -> Result<u64> {
        self.with_access(|tx, a| reads::count_deals(tx, a, filter))
    }

    /// The activity with `id`.
    pub fn activity(&self, id: ActivityId) -> Result<Activity> {
        self.with_access(|tx, a| reads::activity(tx, a, id))
    }

    /// A page of the activities the actor may read.
    pub fn activities(&self, query: &ActivityQuery) -> Result<Page<Activity>> {
        self.with_access(|tx, a| reads::activities(tx, a, query))
    }

    /// A page of the audit log as far as the actor may read it (by acting
    /// user: see [`crate::access`]), changes of hidden fields removed.
    pub fn events(&self, query: &EventQuery) -> Result<Page<Event>> {
        self.with_access(|tx, a| reads::events(tx, a, query))
    }
}
