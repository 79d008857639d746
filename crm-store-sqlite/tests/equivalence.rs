//! Backend equivalence: random sequences of facade operations, applied to a
//! `MemoryStore` (the reference) and a `SqliteStore` with the same clock and
//! id sequence, give the same result after every operation (the same record,
//! or an error with the same message) and the same state at the end: every
//! record, many paginated listings collected page by page, and the event log.
//!
//! Cases: 32 by default (the CI machine has 2 cores); set `PROPTEST_CASES`
//! for more.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use crm_core::query::{ActivityFilter, ActivityOrder, CustomerOrder, DealOrder, PipelineOrder};
use crm_core::testing::strategies;
use crm_core::*;
use crm_store_memory::MemoryStore;
use crm_store_sqlite::SqliteStore;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;

const NAMES: &[&str] = &[
    "Ada", "ada", "ADA Corp", "Émile", "Zoë", "bob", "Bob", "Ümit", "eve", "Carl", "  ", "a%b_c",
];
const TAGS: &[&str] = &["vip", "berlin", "Key Account", "bad,tag"];
const EMAILS: &[&str] = &[
    "ada@example.org",
    "bob@example.com",
    "broken@",
    "ADA@Example.org",
];

fn user(i: u8) -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(1000 + u128::from(i)))
}

/// Stores users 0 and 1 as admins (the actors of these scenarios) and
/// user 2 with no role (an owner only: an owner must be a stored, active
/// user), the same way on every backend.
fn with_admins<S: Store>(crm: Crm<S>) -> Crm<S> {
    {
        let mut tx = crm.store().write().expect("write");
        for i in 0..3u8 {
            tx.insert_user(&User {
                id: user(i),
                version: 1,
                name: format!("User {i}"),
                email: format!("user{i}@example.com").parse().expect("email"),
                active: true,
                roles: if i < 2 {
                    [AccessRole::Admin].into()
                } else {
                    Default::default()
                },
                teams: Default::default(),
                created_at: t0(),
                updated_at: t0(),
            })
            .expect("insert admin");
        }
        tx.commit().expect("commit");
    }
    crm
}

#[derive(Debug, Clone)]
enum CustomerChange {
    Name(usize),
    Lifecycle(u8),
    AddTag(usize),
    RemoveTag(usize),
    Owner(Option<u8>),
    Emails(Vec<usize>),
    Organisation(Option<usize>),
}

#[derive(Debug, Clone)]
enum DealChange {
    Title(usize),
    Amount(Option<(i64, u32, bool)>),
    CloseDate(Option<u16>),
    Owner(Option<u8>),
}

#[derive(Debug, Clone)]
enum Op {
    Advance(i64),
    CreateCustomer {
        name: usize,
        person: bool,
        email: Option<usize>,
        tag: Option<usize>,
        owner: Option<u8>,
        org: Option<usize>,
        lifecycle: u8,
    },
    UpdateCustomer {
        target: usize,
        stale: bool,
        change: CustomerChange,
    },
    CreatePipeline(Option<PipelineDef>),
    UpdatePipeline {
        target: usize,
        stale: bool,
        def: PipelineDef,
        map: bool,
    },
    CreateDeal {
        customer: usize,
        pipeline: usize,
        title: usize,
        stage: Option<usize>,
        amount: Option<(i64, u32)>,
        owner: Option<u8>,
    },
    UpdateDeal {
        target: usize,
        stale: bool,
        change: DealChange,
    },
    MoveDeal {
        target: usize,
        stale: bool,
        stage: Option<usize>,
    },
    Win {
        target: usize,
        stale: bool,
    },
    Lose {
        target: usize,
        reason: usize,
    },
    Reopen {
        target: usize,
        stage: Option<usize>,
    },
    LogActivity {
        kind: u8,
        customer: Option<usize>,
        deal: Option<usize>,
        due: Option<i64>,
        outbound: Option<bool>,
        owner: Option<u8>,
    },
    CompleteTask {
        target: usize,
        stale: bool,
    },
}

fn customer_change() -> impl Strategy<Value = CustomerChange> {
    prop_oneof![
        (0..NAMES.len()).prop_map(CustomerChange::Name),
        (0u8..4).prop_map(CustomerChange::Lifecycle),
        (0..TAGS.len()).prop_map(CustomerChange::AddTag),
        (0..TAGS.len()).prop_map(CustomerChange::RemoveTag),
        proptest::option::of(0u8..3).prop_map(CustomerChange::Owner),
        proptest::collection::vec(0..EMAILS.len(), 0..3).prop_map(CustomerChange::Emails),
        proptest::option::of(any::<usize>()).prop_map(CustomerChange::Organisation),
    ]
}

