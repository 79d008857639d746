//! CSV import through the facade: see [`crate::import`].

use std::io::Read;

use super::{Batch, Session};
use crate::error::{EntityKind, Error, Result};
use crate::import::activities::ActivityImporter;
use crate::import::customers::CustomerImporter;
use crate::import::deals::DealImporter;
use std::collections::HashMap;

use crate::duplicate::{DuplicateOptions, find_duplicates};
use crate::id::CustomerId;
use crate::import::{
    ImportDuplicate, ImportOptions, ImportPolicy, ImportReport, Importer, Layout, Row,
};
use crate::query::{CustomerFilter, CustomerQuery, fetch_all};
use crate::store::Store;

impl<S: Store> Session<'_, S> {
    /// Imports customers from a CSV file (columns:
    /// [`CUSTOMER_COLUMNS`](crate::import::CUSTOMER_COLUMNS)).
    ///
    /// Returns the report of every row; an `Err` means the import could
    /// not run at all (a required column is missing, the input cannot be
    /// read, the store failed), and then nothing was written.
    ///
    /// ```
    /// use crm_core::import::{ImportOptions, ImportPolicy};
    /// use crm_core::{Actor, Crm};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let csv = "name,kind,email,tags\n\
    ///            ACME GmbH,organisation,info@acme.example,vip;manufacturing\n\
    ///            Ada Byron,person,ada@acme,\n";
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let options = ImportOptions::default().policy(ImportPolicy::SkipInvalid);
    /// let report = s.import_customers(csv.as_bytes(), &options)?;
    /// assert_eq!((report.rows, report.valid_rows), (2, 1));
    /// assert_eq!(report.problems[0].to_string(),
    ///     "row 2 (line 3), column 'email' = \"ada@acme\": the domain needs a dot, as in example.com");
    /// assert_eq!(s.count_customers(&Default::default())?, 1);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn import_customers(
        &self,
        input: impl Read,
        options: &ImportOptions,
    ) -> Result<ImportReport> {
        self.import::<CustomerImporter>(input, options)
    }

    /// Imports deals from a CSV file (columns:
    /// [`DEAL_COLUMNS`](crate::import::DEAL_COLUMNS)), with their historical
    /// stage, amount and created / won / lost times. See
    /// [`Session::import_customers`] for the report.
    pub fn import_deals(&self, input: impl Read, options: &ImportOptions) -> Result<ImportReport> {
        self.import::<DealImporter>(input, options)
    }

    /// Imports activities from a CSV file (columns:
    /// [`ACTIVITY_COLUMNS`](crate::import::ACTIVITY_COLUMNS)). See
    /// [`Session::import_customers`] for the report.
    pub fn import_activities(
        &self,
        input: impl Read,
        options: &ImportOptions,
    ) -> Result<ImportReport> {
        self.import::<ActivityImporter>(input, options)
    }

    fn import<I: Importer>(
        &self,
        input: impl Read,
        options: &ImportOptions,
    ) -> Result<ImportReport> {
        let entity = I::ENTITY;
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| csv_failure(entity, &e))?
            .clone();
        crate::limits::check_count(
            entity,
            "csv.columns",
            headers.len(),
            crate::limits::MAX_CSV_COLUMNS,
        )?;
        let mut batch = self.open_batch()?;
        let schema = batch.field_schema(entity)?;
        let layout = Layout::new(entity, I::COLUMNS, &headers, &options.columns, &schema)?;
        let mut importer = I::new(&batch, self.at)?;
        let mut report = ImportReport {
            entity,
            dry_run: options.dry_run,
            policy: options.policy,
            rows: 0,
            valid_rows: 0,
            written: false,
            ids: Vec::new(),
            id_map: options.id_map.clone(),
            problems: Vec::new(),
            ignored_columns: layout.ignored().to_vec(),
            duplicates: Vec::new(),
        };
        let mut record = csv::StringRecord::new();
        let mut new_ids = Vec::new();
        // The row number of each id in `report.ids`.
        let mut id_rows = Vec::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if e.is_io_error() => return Err(csv_failure(entity, &e)),
                Err(e) => {
                    // A malformed row (bad UTF-8, say): report it, go on.
                    report.rows += 1;
                    report.problems.push(crate::import::RowProblem {
                        row: report.rows,
                        line: e.position().map_or(0, |p| p.line()),
                        column: String::new(),
                        value: String::new(),
                        reason: format!("the row cannot be read: {e}"),
                    });
                    continue;
                }
            }
            report.rows += 1;
            if report.rows > crate::limits::MAX_CSV_ROWS as u64 {
                return Err(Error::invalid(
                    entity,
                    "csv.rows",
                    format!("more than {} rows", crate::limits::MAX_CSV_ROWS),
                    format!(
                        "one import reads at most {} rows; split the file",
                        crate::limits::MAX_CSV_ROWS
                    ),
                ));
            }
            let line = record.position().map_or(0, |p| p.line());
            let mut row = Row::new(
                &record,
                &layout,
                options.list_separator,
                &report.id_map,
                report.rows,
                line,
            );
            let own_id = row.own_id();
            let max = crate::limits::MAX_CSV_FIELD_BYTES;
            if let Some((i, cell)) = record.iter().enumerate().find(|(_, c)| c.len() > max) {
                row.problem(
                    headers.get(i).unwrap_or(""),
                    "",
                    format!(
                        "the cell has {} bytes; a cell has at most {max}",
                        cell.len()
                    ),
                );
            } else if record.len() != layout.width() {
                // The cells no longer line up with the columns: reading
                // them would only report noise.
                row.problem(
                    "",
                    "",
                    format!(
                        "the row has {} cells but the header has {}; a value containing a comma (such as 1.200,50) must be in double quotes",
                        record.len(),
                        layout.width()
                    ),
                );
            } else if let Some(input) = importer.read(&mut row)
                && !row.has_problems()
            {
                let written = if importer.several_steps(&input) {
                    batch.attempt(|b| importer.write(b, &input))
                } else {
                    importer.write(&mut batch, &input)
                };
                match written {
                    Ok(id) => {
                        report.valid_rows += 1;
                        report.ids.push(id);
                        id_rows.push(report.rows);
                        if let Some(own) = own_id {
                            new_ids.push((own, id));
                        }
                    }
                    Err(e @ Error::Store(_)) => return Err(e),
                    Err(e) => {
                        let column = match &e {
                            // A custom value refused by its field: name its header.
                            Error::Invalid(v) if v.field.starts_with("custom.") => layout
                                .custom()
                                .iter()
                                .find(|(def, _, _)| v.field == format!("custom.{}", def.key))
                                .map_or_else(|| v.field.clone(), |(_, _, header)| header.clone()),
                            // A custom field read-only for the actor: its header too.
                            Error::CustomFieldReadOnly { key, .. } => layout
                                .custom()
                                .iter()
                                .find(|(def, _, _)| def.key == *key)
                                .map_or_else(
                                    || format!("custom.{key}"),
                                    |(_, _, header)| header.clone(),
                                ),
                            _ => importer.column_of(&input, &e).to_owned(),
                        };
                        // A custom column's cell is found by its position.
                        let cell = layout
                            .custom()
                            .iter()
                            .find(|(_, _, header)| *header == column)
                            .and_then(|(_, i, _)| record.get(*i))
                            .map(str::trim)
                            .or_else(|| row.text(&column))
                            .unwrap_or("");
                        let (value, reason) = explain(&e, cell);
                        row.problem(&column, value, reason);
                    }
                }
            }
            report.problems.append(&mut row.problems);
            // After the row (which borrows the map) is done with.
            report.id_map.extend(new_ids.drain(..));
        }

        if let Some(rules) = &options.duplicates
            && entity == EntityKind::Customer
        {
            report.duplicates = imported_duplicates(&batch, &report.ids, &id_rows, rules)?;
        }

        let keep = !options.dry_run
            && (options.policy == ImportPolicy::SkipInvalid || report.problems.is_empty());
        if keep {
            batch.commit()?;
            report.written = true;
        } else {
            // Dropping the batch rolls every row back.
            drop(batch);
            report.ids.clear();
            report.id_map.clear();
        }
        Ok(report)
    }
}

