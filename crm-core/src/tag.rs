//! Tags: short labels on customers.
//!
//! A [`Tag`] is normalised so that `VIP`, ` vip ` and `Vip` are one tag:
//! trimmed, lower-cased, inner runs of spaces become one `-`
//! (`Key Account` → `key-account`). Letters, digits, `-` and `_` are
//! allowed; at most [`MAX_TAG_CHARS`](crate::limits::MAX_TAG_CHARS) (50)
//! characters. A customer carries at most
//! [`MAX_TAGS_PER_RECORD`](crate::limits::MAX_TAGS_PER_RECORD) tags.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::contact::{ContactError, string_newtype_impls};

/// A normalised tag.
///
/// ```
/// use crm_core::Tag;
/// assert_eq!(Tag::parse(" Key  Account ").unwrap().as_str(), "key-account");
/// assert!(Tag::parse("a,b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    /// Validates and normalises a tag.
    pub fn parse(input: &str) -> Result<Self, ContactError> {
        let words: Vec<String> = input.split_whitespace().map(str::to_lowercase).collect();
        let s = words.join("-");
        if s.is_empty() {
            return Err(ContactError {
                reason: "a tag cannot be empty",
            });
        }
        if s.chars().count() > crate::limits::MAX_TAG_CHARS {
            return Err(ContactError {
                reason: "a tag has at most 50 characters",
            });
        }
        if !s
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ContactError {
                reason: "a tag may only contain letters, digits, '-' and '_'",
            });
        }
        Ok(Tag(s))
    }

    /// The normalised tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(Tag);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() {
        assert_eq!(Tag::parse("VIP").unwrap(), Tag::parse(" vip ").unwrap());
        assert_eq!(Tag::parse("Straße").unwrap().as_str(), "straße");
        assert_eq!(Tag::parse("").unwrap_err().reason, "a tag cannot be empty");
        assert!(Tag::parse(&"x".repeat(51)).is_err());
        assert!(Tag::parse("a:b").is_err());
    }
}
