//! External keys: the ids other systems give the CRM's records, and the
//! upserts and idempotent creates a sync is built from.
//!
//! A shop, an ERP or a mail system keeps its own ids. A customer, deal or
//! activity carries zero or more [`ExternalKey`]s, each a `(system, key)`
//! pair such as `("shop", "C-1042")`. A pair belongs to at most one record
//! of each kind: the store enforces it (SQLite with a unique index, so two
//! processes racing to attach the same key cannot both succeed; the memory
//! store inside its serialised write transaction), and the facade reports a
//! taken key as [`Error::ExternalKeyTaken`] naming the system and key (the
//! record holding it only when the actor may read it).
//!
//! # Upserts
//!
//! [`Session::upsert_customer`](crate::Session::upsert_customer) (and its
//! deal and activity twins) looks the key up and then runs the ordinary
//! create or update path, so every rule (owners must be active users,
//! stage guards, the closed-deal freeze, access scopes, custom-field
//! schemas) holds exactly as for a create or an update. The [`UpsertMode`]
//! says what a missing or existing key means:
//!
//! | mode | key missing | key held |
//! |------|-------------|----------|
//! | `create_or_update` | create | update |
//! | `update_only` | [`Error::ExternalKeyNotFound`], nothing created | update |
//! | `create_only` | create | [`Error::ExternalKeyTaken`] |
//!
//! An upsert whose input matches the stored record changes nothing: same
//! version, no event ([`UpsertOutcome::Unchanged`]).
//!
//! **Concurrency.** `expected_version: Some(v)` makes the update a
//! compare-and-set: if the record is no longer at `v` the upsert fails with
//! [`Error::Conflict`] and changes nothing (and a missing key is then an
//! error even in `create_or_update` mode, since there is no version to
//! compare). `expected_version: None` is last-writer-wins: the update is
//! applied over whatever version is stored when the upsert's transaction
//! runs. Either way the lookup and the write happen in one write
//! transaction, so two concurrent upserts of one new key end with one
//! record (the second sees the first's key, or the store's unique index
//! refuses it).
//!
//! **What an update changes.** The input is the full description the
//! other system has. On update, a customer's name, organisation, roles,
//! e-mail addresses, phone numbers and tags become what the input says;
//! its custom values given are set (others are left alone); its owner
//! changes only when the input names one; its lifecycle is the CRM's own
//! workflow and is left alone (move it with an update). A deal's title,
//! amount and expected close date become the input's, custom values and
//! owner as for customers; its customer and pipeline cannot change, and
//! its stage is the CRM's (move it with `move_deal`). An activity is a
//! record of what happened and is never changed by an upsert: an input
//! that differs from the stored activity is refused naming the field.
//! On update, the input's `external_keys` and `idempotency_key` are not
//! used (give a record more keys with
//! [`Session::set_external_keys`](crate::Session::set_external_keys)).
//!
//! **Merges.** Merging customers moves the merged one's keys to the
//! survivor (in the merge's event), so an upsert by either key finds it.
//!
//! # Idempotent creates
//!
//! A create without a natural key can carry an `idempotency_key` (on
//! [`NewCustomer`], [`NewDeal`],
//! [`NewActivity`]): the first create stores the key
//! with the new record's id in the same transaction; a retried create with
//! the same key and the same input returns that record (as it is now)
//! instead of creating a second one, and appends no event. The same key
//! with a different input is refused. Keys are per entity kind, at most
//! [`MAX_IDEMPOTENCY_KEY_CHARS`](crate::limits::MAX_IDEMPOTENCY_KEY_CHARS)
//! characters, and are kept as long as the store (they do not expire; a
//! backup carries them), so a retry is safe however late it comes.
//!
//! ```
//! use crm_core::external_key::{ExternalKey, UpsertMode, UpsertOutcome};
//! use crm_core::{Actor, Crm, CustomerUpsert, NewCustomer};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let s = crm.as_actor(Actor::System);
//! let key = ExternalKey::new("shop", "C-1042")?;
//! let up = CustomerUpsert::new(key.clone(), NewCustomer::person("Ada").email("ada@example.org"));
//! let first = s.upsert_customer(up.clone())?;
//! assert_eq!(first.outcome, UpsertOutcome::Created);
//! let again = s.upsert_customer(up)?;
//! assert_eq!(again.outcome, UpsertOutcome::Unchanged);
//! assert_eq!(again.record.version, 1);
//! assert_eq!(s.customer_by_key(&key)?.id, first.record.id);
//! # Ok::<(), crm_core::Error>(())
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::activity::NewActivity;
use crate::customer::NewCustomer;
use crate::deal::NewDeal;
use crate::error::{EntityKind, Error, Result};
use crate::id::{ActivityId, CustomerId, DealId};
use crate::limits;

