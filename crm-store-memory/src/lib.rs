//! # crm-store-memory
//!
//! An in-memory [`Store`] for crm-core: nothing is written to disk, every
//! transaction is all-or-nothing, and it is safe to share between threads
//! (`Send + Sync`). Use it for tests, for caches and for short-lived
//! engines; use `crm-store-sqlite` for data that must survive.
//!
//! Writers are serialised by a lock held for the whole write transaction;
//! readers share the lock and see a consistent state. A write transaction
//! keeps an undo log and replays it if the transaction is dropped without
//! a commit (also while unwinding from a panic), so an aborted write leaves
//! no trace.
//!
//! ```
//! use crm_core::{Actor, Crm, NewCustomer};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let c = crm.as_actor(Actor::System).create_customer(NewCustomer::person("Ada"))?;
//! assert_eq!(c.version, 1);
//! # Ok::<(), crm_core::Error>(())
//! ```

#![deny(missing_docs)]

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::ops::Bound;
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::{self, ThreadId};

use crm_core::automation::{Firing, Notification, Rule};
use crm_core::custom_field::FieldSchema;
use crm_core::external_key::{ExternalKey, ExternalKeyEntry, IdempotencyRecord};
use crm_core::feed::{FeedConsumer, FeedFilter};
use crm_core::query::{ActivityFilter, Cursor, Filter, Order, Query, Record, SortValue, paginate};
use crm_core::{
    Activity, ActivityId, ActivityOrder, ActivityQuery, Customer, CustomerFilter, CustomerId,
    CustomerQuery, Deal, DealFilter, DealId, DealOrder, DealQuery, EntityKind, Event, EventQuery,
    NewEvent, Page, Pipeline, PipelineId, PipelineQuery, ReadTx, Savepoint, Segment, SegmentId,
    SegmentQuery, SortDirection, Store, StoreError, Team, TeamId, TeamQuery, User, UserId,
    UserQuery, WriteTx,
};
use crm_core::{NotificationId, Phone, RuleId};
use uuid::Uuid;

#[derive(Default)]
struct State {
    customers: HashMap<CustomerId, Customer>,
    pipelines: HashMap<PipelineId, Pipeline>,
    deals: HashMap<DealId, Deal>,
    activities: HashMap<ActivityId, Activity>,
    events: Vec<Event>,
    field_schemas: HashMap<EntityKind, FieldSchema>,
    /// Deals by (creation time in ms, id) and activities by (occurrence
    /// time in ms, id): their default listing orders, so that paging
    /// through all of them costs one pass instead of one per page.
    segments: HashMap<SegmentId, Segment>,
    users: HashMap<UserId, User>,
    teams: HashMap<TeamId, Team>,
    deals_by_created: BTreeSet<(i64, Uuid)>,
    activities_by_occurred: BTreeSet<(i64, Uuid)>,
    rules: HashMap<RuleId, Rule>,
    notifications: HashMap<NotificationId, Notification>,
    /// Stored firings by (rule, subject id, episode).
    firings: HashMap<(RuleId, Uuid, String), Firing>,
    /// Bumped on every change to `rules` (undos included), so it never
    /// repeats.
    rules_generation: u64,
    /// Round-robin cursors: the last user each team's assignment chose.
    cursors: HashMap<TeamId, UserId>,
    /// External keys: the record of each (kind, key), and the keys of
    /// each record (sorted).
    external_keys: HashMap<(EntityKind, ExternalKey), Uuid>,
    keys_by_record: HashMap<(EntityKind, Uuid), Vec<ExternalKey>>,
    /// Idempotency keys by (kind, key).
    idempotency: HashMap<(EntityKind, String), IdempotencyRecord>,
    /// Caller-ID indexes: customers by E.164 number and by e-mail domain.
    customers_by_phone: HashMap<String, BTreeSet<CustomerId>>,
    customers_by_domain: HashMap<String, BTreeSet<CustomerId>>,
    // ----- change feed -----
    /// Change-feed consumers by name.
    feed_consumers: std::collections::BTreeMap<String, FeedConsumer>,
}

/// Keeps the secondary indexes in step with the record maps.
trait Indexed: Sized {
    fn reindex(_state: &mut State, _old: Option<&Self>, _new: Option<&Self>) {}
}

fn reindex_in(
    index: &mut BTreeSet<(i64, Uuid)>,
    old: Option<(i64, Uuid)>,
    new: Option<(i64, Uuid)>,
) {
    if let Some(k) = old {
        index.remove(&k);
    }
    if let Some(k) = new {
        index.insert(k);
    }
}

