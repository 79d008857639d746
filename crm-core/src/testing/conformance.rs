//! The storage conformance suite.
//!
//! Every function here takes a fresh, empty store and checks one part of
//! the contract in [`crate::store`], either directly on the traits or
//! through the [`Crm`] facade. A backend runs them all with one line in its
//! tests:
//!
//! ```ignore
//! crm_core::store_conformance_tests!(crm_store_memory::MemoryStore::new());
//! ```
//!
//! The macro expands to one `#[test]` per contract, evaluating the
//! expression anew for each. Failures panic with a message saying which
//! part of the contract broke.

use std::sync::{Arc, Barrier};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

mod automation;
mod automation_rules;
mod backup;
mod bounds;
mod custom_field;
mod data_access;
mod extremes;
mod feed;
mod import;
mod invariants;
mod merge;
mod predict;
mod verify;
pub use automation::*;
pub use automation_rules::*;
pub use backup::*;
pub use bounds::*;
pub use custom_field::*;
pub use data_access::*;
pub use extremes::*;
pub use feed::*;
pub use import::*;
pub use invariants::*;
pub use merge::*;
pub use predict::*;
pub use verify::*;
// ----- access: scope-aware segment push-down -----
mod access_segments;
pub use access_segments::*;
// ----- access: nothing leaks through any path (issue 15 §3) -----
mod access_leaks;
pub use access_leaks::*;

use crate::query::{Filter, Order, Query, paginate};
use crate::testing::strategies;
use crate::*;

/// Expands to one `#[test]` per storage contract, each run on the store
/// `$factory` evaluates to.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::__store_conformance_tests!($factory;
            records_round_trip_exactly,
            insert_with_taken_id_fails,
            updates_are_compare_and_set,
            dropped_write_rolls_back_everything,
            write_sees_its_own_writes,
            events_are_numbered_without_gaps,
            listings_match_reference_pagination,
            invalid_cursor_is_rejected,
            failed_operations_change_nothing,
            batch_is_all_or_nothing,
            savepoints_undo_exactly_what_follows_them,
            attempt_skips_a_failed_step_only,
            concurrent_updates_never_lose_one,
            pipeline_edit_remaps_deals,
            deal_state_machine_holds_under_random_operations,
            every_change_appends_exactly_one_event,
            worked_example_sales_flow,
            import_all_or_nothing_reports_every_problem_and_writes_nothing,
            import_skip_invalid_writes_the_valid_rows,
            import_deals_keeps_history_and_rows_are_atomic,
            import_activities_with_completed_tasks,
            import_dry_run_finds_duplicates,
            import_reports_misaligned_rows_and_missing_columns,
            import_reads_custom_fields,
            merge_moves_everything_and_records_one_event,
            owners_and_assignees_must_be_active_users,
            stage_guards_hold_while_the_deal_is_in_the_stage,
            closed_deals_are_frozen_except_through_reopen_or_correction,
            amounts_are_bounded_at_every_door,
            rule_durations_are_bounded_and_old_rules_never_panic,
            sizes_are_bounded_with_clear_errors,
            aggregate_overflow_names_the_currency_and_the_figure,
            rule_values_refuse_positional_arrays,
            rules_never_assign_to_a_deactivated_owner,
            merges_keep_the_record_invariants,
            pipelines_are_bounded,
            rules_are_bounded,
            custom_field_definitions_are_bounded,
            csv_imports_are_bounded,
            restore_bounds_lines_and_refuses_positional_records,
            extreme_times_never_panic,
            imports_with_extreme_dates_never_panic,
            merge_refusals_change_nothing,
            custom_fields_are_defined_checked_and_versioned,
            data_paths_respect_access,
            merge_never_names_records_outside_the_read_scope,
            merged_into_is_named_only_when_readable,
            activity_deal_mismatch_names_no_hidden_customer,
            merge_obeys_the_field_rules_of_an_update,
            custom_field_schema_needs_a_role,
            hidden_custom_fields_never_leak,
            read_only_custom_fields_refuse_every_write,
            rules_cannot_read_or_write_past_their_authors_field_rules,
            rule_failures_name_no_hidden_record,
            // ----- segments -----
            saved_segments_are_versioned_audited_records,
            saved_segment_listing_matches_reference,
            scans_visit_every_record_once,
            segment_evaluation_matches_reference,
            segment_time_boundaries_match_reference,
            // ----- users, teams and access control -----
            users_and_teams_round_trip_and_list,
            owner_scoped_listings_match_reference,
            administration_is_permissioned_and_audited,
            field_rules_hide_and_protect,
            reads_under_random_actors_match_brute_force,
            // ----- automation -----
            automation_proposal_creates_task_for_owner,
            automation_won_deal_updates_customer_and_outbox,
            automation_failure_undoes_the_triggering_change,
            automation_cycles_are_refused,
            automation_rule_depth_is_configurable,
            automation_rules_are_versioned_audited_records,
            automation_run_due_fires_once_per_episode,
            automation_split_run_due_fires_like_one_call,
            automation_rule_undone_by_attempt_does_not_fire,
            // ----- access: scope-aware segment push-down -----
            segments_under_random_actors_match_brute_force,
            // ----- predictive models -----
            predicted_scores_are_written_in_one_event,
            // ----- automation, round two -----
            automation_event_triggers_worked_example,
            automation_date_reached_fires_once_per_date,
            automation_actions_worked_example,
            automation_first_response_sla,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_tests {
    ($factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::testing::conformance::$name($factory);
            }
        )*
    };
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default() // 2025-01-01
}

fn engine<S: Store>(store: S) -> (Crm<S>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let crm = Crm::new(store)
        .with_clock(clock.clone())
        .with_ids(SequentialIds::new(7));
    (crm, clock)
}

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn all_events<S: Store>(store: &S) -> Vec<Event> {
    let tx = store.read().expect("read tx");
    collect(|q| tx.events(q), EventQuery::new().limit(500))
}

fn collect<T, F, O: Clone, G>(mut fetch: G, mut q: Query<F, O>) -> Vec<T>
where
    G: FnMut(&Query<F, O>) -> std::result::Result<Page<T>, StoreError>,
{
    let mut out = Vec::new();
    loop {
        let page = fetch(&q).expect("listing failed");
        assert!(
            page.items.len() <= q.page.limit as usize,
            "page longer than its limit"
        );
        out.extend(page.items);
        match page.next {
            Some(c) => q.page.after = Some(c),
            None => return out,
        }
    }
}

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

fn check_listing<T, F, O>(
    what: &str,
    all: &[T],
    fetch: impl Fn(&Query<F, O>) -> std::result::Result<Page<T>, StoreError>,
    filter: F,
    orders: &[O],
) where
    T: crate::query::Record + PartialEq + std::fmt::Debug,
    F: Filter<T> + Clone + std::fmt::Debug,
    O: Order<T> + Clone + std::fmt::Debug,
{
    for order in orders {
        for desc in [false, true] {
            for limit in [1u32, 3, 7, 1000] {
                let mut q = Query {
                    filter: filter.clone(),
                    order: order.clone(),
                    direction: SortDirection::Asc,
                    page: PageRequest { limit, after: None },
                };
                if desc {
                    q.direction = SortDirection::Desc;
                }
                let expected = collect(|q| paginate(all, q), q.clone());
                let got = collect(&fetch, q.clone());
                assert_eq!(
                    got, expected,
                    "{what}: listing differs from the reference for {filter:?}, {order:?}, desc={desc}, limit={limit}"
                );
                // The first page's cursor must equal the reference's too.
                let first = fetch(&q).expect("first page");
                let reference = paginate(all, &q).expect("reference page");
                assert_eq!(
                    first.next, reference.next,
                    "{what}: next cursor differs for {order:?}, desc={desc}, limit={limit}"
                );
            }
        }
    }
}

/// Every listing (filters, orders, directions, page sizes) returns exactly
/// what [`paginate`] returns over the same records, and counts agree.
pub fn listings_match_reference_pagination<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let users: Vec<UserId> = (1..=3)
        .map(|i| UserId::from_uuid(uuid::Uuid::from_u128(i)))
        .collect();
    crate::testing::seed_users(crm.store(), users.iter().copied());
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let p2 = s
        .create_pipeline(PipelineDef::sales_template("Partners"))
        .expect("pipeline");
    let names = [
        "Zoë", "ada", "Ada", "Émile", "bob", "Bob", "ada", "Carl", "dora", "Ümit", "eve", "Frank",
    ];
    for (i, name) in names.iter().enumerate() {
        // Several records share a timestamp, so ties are broken by id.
        if i % 3 == 0 {
            clock.advance(Duration::minutes(5));
        }
        let mut input = NewCustomer::person(*name)
            .owner(users[i % 3])
            .tag(if i % 2 == 0 { "vip" } else { "berlin" });
        if i % 4 == 0 {
            input = input
                .lifecycle(Lifecycle::Customer)
                .email(format!("c{i}@example.org"));
        }
        let c = s.create_customer(input).expect("customer");
        for j in 0..(i % 3) {
            let pipeline = if j == 0 { p.id } else { p2.id };
            let d = s
                .create_deal(
                    NewDeal::new(c.id, pipeline, format!("Deal {i}-{j}"))
                        .owner(users[(i + j) % 3])
                        .amount(Money::parse("100.50", "EUR").expect("money")),
                )
                .expect("deal");
            if i % 5 == 0 {
                s.win_deal(d.id, d.version).expect("win");
            } else if i % 5 == 1 {
                s.move_deal(d.id, d.version, "qualified").expect("move");
            }
            s.log_activity(
                NewActivity::task("Follow up", t0() + Duration::days(i as i64))
                    .deal(d.id)
                    .owner(users[j % 3]),
            )
            .expect("task");
        }
        s.log_activity(
            NewActivity::new(ActivityKind::Call, "Call")
                .customer(c.id)
                .direction(Direction::Outbound)
                .occurred_at(t0() - Duration::hours(i as i64 % 4)),
        )
        .expect("call");
        if i % 4 == 1 {
            s.update_customer(
                c.id,
                c.version,
                CustomerPatch::default().name(format!("{name} II")),
            )
            .expect("update");
        }
    }
    let tx = crm.store().read().expect("read");
    let customers = collect(|q| tx.customers(q), CustomerQuery::new().limit(1000));
    let deals = collect(|q| tx.deals(q), DealQuery::new().limit(1000));
    let activities = collect(|q| tx.activities(q), ActivityQuery::new().limit(1000));
    let events = collect(|q| tx.events(q), EventQuery::new().limit(1000));
    assert_eq!(customers.len(), names.len());
    assert!(
        deals.len() >= 10 && activities.len() >= 20 && events.len() > 50,
        "fixture too small"
    );

    let customer_orders = [
        CustomerOrder::CreatedAt,
        CustomerOrder::UpdatedAt,
        CustomerOrder::Name,
    ];
    let customer_filters = [
        CustomerFilter::default(),
        CustomerFilter {
            lifecycle: Some(Lifecycle::Customer),
            ..Default::default()
        },
        CustomerFilter {
            owner: Some(users[1]),
            tag: Tag::parse("vip").ok(),
            ..Default::default()
        },
        CustomerFilter {
            name_contains: Some("AD".into()),
            ..Default::default()
        },
        CustomerFilter {
            name_contains: Some("ü".into()),
            ..Default::default()
        },
        CustomerFilter {
            email: Email::parse("c4@example.org").ok(),
            ..Default::default()
        },
        CustomerFilter {
            kind: Some(PartyKind::Organisation),
            ..Default::default()
        },
        CustomerFilter {
            role: Some(Role::Customer),
            ..Default::default()
        },
    ];
    for f in customer_filters {
        let expected = customers.iter().filter(|c| f.matches(c)).count() as u64;
        assert_eq!(
            tx.count_customers(&f).expect("count"),
            expected,
            "count_customers({f:?})"
        );
        check_listing(
            "customers",
            &customers,
            |q| tx.customers(q),
            f,
            &customer_orders,
        );
    }
    let deal_orders = [DealOrder::CreatedAt, DealOrder::UpdatedAt, DealOrder::Title];
    let deal_filters = [
        DealFilter::default(),
        DealFilter {
            pipeline: Some(p.id),
            ..Default::default()
        },
        DealFilter {
            pipeline: Some(p.id),
            stage: StageKey::new("qualified").ok(),
            ..Default::default()
        },
        DealFilter {
            status: Some(DealStatus::Won),
            ..Default::default()
        },
        DealFilter {
            owner: Some(users[2]),
            status: Some(DealStatus::Open),
            ..Default::default()
        },
        DealFilter {
            customer: Some(customers[4].id),
            ..Default::default()
        },
    ];
    for f in deal_filters {
        let expected = deals.iter().filter(|d| f.matches(d)).count() as u64;
        assert_eq!(
            tx.count_deals(&f).expect("count"),
            expected,
            "count_deals({f:?})"
        );
        check_listing("deals", &deals, |q| tx.deals(q), f, &deal_orders);
    }
    let activity_orders = [ActivityOrder::OccurredAt, ActivityOrder::CreatedAt];
    let activity_filters = [
        ActivityFilter::default(),
        ActivityFilter {
            kind: Some(ActivityKind::Task),
            open_tasks_only: true,
            ..Default::default()
        },
        ActivityFilter {
            due_before: Some(t0() + Duration::days(5)),
            ..Default::default()
        },
        ActivityFilter {
            customer: Some(customers[2].id),
            ..Default::default()
        },
        ActivityFilter {
            deal: Some(deals[0].id),
            ..Default::default()
        },
        ActivityFilter {
            owner: Some(users[0]),
            ..Default::default()
        },
    ];
    for f in activity_filters {
        check_listing(
            "activities",
            &activities,
            |q| tx.activities(q),
            f,
            &activity_orders,
        );
    }
    let event_filters = [
        EventFilter::default(),
        EventFilter {
            entity_kind: Some(EntityKind::Deal),
            ..Default::default()
        },
        EventFilter {
            entity: Some(EntityRef {
                kind: EntityKind::Customer,
                id: customers[1].id.as_uuid(),
            }),
            ..Default::default()
        },
        EventFilter {
            from: Some(t0() + Duration::minutes(10)),
            to: Some(t0() + Duration::minutes(15)),
            ..Default::default()
        },
        EventFilter {
            actor: Some(Actor::System),
            ..Default::default()
        },
    ];
    for f in event_filters {
        check_listing("events", &events, |q| tx.events(q), f, &[EventOrder::Seq]);
    }
    let pipelines = collect(|q| tx.pipelines(q), PipelineQuery::new());
    assert_eq!(pipelines.len(), 2);
    check_listing(
        "pipelines",
        &pipelines,
        |q| tx.pipelines(q),
        Default::default(),
        &[
            crate::query::PipelineOrder::CreatedAt,
            crate::query::PipelineOrder::Name,
        ],
    );
}

