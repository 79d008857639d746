//! Typed identifiers.
//!
//! Every entity has its own id type ([`CustomerId`], [`DealId`], …) wrapping a
//! UUID version 7, so ids sort by creation time and a deal id can never be
//! passed where a customer id is expected. Ids are made by an [`IdGenerator`]
//! that the [`Crm`](crate::Crm) facade owns: [`RandomIds`] in production,
//! [`SequentialIds`] where tests need the same ids on every run.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        // By hand rather than derived, so that a wrong value says which id
        // was expected and in what form.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct IdText;
                impl serde::de::Visitor<'_> for IdText {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "a {} (a UUID string such as \"{}\")", $label, EXAMPLE_ID)
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Uuid::parse_str(v).map($name).map_err(|_| {
                            E::custom(IdParseError {
                                kind: $label,
                                value: crate::serde_util::shorten(v),
                            })
                        })
                    }
                }
                d.deserialize_str(IdText)
            }
        }

        #[cfg(feature = "schema")]
        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                $label.into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "format": "uuid",
                    "description": concat!("A ", $label, ": a UUID string such as \"", "0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1e", "\"."),
                })
            }
        }

        impl $name {
            /// Wraps an existing UUID (for example one read back from storage).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", $label, self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| IdParseError {
                    kind: $label,
                    value: s.to_owned(),
                })
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

typed_id!(
    /// Identifies a [`Customer`](crate::Customer).
    CustomerId,
    "CustomerId"
);
typed_id!(
    /// Identifies a [`Deal`](crate::Deal).
    DealId,
    "DealId"
);
typed_id!(
    /// Identifies a [`Pipeline`](crate::Pipeline).
    PipelineId,
    "PipelineId"
);
typed_id!(
    /// Identifies an [`Activity`](crate::Activity).
    ActivityId,
    "ActivityId"
);
typed_id!(
    /// Identifies an [`Event`](crate::Event) in the audit log.
    EventId,
    "EventId"
);
typed_id!(
    /// Identifies a saved [`Segment`](crate::segment::Segment).
    SegmentId,
    "SegmentId"
);
typed_id!(
    /// Identifies an automation [`Rule`](crate::automation::Rule).
    RuleId,
    "RuleId"
);
typed_id!(
    /// Identifies an outbox [`Notification`](crate::automation::Notification).
    NotificationId,
    "NotificationId"
);
typed_id!(
    /// Identifies a [`User`](crate::User): owner of records, actor of changes.
    UserId,
    "UserId"
);
typed_id!(
    /// Identifies a [`Team`](crate::Team) of users.
    TeamId,
    "TeamId"
);

/// The UUID that messages show as an example of an id.
const EXAMPLE_ID: &str = "0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d1e";

/// A string that is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {kind}: expected a UUID such as {EXAMPLE_ID}")]
pub struct IdParseError {
    /// Which id type was being parsed.
    pub kind: &'static str,
    /// The text that was rejected.
    pub value: String,
}

/// Makes the UUIDs behind new ids.
///
/// Implementations must return version 7 UUIDs whose timestamp is `now`.
/// The facade passes the time of the write (its clock), not a record's
/// historical `created_at` (see [`Batch::set_time`](crate::Batch::set_time)),
/// so ids sort by when records were written and bulk imports of old data
/// append to the end of every id index.
pub trait IdGenerator: Send + Sync {
    /// A new, never before returned UUID for a record written at `now`.
    fn next_uuid(&self, now: DateTime<Utc>) -> Uuid;
}

fn unix_millis(now: DateTime<Utc>) -> u64 {
    // UUID v7 cannot represent times before 1970; clamp rather than wrap.
    u64::try_from(now.timestamp_millis()).unwrap_or(0)
}

/// UUID v7 ids with random bits: the default.
///
/// Ids made for the same millisecond by one generator strictly increase
/// (the random part of each is the previous one's plus a random step, as
/// RFC 9562 §6.2 method 2 describes), so ids sort by creation order even
/// within a millisecond, and a bulk insert appends to the end of every
/// id index instead of landing at random places in it.
#[derive(Debug, Default)]
pub struct RandomIds {
    /// The last millisecond used and the 74 random bits given for it.
    last: Mutex<(u64, u128)>,
}

