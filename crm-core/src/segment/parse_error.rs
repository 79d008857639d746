//! Why a segment expression could not be parsed.
//!
//! A leaf module (it depends on nothing else in the crate), so that the
//! crate's error type can carry a parse error without depending on
//! segments.

use serde::{Deserialize, Serialize};

/// A segment expression that could not be parsed: where, what was
/// expected there, and what was found instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[error("segment expression, at byte {position}: expected {expected}, found {found}")]
pub struct ParseError {
    /// Byte offset into the input of the token that was not understood
    /// (the input's length at the end of input).
    pub position: usize,
    /// What would have been accepted there.
    pub expected: String,
    /// What was there (quoted), or `end of input`.
    pub found: String,
}
