//! # crm-store-sqlite
//!
//! A [`Store`] for crm-core that keeps the whole CRM in one SQLite file
//! (or in memory), with the same observable behaviour as the in-memory
//! reference store: the shared conformance suite and a backend-equivalence
//! property test hold it to that.
//!
//! ```
//! use crm_core::{Actor, Crm, NewCustomer};
//! use crm_store_sqlite::SqliteStore;
//!
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("crm.db");
//! let crm = Crm::new(SqliteStore::open(&path)?);
//! let ada = crm.as_actor(Actor::System).create_customer(NewCustomer::person("Ada"))?;
//! drop(crm);
//!
//! // Reopened, the data is still there.
//! let crm = Crm::new(SqliteStore::open(&path)?);
//! assert_eq!(crm.as_actor(Actor::System).customer(ada.id)?, ada);
//! # drop(crm);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Schema
//!
//! Normalised `STRICT` tables: `customers` with `customer_emails`,
//! `customer_phones` (ordered by `position`) and `customer_tags`;
//! `pipelines` with `pipeline_stages` and `pipeline_transitions`; `deals`
//! with `deal_stage_history`; `activities`; and the append-only `events`
//! log (`seq INTEGER PRIMARY KEY`, changes as JSON text). Ids are 16-byte
//! UUID blobs, so SQL's order on them is the UUIDs' order; times are
//! INTEGER epoch milliseconds (the engine's precision); money is an exact
//! TEXT decimal that keeps its scale (`10.50` stays `10.50`) plus a
//! currency code, never a float. Every column a listing filters or sorts
//! by is indexed, sort keys together with the id (`(created_at, id)`, …).
//! Foreign keys tie child rows to their parent and deals to their customer
//! and pipeline; the business rules themselves live in the facade, not in
//! the schema. The full definition is in the `schema` module's source.
//!
//! Saved segments live in `segments` (the expression as JSON text).
//! Segment evaluation pushes predicates on customer attributes and on
//! `open_deals`, `last_won`, `last_activity` and `days_since_last_activity`
//! down to one SQL query (see `ReadTx::segment_push_down`), and the custom
//! field (`field.KEY`) tests that stay exact over the JSON column (text,
//! enum, bool and date equality, whole-number comparisons, `exists`); the
//! rest (`won_amount`, RFM, custom decimals and money, date ordering)
//! falls back to the reference evaluator in crm-core.
//! A user's segment carries their read scope into that same query
//! (`ReadTx::segment_push_down_scoped`): customers by the indexed owner,
//! deals and activities by their owner inside the per-customer subqueries.
//!
//! Listings run as one SQL statement each (filter in `WHERE`, order by
//! `key, id`, cursor as a row-value comparison, `LIMIT limit + 1`) and
//! return exactly what [`crm_core::query::paginate`] returns.
//!
//! # Concurrency
//!
//! A [`SqliteStore`] holds one connection behind a [`Mutex`]: transactions
//! of one store run one at a time, reads included (a reader pool can come
//! later without changing the API). Write transactions start with
//! `BEGIN IMMEDIATE`, taking SQLite's write lock up front, so writers from
//! other stores or other processes on the same file queue up (for up to
//! 5 s, the busy timeout) instead of failing halfway; the facade's
//! version checks then run under that lock, which is why two writers
//! starting from the same version get one success and one
//! [`crm_core::Error::Conflict`], never a lost update. Read transactions
//! use a deferred `BEGIN` and see one consistent snapshot. Dropping a write
//! transaction without committing rolls it back. As with the in-memory
//! store, opening a second transaction on the same store from the thread
//! that holds one blocks forever: use the [`crm_core::Batch`] you are given.
//!
//! # Durability
//!
//! Files use the write-ahead log (`journal_mode=WAL`) with
//! `synchronous=NORMAL`: a commit is atomic and survives a crash of the
//! process; a power loss may lose the last commits but never corrupts the
//! file. Readers in other processes do not block writers and vice versa.
//! `foreign_keys=ON`; statements are prepared once per connection and
//! cached.
//!
//! # Migrations
//!
//! The schema version is `PRAGMA user_version`, and a crm file carries
//! `PRAGMA application_id` = [`APPLICATION_ID`]. Opening a file runs every
//! pending migration in one `BEGIN IMMEDIATE` transaction, forward only.
//! A file that is not an SQLite database, an SQLite database of another
//! application, or a crm database newer than this library is refused with
//! an [`OpenError`] and left byte-for-byte untouched.

