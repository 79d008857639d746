//! Conversions between domain values and SQLite values.
//!
//! Encoding never fails for valid records; decoding checks everything and
//! reports a value it cannot read back as [`StoreError::Corrupt`], naming
//! the table and column.

use chrono::{DateTime, NaiveDate, Utc};
use crm_core::{
    AccessRole, ActivityKind, Actor, Direction, EntityKind, EventKind, Lifecycle, PartyKind, Role,
    StageGuard, StageKind, StoreError, UserId, deal::DealStatus,
};
use rusqlite::Row;
use rusqlite::types::ValueRef;
use uuid::Uuid;

/// Wraps a rusqlite error with what was being done.
pub(crate) fn backend(context: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| StoreError::backend(context, e)
}

/// A value in `table.column` that is not what the schema promises.
pub(crate) fn corrupt(table: &str, column: &str, problem: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{table}.{column}: {problem}"))
}

/// Where a column comes from, for error messages.
#[derive(Clone, Copy)]
pub(crate) struct Col {
    pub table: &'static str,
    pub column: &'static str,
}

pub(crate) const fn col(table: &'static str, column: &'static str) -> Col {
    Col { table, column }
}

impl Col {
    fn err(self, problem: impl std::fmt::Display) -> StoreError {
        corrupt(self.table, self.column, problem)
    }
}

fn value<'r>(row: &'r Row<'_>, idx: usize, c: Col) -> Result<ValueRef<'r>, StoreError> {
    row.get_ref(idx).map_err(|e| c.err(e))
}

fn describe(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "an integer",
        ValueRef::Real(_) => "a real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "a blob",
    }
}

// ----- reading -----

pub(crate) fn get_i64(row: &Row<'_>, idx: usize, c: Col) -> Result<i64, StoreError> {
    match value(row, idx, c)? {
        ValueRef::Integer(i) => Ok(i),
        other => Err(c.err(format!("expected an integer, found {}", describe(other)))),
    }
}

pub(crate) fn get_opt_i64(row: &Row<'_>, idx: usize, c: Col) -> Result<Option<i64>, StoreError> {
    match value(row, idx, c)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(i)),
        other => Err(c.err(format!("expected an integer, found {}", describe(other)))),
    }
}

/// Versions and sequence numbers are `u64` stored bit-for-bit as `i64`.
pub(crate) fn get_u64(row: &Row<'_>, idx: usize, c: Col) -> Result<u64, StoreError> {
    get_i64(row, idx, c).map(from_i64)
}

pub(crate) fn get_str<'r>(row: &'r Row<'_>, idx: usize, c: Col) -> Result<&'r str, StoreError> {
    match value(row, idx, c)? {
        ValueRef::Text(t) => std::str::from_utf8(t).map_err(|e| c.err(e)),
        other => Err(c.err(format!("expected text, found {}", describe(other)))),
    }
}

/// Custom field values as stored: a JSON object (`{}` when there are none).
pub(crate) fn custom_json(
    values: &crm_core::custom_field::CustomValues,
) -> Result<String, StoreError> {
    if values.is_empty() {
        return Ok("{}".to_owned());
    }
    serde_json::to_string(values)
        .map_err(|e| StoreError::backend("encoding custom field values as JSON", e))
}

pub(crate) fn get_custom(
    row: &Row<'_>,
    idx: usize,
    c: Col,
) -> Result<crm_core::custom_field::CustomValues, StoreError> {
    let text = get_str(row, idx, c)?;
    if text == "{}" {
        return Ok(Default::default());
    }
    serde_json::from_str(text).map_err(|e| c.err(e))
}

pub(crate) fn get_opt_str<'r>(
    row: &'r Row<'_>,
    idx: usize,
    c: Col,
) -> Result<Option<&'r str>, StoreError> {
    match value(row, idx, c)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(t) => std::str::from_utf8(t).map(Some).map_err(|e| c.err(e)),
        other => Err(c.err(format!("expected text, found {}", describe(other)))),
    }
}

pub(crate) fn get_uuid(row: &Row<'_>, idx: usize, c: Col) -> Result<Uuid, StoreError> {
    get_opt_uuid(row, idx, c)?.ok_or_else(|| c.err("expected a UUID, found NULL"))
}

