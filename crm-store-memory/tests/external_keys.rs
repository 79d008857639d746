//! External keys, upserts, caller ID and idempotency (issue 17 §1) on the
//! memory store.

use crm_core::testing::conformance as c;
use crm_store_memory::MemoryStore;

#[test]
fn customer_upserts_follow_their_mode() {
    c::customer_upserts_follow_their_mode(MemoryStore::new);
}

#[test]
fn deal_and_activity_upserts_reuse_their_rules() {
    c::deal_and_activity_upserts_reuse_their_rules(MemoryStore::new);
}

#[test]
fn taken_keys_are_refused_without_leaking() {
    c::taken_keys_are_refused_without_leaking(MemoryStore::new);
}

#[test]
fn caller_id_finds_customers() {
    c::caller_id_finds_customers(MemoryStore::new);
}

#[test]
fn merges_move_external_keys() {
    c::merges_move_external_keys(MemoryStore::new);
}

#[test]
fn idempotent_creates_return_the_first_record() {
    c::idempotent_creates_return_the_first_record(MemoryStore::new);
}

#[test]
fn backups_carry_keys() {
    c::backups_carry_keys(MemoryStore::new(), MemoryStore::new(), MemoryStore::new());
}

#[test]
fn upsert_sequences_match_a_reference_model() {
    c::upsert_sequences_match_a_reference_model(MemoryStore::new);
}

#[test]
fn concurrent_upserts_of_one_key_make_one_record() {
    c::concurrent_upserts_of_one_key_make_one_record(MemoryStore::new);
}
