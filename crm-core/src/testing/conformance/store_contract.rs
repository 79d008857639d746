//! The store traits' own contract: records round-trip, ids are unique,
//! updates compare and set, transactions and savepoints roll back exactly,
//! events are numbered without gaps.

use super::*;

/// Arbitrary valid records are read back equal to what was written.
pub fn records_round_trip_exactly<S: Store>(store: S) {
    let mut runner = runner(24);
    runner
        .run(
            &(
                strategies::record_set(),
                proptest::collection::vec(strategies::event(), 0..4),
            ),
            |((c, p, deals, acts), events)| {
                let mut tx = store.write().expect("write tx");
                // Ids are random, so records from earlier cases never collide.
                tx.insert_customer(&c).expect("insert customer");
                tx.insert_pipeline(&p).expect("insert pipeline");
                for d in &deals {
                    tx.insert_deal(d).expect("insert deal");
                }
                for a in &acts {
                    tx.insert_activity(a).expect("insert activity");
                }
                let mut stored_events = Vec::new();
                for e in events {
                    let new = NewEvent {
                        id: e.id,
                        at: e.at,
                        actor: e.actor,
                        entity: e.entity,
                        version: e.version,
                        kind: e.kind,
                        changes: e.changes,
                    };
                    stored_events.push(tx.append_event(new.clone()).expect("append event"));
                }
                tx.commit().expect("commit");
                let tx = store.read().expect("read tx");
                prop_assert_eq!(tx.customer(c.id).expect("get"), Some(c.clone()), "customer");
                prop_assert_eq!(tx.pipeline(p.id).expect("get"), Some(p.clone()), "pipeline");
                for d in &deals {
                    prop_assert_eq!(tx.deal(d.id).expect("get"), Some(d.clone()), "deal");
                }
                for a in &acts {
                    prop_assert_eq!(tx.activity(a.id).expect("get"), Some(a.clone()), "activity");
                }
                for e in &stored_events {
                    let filter = EventFilter {
                        entity: Some(e.entity),
                        ..Default::default()
                    };
                    let found = collect(|q| tx.events(q), EventQuery::new().filter(filter));
                    prop_assert!(found.contains(e), "event {} not read back equal", e.seq);
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("records do not round-trip: {e}"));
}

pub(crate) fn sample_customer(id: u128, name: &str, at: DateTime<Utc>) -> Customer {
    Customer {
        id: CustomerId::from_uuid(uuid::Uuid::from_u128(id)),
        version: 1,
        kind: PartyKind::Person,
        name: name.to_owned(),
        organisation: None,
        roles: [Role::Customer].into_iter().collect(),
        lifecycle: Lifecycle::Lead,
        emails: vec![],
        phones: vec![],
        owner: None,
        tags: Default::default(),
        created_at: at,
        updated_at: at,
        merged_into: None,
        custom: Default::default(),
    }
}

/// Inserting a record whose id is taken fails with `AlreadyExists`.
pub fn insert_with_taken_id_fails<S: Store>(store: S) {
    let c = sample_customer(1, "Ada", t0());
    let mut tx = store.write().expect("write tx");
    tx.insert_customer(&c).expect("first insert");
    match tx.insert_customer(&c) {
        Err(StoreError::AlreadyExists {
            entity: EntityKind::Customer,
            ..
        }) => {}
        other => {
            panic!("second insert with the same id must fail with AlreadyExists, got {other:?}")
        }
    }
}

/// `update_*` stores only over the exact previous version.
pub fn updates_are_compare_and_set<S: Store>(store: S) {
    let c = sample_customer(1, "Ada", t0());
    let mut tx = store.write().expect("write tx");
    tx.insert_customer(&c).expect("insert");
    let mut v2 = c.clone();
    v2.version = 2;
    v2.name = "Ada L.".into();
    tx.update_customer(&v2).expect("update 1 -> 2");
    let mut stale = c.clone();
    stale.version = 2;
    stale.name = "lost update".into();
    match tx.update_customer(&stale) {
        Err(StoreError::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => panic!(
            "update over a stale version must conflict (expected 1, actual 2), got {other:?}"
        ),
    }
    let mut skip = v2.clone();
    skip.version = 4;
    assert!(
        matches!(
            tx.update_customer(&skip),
            Err(StoreError::VersionConflict { .. })
        ),
        "skipping a version must conflict"
    );
    let ghost = sample_customer(99, "Nobody", t0());
    let mut ghost2 = ghost.clone();
    ghost2.version = 2;
    assert!(
        matches!(tx.update_customer(&ghost2), Err(StoreError::Missing { .. })),
        "updating a missing record must fail with Missing"
    );
    assert_eq!(
        tx.customer(c.id).expect("get"),
        Some(v2),
        "the conflicting update must not be stored"
    );
}

/// A write transaction dropped without commit leaves no trace.
pub fn dropped_write_rolls_back_everything<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let kept = s
        .create_customer(NewCustomer::person("Kept"))
        .expect("create");
    let seq_before = crm
        .store()
        .read()
        .expect("read")
        .last_event_seq()
        .expect("seq");
    {
        let mut tx = crm.store().write().expect("write tx");
        tx.insert_customer(&sample_customer(42, "Ghost", t0()))
            .expect("insert");
        let mut changed = kept.clone();
        changed.version = 2;
        changed.name = "Changed".into();
        tx.update_customer(&changed).expect("update");
        tx.append_event(NewEvent {
            id: EventId::from_uuid(uuid::Uuid::from_u128(5)),
            at: t0(),
            actor: Actor::System,
            entity: EntityRef {
                kind: EntityKind::Customer,
                id: kept.id.as_uuid(),
            },
            version: 2,
            kind: EventKind::Updated,
            changes: vec![],
        })
        .expect("append");
        // dropped here without commit
    }
    let tx = crm.store().read().expect("read");
    assert_eq!(
        tx.customer(CustomerId::from_uuid(uuid::Uuid::from_u128(42)))
            .expect("get"),
        None,
        "rolled-back insert is visible"
    );
    assert_eq!(
        tx.customer(kept.id).expect("get"),
        Some(kept),
        "rolled-back update is visible"
    );
    assert_eq!(
        tx.last_event_seq().expect("seq"),
        seq_before,
        "rolled-back event is visible"
    );
}

/// Reads inside a write transaction see its writes.
pub fn write_sees_its_own_writes<S: Store>(store: S) {
    let c = sample_customer(1, "Ada", t0());
    let mut tx = store.write().expect("write tx");
    tx.insert_customer(&c).expect("insert");
    assert_eq!(tx.customer(c.id).expect("get"), Some(c.clone()));
    assert_eq!(
        tx.count_customers(&CustomerFilter::default())
            .expect("count"),
        1
    );
    let page = tx.customers(&CustomerQuery::new()).expect("list");
    assert_eq!(page.items, vec![c]);
}

/// Events are numbered 1, 2, 3, … and a rollback leaves no gap.
pub fn events_are_numbered_without_gaps<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_customer(NewCustomer::person("A")).expect("create");
    s.create_customer(NewCustomer::person("B")).expect("create");
    let _ = s.batch(|b| {
        b.create_customer(NewCustomer::person("C"))?;
        b.create_customer(NewCustomer::person(" "))
    });
    s.create_customer(NewCustomer::person("D")).expect("create");
    let seqs: Vec<u64> = all_events(crm.store()).iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        vec![1, 2, 3],
        "event numbers after a rolled-back batch"
    );
}

