//! Change-feed contracts (see [`crate::feed`]), run on every store with
//! [`feed_conformance_tests!`](crate::feed_conformance_tests).

use proptest::prelude::*;

use super::{all_events, engine, runner};
use crate::automation::{Action, NewRule, Trigger};
use crate::custom_field::{CustomValue, FieldDef, FieldType};
use crate::feed::{FeedFilter, FeedRequest, NewFeedConsumer};
use crate::limits::{MAX_CONSUMER_NAME_CHARS, MAX_PAGE_SIZE};
use crate::*;

/// Runs every change-feed contract against the store `$factory` makes
/// (evaluated anew for each test), one `#[test]` each.
#[macro_export]
macro_rules! feed_conformance_tests {
    ($factory:expr) => {
        $crate::__store_conformance_tests!($factory;
            feed_pages_equal_the_event_log_for_any_page_size,
            feed_filters_by_entity_kind_and_event_kind,
            feed_consumers_are_durable_at_least_once_and_independent,
            feed_acknowledgements_are_checked,
            feed_consumer_names_and_pages_are_bounded,
            feed_consumer_changes_are_audited_and_verified,
            feed_hides_what_the_event_log_hides,
            feed_shows_no_event_about_a_record_outside_the_read_scope,
            feed_consumers_belong_to_their_owner,
            feed_outbox_is_paged_and_consumed_per_consumer,
            feed_verify_finds_a_checkpoint_past_the_last_event,
            feed_under_random_actors_matches_brute_force,
        );
        #[test]
        fn feed_checkpoints_survive_backup_and_restore() {
            $crate::testing::conformance::feed_checkpoints_survive_backup_and_restore(|| $factory);
        }
    };
}

fn invalid_field(r: Result<impl std::fmt::Debug>, field: &str) -> ValidationError {
    match r {
        Err(Error::Invalid(v)) => {
            assert_eq!(v.field, field, "{v}");
            v
        }
        other => panic!("expected an invalid {field}, got {other:?}"),
    }
}

/// Reads the whole feed after `after` page by page, checking each page's
/// bounds and positions.
fn read_all<S: Store>(s: &Session<'_, S>, filter: &FeedFilter, limit: u32) -> Vec<Event> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = s
            .feed(
                &FeedRequest::after(after)
                    .limit(limit)
                    .filter(filter.clone()),
            )
            .expect("feed page");
        assert!(
            page.events.len() <= limit as usize,
            "page longer than its limit"
        );
        assert!(page.next_after >= after, "positions never go back");
        if let Some(last) = page.events.last() {
            assert!(page.next_after >= last.seq);
        }
        assert!(page.events.iter().all(|e| e.seq > after));
        out.extend(page.events);
        if page.caught_up {
            assert_eq!(page.next_after, page.head);
            return out;
        }
        assert!(
            page.next_after > after,
            "a page that is not caught up moves on"
        );
        after = page.next_after;
    }
}

/// Reads the feed page by page, for any page size and through a consumer
/// acknowledging each page, and gets exactly the event log in order
/// (property test over random histories).
pub fn feed_pages_equal_the_event_log_for_any_page_size<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let case = std::cell::Cell::new(0u32);
    runner(16)
        .run(
            &(
                proptest::collection::vec((0u8..4, "[a-z]{1,8}"), 1..25),
                prop_oneof![1u32..12, Just(MAX_PAGE_SIZE)],
            ),
            |(ops, limit)| {
                case.set(case.get() + 1);
                let mut customers: Vec<Customer> = Vec::new();
                for (op, name) in ops {
                    match (op, customers.last().cloned()) {
                        (1, Some(c)) => {
                            let c = s
                                .update_customer(
                                    c.id,
                                    c.version,
                                    CustomerPatch::default().name(format!("{name} x")),
                                )
                                .expect("update");
                            customers.push(c);
                        }
                        (2, Some(c)) => {
                            s.create_deal(NewDeal::new(c.id, p.id, name)).expect("deal");
                        }
                        (3, Some(c)) => {
                            // A failed write leaves no event and no gap.
                            assert!(
                                s.update_customer(
                                    c.id,
                                    c.version + 9,
                                    CustomerPatch::default().name("y")
                                )
                                .is_err()
                            );
                        }
                        _ => customers.push(
                            s.create_customer(NewCustomer::person(name))
                                .expect("customer"),
                        ),
                    }
                }
                let log = all_events(crm.store());
                prop_assert!(
                    log.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1),
                    "gap-free"
                );
                prop_assert_eq!(&read_all(&s, &FeedFilter::default(), limit), &log);
                // Through a consumer, acknowledging each page.
                let name = format!("c{}", case.get());
                s.create_feed_consumer(NewFeedConsumer::new(&name))
                    .expect("consumer");
                let mut through = Vec::new();
                loop {
                    let page = s.read_feed_consumer(&name, limit).expect("read");
                    through.extend(page.events);
                    s.ack_feed_consumer(&name, page.next_after).expect("ack");
                    if page.caught_up {
                        break;
                    }
                }
                // The consumer's own creation event is in the log too.
                prop_assert_eq!(through, all_events(crm.store()));
                s.delete_feed_consumer(&name).expect("delete");
                Ok(())
            },
        )
        .expect("the feed is the event log");
}