/// A key another system gives a record: `system` names the system
/// (`shop`, `erp`, `mail`), `key` is its id there.
///
/// `system` is 1 to [`MAX_EXTERNAL_SYSTEM_CHARS`](limits::MAX_EXTERNAL_SYSTEM_CHARS)
/// of `a-z`, `0-9`, `_`, `-`, `.`, starting with a letter or digit
/// (letters are lower-cased, surrounding spaces dropped). `key` is 1 to
/// [`MAX_EXTERNAL_KEY_CHARS`](limits::MAX_EXTERNAL_KEY_CHARS) characters,
/// case-sensitive and kept exactly, without control characters and without
/// leading or trailing white space.
///
/// ```
/// use crm_core::external_key::ExternalKey;
/// let k = ExternalKey::new(" Shop ", "C-1042")?;
/// assert_eq!((k.system(), k.key()), ("shop", "C-1042"));
/// assert!(ExternalKey::new("shop", " C-1042").is_err());
/// assert!(ExternalKey::new("my shop", "1").is_err());
/// # Ok::<(), crm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "RawKey")]
pub struct ExternalKey {
    system: String,
    key: String,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RawKey {
    system: String,
    key: String,
}

impl TryFrom<RawKey> for ExternalKey {
    type Error = Error;
    fn try_from(r: RawKey) -> Result<Self> {
        ExternalKey::new(&r.system, &r.key)
    }
}

impl ExternalKey {
    /// Validates a `(system, key)` pair (see the type's docs), with the
    /// entity kind [`EntityKind::Customer`] in errors; use
    /// [`ExternalKey::for_entity`] to name another kind.
    pub fn new(system: &str, key: &str) -> Result<Self> {
        Self::for_entity(EntityKind::Customer, system, key)
    }

    /// Validates a `(system, key)` pair of a record of kind `entity`.
    pub fn for_entity(entity: EntityKind, system: &str, key: &str) -> Result<Self> {
        let sys = system.trim().to_ascii_lowercase();
        let bad = |field: &str, value: &str, reason: String| {
            Error::invalid(entity, field, value.escape_debug(), reason)
        };
        let n = sys.chars().count();
        if n == 0 {
            return Err(bad(
                "external_key.system",
                system,
                "a system name cannot be empty".into(),
            ));
        }
        if n > limits::MAX_EXTERNAL_SYSTEM_CHARS {
            return Err(bad(
                "external_key.system",
                system,
                format!(
                    "a system name has at most {} characters (this one has {n})",
                    limits::MAX_EXTERNAL_SYSTEM_CHARS
                ),
            ));
        }
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c);
        if !sys.chars().all(ok_char) || !sys.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(bad(
                "external_key.system",
                system,
                "a system name is letters a-z, digits, '_', '-' and '.', starting with a letter or digit, as in 'shop' or 'erp.eu'".into(),
            ));
        }
        if key.is_empty() {
            return Err(bad("external_key.key", key, "a key cannot be empty".into()));
        }
        if key.trim() != key {
            return Err(bad(
                "external_key.key",
                key,
                "a key cannot start or end with white space (keys are kept exactly)".into(),
            ));
        }
        limits::check_text(
            entity,
            "external_key.key",
            "a key",
            key,
            limits::MAX_EXTERNAL_KEY_CHARS,
            false,
        )?;
        Ok(ExternalKey {
            system: sys,
            key: key.to_owned(),
        })
    }

    /// The system's name (lower case).
    pub fn system(&self) -> &str {
        &self.system
    }

    /// The key in that system.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for ExternalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.key)
    }
}

/// Checks a record's list of keys (at most
/// [`MAX_EXTERNAL_KEYS_PER_RECORD`](limits::MAX_EXTERNAL_KEYS_PER_RECORD));
/// returns them sorted, without repeats. A record may hold several keys of
/// one system (two shop accounts merged into one customer).
pub(crate) fn check_keys(entity: EntityKind, keys: &[ExternalKey]) -> Result<Vec<ExternalKey>> {
    let mut sorted = keys.to_vec();
    sorted.sort();
    sorted.dedup();
    limits::check_count(
        entity,
        "external_keys",
        sorted.len(),
        limits::MAX_EXTERNAL_KEYS_PER_RECORD,
    )?;
    Ok(sorted)
}

