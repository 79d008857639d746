//! The shared storage conformance suite, run against SQLite in memory and
//! on a file.

mod in_memory {
    crm_core::store_conformance_tests!(crm_store_sqlite::SqliteStore::open_in_memory().unwrap());
}

mod on_file {
    use crm_core::StoreError;
    use crm_core::store::{ReadTx, Store, WriteTx};
    use crm_store_sqlite::SqliteStore;

    /// An SQLite store on a file in a fresh directory of its own, which is
    /// deleted when the store is dropped: no two tests share a file.
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

    crm_core::store_conformance_tests!(FreshFile::new());
}

/// A CSV export of the reference store imports into SQLite unchanged.
#[test]
fn export_from_memory_then_import_into_sqlite_reproduces_the_records() {
    crm_core::testing::conformance::export_then_import_reproduces_the_records(
        crm_store_memory::MemoryStore::new(),
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap(),
    );
}

/// memory → backup → SQLite (a file) → backup gives the same file.
#[test]
fn backup_from_memory_restores_into_sqlite_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("restored.db");
    crm_core::testing::conformance::backup_then_restore_is_lossless(
        crm_store_memory::MemoryStore::new(),
        crm_store_sqlite::SqliteStore::open(&path).unwrap(),
    );
}

/// SQLite → backup → memory, the other way round.
#[test]
fn backup_from_sqlite_restores_into_memory_byte_for_byte() {
    crm_core::testing::conformance::backup_then_restore_is_lossless(
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap(),
        crm_store_memory::MemoryStore::new(),
    );
}

#[test]
fn restore_into_sqlite_refuses_damaged_backups() {
    crm_core::testing::conformance::restore_refuses_damaged_backups(
        crm_store_memory::MemoryStore::new(),
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap(),
    );
}

// ----- automation -----

/// Automation records: memory → backup → SQLite, and SQLite → memory.
#[test]
fn automation_backup_round_trips_between_stores() {
    crm_core::testing::conformance::automation_backup_round_trip(
        crm_store_memory::MemoryStore::new(),
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap(),
    );
    crm_core::testing::conformance::automation_backup_round_trip(
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap(),
        crm_store_memory::MemoryStore::new(),
    );
}

// ----- consistency check -----

#[test]
fn verify_finds_nothing_in_a_consistent_store() {
    crm_core::testing::conformance::verify_finds_nothing_in_a_consistent_store(|| {
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap()
    });
}

#[test]
fn restore_refuses_inconsistent_backups() {
    crm_core::testing::conformance::restore_refuses_inconsistent_backups(|| {
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap()
    });
}

#[test]
fn restore_refuses_values_the_engine_never_writes() {
    crm_core::testing::conformance::restore_refuses_values_the_engine_never_writes(|| {
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap()
    });
}

#[test]
fn restore_accepts_only_consistent_mutations() {
    crm_core::testing::conformance::restore_accepts_only_consistent_mutations(|| {
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap()
    });
}
