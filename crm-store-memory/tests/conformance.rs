//! The memory store passes the whole storage conformance suite.

crm_core::store_conformance_tests!(crm_store_memory::MemoryStore::new());

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<crm_store_memory::MemoryStore>();
}

#[test]
fn export_then_import_reproduces_the_records() {
    crm_core::testing::conformance::export_then_import_reproduces_the_records(
        crm_store_memory::MemoryStore::new(),
        crm_store_memory::MemoryStore::new(),
    );
}

#[test]
fn backup_then_restore_is_lossless() {
    crm_core::testing::conformance::backup_then_restore_is_lossless(
        crm_store_memory::MemoryStore::new(),
        crm_store_memory::MemoryStore::new(),
    );
}

#[test]
fn restore_refuses_damaged_backups() {
    crm_core::testing::conformance::restore_refuses_damaged_backups(
        crm_store_memory::MemoryStore::new(),
        crm_store_memory::MemoryStore::new(),
    );
}

// ----- automation -----

#[test]
fn automation_backup_round_trip() {
    crm_core::testing::conformance::automation_backup_round_trip(
        crm_store_memory::MemoryStore::new(),
        crm_store_memory::MemoryStore::new(),
    );
}

// ----- consistency check -----

#[test]
fn verify_finds_nothing_in_a_consistent_store() {
    crm_core::testing::conformance::verify_finds_nothing_in_a_consistent_store(
        crm_store_memory::MemoryStore::new,
    );
}

#[test]
fn restore_refuses_inconsistent_backups() {
    crm_core::testing::conformance::restore_refuses_inconsistent_backups(
        crm_store_memory::MemoryStore::new,
    );
}

#[test]
fn restore_refuses_values_the_engine_never_writes() {
    crm_core::testing::conformance::restore_refuses_values_the_engine_never_writes(
        crm_store_memory::MemoryStore::new,
    );
}

#[test]
fn restore_accepts_only_consistent_mutations() {
    crm_core::testing::conformance::restore_accepts_only_consistent_mutations(
        crm_store_memory::MemoryStore::new,
    );
}