impl Indexed for Customer {
    fn reindex(state: &mut State, old: Option<&Self>, new: Option<&Self>) {
        fn domain(e: &crm_core::Email) -> &str {
            e.as_str().rsplit_once('@').map_or("", |(_, d)| d)
        }
        fn unlink(index: &mut HashMap<String, BTreeSet<CustomerId>>, key: &str, id: CustomerId) {
            if let Some(set) = index.get_mut(key) {
                set.remove(&id);
                if set.is_empty() {
                    index.remove(key);
                }
            }
        }
        if let Some(c) = old {
            for p in &c.phones {
                unlink(&mut state.customers_by_phone, p.as_str(), c.id);
            }
            for e in &c.emails {
                unlink(&mut state.customers_by_domain, domain(e), c.id);
            }
        }
        if let Some(c) = new {
            for p in &c.phones {
                state
                    .customers_by_phone
                    .entry(p.as_str().to_owned())
                    .or_default()
                    .insert(c.id);
            }
            for e in &c.emails {
                state
                    .customers_by_domain
                    .entry(domain(e).to_owned())
                    .or_default()
                    .insert(c.id);
            }
        }
    }
}
impl Indexed for Rule {
    fn reindex(state: &mut State, _old: Option<&Self>, _new: Option<&Self>) {
        state.rules_generation += 1;
    }
}
impl Indexed for Notification {}
impl Indexed for Pipeline {}
impl Indexed for FieldSchema {}
impl Indexed for Segment {}
impl Indexed for User {}
impl Indexed for Team {}
impl Indexed for Deal {
    fn reindex(state: &mut State, old: Option<&Self>, new: Option<&Self>) {
        let key = |d: &Deal| (d.created_at.timestamp_millis(), d.id.as_uuid());
        reindex_in(&mut state.deals_by_created, old.map(key), new.map(key));
    }
}
impl Indexed for Activity {
    fn reindex(state: &mut State, old: Option<&Self>, new: Option<&Self>) {
        let key = |a: &Activity| (a.occurred_at.timestamp_millis(), a.id.as_uuid());
        reindex_in(
            &mut state.activities_by_occurred,
            old.map(key),
            new.map(key),
        );
    }
}

impl State {
    /// Makes `keys` the external keys of `(kind, id)`, without checks.
    fn replace_keys(&mut self, kind: EntityKind, id: Uuid, keys: Vec<ExternalKey>) {
        for k in self.keys_by_record.remove(&(kind, id)).unwrap_or_default() {
            self.external_keys.remove(&(kind, k));
        }
        for k in &keys {
            self.external_keys.insert((kind, k.clone()), id);
        }
        if !keys.is_empty() {
            self.keys_by_record.insert((kind, id), keys);
        }
    }

    fn list_deals(&self, q: &DealQuery) -> Result<Page<Deal>, StoreError> {
        if q.order == DealOrder::CreatedAt {
            list_indexed(&self.deals, &self.deals_by_created, q, DealId::from_uuid)
        } else {
            paginate(self.deals.values(), q)
        }
    }