/// A cursor from another order, or garbage, is refused.
pub fn invalid_cursor_is_rejected<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    for name in ["A", "B", "C"] {
        s.create_customer(NewCustomer::person(name))
            .expect("create");
    }
    let page = s
        .customers(&CustomerQuery::new().order(CustomerOrder::Name).limit(1))
        .expect("list");
    let by_name = page.next.expect("a next cursor");
    let wrong_order = CustomerQuery::new()
        .order(CustomerOrder::CreatedAt)
        .after(Some(by_name));
    assert!(
        matches!(
            s.customers(&wrong_order),
            Err(Error::Store(StoreError::InvalidCursor(_)))
        ),
        "cursor of another order accepted"
    );
    let garbage = CustomerQuery::new().after(Some(Cursor::from_string("nonsense")));
    assert!(
        matches!(
            s.customers(&garbage),
            Err(Error::Store(StoreError::InvalidCursor(_)))
        ),
        "garbage cursor accepted"
    );
    let zero = CustomerQuery::new().limit(0);
    assert!(
        matches!(s.customers(&zero), Err(Error::Invalid(_))),
        "page limit 0 accepted"
    );
}

/// Everything a store holds, as seen through the facade.
type Snapshot = (
    Vec<Customer>,
    Vec<Deal>,
    Vec<Activity>,
    Vec<Pipeline>,
    Vec<Event>,
);

fn snapshot<S: Store>(s: &Session<'_, S>) -> Snapshot {
    // Every page of each list: a property test that keeps one engine
    // across its cases can grow past any one page.
    fn all<T, F, O: Clone>(
        mut fetch: impl FnMut(&Query<F, O>) -> Result<Page<T>>,
        mut q: Query<F, O>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        loop {
            let page = fetch(&q).expect("list");
            out.extend(page.items);
            match page.next {
                Some(c) => q.page.after = Some(c),
                None => return out,
            }
        }
    }
    (
        all(|q| s.customers(q), CustomerQuery::new().limit(500)),
        all(|q| s.deals(q), DealQuery::new().limit(500)),
        all(|q| s.activities(q), ActivityQuery::new().limit(500)),
        all(|q| s.pipelines(q), PipelineQuery::new().limit(500)),
        all(|q| s.events(q), EventQuery::new().limit(500)),
    )
}

/// Every kind of refused operation leaves the store exactly as it was and
/// appends no event, and the error says what was wrong.
pub fn failed_operations_change_nothing<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let c = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    let person = s
        .create_customer(NewCustomer::person("Bob"))
        .expect("customer");
    let d = s
        .create_deal(NewDeal::new(c.id, p.id, "Deal"))
        .expect("deal");
    let task = s
        .log_activity(NewActivity::task("Call back", t0()).customer(c.id))
        .expect("task");
    let note = s
        .log_activity(NewActivity::new(ActivityKind::Note, "Note").customer(c.id))
        .expect("note");
    let before = snapshot(&s);

    let attempts: Vec<(&str, Error)> = vec![
        (
            "bad email",
            s.create_customer(NewCustomer::person("X").email("x@"))
                .unwrap_err(),
        ),
        (
            "stale version",
            s.update_customer(c.id, 7, CustomerPatch::default().name("Y"))
                .unwrap_err(),
        ),
        (
            "bad lifecycle",
            s.update_customer(
                c.id,
                c.version,
                CustomerPatch::default().lifecycle(Lifecycle::Churned),
            )
            .unwrap_err(),
        ),
        (
            "org is a person",
            s.create_customer(NewCustomer::person("Z").works_at(person.id))
                .unwrap_err(),
        ),
        (
            "guard",
            s.move_deal(d.id, d.version, "proposal").unwrap_err(),
        ),
        (
            "unknown stage",
            s.move_deal(d.id, d.version, "nowhere").unwrap_err(),
        ),
        (
            "same stage",
            s.move_deal(d.id, d.version, "lead").unwrap_err(),
        ),
        (
            "lost needs reason",
            s.lose_deal(d.id, d.version, "  ").unwrap_err(),
        ),
        ("stale deal", s.win_deal(d.id, d.version + 1).unwrap_err()),
        (
            "unknown deal",
            s.win_deal(DealId::from_uuid(uuid::Uuid::from_u128(1)), 1)
                .unwrap_err(),
        ),
        (
            "reopen open deal",
            s.reopen_deal(d.id, d.version, None).unwrap_err(),
        ),
        (
            "negative amount",
            s.update_deal(
                d.id,
                d.version,
                DealPatch::default().amount(Some(Money::parse("-1", "EUR").expect("money"))),
            )
            .unwrap_err(),
        ),
        (
            "too precise amount",
            s.create_deal(
                NewDeal::new(c.id, p.id, "D").amount(Money::parse("1.001", "EUR").expect("money")),
            )
            .unwrap_err(),
        ),
        (
            "deal for unknown customer",
            s.create_deal(NewDeal::new(
                CustomerId::from_uuid(uuid::Uuid::from_u128(3)),
                p.id,
                "D",
            ))
            .unwrap_err(),
        ),
        (
            "deal starting won",
            s.create_deal(NewDeal::new(c.id, p.id, "D").stage("won"))
                .unwrap_err(),
        ),
        (
            "complete a note",
            s.complete_task(note.id, note.version).unwrap_err(),
        ),
        (
            "due on a call",
            s.log_activity(NewActivity {
                due_at: Some(t0()),
                ..NewActivity::new(ActivityKind::Call, "c").customer(c.id)
            })
            .unwrap_err(),
        ),
        (
            "unlinked activity",
            s.log_activity(NewActivity::new(ActivityKind::Call, "c"))
                .unwrap_err(),
        ),
        (
            "invalid pipeline",
            s.create_pipeline(PipelineDef::new("Empty")).unwrap_err(),
        ),
        (
            "stale task",
            s.complete_task(task.id, task.version + 1).unwrap_err(),
        ),
    ];
    let after = snapshot(&s);
    assert!(before == after, "a refused operation changed the store");
    let messages: Vec<String> = attempts
        .iter()
        .map(|(what, e)| format!("{what}: {e}"))
        .collect();
    let expect = |what: &str, needle: &str| {
        let m = messages
            .iter()
            .find(|m| m.starts_with(&format!("{what}:")))
            .expect("attempt");
        assert!(
            m.contains(needle),
            "error for '{what}' should mention {needle:?}: {m}"
        );
    };
    expect("bad email", "invalid customer.emails[0] \"x@\"");
    expect(
        "stale version",
        "based on version 7 but it is now at version 1",
    );
    expect(
        "guard",
        "cannot enter stage 'proposal': the deal needs an amount first",
    );
    expect(
        "unknown stage",
        "has no such stage (its stages are lead, qualified, proposal, negotiation, won, lost)",
    );
    expect(
        "lost needs reason",
        "a reason for losing the deal is required",
    );
    expect(
        "reopen open deal",
        "only a won or lost deal can be reopened",
    );
    expect("too precise amount", "EUR has 2 decimal places at most");
    expect("complete a note", "only tasks can be completed");
    assert!(matches!(attempts[1].1, Error::Conflict { .. }));
    assert!(matches!(
        attempts[9].1,
        Error::NotFound {
            entity: EntityKind::Deal,
            ..
        }
    ));
}

/// A batch either commits every operation or none, events included.
pub fn batch_is_all_or_nothing<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let before = snapshot(&s);
    let err = s
        .batch(|b| {
            let c = b.create_customer(NewCustomer::organisation("ACME"))?;
            let d = b.create_deal(NewDeal::new(c.id, p.id, "Big"))?;
            let d = b.move_deal(d.id, d.version, "qualified")?;
            assert_eq!(
                b.deal(d.id)?.stage,
                "qualified",
                "a batch must see its own writes"
            );
            b.win_deal(d.id, d.version + 5)
        })
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }));
    assert!(snapshot(&s) == before, "a failed batch left changes behind");
    let made = s
        .batch(|b| {
            let c = b.create_customer(NewCustomer::organisation("ACME"))?;
            let d = b.create_deal(NewDeal::new(c.id, p.id, "Big"))?;
            b.win_deal(d.id, d.version)
        })
        .expect("batch");
    assert_eq!(made.status, DealStatus::Won);
    assert_eq!(
        all_events(crm.store()).len(),
        before.4.len() + 3,
        "one event per operation in a batch"
    );
}

/// Two writers updating the same record from the same version: exactly one
/// succeeds, the other gets a conflict, the final record has one update.
pub fn concurrent_updates_never_lose_one<S: Store + 'static>(store: S) {
    let (crm, _) = engine(store);
    let crm = Arc::new(crm);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let c = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    for round in 0..10 {
        let d = s
            .create_deal(NewDeal::new(c.id, p.id, format!("Deal {round}")))
            .expect("deal");
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = ["first", "second"]
            .into_iter()
            .map(|title| {
                let (crm, barrier) = (crm.clone(), barrier.clone());
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
        assert_eq!(
            (ok.len(), conflicts),
            (1, 1),
            "round {round}: expected one success and one conflict, got {results:?}"
        );
        let stored = s.deal(d.id).expect("deal");
        assert_eq!(stored.version, 2);
        assert_eq!(
            &stored.title, &ok[0].title,
            "the stored title is the successful writer's"
        );
    }
}

/// Editing a pipeline: dropping a stage with deals needs a mapping; with
/// one, the deals move and the edit records one event.
pub fn pipeline_edit_remaps_deals<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let c = s
        .create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    let d1 = s
        .create_deal(NewDeal::new(c.id, p.id, "One").stage("qualified"))
        .expect("deal");
    let d2 = s
        .create_deal(NewDeal::new(c.id, p.id, "Two").stage("qualified"))
        .expect("deal");
    let d3 = s
        .create_deal(NewDeal::new(c.id, p.id, "Three"))
        .expect("deal");
    clock.advance(Duration::hours(1));
    let without_qualified = PipelineDef::new("Sales v2")
        .stage(StageDef::open("lead", "Lead", 10))
        .stage(StageDef::open("demo", "Demo", 40))
        .stage(StageDef::won("won", "Won"))
        .stage(StageDef::lost("lost", "Lost").guard(StageGuard::RequiresLostReason));
    let before = snapshot(&s);
    match s.update_pipeline(
        p.id,
        p.version,
        without_qualified.clone(),
        &StageMapping::new(),
    ) {
        Err(Error::StageMappingRequired {
            stage, deals: 2, ..
        }) => assert_eq!(stage, "qualified"),
        other => panic!("dropping a stage with deals needs a mapping, got {other:?}"),
    }
    let to_won: StageMapping = [("qualified".to_owned(), "won".to_owned())].into();
    assert!(
        s.update_pipeline(p.id, p.version, without_qualified.clone(), &to_won)
            .is_err(),
        "open deals mapped to a won stage"
    );
    assert!(
        snapshot(&s) == before,
        "refused pipeline edit changed something"
    );

    let mapping: StageMapping = [("qualified".to_owned(), "demo".to_owned())].into();
    let p2 = s
        .update_pipeline(p.id, p.version, without_qualified, &mapping)
        .expect("edit");
    assert_eq!(
        (p2.version, p2.name.as_str(), p2.stages.len()),
        (2, "Sales v2", 4)
    );
    for d in [d1, d2] {
        let moved = s.deal(d.id).expect("deal");
        assert_eq!(moved.stage, "demo");
        assert_eq!(moved.version, 2);
        let last = moved.history.last().expect("history");
        assert_eq!(
            (last.from.as_ref().map(|k| k.as_str()), last.to.as_str()),
            (Some("qualified"), "demo")
        );
    }
    assert_eq!(
        s.deal(d3.id).expect("deal").version,
        1,
        "deals in kept stages are untouched"
    );
    let events = all_events(crm.store());
    assert_eq!(
        events.len(),
        before.4.len() + 1,
        "a pipeline edit appends exactly one event"
    );
    let last = events.last().expect("event");
    assert!(
        last.changes.iter().any(|c| c.field == "moved_deals"),
        "the edit's event lists the moved deals"
    );
    verify::assert_consistent(&crm);
}