/// One stored external key: which record of which kind holds it. What
/// backups carry and [`ReadTx::external_keys`](crate::ReadTx::external_keys) lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExternalKeyEntry {
    /// The kind of record (customer, deal or activity).
    pub entity: EntityKind,
    /// The key.
    #[serde(flatten)]
    pub key: ExternalKey,
    /// The id of the record holding it.
    pub record: Uuid,
}

/// What an upsert does with a missing or an existing key (see the
/// [module docs](self)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UpsertMode {
    /// Create the record when no record holds the key, update it otherwise.
    #[default]
    CreateOrUpdate,
    /// Update the record holding the key; a missing key is
    /// [`Error::ExternalKeyNotFound`] and nothing is created (the safe mode
    /// when a stale key must not make a duplicate).
    UpdateOnly,
    /// Create a record with the key; an existing key is
    /// [`Error::ExternalKeyTaken`].
    CreateOnly,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UpsertOutcome {
    /// A new record was created with the key.
    Created,
    /// The record holding the key was changed (new version, one event).
    Updated,
    /// The record already matched the input: nothing was written.
    Unchanged,
}

/// The result of an upsert: the record as it is now, and what was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Upserted<T> {
    /// The record holding the key after the upsert.
    pub record: T,
    /// Whether it was created, updated or left unchanged.
    pub outcome: UpsertOutcome,
}

macro_rules! upsert_input {
    ($(#[$doc:meta])* $name:ident, $input:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The key the other system knows the record by.
            pub key: ExternalKey,
            /// What a missing or an existing key means (default
            /// `create_or_update`).
            #[serde(default)]
            pub mode: UpsertMode,
            /// Compare-and-set: the version the record must be at for the
            /// update to apply ([`Error::Conflict`] otherwise). `None`:
            /// last writer wins.
            #[serde(default)]
            pub expected_version: Option<u64>,
            /// The record as the other system describes it.
            pub record: $input,
        }

        impl $name {
            /// A `create_or_update` upsert without an expected version.
            pub fn new(key: ExternalKey, record: $input) -> Self {
                $name {
                    key,
                    mode: UpsertMode::CreateOrUpdate,
                    expected_version: None,
                    record,
                }
            }

            /// Sets the mode.
            pub fn mode(mut self, mode: UpsertMode) -> Self {
                self.mode = mode;
                self
            }

            /// Makes the update a compare-and-set on `version`.
            pub fn expected_version(mut self, version: u64) -> Self {
                self.expected_version = Some(version);
                self
            }
        }
    };
}

upsert_input!(
    /// An upsert of a customer by external key.
    CustomerUpsert,
    NewCustomer
);
upsert_input!(
    /// An upsert of a deal by external key.
    DealUpsert,
    NewDeal
);
upsert_input!(
    /// An upsert of an activity by external key.
    ActivityUpsert,
    NewActivity
);

/// A customer, deal or activity, by id: whose external keys to read or set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyedRecord {
    /// A customer.
    Customer(CustomerId),
    /// A deal.
    Deal(DealId),
    /// An activity.
    Activity(ActivityId),
}

impl KeyedRecord {
    /// The record's kind.
    pub fn entity(&self) -> EntityKind {
        match self {
            KeyedRecord::Customer(_) => EntityKind::Customer,
            KeyedRecord::Deal(_) => EntityKind::Deal,
            KeyedRecord::Activity(_) => EntityKind::Activity,
        }
    }

    /// The record's id.
    pub fn uuid(&self) -> Uuid {
        match self {
            KeyedRecord::Customer(id) => id.as_uuid(),
            KeyedRecord::Deal(id) => id.as_uuid(),
            KeyedRecord::Activity(id) => id.as_uuid(),
        }
    }
}

/// A stored idempotency key: the record a create with this key made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IdempotencyRecord {
    /// The kind of record created.
    pub entity: EntityKind,
    /// The caller's key.
    pub key: String,
    /// The id of the record the first create made.
    pub record: Uuid,
    /// A digest of the first create's input (16 hex digits), so that the
    /// same key with a different input is refused.
    pub fingerprint: String,
    /// When the first create ran.
    pub created_at: DateTime<Utc>,
}

/// Validates an idempotency key of a create of `entity`.
pub(crate) fn check_idempotency_key(entity: EntityKind, key: &str) -> Result<()> {
    if key.is_empty() || key.trim() != key {
        return Err(Error::invalid(
            entity,
            "idempotency_key",
            key.escape_debug(),
            "an idempotency key cannot be empty or start or end with white space",
        ));
    }
    limits::check_text(
        entity,
        "idempotency_key",
        "an idempotency key",
        key,
        limits::MAX_IDEMPOTENCY_KEY_CHARS,
        false,
    )
}