    /// A page of the event log. The log is kept in `seq` order, which is
    /// the only event order, so a page is found by binary search from the
    /// cursor and a forward (or backward) scan: paginate's result without
    /// looking at the events before the cursor.
    fn list_events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError> {
        let key = |e: &Event| (q.order.value(e), e.id.as_uuid());
        let after = match &q.page.after {
            None => None,
            Some(c) => Some(c.decode(q.order.name())?),
        };
        let desc = q.direction == SortDirection::Desc;
        let events = &self.events;
        let (start, end) = match (&after, desc) {
            (None, _) => (0, events.len()),
            (Some(a), false) => (events.partition_point(|e| &key(e) <= a), events.len()),
            (Some(a), true) => (0, events.partition_point(|e| &key(e) < a)),
        };
        let slice = &events[start..end];
        let scan: Box<dyn Iterator<Item = &Event>> = if desc {
            Box::new(slice.iter().rev())
        } else {
            Box::new(slice.iter())
        };
        let limit = q.page.limit.max(1) as usize;
        let mut items: Vec<Event> = Vec::with_capacity(limit.min(slice.len()));
        let mut more = false;
        for e in scan.filter(|e| q.filter.matches(e)) {
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(e.clone());
        }
        let next = if more {
            items
                .last()
                .map(|e| Cursor::new(q.order.name(), &q.order.value(e), e.id.as_uuid()))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn list_activities(&self, q: &ActivityQuery) -> Result<Page<Activity>, StoreError> {
        if q.order == ActivityOrder::OccurredAt {
            list_indexed(
                &self.activities,
                &self.activities_by_occurred,
                q,
                ActivityId::from_uuid,
            )
        } else {
            paginate(self.activities.values(), q)
        }
    }
}

/// A page of records in an order whose sort key `index` holds, walking the
/// index from the cursor: exactly [`paginate`]'s result (same filter,
/// order, tie-breaking and cursors) without looking at every record.
fn list_indexed<K, T, F, O>(
    map: &HashMap<K, T>,
    index: &BTreeSet<(i64, Uuid)>,
    q: &Query<F, O>,
    key: impl Fn(Uuid) -> K,
) -> Result<Page<T>, StoreError>
where
    K: Eq + Hash,
    T: Record,
    F: Filter<T>,
    O: Order<T>,
{
    let after = match &q.page.after {
        None => None,
        Some(c) => match c.decode(q.order.name())? {
            (SortValue::Int(v), id) => Some((v, id)),
            // A text key sorts after every integer key: let the reference decide.
            _ => return paginate(map.values(), q),
        },
    };
    let desc = q.direction == SortDirection::Desc;
    let range = match (after, desc) {
        (None, _) => (Bound::Unbounded, Bound::Unbounded),
        (Some(k), false) => (Bound::Excluded(k), Bound::Unbounded),
        (Some(k), true) => (Bound::Unbounded, Bound::Excluded(k)),
    };
    let keys = index.range(range);
    let keys: Box<dyn Iterator<Item = &(i64, Uuid)>> = if desc {
        Box::new(keys.rev())
    } else {
        Box::new(keys)
    };
    let limit = q.page.limit.max(1) as usize;
    let mut items: Vec<T> = Vec::with_capacity(limit.min(map.len()));
    let mut more = false;
    for (_, id) in keys {
        let Some(item) = map.get(&key(*id)) else {
            continue;
        };
        if !q.filter.matches(item) {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(item.clone());
    }
    let next = if more {
        items
            .last()
            .map(|item| Cursor::new(q.order.name(), &q.order.value(item), item.uuid()))
    } else {
        None
    };
    Ok(Page { items, next })
}

/// A thread-safe, transactional store kept in memory.
///
/// Opening a second transaction on a thread that holds a write transaction
/// (for example calling a `Session` method inside `Session::batch` instead
/// of using the batch handle) fails with an error instead of deadlocking.
#[derive(Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    writer: Mutex<Option<ThreadId>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl MemoryStore {
    fn refuse_reentry(&self) -> Result<(), StoreError> {
        let writer = *self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if writer == Some(thread::current().id()) {
            return Err(StoreError::backend(
                "opening a transaction on the memory store",
                "this thread already holds a write transaction on this store; inside Session::batch use the Batch handle it passes you",
            ));
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn read(&self) -> Result<Box<dyn ReadTx + '_>, StoreError> {
        self.refuse_reentry()?;
        // A poisoned lock only means a writer panicked; its undo log already
        // restored the state while unwinding, so the data is consistent.
        let guard = self.state.read().unwrap_or_else(|p| p.into_inner());
        Ok(Box::new(ReadGuard(guard)))
    }

    fn write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        self.refuse_reentry()?;
        let guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread::current().id());
        Ok(Box::new(WriteGuard {
            state: guard,
            writer: &self.writer,
            undo: Vec::new(),
            savepoints: Vec::new(),
            committed: false,
        }))
    }
}

struct ReadGuard<'a>(RwLockReadGuard<'a, State>);

/// What to restore if the transaction does not commit.
enum Undo {
    Customer(CustomerId, Option<Customer>),
    Pipeline(PipelineId, Option<Pipeline>),
    Deal(DealId, Option<Deal>),
    Activity(ActivityId, Option<Activity>),
    Event,
    FieldSchema(EntityKind, Option<FieldSchema>),
    Segment(SegmentId, Option<Segment>),
    User(UserId, Option<User>),
    Team(TeamId, Option<Team>),
    Rule(RuleId, Option<Rule>),
    Notification(NotificationId, Option<Notification>),
    Firing((RuleId, Uuid, String)),
    Cursor(TeamId, Option<UserId>),
    /// A record's external keys before a `set_external_keys`.
    ExternalKeys(EntityKind, Uuid, Vec<ExternalKey>),
    Idempotency((EntityKind, String)),
    FeedConsumer(String, Option<FeedConsumer>),
}

struct WriteGuard<'a> {
    state: RwLockWriteGuard<'a, State>,
    writer: &'a Mutex<Option<ThreadId>>,
    undo: Vec<Undo>,
    /// For each open savepoint, oldest first: the undo-log length when it
    /// was taken.
    savepoints: Vec<usize>,
    committed: bool,
}