#[derive(Debug, Clone)]
enum DealOp {
    Move(usize),
    Win,
    Lose(bool),
    Reopen(Option<usize>),
    SetAmount(bool),
    SetCloseDate(bool),
    SetOwner(bool),
    Stale,
}

fn deal_op() -> impl Strategy<Value = DealOp> {
    prop_oneof![
        4 => (0usize..8).prop_map(DealOp::Move),
        1 => Just(DealOp::Win),
        1 => any::<bool>().prop_map(DealOp::Lose),
        1 => proptest::option::of(0usize..8).prop_map(DealOp::Reopen),
        1 => any::<bool>().prop_map(DealOp::SetAmount),
        1 => any::<bool>().prop_map(DealOp::SetCloseDate),
        1 => any::<bool>().prop_map(DealOp::SetOwner),
        1 => Just(DealOp::Stale),
    ]
}

fn check_deal_invariants(deal: &Deal, p: &Pipeline) -> std::result::Result<(), TestCaseError> {
    let stage = p
        .stage(&deal.stage)
        .ok_or_else(|| TestCaseError::fail("deal in a stage its pipeline lacks"))?;
    prop_assert_eq!(
        deal.status,
        DealStatus::from(stage.kind),
        "status follows the stage kind"
    );
    prop_assert_eq!(
        deal.history.last().map(|c| &c.to),
        Some(&deal.stage),
        "history replays to the current stage"
    );
    prop_assert!(
        deal.history[0].from.is_none(),
        "history starts with the first stage"
    );
    for w in deal.history.windows(2) {
        prop_assert_eq!(w[1].from.as_ref(), Some(&w[0].to), "history entries chain");
        prop_assert!(w[1].at >= w[0].at, "history is in time order");
        let (from, to) = (p.stage(&w[0].to), p.stage(&w[1].to));
        let (Some(from), Some(to)) = (from, to) else {
            return Err(TestCaseError::fail("history names unknown stages"));
        };
        prop_assert!(
            p.check_move(from, to).is_ok(),
            "history contains a move the pipeline forbids: {} -> {}",
            from.key,
            to.key
        );
    }
    prop_assert_eq!(
        deal.won_at.is_some(),
        deal.status == DealStatus::Won,
        "won_at iff won"
    );
    prop_assert_eq!(
        deal.lost_at.is_some(),
        deal.status == DealStatus::Lost,
        "lost_at iff lost"
    );
    if deal.lost_reason.is_some() {
        prop_assert_eq!(deal.status, DealStatus::Lost);
    }
    Ok(())
}