/// Filters by entity kind and event kind (both lists AND together, each
/// an OR), still page by page.
pub fn feed_filters_by_entity_kind_and_event_kind<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    for i in 0..5 {
        let c = s
            .create_customer(NewCustomer::person(format!("P{i}")))
            .expect("customer");
        let d = s.create_deal(NewDeal::new(c.id, p.id, "D")).expect("deal");
        if i % 2 == 0 {
            s.win_deal(d.id, d.version).expect("win");
        }
        s.update_customer(c.id, c.version, CustomerPatch::default().name("Q"))
            .expect("update");
    }
    let log = all_events(crm.store());
    let filters = [
        FeedFilter::default().entity_kinds([EntityKind::Customer]),
        FeedFilter::default().event_kinds([EventKind::Won]),
        FeedFilter::default()
            .entity_kinds([EntityKind::Deal, EntityKind::Customer])
            .event_kinds([EventKind::Created]),
        FeedFilter::default().entity_kinds([EntityKind::User]),
    ];
    for f in filters {
        let want: Vec<Event> = log.iter().filter(|e| f.matches(e)).cloned().collect();
        for limit in [1, 2, 7, 100] {
            assert_eq!(read_all(&s, &f, limit), want, "filter {f:?}, limit {limit}");
        }
    }
    let won = read_all(&s, &FeedFilter::default().event_kinds([EventKind::Won]), 2);
    assert_eq!(won.len(), 3);
    // An empty filtered read is caught up at the head, not at 0.
    let none = s
        .feed(&FeedRequest::after(0).filter(FeedFilter::default().entity_kinds([EntityKind::Team])))
        .expect("read");
    assert!(none.events.is_empty() && none.caught_up);
    assert_eq!(none.next_after, log.len() as u64);
}

