//! The change feed: every committed change, in commit order, for the
//! host's own systems to keep in step with the CRM.
//!
//! The feed is the audit log ([`crate::event`]) read after a sequence
//! number. Read it statelessly with [`Session::feed`](crate::Session::feed)
//! (the caller keeps its position), or through a named, durable
//! [`FeedConsumer`] whose checkpoint lives in the same database as the
//! records ([`Session::read_feed_consumer`](crate::Session::read_feed_consumer),
//! [`Session::ack_feed_consumer`](crate::Session::ack_feed_consumer)).
//!
//! # The contract (stable across versions)
//!
//! What a consumer may rely on, now and in later versions of this library:
//!
//! - **Order and numbering.** Every committed change appends exactly one
//!   [`Event`] in the change's own transaction. Events are numbered
//!   ([`Event::seq`]) 1, 2, 3, … strictly increasing and without gaps in
//!   commit order; a rolled-back change leaves no number behind. A number
//!   is never reused and an event is never changed or removed (erasure,
//!   when it lands, will rewrite personal *values* inside old events, not
//!   their numbers, kinds or records).
//! - **Positions.** A read returns the events after a position `after`
//!   (0 = from the start) and the position to read after next,
//!   [`FeedPage::next_after`]. Pass it back unchanged: it may be past the
//!   last event returned, when later events were filtered out or are
//!   outside the reader's access, and it never goes back.
//! - **At-least-once.** A consumer's checkpoint only moves when the host
//!   acknowledges. A host that crashes after reading and before
//!   acknowledging reads the same events again, so the host's handler must
//!   be idempotent (key it on [`Event::id`] or on `seq`).
//! - **Unknown kinds.** New [`EventKind`]s and [`EntityKind`]s may be added
//!   in later versions (so may new fields inside an event's `changes`). A
//!   consumer must skip an event whose kind it does not know, and
//!   acknowledge past it, rather than fail. In the JSON form an event's
//!   `kind` and `entity.kind` are snake_case strings.
//! - **What each event carries.** `seq`, `id`, `at` (commit time, from the
//!   engine's clock or the session's `at`), `actor` (who made the change),
//!   `entity` (kind and id of the record), `version` (the record's version
//!   after the change) and `changes`: each changed field with its `old`
//!   and `new` value in the record's serialised form. By kind:
//!   - `created`: every field set on creation (`old` is `null`);
//!   - `updated`: only the fields that changed;
//!   - `stage_changed`, `won`, `lost`, `reopened` (deals): `stage`, and
//!     for `won`/`lost` the close time and (lost) reason;
//!   - `completed` (tasks): `completed_at`;
//!   - `merged` (customers): the merged customer and the records moved;
//!   - `deleted` (saved segments, feed consumers): the values before,
//!     `new` is `null`; the record is gone;
//!   - `scores_written` (model runs): the run's parameters and counts.
//!
//!   Events about automation notifications (`notification`, `created`)
//!   are the automation outbox, see below.
//!
//! # Access
//!
//! A user reads the feed with their access, through the same path as the
//! event log ([`Session::events`](crate::Session::events)): the event scope
//! (by acting user, see [`crate::access`]) applies, and hidden fields are
//! removed from every event's changes by the same redaction. In addition
//! the feed shows an event only if the actor may read its record now: a
//! customer, deal or activity within their read scope, a user or team
//! they may read, a saved segment within their segment scope; events
//! about configuration (pipelines, custom-field schemas, rules,
//! notifications, model runs, feed consumers) need read scope `all` on
//! pipelines, like the custom-field schema. A hidden event still moves the
//! position on, so positions and acknowledgements work as for anyone else.
//! [`Actor::System`] sees every event.
//!
//! # Consumers
//!
//! A [`FeedConsumer`] is a name (1 to
//! [`MAX_CONSUMER_NAME_CHARS`] of
//! `a-z`, `0-9`, `_`, `-`, `.`, starting with a letter or digit), a
//! [`FeedFilter`] fixed at creation, and a checkpoint: the position it has
//! acknowledged up to. At most
//! [`MAX_FEED_CONSUMERS`](crate::limits::MAX_FEED_CONSUMERS) exist at a
//! time. Two consumers never affect each other.
//!
//! - Creating and deleting a consumer are audited writes: an event
//!   `feed_consumer` `created` (name, filter, checkpoint) or `deleted`.
//! - Acknowledging moves the checkpoint forward and appends **no** event:
//!   it is bookkeeping about the feed, not a change to CRM data, and an
//!   event per acknowledgement would put the feed's own bookkeeping into
//!   the feed (a consumer could never be caught up). Acknowledging the
//!   current checkpoint again is a no-op; acknowledging below it, or past
//!   the newest event, is an [`Error::Invalid`] on
//!   field `up_to` that says which. A consumer's `version` stays 1.
//! - Who: any actor who may read the event log (event read scope other
//!   than `none`) may create a consumer and owns it. Its owner, and any
//!   automation administrator (write scope `all` on pipelines, which
//!   includes the system), may read, acknowledge and delete it; to anyone
//!   else it does not exist ([`Error::NotFound`]).
//!   Reading a consumer applies the *reader's* access, as above.
//!
//! # The automation outbox
//!
//! The outbox is the feed of `notification` `created` events. A consumer
//! created with [`FeedFilter::outbox`] reads it page by page with
//! [`Session::read_outbox_consumer`](crate::Session::read_outbox_consumer)
//! (each notification as stored now, with the sequence number of its
//! creation) and acknowledges up to a position like any consumer; only
//! automation administrators may. The older, unpaged
//! [`Session::outbox`](crate::Session::outbox) and
//! [`Session::acknowledge_notification`](crate::Session::acknowledge_notification)
//! keep working and are independent of consumers: a consumer's checkpoint
//! does not mark notifications acknowledged, and acknowledging a
//! notification appends an `updated` event, which an outbox consumer does
//! not see.
//!
//! ```
//! use crm_core::feed::{FeedFilter, FeedRequest, NewFeedConsumer};
//! use crm_core::{Actor, Crm, EntityKind, NewCustomer};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let s = crm.as_actor(Actor::System);
//! s.create_customer(NewCustomer::person("Ada"))?;
//! s.create_feed_consumer(NewFeedConsumer::new("shop-sync")
//!     .filter(FeedFilter::default().entity_kinds([EntityKind::Customer])))?;
//! let page = s.read_feed_consumer("shop-sync", 100)?;
//! assert_eq!(page.events.len(), 1);
//! // ... apply the events, then:
//! s.ack_feed_consumer("shop-sync", page.next_after)?;
//! assert!(s.read_feed_consumer("shop-sync", 100)?.events.is_empty());
//! // The stateless read sees everything, the consumer's creation included.
//! assert_eq!(s.feed(&FeedRequest::after(0))?.events.len(), 2);
//! # Ok::<(), crm_core::Error>(())
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::actor::Actor;
use crate::automation::Notification;
use crate::error::{EntityKind, Error, Result};
use crate::event::{Event, EventKind};
use crate::limits::{MAX_CONSUMER_NAME_CHARS, MAX_FEED_FILTER_KINDS, MAX_PAGE_SIZE};