/// The value and reason to report for a refusal by the rules.
fn explain(error: &Error, cell: &str) -> (String, String) {
    match error {
        Error::Invalid(v) => (v.value.clone(), v.reason.clone()),
        Error::GuardFailed { stage, guard, .. } => (
            cell.to_owned(),
            format!("the deal cannot enter stage '{stage}': {guard}"),
        ),
        Error::TransitionNotAllowed {
            from, to, reason, ..
        } => (
            cell.to_owned(),
            format!("the deal cannot move from stage '{from}' to '{to}': {reason}"),
        ),
        other => (cell.to_owned(), other.to_string()),
    }
}

fn csv_failure(entity: EntityKind, e: &csv::Error) -> Error {
    let line = e.position().map_or(1, |p| p.line());
    Error::invalid(
        entity,
        "csv",
        format!("line {line}"),
        format!("the file cannot be read as CSV: {e}"),
    )
}

/// Rows of a customer import (created as `ids` from rows `id_rows`) that
/// resemble existing customers or each other.
fn imported_duplicates(
    batch: &Batch<'_>,
    ids: &[uuid::Uuid],
    id_rows: &[u64],
    rules: &DuplicateOptions,
) -> Result<Vec<ImportDuplicate>> {
    let rows: HashMap<CustomerId, u64> = ids
        .iter()
        .zip(id_rows)
        .map(|(id, row)| (CustomerId::from_uuid(*id), *row))
        .collect();
    let customers = fetch_all(CustomerFilter::default(), |q: &CustomerQuery| {
        batch.customers(q)
    })?;
    let found = find_duplicates(&customers, rules);
    let mut out: Vec<ImportDuplicate> = found
        .candidates
        .into_iter()
        .filter_map(|c| {
            let (ra, rb) = (rows.get(&c.a).copied(), rows.get(&c.b).copied());
            let (row, customer, other_row) = match (ra, rb) {
                (Some(x), Some(y)) => (x.min(y), None, Some(x.max(y))),
                (Some(x), None) => (x, Some(c.b), None),
                (None, Some(y)) => (y, Some(c.a), None),
                (None, None) => return None,
            };
            Some(ImportDuplicate {
                row,
                customer,
                other_row,
                matches: c.matches,
            })
        })
        .collect();
    out.sort_by_key(|d| (d.row, d.other_row, d.customer));
    Ok(out)
}