/// A consumer reads from its checkpoint; until it acknowledges, it reads
/// the same events again (at-least-once); two consumers progress
/// independently; a consumer starting after the head skips history.
pub fn feed_consumers_are_durable_at_least_once_and_independent<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    for name in ["Ada", "Grace", "Edsger"] {
        s.create_customer(NewCustomer::person(name))
            .expect("customer");
    }
    let only_customers = FeedFilter::default().entity_kinds([EntityKind::Customer]);
    let a = s
        .create_feed_consumer(NewFeedConsumer::new("erp").filter(only_customers.clone()))
        .expect("a");
    assert_eq!((a.checkpoint, a.version, a.owner), (0, 1, Actor::System));
    s.create_feed_consumer(NewFeedConsumer::new("mail").filter(only_customers))
        .expect("b");
    let first = s.read_feed_consumer("erp", 2).expect("read");
    assert_eq!(first.events.len(), 2);
    // No ack: the same events again.
    assert_eq!(s.read_feed_consumer("erp", 2).expect("again"), first);
    let acked = s.ack_feed_consumer("erp", first.next_after).expect("ack");
    assert_eq!(acked.checkpoint, first.next_after);
    assert!(acked.acknowledged_at.is_some());
    assert_eq!(
        s.read_feed_consumer("erp", 10).expect("rest").events.len(),
        1
    );
    // The other consumer has not moved.
    let other = s.read_feed_consumer("mail", 10).expect("other");
    assert_eq!(other.events.len(), 3);
    assert_eq!(
        s.feed_consumers()
            .expect("list")
            .iter()
            .map(|c| (c.name.as_str(), c.checkpoint))
            .collect::<Vec<_>>(),
        [("erp", first.next_after), ("mail", 0)]
    );
    // New changes reach both.
    s.create_customer(NewCustomer::person("Barbara"))
        .expect("more");
    let rest = s.read_feed_consumer("erp", 10).expect("rest");
    assert_eq!(
        rest.events.iter().map(|e| e.seq).collect::<Vec<_>>().len(),
        2
    );
    assert_eq!(s.read_feed_consumer("mail", 10).expect("b").events.len(), 4);
    // Acknowledging changes no record and appends no event.
    let before = all_events(crm.store()).len();
    s.ack_feed_consumer("mail", rest.next_after).expect("ack b");
    assert_eq!(all_events(crm.store()).len(), before);
    // Starting at the head skips history.
    let head = crm
        .store()
        .read()
        .expect("tx")
        .last_event_seq()
        .expect("seq");
    s.create_feed_consumer(NewFeedConsumer::new("late").start_after(head))
        .expect("late");
    let late = s.read_feed_consumer("late", 10).expect("late read");
    assert_eq!(late.events.len(), 1, "only its own creation event");
    assert_eq!(late.events[0].entity.kind, EntityKind::FeedConsumer);
}

/// Acknowledging backwards or past the newest event is refused on
/// `up_to`; the same number again is a no-op; unknown consumers are not
/// found.
pub fn feed_acknowledgements_are_checked<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    for name in ["Ada", "Grace"] {
        s.create_customer(NewCustomer::person(name))
            .expect("customer");
    }
    s.create_feed_consumer(NewFeedConsumer::new("c"))
        .expect("consumer");
    let head = 3;
    let v = invalid_field(s.ack_feed_consumer("c", head + 1), "up_to");
    assert!(v.reason.contains("past the newest event"), "{v}");
    let at2 = s.ack_feed_consumer("c", 2).expect("ack");
    assert_eq!(at2.checkpoint, 2);
    assert_eq!(
        s.ack_feed_consumer("c", 2).expect("again"),
        at2,
        "idempotent"
    );
    let v = invalid_field(s.ack_feed_consumer("c", 1), "up_to");
    assert!(
        v.reason.contains("below the consumer's checkpoint 2"),
        "{v}"
    );
    assert_eq!(s.feed_consumers().expect("list")[0].checkpoint, 2);
    assert!(matches!(
        s.ack_feed_consumer("nobody", 1),
        Err(Error::NotFound {
            entity: EntityKind::FeedConsumer,
            ..
        })
    ));
    assert!(matches!(
        s.read_feed_consumer("nobody", 1),
        Err(Error::NotFound { .. })
    ));
    invalid_field(s.feed(&FeedRequest::after(head + 1)), "after");
    invalid_field(
        s.create_feed_consumer(NewFeedConsumer::new("d").start_after(head + 1)),
        "start_after",
    );
    let dup = invalid_field(s.create_feed_consumer(NewFeedConsumer::new("c")), "name");
    assert!(dup.reason.contains("exists"), "{dup}");
}

