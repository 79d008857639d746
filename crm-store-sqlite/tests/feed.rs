//! The change feed on SQLite: the conformance suite in memory and on a
//! file, and the durability of consumer checkpoints across a crash
//! (the engine dropped between a read and its acknowledgement, the file
//! opened again).

use crm_core::feed::{FeedFilter, NewFeedConsumer};
use crm_core::{Actor, Crm, CustomerPatch, EntityKind, Event, NewCustomer};
use crm_store_sqlite::SqliteStore;

mod in_memory {
    crm_core::feed_conformance_tests!(crm_store_sqlite::SqliteStore::open_in_memory().unwrap());
}

mod on_file {
    use crm_core::StoreError;
    use crm_core::store::{ReadTx, Store, WriteTx};
    use crm_store_sqlite::SqliteStore;

    /// An SQLite store on a file in a fresh directory of its own.
    struct FreshFile {
        store: SqliteStore,
        _dir: tempfile::TempDir,
    }

    impl FreshFile {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("crm.db")).unwrap();
            FreshFile { store, _dir: dir }
        }
    }

    impl Store for FreshFile {
        fn read(&self) -> Result<Box<dyn ReadTx + '_>, StoreError> {
            self.store.read()
        }
        fn write(&self) -> Result<Box<dyn WriteTx + '_>, StoreError> {
            self.store.write()
        }
    }

    crm_core::feed_conformance_tests!(FreshFile::new());
}

fn seqs(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

/// A host reads a page, "crashes" (the engine and its connection are
/// dropped without an acknowledgement), opens the file again and reads
/// the same events; after acknowledging and another crash it reads on
/// from the checkpoint, and a second consumer is untouched throughout.
#[test]
fn a_crash_between_read_and_ack_reads_the_same_events_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let first = {
        let crm = Crm::new(SqliteStore::open(&path).unwrap());
        let s = crm.as_actor(Actor::System);
        let only = FeedFilter::default().entity_kinds([EntityKind::Customer]);
        s.create_feed_consumer(NewFeedConsumer::new("shop").filter(only.clone()))
            .unwrap();
        s.create_feed_consumer(NewFeedConsumer::new("mail").filter(only))
            .unwrap();
        for name in ["Ada", "Grace", "Edsger", "Barbara"] {
            let c = s.create_customer(NewCustomer::person(name)).unwrap();
            s.update_customer(
                c.id,
                c.version,
                CustomerPatch::default().name(format!("{name} L")),
            )
            .unwrap();
        }
        let page = s.read_feed_consumer("shop", 3).unwrap();
        assert_eq!(page.events.len(), 3);
        page
        // Dropped here: no acknowledgement.
    };
    let crm = Crm::new(SqliteStore::open(&path).unwrap());
    let s = crm.as_actor(Actor::System);
    let again = s.read_feed_consumer("shop", 3).unwrap();
    assert_eq!(again, first, "the same events after the crash");
    s.ack_feed_consumer("shop", again.next_after).unwrap();
    drop(crm);

    let crm = Crm::new(SqliteStore::open(&path).unwrap());
    let s = crm.as_actor(Actor::System);
    let consumers = s.feed_consumers().unwrap();
    assert_eq!(consumers[1].name, "shop");
    assert_eq!(consumers[1].checkpoint, first.next_after);
    let next = s.read_feed_consumer("shop", 100).unwrap();
    assert_eq!(next.events.len(), 5, "8 customer events, 3 acknowledged");
    assert!(seqs(&next.events)[0] > *seqs(&first.events).last().unwrap());
    // Nothing lost, nothing twice: the two reads are the customer log.
    let all: Vec<u64> = seqs(&first.events)
        .into_iter()
        .chain(seqs(&next.events))
        .collect();
    let mail = s.read_feed_consumer("mail", 100).unwrap();
    assert_eq!(seqs(&mail.events), all, "the other consumer never moved");
    assert!(s.verify().unwrap().is_empty());
}

/// A database written before the feed existed (schema version 8) opens,
/// gains the consumers table, and its whole history is in the feed.
#[test]
fn an_older_database_gains_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    {
        let crm = Crm::new(SqliteStore::open(&path).unwrap());
        crm.as_actor(Actor::System)
            .create_customer(NewCustomer::person("Ada"))
            .unwrap();
    }
    {
        // Back to version 8, as a database from before the feed.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE feed_consumers; PRAGMA user_version = 8;")
            .unwrap();
    }
    let crm = Crm::new(SqliteStore::open(&path).unwrap());
    let s = crm.as_actor(Actor::System);
    s.create_feed_consumer(NewFeedConsumer::new("late"))
        .unwrap();
    assert_eq!(s.read_feed_consumer("late", 10).unwrap().events.len(), 2);
}