impl RandomIds {
    /// A new generator.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The 74 random bits of a version 7 UUID (`rand_a` then `rand_b`).
fn random_bits(u: Uuid) -> u128 {
    let u = u.as_u128();
    (((u >> 64) & 0xFFF) << 62) | (u & ((1 << 62) - 1))
}

impl IdGenerator for RandomIds {
    fn next_uuid(&self, now: DateTime<Utc>) -> Uuid {
        let millis = unix_millis(now);
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            millis / 1000,
            ((millis % 1000) * 1_000_000) as u32,
        );
        let fresh = random_bits(Uuid::new_v7(ts));
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let bits = if last.0 == millis && last.1 != 0 {
            // A random step of 1 to 2^20 keeps the next id hard to guess.
            let next = last.1 + (fresh & 0xF_FFFF) + 1;
            if next < (1 << 74) { next } else { fresh }
        } else {
            // Leave the top bit clear: room for about 2^53 more ids in this
            // millisecond.
            fresh & ((1 << 73) - 1)
        };
        *last = (millis, bits);
        drop(last);
        let rand_a = u16::try_from(bits >> 62).unwrap_or(0);
        let rand_b = u64::try_from(bits & ((1 << 62) - 1)).unwrap_or(0);
        let mut bytes = [0u8; 10];
        bytes[..2].copy_from_slice(&rand_a.to_be_bytes());
        bytes[2..].copy_from_slice(&rand_b.to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }
}

/// Deterministic UUID v7 ids: the timestamp part comes from `now`, the rest
/// is a counter. Two generators created with the same seed return the same
/// sequence, so tests and the backend-equivalence checks see identical ids.
#[derive(Debug)]
pub struct SequentialIds {
    seed: u16,
    counter: Mutex<u64>,
}

impl SequentialIds {
    /// A generator whose ids carry `seed` so that two generators with
    /// different seeds never collide.
    pub fn new(seed: u16) -> Self {
        Self {
            seed,
            counter: Mutex::new(0),
        }
    }
}

impl Default for SequentialIds {
    fn default() -> Self {
        Self::new(0)
    }
}

impl IdGenerator for SequentialIds {
    fn next_uuid(&self, now: DateTime<Utc>) -> Uuid {
        let n = {
            let mut counter = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            *counter += 1;
            *counter
        };
        let mut bytes = [0u8; 10];
        bytes[..2].copy_from_slice(&self.seed.to_be_bytes());
        bytes[2..].copy_from_slice(&n.to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(unix_millis(now), &bytes).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_parse_and_print_round_trip() {
        let uuid =
            RandomIds::new().next_uuid(DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap());
        let id = CustomerId::from_uuid(uuid);
        assert_eq!(id.to_string().parse::<CustomerId>().unwrap(), id);
        assert_eq!(uuid.get_version_num(), 7);
    }

    #[test]
    fn random_ids_increase_within_a_millisecond_and_keep_their_time() {
        let ids = RandomIds::new();
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let t1 = t0 + chrono::Duration::milliseconds(1);
        let mut made: Vec<Uuid> = (0..1000).map(|_| ids.next_uuid(t0)).collect();
        made.push(ids.next_uuid(t1));
        assert!(
            made.windows(2).all(|w| w[0] < w[1]),
            "ids are not increasing"
        );
        for u in &made {
            assert_eq!(u.get_version_num(), 7);
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        }
        let (secs, nanos) = made[0].get_timestamp().unwrap().to_unix();
        assert_eq!((secs, nanos), (1_704_067_200, 0));
        let (secs, nanos) = made[1000].get_timestamp().unwrap().to_unix();
        assert_eq!((secs, nanos), (1_704_067_200, 1_000_000));
        // An earlier time (a historical import) still gets its own time.
        let back = ids.next_uuid(t0 - chrono::Duration::days(1));
        assert_eq!(
            back.get_timestamp().unwrap().to_unix().0,
            1_704_067_200 - 86_400
        );
        // A second generator's ids differ.
        assert_ne!(RandomIds::new().next_uuid(t0), made[0]);
    }

    #[test]
    fn bad_id_names_type_and_value() {
        let err = "nope".parse::<DealId>().unwrap_err();
        assert_eq!(err.kind, "DealId");
        assert!(err.to_string().contains("'nope' is not a valid DealId"));
    }

    #[test]
    fn sequential_ids_are_deterministic_and_sort_by_time() {
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap();
        let a = SequentialIds::new(1);
        let b = SequentialIds::new(1);
        let ids_a = [a.next_uuid(t0), a.next_uuid(t0), a.next_uuid(t1)];
        let ids_b = [b.next_uuid(t0), b.next_uuid(t0), b.next_uuid(t1)];
        assert_eq!(ids_a, ids_b);
        assert!(ids_a[0] < ids_a[1] && ids_a[1] < ids_a[2]);
        assert_eq!(ids_a[2].get_version_num(), 7);
    }
}