/// Consumer names are 1 to MAX_CONSUMER_NAME_CHARS of a-z, 0-9, `_-.`;
/// pages hold 1 to MAX_PAGE_SIZE events.
pub fn feed_consumer_names_and_pages_are_bounded<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let longest = "a".repeat(MAX_CONSUMER_NAME_CHARS);
    s.create_feed_consumer(NewFeedConsumer::new(&longest))
        .expect("at the bound");
    for bad in [
        String::new(),
        "a".repeat(MAX_CONSUMER_NAME_CHARS + 1),
        "Shop".into(),
        "shop sync".into(),
        "-shop".into(),
        "shöp".into(),
        "a/b".into(),
    ] {
        invalid_field(s.create_feed_consumer(NewFeedConsumer::new(&bad)), "name");
        invalid_field(s.read_feed_consumer(&bad, 1), "name");
    }
    for limit in [0, MAX_PAGE_SIZE + 1] {
        invalid_field(s.feed(&FeedRequest::after(0).limit(limit)), "limit");
        invalid_field(s.read_feed_consumer(&longest, limit), "limit");
    }
    s.feed(&FeedRequest::after(0).limit(MAX_PAGE_SIZE))
        .expect("at the bound");
    let many = FeedFilter::default().event_kinds(vec![EventKind::Won; 33]);
    invalid_field(
        s.feed(&FeedRequest::after(0).filter(many.clone())),
        "filter.event_kinds",
    );
    // Repeats within the bound are fine, and stored without repeats.
    let c = s
        .create_feed_consumer(
            NewFeedConsumer::new("dups")
                .filter(FeedFilter::default().event_kinds(vec![EventKind::Won; 3])),
        )
        .expect("repeats");
    assert_eq!(c.filter.event_kinds, [EventKind::Won]);
}

/// Creating and deleting a consumer each append one `feed_consumer`
/// event; a store with consumers (and deleted ones) verifies clean; a
/// deleted consumer's name can be used again and starts afresh.
pub fn feed_consumer_changes_are_audited_and_verified<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    let c = s
        .create_feed_consumer(NewFeedConsumer::new("erp"))
        .expect("consumer");
    s.ack_feed_consumer("erp", 2).expect("ack");
    let log = all_events(crm.store());
    let created = log.last().expect("event");
    assert_eq!(
        (
            created.entity.kind,
            created.entity.id,
            created.kind,
            created.version
        ),
        (EntityKind::FeedConsumer, c.id, EventKind::Created, 1)
    );
    assert_eq!(
        created
            .changes
            .iter()
            .map(|c| c.field.as_str())
            .collect::<Vec<_>>(),
        ["name", "filter", "checkpoint", "owner"]
    );
    assert!(s.verify().expect("verify").is_empty());
    s.delete_feed_consumer("erp").expect("delete");
    let deleted = all_events(crm.store()).pop().expect("event");
    assert_eq!(
        (deleted.entity.id, deleted.kind, deleted.version),
        (c.id, EventKind::Deleted, 2)
    );
    let cp = deleted
        .changes
        .iter()
        .find(|c| c.field == "checkpoint")
        .expect("checkpoint");
    assert_eq!(
        (cp.old.clone(), cp.new.clone()),
        (2.into(), serde_json::Value::Null)
    );
    assert!(s.feed_consumers().expect("list").is_empty());
    assert!(matches!(
        s.delete_feed_consumer("erp"),
        Err(Error::NotFound { .. })
    ));
    let again = s
        .create_feed_consumer(NewFeedConsumer::new("erp"))
        .expect("name free again");
    assert_ne!(again.id, c.id);
    assert_eq!(again.checkpoint, 0);
    let findings = s.verify().expect("verify");
    assert!(findings.is_empty(), "{findings:?}");
}

/// A restricted reader's feed is their event log: same events (the
/// `read_only` role reads every record), same redaction of hidden fields.
pub fn feed_hides_what_the_event_log_hides<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.set_custom_fields(
        EntityKind::Deal,
        0,
        vec![
            FieldDef::new("margin", "Margin", FieldType::Integer)
                .hidden_from([AccessRole::ReadOnly]),
        ],
    )
    .expect("schema");
    let rita = s
        .create_user(NewUser::new("Rita", "rita@example.com").role(AccessRole::ReadOnly))
        .expect("user");
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let c = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("c");
    let d = s
        .create_deal(NewDeal::new(c.id, p.id, "Robots").custom("margin", CustomValue::Integer(40)))
        .expect("deal");
    s.update_deal(
        d.id,
        d.version,
        DealPatch::default().custom("margin", Some(CustomValue::Integer(41))),
    )
    .expect("update");
    let r = crm.as_user(rita.id);
    let log = r
        .events(&EventQuery::new().limit(MAX_PAGE_SIZE))
        .expect("log")
        .items;
    let feed = read_all(&r, &FeedFilter::default(), 3);
    assert_eq!(feed, log, "the feed is the reader's event log");
    let about_deal: Vec<&Event> = feed
        .iter()
        .filter(|e| e.entity.id == d.id.as_uuid())
        .collect();
    let text = serde_json::to_string(&about_deal).expect("json");
    assert!(!text.contains("margin"), "hidden field leaked: {text}");
    let all = read_all(&s, &FeedFilter::default(), 3);
    assert!(
        serde_json::to_string(&all[all.len() - 2..])
            .expect("json")
            .contains("margin"),
        "the system sees it"
    );
    // The update changed only the hidden field: its event is there, empty.
    assert!(feed.iter().any(|e| e.entity.id == d.id.as_uuid()
        && e.kind == EventKind::Updated
        && e.changes.is_empty()));
}