/// Random operation sequences on deals never leave a deal in a state its
/// pipeline forbids; its history always replays to its current stage;
/// every successful change appends exactly one event and bumps the version
/// by one; every failed one changes nothing and appends nothing.
pub fn deal_state_machine_holds_under_random_operations<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    crate::testing::seed_users(
        crm.store(),
        [1, 2].map(|i| UserId::from_uuid(uuid::Uuid::from_u128(i))),
    );
    let s = crm.as_actor(Actor::System);
    let c = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("customer");
    let mut runner = runner(48);
    runner
        .run(
            &(
                strategies::pipeline_def(),
                proptest::collection::vec(deal_op(), 1..30),
            ),
            |(def, ops)| {
                let p = s.create_pipeline(def).expect("valid generated pipeline");
                // The first stage may have guards: start with every guarded field set.
                let input = NewDeal::new(c.id, p.id, "Deal")
                    .amount(Money::parse("500", "EUR").expect("money"))
                    .expected_close_date(NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default())
                    .owner(UserId::from_uuid(uuid::Uuid::from_u128(2)));
                let mut deal = s.create_deal(input).expect("deal");
                for op in ops {
                    clock.advance(Duration::minutes(1));
                    let seq_before = crm
                        .store()
                        .read()
                        .expect("read")
                        .last_event_seq()
                        .expect("seq");
                    let key = |i: usize| p.stages[i % p.stages.len()].key.as_str().to_owned();
                    let result = match &op {
                        DealOp::Move(i) => s.move_deal(deal.id, deal.version, &key(*i)),
                        DealOp::Win => s.win_deal(deal.id, deal.version),
                        DealOp::Lose(with_reason) => {
                            let lost: Vec<&Stage> = p.stages_of_kind(StageKind::Lost).collect();
                            s.lose_deal_in(
                                deal.id,
                                deal.version,
                                lost[0].key.as_str(),
                                if *with_reason { "Too expensive" } else { "" },
                            )
                        }
                        DealOp::Reopen(i) => {
                            s.reopen_deal(deal.id, deal.version, i.map(key).as_deref())
                        }
                        DealOp::SetAmount(set) => s.update_deal(
                            deal.id,
                            deal.version,
                            DealPatch::default()
                                .amount(set.then(|| Money::parse("990.00", "EUR").expect("money"))),
                        ),
                        DealOp::SetCloseDate(set) => {
                            s.update_deal(
                                deal.id,
                                deal.version,
                                DealPatch::default().expected_close_date(set.then(|| {
                                    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default()
                                })),
                            )
                        }
                        DealOp::SetOwner(set) => s.update_deal(
                            deal.id,
                            deal.version,
                            DealPatch::default()
                                .owner(set.then(|| UserId::from_uuid(uuid::Uuid::from_u128(1)))),
                        ),
                        DealOp::Stale => s.move_deal(
                            deal.id,
                            deal.version.saturating_sub(1).max(1)
                                + if deal.version == 1 { 1 } else { 0 },
                            &key(0),
                        ),
                    };
                    let seq_after = crm
                        .store()
                        .read()
                        .expect("read")
                        .last_event_seq()
                        .expect("seq");
                    let stored = s.deal(deal.id).expect("deal");
                    match result {
                        Ok(next) => {
                            prop_assert_eq!(&stored, &next, "returned deal equals stored deal");
                            if next.version == deal.version {
                                prop_assert_eq!(
                                    seq_after,
                                    seq_before,
                                    "a no-op update appends no event"
                                );
                            } else {
                                prop_assert_eq!(
                                    next.version,
                                    deal.version + 1,
                                    "a change bumps the version by one"
                                );
                                prop_assert_eq!(
                                    seq_after,
                                    seq_before + 1,
                                    "a change appends exactly one event ({:?})",
                                    op
                                );
                            }
                            deal = next;
                        }
                        Err(_) => {
                            prop_assert_eq!(
                                &stored,
                                &deal,
                                "a failed operation changed the deal ({:?})",
                                op
                            );
                            prop_assert_eq!(
                                seq_after,
                                seq_before,
                                "a failed operation appended an event ({:?})",
                                op
                            );
                        }
                    }
                    check_deal_invariants(&deal, &p)?;
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("deal state machine property failed: {e}"));
}

#[derive(Debug, Clone)]
enum AnyOp {
    CreateCustomer {
        person: bool,
        good_email: bool,
        org: Option<usize>,
    },
    SetLifecycle {
        who: usize,
        to: Lifecycle,
        stale: bool,
    },
    Tag {
        who: usize,
        tag: &'static str,
    },
    LogActivity {
        kind: ActivityKind,
        who: Option<usize>,
    },
    CompleteTask {
        which: usize,
    },
    CreatePipeline {
        valid: bool,
    },
    CreateDeal {
        who: usize,
        start: &'static str,
    },
}

fn any_op() -> impl Strategy<Value = AnyOp> {
    let lifecycle = prop_oneof![
        Just(Lifecycle::Lead),
        Just(Lifecycle::Prospect),
        Just(Lifecycle::Customer),
        Just(Lifecycle::Churned)
    ];
    let kind = prop_oneof![
        Just(ActivityKind::Call),
        Just(ActivityKind::Note),
        Just(ActivityKind::Task)
    ];
    prop_oneof![
        3 => (any::<bool>(), any::<bool>(), proptest::option::of(0usize..6)).prop_map(|(person, good_email, org)| AnyOp::CreateCustomer { person, good_email, org }),
        2 => (0usize..6, lifecycle, proptest::bool::weighted(0.2)).prop_map(|(who, to, stale)| AnyOp::SetLifecycle { who, to, stale }),
        1 => (0usize..6, prop_oneof![Just("vip"), Just("VIP "), Just("bad tag!")]).prop_map(|(who, tag)| AnyOp::Tag { who, tag }),
        2 => (kind, proptest::option::of(0usize..6)).prop_map(|(kind, who)| AnyOp::LogActivity { kind, who }),
        1 => (0usize..6).prop_map(|which| AnyOp::CompleteTask { which }),
        1 => any::<bool>().prop_map(|valid| AnyOp::CreatePipeline { valid }),
        2 => (0usize..6, prop_oneof![Just("lead"), Just("proposal"), Just("won"), Just("nope")]).prop_map(|(who, start)| AnyOp::CreateDeal { who, start }),
    ]
}

/// Across every kind of operation: a success that changes a record appends
/// exactly one event, about that record and its new version; a failure
/// changes nothing and appends nothing.
pub fn every_change_appends_exactly_one_event<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let admin = crm
        .as_actor(Actor::System)
        .create_user(NewUser::new("Ada Admin", "ada@example.com").role(AccessRole::Admin))
        .expect("admin user");
    let s = crm.as_user(admin.id);
    let mut runner = runner(16);
    runner
        .run(&proptest::collection::vec(any_op(), 1..40), |ops| {
            let mut customers: Vec<Customer> = Vec::new();
            let mut tasks: Vec<Activity> = Vec::new();
            let mut pipelines: Vec<Pipeline> = vec![
                s.create_pipeline(PipelineDef::sales_template("P"))
                    .expect("pipeline"),
            ];
            for op in ops {
                clock.advance(Duration::seconds(30));
                let before = snapshot(&s);
                let pick = |i: usize| customers.get(i % customers.len().max(1)).cloned();
                // (entity, version) the operation claims to have written, if it changed something.
                let outcome: Result<Option<(EntityRef, u64)>> = match &op {
                    AnyOp::CreateCustomer {
                        person,
                        good_email,
                        org,
                    } => {
                        let base = if *person {
                            NewCustomer::person("P")
                        } else {
                            NewCustomer::organisation("O")
                        };
                        let mut input = base.email(if *good_email {
                            "ok@example.org"
                        } else {
                            "broken@"
                        });
                        if let Some(o) = org.and_then(pick) {
                            input = input.works_at(o.id);
                        }
                        s.create_customer(input).map(|c| {
                            customers.push(c.clone());
                            Some((
                                EntityRef {
                                    kind: EntityKind::Customer,
                                    id: c.id.as_uuid(),
                                },
                                c.version,
                            ))
                        })
                    }
                    AnyOp::SetLifecycle { who, to, stale } => match pick(*who) {
                        None => continue,
                        Some(c) => {
                            let version = if *stale { c.version + 1 } else { c.version };
                            s.update_customer(
                                c.id,
                                version,
                                CustomerPatch::default().lifecycle(*to),
                            )
                            .map(|n| {
                                let changed = n.version != c.version;
                                if let Some(slot) = customers.iter_mut().find(|x| x.id == n.id) {
                                    *slot = n.clone();
                                }
                                changed.then_some((
                                    EntityRef {
                                        kind: EntityKind::Customer,
                                        id: n.id.as_uuid(),
                                    },
                                    n.version,
                                ))
                            })
                        }
                    },
                    AnyOp::Tag { who, tag } => match pick(*who) {
                        None => continue,
                        Some(c) => s
                            .update_customer(
                                c.id,
                                c.version,
                                CustomerPatch::default().add_tag(*tag),
                            )
                            .map(|n| {
                                let changed = n.version != c.version;
                                if let Some(slot) = customers.iter_mut().find(|x| x.id == n.id) {
                                    *slot = n.clone();
                                }
                                changed.then_some((
                                    EntityRef {
                                        kind: EntityKind::Customer,
                                        id: n.id.as_uuid(),
                                    },
                                    n.version,
                                ))
                            }),
                    },
                    AnyOp::LogActivity { kind, who } => {
                        let mut input = NewActivity::new(*kind, "Touch");
                        if *kind == ActivityKind::Task {
                            input.due_at = Some(clock_now(&clock) + Duration::days(1));
                        }
                        if let Some(c) = who.and_then(pick) {
                            input = input.customer(c.id);
                        }
                        s.log_activity(input).map(|a| {
                            if a.kind == ActivityKind::Task {
                                tasks.push(a.clone());
                            }
                            Some((
                                EntityRef {
                                    kind: EntityKind::Activity,
                                    id: a.id.as_uuid(),
                                },
                                a.version,
                            ))
                        })
                    }
                    AnyOp::CompleteTask { which } => {
                        match tasks.get(which % tasks.len().max(1)).cloned() {
                            None => continue,
                            Some(t) => s.complete_task(t.id, t.version).map(|a| {
                                if let Some(slot) = tasks.iter_mut().find(|x| x.id == a.id) {
                                    *slot = a.clone();
                                }
                                Some((
                                    EntityRef {
                                        kind: EntityKind::Activity,
                                        id: a.id.as_uuid(),
                                    },
                                    a.version,
                                ))
                            }),
                        }
                    }
                    AnyOp::CreatePipeline { valid } => {
                        let def = if *valid {
                            PipelineDef::sales_template("Q")
                        } else {
                            PipelineDef::new("Q").stage(StageDef::open("a", "A", 1))
                        };
                        s.create_pipeline(def).map(|p| {
                            pipelines.push(p.clone());
                            Some((
                                EntityRef {
                                    kind: EntityKind::Pipeline,
                                    id: p.id.as_uuid(),
                                },
                                p.version,
                            ))
                        })
                    }
                    AnyOp::CreateDeal { who, start } => match pick(*who) {
                        None => continue,
                        Some(c) => s
                            .create_deal(NewDeal::new(c.id, pipelines[0].id, "D").stage(*start))
                            .map(|d| {
                                Some((
                                    EntityRef {
                                        kind: EntityKind::Deal,
                                        id: d.id.as_uuid(),
                                    },
                                    d.version,
                                ))
                            }),
                    },
                };
                let after = snapshot(&s);
                let new_events = &after.4[before.4.len()..];
                match outcome {
                    Ok(Some((entity, version))) => {
                        prop_assert_eq!(
                            new_events.len(),
                            1,
                            "{:?} succeeded but appended {} events",
                            op,
                            new_events.len()
                        );
                        prop_assert_eq!(
                            (new_events[0].entity, new_events[0].version),
                            (entity, version),
                            "the event names the changed record and its new version"
                        );
                        prop_assert_eq!(
                            new_events[0].actor,
                            s.actor(),
                            "the event records the actor"
                        );
                    }
                    Ok(None) => {
                        prop_assert!(before == after, "a no-op changed the store ({:?})", op)
                    }
                    Err(e) => prop_assert!(
                        before == after,
                        "{:?} failed ({}) but changed the store",
                        op,
                        e
                    ),
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("event accounting property failed: {e}"));
}

fn clock_now(clock: &ManualClock) -> DateTime<Utc> {
    Clock::now(clock)
}

/// The quickstart's story with hand-checked expectations: stage history,
/// won/lost times, and the audit trail in order.
pub fn worked_example_sales_flow<S: Store>(store: S) {
    let (crm, clock) = engine(store);
    let rep = crm
        .as_actor(Actor::System)
        .create_user(NewUser::new("Maria", "maria@example.com").role(AccessRole::SalesManager))
        .expect("user")
        .id;
    let s = crm.as_actor(Actor::User(rep));
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(NewCustomer::organisation("ACME GmbH").tag("Key Account"))
        .expect("org");
    let ada = s
        .create_customer(
            NewCustomer::person("Ada")
                .works_at(acme.id)
                .email("ADA@acme.example"),
        )
        .expect("person");
    assert_eq!(ada.emails[0].as_str(), "ada@acme.example");
    let d = s
        .create_deal(NewDeal::new(acme.id, p.id, "200 seats").owner(rep))
        .expect("deal");
    clock.advance(Duration::days(2));
    let d = s
        .update_deal(
            d.id,
            d.version,
            DealPatch::default()
                .amount(Some(Money::parse("48000.00", "EUR").expect("money")))
                .expected_close_date(NaiveDate::from_ymd_opt(2025, 3, 31)),
        )
        .expect("amount");
    let d = s.move_deal(d.id, d.version, "proposal").expect("proposal");
    clock.advance(Duration::days(10));
    let d = s.win_deal(d.id, d.version).expect("win");
    assert_eq!(d.version, 4);
    assert_eq!(d.won_at, Some(t0() + Duration::days(12)));
    let path: Vec<&str> = d.history.iter().map(|c| c.to.as_str()).collect();
    assert_eq!(path, ["lead", "proposal", "won"]);
    assert!(d.history.iter().all(|c| c.by == Actor::User(rep)));
    let call = s
        .log_activity(
            NewActivity::new(ActivityKind::Call, "Kick-off")
                .deal(d.id)
                .direction(Direction::Outbound),
        )
        .expect("call");
    assert_eq!(
        call.customer,
        Some(acme.id),
        "an activity on a deal is linked to the deal's customer"
    );
    let ada2 = s
        .update_customer(
            ada.id,
            ada.version,
            CustomerPatch::default().lifecycle(Lifecycle::Customer),
        )
        .expect("lifecycle");

    let trail = s
        .events(&EventQuery::new().filter(EventFilter {
            entity: Some(EntityRef {
                kind: EntityKind::Deal,
                id: d.id.as_uuid(),
            }),
            ..Default::default()
        }))
        .expect("events")
        .items;
    let kinds: Vec<EventKind> = trail.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Created,
            EventKind::Updated,
            EventKind::StageChanged,
            EventKind::Won
        ]
    );
    assert_eq!(
        trail.iter().map(|e| e.version).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let won = &trail[3];
    assert_eq!(won.actor, Actor::User(rep));
    let stage_change = won
        .changes
        .iter()
        .find(|c| c.field == "stage")
        .expect("stage change");
    assert_eq!(
        (stage_change.old.as_str(), stage_change.new.as_str()),
        (Some("proposal"), Some("won"))
    );
    let all = all_events(crm.store());
    assert_eq!(
        all.len(),
        10,
        "user, pipeline, 2 customers, 4 deal changes, 1 activity, 1 lifecycle change"
    );
    let last = all.last().expect("event");
    assert_eq!(
        (last.entity.id, last.version, last.kind),
        (ada2.id.as_uuid(), 2, EventKind::Updated)
    );
    assert_eq!(last.changes[0].field, "lifecycle");
    assert_eq!(
        (last.changes[0].old.as_str(), last.changes[0].new.as_str()),
        (Some("lead"), Some("customer"))
    );
    verify::assert_consistent(&crm);
}

// ----- segments -----

/// Saved segments: create, read, update (compare-and-set), delete
/// (compare-and-set), each with exactly one event; stale versions and
/// bad input change nothing.
pub fn saved_segments_are_versioned_audited_records<S: Store>(store: S) {
    use crate::segment::{Expr, SegmentPatch};
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let expr: crate::segment::Expr = "tag:vip and lifecycle = customer".parse().expect("parse");
    let seg = s
        .create_segment("  VIP customers ", expr.clone())
        .expect("create");
    assert_eq!(seg.name, "VIP customers", "name is trimmed");
    assert_eq!(seg.version, 1);
    assert_eq!(s.segment(seg.id).expect("read"), seg, "read back equal");
    assert_eq!(
        crm.store()
            .read()
            .expect("tx")
            .segment(seg.id)
            .expect("get"),
        Some(seg.clone())
    );

    clock.advance(Duration::minutes(5));
    let new_expr: crate::segment::Expr = "tag:vip".parse().expect("parse");
    let updated = s
        .update_segment(
            seg.id,
            1,
            SegmentPatch::default().expression(new_expr.clone()),
        )
        .expect("update");
    assert_eq!((updated.version, &updated.expression), (2, &new_expr));
    assert_eq!(updated.updated_at, t0() + Duration::minutes(5));
    assert_eq!(updated.created_at, seg.created_at);

    // A no-op update changes nothing and appends nothing.
    let before = all_events(crm.store()).len();
    let same = s
        .update_segment(seg.id, 2, SegmentPatch::default().name("VIP customers"))
        .expect("no-op update");
    assert_eq!(same, updated);
    assert_eq!(
        all_events(crm.store()).len(),
        before,
        "no-op appends no event"
    );

    // Stale version: conflict, nothing changes.
    match s.update_segment(seg.id, 1, SegmentPatch::default().name("X")) {
        Err(Error::Conflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => panic!("stale update: expected Conflict, got {other:?}"),
    }
    match s.delete_segment(seg.id, 1) {
        Err(Error::Conflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => panic!("stale delete: expected Conflict, got {other:?}"),
    }
    // Bad input: typed errors, nothing changes.
    assert!(matches!(
        s.create_segment(" ", Expr::Const(true)),
        Err(Error::Invalid(_))
    ));
    let ill_typed = Expr::pred(
        crate::segment::Field::Kind,
        crate::segment::Test::In { values: vec![] },
    );
    assert!(matches!(
        s.create_segment("x", ill_typed),
        Err(Error::Invalid(_))
    ));
    assert_eq!(s.segment(seg.id).expect("read"), updated);

    // The store refuses a stale delete by itself too.
    {
        let mut tx = crm.store().write().expect("write tx");
        match tx.delete_segment(seg.id, 1) {
            Err(StoreError::VersionConflict {
                expected: 1,
                actual: 2,
                ..
            }) => {}
            other => panic!("store delete with stale version: {other:?}"),
        }
    }

    s.delete_segment(seg.id, 2).expect("delete");
    assert!(matches!(s.segment(seg.id), Err(Error::NotFound { .. })));
    assert!(matches!(
        s.delete_segment(seg.id, 2),
        Err(Error::NotFound { .. })
    ));

    let seg_events: Vec<Event> = all_events(crm.store())
        .into_iter()
        .filter(|e| e.entity.kind == EntityKind::Segment)
        .collect();
    // The update records the expression before and after, in its text form.
    let update = &seg_events[1].changes;
    assert_eq!(update.len(), 1, "only the expression changed: {update:?}");
    assert_eq!(update[0].field, "expression");
    assert_eq!(update[0].old, "tag:vip and lifecycle = customer");
    assert_eq!(update[0].new, "tag:vip");
    assert!(seg_events.iter().all(|e| e.entity.id == seg.id.as_uuid()));
    let events: Vec<(EventKind, u64)> = seg_events.iter().map(|e| (e.kind, e.version)).collect();
    assert_eq!(
        events,
        vec![
            (EventKind::Created, 1),
            (EventKind::Updated, 2),
            (EventKind::Deleted, 3)
        ],
        "one event per change"
    );
}

/// Listing saved segments behaves like `paginate` over all of them.
pub fn saved_segment_listing_matches_reference<S: Store>(store: S) {
    use crate::segment::{Expr, SegmentFilter, SegmentOrder};
    let (crm, clock) = engine(store);
    let s = crm.as_actor(Actor::System);
    let names = [
        "b VIP",
        "a churn risk",
        "B vip",
        "c",
        "a churn risk",
        "vip é",
    ];
    let mut all = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if i % 2 == 0 {
            clock.advance(Duration::seconds(1));
        }
        all.push(
            s.create_segment(n, Expr::Const(i % 2 == 0))
                .expect("create"),
        );
    }
    let tx = crm.store().read().expect("read tx");
    for order in [SegmentOrder::CreatedAt, SegmentOrder::Name] {
        for filter in [
            SegmentFilter::default(),
            SegmentFilter {
                name_contains: Some("VIP".into()),
                ..Default::default()
            },
        ] {
            for desc in [false, true] {
                for limit in [1, 2, 10] {
                    let mut q = SegmentQuery::new()
                        .order(order)
                        .filter(filter.clone())
                        .limit(limit);
                    if desc {
                        q = q.desc();
                    }
                    let got = collect(|q| tx.segments(q), q.clone());
                    let want = collect(|q| paginate(all.iter(), q), q.clone());
                    assert_eq!(
                        got, want,
                        "segments {order:?} {filter:?} desc={desc} limit={limit}"
                    );
                }
            }
        }
    }
}

/// The scan methods visit every record (matching the filter) exactly once.
pub fn scans_visit_every_record_once<S: Store>(store: S) {
    let mut runner = runner(8);
    let data = std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new()));
    runner
        .run(&strategies::record_set(), |(c, p, ds, acts)| {
            let mut tx = store.write().expect("write tx");
            tx.insert_customer(&c).expect("insert customer");
            tx.insert_pipeline(&p).expect("insert pipeline");
            for d in &ds {
                tx.insert_deal(d).expect("insert deal");
            }
            for a in &acts {
                tx.insert_activity(a).expect("insert activity");
            }
            tx.commit().expect("commit");
            let mut data = data.borrow_mut();
            let (customers, deals, activities) = &mut *data;
            customers.push(c);
            deals.extend(ds);
            activities.extend(acts);
            let tx = store.read().expect("read tx");
            let mut got = Vec::new();
            tx.scan_customers(&mut |c| got.push(c.clone()))
                .expect("scan");
            got.sort_by_key(|c| c.id);
            let mut want = customers.clone();
            want.sort_by_key(|c| c.id);
            prop_assert_eq!(got, want, "customers");
            for status in [None, Some(DealStatus::Won), Some(DealStatus::Open)] {
                let filter = DealFilter {
                    status,
                    ..Default::default()
                };
                let mut got = Vec::new();
                tx.scan_deals(&filter, &mut |d| got.push(d.clone()))
                    .expect("scan");
                got.sort_by_key(|d| d.id);
                let mut want: Vec<Deal> = deals
                    .iter()
                    .filter(|d| filter.matches(d))
                    .cloned()
                    .collect();
                want.sort_by_key(|d| d.id);
                prop_assert_eq!(got, want, "deals with status {:?}", status);
            }
            let mut got = Vec::new();
            tx.scan_activities(&ActivityFilter::default(), &mut |a| got.push(a.clone()))
                .expect("scan");
            got.sort_by_key(|a| a.id);
            let mut want = activities.clone();
            want.sort_by_key(|a| a.id);
            prop_assert_eq!(got, want, "activities");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("scans do not visit every record: {e}"));
}

/// Random expressions over random data: the facade's answer on this store
/// (with whatever the store pushes down) equals the reference evaluator's,
/// and so does the store's own push-down answer whenever it gives one.
pub fn segment_evaluation_matches_reference<S: Store>(store: S) {
    use crate::segment::Expr;
    use crate::segment::eval::evaluate;
    use crate::testing::segments as strat;
    let (crm, _clock) = engine(store);
    let now = t0();
    let s = crm.as_actor(Actor::System);
    let mut runner = runner(48);
    let data = std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new()));
    // The custom fields the generated customers carry, so that `field.KEY`
    // predicates pass the facade's schema check.
    s.set_custom_fields(EntityKind::Customer, 0, strat::custom_field_defs())
        .expect("custom field schema");
    let exprs = proptest::collection::vec(strat::expr_with_custom(strat::field(false)), 1..5);
    let attr_exprs =
        proptest::collection::vec(strat::expr_with_custom(strat::attribute_field()), 1..5);
    let sets = proptest::collection::vec(strategies::record_set(), 1..4);
    runner
        .run(&(sets, exprs, attr_exprs), |(sets, exprs, attr_exprs)| {
            let mut data = data.borrow_mut();
            let (customers, deals, activities) = &mut *data;
            let mut tx = crm.store().write().expect("write tx");
            for (c, p, ds, acts) in sets {
                // While shrinking a failure, proptest re-runs cases whose
                // records are already stored: keep the stored ones.
                let stored = tx.customer(c.id).expect("get").is_some()
                    || tx.pipeline(p.id).expect("get").is_some()
                    || ds.iter().any(|d| matches!(tx.deal(d.id), Ok(Some(_))))
                    || acts
                        .iter()
                        .any(|a| matches!(tx.activity(a.id), Ok(Some(_))));
                if stored {
                    continue;
                }
                tx.insert_customer(&c).expect("insert customer");
                tx.insert_pipeline(&p).expect("insert pipeline");
                for d in &ds {
                    tx.insert_deal(d).expect("insert deal");
                }
                for a in &acts {
                    tx.insert_activity(a).expect("insert activity");
                }
                customers.push(c);
                deals.extend(ds);
                activities.extend(acts);
            }
            tx.commit().expect("commit");
            for e in exprs.iter().chain(&attr_exprs) {
                let want =
                    evaluate(e, customers, deals, activities, now).expect("reference evaluation");
                let got = s
                    .evaluate_expr(
                        e,
                        &PageRequest {
                            limit: PageRequest::MAX_LIMIT,
                            after: None,
                        },
                    )
                    .expect("facade evaluation");
                prop_assert_eq!(got.count, want.len() as u64, "count of {}", e);
                prop_assert_eq!(&got.page.items, &want, "ids of {}", e);
            }
            let tx = crm.store().read().expect("read tx");
            for e in exprs.iter().chain(&attr_exprs) {
                if let Some(ids) = tx.segment_push_down(e, now).expect("push-down") {
                    let want = evaluate(e, customers, deals, activities, now)
                        .expect("reference evaluation");
                    prop_assert_eq!(ids, want, "push-down of {}", e);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("segment evaluation differs from the reference: {e}"));
    // Paging through a result gives every id once, in order.
    let all = s
        .evaluate_expr(&Expr::Const(true), &PageRequest::default())
        .expect("evaluate");
    let mut paged = Vec::new();
    let mut page = PageRequest {
        limit: 7,
        after: None,
    };
    loop {
        let r = s.evaluate_expr(&Expr::Const(true), &page).expect("page");
        assert_eq!(r.count, all.count);
        paged.extend(r.page.items);
        match r.page.next {
            Some(c) => page.after = Some(c),
            None => break,
        }
    }
    // Every customer, except those merged into others.
    let mut want: Vec<CustomerId> = data
        .borrow()
        .0
        .iter()
        .filter(|c: &&Customer| !c.is_merged())
        .map(|c| c.id)
        .collect();
    want.sort();
    assert_eq!(paged, want, "paging through a segment result");
}

/// Times exactly on window edges and "now" (where `<` versus `<=` and
/// rounding matter), evaluated on this store and by the reference.
pub fn segment_time_boundaries_match_reference<S: Store>(store: S) {
    use crate::segment::Expr;
    use crate::segment::eval::evaluate;
    let (crm, _clock) = engine(store);
    let now = t0();
    let ms = Duration::milliseconds;
    let day = Duration::days(1);
    let month = Duration::days(30);
    let p = crm
        .as_actor(Actor::System)
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    // Customer i is created at the i-th offset from now.
    let offsets = [
        -month,
        -month - ms(1),
        -month + ms(1),
        Duration::zero(),
        ms(1),
        -day,
        -day - ms(1),
        -day + ms(1),
    ];
    let customers: Vec<Customer> = offsets
        .iter()
        .enumerate()
        .map(|(i, off)| sample_customer(100 + i as u128, "Edge", now + *off))
        .collect();
    // Each customer has one activity and one won EUR deal at its offset.
    let activities: Vec<Activity> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| Activity {
            id: ActivityId::from_uuid(uuid::Uuid::from_u128(200 + i as u128)),
            version: 1,
            kind: ActivityKind::Call,
            subject: "Call".into(),
            body: None,
            customer: Some(c.id),
            deal: None,
            owner: None,
            direction: None,
            occurred_at: c.created_at,
            due_at: None,
            completed_at: None,
            created_at: c.created_at,
            updated_at: c.created_at,
            custom: Default::default(),
        })
        .collect();
    let lead = StageKey::new("lead").expect("key");
    let won = StageKey::new("won").expect("key");
    let deals: Vec<Deal> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| Deal {
            id: DealId::from_uuid(uuid::Uuid::from_u128(300 + i as u128)),
            version: 2,
            title: "Order".into(),
            customer: c.id,
            pipeline: p.id,
            stage: won.clone(),
            status: DealStatus::Won,
            amount: Some(Money::new(
                rust_decimal::Decimal::new(100 + i as i64, 0),
                Currency::EUR,
            )),
            expected_close_date: None,
            owner: None,
            history: vec![
                StageChange {
                    from: None,
                    to: lead.clone(),
                    at: c.created_at - day,
                    by: Actor::System,
                },
                StageChange {
                    from: Some(lead.clone()),
                    to: won.clone(),
                    at: c.created_at,
                    by: Actor::System,
                },
            ],
            won_at: Some(c.created_at),
            lost_at: None,
            lost_reason: None,
            created_at: c.created_at - day,
            updated_at: c.created_at,
            custom: Default::default(),
        })
        .collect();
    let mut tx = crm.store().write().expect("write tx");
    for c in &customers {
        tx.insert_customer(c).expect("insert customer");
    }
    for d in &deals {
        tx.insert_deal(d).expect("insert deal");
    }
    for a in &activities {
        tx.insert_activity(a).expect("insert activity");
    }
    tx.commit().expect("commit");
    let s = crm.as_actor(Actor::System);
    let all = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    for (text, expected) in [
        // Offsets 0 (−30 d), 2, 3 (now), 5, 6, 7 are within; 1 is 1 ms too old, 4 is in the future.
        ("created within 30d", 6),
        ("last_won within 30d", 6),
        ("last_activity within 30d", 6),
        ("won_amount(EUR, 30d) > 0", 6),
        ("created within 0d", 1),
        ("created >= 2025-01-01", 2),
        ("created > 2025-01-01T00:00:00Z", 1),
        ("created <= 2025-01-01T00:00:00.000Z", 7),
        // Whole days since the last activity at or before now: offset 4's
        // activity is in the future, so it has none.
        ("days_since_last_activity = 0", 2),
        ("days_since_last_activity = 1", 2),
        ("days_since_last_activity = 30", 2),
        ("days_since_last_activity = 29", 1),
        ("not last_activity exists", 1),
        ("last_activity = 2025-01-01", 1),
    ] {
        let e: Expr = text.parse().expect("parse");
        let want = evaluate(&e, &customers, &deals, &activities, now).expect("reference");
        assert_eq!(want.len(), expected, "reference count of {text}");
        let got = s.evaluate_expr(&e, &all).expect("evaluate");
        assert_eq!(got.page.items, want, "{text}");
        let pushed = crm
            .store()
            .read()
            .expect("read tx")
            .segment_push_down(&e, now)
            .expect("push-down");
        if let Some(ids) = pushed {
            assert_eq!(ids, want, "push-down of {text}");
        }
    }
}

// ----- users, teams and access control -----

fn sample_user(id: u128, name: &str, teams: &[u128], at: DateTime<Utc>) -> User {
    User {
        id: UserId::from_uuid(uuid::Uuid::from_u128(id)),
        version: 1,
        name: name.to_owned(),
        email: Email::parse(&format!("u{id}@example.com")).expect("email"),
        active: true,
        roles: [AccessRole::SalesRep].into(),
        teams: teams
            .iter()
            .map(|t| TeamId::from_uuid(uuid::Uuid::from_u128(*t)))
            .collect(),
        created_at: at,
        updated_at: at,
    }
}

/// Users and teams read back equal, update by compare-and-set, roll back
/// with their transaction, and list like the reference pagination.
pub fn users_and_teams_round_trip_and_list<S: Store>(store: S) {
    let team = |id: u128, name: &str, manager: Option<u128>| Team {
        id: TeamId::from_uuid(uuid::Uuid::from_u128(id)),
        version: 1,
        name: name.to_owned(),
        manager: manager.map(|m| UserId::from_uuid(uuid::Uuid::from_u128(m))),
        created_at: t0(),
        updated_at: t0(),
    };
    let teams = vec![
        team(900, "North", Some(1)),
        team(901, "South", None),
        team(902, "East", Some(1)),
    ];
    let mut users: Vec<User> = (1..=9u128)
        .map(|i| {
            let ts: Vec<u128> = [900, 901, 902]
                .into_iter()
                .filter(|t| (i + t) % 3 != 0)
                .collect();
            sample_user(
                i,
                &format!("user {}", 10 - i),
                &ts,
                t0() + Duration::seconds((i % 4) as i64),
            )
        })
        .collect();
    users[3].active = false;
    users[4].roles = [AccessRole::Admin, AccessRole::Support].into();
    users[5].roles.clear();
    {
        let mut tx = store.write().expect("write");
        for t in &teams {
            tx.insert_team(t).expect("insert team");
        }
        for u in &users {
            tx.insert_user(u).expect("insert user");
        }
        assert!(matches!(
            tx.insert_user(&users[0]),
            Err(StoreError::AlreadyExists {
                entity: EntityKind::User,
                ..
            })
        ));
        tx.commit().expect("commit");
    }
    {
        // Dropped: nothing of it stays.
        let mut tx = store.write().expect("write");
        tx.insert_user(&sample_user(50, "ghost", &[], t0()))
            .expect("insert");
        let mut v2 = users[0].clone();
        v2.version = 2;
        v2.teams.clear();
        tx.update_user(&v2).expect("update");
    }
    let tx = store.read().expect("read");
    for u in &users {
        assert_eq!(
            tx.user(u.id).expect("get").as_ref(),
            Some(u),
            "user read back"
        );
    }
    for t in &teams {
        assert_eq!(
            tx.team(t.id).expect("get").as_ref(),
            Some(t),
            "team read back"
        );
    }
    assert_eq!(
        tx.user(UserId::from_uuid(uuid::Uuid::from_u128(50)))
            .expect("get"),
        None,
        "a dropped transaction keeps no user"
    );
    let filters = [
        UserFilter::default(),
        UserFilter {
            active: Some(false),
            ..Default::default()
        },
        UserFilter {
            team: Some(teams[0].id),
            ..Default::default()
        },
        UserFilter {
            team: Some(teams[1].id),
            active: Some(true),
            id_in: Some(vec![users[1].id, users[2].id, users[7].id]),
        },
        UserFilter {
            id_in: Some(vec![]),
            ..Default::default()
        },
    ];
    for f in filters {
        for order in [UserOrder::CreatedAt, UserOrder::Name] {
            for desc in [false, true] {
                let mut q = UserQuery::new().filter(f.clone()).order(order).limit(2);
                if desc {
                    q = q.desc();
                }
                let got = collect(|q| tx.users(q), q.clone());
                let want = collect(|q| paginate(users.iter(), q), q);
                assert_eq!(got, want, "users {f:?} {order:?} desc={desc}");
            }
        }
    }
    for f in [
        TeamFilter::default(),
        TeamFilter {
            manager: users.first().map(|u| u.id),
            ..Default::default()
        },
        TeamFilter {
            id_in: Some(vec![teams[2].id, teams[1].id]),
            ..Default::default()
        },
    ] {
        for order in [TeamOrder::CreatedAt, TeamOrder::Name] {
            let q = TeamQuery::new().filter(f.clone()).order(order).limit(1);
            let got = collect(|q| tx.teams(q), q.clone());
            let want = collect(|q| paginate(teams.iter(), q), q);
            assert_eq!(got, want, "teams {f:?} {order:?}");
        }
    }
    // Team members: the users in any of the teams, sorted, once each.
    for set in [
        vec![],
        vec![teams[0].id],
        vec![teams[2].id, teams[1].id, teams[2].id],
    ] {
        let mut want: Vec<UserId> = users
            .iter()
            .filter(|u| set.iter().any(|t| u.teams.contains(t)))
            .map(|u| u.id)
            .collect();
        want.sort();
        assert_eq!(
            tx.team_members(&set).expect("members"),
            want,
            "members of {set:?}"
        );
    }
    drop(tx);
    let mut tx = store.write().expect("write");
    let mut t2 = teams[1].clone();
    t2.version = 2;
    t2.manager = Some(users[2].id);
    tx.update_team(&t2).expect("team 1 -> 2");
    assert!(matches!(
        tx.update_team(&t2),
        Err(StoreError::VersionConflict {
            expected: 1,
            actual: 2,
            ..
        })
    ));
    let mut u2 = users[2].clone();
    u2.version = 2;
    u2.roles = [AccessRole::ReadOnly, AccessRole::SalesManager].into();
    u2.teams = [teams[2].id].into();
    tx.update_user(&u2).expect("user 1 -> 2");
    assert_eq!(
        tx.user(u2.id).expect("get"),
        Some(u2.clone()),
        "write sees its own update"
    );
    tx.commit().expect("commit");
    let tx = store.read().expect("read");
    assert_eq!(tx.team(t2.id).expect("get"), Some(t2));
    assert_eq!(tx.user(u2.id).expect("get"), Some(u2));
}

/// `owner_in`, `actor_in` and `amount_set` list and count exactly like the
/// reference, for no owner, one, a few (the per-owner index walk of the
/// SQLite store) and many (its plain `IN`), in every order and direction.
pub fn owner_scoped_listings_match_reference<S: Store>(store: S) {
    let uid = |i: u128| UserId::from_uuid(uuid::Uuid::from_u128(5000 + i));
    let p = {
        let (name, stages, transitions, allow_reopen) = PipelineDef::sales_template("P")
            .validate()
            .expect("template");
        Pipeline {
            id: PipelineId::from_uuid(uuid::Uuid::from_u128(1)),
            version: 1,
            name,
            stages,
            transitions,
            allow_reopen,
            created_at: t0(),
            updated_at: t0(),
        }
    };
    let c = sample_customer(2, "C", t0());
    let mut deals = Vec::new();
    let mut acts = Vec::new();
    let mut events = Vec::new();
    {
        let mut tx = store.write().expect("write");
        tx.insert_pipeline(&p).expect("pipeline");
        tx.insert_customer(&c).expect("customer");
        for i in 0..120u128 {
            let at = t0() + Duration::seconds((i % 7) as i64);
            let owner = if i % 11 == 0 { None } else { Some(uid(i % 90)) };
            let d = Deal {
                id: DealId::from_uuid(uuid::Uuid::from_u128(10_000 + (i * 7919) % 1000)),
                version: 1,
                title: format!("deal {}", i % 13),
                customer: c.id,
                pipeline: p.id,
                stage: p.stages[0].key.clone(),
                status: DealStatus::Open,
                amount: (i % 3 == 0).then(|| Money::parse("10.00", "EUR").expect("money")),
                expected_close_date: None,
                owner,
                history: vec![StageChange {
                    from: None,
                    to: p.stages[0].key.clone(),
                    at,
                    by: Actor::System,
                }],
                won_at: None,
                lost_at: None,
                lost_reason: None,
                created_at: at,
                updated_at: at + Duration::seconds((i % 5) as i64),
                custom: Default::default(),
            };
            tx.insert_deal(&d).expect("deal");
            deals.push(d);
            let mut a = sample_activity(20_000 + i, at);
            a.owner = owner;
            tx.insert_activity(&a).expect("activity");
            acts.push(a);
            let e = tx
                .append_event(NewEvent {
                    id: EventId::from_uuid(uuid::Uuid::from_u128(30_000 + i)),
                    at,
                    actor: owner.map_or(Actor::System, Actor::User),
                    entity: EntityRef {
                        kind: EntityKind::Deal,
                        id: deals[deals.len() - 1].id.as_uuid(),
                    },
                    version: 1,
                    kind: EventKind::Created,
                    changes: vec![],
                })
                .expect("event");
            events.push(e);
        }
        tx.commit().expect("commit");
    }
    let sets: Vec<Option<Vec<UserId>>> = vec![
        None,
        Some(vec![]),
        Some(vec![uid(3)]),
        Some(vec![uid(4), uid(17), uid(60), uid(999)]),
        Some((0..70).map(uid).collect()),
        Some((0..90).rev().map(uid).collect()),
    ];
    let tx = store.read().expect("read");
    for set in &sets {
        for amount_set in [None, Some(true)] {
            let f = DealFilter {
                owner_in: set.clone(),
                amount_set,
                ..Default::default()
            };
            let want_count = deals.iter().filter(|d| f.matches(d)).count() as u64;
            assert_eq!(
                tx.count_deals(&f).expect("count"),
                want_count,
                "count {set:?}"
            );
            for order in [DealOrder::CreatedAt, DealOrder::UpdatedAt, DealOrder::Title] {
                for desc in [false, true] {
                    let mut q = DealQuery::new().filter(f.clone()).order(order).limit(9);
                    if desc {
                        q = q.desc();
                    }
                    let got = collect(|q| tx.deals(q), q.clone());
                    let want = collect(|q| paginate(deals.iter(), q), q);
                    assert_eq!(got, want, "deals owner_in {set:?} {order:?} desc={desc}");
                }
            }
        }
        let af = ActivityFilter {
            owner_in: set.clone(),
            ..Default::default()
        };
        let q = ActivityQuery::new().filter(af).limit(7);
        let got = collect(|q| tx.activities(q), q.clone());
        assert_eq!(
            got,
            collect(|q| paginate(acts.iter(), q), q),
            "activities {set:?}"
        );
        let ef = EventFilter {
            actor_in: set.clone(),
            ..Default::default()
        };
        let q = EventQuery::new().filter(ef).limit(8).desc();
        let got = collect(|q| tx.events(q), q.clone());
        assert_eq!(
            got,
            collect(|q| paginate(events.iter(), q), q),
            "events {set:?}"
        );
    }
}

fn sample_activity(id: u128, at: DateTime<Utc>) -> Activity {
    Activity {
        id: ActivityId::from_uuid(uuid::Uuid::from_u128(id)),
        version: 1,
        kind: ActivityKind::Note,
        subject: "note".into(),
        body: Some("text".into()),
        customer: None,
        deal: None,
        owner: None,
        direction: None,
        occurred_at: at,
        due_at: None,
        completed_at: None,
        created_at: at,
        updated_at: at,
        custom: Default::default(),
    }
}

fn events_since<S: Store>(store: &S, seq: u64) -> Vec<Event> {
    all_events(store)
        .into_iter()
        .filter(|e| e.seq > seq)
        .collect()
}

fn last_seq<S: Store>(store: &S) -> u64 {
    store.read().expect("read").last_event_seq().expect("seq")
}

/// Creating users and teams, membership, roles and deactivation: who may
/// do each, the one event each appends with the acting user, and the typed
/// refusals that append nothing.
pub fn administration_is_permissioned_and_audited<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let south = system.create_team(NewTeam::new(" South ")).expect("team");
    assert_eq!(south.name, "South");
    let admin = system
        .create_user(NewUser::new("Ada", "ada@example.com").role(AccessRole::Admin))
        .expect("admin");
    let boss = system
        .create_user(NewUser::new("Bea", "bea@example.com").role(AccessRole::SalesManager))
        .expect("manager");
    let rep = system
        .create_user(
            NewUser::new("Rob", "rob@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("rep");
    let north = crm
        .as_user(admin.id)
        .set_team_manager(north.id, north.version, Some(boss.id))
        .expect("manager set");
    assert_eq!((north.version, north.manager), (2, Some(boss.id)));

    // A rep may not create users, change roles or staff teams.
    let before = last_seq(crm.store());
    let r = crm.as_user(rep.id);
    match r.create_user(NewUser::new("Eve", "eve@example.com").role(AccessRole::Admin)) {
        Err(Error::PermissionDenied {
            resource: Resource::Users,
            operation: Operation::Create,
            needed: Scope::All,
            granted: Scope::None,
            ..
        }) => {}
        other => panic!("a rep creating a user must be refused, got {other:?}"),
    }
    match r.set_user_roles(rep.id, rep.version, [AccessRole::Admin]) {
        Err(Error::PermissionDenied {
            resource: Resource::Users,
            operation: Operation::ChangeRoles,
            ..
        }) => {}
        other => panic!("a rep granting themselves roles must be refused, got {other:?}"),
    }
    match r.add_team_member(south.id, rep.id) {
        Err(Error::PermissionDenied {
            resource: Resource::Teams,
            operation: Operation::ChangeMembership,
            needed: Scope::All,
            ..
        }) => {}
        other => panic!("a rep joining a team must be refused, got {other:?}"),
    }
    assert_eq!(last_seq(crm.store()), before, "refusals append nothing");
    assert_eq!(
        crm.as_user(admin.id).user(rep.id).expect("rep"),
        rep,
        "and change nothing"
    );

    // The manager staffs the team they manage, but no other.
    let b = crm.as_user(boss.id);
    let rep2 = b
        .add_team_member(north.id, admin.id)
        .expect("manager adds to own team");
    assert_eq!(rep2.teams.iter().copied().collect::<Vec<_>>(), [north.id]);
    assert_eq!(rep2.version, 2);
    match b.add_team_member(south.id, rep.id) {
        Err(Error::PermissionDenied {
            resource: Resource::Teams,
            needed: Scope::All,
            granted: Scope::Own,
            ..
        }) => {}
        other => panic!("a manager staffing another team must be refused, got {other:?}"),
    }
    let same = b.add_team_member(north.id, admin.id).expect("idempotent");
    assert_eq!(same.version, 2, "adding a member twice changes nothing");

    // Roles and deactivation need the admin.
    let a = crm.as_user(admin.id);
    let rep = a
        .set_user_roles(
            rep.id,
            rep.version,
            [AccessRole::SalesRep, AccessRole::Support],
        )
        .expect("roles");
    assert_eq!(rep.version, 2);
    let rep = a.deactivate_user(rep.id, rep.version).expect("deactivate");
    assert!(!rep.active);
    match crm.as_user(rep.id).deals(&DealQuery::new()) {
        Err(Error::ActorNotAllowed { .. }) => {}
        other => panic!("a deactivated user cannot act, got {other:?}"),
    }
    match crm
        .as_user(UserId::from_uuid(uuid::Uuid::from_u128(4242)))
        .customers(&CustomerQuery::new())
    {
        Err(Error::ActorNotAllowed { reason, .. }) => assert_eq!(reason, "no user has this id"),
        other => panic!("an unknown user cannot act, got {other:?}"),
    }
    match a.set_user_roles(rep.id, 1, [AccessRole::Admin]) {
        Err(Error::Conflict {
            expected: 1,
            actual: 3,
            ..
        }) => {}
        other => panic!("a stale version must conflict, got {other:?}"),
    }

    // Every change above is one event by its actor, in order.
    let log = events_since(crm.store(), 0);
    let summary: Vec<(EntityKind, EventKind, Actor, u64)> = log
        .iter()
        .map(|e| (e.entity.kind, e.kind, e.actor, e.version))
        .collect();
    assert_eq!(
        summary,
        [
            (EntityKind::Team, EventKind::Created, Actor::System, 1),
            (EntityKind::Team, EventKind::Created, Actor::System, 1),
            (EntityKind::User, EventKind::Created, Actor::System, 1),
            (EntityKind::User, EventKind::Created, Actor::System, 1),
            (EntityKind::User, EventKind::Created, Actor::System, 1),
            (
                EntityKind::Team,
                EventKind::Updated,
                Actor::User(admin.id),
                2
            ),
            (
                EntityKind::User,
                EventKind::Updated,
                Actor::User(boss.id),
                2
            ),
            (
                EntityKind::User,
                EventKind::Updated,
                Actor::User(admin.id),
                2
            ),
            (
                EntityKind::User,
                EventKind::Updated,
                Actor::User(admin.id),
                3
            ),
        ]
    );
    let roles = &log[7].changes[0];
    assert_eq!(roles.field, "roles");
    assert_eq!(roles.old, serde_json::json!(["sales_rep"]));
    assert_eq!(roles.new, serde_json::json!(["sales_rep", "support"]));
    let active = &log[8].changes[0];
    assert_eq!(
        (active.field.as_str(), &active.old, &active.new),
        (
            "active",
            &serde_json::json!(true),
            &serde_json::json!(false)
        )
    );
}

/// Field rules: support reads deals without amounts (and events without
/// amount changes), cannot filter on the amount, and a rep cannot hand a
/// deal to someone else; the refusals name the field and append nothing.
pub fn field_rules_hide_and_protect<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let rep = system
        .create_user(
            NewUser::new("Rob", "rob@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("rep");
    let mate = system
        .create_user(
            NewUser::new("Meg", "meg@example.com")
                .role(AccessRole::SalesRep)
                .team(north.id),
        )
        .expect("mate");
    let sup = system
        .create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))
        .expect("support");
    let p = system
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let r = crm.as_user(rep.id);
    let acme = r
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("customer");
    assert_eq!(acme.owner, Some(rep.id), "a user's new record is theirs");
    let deal = r
        .create_deal(
            NewDeal::new(acme.id, p.id, "Big")
                .amount(Money::parse("1200.50", "EUR").expect("money")),
        )
        .expect("deal");
    assert_eq!(deal.owner, Some(rep.id));

    let s = crm.as_user(sup.id);
    let seen = s.deal(deal.id).expect("support sees the deal");
    assert_eq!(
        (seen.amount, seen.title.as_str()),
        (None, "Big"),
        "amount hidden"
    );
    assert_eq!(s.hidden_fields().expect("hidden"), [Field::DealAmount]);
    let listed = s.deals(&DealQuery::new()).expect("list").items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].amount, None);
    match s.deals(&DealQuery::new().filter(DealFilter {
        amount_set: Some(true),
        ..Default::default()
    })) {
        Err(Error::FieldHidden {
            field: Field::DealAmount,
            ..
        }) => {}
        other => panic!("filtering on a hidden field must be an error, got {other:?}"),
    }
    match s.count_deals(&DealFilter {
        amount_set: Some(false),
        ..Default::default()
    }) {
        Err(Error::FieldHidden {
            field: Field::DealAmount,
            ..
        }) => {}
        other => panic!("counting on a hidden field must be an error, got {other:?}"),
    }
    // The rep sees the amount; the admin-free system too.
    assert_eq!(r.deal(deal.id).expect("rep").amount, deal.amount);
    assert_eq!(
        r.count_deals(&DealFilter {
            amount_set: Some(true),
            ..Default::default()
        })
        .expect("count"),
        1
    );
    // Support is the actor of its own events only; a rep's amount change
    // shows up for an admin-like reader but never with the amount for support.
    let deal = r
        .update_deal(
            deal.id,
            deal.version,
            DealPatch::default()
                .amount(Some(Money::parse("99", "EUR").expect("money")))
                .title("Bigger"),
        )
        .expect("rep updates own deal");
    let ro = system
        .create_user(
            NewUser::new("Ria", "ria@example.com")
                .role(AccessRole::ReadOnly)
                .role(AccessRole::Support),
        )
        .expect("read-only + support");
    let log = crm
        .as_user(ro.id)
        .events(&EventQuery::new().filter(EventFilter {
            entity: Some(EntityRef {
                kind: EntityKind::Deal,
                id: deal.id.as_uuid(),
            }),
            ..Default::default()
        }))
        .expect("events");
    assert_eq!(log.items.len(), 2, "read_only reads all events");
    assert!(
        log.items[1].changes.iter().any(|c| c.field == "amount"),
        "read_only does not hide amounts"
    );
    let sup_log = s.events(&EventQuery::new()).expect("events");
    assert!(
        sup_log.items.is_empty(),
        "support's event scope is its own changes"
    );

    // Support writes no deal; a rep may not give a deal away, nor touch a mate's.
    let before = last_seq(crm.store());
    match s.update_deal(deal.id, deal.version, DealPatch::default().title("x")) {
        Err(Error::PermissionDenied {
            resource: Resource::Deals,
            operation: Operation::Update,
            needed: Scope::All,
            granted: Scope::None,
            ..
        }) => {}
        other => panic!("support editing a deal must be refused, got {other:?}"),
    }
    match r.update_deal(
        deal.id,
        deal.version,
        DealPatch::default().owner(Some(mate.id)),
    ) {
        Err(Error::PermissionDenied {
            field: Some(Field::DealOwner),
            operation: Operation::ChangeOwner,
            ..
        }) => {}
        other => panic!("a rep reassigning must be refused, got {other:?}"),
    }
    let m = crm.as_user(mate.id);
    let seen = m.deal(deal.id).expect("a team mate reads the deal");
    let err = m
        .update_deal(deal.id, seen.version, DealPatch::default().title("mine"))
        .expect_err("a mate cannot edit it");
    assert_eq!(
        err.to_string(),
        format!(
            "permission denied: user {} may not update deals record {}: that needs write scope 'team' on deals, their roles grant 'own'",
            mate.id, deal.id
        )
    );
    match m.create_deal(NewDeal::new(acme.id, p.id, "for Rob").owner(rep.id)) {
        Err(Error::PermissionDenied {
            operation: Operation::Create,
            needed: Scope::Team,
            ..
        }) => {}
        other => panic!("a rep creating a deal for a mate must be refused, got {other:?}"),
    }
    assert_eq!(
        last_seq(crm.store()),
        before,
        "refused writes append nothing"
    );
    assert_eq!(
        system.deal(deal.id).expect("deal"),
        deal,
        "and change nothing"
    );
}