fn deal_change() -> impl Strategy<Value = DealChange> {
    prop_oneof![
        (0..NAMES.len()).prop_map(DealChange::Title),
        proptest::option::of((-5i64..100_000, 0u32..4, any::<bool>())).prop_map(DealChange::Amount),
        proptest::option::of(0u16..800).prop_map(DealChange::CloseDate),
        proptest::option::of(0u8..3).prop_map(DealChange::Owner),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let idx = any::<usize>();
    prop_oneof![
        1 => (0i64..180).prop_map(Op::Advance),
        4 => (
            0..NAMES.len(),
            any::<bool>(),
            proptest::option::of(0..EMAILS.len()),
            proptest::option::of(0..TAGS.len()),
            proptest::option::of(0u8..3),
            proptest::option::weighted(0.2, idx),
            0u8..4,
        )
            .prop_map(|(name, person, email, tag, owner, org, lifecycle)| Op::CreateCustomer {
                name,
                person,
                email,
                tag,
                owner,
                org,
                lifecycle
            }),
        3 => (idx, proptest::bool::weighted(0.15), customer_change())
            .prop_map(|(target, stale, change)| Op::UpdateCustomer { target, stale, change }),
        1 => proptest::option::weighted(0.7, strategies::pipeline_def()).prop_map(Op::CreatePipeline),
        1 => (idx, proptest::bool::weighted(0.15), strategies::pipeline_def(), any::<bool>())
            .prop_map(|(target, stale, def, map)| Op::UpdatePipeline { target, stale, def, map }),
        4 => (
            idx,
            idx,
            0..NAMES.len(),
            proptest::option::weighted(0.3, idx),
            proptest::option::of((0i64..1_000_000, 0u32..4)),
            proptest::option::of(0u8..3),
        )
            .prop_map(|(customer, pipeline, title, stage, amount, owner)| Op::CreateDeal {
                customer,
                pipeline,
                title,
                stage,
                amount,
                owner
            }),
        2 => (idx, proptest::bool::weighted(0.15), deal_change())
            .prop_map(|(target, stale, change)| Op::UpdateDeal { target, stale, change }),
        5 => (idx, proptest::bool::weighted(0.1), proptest::option::weighted(0.9, idx))
            .prop_map(|(target, stale, stage)| Op::MoveDeal { target, stale, stage }),
        2 => (idx, proptest::bool::weighted(0.1)).prop_map(|(target, stale)| Op::Win { target, stale }),
        2 => (idx, 0usize..3).prop_map(|(target, reason)| Op::Lose { target, reason }),
        2 => (idx, proptest::option::of(idx)).prop_map(|(target, stage)| Op::Reopen { target, stage }),
        3 => (
            0u8..5,
            proptest::option::of(idx),
            proptest::option::of(idx),
            proptest::option::of(-3000i64..3000),
            proptest::option::of(any::<bool>()),
            proptest::option::of(0u8..3),
        )
            .prop_map(|(kind, customer, deal, due, outbound, owner)| Op::LogActivity {
                kind,
                customer,
                deal,
                due,
                outbound,
                owner
            }),
        2 => (idx, proptest::bool::weighted(0.1)).prop_map(|(target, stale)| Op::CompleteTask { target, stale }),
    ]
}

/// What an operation returned, comparable across backends.
#[derive(Debug, PartialEq)]
enum Outcome {
    Customer(Box<Customer>),
    Pipeline(Box<Pipeline>),
    Deal(Box<Deal>),
    Activity(Box<Activity>),
    Error(String),
    Skipped,
}

fn outcome<T>(r: Result<T>, wrap: fn(Box<T>) -> Outcome) -> Outcome {
    match r {
        Ok(v) => wrap(Box::new(v)),
        Err(e) => Outcome::Error(e.to_string()),
    }
}

/// Ids of the records created so far (identical in both engines).
#[derive(Default)]
struct Known {
    customers: Vec<CustomerId>,
    pipelines: Vec<PipelineId>,
    deals: Vec<DealId>,
    activities: Vec<ActivityId>,
}

fn pick<T: Copy>(items: &[T], i: usize, missing: T) -> T {
    if items.is_empty() {
        missing
    } else {
        items[i % items.len()]
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default()
}

fn ghost() -> uuid::Uuid {
    uuid::Uuid::from_u128(0xdead)
}

/// Applies `op` to one engine. `reference` is the memory engine, used to
/// look up current versions and stages (the same in both, or the test fails).
fn apply<S: Store>(crm: &Crm<S>, reference: &Crm<MemoryStore>, known: &Known, op: &Op) -> Outcome {
    let s = crm.as_actor(Actor::User(user(0)));
    let r = reference.as_actor(Actor::System);
    let version = |v: u64, stale: bool| if stale { v + 1 } else { v };
    match op {
        Op::Advance(_) => Outcome::Skipped,
        Op::CreateCustomer {
            name,
            person,
            email,
            tag,
            owner,
            org,
            lifecycle,
        } => {
            let mut input = if *person {
                NewCustomer::person(NAMES[*name])
            } else {
                NewCustomer::organisation(NAMES[*name])
            };
            if let Some(e) = email {
                input = input.email(EMAILS[*e]);
            }
            if let Some(t) = tag {
                input = input.tag(TAGS[*t]);
            }
            if let Some(o) = owner {
                input = input.owner(user(*o));
            }
            if let Some(o) = org {
                input = input.works_at(pick(&known.customers, *o, CustomerId::from_uuid(ghost())));
            }
            input = input.lifecycle(
                [
                    Lifecycle::Lead,
                    Lifecycle::Prospect,
                    Lifecycle::Customer,
                    Lifecycle::Churned,
                ][*lifecycle as usize % 4],
            );
            outcome(s.create_customer(input), Outcome::Customer)
        }
        Op::UpdateCustomer {
            target,
            stale,
            change,
        } => {
            let id = pick(&known.customers, *target, CustomerId::from_uuid(ghost()));
            let v = r.customer(id).map(|c| c.version).unwrap_or(1);
            let patch = match change {
                CustomerChange::Name(n) => CustomerPatch::default().name(NAMES[*n]),
                CustomerChange::Lifecycle(l) => CustomerPatch::default().lifecycle(
                    [
                        Lifecycle::Lead,
                        Lifecycle::Prospect,
                        Lifecycle::Customer,
                        Lifecycle::Churned,
                    ][*l as usize % 4],
                ),
                CustomerChange::AddTag(t) => CustomerPatch::default().add_tag(TAGS[*t]),
                CustomerChange::RemoveTag(t) => CustomerPatch::default().remove_tag(TAGS[*t]),
                CustomerChange::Owner(o) => CustomerPatch::default().owner(o.map(user)),
                CustomerChange::Emails(es) => {
                    CustomerPatch::default().emails(es.iter().map(|e| EMAILS[*e]))
                }
                CustomerChange::Organisation(o) => CustomerPatch::default().organisation(
                    o.map(|o| pick(&known.customers, o, CustomerId::from_uuid(ghost()))),
                ),
            };
            outcome(
                s.update_customer(id, version(v, *stale), patch),
                Outcome::Customer,
            )
        }
        Op::CreatePipeline(def) => {
            let def = def.clone().unwrap_or_else(|| {
                if known.pipelines.len() % 3 == 2 {
                    PipelineDef::new("Broken") // no stages: refused
                } else {
                    PipelineDef::sales_template("Sales")
                }
            });
            outcome(s.create_pipeline(def), Outcome::Pipeline)
        }
        Op::UpdatePipeline {
            target,
            stale,
            def,
            map,
        } => {
            let id = pick(&known.pipelines, *target, PipelineId::from_uuid(ghost()));
            let Ok(current) = r.pipeline(id) else {
                return outcome(
                    s.update_pipeline(id, 1, def.clone(), &StageMapping::new()),
                    Outcome::Pipeline,
                );
            };
            let mut mapping = StageMapping::new();
            if *map {
                for old in &current.stages {
                    if def.stages.iter().all(|n| n.key != old.key.as_str())
                        && let Some(to) = def.stages.iter().find(|n| n.kind == old.kind)
                    {
                        mapping.insert(old.key.as_str().to_owned(), to.key.clone());
                    }
                }
            }
            outcome(
                s.update_pipeline(id, version(current.version, *stale), def.clone(), &mapping),
                Outcome::Pipeline,
            )
        }
        Op::CreateDeal {
            customer,
            pipeline,
            title,
            stage,
            amount,
            owner,
        } => {
            let c = pick(&known.customers, *customer, CustomerId::from_uuid(ghost()));
            let p = pick(&known.pipelines, *pipeline, PipelineId::from_uuid(ghost()));
            let mut input = NewDeal::new(c, p, NAMES[*title]);
            if let Some(st) = stage {
                let keys: Vec<String> = r
                    .pipeline(p)
                    .map(|p| p.stages.iter().map(|s| s.key.as_str().to_owned()).collect())
                    .unwrap_or_default();
                input = input.stage(
                    keys.get(st % keys.len().max(1))
                        .cloned()
                        .unwrap_or_else(|| "nowhere".into()),
                );
            }
            if let Some((n, scale)) = amount {
                input = input.amount(Money::new(Decimal::new(*n, *scale), Currency::EUR));
            }
            if let Some(o) = owner {
                input = input.owner(user(*o));
            }
            outcome(s.create_deal(input), Outcome::Deal)
        }
        Op::UpdateDeal {
            target,
            stale,
            change,
        } => {
            let id = pick(&known.deals, *target, DealId::from_uuid(ghost()));
            let v = r.deal(id).map(|d| d.version).unwrap_or(1);
            let patch = match change {
                DealChange::Title(n) => DealPatch::default().title(NAMES[*n]),
                DealChange::Amount(a) => DealPatch::default().amount(a.map(|(n, scale, usd)| {
                    Money::new(
                        Decimal::new(n, scale),
                        if usd { Currency::USD } else { Currency::JPY },
                    )
                })),
                DealChange::CloseDate(d) => DealPatch::default().expected_close_date(d.map(|d| {
                    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()
                        + chrono::Days::new(u64::from(d))
                })),
                DealChange::Owner(o) => DealPatch::default().owner(o.map(user)),
            };
            outcome(s.update_deal(id, version(v, *stale), patch), Outcome::Deal)
        }
        Op::MoveDeal {
            target,
            stale,
            stage,
        } => {
            let id = pick(&known.deals, *target, DealId::from_uuid(ghost()));
            let d = r.deal(id).ok();
            let key = match (stage, &d) {
                (Some(i), Some(d)) => r
                    .pipeline(d.pipeline)
                    .map(|p| p.stages[i % p.stages.len()].key.as_str().to_owned())
                    .unwrap_or_default(),
                _ => "nowhere".to_owned(),
            };
            let v = d.map(|d| d.version).unwrap_or(1);
            outcome(s.move_deal(id, version(v, *stale), &key), Outcome::Deal)
        }
        Op::Win { target, stale } => {
            let id = pick(&known.deals, *target, DealId::from_uuid(ghost()));
            let v = r.deal(id).map(|d| d.version).unwrap_or(1);
            outcome(s.win_deal(id, version(v, *stale)), Outcome::Deal)
        }
        Op::Lose { target, reason } => {
            let id = pick(&known.deals, *target, DealId::from_uuid(ghost()));
            let v = r.deal(id).map(|d| d.version).unwrap_or(1);
            outcome(
                s.lose_deal(
                    id,
                    v,
                    ["", "Too expensive", "  went with a competitor  "][*reason],
                ),
                Outcome::Deal,
            )
        }
        Op::Reopen { target, stage } => {
            let id = pick(&known.deals, *target, DealId::from_uuid(ghost()));
            let d = r.deal(id).ok();
            let key = match (stage, &d) {
                (Some(i), Some(d)) => r
                    .pipeline(d.pipeline)
                    .ok()
                    .map(|p| p.stages[i % p.stages.len()].key.as_str().to_owned()),
                _ => None,
            };
            let v = d.map(|d| d.version).unwrap_or(1);
            outcome(s.reopen_deal(id, v, key.as_deref()), Outcome::Deal)
        }
        Op::LogActivity {
            kind,
            customer,
            deal,
            due,
            outbound,
            owner,
        } => {
            let kind = [
                ActivityKind::Call,
                ActivityKind::Email,
                ActivityKind::Meeting,
                ActivityKind::Note,
                ActivityKind::Task,
            ][*kind as usize % 5];
            let mut input = NewActivity::new(kind, format!("{kind} #{}", known.activities.len()));
            input.customer =
                customer.map(|c| pick(&known.customers, c, CustomerId::from_uuid(ghost())));
            input.deal = deal.map(|d| pick(&known.deals, d, DealId::from_uuid(ghost())));
            input.due_at = due.map(|m| t0() + Duration::minutes(m));
            input.direction = outbound.map(|o| {
                if o {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                }
            });
            input.owner = owner.map(user);
            outcome(s.log_activity(input), Outcome::Activity)
        }
        Op::CompleteTask { target, stale } => {
            let id = pick(&known.activities, *target, ActivityId::from_uuid(ghost()));
            let v = r.activity(id).map(|a| a.version).unwrap_or(1);
            outcome(s.complete_task(id, version(v, *stale)), Outcome::Activity)
        }
    }
}

fn collect<T, F: Clone, O: Clone>(
    mut fetch: impl FnMut(&Query<F, O>) -> Result<Page<T>>,
    mut q: Query<F, O>,
) -> Vec<Page<T>> {
    let mut pages = Vec::new();
    loop {
        let page = fetch(&q).expect("listing");
        let next = page.next.clone();
        pages.push(page);
        match next {
            Some(c) => q.page.after = Some(c),
            None => return pages,
        }
    }
}

fn directions() -> [SortDirection; 2] {
    [SortDirection::Asc, SortDirection::Desc]
}

/// Every listing and count the engines answer identically (page by page,
/// cursors included).
fn compare_state(
    a: &Session<'_, MemoryStore>,
    b: &Session<'_, SqliteStore>,
    known: &Known,
) -> std::result::Result<(), TestCaseError> {
    for &id in &known.customers {
        prop_assert_eq!(a.customer(id).ok(), b.customer(id).ok());
    }
    for &id in &known.pipelines {
        prop_assert_eq!(a.pipeline(id).ok(), b.pipeline(id).ok());
    }
    for &id in &known.deals {
        prop_assert_eq!(a.deal(id).ok(), b.deal(id).ok());
    }
    for &id in &known.activities {
        prop_assert_eq!(a.activity(id).ok(), b.activity(id).ok());
    }
    let first_customer = known.customers.first().copied();
    let customer_filters = [
        CustomerFilter::default(),
        CustomerFilter {
            lifecycle: Some(Lifecycle::Customer),
            ..Default::default()
        },
        CustomerFilter {
            tag: Tag::parse("vip").ok(),
            ..Default::default()
        },
        CustomerFilter {
            name_contains: Some("a".into()),
            ..Default::default()
        },
        CustomerFilter {
            name_contains: Some("%".into()),
            ..Default::default()
        },
        CustomerFilter {
            owner: Some(user(1)),
            kind: Some(PartyKind::Person),
            ..Default::default()
        },
        CustomerFilter {
            email: Email::parse("ada@example.org").ok(),
            ..Default::default()
        },
        CustomerFilter {
            organisation: first_customer,
            ..Default::default()
        },
        CustomerFilter {
            role: Some(Role::Supplier),
            ..Default::default()
        },
    ];
    for (i, f) in customer_filters.iter().enumerate() {
        prop_assert_eq!(
            a.count_customers(f).expect("count"),
            b.count_customers(f).expect("count")
        );
        for order in [
            CustomerOrder::CreatedAt,
            CustomerOrder::UpdatedAt,
            CustomerOrder::Name,
        ] {
            for dir in directions() {
                let q = CustomerQuery {
                    filter: f.clone(),
                    order,
                    direction: dir,
                    page: PageRequest {
                        limit: [1, 3, 50][i % 3],
                        after: None,
                    },
                };
                prop_assert_eq!(
                    collect(|q| a.customers(q), q.clone()),
                    collect(|q| b.customers(q), q),
                    "customers {:?} {:?} {:?}",
                    f,
                    order,
                    dir
                );
            }
        }
    }
    let first_pipeline = known.pipelines.first().copied();
    let deal_filters = [
        DealFilter::default(),
        DealFilter {
            status: Some(DealStatus::Won),
            ..Default::default()
        },
        DealFilter {
            status: Some(DealStatus::Open),
            owner: Some(user(2)),
            ..Default::default()
        },
        DealFilter {
            pipeline: first_pipeline,
            stage: StageKey::new("qualified").ok(),
            ..Default::default()
        },
        DealFilter {
            customer: first_customer,
            ..Default::default()
        },
    ];
    for (i, f) in deal_filters.iter().enumerate() {
        prop_assert_eq!(
            a.count_deals(f).expect("count"),
            b.count_deals(f).expect("count")
        );
        for order in [DealOrder::CreatedAt, DealOrder::UpdatedAt, DealOrder::Title] {
            for dir in directions() {
                let q = DealQuery {
                    filter: f.clone(),
                    order,
                    direction: dir,
                    page: PageRequest {
                        limit: [2, 7, 1000][i % 3],
                        after: None,
                    },
                };
                prop_assert_eq!(
                    collect(|q| a.deals(q), q.clone()),
                    collect(|q| b.deals(q), q),
                    "deals {:?} {:?} {:?}",
                    f,
                    order,
                    dir
                );
            }
        }
    }
    let activity_filters = [
        ActivityFilter::default(),
        ActivityFilter {
            open_tasks_only: true,
            ..Default::default()
        },
        ActivityFilter {
            due_before: Some(t0()),
            kind: Some(ActivityKind::Task),
            ..Default::default()
        },
        ActivityFilter {
            customer: first_customer,
            owner: Some(user(0)),
            ..Default::default()
        },
        ActivityFilter {
            deal: known.deals.first().copied(),
            ..Default::default()
        },
    ];
    for (i, f) in activity_filters.iter().enumerate() {
        for order in [ActivityOrder::OccurredAt, ActivityOrder::CreatedAt] {
            for dir in directions() {
                let q = ActivityQuery {
                    filter: f.clone(),
                    order,
                    direction: dir,
                    page: PageRequest {
                        limit: [1, 4, 100][i % 3],
                        after: None,
                    },
                };
                prop_assert_eq!(
                    collect(|q| a.activities(q), q.clone()),
                    collect(|q| b.activities(q), q),
                    "activities {:?} {:?} {:?}",
                    f,
                    order,
                    dir
                );
            }
        }
    }
    for order in [PipelineOrder::CreatedAt, PipelineOrder::Name] {
        for dir in directions() {
            let q = PipelineQuery {
                filter: Default::default(),
                order,
                direction: dir,
                page: PageRequest {
                    limit: 2,
                    after: None,
                },
            };
            prop_assert_eq!(
                collect(|q| a.pipelines(q), q.clone()),
                collect(|q| b.pipelines(q), q)
            );
        }
    }
    let event_filters = [
        EventFilter::default(),
        EventFilter {
            entity_kind: Some(EntityKind::Deal),
            ..Default::default()
        },
        EventFilter {
            actor: Some(Actor::System),
            ..Default::default()
        },
        EventFilter {
            actor: Some(Actor::User(user(0))),
            from: Some(t0() + Duration::minutes(30)),
            to: Some(t0() + Duration::hours(20)),
            ..Default::default()
        },
        EventFilter {
            entity: first_customer.map(|c| EntityRef {
                kind: EntityKind::Customer,
                id: c.as_uuid(),
            }),
            ..Default::default()
        },
    ];
    for (i, f) in event_filters.iter().enumerate() {
        for dir in directions() {
            let q = EventQuery {
                filter: f.clone(),
                order: EventOrder::Seq,
                direction: dir,
                page: PageRequest {
                    limit: [5, 1000, 3][i % 3],
                    after: None,
                },
            };
            prop_assert_eq!(
                collect(|q| a.events(q), q.clone()),
                collect(|q| b.events(q), q),
                "events {:?} {:?}",
                f,
                dir
            );
        }
    }
    Ok(())
}

fn run_case(ops: &[Op]) -> std::result::Result<(), TestCaseError> {
    let clock = Arc::new(ManualClock::new(t0()));
    let mem = with_admins(
        Crm::new(MemoryStore::new())
            .with_clock(clock.clone())
            .with_ids(SequentialIds::new(1)),
    );
    let sql = with_admins(
        Crm::new(SqliteStore::open_in_memory().expect("open"))
            .with_clock(clock.clone())
            .with_ids(SequentialIds::new(1)),
    );
    let mut known = Known::default();
    for (step, op) in ops.iter().enumerate() {
        if let Op::Advance(minutes) = op {
            clock.advance(Duration::minutes(*minutes));
            continue;
        }
        // SQLite first: both runs then look versions and stages up in the
        // reference as it was before the operation.
        let got = apply(&sql, &mem, &known, op);
        let expected = apply(&mem, &mem, &known, op);
        prop_assert_eq!(&got, &expected, "step {}: {:?}", step, op);
        match expected {
            Outcome::Customer(c) if !known.customers.contains(&c.id) => known.customers.push(c.id),
            Outcome::Pipeline(p) if !known.pipelines.contains(&p.id) => known.pipelines.push(p.id),
            Outcome::Deal(d) if !known.deals.contains(&d.id) => known.deals.push(d.id),
            Outcome::Activity(a) if !known.activities.contains(&a.id) => {
                known.activities.push(a.id)
            }
            _ => {}
        }
    }
    compare_state(
        &mem.as_actor(Actor::System),
        &sql.as_actor(Actor::System),
        &known,
    )
}

#[test]
fn memory_and_sqlite_backends_are_equivalent() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..40), |ops| {
            run_case(&ops)
        })
        .unwrap_or_else(|e| panic!("backends differ: {e}"));
}