#![deny(missing_docs)]

mod automation;
mod codec;
mod external_key;
mod feed;
mod read;
mod schema;
mod segment;
mod write;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::Duration;

use chrono::{DateTime, Utc};
use crm_core::access::ReadScope;
use crm_core::automation::{Firing, Notification, Rule};
use crm_core::custom_field::FieldSchema;
use crm_core::query::ActivityFilter;
use crm_core::segment::Expr;
use crm_core::{
    Activity, ActivityId, ActivityQuery, Customer, CustomerFilter, CustomerId, CustomerQuery, Deal,
    DealFilter, DealId, DealQuery, EntityKind, Event, EventQuery, NewEvent, Page, Pipeline,
    PipelineId, PipelineQuery, ReadTx, Savepoint, Segment, SegmentId, SegmentQuery, Store,
    StoreError, Team, TeamId, TeamQuery, User, UserId, UserQuery, WriteTx,
};
use crm_core::{NotificationId, RuleId};
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file exists but is not an SQLite database. It was not modified.
    #[error(
        "{} is not an SQLite database, so it cannot be a crm database; it was left untouched",
        path.display()
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database of some other application. It was
    /// not modified.
    #[error(
        "{} is an SQLite database but not a crm database (its application_id is {application_id:#x}, a crm database has {:#x}); it was left untouched",
        path.display(), APPLICATION_ID
    )]
    NotACrmDatabase {
        /// The file.
        path: PathBuf,
        /// The file's `PRAGMA application_id`.
        application_id: i32,
    },
    /// The file was written by a newer version of this library. It was not
    /// modified.
    #[error(
        "{} has crm schema version {found}, but this version of crm-store-sqlite only knows versions up to {supported}; upgrade the library to open it (the file was left untouched)",
        path.display()
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest version this library knows.
        supported: i64,
    },
    /// SQLite failed (the file cannot be created or read, it is locked, …).
    #[error("{context}: {source}")]
    Sqlite {
        /// What was being done.
        context: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

impl From<OpenError> for StoreError {
    fn from(e: OpenError) -> Self {
        StoreError::backend("opening the SQLite store", e)
    }
}

impl From<OpenError> for crm_core::Error {
    fn from(e: OpenError) -> Self {
        crm_core::Error::Store(e.into())
    }
}

/// A crm store in one SQLite database file, or in memory.
///
/// `Send + Sync`: share it between threads (e.g. in an `Arc`); see the
/// [crate documentation](crate#concurrency) for how transactions are
/// serialised.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// The thread holding `conn` for a transaction, to refuse re-entry.
    holder: Mutex<Option<ThreadId>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn sqlite_err(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> OpenError {
    let context = context.into();
    move |source| OpenError::Sqlite { context, source }
}

impl SqliteStore {
    /// Opens (creating it if needed) the crm database at `path`, migrating
    /// its schema to the current version. The path `":memory:"` opens a
    /// private in-memory database, like [`SqliteStore::open_in_memory`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = path.as_ref();
        if path == Path::new(":memory:") {
            return Self::open_in_memory();
        }
        // No SQLITE_OPEN_URI: the path is a file name, never a URI.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(sqlite_err(format!("opening {}", path.display())))?;
        Self::init(conn, path, true)
    }

    /// A new, empty, private in-memory database (gone when dropped).
    pub fn open_in_memory() -> Result<Self, OpenError> {
        let conn =
            Connection::open_in_memory().map_err(sqlite_err("opening an in-memory database"))?;
        Self::init(conn, Path::new(":memory:"), false)
    }

    fn init(mut conn: Connection, path: &Path, file: bool) -> Result<Self, OpenError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite_err("setting the busy timeout"))?;
        conn.set_prepared_statement_cache_capacity(128);
        // Connection settings only: these do not touch the file.
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite_err("enabling foreign keys"))?;
        // Refuse foreign files before anything could write to them.
        schema::check(&conn, path)?;
        if file {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(sqlite_err(format!(
                    "switching {} to WAL mode",
                    path.display()
                )))?;
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_err("setting synchronous=NORMAL"))?;
        // A page cache of 32 MiB (SQLite's default is 2 MiB): imports of
        // historical data write rows in id order spread over years, i.e.
        // all over every index, and a small cache turns that into reads.
        conn.pragma_update(None, "cache_size", -32_768)
            .map_err(sqlite_err("setting cache_size"))?;
        // Savepoint and temporary journals in memory, not in temporary
        // files: a savepoint copies every page its writes touch.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(sqlite_err("setting temp_store=MEMORY"))?;
        schema::migrate(&mut conn, path)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            holder: Mutex::new(None),
        })
    }

    /// The schema version of the open database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.lock()?;
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(codec::backend("reading the schema version"))
    }

    /// The connection, with no transaction open on it.
    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        // A poisoned lock means a thread panicked inside a transaction; the
        // transaction's Drop rolled it back while unwinding.
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if !conn.is_autocommit() {
            // Defensive: never let a leftover transaction leak into the next one.
            conn.execute_batch("ROLLBACK")
                .map_err(codec::backend("rolling back a leftover transaction"))?;
        }
        Ok(conn)
    }

    /// Starts a transaction with `sql`, refusing to wait for a transaction
    /// this very thread holds (which would never end).
    fn begin(&self, sql: &str, context: &'static str) -> Result<Held<'_>, StoreError> {
        let me = thread::current().id();
        if *self.holder.lock().unwrap_or_else(|p| p.into_inner()) == Some(me) {
            return Err(StoreError::backend(
                "opening a transaction on the SQLite store",
                "this thread already holds a transaction on this store; inside Session::batch use the Batch handle it passes you",
            ));
        }
        let conn = self.lock()?;
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map_err(codec::backend(context))?;
        *self.holder.lock().unwrap_or_else(|p| p.into_inner()) = Some(me);
        Ok(Held {
            conn,
            holder: &self.holder,
        })
    }
}