/// Which events a feed read or a consumer sees: both lists AND together;
/// an empty list means every kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct FeedFilter {
    /// Events about records of these kinds (empty: any kind).
    pub entity_kinds: Vec<EntityKind>,
    /// Events of these kinds (empty: any kind).
    pub event_kinds: Vec<EventKind>,
}

impl FeedFilter {
    /// Only events about records of `kinds`.
    pub fn entity_kinds(mut self, kinds: impl IntoIterator<Item = EntityKind>) -> Self {
        self.entity_kinds = kinds.into_iter().collect();
        self
    }

    /// Only events of `kinds`.
    pub fn event_kinds(mut self, kinds: impl IntoIterator<Item = EventKind>) -> Self {
        self.event_kinds = kinds.into_iter().collect();
        self
    }

    /// The automation outbox: `notification` `created` events.
    pub fn outbox() -> Self {
        FeedFilter::default()
            .entity_kinds([EntityKind::Notification])
            .event_kinds([EventKind::Created])
    }

    /// Whether `e` passes the filter.
    pub fn matches(&self, e: &Event) -> bool {
        (self.entity_kinds.is_empty() || self.entity_kinds.contains(&e.entity.kind))
            && (self.event_kinds.is_empty() || self.event_kinds.contains(&e.kind))
    }

    /// The filter with each list sorted and without repeats, after
    /// checking each holds at most
    /// [`MAX_FEED_FILTER_KINDS`].
    pub(crate) fn normalised(&self, entity: EntityKind) -> Result<FeedFilter> {
        for (field, len) in [
            ("filter.entity_kinds", self.entity_kinds.len()),
            ("filter.event_kinds", self.event_kinds.len()),
        ] {
            if len > MAX_FEED_FILTER_KINDS {
                return Err(Error::invalid(
                    entity,
                    field,
                    format!("{len} kinds"),
                    format!("a feed filter lists at most {MAX_FEED_FILTER_KINDS} kinds"),
                ));
            }
        }
        let mut f = self.clone();
        f.entity_kinds.sort();
        f.entity_kinds.dedup();
        f.event_kinds.sort();
        f.event_kinds.dedup();
        Ok(f)
    }
}

/// A stateless feed read: the events after `after` that pass `filter`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FeedRequest {
    /// The position to read after: 0 for the start, else a
    /// [`FeedPage::next_after`] (or an event's `seq`).
    #[serde(default)]
    pub after: u64,
    /// At most this many events (1 to
    /// [`MAX_PAGE_SIZE`]; default 100).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Which events.
    #[serde(default)]
    pub filter: FeedFilter,
}