/// Events about a record the reader may not read now are not shown,
/// although the event log (scoped by acting user) lists them; hidden
/// events still move the position on.
pub fn feed_shows_no_event_about_a_record_outside_the_read_scope<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let rep = s
        .create_user(NewUser::new("Rob", "rob@example.com").role(AccessRole::SalesRep))
        .expect("rep");
    let other = s
        .create_user(NewUser::new("Olga", "olga@example.com").role(AccessRole::SalesRep))
        .expect("other");
    let r = crm.as_user(rep.id);
    let mine = r
        .create_customer(NewCustomer::person("Mine").owner(rep.id))
        .expect("mine");
    let gone = r
        .create_customer(NewCustomer::person("Given away").owner(rep.id))
        .expect("gone");
    s.update_customer(
        gone.id,
        gone.version,
        CustomerPatch::default().owner(Some(other.id)),
    )
    .expect("reassign");
    let log: Vec<uuid::Uuid> = r
        .events(&EventQuery::new())
        .expect("log")
        .items
        .iter()
        .map(|e| e.entity.id)
        .collect();
    assert!(
        log.contains(&gone.id.as_uuid()),
        "the log shows the rep's own change"
    );
    let page = r.feed(&FeedRequest::after(0)).expect("feed");
    assert_eq!(
        page.events.iter().map(|e| e.entity.id).collect::<Vec<_>>(),
        [mine.id.as_uuid()]
    );
    assert!(page.caught_up);
    assert_eq!(page.next_after, page.head);
    let text = format!("{page:?}");
    assert!(!text.contains(&gone.id.to_string()));
}

/// A consumer is its owner's (and automation administrators'): to anyone
/// else it does not exist; an actor with no event read scope cannot
/// create one.
pub fn feed_consumers_belong_to_their_owner<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let rep = s
        .create_user(NewUser::new("Rob", "rob@example.com").role(AccessRole::SalesRep))
        .expect("rep");
    let other = s
        .create_user(NewUser::new("Olga", "olga@example.com").role(AccessRole::SalesRep))
        .expect("other");
    let nobody = s
        .create_user(NewUser::new("Nora", "nora@example.com"))
        .expect("no roles");
    let r = crm.as_user(rep.id);
    let c = r
        .create_feed_consumer(NewFeedConsumer::new("rob-sync"))
        .expect("own consumer");
    assert_eq!(c.owner, Actor::User(rep.id));
    let o = crm.as_user(other.id);
    assert!(o.feed_consumers().expect("list").is_empty());
    for result in [
        o.read_feed_consumer("rob-sync", 1).map(|_| ()),
        o.ack_feed_consumer("rob-sync", 1).map(|_| ()),
        o.delete_feed_consumer("rob-sync"),
    ] {
        match result {
            Err(Error::NotFound { entity, .. }) => assert_eq!(entity, EntityKind::FeedConsumer),
            other => panic!("expected not found, got {other:?}"),
        }
    }
    assert_eq!(s.feed_consumers().expect("admin list").len(), 1);
    assert_eq!(r.feed_consumers().expect("own list").len(), 1);
    assert!(matches!(
        crm.as_user(nobody.id)
            .create_feed_consumer(NewFeedConsumer::new("n")),
        Err(Error::PermissionDenied { .. })
    ));
    // The rep reads it with their own access: their creation events.
    let page = r.read_feed_consumer("rob-sync", 10).expect("read");
    assert!(page.events.iter().all(|e| e.actor == Actor::User(rep.id)));
    r.delete_feed_consumer("rob-sync").expect("owner deletes");
}