/// Rolling back to a savepoint undoes the records and events written after
/// it, keeps those written before, leaves no gap in event numbers, and the
/// transaction stays usable; nested savepoints end with their parent;
/// releasing keeps the writes; ending a savepoint that is not open fails.
pub fn savepoints_undo_exactly_what_follows_them<S: Store>(store: S) {
    let event = |n: u128, customer: CustomerId| NewEvent {
        id: EventId::from_uuid(uuid::Uuid::from_u128(1000 + n)),
        at: t0(),
        actor: Actor::System,
        entity: EntityRef {
            kind: EntityKind::Customer,
            id: customer.as_uuid(),
        },
        version: 1,
        kind: EventKind::Created,
        changes: vec![],
    };
    let a = sample_customer(1, "Before", t0());
    let b = sample_customer(2, "Undone", t0());
    let c = sample_customer(3, "Nested", t0());
    let d = sample_customer(4, "After", t0());
    let e = sample_customer(5, "Released", t0());
    {
        let mut tx = store.write().expect("write tx");
        tx.insert_customer(&a).expect("insert a");
        tx.append_event(event(1, a.id)).expect("event a");

        let outer = tx.savepoint().expect("savepoint");
        assert_eq!(outer.depth(), 1, "first savepoint depth");
        tx.insert_customer(&b).expect("insert b");
        let mut a2 = a.clone();
        a2.version = 2;
        a2.name = "Changed after the savepoint".into();
        tx.update_customer(&a2).expect("update a");
        tx.append_event(event(2, b.id)).expect("event b");
        let inner = tx.savepoint().expect("nested savepoint");
        assert_eq!(inner.depth(), 2, "nested savepoint depth");
        tx.insert_customer(&c).expect("insert c");
        tx.rollback_to_savepoint(outer).expect("rollback to outer");

        assert_eq!(
            tx.customer(b.id).expect("get b"),
            None,
            "b survived the rollback"
        );
        assert_eq!(
            tx.customer(c.id).expect("get c"),
            None,
            "c survived the rollback"
        );
        assert_eq!(
            tx.customer(a.id).expect("get a"),
            Some(a.clone()),
            "the update after the savepoint survived the rollback"
        );
        assert_eq!(
            tx.last_event_seq().expect("seq"),
            1,
            "event after the savepoint kept"
        );
        assert!(
            tx.release_savepoint(inner).is_err(),
            "the nested savepoint should have ended with its parent"
        );

        // The transaction goes on: the next event takes the undone number.
        tx.insert_customer(&d).expect("insert d");
        let ev = tx.append_event(event(3, d.id)).expect("event d");
        assert_eq!(ev.seq, 2, "event number after a rollback to a savepoint");

        let kept = tx.savepoint().expect("savepoint");
        assert_eq!(kept.depth(), 1, "depth after the outer savepoint ended");
        tx.insert_customer(&e).expect("insert e");
        tx.release_savepoint(kept).expect("release");
        assert!(
            tx.rollback_to_savepoint(kept).is_err(),
            "a released savepoint can still be rolled back to"
        );
        tx.commit().expect("commit");
    }
    let tx = store.read().expect("read");
    let names: Vec<String> = collect(|q| tx.customers(q), CustomerQuery::new())
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        vec!["Before", "After", "Released"],
        "committed customers"
    );
    assert_eq!(tx.last_event_seq().expect("seq"), 2, "committed events");
}

