//! Backups written by earlier versions of the library still restore.
//!
//! The files under `tests/fixtures/backups/` were written by the library
//! itself (the conformance suite's backup fillers), before request types
//! started refusing unknown fields:
//!
//! - `v1-2026-11-26.jsonl`: format version 1, from the commit before
//!   automation lines were added (teams, users, custom-field schemas,
//!   pipelines, merged customers, deals won/lost/reopened, activities,
//!   segments, events).
//! - `v2-2026-12-03.jsonl`: the same data in format version 2.
//! - `v2-automation-2026-12-03.jsonl`: rules with triggers and actions,
//!   the outbox, recorded firings and a round-robin cursor.
//!
//! Format version 3 (external keys and idempotency keys) is covered by the
//! conformance suite's `backups_carry_keys`, which also restores a
//! version-2 rendering of the same data.
//!
//! Each restores into an empty memory and SQLite store, and (for version 2)
//! backing the copy up gives the same file byte for byte: no field of an
//! old backup is refused or dropped. Never regenerate these files: they
//! stand for what is already out there.

use crm_core::{Actor, Crm, Store};
use crm_store_memory::MemoryStore;
use crm_store_sqlite::SqliteStore;

const V1: &str = include_str!("fixtures/backups/v1-2026-11-26.jsonl");
const V2: &str = include_str!("fixtures/backups/v2-2026-12-03.jsonl");
const V2_AUTOMATION: &str = include_str!("fixtures/backups/v2-automation-2026-12-03.jsonl");

fn restore_into<S: Store>(store: S, text: &str) -> String {
    let crm = Crm::new(store);
    let s = crm.as_actor(Actor::System);
    let counts = s
        .restore(text.as_bytes())
        .unwrap_or_else(|e| panic!("restore failed: {e}"));
    let lines = text.lines().count() as u64 - 1;
    let total = counts.teams
        + counts.users
        + counts.field_schemas
        + counts.pipelines
        + counts.customers
        + counts.deals
        + counts.activities
        + counts.segments
        + counts.events
        + counts.rules
        + counts.notifications
        + counts.firings
        + counts.round_robin_cursors
        + counts.external_keys
        + counts.idempotency_keys
        + counts.feed_consumers;
    assert_eq!(total, lines, "every line restored");
    let mut again = Vec::new();
    s.backup(&mut again).expect("backup of the copy");
    String::from_utf8(again).expect("utf-8")
}

fn both_stores(text: &str) -> Vec<String> {
    vec![
        restore_into(MemoryStore::new(), text),
        restore_into(SqliteStore::open_in_memory().expect("sqlite"), text),
    ]
}

#[test]
fn a_version_1_backup_restores() {
    for copy in both_stores(V1) {
        // The copy is written in the current format; apart from the
        // header line it is the same file.
        let old: Vec<&str> = V1.lines().skip(1).collect();
        let new: Vec<&str> = copy.lines().skip(1).collect();
        assert_eq!(old, new);
        assert!(copy.starts_with(&current_header()));
    }
}

/// The header a backup written now starts with.
fn current_header() -> String {
    format!(
        "{{\"header\":{{\"format\":\"crm-core backup\",\"version\":{}}}}}",
        crm_core::backup::VERSION
    )
}

/// A version-2 backup restores; the copy's backup is the same file apart
/// from its header line (version 3 added only lines, external keys,
/// idempotency keys and feed consumers, that a version-2 file has none of).
#[test]
fn version_2_backups_restore_byte_for_byte() {
    for text in [V2, V2_AUTOMATION] {
        for copy in both_stores(text) {
            let old: Vec<&str> = text.lines().skip(1).collect();
            let new: Vec<&str> = copy.lines().skip(1).collect();
            assert!(old == new, "the copy's backup differs");
            assert!(copy.starts_with(&current_header()));
        }
    }
}
