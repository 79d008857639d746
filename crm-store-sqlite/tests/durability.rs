//! Durability and concurrency on a real file: data survives reopening, a
//! process killed in the middle of a write transaction loses exactly that
//! transaction (the changes and the effects of the automation rules they
//! fired alike), and writers on separate connections or in separate
//! processes never lose an update.
//!
//! The multi-process tests re-execute this test binary: the `child` test
//! does nothing unless `CRM_DURABILITY_CHILD` tells it which role to play.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crm_core::*;
use crm_store_sqlite::SqliteStore;

const CHILD_ENV: &str = "CRM_DURABILITY_CHILD";

/// A fresh directory of one test's own (unique, deleted when dropped).
fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("crm-durability-{name}-"))
        .tempdir()
        .expect("temp dir")
}

fn wait_for(path: &Path, what: &str, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("child exited ({status}) before {what}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn_child(role: &str) -> Child {
    Command::new(std::env::current_exe().expect("current exe"))
        .args(["child", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, role)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn child")
}

/// Not a test of its own: the entry point of the child processes.
#[test]
fn child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = role.split('|').collect();
    match parts.as_slice() {
        ["kill", db, ready, committed] => {
            let committed: usize = committed.parse().expect("count");
            let crm = Crm::new(SqliteStore::open(db).expect("open"));
            let s = crm.as_actor(Actor::System);
            for i in 0..committed {
                s.create_customer(NewCustomer::person(format!("Committed {i}")))
                    .expect("create");
            }
            // A rule whose effects run inside each creating transaction.
            s.create_rule(
                automation::NewRule::new(
                    "Tag new customers",
                    automation::Trigger::RecordCreated {
                        entity: EntityKind::Customer,
                    },
                )
                .action(automation::Action::AddTag {
                    tag: "ruled".into(),
                })
                .action(automation::Action::notify("New customer")),
            )
            .expect("rule");
            let _ = s.batch(|b| {
                for i in 0..5_000 {
                    b.create_customer(NewCustomer::person(format!("Doomed {i}")).tag("doomed"))?;
                }
                std::fs::write(ready, b"ready").expect("signal");
                // Wait to be killed, in the middle of the transaction.
                std::thread::sleep(Duration::from_secs(600));
                Ok(())
            });
            panic!("the child was supposed to be killed");
        }
        ["update", db, deal, version, title, ready, go, result] => {
            let crm = Crm::new(SqliteStore::open(db).expect("open"));
            let s = crm.as_actor(Actor::System);
            let deal: DealId = deal.parse().expect("deal id");
            let version: u64 = version.parse().expect("version");
            std::fs::write(ready, b"ready").expect("signal");
            while !Path::new(go).exists() {
                std::thread::sleep(Duration::from_millis(1));
            }
            let outcome = match s.update_deal(deal, version, DealPatch::default().title(*title)) {
                Ok(_) => "ok".to_owned(),
                Err(Error::Conflict { .. }) => "conflict".to_owned(),
                Err(e) => format!("error: {e}"),
            };
            std::fs::write(result, outcome).expect("result");
        }
        other => panic!("unknown child role {other:?}"),
    }
}

#[test]
fn data_survives_close_and_reopen() {
    let dir = temp_dir("reopen");
    let db = dir.path().join("crm.db");
    let (c, d, events) = {
        let crm = Crm::new(SqliteStore::open(&db).expect("open"));
        let s = crm.as_actor(Actor::System);
        let p = s
            .create_pipeline(PipelineDef::sales_template("Sales"))
            .expect("pipeline");
        let c = s
            .create_customer(
                NewCustomer::organisation("ACME")
                    .email("a@acme.example")
                    .tag("vip"),
            )
            .expect("customer");
        let d = s
            .create_deal(
                NewDeal::new(c.id, p.id, "Big")
                    .amount(Money::parse("10.50", "EUR").expect("money")),
            )
            .expect("deal");
        let d = s.move_deal(d.id, d.version, "qualified").expect("move");
        let events = s.events(&EventQuery::new()).expect("events").items;
        (c, d, events)
    };
    let crm = Crm::new(SqliteStore::open(&db).expect("reopen"));
    let s = crm.as_actor(Actor::System);
    assert_eq!(s.customer(c.id).expect("customer"), c);
    let back = s.deal(d.id).expect("deal");
    assert_eq!(back, d);
    assert_eq!(back.amount.expect("amount").amount.to_string(), "10.50");
    assert_eq!(s.events(&EventQuery::new()).expect("events").items, events);
    drop(crm);
    drop(dir);
}

#[test]
fn killed_writer_loses_only_its_open_transaction() {
    let dir = temp_dir("kill");
    let db = dir.path().join("crm.db");
    let ready = dir.path().join("ready");
    const COMMITTED: usize = 25;
    let mut child = spawn_child(&format!(
        "kill|{}|{}|{COMMITTED}",
        db.display(),
        ready.display()
    ));
    wait_for(&ready, "the child's open transaction", &mut child);
    child.kill().expect("SIGKILL"); // SIGKILL on Unix
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the child must have been killed");

    // The file opens cleanly (recovering the WAL) with every committed
    // change and nothing of the interrupted transaction.
    {
        let check = rusqlite::Connection::open(&db).expect("raw open");
        let ok: String = check
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity check");
        assert_eq!(ok, "ok");
    }
    let crm = Crm::new(SqliteStore::open(&db).expect("reopen after kill"));
    let s = crm.as_actor(Actor::System);
    assert_eq!(
        s.count_customers(&CustomerFilter::default())
            .expect("count"),
        COMMITTED as u64
    );
    let doomed = CustomerFilter {
        tag: Tag::parse("doomed").ok(),
        ..Default::default()
    };
    assert_eq!(s.count_customers(&doomed).expect("count"), 0);
    // Nothing of the rule's effects on the doomed customers either.
    let ruled = CustomerFilter {
        tag: Tag::parse("ruled").ok(),
        ..Default::default()
    };
    assert_eq!(s.count_customers(&ruled).expect("count"), 0);
    assert!(s.outbox(true).expect("outbox").is_empty());
    // The committed customers' events and the rule's creation, no more.
    let events = s
        .events(&EventQuery::new().limit(1000))
        .expect("events")
        .items;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=COMMITTED as u64 + 1).collect::<Vec<_>>());
    // And it keeps working: the next change fires the rule, and the event
    // log continues without a gap.
    let after = s
        .create_customer(NewCustomer::person("After"))
        .expect("create after kill");
    assert_eq!(
        s.customer(after.id).expect("after").tags,
        std::collections::BTreeSet::from([Tag::parse("ruled").expect("tag")])
    );
    assert_eq!(s.outbox(false).expect("outbox").len(), 1);
    let events = s
        .events(&EventQuery::new().limit(1000))
        .expect("events")
        .items;
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert!(
        seqs.len() > COMMITTED + 2,
        "the creation and the rule's tag"
    );
    drop(crm);
    drop(dir);
}