/// [`Batch::attempt`] undoes a failed step (records and events) and keeps
/// the rest of the batch, including later steps.
pub fn attempt_skips_a_failed_step_only<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let outcome = s
        .batch(|b| {
            let first = b.create_customer(NewCustomer::person("First"))?;
            let failed = b.attempt(|b| {
                let c = b.create_customer(NewCustomer::person("Half"))?;
                let d = b.create_deal(NewDeal::new(c.id, p.id, "Half deal"))?;
                // "proposal" needs an amount: the whole step is undone.
                b.move_deal(d.id, d.version, "proposal")
            });
            let kept = b.attempt(|b| {
                let c = b.create_customer(NewCustomer::person("Second"))?;
                b.create_deal(NewDeal::new(c.id, p.id, "Kept deal"))
            })?;
            Ok((first, failed.is_err(), kept))
        })
        .expect("batch");
    assert!(outcome.1, "the failing step should have failed");
    let names: Vec<String> = s
        .customers(&CustomerQuery::new())
        .expect("list")
        .items
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["First", "Second"], "customers after the batch");
    let deals: Vec<String> = s
        .deals(&DealQuery::new())
        .expect("list")
        .items
        .into_iter()
        .map(|d| d.title)
        .collect();
    assert_eq!(deals, vec!["Kept deal"], "deals after the batch");
    let events = all_events(crm.store());
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    // pipeline, First, Second, Kept deal
    assert_eq!(seqs, vec![1, 2, 3, 4], "event numbers");
    assert_eq!(
        events[3].entity.id,
        outcome.2.id.as_uuid(),
        "last event is the kept deal's"
    );
}
