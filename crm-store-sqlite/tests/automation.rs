//! Time rules fire once even when two handles on one file (as two
//! processes would) call `run_due` at the same moment.

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, Utc};
use crm_core::automation::{Action, NewRule, Trigger};
use crm_core::{Actor, Crm, ManualClock, NewActivity, NewCustomer, SequentialIds};
use crm_store_sqlite::SqliteStore;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default() // 2025-01-01
}

/// A fresh directory of this test's own (deleted when dropped): two tests
/// once shared one file here and deleted it under each other.
fn fresh_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn two_handles_calling_run_due_together_fire_once() {
    let dir = fresh_dir();
    let path = dir.path().join("two-handles.db");
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

/// The rule cache: handle A has cached the rules (none) when handle B, as
/// another process would, saves a rule; A's next write fires it, and A's
/// next write after B deactivates it does not.
#[test]
fn a_rule_saved_by_another_handle_fires_on_the_next_write() {
    use crm_core::{CustomerPatch, Lifecycle, NewTeam, NewUser};
    let dir = fresh_dir();
    let path = dir.path().join("cache.db");
    let a = Crm::new(SqliteStore::open(&path).unwrap())
        .with_clock(Arc::new(ManualClock::new(t0())))
        .with_ids(SequentialIds::new(1));
    let b = Crm::new(SqliteStore::open(&path).unwrap())
        .with_clock(Arc::new(ManualClock::new(t0())))
        .with_ids(SequentialIds::new(2));
    let (sa, sb) = (a.as_actor(Actor::System), b.as_actor(Actor::System));
    let c = sa.create_customer(NewCustomer::person("Ada")).unwrap();
    let c = sa
        .update_customer(c.id, c.version, CustomerPatch::default().name("Ada L"))
        .unwrap();
    assert!(sa.outbox(false).unwrap().is_empty());
    let rule = sb
        .create_rule(
            NewRule::new(
                "Lifecycle watch",
                Trigger::field_changed(crm_core::EntityKind::Customer, "lifecycle"),
            )
            .action(Action::notify("lifecycle changed")),
        )
        .unwrap();
    let c = sa
        .update_customer(
            c.id,
            c.version,
            CustomerPatch::default().lifecycle(Lifecycle::Prospect),
        )
        .unwrap();
    assert_eq!(sa.outbox(false).unwrap().len(), 1, "A saw B's new rule");
    sb.update_rule(
        rule.id,
        rule.version,
        NewRule::new(
            "Lifecycle watch",
            Trigger::field_changed(crm_core::EntityKind::Customer, "lifecycle"),
        )
        .action(Action::notify("lifecycle changed"))
        .active(false),
    )
    .unwrap();
    sa.update_customer(
        c.id,
        c.version,
        CustomerPatch::default().lifecycle(Lifecycle::Lead),
    )
    .unwrap();
    assert_eq!(sa.outbox(false).unwrap().len(), 1, "A saw the deactivation");

    // The round-robin cursor survives closing and reopening the file.
    let team = sa.create_team(NewTeam::new("T")).unwrap();
    let users: Vec<_> = ["u1", "u2"]
        .iter()
        .map(|n| {
            sa.create_user(NewUser::new(*n, format!("{n}@example.com")).team(team.id))
                .unwrap()
                .id
        })
        .collect();
    sa.create_rule(
        NewRule::new(
            "Assign",
            Trigger::RecordCreated {
                entity: crm_core::EntityKind::Customer,
            },
        )
        .action(Action::ChangeOwner {
            entity: crm_core::EntityKind::Customer,
            to: crm_core::automation::Assignee::RoundRobin(team.id),
        }),
    )
    .unwrap();
    let first = sa.create_customer(NewCustomer::person("One")).unwrap();
    drop((a, b));
    let again = Crm::new(SqliteStore::open(&path).unwrap()).with_ids(SequentialIds::new(3));
    let s = again.as_actor(Actor::System);
    let second = s.create_customer(NewCustomer::person("Two")).unwrap();
    assert_eq!(s.customer(first.id).unwrap().owner, Some(users[0]));
    assert_eq!(s.customer(second.id).unwrap().owner, Some(users[1]));
}
