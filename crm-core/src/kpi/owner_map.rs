//! JSON form of per-owner breakdowns.
//!
//! A map keyed by [`OwnerKey`] (an optional user id) cannot be a JSON
//! object: object keys are strings, and "no owner" has no string. Per-owner
//! maps therefore serialise as an array of `{"owner": id-or-null, "value":
//! …}` entries, in owner order (no owner first), and deserialise from the
//! same shape, refusing an owner listed twice.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::OwnerKey;

#[derive(Serialize)]
struct EntryRef<'a, T> {
    owner: &'a OwnerKey,
    value: &'a T,
}

/// One owner's entry: the JSON form (and, with the `schema` feature, the
/// schema: `#[schemars(with = "Vec<owner_map::Entry<T>>")]`).
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct Entry<T> {
    /// The owner's user id, `null` for records without an owner.
    owner: OwnerKey,
    /// The figure of that owner.
    value: T,
}

/// Serialises `map` as an array of `{"owner", "value"}` entries.
pub(crate) fn serialize<S, T>(map: &BTreeMap<OwnerKey, T>, s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize,
{
    s.collect_seq(map.iter().map(|(owner, value)| EntryRef { owner, value }))
}

/// Reads an array of `{"owner", "value"}` entries back into a map.
pub(crate) fn deserialize<'de, D, T>(d: D) -> Result<BTreeMap<OwnerKey, T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let entries: Vec<Entry<T>> = Vec::deserialize(d)?;
    let mut map = BTreeMap::new();
    for e in entries {
        let owner = e.owner;
        if map.insert(owner, e.value).is_some() {
            return Err(D::Error::custom(format!(
                "owner {} is listed twice",
                owner.map_or_else(|| "null".to_string(), |u| u.to_string())
            )));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use crate::id::UserId;
    use crate::kpi::OwnerKey;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapper {
        #[serde(with = "super")]
        by_owner: BTreeMap<OwnerKey, u64>,
    }

    #[test]
    fn owners_become_an_array_with_no_owner_first() {
        let ada = UserId::from_uuid(uuid::Uuid::from_u128(7));
        let w = Wrapper {
            by_owner: BTreeMap::from([(Some(ada), 3), (None, 1)]),
        };
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(
            v,
            json!({"by_owner": [
                {"owner": null, "value": 1},
                {"owner": "00000000-0000-0000-0000-000000000007", "value": 3}
            ]})
        );
        assert_eq!(serde_json::from_value::<Wrapper>(v).unwrap(), w);
    }

    #[test]
    fn an_owner_listed_twice_is_refused() {
        let v = json!({"by_owner": [{"owner": null, "value": 1}, {"owner": null, "value": 2}]});
        let err = serde_json::from_value::<Wrapper>(v).unwrap_err();
        assert!(
            err.to_string().contains("owner null is listed twice"),
            "{err}"
        );
    }
}