impl WriteGuard<'_> {
    /// Replays the undo log back to `len` entries.
    fn undo_to(&mut self, len: usize) {
        while self.undo.len() > len {
            let Some(u) = self.undo.pop() else { break };
            let s = &mut *self.state;
            match u {
                Undo::Customer(id, old) => restore(s, |s| &mut s.customers, id, old),
                Undo::Pipeline(id, old) => restore(s, |s| &mut s.pipelines, id, old),
                Undo::Deal(id, old) => restore(s, |s| &mut s.deals, id, old),
                Undo::Activity(id, old) => restore(s, |s| &mut s.activities, id, old),
                Undo::Event => {
                    s.events.pop();
                }
                Undo::FieldSchema(entity, old) => restore(s, |s| &mut s.field_schemas, entity, old),
                Undo::Segment(id, old) => restore(s, |s| &mut s.segments, id, old),
                Undo::User(id, old) => restore(s, |s| &mut s.users, id, old),
                Undo::Team(id, old) => restore(s, |s| &mut s.teams, id, old),
                Undo::Rule(id, old) => restore(s, |s| &mut s.rules, id, old),
                Undo::Notification(id, old) => restore(s, |s| &mut s.notifications, id, old),
                Undo::Firing(key) => {
                    s.firings.remove(&key);
                }
                Undo::ExternalKeys(kind, id, old) => s.replace_keys(kind, id, old),
                Undo::Idempotency(key) => {
                    s.idempotency.remove(&key);
                }
                Undo::FeedConsumer(name, old) => match old {
                    Some(c) => {
                        s.feed_consumers.insert(name, c);
                    }
                    None => {
                        s.feed_consumers.remove(&name);
                    }
                },
                Undo::Cursor(team, old) => match old {
                    Some(u) => {
                        s.cursors.insert(team, u);
                    }
                    None => {
                        s.cursors.remove(&team);
                    }
                },
            }
        }
    }

    /// Ends `sp` and every later savepoint, returning the undo-log length
    /// it was taken at.
    fn end_savepoint(&mut self, sp: Savepoint) -> Result<usize, StoreError> {
        let depth = sp.depth() as usize;
        if depth == 0 || depth > self.savepoints.len() {
            return Err(StoreError::backend(
                "ending a savepoint",
                format!(
                    "savepoint {depth} is not open in this transaction ({} are)",
                    self.savepoints.len()
                ),
            ));
        }
        let mark = self.savepoints[depth - 1];
        self.savepoints.truncate(depth - 1);
        Ok(mark)
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if !self.committed {
            self.undo_to(0);
        }
    }
}

fn restore<K: Eq + Hash, V: Indexed>(
    s: &mut State,
    map: impl Fn(&mut State) -> &mut HashMap<K, V>,
    id: K,
    old: Option<V>,
) {
    let current = map(s).remove(&id);
    V::reindex(s, current.as_ref(), None);
    if let Some(v) = old {
        V::reindex(s, None, Some(&v));
        map(s).insert(id, v);
    }
}

fn count<'a, T: 'a>(items: impl Iterator<Item = &'a T>, filter: &impl Filter<T>) -> u64 {
    items.filter(|i| filter.matches(i)).count() as u64
}

fn reads(s: &State) -> &State {
    s
}

