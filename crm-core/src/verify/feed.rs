//! The checks of [`super::check`] on change-feed consumers: a checkpoint
//! is never past the newest event (a consumer would skip the events that
//! get those numbers later), the name is one the engine accepts, the
//! version is 1, and the owner is a stored user.

use std::collections::HashSet;

use uuid::Uuid;

use super::{Check, Findings};
use crate::actor::Actor;
use crate::error::EntityKind;
use crate::feed::{FeedConsumer, validate_consumer_name};

pub(super) fn consumers(
    f: &mut Findings,
    consumers: &[FeedConsumer],
    last_seq: u64,
    users: &HashSet<Uuid>,
) {
    for c in consumers {
        if c.checkpoint > last_seq {
            f.push(
                EntityKind::FeedConsumer,
                &c.name,
                Check::Counter,
                format!(
                    "its checkpoint {} is past the newest event {last_seq}",
                    c.checkpoint
                ),
            );
        }
        if let Err(e) = validate_consumer_name(&c.name) {
            f.push(
                EntityKind::FeedConsumer,
                &c.name,
                Check::Value,
                format!("its name would be refused: {e}"),
            );
        }
        if let Actor::User(u) = c.owner
            && !users.contains(&u.as_uuid())
        {
            f.push(
                EntityKind::FeedConsumer,
                &c.name,
                Check::Reference,
                format!("its owner {u} is not a stored user"),
            );
        }
    }
}
