//! External keys, upserts, caller ID and idempotency (issue 17 §1) on
//! SQLite: the shared contracts in memory and on files, and racing
//! upserts through two separate connections to one file.

use crm_core::external_key::{ExternalKey, UpsertOutcome};
use crm_core::testing::conformance as c;
use crm_core::{Actor, Crm, CustomerUpsert, NewCustomer};
use crm_store_sqlite::SqliteStore;

fn mem() -> SqliteStore {
    SqliteStore::open_in_memory().unwrap()
}

#[test]
fn customer_upserts_follow_their_mode() {
    c::customer_upserts_follow_their_mode(mem);
}

#[test]
fn deal_and_activity_upserts_reuse_their_rules() {
    c::deal_and_activity_upserts_reuse_their_rules(mem);
}

#[test]
fn taken_keys_are_refused_without_leaking() {
    c::taken_keys_are_refused_without_leaking(mem);
}

#[test]
fn caller_id_finds_customers() {
    c::caller_id_finds_customers(mem);
}

#[test]
fn merges_move_external_keys() {
    c::merges_move_external_keys(mem);
}

#[test]
fn idempotent_creates_return_the_first_record() {
    c::idempotent_creates_return_the_first_record(mem);
}

#[test]
fn backups_carry_keys() {
    c::backups_carry_keys(mem(), mem(), mem());
}

#[test]
fn upsert_sequences_match_a_reference_model() {
    c::upsert_sequences_match_a_reference_model(mem);
}

#[test]
fn concurrent_upserts_of_one_key_make_one_record() {
    c::concurrent_upserts_of_one_key_make_one_record(mem);
}

/// Two handles on one file (two connections, as two processes would have)
/// upsert one new key at once, many times: one record, one creation.
#[test]
fn racing_connections_make_one_record_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    drop(SqliteStore::open(&path).unwrap()); // migrate once
    let barrier = std::sync::Barrier::new(2);
    let created: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["Ada", "Grace"]
            .into_iter()
            .map(|name| {
                let (path, barrier) = (&path, &barrier);
                scope.spawn(move || {
                    let crm = Crm::new(SqliteStore::open(path).unwrap());
                    let s = crm.as_actor(Actor::System);
                    let mut created = 0;
                    for round in 0..20 {
                        barrier.wait();
                        let key = ExternalKey::new("shop", &format!("k{round}")).unwrap();
                        let up = CustomerUpsert::new(key, NewCustomer::person(name));
                        if s.upsert_customer(up).expect("upsert").outcome == UpsertOutcome::Created
                        {
                            created += 1;
                        }
                    }
                    created
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        created.iter().sum::<usize>(),
        20,
        "one creation per key: {created:?}"
    );
    let crm = Crm::new(SqliteStore::open(&path).unwrap());
    let s = crm.as_actor(Actor::System);
    assert_eq!(s.count_customers(&Default::default()).unwrap(), 20);
    assert!(s.verify().unwrap().is_empty());
}

/// The caller-ID and key lookups read indexes, not whole tables.
#[test]
fn lookups_use_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let plan = |sql: &str| -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = st.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
    };
    for (sql, index) in [
        (
            "SELECT DISTINCT customer_id FROM customer_emails WHERE substr(email, instr(email, '@') + 1) = 'a.example'",
            "customer_emails_by_domain",
        ),
        (
            "SELECT DISTINCT customer_id FROM customer_phones WHERE phone = '+4930'",
            "customer_phones_by_phone",
        ),
        (
            "SELECT system, key FROM external_keys WHERE entity = 'deal' AND record = x'00'",
            "external_keys_by_record",
        ),
        (
            "SELECT record FROM external_keys WHERE entity = 'deal' AND system = 's' AND key = 'k'",
            "PRIMARY KEY",
        ),
    ] {
        let p = plan(sql);
        assert!(p.contains(index), "{sql}: {p}");
        assert!(!p.starts_with("SCAN"), "{sql}: {p}");
    }
}

/// The child half of `racing_processes_make_one_record_per_key`: a no-op
/// unless the parent started this binary with `CRM_RACE_DB` set.
#[test]
fn race_child() {
    let (Ok(path), Ok(name)) = (std::env::var("CRM_RACE_DB"), std::env::var("CRM_RACE_NAME"))
    else {
        return;
    };
    let go = std::path::PathBuf::from(format!("{path}.go"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !go.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the parent never said go"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let crm = Crm::new(SqliteStore::open(&path).unwrap());
    let s = crm.as_actor(Actor::System);
    for round in 0..30 {
        let key = ExternalKey::new("shop", &format!("k{round}")).unwrap();
        s.upsert_customer(CustomerUpsert::new(key, NewCustomer::person(name.as_str())))
            .expect("upsert");
    }
}

/// Two processes upsert the same thirty new keys at the same moment on one
/// file: SQLite's unique index and the write lock leave one record per key.
#[test]
fn racing_processes_make_one_record_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    drop(SqliteStore::open(&path).unwrap());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = ["Ada", "Grace"]
        .into_iter()
        .map(|name| {
            std::process::Command::new(&exe)
                .args(["--exact", "race_child", "--nocapture", "--test-threads=1"])
                .env("CRM_RACE_DB", &path)
                .env("CRM_RACE_NAME", name)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::fs::write(format!("{}.go", path.display()), b"go").unwrap();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child process failed");
    }
    let crm = Crm::new(SqliteStore::open(&path).unwrap());
    let s = crm.as_actor(Actor::System);
    assert_eq!(s.count_customers(&Default::default()).unwrap(), 30);
    for round in 0..30 {
        let key = ExternalKey::new("shop", &format!("k{round}")).unwrap();
        let c = s.customer_by_key(&key).unwrap();
        assert!(["Ada", "Grace"].contains(&c.name.as_str()));
    }
    assert!(s.verify().unwrap().is_empty());
}
