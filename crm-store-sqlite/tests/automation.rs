//! Time rules fire once even when two handles on one file (as two
//! processes would) call `run_due` at the same moment.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::{Actor, Crm, ManualClock, NewActivity, NewCustomer, SequentialIds};
use crm_store_sqlite::SqliteStore;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default() // 2025-01-01
}

fn file() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("automation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two-handles.db");
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn two_handles_calling_run_due_together_fire_once() {
    let path = file();
    {
        let crm = Crm::new(SqliteStore::open(&path).unwrap())
            .with_clock(Arc::new(ManualClock::new(t0())))
            .with_ids(SequentialIds::new(1));
        let s = crm.as_actor(Actor::System);
        let c = s.create_customer(NewCustomer::person("Ada")).unwrap();
        for i in 0..3 {
            s.log_activity(
                NewActivity::task(format!("Task {i}"), t0() + Duration::hours(1)).customer(c.id),
            )
            .unwrap();
        }
        s.create_rule(
            NewRule::new("Overdue", Trigger::TaskOverdue).action(Action::notify("Overdue")),
        )
        .unwrap();
    }
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2u16)
        .map(|n| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let crm = Crm::new(SqliteStore::open(&path).unwrap())
                    .with_ids(SequentialIds::new(100 + n));
                barrier.wait();
                crm.as_actor(Actor::System)
                    .run_due(t0() + Duration::days(1))
                    .unwrap()
                    .fired
                    .len()
            })
        })
        .collect();
    let fired: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(fired.iter().sum::<usize>(), 3, "each task once: {fired:?}");
    let crm = Crm::new(SqliteStore::open(&path).unwrap());
    assert_eq!(crm.as_actor(Actor::System).outbox(false).unwrap().len(), 3);
}
