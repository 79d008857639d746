//! The key of a stage, such as `proposal`: the name a deal's stage, its
//! history and every rule refer to it by.
//!
//! A leaf module (it depends on nothing else in the crate), so that the
//! crate's error type can name stage keys without depending on pipelines.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The key of a stage within its pipeline, such as `proposal`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct StageKey(pub(in crate::pipeline) String);

/// A malformed stage key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a stage key uses a-z, 0-9, '_' and '-', starts with a letter or digit and has 1 to 40 characters"
)]
pub struct StageKeyError;

impl StageKey {
    /// Validates a key. Keys are case-sensitive and must already be lower case.
    pub fn new(key: impl Into<String>) -> Result<Self, StageKeyError> {
        let key = key.into();
        let ok_len = (1..=40).contains(&key.len());
        let ok_chars = key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        let ok_start = key
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
        if ok_len && ok_chars && ok_start {
            Ok(StageKey(key))
        } else {
            Err(StageKeyError)
        }
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl fmt::Debug for StageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl TryFrom<String> for StageKey {
    type Error = StageKeyError;
    fn try_from(s: String) -> Result<Self, StageKeyError> {
        StageKey::new(s)
    }
}

impl TryFrom<&str> for StageKey {
    type Error = StageKeyError;
    fn try_from(s: &str) -> Result<Self, StageKeyError> {
        StageKey::new(s)
    }
}

impl From<StageKey> for String {
    fn from(k: StageKey) -> String {
        k.0
    }
}

impl PartialEq<str> for StageKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for StageKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}