/// A digest of a create's input (FNV-1a, 64 bits, of its JSON form), as 16
/// hex digits. Not cryptographic: it tells a retry from a different
/// request that reused the key by mistake.
pub(crate) fn fingerprint(input: &impl Serialize) -> String {
    let json = serde_json::to_vec(input).unwrap_or_default();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_are_normalised_and_bounded() {
        assert_eq!(ExternalKey::new("ERP.eu", "1").unwrap().system(), "erp.eu");
        let long = "s".repeat(limits::MAX_EXTERNAL_SYSTEM_CHARS + 1);
        let Err(Error::Invalid(e)) = ExternalKey::new(&long, "1") else {
            panic!()
        };
        assert_eq!(e.field, "external_key.system");
        assert!(e.reason.contains("at most 40"), "{}", e.reason);
        for bad in ["", "-shop", "shöp", "a b", "a/b"] {
            assert!(ExternalKey::new(bad, "1").is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_kept_exactly_and_bounded() {
        let k = ExternalKey::new("shop", "Ab c/ß").unwrap();
        assert_eq!(k.key(), "Ab c/ß");
        let at = "k".repeat(limits::MAX_EXTERNAL_KEY_CHARS);
        assert!(ExternalKey::new("shop", &at).is_ok());
        let Err(Error::Invalid(e)) = ExternalKey::new("shop", &format!("{at}k")) else {
            panic!()
        };
        assert_eq!(e.field, "external_key.key");
        for bad in ["", " 1", "1 ", "a\nb", "a\u{0}b"] {
            assert!(ExternalKey::new("shop", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_deserialize_through_validation() {
        let k: ExternalKey = serde_json::from_str(r#"{"system":"Shop","key":"7"}"#).unwrap();
        assert_eq!(k.to_string(), "shop:7");
        assert!(serde_json::from_str::<ExternalKey>(r#"{"system":"","key":"7"}"#).is_err());
        assert!(serde_json::from_str::<ExternalKey>(r#"{"system":"a","key":"7","x":1}"#).is_err());
    }

    #[test]
    fn key_lists_are_sorted_deduplicated_and_bounded() {
        let a = ExternalKey::new("shop", "1").unwrap();
        let b = ExternalKey::new("shop", "2").unwrap();
        let c = ExternalKey::new("erp", "2").unwrap();
        assert_eq!(
            check_keys(
                EntityKind::Deal,
                &[b.clone(), a.clone(), c.clone(), a.clone()]
            )
            .unwrap(),
            vec![c, a, b]
        );
        let many: Vec<ExternalKey> = (0..=limits::MAX_EXTERNAL_KEYS_PER_RECORD)
            .map(|i| ExternalKey::new(&format!("s{i}"), "1").unwrap())
            .collect();
        assert!(check_keys(EntityKind::Customer, &many).is_err());
        assert!(check_keys(EntityKind::Customer, &many[1..]).is_ok());
    }

    #[test]
    fn key_entries_read_back_and_refuse_unknown_fields() {
        let line = r#"{"entity":"deal","system":"erp","key":"O-1","record":"00000000-0000-0000-0000-000000000001"}"#;
        let e: ExternalKeyEntry = crate::strict_json::from_str(line).unwrap();
        assert_eq!(
            (e.entity, e.key.to_string()),
            (EntityKind::Deal, "erp:O-1".to_owned())
        );
        assert_eq!(serde_json::to_string(&e).unwrap(), line);
        let extra = line.replace(r#""record""#, r#""x":1,"record""#);
        assert!(crate::strict_json::from_str::<ExternalKeyEntry>(&extra).is_err());
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(check_idempotency_key(EntityKind::Deal, "req-1").is_ok());
        assert!(check_idempotency_key(EntityKind::Deal, "").is_err());
        let long = "k".repeat(limits::MAX_IDEMPOTENCY_KEY_CHARS + 1);
        assert!(check_idempotency_key(EntityKind::Deal, &long).is_err());
    }

    #[test]
    fn fingerprints_tell_inputs_apart() {
        assert_eq!(fingerprint(&"a"), fingerprint(&"a"));
        assert_ne!(fingerprint(&"a"), fingerprint(&"b"));
        assert_eq!(fingerprint(&"a").len(), 16);
    }
}