pub(crate) fn get_opt_uuid(row: &Row<'_>, idx: usize, c: Col) -> Result<Option<Uuid>, StoreError> {
    match value(row, idx, c)? {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(b) => Uuid::from_slice(b)
            .map(Some)
            .map_err(|_| c.err(format!("expected a 16-byte UUID, found {} bytes", b.len()))),
        other => Err(c.err(format!("expected a UUID blob, found {}", describe(other)))),
    }
}

pub(crate) fn get_time(row: &Row<'_>, idx: usize, c: Col) -> Result<DateTime<Utc>, StoreError> {
    time_from_millis(get_i64(row, idx, c)?, c)
}

pub(crate) fn get_opt_time(
    row: &Row<'_>,
    idx: usize,
    c: Col,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    get_opt_i64(row, idx, c)?
        .map(|ms| time_from_millis(ms, c))
        .transpose()
}

fn time_from_millis(ms: i64, c: Col) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| c.err(format!("{ms} ms is not a representable time")))
}

pub(crate) fn get_opt_user(
    row: &Row<'_>,
    idx: usize,
    c: Col,
) -> Result<Option<UserId>, StoreError> {
    Ok(get_opt_uuid(row, idx, c)?.map(UserId::from_uuid))
}

/// An actor column: a user id, or NULL for the system.
pub(crate) fn get_actor(row: &Row<'_>, idx: usize, c: Col) -> Result<Actor, StoreError> {
    Ok(match get_opt_uuid(row, idx, c)? {
        None => Actor::System,
        Some(u) => Actor::User(UserId::from_uuid(u)),
    })
}

pub(crate) fn get_date(row: &Row<'_>, idx: usize, c: Col) -> Result<Option<NaiveDate>, StoreError> {
    get_opt_str(row, idx, c)?
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|e| c.err(format!("{s:?} is not a YYYY-MM-DD date: {e}")))
        })
        .transpose()
}

/// Parses a text column through `parse`, reporting failures as corruption.
pub(crate) fn get_parsed<T, E: std::fmt::Display>(
    row: &Row<'_>,
    idx: usize,
    c: Col,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, StoreError> {
    let s = get_str(row, idx, c)?;
    parse(s).map_err(|e| c.err(format!("{s:?}: {e}")))
}

/// Like [`get_parsed`] for a nullable column.
pub(crate) fn get_opt_parsed<T, E: std::fmt::Display>(
    row: &Row<'_>,
    idx: usize,
    c: Col,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    match get_opt_str(row, idx, c)? {
        None => Ok(None),
        Some(s) => parse(s).map(Some).map_err(|e| c.err(format!("{s:?}: {e}"))),
    }
}

// ----- writing -----

/// A `u64` stored bit-for-bit in an `i64` column (lossless both ways).
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// The inverse of [`to_i64`].
pub(crate) fn from_i64(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn opt_millis(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(millis)
}

pub(crate) fn blob(u: Uuid) -> [u8; 16] {
    u.into_bytes()
}

pub(crate) fn opt_blob(u: Option<Uuid>) -> Option<[u8; 16]> {
    u.map(Uuid::into_bytes)
}

pub(crate) fn actor_blob(a: Actor) -> Option<[u8; 16]> {
    a.user().map(|u| u.as_uuid().into_bytes())
}

// ----- enums as text -----

/// The reason given when an enum column holds an unknown name.
#[derive(Debug)]
pub(crate) struct UnknownName;

impl std::fmt::Display for UnknownName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a known name")
    }
}

macro_rules! text_enum {
    ($to:ident, $from:ident, $t:ty { $($v:path => $s:literal),* $(,)? }) => {
        pub(crate) fn $to(v: $t) -> &'static str {
            match v {
                $($v => $s,)*
            }
        }
        pub(crate) fn $from(s: &str) -> Result<$t, UnknownName> {
            match s {
                $($s => Ok($v),)*
                _ => Err(UnknownName),
            }
        }
    };
}