/// A pipeline, a customer and a fresh deal at version 1.
fn deal_fixture(db: &Path, round: usize) -> Deal {
    let crm = Crm::new(SqliteStore::open(db).expect("open"));
    let s = crm.as_actor(Actor::System);
    let p = match s
        .pipelines(&PipelineQuery::new())
        .expect("pipelines")
        .items
        .pop()
    {
        Some(p) => p,
        None => s
            .create_pipeline(PipelineDef::sales_template("Sales"))
            .expect("pipeline"),
    };
    let c = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    s.create_deal(NewDeal::new(c.id, p.id, format!("Deal {round}")))
        .expect("deal")
}

#[test]
fn two_connections_never_lose_an_update() {
    let dir = temp_dir("threads");
    let db = dir.path().join("crm.db");
    let a = Arc::new(Crm::new(SqliteStore::open(&db).expect("open a")));
    let b = Arc::new(Crm::new(SqliteStore::open(&db).expect("open b")));
    for round in 0..20 {
        let d = deal_fixture(&db, round);
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = [(a.clone(), "from a"), (b.clone(), "from b")]
            .into_iter()
            .map(|(crm, title)| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    crm.as_actor(Actor::System).update_deal(
                        d.id,
                        d.version,
                        DealPatch::default().title(title),
                    )
                })
            })
            .collect();
        let results: Vec<Result<Deal>> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let ok: Vec<&Deal> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let conflicts = results
            .iter()
            .filter(|r| matches!(r, Err(Error::Conflict { .. })))
            .count();
        assert_eq!((ok.len(), conflicts), (1, 1), "round {round}: {results:?}");
        let stored = a.as_actor(Actor::System).deal(d.id).expect("deal");
        assert_eq!((stored.version, &stored.title), (2, &ok[0].title));
    }
    drop((a, b));
    drop(dir);
}

#[test]
fn two_processes_never_lose_an_update() {
    let dir = temp_dir("processes");
    let db = dir.path().join("crm.db");
    for round in 0..3 {
        let d = deal_fixture(&db, round);
        let go = dir.path().join(format!("go-{round}"));
        let mut children: Vec<(Child, PathBuf, PathBuf, &str)> = ["first", "second"]
            .into_iter()
            .map(|title| {
                let ready = dir.path().join(format!("ready-{round}-{title}"));
                let result = dir.path().join(format!("result-{round}-{title}"));
                let child = spawn_child(&format!(
                    "update|{}|{}|{}|{title}|{}|{}|{}",
                    db.display(),
                    d.id,
                    d.version,
                    ready.display(),
                    go.display(),
                    result.display()
                ));
                (child, ready, result, title)
            })
            .collect();
        for (child, ready, _, _) in &mut children {
            wait_for(ready, "the child to open the store", child);
        }
        std::fs::write(&go, b"go").expect("go");
        let mut outcomes = Vec::new();
        for (mut child, _, result, title) in children {
            assert!(
                child.wait().expect("wait").success(),
                "child {title} failed"
            );
            outcomes.push((std::fs::read_to_string(&result).expect("result"), title));
        }
        let winners: Vec<&str> = outcomes
            .iter()
            .filter(|(o, _)| o == "ok")
            .map(|(_, t)| *t)
            .collect();
        let conflicts = outcomes.iter().filter(|(o, _)| o == "conflict").count();
        assert_eq!(
            (winners.len(), conflicts),
            (1, 1),
            "round {round}: {outcomes:?}"
        );
        let crm = Crm::new(SqliteStore::open(&db).expect("open"));
        let stored = crm.as_actor(Actor::System).deal(d.id).expect("deal");
        assert_eq!((stored.version, stored.title.as_str()), (2, winners[0]));
    }
    drop(dir);
}