/// The built-in roles' scopes, written out by hand for the reference.
fn ref_scope(role: AccessRole, resource: Resource, write: bool) -> Scope {
    use AccessRole as R;
    use Resource as X;
    use Scope::*;
    match (role, resource, write) {
        (R::Admin, _, _) | (R::SalesManager, _, _) => All,
        (R::ReadOnly, _, false) => All,
        (R::ReadOnly, _, true) => None,
        (R::SalesRep, X::Events, false) => Own,
        (R::SalesRep, _, false) => Team,
        (R::SalesRep, _, true) => Own,
        (R::Support, X::Events, false) => Own,
        (R::Support, _, false) => All,
        (R::Support, X::Customers, true) => All,
        (R::Support, X::Activities, true) => Own,
        (R::Support, _, true) => None,
    }
}

/// The rule, evaluated record by record: may `actor` reach a record owned
/// by `owner` of `resource`?
fn ref_allows(
    actor: &User,
    users: &[User],
    teams: &[Team],
    resource: Resource,
    write: bool,
    owner: Option<UserId>,
) -> bool {
    let scope = actor
        .roles
        .iter()
        .map(|r| ref_scope(*r, resource, write))
        .max()
        .unwrap_or(Scope::None);
    let my_teams: Vec<TeamId> = teams
        .iter()
        .filter(|t| actor.teams.contains(&t.id) || t.manager == Some(actor.id))
        .map(|t| t.id)
        .collect();
    let mate = |o: UserId| {
        o == actor.id
            || users
                .iter()
                .any(|u| u.id == o && u.teams.iter().any(|t| my_teams.contains(t)))
    };
    match scope {
        Scope::All => true,
        Scope::Team => owner.is_some_and(mate),
        Scope::Own => owner == Some(actor.id),
        Scope::None => false,
    }
}