fn default_limit() -> u32 {
    100
}

impl FeedRequest {
    /// Every event after `after`, 100 at a time.
    pub fn after(after: u64) -> Self {
        FeedRequest {
            after,
            limit: default_limit(),
            filter: FeedFilter::default(),
        }
    }

    /// At most `limit` events per page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Only the events passing `filter`.
    pub fn filter(mut self, filter: FeedFilter) -> Self {
        self.filter = filter;
        self
    }
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FeedPage {
    /// The events, in `seq` order, redacted for the reader.
    pub events: Vec<Event>,
    /// The position to read after next, and to acknowledge once these
    /// events are applied: at least the `seq` of the last event returned,
    /// possibly more (events skipped by the filter or the reader's access).
    pub next_after: u64,
    /// The newest event's `seq` when the page was read.
    pub head: u64,
    /// Whether `next_after` reached `head`: nothing more to read for now.
    pub caught_up: bool,
}

/// A named, durable reader of the feed (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FeedConsumer {
    /// The id its events are about (entity kind `feed_consumer`).
    pub id: Uuid,
    /// Its unique name.
    pub name: String,
    /// Always 1: acknowledgements move the checkpoint, not the version.
    pub version: u64,
    /// The events it reads, fixed at creation.
    pub filter: FeedFilter,
    /// The position acknowledged so far (0: nothing yet).
    pub checkpoint: u64,
    /// Who created it.
    pub owner: Actor,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last acknowledged, if ever.
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// What a new consumer is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewFeedConsumer {
    /// Its name (see [`validate_consumer_name`]).
    pub name: String,
    /// The events it reads (default: all).
    #[serde(default)]
    pub filter: FeedFilter,
    /// Start after this position instead of at the start (0), e.g. the
    /// newest `seq` to skip history. At most the newest event's `seq`.
    #[serde(default)]
    pub start_after: u64,
}

impl NewFeedConsumer {
    /// A consumer named `name` reading every event from the start.
    pub fn new(name: impl Into<String>) -> Self {
        NewFeedConsumer {
            name: name.into(),
            filter: FeedFilter::default(),
            start_after: 0,
        }
    }

    /// Reads only the events passing `filter`.
    pub fn filter(mut self, filter: FeedFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Starts after position `seq`.
    pub fn start_after(mut self, seq: u64) -> Self {
        self.start_after = seq;
        self
    }
}

/// One outbox notification, with the position of its creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OutboxItem {
    /// The `seq` of the event that created it.
    pub seq: u64,
    /// The notification as stored now (acknowledged or not).
    pub notification: Notification,
}

/// One page of the outbox read through a consumer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OutboxPage {
    /// The notifications, oldest first.
    pub items: Vec<OutboxItem>,
    /// As [`FeedPage::next_after`].
    pub next_after: u64,
    /// As [`FeedPage::head`].
    pub head: u64,
    /// As [`FeedPage::caught_up`].
    pub caught_up: bool,
}

/// Checks a consumer name: 1 to
/// [`MAX_CONSUMER_NAME_CHARS`] of
/// `a-z`, `0-9`, `_`, `-`, `.`, starting with a letter or a digit.
///
/// ```
/// use crm_core::feed::validate_consumer_name;
/// assert!(validate_consumer_name("erp-sync.v2").is_ok());
/// assert!(validate_consumer_name("ERP sync").is_err());
/// assert!(validate_consumer_name("").is_err());
/// ```
pub fn validate_consumer_name(name: &str) -> Result<()> {
    let bad = |reason: String| {
        Err(Error::invalid(
            EntityKind::FeedConsumer,
            "name",
            name.chars()
                .take(MAX_CONSUMER_NAME_CHARS + 1)
                .collect::<String>(),
            reason,
        ))
    };
    let len = name.chars().count();
    if len == 0 || len > MAX_CONSUMER_NAME_CHARS {
        return bad(format!(
            "a consumer name has 1 to {MAX_CONSUMER_NAME_CHARS} characters, this one {len}"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return bad("a consumer name starts with a-z or 0-9".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(*c)))
    {
        return bad(format!(
            "a consumer name holds only a-z, 0-9, '_', '-' and '.', not {c:?}"
        ));
    }
    Ok(())
}

/// Checks a page size: 1 to [`MAX_PAGE_SIZE`].
pub(crate) fn check_limit(entity: EntityKind, limit: u32) -> Result<()> {
    if limit == 0 || limit > MAX_PAGE_SIZE {
        return Err(Error::invalid(
            entity,
            "limit",
            limit,
            format!("a page holds 1 to {MAX_PAGE_SIZE} events"),
        ));
    }
    Ok(())
}
