//! Customer merge contracts, run on every store.

use super::{all_events, engine};
use crate::merge::{Keep, MergePolicy};
use crate::*;

/// A merge moves deals, activities and people to the survivor, unites
/// contact points, tags and roles, applies the field policy, marks the
/// merged customer (which then leaves listings and cannot change), and
/// appends exactly one event that lists what moved.
pub fn merge_moves_everything_and_records_one_event<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let owner = UserId::from_uuid(uuid::Uuid::from_u128(77));
    crate::testing::seed_users(crm.store(), [owner]);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let acme = s
        .create_customer(
            NewCustomer::organisation("ACME GmbH")
                .email("info@acme.example")
                .tag("vip"),
        )
        .expect("acme");
    let dup = s
        .create_customer(
            NewCustomer::organisation("Acme Robotics")
                .email("sales@acme.example")
                .email("INFO@acme.example")
                .phone("+49 30 1234567")
                .tag("robots")
                .roles([Role::Supplier])
                .lifecycle(Lifecycle::Customer)
                .owner(owner),
        )
        .expect("dup");
    let ada = s
        .create_customer(NewCustomer::person("Ada").works_at(dup.id))
        .expect("ada");
    let deal = s
        .create_deal(NewDeal::new(dup.id, p.id, "Robots"))
        .expect("deal");
    let call = s
        .log_activity(NewActivity::new(ActivityKind::Call, "Intro").customer(dup.id))
        .expect("call");
    let events_before = all_events(crm.store()).len();

    let policy = MergePolicy::default()
        .lifecycle(Keep::Merged)
        .owner(Keep::Merged);
    let merged = s
        .merge_customers(acme.id, acme.version, dup.id, dup.version, &policy)
        .expect("merge");

    assert_eq!(merged.name, "ACME GmbH", "survivor's name kept");
    assert_eq!(
        merged.lifecycle,
        Lifecycle::Customer,
        "merged lifecycle taken"
    );
    assert_eq!(merged.owner, Some(owner), "merged owner taken");
    let emails: Vec<&str> = merged.emails.iter().map(|e| e.as_str()).collect();
    assert_eq!(emails, vec!["info@acme.example", "sales@acme.example"]);
    assert_eq!(merged.phones.len(), 1);
    let tags: Vec<&str> = merged.tags.iter().map(|t| t.as_str()).collect();
    assert_eq!(tags, vec!["robots", "vip"]);
    assert_eq!(
        merged.roles,
        [Role::Customer, Role::Supplier].into_iter().collect()
    );
    assert_eq!(merged.version, acme.version + 1);
    assert_eq!(s.customer(acme.id).expect("get"), merged, "stored survivor");

    let gone = s.customer(dup.id).expect("merged customer is kept");
    assert_eq!(gone.merged_into, Some(acme.id));
    assert_eq!(gone.version, dup.version + 1);
    assert_eq!(gone.emails, dup.emails, "the merged record keeps its data");

    let deal = s.deal(deal.id).expect("deal");
    assert_eq!((deal.customer, deal.version), (acme.id, 2));
    let call = s.activity(call.id).expect("call");
    assert_eq!((call.customer, call.version), (Some(acme.id), 2));
    let ada = s.customer(ada.id).expect("ada");
    assert_eq!((ada.organisation, ada.version), (Some(acme.id), 2));

    // Listings leave the merged customer out unless asked.
    let listed: Vec<CustomerId> = s
        .customers(&CustomerQuery::new())
        .expect("list")
        .items
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![acme.id, ada.id]);
    let with_merged = CustomerFilter {
        include_merged: true,
        ..CustomerFilter::default()
    };
    assert_eq!(s.count_customers(&with_merged).expect("count"), 3);
    assert_eq!(
        s.count_customers(&CustomerFilter::default())
            .expect("count"),
        2
    );

    let events = all_events(crm.store());
    assert_eq!(events.len(), events_before + 1, "exactly one merge event");
    let e = &events[events_before];
    assert_eq!(e.kind, EventKind::Merged);
    assert_eq!(e.entity.id, acme.id.as_uuid());
    assert_eq!(e.version, merged.version);
    let field = |name: &str| {
        e.changes
            .iter()
            .find(|c| c.field == name)
            .map(|c| c.new.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("merged"), serde_json::json!(dup.id));
    assert_eq!(field("moved_deals"), serde_json::json!([deal.id]));
    assert_eq!(field("moved_activities"), serde_json::json!([call.id]));
    assert_eq!(field("moved_people"), serde_json::json!([ada.id]));
}

/// Refused merges change nothing; a merged customer cannot change or get
/// new deals, activities or members.
pub fn merge_refusals_change_nothing<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let s = crm.as_actor(Actor::System);
    let p = s
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let a = s.create_customer(NewCustomer::person("A")).expect("a");
    let b = s.create_customer(NewCustomer::person("B")).expect("b");
    let org = s
        .create_customer(NewCustomer::organisation("Org"))
        .expect("org");
    let before = all_events(crm.store()).len();
    let policy = MergePolicy::default();
    for (result, what) in [
        (
            s.merge_customers(a.id, a.version, a.id, a.version, &policy),
            "into itself",
        ),
        (
            s.merge_customers(a.id, a.version, org.id, org.version, &policy),
            "organisation into person",
        ),
        (
            s.merge_customers(a.id, a.version + 1, b.id, b.version, &policy),
            "stale survivor",
        ),
        (
            s.merge_customers(a.id, a.version, b.id, b.version + 3, &policy),
            "stale merged",
        ),
    ] {
        assert!(result.is_err(), "merge {what} should be refused");
    }
    assert!(matches!(
        s.merge_customers(a.id, a.version, b.id, 9, &policy),
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        all_events(crm.store()).len(),
        before,
        "refused merges appended events"
    );
    assert_eq!(s.customer(b.id).expect("b"), b, "refused merges changed b");

    s.merge_customers(a.id, a.version, b.id, b.version, &policy)
        .expect("merge");
    let b = s.customer(b.id).expect("b");
    let refused = [
        s.update_customer(b.id, b.version, CustomerPatch::default().name("B2"))
            .map(|_| ()),
        s.create_deal(NewDeal::new(b.id, p.id, "For b")).map(|_| ()),
        s.log_activity(NewActivity::new(ActivityKind::Note, "n").customer(b.id))
            .map(|_| ()),
        s.merge_customers(a.id, a.version + 1, b.id, b.version, &policy)
            .map(|_| ()),
    ];
    for r in refused {
        match r {
            Err(Error::Invalid(v)) => assert!(
                v.reason.contains("merged into"),
                "unexpected reason: {}",
                v.reason
            ),
            other => panic!("expected a refusal naming the merge, got {other:?}"),
        }
    }
    let org_after = s.merge_customers(org.id, org.version, org.id, org.version, &policy);
    assert!(org_after.is_err());
    super::verify::assert_consistent(&crm);
}
