//! The change feed through the facade: see [`crate::feed`].

use std::collections::HashMap;

use super::Session;
use crate::access::{Access, Operation, Resource, Scope};
use crate::actor::Actor;
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EntityRef, Event, EventKind, NewEvent};
use crate::feed::{
    FeedConsumer, FeedFilter, FeedPage, FeedRequest, NewFeedConsumer, OutboxItem, OutboxPage,
    check_limit, validate_consumer_name,
};
use crate::id::{
    ActivityId, CustomerId, DealId, EventId, NotificationId, SegmentId, TeamId, UserId,
};
use crate::limits::{MAX_FEED_CONSUMERS, MAX_FEED_SCAN, MAX_PAGE_SIZE};
use crate::query::EventFilter;
use crate::store::{ReadTx, Store};

impl<S: Store> Session<'_, S> {
    /// A page of the change feed: the events after `request.after` that
    /// pass its filter and that the actor may see, oldest first, hidden
    /// fields removed (see [`crate::feed`] for the contract and access).
    /// A position past the newest event is an
    /// [`Error::Invalid`](crate::Error::Invalid) on `after`.
    ///
    /// ```
    /// use crm_core::feed::FeedRequest;
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// for name in ["Ada", "Grace", "Edsger"] {
    ///     s.create_customer(NewCustomer::person(name))?;
    /// }
    /// let first = s.feed(&FeedRequest::after(0).limit(2))?;
    /// assert_eq!((first.events.len(), first.next_after, first.caught_up), (2, 2, false));
    /// let rest = s.feed(&FeedRequest::after(first.next_after).limit(2))?;
    /// assert_eq!((rest.events.len(), rest.next_after, rest.caught_up), (1, 3, true));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn feed(&self, request: &FeedRequest) -> Result<FeedPage> {
        check_limit(EntityKind::Event, request.limit)?;
        let filter = request.filter.normalised(EntityKind::Event)?;
        self.with_access(|tx, acc| {
            let head = tx.last_event_seq()?;
            if request.after > head {
                return Err(Error::invalid(
                    EntityKind::Event,
                    "after",
                    request.after,
                    format!("is past the newest event, number {head}"),
                ));
            }
            read_page(tx, acc, request.after, &filter, request.limit, head)
        })
    }

    /// Creates a named, durable feed consumer owned by the actor, reading
    /// from `new.start_after` (see [`crate::feed`]); appends a
    /// `feed_consumer` `created` event. The name must be free (an
    /// [`Error::Invalid`](crate::Error::Invalid) on `name` otherwise).
    pub fn create_feed_consumer(&self, new: NewFeedConsumer) -> Result<FeedConsumer> {
        validate_consumer_name(&new.name)?;
        let filter = new.filter.normalised(EntityKind::FeedConsumer)?;
        let mut tx = self.crm.store.write()?;
        let acc = Access::load(&*tx, self.actor)?;
        if acc.actor() != Actor::System && acc.permissions().read(Resource::Events) == Scope::None {
            return Err(Error::PermissionDenied {
                actor: self.actor,
                resource: Resource::Events,
                operation: Operation::Create,
                id: new.name,
                needed: Scope::Own,
                granted: Scope::None,
                field: None,
            });
        }
        if tx.feed_consumer(&new.name)?.is_some() {
            return Err(Error::invalid(
                EntityKind::FeedConsumer,
                "name",
                &new.name,
                "a feed consumer with this name exists; delete it first or pick another name",
            ));
        }
        if tx.feed_consumers()?.len() >= MAX_FEED_CONSUMERS {
            return Err(Error::invalid(
                EntityKind::FeedConsumer,
                "name",
                &new.name,
                format!("at most {MAX_FEED_CONSUMERS} feed consumers may exist; delete one first"),
            ));
        }
        let head = tx.last_event_seq()?;
        if new.start_after > head {
            return Err(Error::invalid(
                EntityKind::FeedConsumer,
                "start_after",
                new.start_after,
                format!("is past the newest event, number {head}"),
            ));
        }
        let now = self.at.unwrap_or_else(|| self.crm.now());
        let consumer = FeedConsumer {
            id: self.crm.ids.next_uuid(self.crm.now()),
            name: new.name,
            version: 1,
            filter,
            checkpoint: new.start_after,
            owner: self.actor,
            created_at: now,
            acknowledged_at: None,
        };
        tx.insert_feed_consumer(&consumer)?;
        let mut ch = Changes::default();
        ch.set("name", &(), &consumer.name);
        ch.set("filter", &(), &consumer.filter);
        ch.set("checkpoint", &(), &consumer.checkpoint);
        ch.set("owner", &(), &consumer.owner);
        tx.append_event(NewEvent {
            id: EventId::from_uuid(self.crm.ids.next_uuid(self.crm.now())),
            at: now,
            actor: self.actor,
            entity: consumer_ref(&consumer),
            version: 1,
            kind: EventKind::Created,
            changes: ch.into_vec(),
        })?;
        tx.commit()?;
        Ok(consumer)
    }

    /// Deletes the feed consumer `name` (its checkpoint is gone; a new
    /// consumer of that name starts afresh); appends a `feed_consumer`
    /// `deleted` event.
    pub fn delete_feed_consumer(&self, name: &str) -> Result<()> {
        validate_consumer_name(name)?;
        let mut tx = self.crm.store.write()?;
        let acc = Access::load(&*tx, self.actor)?;
        let current = consumer_in_reach(&*tx, &acc, name)?;
        tx.delete_feed_consumer(name)?;
        let now = self.at.unwrap_or_else(|| self.crm.now());
        let mut ch = Changes::default();
        ch.set("name", &current.name, &());
        ch.set("filter", &current.filter, &());
        ch.set("checkpoint", &current.checkpoint, &());
        ch.set("owner", &current.owner, &());
        tx.append_event(NewEvent {
            id: EventId::from_uuid(self.crm.ids.next_uuid(self.crm.now())),
            at: now,
            actor: self.actor,
            entity: consumer_ref(&current),
            version: current.version + 1,
            kind: EventKind::Deleted,
            changes: ch.into_vec(),
        })?;
        tx.commit()?;
        Ok(())
    }

    /// The feed consumers the actor may use (all of them for an
    /// automation administrator, else the actor's own), by name.
    pub fn feed_consumers(&self) -> Result<Vec<FeedConsumer>> {
        self.with_access(|tx, acc| {
            Ok(tx
                .feed_consumers()?
                .into_iter()
                .filter(|c| may_use(acc, c))
                .collect())
        })
    }

    /// The next page of consumer `name`: the events after its checkpoint
    /// that pass its filter, read with the actor's access (see
    /// [`Session::feed`]). Reading does not move the checkpoint: call
    /// [`Session::ack_feed_consumer`] with the page's `next_after` once
    /// the events are applied.
    pub fn read_feed_consumer(&self, name: &str, limit: u32) -> Result<FeedPage> {
        validate_consumer_name(name)?;
        check_limit(EntityKind::FeedConsumer, limit)?;
        self.with_access(|tx, acc| {
            let c = consumer_in_reach(tx, acc, name)?;
            let head = tx.last_event_seq()?;
            read_page(tx, acc, c.checkpoint.min(head), &c.filter, limit, head)
        })
    }

    /// Moves consumer `name`'s checkpoint to `up_to` (a page's
    /// `next_after`, or an event's `seq`). Acknowledging the current
    /// checkpoint again changes nothing; a number below it, or past the
    /// newest event, is an [`Error::Invalid`](crate::Error::Invalid) on
    /// `up_to`. No event is appended (see [`crate::feed`]).
    pub fn ack_feed_consumer(&self, name: &str, up_to: u64) -> Result<FeedConsumer> {
        validate_consumer_name(name)?;
        let mut tx = self.crm.store.write()?;
        let acc = Access::load(&*tx, self.actor)?;
        let current = consumer_in_reach(&*tx, &acc, name)?;
        if up_to == current.checkpoint {
            return Ok(current);
        }
        if up_to < current.checkpoint {
            return Err(Error::invalid(
                EntityKind::FeedConsumer,
                "up_to",
                up_to,
                format!(
                    "is below the consumer's checkpoint {}: acknowledgements only move forward",
                    current.checkpoint
                ),
            ));
        }
        let head = tx.last_event_seq()?;
        if up_to > head {
            return Err(Error::invalid(
                EntityKind::FeedConsumer,
                "up_to",
                up_to,
                format!("is past the newest event, number {head}"),
            ));
        }
        let next = FeedConsumer {
            checkpoint: up_to,
            acknowledged_at: Some(self.at.unwrap_or_else(|| self.crm.now())),
            ..current
        };
        tx.update_feed_consumer(&next)?;
        tx.commit()?;
        Ok(next)
    }

    /// The next page of the automation outbox through consumer `name`,
    /// which must have been created with [`FeedFilter::outbox`]: each
    /// notification created after its checkpoint, as stored now, with the
    /// `seq` of its creation. Acknowledge with
    /// [`Session::ack_feed_consumer`]. Automation administrators only,
    /// like [`Session::outbox`].
    ///
    /// ```
    /// use crm_core::feed::{FeedFilter, NewFeedConsumer};
    /// use crm_core::{Actor, Crm};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// s.create_feed_consumer(NewFeedConsumer::new("mailer").filter(FeedFilter::outbox()))?;
    /// let page = s.read_outbox_consumer("mailer", 50)?;
    /// assert!(page.items.is_empty() && page.caught_up);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn read_outbox_consumer(&self, name: &str, limit: u32) -> Result<OutboxPage> {
        validate_consumer_name(name)?;
        check_limit(EntityKind::FeedConsumer, limit)?;
        self.with_access(|tx, acc| {
            acc.check_write_all(Resource::Pipelines, Operation::Update, "automation")?;
            let c = consumer_in_reach(tx, acc, name)?;
            if c.filter != FeedFilter::outbox() {
                return Err(Error::invalid(
                    EntityKind::FeedConsumer,
                    "filter",
                    name,
                    "this consumer does not read the outbox: create one with the outbox filter \
                     (entity kind notification, event kind created)",
                ));
            }
            let head = tx.last_event_seq()?;
            let page = read_page(tx, acc, c.checkpoint.min(head), &c.filter, limit, head)?;
            let mut items = Vec::with_capacity(page.events.len());
            for e in page.events {
                let id = NotificationId::from_uuid(e.entity.id);
                if let Some(notification) = tx.notification(id)? {
                    items.push(OutboxItem {
                        seq: e.seq,
                        notification,
                    });
                }
            }
            Ok(OutboxPage {
                items,
                next_after: page.next_after,
                head: page.head,
                caught_up: page.caught_up,
            })
        })
    }
}