/// The property is only as good as the operations it exercises: a fixed
/// sequence that must produce successes and each kind of failure.
#[test]
fn fixed_sequence_exercises_successes_and_failures() {
    let ops = vec![
        Op::CreatePipeline(None),
        Op::CreateCustomer {
            name: 0,
            person: false,
            email: Some(0),
            tag: Some(0),
            owner: Some(1),
            org: None,
            lifecycle: 0,
        },
        Op::CreateCustomer {
            name: 10,
            person: true,
            email: None,
            tag: None,
            owner: None,
            org: None,
            lifecycle: 0,
        },
        Op::CreateCustomer {
            name: 1,
            person: true,
            email: Some(2),
            tag: None,
            owner: None,
            org: Some(0),
            lifecycle: 0,
        },
        Op::CreateCustomer {
            name: 5,
            person: true,
            email: Some(1),
            tag: Some(2),
            owner: Some(2),
            org: Some(0),
            lifecycle: 1,
        },
        Op::CreateDeal {
            customer: 0,
            pipeline: 0,
            title: 2,
            stage: None,
            amount: Some((1050, 2)),
            owner: Some(2),
        },
        Op::CreateDeal {
            customer: 1,
            pipeline: 0,
            title: 3,
            stage: None,
            amount: Some((1, 3)),
            owner: None,
        },
        Op::Advance(10),
        Op::MoveDeal {
            target: 0,
            stale: false,
            stage: Some(1),
        },
        Op::MoveDeal {
            target: 0,
            stale: true,
            stage: Some(2),
        },
        Op::MoveDeal {
            target: 0,
            stale: false,
            stage: Some(2),
        },
        Op::Win {
            target: 0,
            stale: false,
        },
        Op::Reopen {
            target: 0,
            stage: None,
        },
        Op::Lose {
            target: 0,
            reason: 0,
        },
        Op::Lose {
            target: 0,
            reason: 2,
        },
        Op::LogActivity {
            kind: 4,
            customer: Some(0),
            deal: None,
            due: Some(60),
            outbound: None,
            owner: Some(0),
        },
        Op::LogActivity {
            kind: 0,
            customer: None,
            deal: None,
            due: None,
            outbound: Some(true),
            owner: None,
        },
        Op::CompleteTask {
            target: 0,
            stale: true,
        },
        Op::CompleteTask {
            target: 0,
            stale: false,
        },
        Op::CompleteTask {
            target: 0,
            stale: false,
        },
        Op::UpdateCustomer {
            target: 0,
            stale: false,
            change: CustomerChange::Lifecycle(3),
        },
        Op::UpdateCustomer {
            target: 0,
            stale: false,
            change: CustomerChange::Emails(vec![1, 0, 1]),
        },
        Op::UpdatePipeline {
            target: 0,
            stale: false,
            def: PipelineDef::new("Tiny")
                .stage(StageDef::open("s0", "S0", 5))
                .stage(StageDef::won("won", "Won"))
                .stage(StageDef::lost("lost0", "Lost")),
            map: true,
        },
    ];
    run_case(&ops).unwrap_or_else(|e| panic!("{e}"));
    // The same sequence hits both outcomes on the reference engine.
    let clock = Arc::new(ManualClock::new(t0()));
    let mem = with_admins(
        Crm::new(MemoryStore::new())
            .with_clock(clock)
            .with_ids(SequentialIds::new(1)),
    );
    let mut known = Known::default();
    let (mut ok, mut err) = (0, 0);
    for op in &ops {
        match apply(&mem, &mem, &known, op) {
            Outcome::Error(_) => err += 1,
            Outcome::Skipped => {}
            Outcome::Customer(c) => {
                ok += 1;
                if !known.customers.contains(&c.id) {
                    known.customers.push(c.id)
                }
            }
            Outcome::Pipeline(p) => {
                ok += 1;
                if !known.pipelines.contains(&p.id) {
                    known.pipelines.push(p.id)
                }
            }
            Outcome::Deal(d) => {
                ok += 1;
                if !known.deals.contains(&d.id) {
                    known.deals.push(d.id)
                }
            }
            Outcome::Activity(a) => {
                ok += 1;
                if !known.activities.contains(&a.id) {
                    known.activities.push(a.id)
                }
            }
        }
    }
    assert!(ok >= 10 && err >= 6, "ok {ok}, err {err}");
}

