//! Saved segments, scans, and segment evaluation (with whatever the store
//! pushes down) against the reference evaluator.

use super::*;

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
