//! Opening: new files, `":memory:"`, and files that must be refused
//! without being modified.

use crm_core::{Actor, Crm, NewCustomer};
use crm_store_sqlite::{APPLICATION_ID, OpenError, SCHEMA_VERSION, SqliteStore};

/// A fresh directory of one test's own (unique, deleted when dropped).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("crm-open-{name}-"))
        .tempdir()
        .expect("temp dir")
}

#[test]
fn new_file_gets_the_current_schema_and_application_id() {
    let dir = temp_dir("new");
    let db = dir.path().join("crm.db");
    let store = SqliteStore::open(&db).expect("open");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    drop(store);
    let raw = rusqlite::Connection::open(&db).expect("raw");
    let app: i32 = raw
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .expect("pragma");
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("pragma");
    assert_eq!((app, mode.as_str()), (APPLICATION_ID, "wal"));
    drop(dir);
}

#[test]
fn memory_path_opens_a_private_in_memory_store() {
    let crm = Crm::new(SqliteStore::open(":memory:").expect("open"));
    crm.as_actor(Actor::System)
        .create_customer(NewCustomer::person("Ada"))
        .expect("create");
    let other = Crm::new(SqliteStore::open(":memory:").expect("open"));
    assert_eq!(
        other
            .as_actor(Actor::System)
            .count_customers(&Default::default())
            .expect("count"),
        0
    );
    assert!(
        !std::path::Path::new(":memory:").exists(),
        "no file named :memory: is created"
    );
}

#[test]
fn a_plain_text_file_is_refused_and_left_untouched() {
    let dir = temp_dir("text");
    let path = dir.path().join("notes.txt");
    let content = b"Shopping list:\n- milk\n- a database that is not this one\n".repeat(100);
    std::fs::write(&path, &content).expect("write");
    let err = SqliteStore::open(&path).expect_err("a text file must be refused");
    assert!(matches!(err, OpenError::NotADatabase { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("is not an SQLite database") && msg.contains("notes.txt"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        content,
        "the file was modified"
    );
    let extra: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(extra.len(), 1, "no side files left behind: {extra:?}");
    drop(dir);
}

#[test]
fn another_applications_sqlite_file_is_refused_and_left_untouched() {
    for wal in [false, true] {
        let dir = temp_dir(if wal { "foreign-wal" } else { "foreign" });
        let path = dir.path().join("other.sqlite");
        {
            let raw = rusqlite::Connection::open(&path).expect("raw");
            if wal {
                raw.pragma_update(None, "journal_mode", "WAL").expect("wal");
            }
            raw.execute_batch("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO photos (name) VALUES ('cat.jpg');")
                .expect("schema");
        }
        let before = std::fs::read(&path).expect("read");
        let err = SqliteStore::open(&path).expect_err("a foreign database must be refused");
        assert!(
            matches!(
                err,
                OpenError::NotACrmDatabase {
                    application_id: 0,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("not a crm database"), "{err}");
        assert_eq!(
            std::fs::read(&path).expect("read"),
            before,
            "the file was modified"
        );
        drop(dir);
    }
}

#[test]
fn a_database_with_another_application_id_is_refused() {
    let dir = temp_dir("appid");
    let path = dir.path().join("other.db");
    {
        let raw = rusqlite::Connection::open(&path).expect("raw");
        raw.pragma_update(None, "application_id", 0x1234_5678)
            .expect("pragma");
    }
    let before = std::fs::read(&path).expect("read");
    match SqliteStore::open(&path) {
        Err(OpenError::NotACrmDatabase { application_id, .. }) => {
            assert_eq!(application_id, 0x1234_5678)
        }
        other => panic!("expected NotACrmDatabase, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).expect("read"), before);
    drop(dir);
}

#[test]
fn an_unreachable_path_fails_with_context() {
    let err = SqliteStore::open("/nonexistent-dir-for-crm-tests/x/crm.db").expect_err("must fail");
    assert!(matches!(err, OpenError::Sqlite { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("/nonexistent-dir-for-crm-tests/x/crm.db"),
        "{err}"
    );
    // It converts into the engine's error types.
    let as_engine: crm_core::Error = err.into();
    assert!(
        as_engine
            .to_string()
            .starts_with("storage error: opening the SQLite store"),
        "{as_engine}"
    );
}
