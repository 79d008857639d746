//! Keeping the CRM in step with a shop: external keys, idempotent upserts
//! and a change feed with a durable consumer.
//!
//! ```sh
//! cargo run --example sync
//! ```
//!
//! The shop is a toy system with its own ids (`C-1`, `O-100`, …): a list of
//! customers and a list of orders. The sync upserts each of them into the
//! CRM by its shop id, so running it again changes nothing. Then the shop
//! changes three customers, and the next sync updates exactly those. A
//! mailer reads what changed from the CRM's change feed through a named
//! consumer whose checkpoint lives in the same SQLite file; it "crashes"
//! after reading and before mailing and acknowledging, and after reopening
//! the file it reads the same events again: nothing is lost, each change
//! is mailed once, and once acknowledged nothing is read again.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use crm_core::external_key::UpsertOutcome;
use crm_core::feed::{FeedFilter, NewFeedConsumer};
use crm_core::{
    Actor, Crm, CustomerUpsert, DealUpsert, EntityKind, ExternalKey, ManualClock, Money,
    NewCustomer, NewDeal, PipelineDef, Session, Store,
};
use crm_store_sqlite::SqliteStore;

/// A customer as the shop keeps it.
#[derive(Clone)]
struct ShopCustomer {
    id: &'static str,
    name: &'static str,
    email: &'static str,
}

/// An order as the shop keeps it.
struct Order {
    id: &'static str,
    customer: &'static str,
    amount: &'static str,
}

/// How many records each kind of outcome had in one sync.
#[derive(Default, Debug, PartialEq)]
struct Tally {
    created: usize,
    updated: usize,
    unchanged: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged",
            self.created, self.updated, self.unchanged
        )
    }
}