macro_rules! read_impl {
    ($t:ty, |$me:ident| $state:expr) => {
        impl ReadTx for $t {
            fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
                let $me = self;
                Ok(reads($state).customers.get(&id).cloned())
            }
            fn customers(&self, q: &CustomerQuery) -> Result<Page<Customer>, StoreError> {
                let $me = self;
                paginate(reads($state).customers.values(), q)
            }
            fn count_customers(&self, f: &CustomerFilter) -> Result<u64, StoreError> {
                let $me = self;
                Ok(count(reads($state).customers.values(), f))
            }
            fn pipeline(&self, id: PipelineId) -> Result<Option<Pipeline>, StoreError> {
                let $me = self;
                Ok(reads($state).pipelines.get(&id).cloned())
            }
            fn pipelines(&self, q: &PipelineQuery) -> Result<Page<Pipeline>, StoreError> {
                let $me = self;
                paginate(reads($state).pipelines.values(), q)
            }
            fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError> {
                let $me = self;
                Ok(reads($state).deals.get(&id).cloned())
            }
            fn deals(&self, q: &DealQuery) -> Result<Page<Deal>, StoreError> {
                let $me = self;
                reads($state).list_deals(q)
            }
            fn count_deals(&self, f: &DealFilter) -> Result<u64, StoreError> {
                let $me = self;
                Ok(count(reads($state).deals.values(), f))
            }
            fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError> {
                let $me = self;
                Ok(reads($state).activities.get(&id).cloned())
            }
            fn activities(&self, q: &ActivityQuery) -> Result<Page<Activity>, StoreError> {
                let $me = self;
                reads($state).list_activities(q)
            }
            fn events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError> {
                let $me = self;
                reads($state).list_events(q)
            }
            fn last_event_seq(&self) -> Result<u64, StoreError> {
                let $me = self;
                Ok(reads($state).events.last().map(|e| e.seq).unwrap_or(0))
            }
            fn field_schema(&self, entity: EntityKind) -> Result<Option<FieldSchema>, StoreError> {
                let $me = self;
                Ok(reads($state).field_schemas.get(&entity).cloned())
            }

            // ----- segments -----

            fn segment(&self, id: SegmentId) -> Result<Option<Segment>, StoreError> {
                let $me = self;
                Ok(reads($state).segments.get(&id).cloned())
            }
            fn segments(&self, q: &SegmentQuery) -> Result<Page<Segment>, StoreError> {
                let $me = self;
                paginate(reads($state).segments.values(), q)
            }
            fn scan_customers(&self, visit: &mut dyn FnMut(&Customer)) -> Result<(), StoreError> {
                let $me = self;
                reads($state).customers.values().for_each(visit);
                Ok(())
            }
            fn scan_deals(
                &self,
                filter: &DealFilter,
                visit: &mut dyn FnMut(&Deal),
            ) -> Result<(), StoreError> {
                let $me = self;
                reads($state)
                    .deals
                    .values()
                    .filter(|d| filter.matches(d))
                    .for_each(visit);
                Ok(())
            }
            fn scan_activities(
                &self,
                filter: &ActivityFilter,
                visit: &mut dyn FnMut(&Activity),
            ) -> Result<(), StoreError> {
                let $me = self;
                reads($state)
                    .activities
                    .values()
                    .filter(|a| filter.matches(a))
                    .for_each(visit);
                Ok(())
            }
            // No push-down: the facade evaluates every expression itself.

            fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
                let $me = self;
                Ok(reads($state).users.get(&id).cloned())
            }
            fn users(&self, q: &UserQuery) -> Result<Page<User>, StoreError> {
                let $me = self;
                paginate(reads($state).users.values(), q)
            }
            fn team(&self, id: TeamId) -> Result<Option<Team>, StoreError> {
                let $me = self;
                Ok(reads($state).teams.get(&id).cloned())
            }
            fn teams(&self, q: &TeamQuery) -> Result<Page<Team>, StoreError> {
                let $me = self;
                paginate(reads($state).teams.values(), q)
            }
            fn team_members(&self, teams: &[TeamId]) -> Result<Vec<UserId>, StoreError> {
                let $me = self;
                let mut ids: Vec<UserId> = reads($state)
                    .users
                    .values()
                    .filter(|u| teams.iter().any(|t| u.teams.contains(t)))
                    .map(|u| u.id)
                    .collect();
                ids.sort();
                Ok(ids)
            }

            // ----- automation -----

            fn rule(&self, id: RuleId) -> Result<Option<Rule>, StoreError> {
                let $me = self;
                Ok(reads($state).rules.get(&id).cloned())
            }
            fn rules(&self) -> Result<Vec<Rule>, StoreError> {
                let $me = self;
                let mut all: Vec<Rule> = reads($state).rules.values().cloned().collect();
                all.sort_by_key(|r| r.id);
                Ok(all)
            }
            fn notification(&self, id: NotificationId) -> Result<Option<Notification>, StoreError> {
                let $me = self;
                Ok(reads($state).notifications.get(&id).cloned())
            }
            fn outbox(&self, include_acknowledged: bool) -> Result<Vec<Notification>, StoreError> {
                let $me = self;
                let mut all: Vec<Notification> = reads($state)
                    .notifications
                    .values()
                    .filter(|n| include_acknowledged || n.acknowledged_at.is_none())
                    .cloned()
                    .collect();
                all.sort_by_key(|n| (n.created_at, n.id));
                Ok(all)
            }
            fn has_fired(
                &self,
                rule: RuleId,
                subject: Uuid,
                episode: &str,
            ) -> Result<bool, StoreError> {
                let $me = self;
                Ok(reads($state)
                    .firings
                    .contains_key(&(rule, subject, episode.to_owned())))
            }

            // ----- automation: rule cache, round-robin, backups -----

            fn rules_generation(&self) -> Result<u64, StoreError> {
                let $me = self;
                Ok(reads($state).rules_generation)
            }
            fn round_robin_cursor(&self, team: TeamId) -> Result<Option<UserId>, StoreError> {
                let $me = self;
                Ok(reads($state).cursors.get(&team).copied())
            }
            fn round_robin_cursors(&self) -> Result<Vec<(TeamId, UserId)>, StoreError> {
                let $me = self;
                let mut all: Vec<(TeamId, UserId)> = reads($state)
                    .cursors
                    .iter()
                    .map(|(t, u)| (*t, *u))
                    .collect();
                all.sort();
                Ok(all)
            }
            fn firings(&self) -> Result<Vec<Firing>, StoreError> {
                let $me = self;
                let mut all: Vec<(&(RuleId, Uuid, String), &Firing)> =
                    reads($state).firings.iter().collect();
                all.sort_by(|a, b| a.0.cmp(b.0));
                Ok(all.into_iter().map(|(_, f)| f.clone()).collect())
            }

            // ----- external keys, caller ID, idempotency -----

            fn external_key_holder(
                &self,
                entity: EntityKind,
                key: &ExternalKey,
            ) -> Result<Option<Uuid>, StoreError> {
                let $me = self;
                Ok(reads($state)
                    .external_keys
                    .get(&(entity, key.clone()))
                    .copied())
            }
            fn external_keys_of(
                &self,
                entity: EntityKind,
                record: Uuid,
            ) -> Result<Vec<ExternalKey>, StoreError> {
                let $me = self;
                Ok(reads($state)
                    .keys_by_record
                    .get(&(entity, record))
                    .cloned()
                    .unwrap_or_default())
            }
            fn external_keys(&self) -> Result<Vec<ExternalKeyEntry>, StoreError> {
                let $me = self;
                let mut all: Vec<ExternalKeyEntry> = reads($state)
                    .external_keys
                    .iter()
                    .map(|((entity, key), record)| ExternalKeyEntry {
                        entity: *entity,
                        key: key.clone(),
                        record: *record,
                    })
                    .collect();
                all.sort_by(|a, b| (a.entity.as_str(), &a.key).cmp(&(b.entity.as_str(), &b.key)));
                Ok(all)
            }
            fn customers_by_phone(&self, phone: &Phone) -> Result<Vec<CustomerId>, StoreError> {
                let $me = self;
                Ok(reads($state)
                    .customers_by_phone
                    .get(phone.as_str())
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default())
            }
            fn customers_by_email_domain(
                &self,
                domain: &str,
            ) -> Result<Vec<CustomerId>, StoreError> {
                let $me = self;
                Ok(reads($state)
                    .customers_by_domain
                    .get(domain)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default())
            }
            fn idempotency_record(
                &self,
                entity: EntityKind,
                key: &str,
            ) -> Result<Option<IdempotencyRecord>, StoreError> {
                let $me = self;
                Ok(reads($state)
                    .idempotency
                    .get(&(entity, key.to_owned()))
                    .cloned())
            }
            fn idempotency_records(&self) -> Result<Vec<IdempotencyRecord>, StoreError> {
                let $me = self;
                let mut all: Vec<IdempotencyRecord> =
                    reads($state).idempotency.values().cloned().collect();
                all.sort_by(|a, b| (a.entity.as_str(), &a.key).cmp(&(b.entity.as_str(), &b.key)));
                Ok(all)
            }
            // ----- change feed -----

            fn events_after(
                &self,
                after: u64,
                filter: &FeedFilter,
                actors: Option<&[UserId]>,
                limit: u32,
            ) -> Result<Vec<Event>, StoreError> {
                let $me = self;
                let events = &reads($state).events;
                let start = events.partition_point(|e| e.seq <= after);
                let by = |e: &Event| {
                    actors.is_none_or(|a| e.actor.user().is_some_and(|u| a.contains(&u)))
                };
                Ok(events[start..]
                    .iter()
                    .filter(|e| filter.matches(e) && by(e))
                    .take(limit as usize)
                    .cloned()
                    .collect())
            }
            fn feed_consumer(&self, name: &str) -> Result<Option<FeedConsumer>, StoreError> {
                let $me = self;
                Ok(reads($state).feed_consumers.get(name).cloned())
            }
            fn feed_consumers(&self) -> Result<Vec<FeedConsumer>, StoreError> {
                let $me = self;
                Ok(reads($state).feed_consumers.values().cloned().collect())
            }
        }
    };
}