impl Store for SqliteStore {
    fn read(&self) -> Result<Box<dyn ReadTx + '_>, StoreError> {
        let conn = self.begin("BEGIN", "starting a read transaction")?;
        Ok(Box::new(SqliteRead { conn }))
    }

    fn write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
        let conn = self.begin("BEGIN IMMEDIATE", "starting a write transaction")?;
        Ok(Box::new(SqliteWrite {
            conn,
            committed: false,
            broken: false,
            savepoints: Vec::new(),
            cache: RefCell::default(),
        }))
    }
}

/// The connection, held by one transaction of the current thread.
struct Held<'a> {
    conn: MutexGuard<'a, Connection>,
    holder: &'a Mutex<Option<ThreadId>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // Runs after the transaction's own Drop (fields drop after the
        // owner), i.e. after its rollback, and before the connection is
        // released.
        *self.holder.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl std::ops::Deref for Held<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

/// Runs a statement without parameters or results through the statement
/// cache (savepoints are taken once per imported row).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
}

/// Ends the transaction on `conn` without keeping anything.
fn rollback(conn: &Connection) {
    if !conn.is_autocommit() {
        // Nothing to report to: Drop cannot fail. If this fails, the next
        // `lock` rolls back before starting another transaction.
        let _ = conn
            .prepare_cached("ROLLBACK")
            .and_then(|mut s| s.execute([]));
    }
}

