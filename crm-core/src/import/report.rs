//! What an import did, row by row.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ImportPolicy;
use crate::error::EntityKind;

/// One problem with one cell (or one row) of an imported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RowProblem {
    /// The data row, counting from 1 (the header line is not a row).
    pub row: u64,
    /// The line of the file the row starts on, counting from 1.
    pub line: u64,
    /// The column's header as written in the file; empty when the problem
    /// concerns the whole row.
    pub column: String,
    /// The cell's value as written (possibly shortened).
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} (line {})", self.row, self.line)?;
        if !self.column.is_empty() {
            write!(f, ", column '{}' = {:?}", self.column, self.value)?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// An imported row that resembles an existing customer or another row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportDuplicate {
    /// The row.
    pub row: u64,
    /// The existing customer it resembles, if that is what it resembles.
    pub customer: Option<crate::id::CustomerId>,
    /// The other row of the file it resembles (a later one), otherwise.
    pub other_row: Option<u64>,
    /// The rules that matched, strongest first.
    pub matches: Vec<crate::duplicate::DuplicateMatch>,
}

impl fmt::Display for ImportDuplicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {} resembles ", self.row)?;
        match (self.customer, self.other_row) {
            (Some(c), _) => write!(f, "customer {c}")?,
            (None, Some(r)) => write!(f, "row {r}")?,
            (None, None) => f.write_str("another customer")?,
        }
        let why: Vec<String> = self
            .matches
            .iter()
            .map(|m| match m.rule {
                crate::duplicate::DuplicateRule::Name => {
                    format!("similar name {} ({:.2})", m.evidence, m.score)
                }
                crate::duplicate::DuplicateRule::Email => format!("same e-mail {}", m.evidence),
                crate::duplicate::DuplicateRule::Phone => format!("same phone {}", m.evidence),
            })
            .collect();
        write!(f, ": {}", why.join(", "))
    }
}

/// The outcome of an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportReport {
    /// What was imported.
    pub entity: EntityKind,
    /// Whether this was a dry run (nothing is ever written in one).
    pub dry_run: bool,
    /// The policy the import ran under.
    pub policy: ImportPolicy,
    /// Data rows read.
    pub rows: u64,
    /// Rows without problems (created, updated, unchanged or skipped, or
    /// that would be).
    pub valid_rows: u64,
    /// Whether the valid rows were committed. False for a dry run, and
    /// under [`ImportPolicy::AllOrNothing`] when any row had a problem.
    pub written: bool,
    /// The ids of the records created or updated, in row order; empty
    /// when nothing was written. [`ImportReport::plan`] says which row did
    /// what.
    pub ids: Vec<Uuid>,
    /// The [`ImportOptions::id_map`](super::ImportOptions::id_map) given,
    /// plus, for every written row with an `id` cell, that id → the id of
    /// the record created for the row. Give it to the next import so its
    /// references resolve. Empty when nothing was written.
    pub id_map: super::IdMap,
    /// Every problem found, in row order.
    pub problems: Vec<RowProblem>,
    /// Headers of the file that no column uses.
    pub ignored_columns: Vec<String>,
    /// Rows that resemble existing customers or each other, when asked
    /// for ([`ImportOptions::duplicates`](super::ImportOptions::duplicates)).
    pub duplicates: Vec<ImportDuplicate>,
    /// What each row does (or in a dry run, or an import that wrote
    /// nothing, would do): one entry per data row, in order. A dry run
    /// and the real run of the same file on the same data give the same
    /// plan (ids of created records aside).
    #[serde(default)]
    pub plan: Vec<super::RowPlan>,
    /// How many rows of the plan have each action.
    #[serde(default)]
    pub summary: super::PlanSummary,
    /// How the file was read (delimiter, encoding).
    #[serde(default)]
    pub format: super::FileFormat,
    /// What was detected rather than given (the delimiter, the encoding)
    /// and why, one sentence each; empty when nothing was guessed.
    #[serde(default)]
    pub detected: Vec<String>,
    /// With [`ImportOptions::failed_rows_csv`](super::ImportOptions::failed_rows_csv):
    /// the rows with problems as a CSV file (UTF-8, the file's delimiter):
    /// the file's header plus a `reason` column, then each such row's
    /// cells as read plus its problems. Fix it and import it again (the
    /// `reason` column is ignored then).
    #[serde(default)]
    pub failed_rows_csv: Option<String>,
}

impl ImportReport {
    /// Rows with at least one problem.
    pub fn invalid_rows(&self) -> u64 {
        self.rows - self.valid_rows
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let outcome = match (self.dry_run, self.written) {
            (true, _) => "dry run, nothing written",
            (false, true) => "written",
            (false, false) => "nothing written",
        };
        writeln!(
            f,
            "{} import: {} rows, {} valid, {} with problems ({outcome})",
            self.entity,
            self.rows,
            self.valid_rows,
            self.invalid_rows()
        )?;
        let s = &self.summary;
        if !self.plan.is_empty() {
            writeln!(
                f,
                "  plan: {} create, {} update, {} unchanged, {} skip, {} error",
                s.create, s.update, s.unchanged, s.skip, s.error
            )?;
        }
        for d in &self.detected {
            writeln!(f, "  {d}")?;
        }
        if !self.ignored_columns.is_empty() {
            writeln!(f, "  ignored columns: {}", self.ignored_columns.join(", "))?;
        }
        for p in &self.problems {
            writeln!(f, "  {p}")?;
        }
        for d in &self.duplicates {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_reads_as_a_summary_and_one_line_per_problem() {
        let report = ImportReport {
            entity: EntityKind::Deal,
            dry_run: false,
            policy: ImportPolicy::SkipInvalid,
            rows: 3,
            valid_rows: 2,
            written: true,
            ids: vec![],
            id_map: Default::default(),
            problems: vec![RowProblem {
                row: 2,
                line: 3,
                column: "currency".into(),
                value: "EURO".into(),
                reason: "'EURO' is not an ISO 4217 currency code".into(),
            }],
            ignored_columns: vec!["notes".into()],
            duplicates: vec![],
            plan: vec![],
            summary: Default::default(),
            format: Default::default(),
            detected: vec![],
            failed_rows_csv: None,
        };
        assert_eq!(
            report.to_string(),
            "deal import: 3 rows, 2 valid, 1 with problems (written)\n  ignored columns: notes\n  row 2 (line 3), column 'currency' = \"EURO\": 'EURO' is not an ISO 4217 currency code\n"
        );
    }
}
