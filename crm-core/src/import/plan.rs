//! What an import does with each row: matching rows to existing records,
//! and the plan that says, row by row, what was (or in a dry run, would
//! be) done.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::FieldChange;

/// How rows are matched to records that already exist.
///
/// A matched row updates its record through the same operations a caller
/// would use ([`Session::update_customer`](crate::Session::update_customer),
/// [`Session::update_deal`](crate::Session::update_deal), a stage move), so
/// every rule of those applies: active owners, stage guards and transition
/// rules, the freeze of closed deals, the actor's access. A row whose
/// cells equal the record is [`PlanAction::Unchanged`] and writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchBy {
    /// No matching: every valid row creates a record (the import of a
    /// new file).
    #[default]
    Nothing,
    /// The row's `id` cell is the record's id here (or, through
    /// [`ImportOptions::id_map`](super::ImportOptions::id_map), an id an
    /// earlier import gave it). This is how an export is edited in a
    /// spreadsheet and imported again.
    Id,
    /// Customers only: a customer with one of the row's e-mail addresses
    /// (normalised). A row whose addresses belong to two customers is an
    /// error, never a guess.
    Email,
}

/// What happens to a row that matches no record (with [`MatchBy`] other
/// than [`MatchBy::Nothing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// It creates a record (create or update).
    #[default]
    Create,
    /// It is skipped ([`PlanAction::Skip`]): update only, and an
    /// unknown row is not a problem.
    Skip,
    /// It is a problem of the row ([`PlanAction::Error`]): update only,
    /// and an unknown row means the file is stale.
    Error,
}

/// What an import does with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    /// A new record.
    Create,
    /// An existing record changed ([`RowPlan::changes`]).
    Update,
    /// An existing record the row equals: nothing is written.
    Unchanged,
    /// A row matching no record, skipped by [`Unmatched::Skip`].
    Skip,
    /// A row with problems ([`ImportReport::problems`](super::ImportReport::problems)):
    /// nothing of it is written.
    Error,
}

/// One row's entry in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RowPlan {
    /// The data row, counting from 1.
    pub row: u64,
    /// The line of the file it starts on, counting from 1.
    pub line: u64,
    /// What is done with it.
    pub action: PlanAction,
    /// The record: the one matched (update, unchanged), or the one created
    /// once written (`None` for a create in a dry run or an import that
    /// wrote nothing).
    pub id: Option<Uuid>,
    /// For an update: each changed field with its old and new value, as
    /// in the update's audit event.
    pub changes: Vec<FieldChange>,
    /// For a skip or an error: why (every problem of the row, joined by
    /// "; ").
    pub reason: Option<String>,
}

/// How many rows of a plan have each action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanSummary {
    /// Rows that create a record.
    pub create: u64,
    /// Rows that change a record.
    pub update: u64,
    /// Rows equal to their record.
    pub unchanged: u64,
    /// Rows skipped.
    pub skip: u64,
    /// Rows with problems.
    pub error: u64,
}

impl PlanSummary {
    /// Counts the actions of `plan`.
    pub fn of(plan: &[RowPlan]) -> PlanSummary {
        let mut s = PlanSummary::default();
        for p in plan {
            match p.action {
                PlanAction::Create => s.create += 1,
                PlanAction::Update => s.update += 1,
                PlanAction::Unchanged => s.unchanged += 1,
                PlanAction::Skip => s.skip += 1,
                PlanAction::Error => s.error += 1,
            }
        }
        s
    }
}