struct SqliteRead<'a> {
    conn: Held<'a>,
}

impl Drop for SqliteRead<'_> {
    fn drop(&mut self) {
        rollback(&self.conn);
    }
}

struct SqliteWrite<'a> {
    conn: Held<'a>,
    committed: bool,
    /// A write failed after changing some rows: the transaction may hold
    /// half a record, so it must not commit.
    broken: bool,
    /// For each open savepoint (SQL name `sp<depth>`), oldest first:
    /// whether the transaction was already broken when it was taken.
    savepoints: Vec<bool>,
    cache: RefCell<TxCache>,
}

impl Drop for SqliteWrite<'_> {
    fn drop(&mut self) {
        if !self.committed {
            rollback(&self.conn);
        }
    }
}

/// The reads that go straight to SQL in both kinds of transaction.
macro_rules! uncached_reads {
    () => {
        fn external_key_holder(
            &self,
            entity: EntityKind,
            key: &crm_core::ExternalKey,
        ) -> Result<Option<Uuid>, StoreError> {
            external_key::holder(&self.conn, entity, key)
        }
        fn external_keys_of(
            &self,
            entity: EntityKind,
            record: Uuid,
        ) -> Result<Vec<crm_core::ExternalKey>, StoreError> {
            external_key::keys_of(&self.conn, entity, record)
        }
        fn external_keys(
            &self,
        ) -> Result<Vec<crm_core::external_key::ExternalKeyEntry>, StoreError> {
            external_key::all_keys(&self.conn)
        }
        fn customers_by_phone(
            &self,
            phone: &crm_core::Phone,
        ) -> Result<Vec<CustomerId>, StoreError> {
            external_key::customers_by_phone(&self.conn, phone)
        }
        fn customers_by_email_domain(&self, domain: &str) -> Result<Vec<CustomerId>, StoreError> {
            external_key::customers_by_domain(&self.conn, domain)
        }
        fn idempotency_record(
            &self,
            entity: EntityKind,
            key: &str,
        ) -> Result<Option<crm_core::external_key::IdempotencyRecord>, StoreError> {
            external_key::idempotency_record(&self.conn, entity, key)
        }
        fn idempotency_records(
            &self,
        ) -> Result<Vec<crm_core::external_key::IdempotencyRecord>, StoreError> {
            external_key::idempotency_records(&self.conn)
        }
        fn customers(&self, q: &CustomerQuery) -> Result<Page<Customer>, StoreError> {
            read::customers(&self.conn, q)
        }
        fn count_customers(&self, f: &CustomerFilter) -> Result<u64, StoreError> {
            read::count_customers(&self.conn, f)
        }
        fn pipelines(&self, q: &PipelineQuery) -> Result<Page<Pipeline>, StoreError> {
            read::pipelines(&self.conn, q)
        }
        fn deals(&self, q: &DealQuery) -> Result<Page<Deal>, StoreError> {
            read::deals(&self.conn, q)
        }
        fn count_deals(&self, f: &DealFilter) -> Result<u64, StoreError> {
            read::count_deals(&self.conn, f)
        }
        fn activity(&self, id: ActivityId) -> Result<Option<Activity>, StoreError> {
            read::activity(&self.conn, id)
        }
        fn activities(&self, q: &ActivityQuery) -> Result<Page<Activity>, StoreError> {
            read::activities(&self.conn, q)
        }
        fn events(&self, q: &EventQuery) -> Result<Page<Event>, StoreError> {
            read::events(&self.conn, q)
        }
        fn last_event_seq(&self) -> Result<u64, StoreError> {
            read::last_event_seq(&self.conn)
        }
        fn field_schema(&self, entity: EntityKind) -> Result<Option<FieldSchema>, StoreError> {
            read::field_schema(&self.conn, entity)
        }

        // ----- segments -----

        fn segment(&self, id: SegmentId) -> Result<Option<Segment>, StoreError> {
            read::segment(&self.conn, id)
        }
        fn segments(&self, q: &SegmentQuery) -> Result<Page<Segment>, StoreError> {
            read::segments(&self.conn, q)
        }
        fn scan_customers(&self, visit: &mut dyn FnMut(&Customer)) -> Result<(), StoreError> {
            read::scan_customers(&self.conn, visit)
        }
        fn scan_deals(
            &self,
            f: &DealFilter,
            visit: &mut dyn FnMut(&Deal),
        ) -> Result<(), StoreError> {
            read::scan_deals(&self.conn, f, visit)
        }
        fn scan_activities(
            &self,
            f: &ActivityFilter,
            visit: &mut dyn FnMut(&Activity),
        ) -> Result<(), StoreError> {
            read::scan_activities(&self.conn, f, visit)
        }
        fn segment_push_down(
            &self,
            expr: &Expr,
            now: DateTime<Utc>,
        ) -> Result<Option<Vec<CustomerId>>, StoreError> {
            segment::push_down(&self.conn, expr, now, &ReadScope::all())
        }
        fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
            read::user(&self.conn, id)
        }
        fn users(&self, q: &UserQuery) -> Result<Page<User>, StoreError> {
            read::users(&self.conn, q)
        }
        fn team(&self, id: TeamId) -> Result<Option<Team>, StoreError> {
            read::team(&self.conn, id)
        }
        fn teams(&self, q: &TeamQuery) -> Result<Page<Team>, StoreError> {
            read::teams(&self.conn, q)
        }
        fn team_members(&self, teams: &[TeamId]) -> Result<Vec<UserId>, StoreError> {
            read::team_members(&self.conn, teams)
        }
        fn rule(&self, id: RuleId) -> Result<Option<Rule>, StoreError> {
            automation::rule(&self.conn, id)
        }
        fn rules(&self) -> Result<Vec<Rule>, StoreError> {
            automation::rules(&self.conn)
        }
        fn notification(&self, id: NotificationId) -> Result<Option<Notification>, StoreError> {
            automation::notification(&self.conn, id)
        }
        fn outbox(&self, include_acknowledged: bool) -> Result<Vec<Notification>, StoreError> {
            automation::outbox(&self.conn, include_acknowledged)
        }
        fn has_fired(
            &self,
            rule: RuleId,
            subject: uuid::Uuid,
            episode: &str,
        ) -> Result<bool, StoreError> {
            automation::has_fired(&self.conn, rule, subject, episode)
        }

        // ----- access: scope-aware segment push-down -----

        fn segment_push_down_scoped(
            &self,
            expr: &Expr,
            now: DateTime<Utc>,
            scope: &ReadScope,
        ) -> Result<Option<Vec<CustomerId>>, StoreError> {
            segment::push_down(&self.conn, expr, now, scope)
        }

        // ----- automation: rule cache, round-robin, backups -----

        fn rules_generation(&self) -> Result<u64, StoreError> {
            automation::rules_generation(&self.conn)
        }
        fn round_robin_cursor(&self, team: TeamId) -> Result<Option<UserId>, StoreError> {
            automation::round_robin_cursor(&self.conn, team)
        }
        fn round_robin_cursors(&self) -> Result<Vec<(TeamId, UserId)>, StoreError> {
            automation::round_robin_cursors(&self.conn)
        }
        fn firings(&self) -> Result<Vec<Firing>, StoreError> {
            automation::firings(&self.conn)
        }

        // ----- change feed -----

        fn events_after(
            &self,
            after: u64,
            filter: &crm_core::feed::FeedFilter,
            actors: Option<&[UserId]>,
            limit: u32,
        ) -> Result<Vec<Event>, StoreError> {
            feed::events_after(&self.conn, after, filter, actors, limit)
        }
        fn feed_consumer(
            &self,
            name: &str,
        ) -> Result<Option<crm_core::feed::FeedConsumer>, StoreError> {
            feed::feed_consumer(&self.conn, name)
        }
        fn feed_consumers(&self) -> Result<Vec<crm_core::feed::FeedConsumer>, StoreError> {
            feed::feed_consumers(&self.conn)
        }
    };
}

