//! The storage traits every backend implements.
//!
//! A backend stores and queries records; it never decides whether a change
//! is allowed (that is the [`Crm`](crate::Crm) facade's job). The traits are
//! synchronous and object-safe, so a store can be picked at run time as a
//! `Box<dyn Store>`.
//!
//! # Contract
//!
//! - [`Store::write`] starts a transaction that sees its own writes and that
//!   no other transaction sees until [`WriteTx::commit`]. Dropping a
//!   [`WriteTx`] without committing rolls back everything it did, the event
//!   log included. Write transactions are serialised: one at a time.
//! - [`Store::read`] gives a consistent snapshot for the duration of the
//!   read transaction.
//! - `insert_*` fails with [`StoreError::AlreadyExists`] if the id is taken.
//! - `update_*` is a compare-and-set on the version: it stores the record
//!   only if the stored version is exactly `record.version - 1`, otherwise
//!   it fails with [`StoreError::VersionConflict`] (or
//!   [`StoreError::Missing`] if there is no such record). This is what makes
//!   concurrent writers unable to lose an update, even across processes.
//! - [`WriteTx::append_event`] numbers events 1, 2, 3, … in commit order; a
//!   rolled-back transaction leaves no gap.
//! - [`WriteTx::savepoint`] marks a point inside the transaction;
//!   [`WriteTx::rollback_to_savepoint`] undoes everything written after it
//!   (records and events: the next event takes the number the first undone
//!   one had) and the transaction stays usable;
//!   [`WriteTx::release_savepoint`] keeps the writes and forgets the mark.
//!   Savepoints nest: ending one also ends every savepoint taken after it.
//! - Listing methods behave exactly like [`paginate`](crate::query::paginate)
//!   over all records: same filter semantics, order, tie-breaking and cursors.
//! - Records read back are equal (`==`) to the records written.
//!
//! The conformance suite in `crm_core::testing` (feature `testing`) checks all
//! of this; every backend runs it.

use chrono::{DateTime, Utc};

use crate::access::ReadScope;
use crate::activity::Activity;
use crate::automation::{Firing, Notification, Rule};
use crate::contact::Phone;
use crate::custom_field::FieldSchema;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::error::{EntityKind, StoreError};
use crate::event::{Event, NewEvent};
use crate::external_key::{ExternalKey, ExternalKeyEntry, IdempotencyRecord};
use crate::feed::{FeedConsumer, FeedFilter};
use crate::id::{
    ActivityId, CustomerId, DealId, NotificationId, PipelineId, RuleId, SegmentId, TeamId, UserId,
};
use crate::pipeline::Pipeline;
use crate::query::{
    ActivityFilter, ActivityQuery, CustomerFilter, CustomerQuery, DealFilter, DealQuery,
    EventQuery, Page, PageRequest, PipelineQuery, TeamQuery, UserQuery,
};
use crate::segment::{Expr, Segment, SegmentQuery};
use crate::team::Team;
use crate::user::User;
use uuid::Uuid;

/// A storage backend.
pub trait Store: Send + Sync {
    /// Starts a read-only transaction.
    fn read(&self) -> Result<Box<dyn ReadTx + '_>, StoreError>;
    /// Starts a read-write transaction (waiting for any other writer to finish).
    fn write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError>;
}

/// Reads, inside a read or write transaction.
pub trait ReadTx {
    /// The customer with `id`, if any.
    fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError>;
    /// A page of customers.
    fn customers(&self, query: &CustomerQuery) -> Result<Page<Customer>, StoreError>;
    /// How many customers match `filter`.
    fn count_customers(&self, filter: &CustomerFilter) -> Result<u64, StoreError>;

    /// The pipeline with `id`, if any.
    fn pipeline(&self, id: PipelineId) -> Result<Option<Pipeline>, StoreError>;
    /// A page of pipelines.
    fn pipelines(&self, query: &PipelineQuery) -> Result<Page<Pipeline>, StoreError>;

    /// The deal with `id`, if any.
    fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError>;
    /// A page of deals.
    fn deals(&self, query: &DealQuery) -> Result<Page<Deal>, StoreError>;
    /// How many deals match `filter`.
    fn count_deals(&self, filter: &DealFilter) -> Result<u64, StoreError>;

