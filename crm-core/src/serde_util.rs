//! Small serde helpers.

use serde::{Deserialize, Deserializer};

/// Lets a patch tell "field absent" (`None`) from "field set to null"
/// (`Some(None)`): use with `#[serde(default, deserialize_with = ...)]`.
pub(crate) fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}
