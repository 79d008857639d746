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
use crate::import::format::{self, CellFormat};
use crate::import::{
    ImportDuplicate, ImportOptions, ImportPolicy, ImportReport, Importer, Layout, MatchBy,
    PlanAction, PlanSummary, Row, RowPlan, Unmatched,
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
        options.check(entity)?;
        let opened = format::open(input, options.delimiter, options.encoding).map_err(|e| {
            Error::invalid(entity, "csv", "", format!("the file cannot be read: {e}"))
        })?;
        let delimiter = opened.format.delimiter.byte();
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(opened.reader);
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
        let cells = CellFormat {
            list_separator: options.list_separator,
            dates: options.date_order,
            decimal: options.decimal_mark,
            phone_region: options.phone_region.clone(),
        };
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
            plan: Vec::new(),
            summary: PlanSummary::default(),
            format: opened.format,
            detected: opened.detected,
            failed_rows_csv: None,
        };
        let mut record = csv::StringRecord::new();
        let mut new_ids = Vec::new();
        // The row number of each id in `report.ids`.
        let mut id_rows = Vec::new();
        // The rows with problems, as read, and why (for failed_rows_csv).
        let mut failed: Vec<(csv::StringRecord, String)> = Vec::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) if e.is_io_error() => return Err(csv_failure(entity, &e)),
                Err(e) => {
                    // A malformed row (bad UTF-8, say): report it, go on.
                    report.rows += 1;
                    let line = e.position().map_or(0, |p| p.line());
                    let reason = format!("the row cannot be read: {e}");
                    report.problems.push(crate::import::RowProblem {
                        row: report.rows,
                        line,
                        column: String::new(),
                        value: String::new(),
                        reason: reason.clone(),
                    });
                    report.plan.push(RowPlan {
                        row: report.rows,
                        line,
                        action: PlanAction::Error,
                        id: None,
                        changes: Vec::new(),
                        reason: Some(reason.clone()),
                    });
                    if options.failed_rows_csv {
                        failed.push((csv::StringRecord::new(), reason));
                    }
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
            let mut plan = RowPlan {
                row: report.rows,
                line,
                action: PlanAction::Error,
                id: None,
                changes: Vec::new(),
                reason: None,
            };
            let mut row = Row::new(&record, &layout, &cells, &report.id_map, report.rows, line);
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
                let hint = match delimiter {
                    b';' => "a value containing a semicolon must be in double quotes",
                    b'\t' => "a value containing a tab must be in double quotes",
                    _ => "a value containing a comma (such as 1.200,50) must be in double quotes",
                };
                row.problem(
                    "",
                    "",
                    format!(
                        "the row has {} cells but the header has {}; {hint}",
                        record.len(),
                        layout.width()
                    ),
                );
            } else if let Some(input) = importer.read(&mut row)
                && !row.has_problems()
            {
                let matched = match options.match_by {
                    MatchBy::Nothing => Ok(None),
                    by => {
                        let here = own_id.map(|id| report.id_map.get(&id).copied().unwrap_or(id));
                        importer.find(&batch, by, here, &input)
                    }
                };
                match matched {
                    Err((column, reason)) => {
                        let cell = row.text(column).unwrap_or("");
                        row.problem(column, cell, reason);
                    }
                    Ok(Some(id)) => {
                        let updated = if I::ENTITY == EntityKind::Deal {
                            batch.attempt(|b| importer.update(b, id, &input))
                        } else {
                            importer.update(&mut batch, id, &input)
                        };
                        match updated {
                            Ok(changes) => {
                                report.valid_rows += 1;
                                plan.id = Some(id);
                                if changes.is_empty() {
                                    plan.action = PlanAction::Unchanged;
                                } else {
                                    plan.action = PlanAction::Update;
                                    plan.changes = changes;
                                    report.ids.push(id);
                                    id_rows.push(report.rows);
                                }
                                if let Some(own) = own_id
                                    && own != id
                                {
                                    new_ids.push((own, id));
                                }
                            }
                            Err(e @ Error::Store(_)) => return Err(e),
                            Err(e) => refusal(&importer, &input, &e, &layout, &record, &mut row),
                        }
                    }
                    Ok(None)
                        if options.match_by != MatchBy::Nothing
                            && options.unmatched != Unmatched::Create =>
                    {
                        let (column, by) = match options.match_by {
                            MatchBy::Email => ("email", "e-mail address"),
                            _ => ("id", "id"),
                        };
                        let why = match row.text(column) {
                            Some(_) => format!("no {entity} has this {by}"),
                            None => format!("the row has no {by} to match"),
                        };
                        if options.unmatched == Unmatched::Skip {
                            report.valid_rows += 1;
                            plan.action = PlanAction::Skip;
                            plan.reason = Some(format!("{why}, and unmatched rows are skipped"));
                        } else {
                            let cell = row.text(column).unwrap_or("");
                            row.problem(
                                column,
                                cell,
                                format!("{why}, and unmatched rows are errors (options.unmatched)"),
                            );
                        }
                    }
                    Ok(None) => {
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
                                plan.action = PlanAction::Create;
                                plan.id = Some(id);
                                if let Some(own) = own_id {
                                    new_ids.push((own, id));
                                }
                            }
                            Err(e @ Error::Store(_)) => return Err(e),
                            Err(e) => refusal(&importer, &input, &e, &layout, &record, &mut row),
                        }
                    }
                }
            }
            if row.has_problems() {
                let reason = row
                    .problems
                    .iter()
                    .map(|p| match p.column.as_str() {
                        "" => p.reason.clone(),
                        c => format!("{c}: {}", p.reason),
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                plan.action = PlanAction::Error;
                plan.id = None;
                plan.changes.clear();
                if options.failed_rows_csv {
                    failed.push((record.clone(), reason.clone()));
                }
                plan.reason = Some(reason);
            }
            report.problems.append(&mut row.problems);
            report.plan.push(plan);
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
            for p in &mut report.plan {
                if p.action == PlanAction::Create {
                    p.id = None;
                }
            }
        }
        report.summary = PlanSummary::of(&report.plan);
        if options.failed_rows_csv {
            report.failed_rows_csv = Some(failed_csv(entity, &headers, delimiter, &failed)?);
        }
        Ok(report)
    }
}

