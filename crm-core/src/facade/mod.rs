//! The facade: the one way in for every caller.
//!
//! [`Crm`] owns a store, a [`Clock`] and an [`IdGenerator`]. Every call
//! names who is acting: [`Crm::as_actor`] returns a [`Session`], the facade
//! as seen by that actor. A session's write methods each run in their own
//! transaction; [`Session::batch`] runs many in one, all-or-nothing.
//!
//! Every write:
//! 1. opens a write transaction,
//! 2. loads what it needs and checks the caller's expected version
//!    (optimistic concurrency: a stale version is an [`Error::Conflict`]),
//! 3. applies the domain rules (validation, pipeline state machine, guards),
//! 4. stores the new version of the record and appends exactly one event,
//! 5. commits; on any error nothing of it is kept.

mod backup;
mod batch;
mod custom_field;
mod duplicate;
mod export;
mod import;
mod kpi;
mod merge;
mod predict;
mod reads;
mod segment;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use batch::Batch;

use crate::activity::{Activity, NewActivity};
use crate::actor::Actor;
use crate::clock::{Clock, SystemClock, truncate_to_millis};
use crate::customer::{Customer, CustomerPatch, NewCustomer};
use crate::deal::{Deal, DealPatch, NewDeal};
use crate::error::Result;
use crate::event::Event;
use crate::id::{ActivityId, CustomerId, DealId, IdGenerator, PipelineId, RandomIds};
use crate::pipeline::{Pipeline, PipelineDef, StageMapping};
use crate::query::{
    ActivityQuery, CustomerFilter, CustomerQuery, DealFilter, DealQuery, EventQuery, Page,
    PipelineQuery,
};
use crate::store::Store;

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
}

impl<S: Store> Crm<S> {
    /// An engine over `store` using the system clock and random UUID v7 ids.
    pub fn new(store: S) -> Self {
        Crm {
            store,
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds::new()),
        }
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

    /// The store underneath. Reading it directly bypasses nothing (the
    /// facade holds no state of its own) but writing it directly bypasses
    /// every rule: don't.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The engine's current time, as used for new timestamps.
    pub fn now(&self) -> DateTime<Utc> {
        truncate_to_millis(self.clock.now())
    }

    /// The facade as seen by `actor`. Every change made through it is
    /// recorded as made by `actor`.
    pub fn as_actor(&self, actor: Actor) -> Session<'_, S> {
        Session {
            crm: self,
            actor,
            at: None,
        }
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
        let tx = self.crm.store.write()?;
        let mut batch = Batch::new(tx, &*self.crm.clock, &*self.crm.ids, self.actor, self.at);
        let out = work(&mut batch)?;
        batch.commit()?;
        Ok(out)
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
    pub fn update_deal(&self, id: DealId, version: u64, patch: DealPatch) -> Result<Deal> {
        self.batch(|b| b.update_deal(id, version, patch))
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

    // ----- reads -----

    fn read<T>(&self, f: impl FnOnce(&dyn crate::store::ReadTx) -> Result<T>) -> Result<T> {
        let tx = self.crm.store.read()?;
        f(&*tx)
    }

    /// The customer with `id`.
    pub fn customer(&self, id: CustomerId) -> Result<Customer> {
        self.read(|tx| reads::customer(tx, id))
    }

    /// A page of customers.
    pub fn customers(&self, query: &CustomerQuery) -> Result<Page<Customer>> {
        self.read(|tx| reads::customers(tx, query))
    }

    /// How many customers match `filter`.
    pub fn count_customers(&self, filter: &CustomerFilter) -> Result<u64> {
        self.read(|tx| Ok(tx.count_customers(filter)?))
    }

    /// The pipeline with `id`.
    pub fn pipeline(&self, id: PipelineId) -> Result<Pipeline> {
        self.read(|tx| reads::pipeline(tx, id))
    }

    /// A page of pipelines.
    pub fn pipelines(&self, query: &PipelineQuery) -> Result<Page<Pipeline>> {
        self.read(|tx| reads::pipelines(tx, query))
    }

    /// The deal with `id`.
    pub fn deal(&self, id: DealId) -> Result<Deal> {
        self.read(|tx| reads::deal(tx, id))
    }

    /// A page of deals.
    pub fn deals(&self, query: &DealQuery) -> Result<Page<Deal>> {
        self.read(|tx| reads::deals(tx, query))
    }

    /// How many deals match `filter`.
    pub fn count_deals(&self, filter: &DealFilter) -> Result<u64> {
        self.read(|tx| Ok(tx.count_deals(filter)?))
    }

    /// The activity with `id`.
    pub fn activity(&self, id: ActivityId) -> Result<Activity> {
        self.read(|tx| reads::activity(tx, id))
    }

    /// A page of activities.
    pub fn activities(&self, query: &ActivityQuery) -> Result<Page<Activity>> {
        self.read(|tx| reads::activities(tx, query))
    }

    /// A page of the audit log.
    pub fn events(&self, query: &EventQuery) -> Result<Page<Event>> {
        self.read(|tx| reads::events(tx, query))
    }
}
