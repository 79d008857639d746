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

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::{self, ThreadId};

use crm_core::query::{Filter, paginate};
use crm_core::{
    Activity, ActivityId, ActivityQuery, Customer, CustomerFilter, CustomerId, CustomerQuery, Deal,
    DealFilter, DealId, DealQuery, EntityKind, Event, EventQuery, NewEvent, Page, Pipeline,
    PipelineId, PipelineQuery, ReadTx, Store, StoreError, Team, TeamId, TeamQuery, User, UserId,
    UserQuery, WriteTx,
};

#[derive(Default)]
struct State {
    customers: HashMap<CustomerId, Customer>,
    pipelines: HashMap<PipelineId, Pipeline>,
    deals: HashMap<DealId, Deal>,
    activities: HashMap<ActivityId, Activity>,
    events: Vec<Event>,
    users: HashMap<UserId, User>,
    teams: HashMap<TeamId, Team>,
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
    User(UserId, Option<User>),
    Team(TeamId, Option<Team>),
}

struct WriteGuard<'a> {
    state: RwLockWriteGuard<'a, State>,
    writer: &'a Mutex<Option<ThreadId>>,
    undo: Vec<Undo>,
    committed: bool,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        *self.writer.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if self.committed {
            return;
        }
        while let Some(u) = self.undo.pop() {
            let s = &mut *self.state;
            match u {
                Undo::Customer(id, old) => restore(&mut s.customers, id, old),
                Undo::Pipeline(id, old) => restore(&mut s.pipelines, id, old),
                Undo::Deal(id, old) => restore(&mut s.deals, id, old),
                Undo::Activity(id, old) => restore(&mut s.activities, id, old),
                Undo::Event => {
                    s.events.pop();
                }
                Undo::User(id, old) => restore(&mut s.users, id, old),
                Undo::Team(id, old) => restore(&mut s.teams, id, old),
            }
        }
    }
}

fn restore<K: Eq + Hash, V>(map: &mut HashMap<K, V>, id: K, old: Option<V>) {
    match old {
        Some(v) => map.insert(id, v),
        None => map.remove(&id),
    };
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
                paginate(reads($state).deals.values(), q)
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
                paginate(reads($state).activities.values(), q)
            }
            fn events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError> {
                let $me = self;
                paginate(reads($state).events.iter(), q)
            }
            fn last_event_seq(&self) -> Result<u64, StoreError> {
                let $me = self;
                Ok(reads($state).events.last().map(|e| e.seq).unwrap_or(0))
            }
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
}