/// Records a refusal of a row's write by the rules as a problem of the
/// row, in the column it is about.
fn refusal<I: Importer>(
    importer: &I,
    input: &I::Input,
    e: &Error,
    layout: &Layout,
    record: &csv::StringRecord,
    row: &mut Row<'_>,
) {
    let column = match e {
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
            .map_or_else(|| format!("custom.{key}"), |(_, _, header)| header.clone()),
        _ => importer.column_of(input, e).to_owned(),
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
    let (value, reason) = explain(e, cell);
    row.problem(&column, value, reason);
}

/// The rows with problems as a CSV file: the header plus `reason`, then
/// each row's cells plus its reason.
fn failed_csv(
    entity: EntityKind,
    headers: &csv::StringRecord,
    delimiter: u8,
    failed: &[(csv::StringRecord, String)],
) -> Result<String> {
    let mut out = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    let failure = |e: csv::Error| {
        Error::invalid(
            entity,
            "failed_rows_csv",
            "",
            format!("the failed rows cannot be written: {e}"),
        )
    };
    let mut header: Vec<&str> = headers.iter().collect();
    header.push("reason");
    out.write_record(&header).map_err(failure)?;
    for (record, reason) in failed {
        let mut cells: Vec<&str> = record.iter().collect();
        // Short rows are padded so the reason is in its column.
        while cells.len() < headers.len() {
            cells.push("");
        }
        cells.push(reason);
        out.write_record(&cells).map_err(failure)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| failure(e.into_error().into()))?;
    String::from_utf8(bytes)
        .map_err(|e| Error::invalid(entity, "failed_rows_csv", "", format!("not UTF-8: {e}")))
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