    /// The activity with `id`, if any.
    fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError>;
    /// A page of activities.
    fn activities(&self, query: &ActivityQuery) -> Result<Page<Activity>, StoreError>;

    /// A page of the event log.
    fn events(&self, query: &EventQuery) -> Result<Page<Event>, StoreError>;
    /// The `seq` of the newest event (0 when the log is empty).
    fn last_event_seq(&self) -> Result<u64, StoreError>;

    /// The custom-field schema of `entity` (customer, deal or activity),
    /// if one was ever stored.
    fn field_schema(&self, entity: EntityKind) -> Result<Option<FieldSchema>, StoreError>;
    // ----- segments -----

    /// The saved segment with `id`, if any.
    fn segment(&self, id: SegmentId) -> Result<Option<Segment>, StoreError>;
    /// A page of saved segments.
    fn segments(&self, query: &SegmentQuery) -> Result<Page<Segment>, StoreError>;

    /// Calls `visit` once with every customer (merged ones included), in
    /// no particular order.
    ///
    /// The default pages through [`ReadTx::customers`]; a store with a
    /// cheaper way to walk everything overrides it.
    fn scan_customers(&self, visit: &mut dyn FnMut(&Customer)) -> Result<(), StoreError> {
        let mut query = CustomerQuery::new()
            .filter(crate::query::CustomerFilter {
                include_merged: true,
                ..Default::default()
            })
            .limit(PageRequest::MAX_LIMIT);
        loop {
            let page = self.customers(&query)?;
            page.items.iter().for_each(&mut *visit);
            match page.next {
                Some(next) => query.page.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Calls `visit` once with every deal matching `filter`, in no
    /// particular order. The default pages through [`ReadTx::deals`].
    fn scan_deals(
        &self,
        filter: &DealFilter,
        visit: &mut dyn FnMut(&Deal),
    ) -> Result<(), StoreError> {
        let mut query = DealQuery::new()
            .filter(filter.clone())
            .limit(PageRequest::MAX_LIMIT);
        loop {
            let page = self.deals(&query)?;
            page.items.iter().for_each(&mut *visit);
            match page.next {
                Some(next) => query.page.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Calls `visit` once with every activity matching `filter`, in no
    /// particular order. The default pages through [`ReadTx::activities`].
    fn scan_activities(
        &self,
        filter: &ActivityFilter,
        visit: &mut dyn FnMut(&Activity),
    ) -> Result<(), StoreError> {
        let mut query = ActivityQuery::new()
            .filter(filter.clone())
            .limit(PageRequest::MAX_LIMIT);
        loop {
            let page = self.activities(&query)?;
            page.items.iter().for_each(&mut *visit);
            match page.next {
                Some(next) => query.page.after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Evaluates `expr` inside the store, at time `now`, returning the ids
    /// of the matching customers in ascending order (never a customer
    /// merged into another); or `Ok(None)` when
    /// this store cannot evaluate that expression itself ("can't push this
    /// down"), in which case the facade evaluates it with the reference
    /// evaluator ([`crate::segment::eval`]). A store that answers must
    /// answer exactly what the reference answers.
    ///
    /// The facade first offers the whole expression; if the store declines
    /// and the expression is an `and`, it offers the conjunction of its
    /// attribute-only parts ([`Expr::is_attribute_only`]) and evaluates the
    /// rest itself on the customers that pass.
    ///
    /// The default answers `None`: nothing is pushed down.
    fn segment_push_down(
        &self,
        expr: &Expr,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<CustomerId>>, StoreError> {
        let _ = (expr, now);
        Ok(None)
    }

    // ----- users and teams -----

    /// The user with `id`, if any.
    fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// A page of users.
    fn users(&self, query: &UserQuery) -> Result<Page<User>, StoreError>;
    /// The team with `id`, if any.
    fn team(&self, id: TeamId) -> Result<Option<Team>, StoreError>;
    /// A page of teams.
    fn teams(&self, query: &TeamQuery) -> Result<Page<Team>, StoreError>;
    /// The ids of the users who belong to at least one of `teams`, sorted,
    /// without duplicates (what the facade needs to resolve a `team`
    /// scope, without reading whole user records).
    fn team_members(&self, teams: &[TeamId]) -> Result<Vec<UserId>, StoreError>;

    // ----- automation -----

    /// The automation rule with `id`, if any.
    fn rule(&self, id: RuleId) -> Result<Option<Rule>, StoreError>;
    /// Every automation rule, by id.
    fn rules(&self) -> Result<Vec<Rule>, StoreError>;
    /// The outbox notification with `id`, if any.
    fn notification(&self, id: NotificationId) -> Result<Option<Notification>, StoreError>;
    /// The outbox, by (`created_at`, id): only the unacknowledged
    /// notifications unless `include_acknowledged`.
    fn outbox(&self, include_acknowledged: bool) -> Result<Vec<Notification>, StoreError>;
    /// Whether a firing of `rule` on the record `subject` in `episode` is
    /// stored.
    fn has_fired(&self, rule: RuleId, subject: Uuid, episode: &str) -> Result<bool, StoreError>;

    // ----- access: scope-aware segment push-down -----

    /// Like [`ReadTx::segment_push_down`], restricted to what `scope`
    /// lets an actor read: the answer must be exactly what the reference
    /// evaluator ([`crate::segment::eval::evaluate`]) gives on the
    /// customers, deals and activities whose owners `scope` allows, as if
    /// no other record existed. So only customers in reach are returned,
    /// and a predicate over deals or activities (`open_deals`, `last_won`,
    /// `last_activity`, `days_since_last_activity`, `won_amount`, RFM)
    /// sees only the deals and activities in reach. Hidden fields are the
    /// facade's business: it refuses an expression that uses one before
    /// asking the store.
    ///
    /// A store should apply the scope inside its query, with indexes
    /// (a `team` scope reaches a handful of owners), not by filtering
    /// everything afterwards. `Ok(None)` declines, as for
    /// [`ReadTx::segment_push_down`]; the facade then evaluates the
    /// expression itself on the records in reach.
    ///
    /// The default answers an unrestricted scope with
    /// [`ReadTx::segment_push_down`] and declines any other.
    fn segment_push_down_scoped(
        &self,
        expr: &Expr,
        now: DateTime<Utc>,
        scope: &ReadScope,
    ) -> Result<Option<Vec<CustomerId>>, StoreError> {
        if scope.is_all() {
            self.segment_push_down(expr, now)
        } else {
            Ok(None)
        }
    }

    // ----- automation: rule cache, round-robin, backups -----

    /// A number that changes whenever a rule is inserted or updated (by
    /// any handle on the same data, in any process) and never goes back to
    /// an earlier value once committed: [`WriteTx::insert_rule`] and
    /// [`WriteTx::update_rule`] increase it in their transaction. The
    /// facade keys its rule cache on it.
    fn rules_generation(&self) -> Result<u64, StoreError>;
    /// The user a team's round-robin assignment gave work to last, if any.
    fn round_robin_cursor(&self, team: TeamId) -> Result<Option<UserId>, StoreError>;
    /// Every round-robin cursor (team, last user), by team id.
    fn round_robin_cursors(&self) -> Result<Vec<(TeamId, UserId)>, StoreError>;
    /// Every stored firing, by (rule, subject id, episode).
    fn firings(&self) -> Result<Vec<Firing>, StoreError>;

    // ----- external keys, caller ID, idempotency -----

    /// The id of the record of kind `entity` holding `key`, if any.
    fn external_key_holder(
        &self,
        entity: EntityKind,
        key: &ExternalKey,
    ) -> Result<Option<Uuid>, StoreError>;
    /// The external keys the record `record` of kind `entity` holds, sorted.
    fn external_keys_of(
        &self,
        entity: EntityKind,
        record: Uuid,
    ) -> Result<Vec<ExternalKey>, StoreError>;
    /// Every stored external key, by (entity, system, key).
    fn external_keys(&self) -> Result<Vec<ExternalKeyEntry>, StoreError>;
    /// The customers (merged ones included) with `phone` among their
    /// numbers, by id, from an index (not a scan).
    fn customers_by_phone(&self, phone: &Phone) -> Result<Vec<CustomerId>, StoreError>;
    /// The customers (merged ones included) with an e-mail address whose
    /// domain (the part after `@`) is exactly `domain` (lower case), by
    /// id, from an index (not a scan).
    fn customers_by_email_domain(&self, domain: &str) -> Result<Vec<CustomerId>, StoreError>;
    /// The stored idempotency key `key` of creates of `entity`, if any.
    fn idempotency_record(
        &self,
        entity: EntityKind,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;
    /// Every stored idempotency key, by (entity, key).
    fn idempotency_records(&self) -> Result<Vec<IdempotencyRecord>, StoreError>;
    // ----- change feed -----

    /// The events with `seq > after` that pass `filter` and, when
    /// `actors` is given, were made by one of those users (system events
    /// never match it; an empty list matches nothing: the event scope the
    /// facade ANDs in, as [`EventFilter::actor_in`](crate::query::EventFilter::actor_in)),
    /// in `seq` order, at most `limit` of them. The facade checks record
    /// scope afterwards.
    fn events_after(
        &self,
        after: u64,
        filter: &FeedFilter,
        actors: Option<&[UserId]>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError>;
    /// The change-feed consumer named `name`, if any.
    fn feed_consumer(&self, name: &str) -> Result<Option<FeedConsumer>, StoreError>;
    /// Every change-feed consumer, by name.
    fn feed_consumers(&self) -> Result<Vec<FeedConsumer>, StoreError>;
}

/// Writes, inside a write transaction. Reads see the transaction's own writes.
pub trait WriteTx: ReadTx {
    /// Stores a new customer.
    fn insert_customer(&mut self, customer: &Customer) -> Result<(), StoreError>;
    /// Replaces a customer whose stored version is `customer.version - 1`.
    fn update_customer(&mut self, customer: &Customer) -> Result<(), StoreError>;

    /// Stores a new pipeline.
    fn insert_pipeline(&mut self, pipeline: &Pipeline) -> Result<(), StoreError>;
    /// Replaces a pipeline whose stored version is `pipeline.version - 1`.
    fn update_pipeline(&mut self, pipeline: &Pipeline) -> Result<(), StoreError>;

    /// Stores a new deal.
    fn insert_deal(&mut self, deal: &Deal) -> Result<(), StoreError>;
    /// Replaces a deal whose stored version is `deal.version - 1`.
    fn update_deal(&mut self, deal: &Deal) -> Result<(), StoreError>;

    /// Stores a new activity.
    fn insert_activity(&mut self, activity: &Activity) -> Result<(), StoreError>;
    /// Replaces an activity whose stored version is `activity.version - 1`.
    fn update_activity(&mut self, activity: &Activity) -> Result<(), StoreError>;

    /// Appends an event, numbering it after the newest one.
    fn append_event(&mut self, event: NewEvent) -> Result<Event, StoreError>;

    /// Stores `schema` as its entity's custom-field schema: inserted (at
    /// whatever version it carries, so a restore keeps it) when the entity
    /// has none yet; otherwise only over version `schema.version - 1`
    /// ([`StoreError::VersionConflict`]).
    fn put_field_schema(&mut self, schema: &FieldSchema) -> Result<(), StoreError>;

    /// Marks the current point of this transaction, to return to with
    /// [`rollback_to_savepoint`](WriteTx::rollback_to_savepoint).
    fn savepoint(&mut self) -> Result<Savepoint, StoreError>;
    /// Undoes every write made since `savepoint` was taken and ends it (and
    /// every later savepoint). The transaction stays open and usable, even
    /// if a write after the savepoint had failed halfway.
    fn rollback_to_savepoint(&mut self, savepoint: Savepoint) -> Result<(), StoreError>;
    /// Ends `savepoint` (and every later one), keeping the writes made since.
    fn release_savepoint(&mut self, savepoint: Savepoint) -> Result<(), StoreError>;
    // ----- segments -----

    /// Stores a new saved segment.
    fn insert_segment(&mut self, segment: &Segment) -> Result<(), StoreError>;
    /// Replaces a saved segment whose stored version is `segment.version - 1`.
    fn update_segment(&mut self, segment: &Segment) -> Result<(), StoreError>;
    /// Deletes the saved segment `id` if its stored version is `version`
    /// (compare-and-set like an update).
    fn delete_segment(&mut self, id: SegmentId, version: u64) -> Result<(), StoreError>;

    /// Makes every write of this transaction durable and visible.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;

    // ----- users and teams -----

    /// Stores a new user.
    fn insert_user(&mut self, user: &User) -> Result<(), StoreError>;
    /// Replaces a user whose stored version is `user.version - 1`.
    fn update_user(&mut self, user: &User) -> Result<(), StoreError>;
    /// Stores a new team.
    fn insert_team(&mut self, team: &Team) -> Result<(), StoreError>;
    /// Replaces a team whose stored version is `team.version - 1`.
    fn update_team(&mut self, team: &Team) -> Result<(), StoreError>;

    // ----- automation -----

    /// Stores a new rule.
    fn insert_rule(&mut self, rule: &Rule) -> Result<(), StoreError>;
    /// Replaces a rule whose stored version is `rule.version - 1`.
    fn update_rule(&mut self, rule: &Rule) -> Result<(), StoreError>;
    /// Stores a new notification.
    fn insert_notification(&mut self, n: &Notification) -> Result<(), StoreError>;
    /// Replaces a notification whose stored version is `n.version - 1`.
    fn update_notification(&mut self, n: &Notification) -> Result<(), StoreError>;
    /// Stores a firing; [`StoreError::AlreadyExists`] if one with the same
    /// (rule, subject id, episode) is stored.
    fn record_firing(&mut self, firing: &Firing) -> Result<(), StoreError>;

    // ----- automation: rule cache, round-robin, backups -----

    /// Stores `user` as the last user `team`'s round-robin assignment gave
    /// work to (replacing the previous one).
    fn set_round_robin_cursor(&mut self, team: TeamId, user: UserId) -> Result<(), StoreError>;

    // ----- external keys, idempotency -----

    /// Replaces the external keys of the record `record` of kind `entity`
    /// with `keys` (an empty slice removes them all). Fails with
    /// [`StoreError::KeyTaken`], changing nothing, if another record of
    /// kind `entity` holds one of them: the store enforces uniqueness of
    /// (kind, system, key) itself (a unique index), so concurrent writers,
    /// even in other processes, cannot both attach one key.
    fn set_external_keys(
        &mut self,
        entity: EntityKind,
        record: Uuid,
        keys: &[ExternalKey],
    ) -> Result<(), StoreError>;
    /// Stores an idempotency key; [`StoreError::AlreadyExists`] (entity
    /// `record.entity`, id the key) if one with the same (entity, key) is
    /// stored.
    fn insert_idempotency_record(&mut self, record: &IdempotencyRecord) -> Result<(), StoreError>;
    // ----- change feed -----

    /// Stores a new consumer; [`StoreError::AlreadyExists`] if one with
    /// its name is stored.
    fn insert_feed_consumer(&mut self, consumer: &FeedConsumer) -> Result<(), StoreError>;
    /// Replaces the consumer with `consumer.name` (its checkpoint moved);
    /// [`StoreError::Missing`] if there is none. No compare-and-set: the
    /// facade checks the checkpoint moves forward inside the (serialised)
    /// write transaction.
    fn update_feed_consumer(&mut self, consumer: &FeedConsumer) -> Result<(), StoreError>;
    /// Deletes the consumer named `name`; [`StoreError::Missing`] if
    /// there is none.
    fn delete_feed_consumer(&mut self, name: &str) -> Result<(), StoreError>;
}

/// A mark inside a write transaction (see [`WriteTx::savepoint`]).
///
/// Savepoints nest: the first one taken in a transaction has depth 1, one
/// taken while it is still open depth 2, and so on. A store hands them out;
/// callers only pass them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Savepoint {
    depth: u32,
}

impl Savepoint {
    /// The savepoint at nesting `depth` (1 for the outermost). For stores.
    pub fn new(depth: u32) -> Self {
        Savepoint { depth }
    }

    /// How deeply this savepoint is nested (1 for the outermost).
    pub fn depth(&self) -> u32 {
        self.depth
    }
}

impl<T: Store + ?Sized> Store for Box<T> {
    fn read(&self) -> Result<Box<dyn ReadTx + '_>, StoreError> {
        (**self).read()
    }
    fn write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        (**self).write()
    }
}

impl<T: Store + ?Sized> Store for std::sync::Arc<T> {
    fn read(&self) -> Result<Box<dyn ReadTx + '_>, StoreError> {
        (**self).read()
    }
    fn write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        (**self).write()
    }
}
