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
