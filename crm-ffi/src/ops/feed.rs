//! `feed.*` and `outbox.read`: the change feed, its durable consumers and
//! the automation outbox read through a consumer (see `crm_core::feed`).

use crm_core::feed::{FeedFilter, FeedRequest, NewFeedConsumer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Ctx, Empty, json, out, req};
use crate::status::{CrmStatus, Failure};

/// `feed.read`: either a stateless read (`after`, `filter`) or the next
/// page of a named consumer (`consumer`: from its checkpoint, with its
/// filter).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Read {
    /// Read through this consumer (then `after` and `filter` are not
    /// given: the consumer's checkpoint and filter apply).
    #[serde(default)]
    consumer: Option<String>,
    /// The position to read after (default 0: from the start): a page's
    /// `next_after` or an event's `seq`.
    #[serde(default)]
    after: Option<u64>,
    /// At most this many events (1 to 10000, default 100).
    #[serde(default)]
    limit: Option<u32>,
    /// Which events (default: all).
    #[serde(default)]
    filter: Option<FeedFilter>,
}

const DEFAULT_LIMIT: u32 = 100;

pub(super) fn read(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Read = req(request)?;
    let limit = r.limit.unwrap_or(DEFAULT_LIMIT);
    match r.consumer {
        Some(name) => {
            for (field, given) in [("after", r.after.is_some()), ("filter", r.filter.is_some())] {
                if given {
                    return Err(Failure::new(
                        CrmStatus::InvalidInput,
                        format!(
                            "request.{field}: not allowed with \"consumer\": a consumer reads from its checkpoint with its own filter"
                        ),
                    )
                    .at_path(field.to_owned()));
                }
            }
            out(c.s.read_feed_consumer(&name, limit))
        }
        None => out(c.s.feed(
            &FeedRequest::after(r.after.unwrap_or(0))
                .limit(limit)
                .filter(r.filter.unwrap_or_default()),
        )),
    }
}

/// `feed.ack`: moves a consumer's checkpoint forward.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Ack {
    /// The consumer.
    consumer: String,
    /// The position acknowledged: a page's `next_after` (not below the
    /// checkpoint, not past the newest event).
    up_to: u64,
}

pub(super) fn ack(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Ack = req(request)?;
    out(c.s.ack_feed_consumer(&r.consumer, r.up_to))
}

pub(super) fn consumers(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    req::<Empty>(request)?;
    out(c.s.feed_consumers())
}

pub(super) fn create_consumer(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.create_feed_consumer(req::<NewFeedConsumer>(request)?))
}

/// `feed.delete_consumer` and `outbox.read`: a consumer by name.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ByName {
    /// The consumer.
    consumer: String,
}

/// What `feed.delete_consumer` answers.
#[derive(Serialize, JsonSchema)]
pub(super) struct Deleted {
    /// The consumer deleted.
    consumer: String,
    /// Always `true`.
    deleted: bool,
}

pub(super) fn delete_consumer(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: ByName = req(request)?;
    c.s.delete_feed_consumer(&r.consumer)?;
    json(&Deleted {
        consumer: r.consumer,
        deleted: true,
    })
}

/// `outbox.read`: the next page of the outbox through a consumer created
/// with the outbox filter.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OutboxRead {
    /// The consumer (created with filter entity kind `notification`,
    /// event kind `created`).
    consumer: String,
    /// At most this many notifications (1 to 10000, default 100).
    #[serde(default)]
    limit: Option<u32>,
}

pub(super) fn outbox_read(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: OutboxRead = req(request)?;
    out(c
        .s
        .read_outbox_consumer(&r.consumer, r.limit.unwrap_or(DEFAULT_LIMIT)))
}