read_impl!(ReadGuard<'_>, |me| &me.0);
read_impl!(WriteGuard<'_>, |me| &me.state);

macro_rules! insert_update {
    ($insert:ident, $update:ident, $t:ty, $field:ident, $undo:ident, $kind:expr) => {
        fn $insert(&mut self, v: &$t) -> Result<(), StoreError> {
            if self.state.$field.contains_key(&v.id) {
                return Err(StoreError::AlreadyExists {
                    entity: $kind,
                    id: v.id.to_string(),
                });
            }
            self.state.$field.insert(v.id, v.clone());
            <$t as Indexed>::reindex(&mut self.state, None, Some(v));
            self.undo.push(Undo::$undo(v.id, None));
            Ok(())
        }

        fn $update(&mut self, v: &$t) -> Result<(), StoreError> {
            let stored = self
                .state
                .$field
                .get(&v.id)
                .map(|s| s.version)
                .ok_or_else(|| StoreError::Missing {
                    entity: $kind,
                    id: v.id.to_string(),
                })?;
            if stored + 1 != v.version {
                return Err(StoreError::VersionConflict {
                    entity: $kind,
                    id: v.id.to_string(),
                    expected: v.version.saturating_sub(1),
                    actual: stored,
                });
            }
            let old = self.state.$field.insert(v.id, v.clone());
            <$t as Indexed>::reindex(&mut self.state, old.as_ref(), Some(v));
            self.undo.push(Undo::$undo(v.id, old));
            Ok(())
        }
    };
}

impl WriteTx for WriteGuard<'_> {
    insert_update!(
        insert_customer,
        update_customer,
        Customer,
        customers,
        Customer,
        EntityKind::Customer
    );
    insert_update!(
        insert_pipeline,
        update_pipeline,
        Pipeline,
        pipelines,
        Pipeline,
        EntityKind::Pipeline
    );
    insert_update!(
        insert_deal,
        update_deal,
        Deal,
        deals,
        Deal,
        EntityKind::Deal
    );
    insert_update!(
        insert_segment,
        update_segment,
        Segment,
        segments,
        Segment,
        EntityKind::Segment
    );

    fn delete_segment(&mut self, id: SegmentId, version: u64) -> Result<(), StoreError> {
        let stored = self
            .state
            .segments
            .get(&id)
            .map(|s| s.version)
            .ok_or_else(|| StoreError::Missing {
                entity: EntityKind::Segment,
                id: id.to_string(),
            })?;
        if stored != version {
            return Err(StoreError::VersionConflict {
                entity: EntityKind::Segment,
                id: id.to_string(),
                expected: version,
                actual: stored,
            });
        }
        let old = self.state.segments.remove(&id);
        self.undo.push(Undo::Segment(id, old));
        Ok(())
    }

    insert_update!(
        insert_rule,
        update_rule,
        Rule,
        rules,
        Rule,
        EntityKind::Rule
    );
    insert_update!(
        insert_notification,
        update_notification,
        Notification,
        notifications,
        Notification,
        EntityKind::Notification
    );

    fn record_firing(&mut self, firing: &Firing) -> Result<(), StoreError> {
        let key = (firing.rule, firing.subject.id, firing.episode.clone());
        if self.state.firings.contains_key(&key) {
            return Err(StoreError::AlreadyExists {
                entity: EntityKind::Rule,
                id: format!(
                    "{} on {} ({})",
                    firing.rule, firing.subject.id, firing.episode
                ),
            });
        }
        self.state.firings.insert(key.clone(), firing.clone());
        self.undo.push(Undo::Firing(key));
        Ok(())
    }

    insert_update!(
        insert_activity,
        update_activity,
        Activity,
        activities,
        Activity,
        EntityKind::Activity
    );

    fn append_event(&mut self, event: NewEvent) -> Result<Event, StoreError> {
        let seq = self.state.events.last().map(|e| e.seq).unwrap_or(0) + 1;
        let event = event.with_seq(seq);
        self.state.events.push(event.clone());
        self.undo.push(Undo::Event);
        Ok(event)
    }

    fn put_field_schema(&mut self, schema: &FieldSchema) -> Result<(), StoreError> {
        if let Some(stored) = self.state.field_schemas.get(&schema.entity)
            && stored.version + 1 != schema.version
        {
            return Err(StoreError::VersionConflict {
                entity: EntityKind::FieldSchema,
                id: crm_core::custom_field::FieldSchema::event_id(schema.entity).to_string(),
                expected: schema.version.saturating_sub(1),
                actual: stored.version,
            });
        }
        let old = self
            .state
            .field_schemas
            .insert(schema.entity, schema.clone());
        self.undo.push(Undo::FieldSchema(schema.entity, old));
        Ok(())
    }

    fn set_external_keys(
        &mut self,
        entity: EntityKind,
        record: Uuid,
        keys: &[ExternalKey],
    ) -> Result<(), StoreError> {
        // The unique index: checked before anything changes, inside the
        // one write transaction, so no two records can hold a key.
        for k in keys {
            if let Some(holder) = self.state.external_keys.get(&(entity, k.clone()))
                && *holder != record
            {
                return Err(StoreError::KeyTaken {
                    entity,
                    system: k.system().to_owned(),
                    key: k.key().to_owned(),
                    holder: holder.to_string(),
                });
            }
        }
        let mut keys = keys.to_vec();
        keys.sort();
        keys.dedup();
        let old = self
            .state
            .keys_by_record
            .get(&(entity, record))
            .cloned()
            .unwrap_or_default();
        self.state.replace_keys(entity, record, keys);
        self.undo.push(Undo::ExternalKeys(entity, record, old));
        Ok(())
    }

    fn insert_idempotency_record(&mut self, r: &IdempotencyRecord) -> Result<(), StoreError> {
        let key = (r.entity, r.key.clone());
        if self.state.idempotency.contains_key(&key) {
            return Err(StoreError::AlreadyExists {
                entity: r.entity,
                id: r.key.clone(),
            });
        }
        self.state.idempotency.insert(key.clone(), r.clone());
        self.undo.push(Undo::Idempotency(key));
        Ok(())
    }

    fn savepoint(&mut self) -> Result<Savepoint, StoreError> {
        self.savepoints.push(self.undo.len());
        let depth = u32::try_from(self.savepoints.len())
            .map_err(|_| StoreError::backend("taking a savepoint", "too many nested savepoints"))?;
        Ok(Savepoint::new(depth))
    }

    fn rollback_to_savepoint(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        let mark = self.end_savepoint(sp)?;
        self.undo_to(mark);
        Ok(())
    }

    fn release_savepoint(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        self.end_savepoint(sp).map(|_| ())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.committed = true;
        Ok(())
    }

    insert_update!(
        insert_user,
        update_user,
        User,
        users,
        User,
        EntityKind::User
    );
    insert_update!(
        insert_team,
        update_team,
        Team,
        teams,
        Team,
        EntityKind::Team
    );

    // ----- automation: rule cache, round-robin, backups -----

    fn set_round_robin_cursor(&mut self, team: TeamId, user: UserId) -> Result<(), StoreError> {
        let old = self.state.cursors.insert(team, user);
        self.undo.push(Undo::Cursor(team, old));
        Ok(())
    }

    // ----- change feed -----

    fn insert_feed_consumer(&mut self, c: &FeedConsumer) -> Result<(), StoreError> {
        if self.state.feed_consumers.contains_key(&c.name) {
            return Err(StoreError::AlreadyExists {
                entity: EntityKind::FeedConsumer,
                id: c.name.clone(),
            });
        }
        self.state.feed_consumers.insert(c.name.clone(), c.clone());
        self.undo.push(Undo::FeedConsumer(c.name.clone(), None));
        Ok(())
    }

    fn update_feed_consumer(&mut self, c: &FeedConsumer) -> Result<(), StoreError> {
        if !self.state.feed_consumers.contains_key(&c.name) {
            return Err(StoreError::Missing {
                entity: EntityKind::FeedConsumer,
                id: c.name.clone(),
            });
        }
        let old = self.state.feed_consumers.insert(c.name.clone(), c.clone());
        self.undo.push(Undo::FeedConsumer(c.name.clone(), old));
        Ok(())
    }

    fn delete_feed_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        let old = self
            .state
            .feed_consumers
            .remove(name)
            .ok_or_else(|| StoreError::Missing {
                entity: EntityKind::FeedConsumer,
                id: name.to_owned(),
            })?;
        self.undo
            .push(Undo::FeedConsumer(name.to_owned(), Some(old)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crm_core::{ActivityKind, Actor, Crm, NewActivity, NewCustomer, NewDeal, PipelineDef};

    use super::*;

    fn index_matches(store: &MemoryStore) -> bool {
        let s = store.state.read().unwrap_or_else(|p| p.into_inner());
        let deals: BTreeSet<(i64, Uuid)> = s
            .deals
            .values()
            .map(|d| (d.created_at.timestamp_millis(), d.id.as_uuid()))
            .collect();
        let activities: BTreeSet<(i64, Uuid)> = s
            .activities
            .values()
            .map(|a| (a.occurred_at.timestamp_millis(), a.id.as_uuid()))
            .collect();
        deals == s.deals_by_created && activities == s.activities_by_occurred
    }

    #[test]
    fn indexes_follow_inserts_updates_and_rollbacks() {
        let store = Arc::new(MemoryStore::new());
        let crm = Crm::new(store.clone());
        let s = crm.as_actor(Actor::System);
        let p = s
            .create_pipeline(PipelineDef::sales_template("Sales"))
            .unwrap();
        let c = s.create_customer(NewCustomer::person("Ada")).unwrap();
        let d = s.create_deal(NewDeal::new(c.id, p.id, "One")).unwrap();
        s.move_deal(d.id, d.version, "qualified").unwrap();
        s.log_activity(NewActivity::new(ActivityKind::Call, "Call").deal(d.id))
            .unwrap();
        assert!(index_matches(&store));
        // A batch that inserts and updates deals, then fails: all undone.
        let failed: Result<(), crm_core::Error> = s.batch(|b| {
            b.create_deal(NewDeal::new(c.id, p.id, "Two"))?;
            b.log_activity(NewActivity::new(ActivityKind::Note, "Note").customer(c.id))?;
            let d = b.deal(d.id)?;
            b.move_deal(d.id, d.version, "proposal")?; // guard: needs an amount
            Ok(())
        });
        assert!(failed.is_err());
        assert!(index_matches(&store));
        let state = store.state.read().unwrap();
        assert_eq!(state.deals_by_created.len(), 1);
        assert_eq!(state.activities_by_occurred.len(), 1);
    }
}