impl Tally {
    fn count(&mut self, outcome: UpsertOutcome) {
        match outcome {
            UpsertOutcome::Created => self.created += 1,
            UpsertOutcome::Updated => self.updated += 1,
            UpsertOutcome::Unchanged => self.unchanged += 1,
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("crm-sync.db");
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let mut shop = vec![
        ShopCustomer {
            id: "C-1",
            name: "Ada Lovelace",
            email: "ada@example.org",
        },
        ShopCustomer {
            id: "C-2",
            name: "Grace Hopper",
            email: "grace@example.org",
        },
        ShopCustomer {
            id: "C-3",
            name: "Alan Turing",
            email: "alan@example.org",
        },
        ShopCustomer {
            id: "C-4",
            name: "Edsger Dijkstra",
            email: "edsger@example.org",
        },
        ShopCustomer {
            id: "C-5",
            name: "Barbara Liskov",
            email: "barbara@example.org",
        },
    ];
    let orders = [
        Order {
            id: "O-100",
            customer: "C-1",
            amount: "120.00",
        },
        Order {
            id: "O-101",
            customer: "C-2",
            amount: "89.90",
        },
        Order {
            id: "O-102",
            customer: "C-1",
            amount: "45.50",
        },
        Order {
            id: "O-103",
            customer: "C-4",
            amount: "310.00",
        },
    ];

    let before_crash = {
        let crm = Crm::new(SqliteStore::open(&path)?).with_clock(clock.clone());
        let s = crm.as_actor(Actor::System);
        let pipeline = s.create_pipeline(PipelineDef::sales_template("Shop orders"))?;
        // The mailer follows customer changes from the start of the log.
        s.create_feed_consumer(
            NewFeedConsumer::new("mailer")
                .filter(FeedFilter::default().entity_kinds([EntityKind::Customer])),
        )?;

        let (customers, deals) = sync(&s, &shop, &orders, pipeline.id)?;
        println!("first sync:  customers {customers}; orders {deals}");
        assert_eq!((customers.created, deals.created), (5, 4));

        let (customers, deals) = sync(&s, &shop, &orders, pipeline.id)?;
        println!("second sync: customers {customers}; orders {deals}");
        assert_eq!((customers.unchanged, deals.unchanged), (5, 4));

        // The shop changes three customers.
        shop[0].email = "ada.lovelace@example.org";
        shop[2].name = "Alan M. Turing";
        shop[4].email = "liskov@example.org";
        clock.advance(chrono::Duration::days(1));
        let (customers, deals) = sync(&s, &shop, &orders, pipeline.id)?;
        println!("after three changes in the shop: customers {customers}; orders {deals}");
        assert_eq!((customers.updated, customers.unchanged), (3, 2));
        assert_eq!(deals.unchanged, 4);

        // The mailer has applied the creations already (it read and
        // acknowledged them earlier); here it just skips to the changes.
        let first = s.read_feed_consumer("mailer", 100)?;
        let created = first.events.iter().take_while(|e| e.version == 1).count();
        s.ack_feed_consumer("mailer", first.events[created - 1].seq)?;

        // It reads the three changes, and crashes before mailing and
        // acknowledging them.
        let before_crash = s.read_feed_consumer("mailer", 100)?;
        println!(
            "\nmailer read {} changes, then crashed before mailing them",
            before_crash.events.len()
        );
        assert_eq!(before_crash.events.len(), 3);
        before_crash
    }; // the engine is dropped: the process is gone

    let crm = Crm::new(SqliteStore::open(&path)?).with_clock(clock.clone());
    let s = crm.as_actor(Actor::System);
    let page = s.read_feed_consumer("mailer", 100)?;
    println!("after the restart it reads the same changes again and mails them:");
    assert_eq!(page.events, before_crash.events);
    for event in &page.events {
        mail(&s, event)?;
    }
    s.ack_feed_consumer("mailer", page.next_after)?;
    assert!(s.read_feed_consumer("mailer", 100)?.events.is_empty());
    println!(
        "acknowledged up to #{}; nothing left to read; the file verifies clean: {}",
        page.next_after,
        s.verify()?.is_empty()
    );
    Ok(())
}

/// Upserts every shop customer and order by its shop id; returns what
/// happened to each kind. Orders become won deals the first time.
fn sync<S: Store>(
    s: &Session<'_, S>,
    shop: &[ShopCustomer],
    orders: &[Order],
    pipeline: crm_core::PipelineId,
) -> Result<(Tally, Tally), Box<dyn std::error::Error>> {
    let mut customers = Tally::default();
    let mut ids = BTreeMap::new();
    for c in shop {
        let up = s.upsert_customer(CustomerUpsert::new(
            ExternalKey::new("shop", c.id)?,
            NewCustomer::person(c.name).email(c.email),
        ))?;
        customers.count(up.outcome);
        ids.insert(c.id, up.record.id);
    }
    let mut deals = Tally::default();
    for o in orders {
        let Some(&customer) = ids.get(o.customer) else {
            continue;
        };
        let up = s.upsert_deal(DealUpsert::new(
            ExternalKey::new("shop", o.id)?,
            NewDeal::new(customer, pipeline, format!("Order {}", o.id))
                .amount(Money::parse(o.amount, "EUR")?),
        ))?;
        if up.outcome == UpsertOutcome::Created {
            s.win_deal(up.record.id, up.record.version)?;
        }
        deals.count(up.outcome);
    }
    Ok((customers, deals))
}

/// What the mailer does with one event: tells the customer what changed.
fn mail<S: Store>(s: &Session<'_, S>, event: &crm_core::Event) -> Result<(), crm_core::Error> {
    let customer = s.customer(crm_core::CustomerId::from_uuid(event.entity.id))?;
    let changes: Vec<String> = event
        .changes
        .iter()
        .map(|c| format!("{} {} -> {}", c.field, c.old, c.new))
        .collect();
    println!(
        "  #{} to {}: {} ({})",
        event.seq,
        customer.name,
        event.kind,
        changes.join(", ")
    );
    Ok(())
}