#[derive(Debug, Clone)]
struct AccessPlan {
    teams: usize,
    /// roles bit mask, team bit mask, active, manages team
    users: Vec<(u8, u8, bool, Option<usize>)>,
    /// owner index (None: unowned)
    customers: Vec<Option<usize>>,
    /// customer index, owner index, has amount
    deals: Vec<(usize, Option<usize>, bool)>,
    /// owner index, customer index
    activities: Vec<(Option<usize>, usize)>,
    /// acting user index (None: system), deal index
    events: Vec<(Option<usize>, usize)>,
    page: u32,
}

fn access_plan() -> impl Strategy<Value = AccessPlan> {
    (1usize..4, 1usize..6).prop_flat_map(|(teams, n)| {
        let user = (
            0u8..32,
            0u8..8,
            proptest::bool::weighted(0.85),
            proptest::option::of(0..teams),
        );
        let owner = proptest::option::weighted(0.85, 0..n);
        (
            proptest::collection::vec(user, n),
            proptest::collection::vec(owner.clone(), 1..5),
            proptest::collection::vec((0usize..8, owner.clone(), any::<bool>()), 0..8),
            proptest::collection::vec((owner.clone(), 0usize..8), 0..5),
            proptest::collection::vec((proptest::option::of(0..n), 0usize..8), 0..5),
            1u32..6,
        )
            .prop_map(move |(users, customers, deals, activities, events, page)| {
                AccessPlan {
                    teams,
                    users,
                    customers,
                    deals,
                    activities,
                    events,
                    page,
                }
            })
    })
}