text_enum!(party_kind_str, party_kind, PartyKind {
    PartyKind::Person => "person",
    PartyKind::Organisation => "organisation",
});
text_enum!(lifecycle_str, lifecycle, Lifecycle {
    Lifecycle::Lead => "lead",
    Lifecycle::Prospect => "prospect",
    Lifecycle::Customer => "customer",
    Lifecycle::Churned => "churned",
});
text_enum!(stage_kind_str, stage_kind, StageKind {
    StageKind::Open => "open",
    StageKind::Won => "won",
    StageKind::Lost => "lost",
});
text_enum!(guard_str, guard, StageGuard {
    StageGuard::RequiresAmount => "requires_amount",
    StageGuard::RequiresExpectedCloseDate => "requires_expected_close_date",
    StageGuard::RequiresOwner => "requires_owner",
    StageGuard::RequiresLostReason => "requires_lost_reason",
});
text_enum!(deal_status_str, deal_status, DealStatus {
    DealStatus::Open => "open",
    DealStatus::Won => "won",
    DealStatus::Lost => "lost",
});
text_enum!(activity_kind_str, activity_kind, ActivityKind {
    ActivityKind::Call => "call",
    ActivityKind::Email => "email",
    ActivityKind::Meeting => "meeting",
    ActivityKind::Note => "note",
    ActivityKind::Task => "task",
});
text_enum!(direction_str, direction, Direction {
    Direction::Inbound => "inbound",
    Direction::Outbound => "outbound",
});
text_enum!(entity_kind_str, entity_kind, EntityKind {
    EntityKind::Customer => "customer",
    EntityKind::Pipeline => "pipeline",
    EntityKind::Deal => "deal",
    EntityKind::Activity => "activity",
    EntityKind::Event => "event",
    EntityKind::FieldSchema => "field_schema",
    EntityKind::Segment => "segment",
    EntityKind::User => "user",
    EntityKind::Team => "team",
    EntityKind::Rule => "rule",
    EntityKind::Notification => "notification",
    EntityKind::ModelRun => "model_run",
    EntityKind::FeedConsumer => "feed_consumer",
});
text_enum!(access_role_str, access_role, AccessRole {
    AccessRole::Admin => "admin",
    AccessRole::SalesManager => "sales_manager",
    AccessRole::SalesRep => "sales_rep",
    AccessRole::Support => "support",
    AccessRole::ReadOnly => "read_only",
});
text_enum!(event_kind_str, event_kind, EventKind {
    EventKind::Created => "created",
    EventKind::Updated => "updated",
    EventKind::StageChanged => "stage_changed",
    EventKind::Won => "won",
    EventKind::Lost => "lost",
    EventKind::Reopened => "reopened",
    EventKind::Completed => "completed",
    EventKind::Merged => "merged",
    EventKind::Deleted => "deleted",
    EventKind::ScoresWritten => "scores_written",
});

/// The bit of a role in `customers.roles`.
pub(crate) fn role_bit(r: Role) -> i64 {
    match r {
        Role::Customer => 1,
        Role::Supplier => 2,
        Role::Partner => 4,
    }
}

const ALL_ROLES: [Role; 3] = [Role::Customer, Role::Supplier, Role::Partner];

pub(crate) fn roles_bits<'a>(roles: impl IntoIterator<Item = &'a Role>) -> i64 {
    roles.into_iter().fold(0, |acc, r| acc | role_bit(*r))
}

pub(crate) fn roles_from_bits(
    bits: i64,
    c: Col,
) -> Result<std::collections::BTreeSet<Role>, StoreError> {
    let known = roles_bits(&ALL_ROLES);
    if bits & !known != 0 {
        return Err(c.err(format!("unknown role bits in {bits:#x}")));
    }
    Ok(ALL_ROLES
        .into_iter()
        .filter(|r| bits & role_bit(*r) != 0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_round_trips_through_i64() {
        for v in [0, 1, u64::MAX, i64::MAX as u64, i64::MAX as u64 + 1] {
            assert_eq!(from_i64(to_i64(v)), v);
        }
    }

    #[test]
    fn enum_names_round_trip() {
        for k in [
            EventKind::Created,
            EventKind::StageChanged,
            EventKind::Completed,
        ] {
            assert_eq!(event_kind(event_kind_str(k)).unwrap(), k);
            assert_eq!(event_kind_str(k), k.as_str());
        }
        assert!(lifecycle("LEAD").is_err());
    }
}
