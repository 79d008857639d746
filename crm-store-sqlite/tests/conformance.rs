//! The shared storage conformance suite, run against SQLite in memory and
//! on a file.

mod in_memory {
    crm_core::store_conformance_tests!(crm_store_sqlite::SqliteStore::open_in_memory().unwrap());
}

mod on_file {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh database file per test, under Cargo's per-target temp
    /// directory (so `cargo clean` removes them).
    fn fresh_file() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("conformance-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!("{}.db", N.fetch_add(1, Ordering::Relaxed)))
    }

    crm_core::store_conformance_tests!(crm_store_sqlite::SqliteStore::open(fresh_file()).unwrap());
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
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("backup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("restored.db");
    let _ = std::fs::remove_file(&path);
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
fn restore_accepts_only_consistent_mutations() {
    crm_core::testing::conformance::restore_accepts_only_consistent_mutations(|| {
        crm_store_sqlite::SqliteStore::open_in_memory().unwrap()
    });
}