/// Builds the plan's data with the system actor and returns the new users.
fn build_access_plan<S: Store>(crm: &Crm<S>, plan: &AccessPlan, case: u64) -> Vec<UserId> {
    let system = crm.as_actor(Actor::System);
    let teams: Vec<Team> = (0..plan.teams)
        .map(|i| {
            system
                .create_team(NewTeam::new(format!("team {i}")))
                .expect("team")
        })
        .collect();
    let mut users = Vec::new();
    for (i, (roles, tmask, _, _)) in plan.users.iter().enumerate() {
        let mut input = NewUser::new(format!("user {i}"), format!("c{case}u{i}@example.com"));
        for (bit, role) in AccessRole::ALL.into_iter().enumerate() {
            if roles & (1 << bit) != 0 {
                input = input.role(role);
            }
        }
        for (bit, t) in teams.iter().enumerate() {
            if tmask & (1 << bit) != 0 {
                input = input.team(t.id);
            }
        }
        users.push(system.create_user(input).expect("user"));
    }
    for (i, (_, _, _, manages)) in plan.users.iter().enumerate() {
        if let Some(t) = manages {
            let team = system.team(teams[*t].id).expect("team");
            system
                .set_team_manager(team.id, team.version, Some(users[i].id))
                .expect("manager");
        }
    }
    let owner = |o: &Option<usize>| o.map(|i| users[i].id);
    let p = system
        .create_pipeline(PipelineDef::sales_template("P"))
        .expect("pipeline");
    let customers: Vec<Customer> = plan
        .customers
        .iter()
        .map(|o| {
            let mut c = NewCustomer::organisation("Org").email("info@org.example");
            c.owner = owner(o);
            system.create_customer(c).expect("customer")
        })
        .collect();
    let mut deals = Vec::new();
    for (c, o, amount) in &plan.deals {
        let mut d = NewDeal::new(
            customers[c % customers.len()].id,
            p.id,
            format!("deal {}", deals.len() % 3),
        );
        d.owner = owner(o);
        if *amount {
            d = d.amount(Money::parse("10.00", "EUR").expect("money"));
        }
        deals.push(system.create_deal(d).expect("deal"));
    }
    for (o, c) in &plan.activities {
        let mut a = NewActivity::new(ActivityKind::Note, "note").body("secret");
        a.owner = owner(o);
        a.customer = Some(customers[c % customers.len()].id);
        system.log_activity(a).expect("activity");
    }
    // Deactivated last: an owner must be active when records are given to
    // them, and records keep an owner who was deactivated later.
    for (i, (_, _, active, _)) in plan.users.iter().enumerate() {
        if !active {
            system
                .deactivate_user(users[i].id, users[i].version)
                .expect("deactivate");
        }
    }
    if !deals.is_empty() {
        let mut tx = crm.store().write().expect("write");
        for (k, (actor, d)) in plan.events.iter().enumerate() {
            let deal = &deals[d % deals.len()];
            tx.append_event(NewEvent {
                id: EventId::from_uuid(uuid::Uuid::from_u128(
                    (u128::from(case) << 32) | (k as u128) | (1 << 100),
                )),
                at: t0(),
                actor: actor.map_or(Actor::System, |i| Actor::User(users[i].id)),
                entity: EntityRef {
                    kind: EntityKind::Deal,
                    id: deal.id.as_uuid(),
                },
                version: 1,
                kind: EventKind::Updated,
                changes: vec![
                    FieldChange {
                        field: "amount".into(),
                        old: serde_json::Value::Null,
                        new: serde_json::json!("5 EUR"),
                    },
                    FieldChange {
                        field: "title".into(),
                        old: serde_json::Value::Null,
                        new: serde_json::json!("t"),
                    },
                ],
            })
            .expect("event");
        }
        tx.commit().expect("commit");
    }
    users.into_iter().map(|u| u.id).collect()
}

