//! Stage guards: what a deal must have to enter, and stay in, a stage.
//!
//! A leaf module (it depends on nothing else in the crate), so that the
//! crate's error type can name a failed guard without depending on
//! pipelines.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A condition a deal must meet to enter a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum StageGuard {
    /// The deal must have an amount.
    RequiresAmount,
    /// The deal must have an expected close date.
    RequiresExpectedCloseDate,
    /// The deal must have an owner.
    RequiresOwner,
    /// A reason must be given (lost stages only).
    RequiresLostReason,
}

impl StageGuard {
    /// The snake_case name, as serialised (`requires_amount`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            StageGuard::RequiresAmount => "requires_amount",
            StageGuard::RequiresExpectedCloseDate => "requires_expected_close_date",
            StageGuard::RequiresOwner => "requires_owner",
            StageGuard::RequiresLostReason => "requires_lost_reason",
        }
    }
}

impl fmt::Display for StageGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StageGuard::RequiresAmount => "the deal needs an amount first",
            StageGuard::RequiresExpectedCloseDate => "the deal needs an expected close date first",
            StageGuard::RequiresOwner => "the deal needs an owner first",
            StageGuard::RequiresLostReason => "a reason for losing the deal is required",
        })
    }
}