impl ReadTx for SqliteRead<'_> {
    fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        read::customer(&self.conn, id)
    }
    fn pipeline(&self, id: PipelineId) -> Result<Option<Pipeline>, StoreError> {
        read::pipeline(&self.conn, id)
    }
    fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError> {
        read::deal(&self.conn, id)
    }
    uncached_reads!();
}

/// Records as this write transaction last read or wrote them.
///
/// While a write transaction is open it holds SQLite's write lock, so only
/// its own writes can change a record; they go through this cache. The
/// facade reads back what it just wrote (the customer of a new deal, the
/// pipeline of every deal it creates or moves), and `update_deal` compares
/// the new stage history with the cached one instead of reading it again.
/// Bounded: when a map is full it is emptied.
#[derive(Default)]
struct TxCache {
    customers: HashMap<CustomerId, Customer>,
    pipelines: HashMap<PipelineId, Pipeline>,
    deals: HashMap<DealId, Deal>,
}

const TX_CACHE_LIMIT: usize = 256;

fn remember<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= TX_CACHE_LIMIT && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, value);
}

impl ReadTx for SqliteWrite<'_> {
    fn customer(&self, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        if let Some(c) = self.cache.borrow().customers.get(&id) {
            return Ok(Some(c.clone()));
        }
        let found = read::customer(&self.conn, id)?;
        if let Some(c) = &found {
            remember(&mut self.cache.borrow_mut().customers, id, c.clone());
        }
        Ok(found)
    }
    fn pipeline(&self, id: PipelineId) -> Result<Option<Pipeline>, StoreError> {
        if let Some(p) = self.cache.borrow().pipelines.get(&id) {
            return Ok(Some(p.clone()));
        }
        let found = read::pipeline(&self.conn, id)?;
        if let Some(p) = &found {
            remember(&mut self.cache.borrow_mut().pipelines, id, p.clone());
        }
        Ok(found)
    }
    fn deal(&self, id: DealId) -> Result<Option<Deal>, StoreError> {
        if let Some(d) = self.cache.borrow().deals.get(&id) {
            return Ok(Some(d.clone()));
        }
        let found = read::deal(&self.conn, id)?;
        if let Some(d) = &found {
            remember(&mut self.cache.borrow_mut().deals, id, d.clone());
        }
        Ok(found)
    }
    uncached_reads!();
}