/// The outbox through a consumer: notifications page by page with the
/// `seq` of their creation, acknowledged up to a position per consumer;
/// the older `outbox`/`acknowledge_notification` keep working beside it.
pub fn feed_outbox_is_paged_and_consumed_per_consumer<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    s.create_rule(NewRule::new("Won", Trigger::DealWon).action(Action::notify("Deal won")))
        .expect("rule");
    let c = s
        .create_customer(NewCustomer::organisation("ACME"))
        .expect("c");
    for i in 0..5 {
        let d = s
            .create_deal(NewDeal::new(c.id, p.id, format!("D{i}")))
            .expect("deal");
        s.win_deal(d.id, d.version).expect("win");
    }
    s.create_feed_consumer(NewFeedConsumer::new("mailer").filter(FeedFilter::outbox()))
        .expect("mailer");
    s.create_feed_consumer(NewFeedConsumer::new("sms").filter(FeedFilter::outbox()))
        .expect("sms");
    let mut delivered = Vec::new();
    loop {
        let page = s.read_outbox_consumer("mailer", 2).expect("page");
        assert!(page.items.len() <= 2);
        delivered.extend(page.items.iter().map(|i| (i.seq, i.notification.id)));
        s.ack_feed_consumer("mailer", page.next_after).expect("ack");
        if page.caught_up {
            break;
        }
    }
    let unpaged = s.outbox(false).expect("outbox");
    assert_eq!(
        delivered.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        unpaged.iter().map(|n| n.id).collect::<Vec<_>>()
    );
    assert!(delivered.windows(2).all(|w| w[0].0 < w[1].0));
    // The other consumer is where it was; the old acknowledgement is
    // separate and shows in the next read as the current state.
    let n = &unpaged[0];
    s.acknowledge_notification(n.id, n.version)
        .expect("old ack");
    let sms = s.read_outbox_consumer("sms", 100).expect("sms");
    assert_eq!(sms.items.len(), 5);
    assert!(sms.items[0].notification.acknowledged_at.is_some());
    assert!(
        s.read_outbox_consumer("mailer", 10)
            .expect("done")
            .items
            .is_empty()
    );
    // Only an outbox consumer reads the outbox; only admins may.
    s.create_feed_consumer(NewFeedConsumer::new("all"))
        .expect("all");
    invalid_field(s.read_outbox_consumer("all", 10), "filter");
    let rep = s
        .create_user(NewUser::new("Rob", "rob@example.com").role(AccessRole::SalesRep))
        .expect("rep");
    let r = crm.as_user(rep.id);
    r.create_feed_consumer(NewFeedConsumer::new("rob-outbox").filter(FeedFilter::outbox()))
        .expect("consumer");
    assert!(matches!(
        r.read_outbox_consumer("rob-outbox", 10),
        Err(Error::PermissionDenied { .. })
    ));
}