fn consumer_ref(c: &FeedConsumer) -> EntityRef {
    EntityRef {
        kind: EntityKind::FeedConsumer,
        id: c.id,
    }
}

/// Whether the actor may read, acknowledge and delete consumer `c`: its
/// owner, or an automation administrator.
fn may_use(acc: &Access, c: &FeedConsumer) -> bool {
    c.owner == acc.actor()
        || acc
            .check_write_all(Resource::Pipelines, Operation::Update, "")
            .is_ok()
}

/// The consumer `name` if the actor may use it; not found otherwise.
fn consumer_in_reach(tx: &dyn ReadTx, acc: &Access, name: &str) -> Result<FeedConsumer> {
    tx.feed_consumer(name)?
        .filter(|c| may_use(acc, c))
        .ok_or_else(|| Error::not_found(EntityKind::FeedConsumer, name))
}

/// One page: the events after `after` passing `filter` that the actor may
/// see, at most `limit`, looking at no more than [`MAX_FEED_SCAN`]
/// events. `head` is the newest `seq` in this transaction.
fn read_page(
    tx: &dyn ReadTx,
    acc: &Access,
    after: u64,
    filter: &FeedFilter,
    limit: u32,
    head: u64,
) -> Result<FeedPage> {
    let mut scope = EventFilter::default();
    acc.restrict_events(&mut scope)?;
    let mut seen: HashMap<EntityRef, bool> = HashMap::new();
    let mut events: Vec<Event> = Vec::new();
    let mut pos = after;
    let mut scanned = 0usize;
    let want = limit as usize;
    // The system sees every event: fetch exactly what is left. A
    // restricted reader skips some: fetch at least a few hundred at once.
    let least = if acc.actor() == Actor::System { 1 } else { 256 };
    'pages: while pos < head && scanned < MAX_FEED_SCAN {
        let fetch = u32::try_from(want - events.len())
            .unwrap_or(MAX_PAGE_SIZE)
            .clamp(least, MAX_PAGE_SIZE);
        let batch = tx.events_after(pos, filter, scope.actor_in.as_deref(), fetch)?;
        let complete = batch.len() < fetch as usize;
        for mut e in batch {
            scanned += 1;
            pos = e.seq;
            if visible(tx, acc, &scope, &mut seen, &e)? {
                acc.redact_event(&mut e);
                events.push(e);
                if events.len() == want {
                    break 'pages;
                }
            }
        }
        if complete {
            // Every event up to `head` that passes the filter was seen.
            pos = head;
        }
    }
    Ok(FeedPage {
        events,
        next_after: pos,
        head,
        caught_up: pos >= head,
    })
}