impl SqliteWrite<'_> {
    /// Whether the transaction was broken when the open savepoint `sp` was
    /// taken; an error if `sp` is not open.
    fn check_savepoint(&self, sp: Savepoint) -> Result<bool, StoreError> {
        let depth = sp.depth() as usize;
        match depth.checked_sub(1).and_then(|i| self.savepoints.get(i)) {
            Some(broken) => Ok(*broken),
            None => Err(StoreError::backend(
                "ending a savepoint",
                format!(
                    "savepoint {depth} is not open in this transaction ({} are)",
                    self.savepoints.len()
                ),
            )),
        }
    }

    /// Runs one write; a failure other than a clean refusal (taken id,
    /// version conflict, missing record: detected before any row changes)
    /// marks the transaction as unable to commit.
    fn guarded<T>(
        &mut self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = f(&self.conn);
        if let Err(e) = &result
            && !matches!(
                e,
                StoreError::AlreadyExists { .. }
                    | StoreError::VersionConflict { .. }
                    | StoreError::Missing { .. }
                    | StoreError::KeyTaken { .. }
            )
        {
            self.broken = true;
            *self.cache.get_mut() = TxCache::default();
        }
        result
    }
}

impl WriteTx for SqliteWrite<'_> {
    fn insert_customer(&mut self, c: &Customer) -> Result<(), StoreError> {
        self.guarded(|conn| write::insert_customer(conn, c))?;
        remember(&mut self.cache.get_mut().customers, c.id, c.clone());
        Ok(())
    }
    fn update_customer(&mut self, c: &Customer) -> Result<(), StoreError> {
        self.guarded(|conn| write::update_customer(conn, c))?;
        remember(&mut self.cache.get_mut().customers, c.id, c.clone());
        Ok(())
    }
    fn insert_pipeline(&mut self, p: &Pipeline) -> Result<(), StoreError> {
        self.guarded(|conn| write::insert_pipeline(conn, p))?;
        remember(&mut self.cache.get_mut().pipelines, p.id, p.clone());
        Ok(())
    }
    fn update_pipeline(&mut self, p: &Pipeline) -> Result<(), StoreError> {
        self.guarded(|conn| write::update_pipeline(conn, p))?;
        remember(&mut self.cache.get_mut().pipelines, p.id, p.clone());
        Ok(())
    }
    fn insert_deal(&mut self, d: &Deal) -> Result<(), StoreError> {
        self.guarded(|conn| write::insert_deal(conn, d))?;
        remember(&mut self.cache.get_mut().deals, d.id, d.clone());
        Ok(())
    }
    fn update_deal(&mut self, d: &Deal) -> Result<(), StoreError> {
        // The stored history, if this transaction knows it already.
        let known = self
            .cache
            .get_mut()
            .deals
            .remove(&d.id)
            .map(|old| old.history);
        self.guarded(|conn| write::update_deal(conn, d, known.as_deref()))?;
        remember(&mut self.cache.get_mut().deals, d.id, d.clone());
        Ok(())
    }
    fn insert_activity(&mut self, a: &Activity) -> Result<(), StoreError> {
        self.guarded(|conn| write::insert_activity(conn, a))
    }
    fn update_activity(&mut self, a: &Activity) -> Result<(), StoreError> {
        self.guarded(|conn| write::update_activity(conn, a))
    }
    fn append_event(&mut self, e: NewEvent) -> Result<Event, StoreError> {
        self.guarded(|conn| write::append_event(conn, e))
    }
    fn put_field_schema(&mut self, schema: &FieldSchema) -> Result<(), StoreError> {
        self.guarded(|conn| write::put_field_schema(conn, schema))
    }

    fn savepoint(&mut self) -> Result<Savepoint, StoreError> {
        let depth = u32::try_from(self.savepoints.len() + 1)
            .map_err(|_| StoreError::backend("taking a savepoint", "too many nested savepoints"))?;
        run_cached(&self.conn, &format!("SAVEPOINT sp{depth}"))
            .map_err(codec::backend("taking a savepoint"))?;
        self.savepoints.push(self.broken);
        Ok(Savepoint::new(depth))
    }

    fn rollback_to_savepoint(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        let broken_then = self.check_savepoint(sp)?;
        let depth = sp.depth();
        // ROLLBACK TO keeps the savepoint open; RELEASE then ends it (and
        // every later one) without changing anything else.
        run_cached(&self.conn, &format!("ROLLBACK TO sp{depth}"))
            .and_then(|()| run_cached(&self.conn, &format!("RELEASE sp{depth}")))
            .map_err(|e| {
                self.broken = true;
                codec::backend("rolling back to a savepoint")(e)
            })?;
        self.savepoints.truncate(depth as usize - 1);
        self.broken = broken_then;
        // Cached records may have been written after the savepoint.
        *self.cache.get_mut() = TxCache::default();
        Ok(())
    }

    fn release_savepoint(&mut self, sp: Savepoint) -> Result<(), StoreError> {
        self.check_savepoint(sp)?;
        let depth = sp.depth();
        run_cached(&self.conn, &format!("RELEASE sp{depth}"))
            .map_err(codec::backend("releasing a savepoint"))?;
        self.savepoints.truncate(depth as usize - 1);
        Ok(())
    }

    // ----- segments -----

    fn insert_segment(&mut self, s: &Segment) -> Result<(), StoreError> {
        self.guarded(|conn| write::insert_segment(conn, s))
    }
    fn update_segment(&mut self, s: &Segment) -> Result<(), StoreError> {
        self.guarded(|conn| write::update_segment(conn, s))
    }
    fn delete_segment(&mut self, id: SegmentId, version: u64) -> Result<(), StoreError> {
        self.guarded(|conn| write::delete_segment(conn, id, version))
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if self.broken {
            // Dropping `self` rolls back.
            return Err(StoreError::backend(
                "committing",
                "a write in this transaction failed halfway, so the transaction was rolled back",
            ));
        }
        self.conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]))
            .map_err(codec::backend("committing a write transaction"))?;
        self.committed = true;
        Ok(())
    }

    fn insert_user(&mut self, u: &User) -> Result<(), StoreError> {
        self.guarded(|conn| write::insert_user(conn, u))
    }
    fn update_user(&mut self, u: &User) -> Result<(), StoreError> {
        self.guarded(|conn| write::update_user(conn, u))
    }
    fn insert_team(&mut self, t: &Team) -> Result<(), StoreError> {
        self.guarded(|conn| write::insert_team(conn, t))
    }
    fn update_team(&mut self, t: &Team) -> Result<(), StoreError> {
        self.guarded(|conn| write::update_team(conn, t))
    }

    fn insert_rule(&mut self, r: &Rule) -> Result<(), StoreError> {
        self.guarded(|conn| automation::insert_rule(conn, r))
    }
    fn update_rule(&mut self, r: &Rule) -> Result<(), StoreError> {
        self.guarded(|conn| automation::update_rule(conn, r))
    }
    fn insert_notification(&mut self, n: &Notification) -> Result<(), StoreError> {
        self.guarded(|conn| automation::insert_notification(conn, n))
    }
    fn update_notification(&mut self, n: &Notification) -> Result<(), StoreError> {
        self.guarded(|conn| automation::update_notification(conn, n))
    }
    fn record_firing(&mut self, f: &Firing) -> Result<(), StoreError> {
        self.guarded(|conn| automation::record_firing(conn, f))
    }

    // ----- automation: rule cache, round-robin, backups -----

    fn set_round_robin_cursor(&mut self, team: TeamId, user: UserId) -> Result<(), StoreError> {
        self.guarded(|conn| automation::set_round_robin_cursor(conn, team, user))
    }

    // ----- external keys, idempotency -----

    fn set_external_keys(
        &mut self,
        entity: EntityKind,
        record: Uuid,
        keys: &[crm_core::ExternalKey],
    ) -> Result<(), StoreError> {
        self.guarded(|conn| external_key::set_keys(conn, entity, record, keys))
    }
    fn insert_idempotency_record(
        &mut self,
        record: &crm_core::external_key::IdempotencyRecord,
    ) -> Result<(), StoreError> {
        self.guarded(|conn| external_key::insert_idempotency_record(conn, record))
    }
    // ----- change feed -----

    fn insert_feed_consumer(&mut self, c: &crm_core::feed::FeedConsumer) -> Result<(), StoreError> {
        self.guarded(|conn| feed::insert_feed_consumer(conn, c))
    }
    fn update_feed_consumer(&mut self, c: &crm_core::feed::FeedConsumer) -> Result<(), StoreError> {
        self.guarded(|conn| feed::update_feed_consumer(conn, c))
    }
    fn delete_feed_consumer(&mut self, name: &str) -> Result<(), StoreError> {
        self.guarded(|conn| feed::delete_feed_consumer(conn, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SqliteStore>();
    }
}
