//! The change feed through the C ABI: `feed.read`, `feed.ack`,
//! `feed.consumers`, consumer creation and deletion, `outbox.read`, and
//! a crash between a read and its acknowledgement on a file.

use super::*;

fn seqs(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

#[test]
fn feed_reads_pages_and_consumers_acknowledge_through_the_abi() {
    let e = open(":memory:");
    for name in ["Ada", "Grace", "Edsger"] {
        ok(
            &e,
            "customer.create",
            json!({"kind": "person", "name": name}),
        );
    }
    // Stateless, page by page.
    let first = ok(&e, "feed.read", json!({"limit": 2}));
    assert_eq!(seqs(&first), [1, 2]);
    assert_eq!(
        (first["next_after"].clone(), first["caught_up"].clone()),
        (json!(2), json!(false))
    );
    let rest = ok(&e, "feed.read", json!({"after": 2, "limit": 2}));
    assert_eq!(seqs(&rest), [3]);
    assert_eq!(rest["caught_up"], json!(true));
    assert_eq!(rest["events"][0]["entity"]["kind"], json!("customer"));
    // Filtered.
    let none = ok(&e, "feed.read", json!({"filter": {"event_kinds": ["won"]}}));
    assert_eq!(seqs(&none), Vec::<u64>::new());
    assert_eq!(none["next_after"], json!(3));

    // Two consumers.
    let c = ok(
        &e,
        "feed.create_consumer",
        json!({"name": "shop", "filter": {"entity_kinds": ["customer"]}}),
    );
    assert_eq!(
        (c["checkpoint"].clone(), c["version"].clone()),
        (json!(0), json!(1))
    );
    ok(
        &e,
        "feed.create_consumer",
        json!({"name": "mail", "start_after": 3}),
    );
    let page = ok(&e, "feed.read", json!({"consumer": "shop", "limit": 2}));
    assert_eq!(seqs(&page), [1, 2]);
    // Not acknowledged: the same page again.
    assert_eq!(
        ok(&e, "feed.read", json!({"consumer": "shop", "limit": 2})),
        page
    );
    let acked = ok(
        &e,
        "feed.ack",
        json!({"consumer": "shop", "up_to": page["next_after"]}),
    );
    assert_eq!(acked["checkpoint"], json!(2));
    // Idempotent re-ack; backwards and past the end are refused.
    assert_eq!(
        ok(&e, "feed.ack", json!({"consumer": "shop", "up_to": 2}))["checkpoint"],
        json!(2)
    );
    for up_to in [1, 99] {
        let (st, msg) =
            call(&e, "feed.ack", json!({"consumer": "shop", "up_to": up_to})).unwrap_err();
        assert_eq!(st, CrmStatus::InvalidInput, "{msg}");
        assert!(msg.contains("up_to"), "{msg}");
    }
    let next = ok(&e, "feed.read", json!({"consumer": "shop"}));
    assert_eq!(seqs(&next), [3], "customers only");
    let mail = ok(&e, "feed.read", json!({"consumer": "mail"}));
    assert_eq!(seqs(&mail), [4, 5], "the two consumers' creations");
    let list = ok(&e, "feed.consumers", json!({}));
    let names: Vec<(&str, u64)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["checkpoint"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("mail", 3), ("shop", 2)]);
    // A consumer read takes neither a position nor a filter.
    let (st, msg) = call(&e, "feed.read", json!({"consumer": "shop", "after": 0})).unwrap_err();
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(msg.contains("request.after"), "{msg}");
    // Bounds.
    let (st, _) = call(&e, "feed.read", json!({"limit": 0})).unwrap_err();
    assert_eq!(st, CrmStatus::InvalidInput);
    let (st, msg) = call(&e, "feed.create_consumer", json!({"name": "Shop Sync"})).unwrap_err();
    assert_eq!(st, CrmStatus::InvalidInput);
    assert!(msg.contains("name"), "{msg}");
    let (st, _) = call(&e, "feed.read", json!({"bogus": 1})).unwrap_err();
    assert_eq!(st, CrmStatus::InvalidInput, "unknown fields are refused");
    // Delete.
    assert_eq!(
        ok(&e, "feed.delete_consumer", json!({"consumer": "mail"})),
        json!({"consumer": "mail", "deleted": true})
    );
    let (st, _) = call(&e, "feed.read", json!({"consumer": "mail"})).unwrap_err();
    assert_eq!(st, CrmStatus::NotFound);
}

#[test]
fn the_outbox_is_read_through_a_consumer() {
    let e = open(":memory:");
    let p = ok(&e, "pipeline.create", pipeline_def());
    ok(
        &e,
        "rule.create",
        json!({"name": "Won", "trigger": "deal_won", "actions": [{"notify": {"text": "Deal won"}}]}),
    );
    let c = ok(
        &e,
        "customer.create",
        json!({"kind": "organisation", "name": "ACME"}),
    );
    for i in 0..3 {
        let d = ok(
            &e,
            "deal.create",
            json!({"customer": c["id"], "pipeline": p["id"], "title": format!("D{i}")}),
        );
        ok(
            &e,
            "deal.win",
            json!({"id": d["id"], "version": d["version"]}),
        );
    }
    ok(
        &e,
        "feed.create_consumer",
        json!({"name": "mailer", "filter": {"entity_kinds": ["notification"], "event_kinds": ["created"]}}),
    );
    let page = ok(&e, "outbox.read", json!({"consumer": "mailer", "limit": 2}));
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["notification"]["text"], json!("Deal won"));
    ok(
        &e,
        "feed.ack",
        json!({"consumer": "mailer", "up_to": page["next_after"]}),
    );
    let rest = ok(&e, "outbox.read", json!({"consumer": "mailer"}));
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["caught_up"], json!(true));
    // The older operation still lists all three, unacknowledged.
    let old = ok(&e, "outbox.list", json!({}));
    assert_eq!(old.as_array().unwrap().len(), 3);
}

#[test]
fn a_crash_between_feed_read_and_ack_reads_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crm.db");
    let path = path.to_str().unwrap();
    let first = {
        let e = open(path);
        ok(&e, "feed.create_consumer", json!({"name": "erp"}));
        for name in ["Ada", "Grace"] {
            ok(
                &e,
                "customer.create",
                json!({"kind": "person", "name": name}),
            );
        }
        ok(&e, "feed.read", json!({"consumer": "erp", "limit": 2}))
        // crm_close here, without an acknowledgement.
    };
    let e = open(path);
    let again = ok(&e, "feed.read", json!({"consumer": "erp", "limit": 2}));
    assert_eq!(again, first);
    ok(
        &e,
        "feed.ack",
        json!({"consumer": "erp", "up_to": again["next_after"]}),
    );
    drop(e);
    let e = open(path);
    assert_eq!(seqs(&ok(&e, "feed.read", json!({"consumer": "erp"}))), [3]);
}