/// Many writes and reads of the same records inside one batch (where the
/// SQLite store serves reads of records the transaction wrote from its
/// cache), then the committed state, are the same on both backends.
/// The log of a scenario and the state it leaves.
type Snapshot = (
    Vec<String>,
    Vec<Customer>,
    Vec<Deal>,
    Vec<Pipeline>,
    Vec<Event>,
);

#[test]
fn one_long_batch_is_equivalent() {
    fn scenario<S: Store>(crm: &Crm<S>) -> Snapshot {
        let s = crm.as_actor(Actor::User(user(1)));
        let mut log = Vec::new();
        let result = s.batch(|b| {
            let p = b.create_pipeline(PipelineDef::sales_template("Sales"))?;
            let c = b.create_customer(NewCustomer::organisation("ACME"))?;
            let c = b.update_customer(c.id, c.version, CustomerPatch::default().add_tag("vip"))?;
            let c = b.update_customer(
                c.id,
                c.version,
                CustomerPatch::default()
                    .name("ACME Inc")
                    .emails(["a@acme.example", "b@acme.example"]),
            )?;
            log.push(format!("{:?}", b.customer(c.id)?));
            let d = b.create_deal(NewDeal::new(c.id, p.id, "One"))?;
            let d = b.move_deal(d.id, d.version, "qualified")?;
            let d = b.move_deal(d.id, d.version, "negotiation")?;
            let d2 = b.create_deal(NewDeal::new(c.id, p.id, "Two").stage("negotiation"))?;
            log.push(format!("{:?}", b.move_deal(d.id, d.version - 1, "lead")));
            log.push(format!("{:?}", b.deal(d.id)?));
            let smaller = PipelineDef::new("Sales v2")
                .stage(StageDef::open("lead", "Lead", 10))
                .stage(StageDef::open("qualified", "Qualified", 30))
                .stage(StageDef::won("won", "Won"))
                .stage(StageDef::lost("lost", "Lost"))
                .allow_reopen(true);
            let mapping: StageMapping = [("negotiation".to_owned(), "qualified".to_owned())].into();
            let p = b.update_pipeline(p.id, p.version, smaller, &mapping)?;
            log.push(format!("{p:?}"));
            let d = b.deal(d.id)?;
            log.push(format!("{d:?}"));
            let d = b.win_deal(d.id, d.version)?;
            let d = b.reopen_deal(d.id, d.version, None)?;
            let d = b.update_deal(d.id, d.version, DealPatch::default().title("One, again"))?;
            log.push(format!("{:?}", b.deal(d.id)?));
            log.push(format!("{:?}", b.deal(d2.id)?));
            let t = b.log_activity(NewActivity::task("Call", t0()).deal(d.id))?;
            b.complete_task(t.id, t.version)?;
            log.push(format!("{:?}", b.activity(t.id)?));
            Ok(())
        });
        log.push(format!("{result:?}"));
        // A batch that fails at the end leaves nothing behind.
        let failed = s.batch(|b| {
            let c = b.create_customer(NewCustomer::person("Temp"))?;
            b.update_customer(c.id, c.version, CustomerPatch::default().name("Temp 2"))?;
            b.update_customer(c.id, c.version, CustomerPatch::default().name("stale"))
        });
        log.push(format!("{failed:?}"));
        (
            log,
            s.customers(&CustomerQuery::new().limit(1000))
                .expect("list")
                .items,
            s.deals(&DealQuery::new().limit(1000)).expect("list").items,
            s.pipelines(&PipelineQuery::new()).expect("list").items,
            s.events(&EventQuery::new().limit(1000))
                .expect("list")
                .items,
        )
    }
    let engine = |clock: Arc<ManualClock>| (clock, SequentialIds::new(3));
    let (c1, i1) = engine(Arc::new(ManualClock::new(t0())));
    let (c2, i2) = engine(Arc::new(ManualClock::new(t0())));
    let mem = scenario(&with_admins(
        Crm::new(MemoryStore::new()).with_clock(c1).with_ids(i1),
    ));
    let sql = scenario(&with_admins(
        Crm::new(SqliteStore::open_in_memory().expect("open"))
            .with_clock(c2)
            .with_ids(i2),
    ));
    assert_eq!(mem.0, sql.0);
    assert!(
        mem.0.iter().any(|l| l.contains("Conflict")),
        "the scenario includes a refused move"
    );
    assert_eq!(mem.1, sql.1);
    assert_eq!(mem.2, sql.2);
    assert_eq!(mem.3, sql.3);
    assert_eq!(mem.4, sql.4);
}