/// A backup holds the consumers with their checkpoints; the restored
/// store reads on from the same positions.
pub fn feed_checkpoints_survive_backup_and_restore<S: Store>(new_store: impl Fn() -> S) {
    let (crm, _) = engine(new_store());
    let s = crm.as_actor(Actor::System);
    for name in ["Ada", "Grace", "Edsger"] {
        s.create_customer(NewCustomer::person(name))
            .expect("customer");
    }
    // A backup from before the feed: format version 2, no consumer lines.
    let mut before = Vec::new();
    s.backup(&mut before).expect("backup");
    let before =
        String::from_utf8(before)
            .expect("utf-8")
            .replacen("\"version\":3}}", "\"version\":2}}", 1);
    assert!(before.starts_with("{\"header\":{\"format\":\"crm-core backup\",\"version\":2}}"));
    s.create_feed_consumer(NewFeedConsumer::new("erp"))
        .expect("erp");
    s.create_feed_consumer(NewFeedConsumer::new("gone"))
        .expect("gone");
    s.delete_feed_consumer("gone").expect("delete");
    s.ack_feed_consumer("erp", 2).expect("ack");
    let mut file = Vec::new();
    let counts = s.backup(&mut file).expect("backup");
    assert_eq!(counts.feed_consumers, 1);
    let text = String::from_utf8(file.clone()).expect("utf-8");
    assert!(text.contains("\"feed_consumer\""), "{text}");
    let copy = Crm::new(new_store());
    let restored = copy.as_actor(Actor::System);
    restored.restore(file.as_slice()).expect("restore");
    assert_eq!(
        restored.feed_consumers().expect("list"),
        s.feed_consumers().expect("list")
    );
    assert_eq!(
        restored.read_feed_consumer("erp", 100).expect("read"),
        s.read_feed_consumer("erp", 100).expect("read")
    );
    // A backup without consumer lines (format version 2) still restores.
    let older = Crm::new(new_store());
    older
        .as_actor(Actor::System)
        .restore(before.as_bytes())
        .expect("an older backup restores");
    assert!(
        older
            .as_actor(Actor::System)
            .feed_consumers()
            .expect("list")
            .is_empty()
    );
}

/// `verify` reports a consumer whose checkpoint is past the newest event.
pub fn feed_verify_finds_a_checkpoint_past_the_last_event<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.create_customer(NewCustomer::person("Ada"))
        .expect("customer");
    let c = s
        .create_feed_consumer(NewFeedConsumer::new("erp"))
        .expect("erp");
    assert!(s.verify().expect("verify").is_empty());
    // Bypass the facade, as a bad restore or a hand edit would.
    let mut tx = crm.store().write().expect("tx");
    tx.update_feed_consumer(&crate::feed::FeedConsumer {
        checkpoint: 99,
        ..c
    })
    .expect("write");
    tx.commit().expect("commit");
    let findings = s.verify().expect("verify");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].entity, EntityKind::FeedConsumer);
    assert_eq!(findings[0].id, "erp");
    assert!(
        findings[0].what.contains("checkpoint 99"),
        "{}",
        findings[0]
    );
    assert!(
        findings[0].what.contains("newest event 2"),
        "{}",
        findings[0]
    );
}

/// Whether `r` may read the record `e` is about, asked through the
/// public reads (the brute-force reference for the feed's visibility).
fn readable_through_reads<S: Store>(r: &Session<'_, S>, e: &Event) -> bool {
    let id = e.entity.id;
    match e.entity.kind {
        EntityKind::Customer => r.customer(CustomerId::from_uuid(id)).is_ok(),
        EntityKind::Deal => r.deal(DealId::from_uuid(id)).is_ok(),
        EntityKind::Activity => r.activity(ActivityId::from_uuid(id)).is_ok(),
        EntityKind::User => r.user(UserId::from_uuid(id)).is_ok(),
        EntityKind::Team => r.team(TeamId::from_uuid(id)).is_ok(),
        EntityKind::Segment => r.segment(SegmentId::from_uuid(id)).is_ok(),
        _ => {
            r.permissions()
                .expect("permissions")
                .read(Resource::Pipelines)
                == Scope::All
        }
    }
}

