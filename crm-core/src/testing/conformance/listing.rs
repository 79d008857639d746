//! Listings and their cursors against the reference pagination.

use super::*;

pub(super) fn check_listing<T, F, O>(
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