/// Whether the actor may see event `e`: within the event scope (as in the
/// event log) and about a record they may read now (see [`crate::feed`]).
fn visible(
    tx: &dyn ReadTx,
    acc: &Access,
    scope: &EventFilter,
    seen: &mut HashMap<EntityRef, bool>,
    e: &Event,
) -> Result<bool> {
    use crate::query::Filter;
    if acc.actor() == Actor::System {
        return Ok(true);
    }
    if !scope.matches(e) {
        return Ok(false);
    }
    if let Some(v) = seen.get(&e.entity) {
        return Ok(*v);
    }
    let id = e.entity.id;
    let v = match e.entity.kind {
        EntityKind::Customer => {
            let owner = tx.customer(CustomerId::from_uuid(id))?.map(|c| c.owner);
            acc.can_read(Resource::Customers, owner.flatten())
        }
        EntityKind::Deal => {
            let owner = tx.deal(DealId::from_uuid(id))?.map(|d| d.owner);
            acc.can_read(Resource::Deals, owner.flatten())
        }
        EntityKind::Activity => {
            let owner = tx.activity(ActivityId::from_uuid(id))?.map(|a| a.owner);
            acc.can_read(Resource::Activities, owner.flatten())
        }
        EntityKind::Segment => {
            let owner = tx.segment(SegmentId::from_uuid(id))?.map(|s| s.owner);
            acc.can_read(Resource::Segments, owner.flatten())
        }
        EntityKind::User => acc.can_read(Resource::Users, Some(UserId::from_uuid(id))),
        EntityKind::Team => acc.can_read_team(TeamId::from_uuid(id)),
        EntityKind::Pipeline
        | EntityKind::Event
        | EntityKind::FieldSchema
        | EntityKind::Rule
        | EntityKind::Notification
        | EntityKind::ModelRun
        | EntityKind::FeedConsumer => acc.can_read(Resource::Pipelines, None),
    };
    seen.insert(e.entity, v);
    Ok(v)
}