/// Under random data, teams and actors, every read path returns exactly
/// the records and fields a brute-force evaluation of the rule allows,
/// record by record; every write outside the write scope is refused with
/// the right error and changes and appends nothing.
pub fn reads_under_random_actors_match_brute_force<S: Store>(store: S) {
    let (crm, _) = engine(store);
    // Records accumulate over the cases (one store), so each case costs more
    // than the last: at most 32 cases, whatever PROPTEST_CASES asks for.
    let mut runner = {
        let cases = runner(16).config().cases.min(32);
        TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        })
    };
    let case = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(&access_plan(), |plan| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let new_users = build_access_plan(&crm, &plan, n);
            // Users and teams (no write below changes them).
            let tx = crm.store().read().expect("read");
            let users = collect(|q| tx.users(q), UserQuery::new().limit(500));
            let teams = collect(|q| tx.teams(q), TeamQuery::new().limit(500));
            drop(tx);
            let page = plan.page;
            let mut actors: Vec<Option<&User>> = vec![None];
            actors.extend(
                new_users
                    .iter()
                    .map(|id| users.iter().find(|u| u.id == *id)),
            );
            for actor in actors {
                // The truth: everything stored, read without any scope
                // (again for each actor: the previous one's writes count).
                let tx = crm.store().read().expect("read");
                let customers = collect(|q| tx.customers(q), CustomerQuery::new().limit(500));
                let deals = collect(|q| tx.deals(q), DealQuery::new().limit(500));
                let activities = collect(|q| tx.activities(q), ActivityQuery::new().limit(500));
                let events = collect(|q| tx.events(q), EventQuery::new().limit(500));
                drop(tx);
                let (s, me) = match actor {
                    None => (crm.as_actor(Actor::System), None),
                    Some(u) => (crm.as_user(u.id), Some(u)),
                };
                if me.is_some_and(|u| !u.active) {
                    prop_assert!(
                        matches!(
                            s.deals(&DealQuery::new()),
                            Err(Error::ActorNotAllowed { .. })
                        ),
                        "a deactivated user reads nothing"
                    );
                    continue;
                }
                let allows = |r: Resource, owner: Option<UserId>| match me {
                    None => true,
                    Some(u) => ref_allows(u, &users, &teams, r, false, owner),
                };
                let may_write = |r: Resource, owner: Option<UserId>| match me {
                    None => true,
                    Some(u) => ref_allows(u, &users, &teams, r, true, owner),
                };
                let amount_hidden = me.is_some_and(|u| {
                    !u.roles.is_empty() && u.roles.iter().all(|r| *r == AccessRole::Support)
                });
                let who = format!("{:?}", me.map(|u| (&u.roles, &u.teams)));

                // Deals: listing (two orders), count, and every lookup by id.
                let want: Vec<Deal> = deals
                    .iter()
                    .filter(|d| allows(Resource::Deals, d.owner))
                    .map(|d| Deal {
                        amount: if amount_hidden { None } else { d.amount },
                        ..d.clone()
                    })
                    .collect();
                let got = collect(
                    |q| s.deals(q).map_err(to_store),
                    DealQuery::new().limit(page),
                );
                prop_assert_eq!(&got, &want, "deals listed by {}", who);
                let mut by_title = want.clone();
                by_title.sort_by(|a, b| (&b.title, b.id).cmp(&(&a.title, a.id)));
                let got = collect(
                    |q| s.deals(q).map_err(to_store),
                    DealQuery::new().order(DealOrder::Title).desc().limit(page),
                );
                prop_assert_eq!(&got, &by_title, "deals by title desc for {}", who);
                prop_assert_eq!(
                    s.count_deals(&DealFilter::default()).expect("count"),
                    want.len() as u64,
                    "deals counted by {}",
                    who
                );
                // Lookups by id: the newest records (older ones were looked up
                // in earlier cases, and the listings above cover them all).
                for d in deals.iter().rev().take(12) {
                    match s.deal(d.id) {
                        Ok(seen) => {
                            prop_assert!(
                                allows(Resource::Deals, d.owner),
                                "{} read an out-of-scope deal",
                                who
                            );
                            prop_assert_eq!(
                                seen.amount.is_none(),
                                amount_hidden || d.amount.is_none()
                            );
                        }
                        Err(Error::NotFound { .. }) => {
                            prop_assert!(
                                !allows(Resource::Deals, d.owner),
                                "{} lost an in-scope deal",
                                who
                            )
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("deal lookup: {e}"))),
                    }
                }
                // Customers and activities.
                let want: Vec<&Customer> = customers
                    .iter()
                    .filter(|c| allows(Resource::Customers, c.owner))
                    .collect();
                let got = collect(
                    |q| s.customers(q).map_err(to_store),
                    CustomerQuery::new().limit(page),
                );
                prop_assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    want.clone(),
                    "customers for {}",
                    who
                );
                prop_assert_eq!(
                    s.count_customers(&CustomerFilter::default())
                        .expect("count"),
                    want.len() as u64
                );
                for c in customers.iter().rev().take(8) {
                    prop_assert_eq!(
                        s.customer(c.id).is_ok(),
                        allows(Resource::Customers, c.owner)
                    );
                }
                let want: Vec<&Activity> = activities
                    .iter()
                    .filter(|a| allows(Resource::Activities, a.owner))
                    .collect();
                let got = collect(
                    |q| s.activities(q).map_err(to_store),
                    ActivityQuery::new().limit(page),
                );
                prop_assert_eq!(
                    got.iter().collect::<Vec<_>>(),
                    want,
                    "activities for {}",
                    who
                );
                for a in activities.iter().rev().take(8) {
                    prop_assert_eq!(
                        s.activity(a.id).is_ok(),
                        allows(Resource::Activities, a.owner)
                    );
                }
                // The event log, by acting user, with hidden changes removed.
                let want: Vec<Event> = events
                    .iter()
                    .filter(|e| allows(Resource::Events, e.actor.user()))
                    .map(|e| {
                        let mut e = e.clone();
                        if amount_hidden && e.entity.kind == EntityKind::Deal {
                            e.changes.retain(|c| c.field != "amount");
                        }
                        e
                    })
                    .collect();
                let got = collect(
                    |q| s.events(q).map_err(to_store),
                    EventQuery::new().limit(page),
                );
                prop_assert_eq!(&got, &want, "events for {}", who);

                // Writes outside the write scope: refused, nothing changes.
                // (On the newest records: earlier cases' ones were tried before.)
                let Some(me) = me else { continue };
                for d in deals.iter().rev().take(8) {
                    let before = (
                        last_seq(crm.store()),
                        crm.as_actor(Actor::System).deal(d.id).expect("deal"),
                    );
                    let result = s.update_deal(
                        d.id,
                        before.1.version,
                        DealPatch::default().title(format!("by {}", me.name)),
                    );
                    let readable = allows(Resource::Deals, d.owner);
                    let writable = may_write(Resource::Deals, d.owner);
                    match result {
                        Ok(_) => {
                            prop_assert!(readable && writable, "{} changed a deal it may not", who)
                        }
                        Err(e) => {
                            match (&e, readable) {
                                (Error::NotFound { .. }, false) => {}
                                (
                                    Error::PermissionDenied {
                                        resource: Resource::Deals,
                                        operation: Operation::Update,
                                        ..
                                    },
                                    true,
                                ) => {
                                    prop_assert!(!writable, "{} refused a write it may make", who)
                                }
                                _ => {
                                    return Err(TestCaseError::fail(format!(
                                        "unexpected refusal for {who}: {e}"
                                    )));
                                }
                            }
                            let after = (
                                last_seq(crm.store()),
                                crm.as_actor(Actor::System).deal(d.id).expect("deal"),
                            );
                            prop_assert_eq!(&before, &after, "a refused write changed something");
                        }
                    }
                }
                for c in customers.iter().rev().take(4) {
                    let before = (
                        last_seq(crm.store()),
                        crm.as_actor(Actor::System)
                            .customer(c.id)
                            .expect("customer"),
                    );
                    let result = s.update_customer(
                        c.id,
                        before.1.version,
                        CustomerPatch::default().name(format!("by {}", me.name)),
                    );
                    match result {
                        Ok(_) => prop_assert!(
                            allows(Resource::Customers, c.owner)
                                && may_write(Resource::Customers, c.owner)
                        ),
                        Err(Error::NotFound { .. }) => {
                            prop_assert!(!allows(Resource::Customers, c.owner))
                        }
                        Err(Error::PermissionDenied { .. }) => {
                            prop_assert!(!may_write(Resource::Customers, c.owner))
                        }
                        Err(e) => return Err(TestCaseError::fail(format!("customer update: {e}"))),
                    }
                    if !may_write(Resource::Customers, c.owner) {
                        let after = (
                            last_seq(crm.store()),
                            crm.as_actor(Actor::System)
                                .customer(c.id)
                                .expect("customer"),
                        );
                        prop_assert_eq!(
                            &before,
                            &after,
                            "a refused customer write changed something"
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("access property failed: {e}"));
}

fn to_store(e: Error) -> StoreError {
    StoreError::backend("facade read", e.to_string())
}