/// Random changes by random actors (reps in and out of a team, support,
/// read-only, a user without roles, the system): every actor's feed, page
/// by page and through a consumer of their own, is exactly their event
/// log without the events about records they cannot read, redacted the
/// same way.
pub fn feed_under_random_actors_matches_brute_force<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    s.set_custom_fields(
        EntityKind::Customer,
        0,
        vec![
            FieldDef::new("credit", "Credit", FieldType::Integer)
                .hidden_from([AccessRole::Support]),
        ],
    )
    .expect("schema");
    let north = s.create_team(NewTeam::new("North")).expect("team");
    let mut users = Vec::new();
    for (i, (role, team)) in [
        (Some(AccessRole::SalesRep), true),
        (Some(AccessRole::SalesRep), true),
        (Some(AccessRole::SalesRep), false),
        (Some(AccessRole::Support), false),
        (Some(AccessRole::ReadOnly), false),
        (None, false),
    ]
    .into_iter()
    .enumerate()
    {
        let mut u = NewUser::new(format!("U{i}"), format!("u{i}@example.com"));
        if let Some(r) = role {
            u = u.role(r);
        }
        if team {
            u = u.team(north.id);
        }
        users.push(s.create_user(u).expect("user").id);
    }
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    // One event certainly about a record out of its author's reach: rep 0
    // creates a customer that is then given to rep 2 (not in the team).
    let given = crm
        .as_user(users[0])
        .create_customer(NewCustomer::person("Given away").owner(users[0]))
        .expect("customer");
    s.update_customer(
        given.id,
        given.version,
        CustomerPatch::default().owner(Some(users[2])),
    )
    .expect("reassign");
    let case = std::cell::Cell::new(0u32);
    let hidden = std::cell::Cell::new(0usize);
    runner(8)
        .run(
            &proptest::collection::vec((0usize..7, 0u8..4, 0usize..64, 0usize..6), 1..30),
            |ops| {
                case.set(case.get() + 1);
                let actor = |i: usize| match users.get(i) {
                    Some(u) => crm.as_user(*u),
                    None => crm.as_actor(Actor::System),
                };
                let customers = s
                    .customers(&CustomerQuery::new().limit(MAX_PAGE_SIZE))
                    .expect("customers")
                    .items;
                for (who, op, target, owner) in ops {
                    let a = actor(who);
                    let pick = customers.get(target % customers.len().max(1)).cloned();
                    // Failures (permissions, scope) are part of the test: they append nothing.
                    let _ = match (op, pick) {
                        (1, Some(c)) => s
                            .update_customer(
                                c.id,
                                s.customer(c.id).map(|c| c.version).unwrap_or(0),
                                CustomerPatch::default().owner(Some(users[owner])),
                            )
                            .map(|_| ()),
                        (2, Some(c)) => a.create_deal(NewDeal::new(c.id, p.id, "D")).map(|_| ()),
                        (3, Some(c)) => a
                            .log_activity(NewActivity::new(ActivityKind::Note, "N").customer(c.id))
                            .map(|_| ()),
                        _ => a
                            .create_customer(
                                NewCustomer::person(format!("C{target}"))
                                    .owner(users[owner])
                                    .custom("credit", CustomValue::Integer(target as i64)),
                            )
                            .map(|_| ()),
                    };
                }
                for who in 0..=users.len() {
                    let r = actor(who);
                    let log = match r.events(&EventQuery::new().limit(MAX_PAGE_SIZE)) {
                        Ok(page) => page.items,
                        Err(e) => panic!("event log of actor {who}: {e}"),
                    };
                    let total = log.len();
                    let want: Vec<Event> = log
                        .into_iter()
                        .filter(|e| readable_through_reads(&r, e))
                        .collect();
                    hidden.set(hidden.get() + (total - want.len()));
                    prop_assert_eq!(
                        &read_all(&r, &FeedFilter::default(), 4),
                        &want,
                        "actor {}",
                        who
                    );
                    // Through the actor's own consumer (if they may have one).
                    let name = format!("a{who}-{}", case.get());
                    if r.create_feed_consumer(NewFeedConsumer::new(&name)).is_ok() {
                        let mut through = Vec::new();
                        loop {
                            let page = r.read_feed_consumer(&name, 5).expect("read");
                            through.extend(page.events);
                            r.ack_feed_consumer(&name, page.next_after).expect("ack");
                            if page.caught_up {
                                break;
                            }
                        }
                        // The consumer's own creation is one more event.
                        let now: Vec<Event> = r
                            .events(&EventQuery::new().limit(MAX_PAGE_SIZE))
                            .expect("log")
                            .items
                            .into_iter()
                            .filter(|e| readable_through_reads(&r, e))
                            .collect();
                        prop_assert_eq!(through, now, "consumer of actor {}", who);
                        r.delete_feed_consumer(&name).expect("delete");
                    }
                }
                Ok(())
            },
        )
        .expect("the feed is the scoped, redacted event log");
    assert!(
        hidden.get() > 0,
        "some events were about records out of reach"
    );
}
