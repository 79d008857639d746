//! Full backups: every record and the whole audit log in one JSON-lines
//! file, restorable into an empty store of any backend.
//!
//! The first line is a header naming the format and its version; every
//! other line is one record, tagged with its kind:
//!
//! ```text
//! {"header":{"format":"crm-core backup","version":3}}
//! {"team":{...}}
//! {"user":{...}}          (with roles and team memberships)
//! {"field_schema":{...}}  (custom field definitions per entity type)
//! {"pipeline":{...}}
//! {"customer":{...}}
//! {"deal":{...}}        (with its stage history)
//! {"activity":{...}}
//! {"segment":{...}}     (saved segments)
//! {"event":{...}}       (in log order, with their sequence numbers)
//! {"rule":{...}}        (automation rules, by id; version 2)
//! {"notification":{...}} (the outbox, acknowledged ones included; version 2)
//! {"firing":{...}}      (recorded time-rule firings; version 2)
//! {"round_robin_cursor":{...}} (the last user per team; version 2)
//! {"external_key":{...}}  (entity, system, key, record; version 3)
//! {"idempotency_key":{...}} (entity, key, record, fingerprint; version 3)
//! {"feed_consumer":{...}} (change-feed consumers with their checkpoints; version 3)
//! ```
//!
//! Version 2 added the automation lines, version 3 the external keys,
//! idempotency keys ([`crate::external_key`]) and feed consumers
//! ([`crate::feed`]); a version-1 or version-2 file (without them) still
//! restores.
//!
//! Records are the domain types' serde forms (money as decimal strings,
//! times in RFC 3339), in the stores' default listing order, so the same
//! data gives the same file byte for byte whichever backend holds it.
//! Merged customers are included.
//!
//! [`Session::backup`](crate::Session::backup) writes one from a single
//! consistent read; [`Session::restore`](crate::Session::restore) reads one
//! into an empty store in one transaction, checking the header, that every
//! reference (a deal's customer and pipeline and stage, an activity's
//! customer and deal, a person's organisation) resolves inside the backup,
//! that custom values fit the backup's custom-field schemas, and that the
//! events number 1, 2, 3, … . Any problem restores nothing.

use serde::{Deserialize, Serialize};

use crate::activity::Activity;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::event::Event;
use crate::pipeline::Pipeline;

/// The format name in a backup's header.
pub const FORMAT: &str = "crm-core backup";

/// The newest format version this library writes and reads.
pub const VERSION: u32 = 3;

/// A backup's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version ([`VERSION`] when written by this library).
    pub version: u32,
}

/// One line of a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Line {
    /// The header (first line only).
    Header(Header),
    /// A team.
    Team(crate::team::Team),
    /// A user.
    User(crate::user::User),
    /// The custom fields of one entity type.
    FieldSchema(crate::custom_field::FieldSchema),
    /// A pipeline.
    Pipeline(Pipeline),
    /// A customer.
    Customer(Customer),
    /// A deal with its history.
    Deal(Deal),
    /// An activity.
    Activity(Activity),
    /// A saved segment.
    Segment(crate::segment::Segment),
    /// An audit-log event.
    Event(Event),
    /// An automation rule.
    Rule(crate::automation::Rule),
    /// An outbox notification (acknowledged or not).
    Notification(crate::automation::Notification),
    /// A recorded time-rule firing.
    Firing(crate::automation::Firing),
    /// A team's round-robin cursor.
    RoundRobinCursor(RoundRobinCursor),
    /// An external key and the record holding it.
    ExternalKey(crate::external_key::ExternalKeyEntry),
    /// A stored idempotency key of a create.
    IdempotencyKey(crate::external_key::IdempotencyRecord),
    /// A change-feed consumer with its checkpoint (version 3).
    FeedConsumer(crate::feed::FeedConsumer),
}

/// The user a team's round-robin assignment chose last (see
/// [`Assignee::RoundRobin`](crate::automation::Assignee::RoundRobin)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoundRobinCursor {
    /// The team.
    pub team: crate::id::TeamId,
    /// The user chosen last.
    pub user: crate::id::UserId,
}

/// How many records of each kind a backup held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BackupCounts {
    /// Teams.
    pub teams: u64,
    /// Users.
    pub users: u64,
    /// Custom-field schemas.
    pub field_schemas: u64,
    /// Pipelines.
    pub pipelines: u64,
    /// Customers (merged ones included).
    pub customers: u64,
    /// Deals.
    pub deals: u64,
    /// Activities.
    pub activities: u64,
    /// Saved segments.
    pub segments: u64,
    /// Events.
    pub events: u64,
    /// Automation rules.
    #[serde(default)]
    pub rules: u64,
    /// Outbox notifications.
    #[serde(default)]
    pub notifications: u64,
    /// Recorded firings.
    #[serde(default)]
    pub firings: u64,
    /// Round-robin cursors.
    #[serde(default)]
    pub round_robin_cursors: u64,
    /// External keys.
    #[serde(default)]
    pub external_keys: u64,
    /// Idempotency keys.
    #[serde(default)]
    pub idempotency_keys: u64,
    /// Change-feed consumers.
    #[serde(default)]
    pub feed_consumers: u64,
}

impl BackupCounts {
    pub(crate) fn count(&mut self, line: &Line) {
        match line {
            Line::Header(_) => {}
            Line::FieldSchema(_) => self.field_schemas += 1,
            Line::Team(_) => self.teams += 1,
            Line::User(_) => self.users += 1,
            Line::Segment(_) => self.segments += 1,
            Line::Pipeline(_) => self.pipelines += 1,
            Line::Customer(_) => self.customers += 1,
            Line::Deal(_) => self.deals += 1,
            Line::Activity(_) => self.activities += 1,
            Line::Event(_) => self.events += 1,
            Line::Rule(_) => self.rules += 1,
            Line::Notification(_) => self.notifications += 1,
            Line::Firing(_) => self.firings += 1,
            Line::RoundRobinCursor(_) => self.round_robin_cursors += 1,
            Line::ExternalKey(_) => self.external_keys += 1,
            Line::IdempotencyKey(_) => self.idempotency_keys += 1,
            Line::FeedConsumer(_) => self.feed_consumers += 1,
        }
    }
}
