//! Importing customers, deals and activities from CSV files.
//!
//! An import reads a CSV file whose first line names the columns, turns
//! every row into the same input a caller would give the facade
//! ([`NewCustomer`](crate::NewCustomer), [`NewDeal`](crate::NewDeal),
//! [`NewActivity`](crate::NewActivity)) and runs it through the same rules,
//! in one write transaction. Nothing is special about imported records:
//! each gets its audit event, dated with the row's historical time where
//! the file gives one.
//!
//! - **Columns are matched by header name**, ignoring case, spaces and
//!   punctuation (`E-Mail`, `email` and `EMAIL` all fill `email`). A
//!   [`ColumnMap`] maps other headers (`Firma` → `name`). Columns the import
//!   does not know are listed in [`ImportReport::ignored_columns`].
//! - **Every problem is reported**, not just the first: row number, line,
//!   column, value and reason ([`RowProblem`]).
//! - **Dry run** ([`ImportOptions::dry_run`]) runs the whole import, rules
//!   included, and rolls it back: the report says what would happen.
//! - **Policies**: [`ImportPolicy::AllOrNothing`] writes nothing if any row
//!   has a problem; [`ImportPolicy::SkipInvalid`] writes the valid rows in
//!   one transaction and reports the others. A row is all or nothing too: a
//!   deal row that fails when entering its historical stage leaves no deal
//!   behind ([`Batch::attempt`](crate::Batch::attempt)).
//!
//! - **Plans**: with [`ImportOptions::match_by`] rows are matched to
//!   existing records (by id, or customers by e-mail) and update them
//!   through the facade's update operations, so their rules hold. Every
//!   row gets an entry in [`ImportReport::plan`]: create, update (the
//!   changed fields, old and new), unchanged, skip or error; a dry run
//!   gives the same plan as the real run. The rows with problems can come
//!   back as a CSV of their own ([`ImportOptions::failed_rows_csv`]).
//! - **Spreadsheets as they are** ([`format`](mod@format)): the delimiter (`,` `;`
//!   tab) and the encoding (UTF-8 with or without a byte order mark,
//!   Windows-1252 / Latin-1, UTF-16) are detected unless given, and the
//!   report says what was detected; dates in day-first or month-first
//!   order ([`ImportOptions::date_order`]), decimal commas
//!   ([`ImportOptions::decimal_mark`]) and national phone numbers
//!   ([`ImportOptions::phone_region`]) are read as the options say.
//!
//! Cell formats: lists (roles, e-mails, phones, tags) are separated by
//! [`ImportOptions::list_separator`] (`;` by default); times are RFC 3339
//! (`2024-03-15T10:30:00Z`, `2024-03-15T11:30:00+01:00`), `2024-03-15
//! 10:30[:00]` (UTC) or a date `2024-03-15` (midnight UTC); dates are
//! `YYYY-MM-DD` (plus the [`DateOrder`] given); amounts use a decimal
//! point (`1250.50`) unless [`DecimalMark::Comma`] is given; users are ids.
//! A customer is named by id, e-mail address or exact name.
//!
//! The columns of each file are listed in [`CUSTOMER_COLUMNS`],
//! [`DEAL_COLUMNS`] and [`ACTIVITY_COLUMNS`]; [`crate::export`] writes files
//! with the same columns, so an export can be imported again.

pub(crate) mod activities;
mod cell;
pub(crate) mod customers;
pub(crate) mod deals;
pub mod format;
pub(crate) mod index;
pub mod plan;
mod report;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use activities::ACTIVITY_COLUMNS;
pub(crate) use cell::Row;
pub use customers::CUSTOMER_COLUMNS;
pub use deals::DEAL_COLUMNS;
pub use format::{DateOrder, DecimalMark, Delimiter, FileFormat, TextEncoding};
pub use plan::{MatchBy, PlanAction, PlanSummary, RowPlan, Unmatched};
pub use report::{ImportDuplicate, ImportReport, RowProblem};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{EntityKind, Error, Result};
use crate::facade::Batch;

/// A column an import understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// The column's name, as it is matched against headers.
    pub name: &'static str,
    /// Whether every file must have it.
    pub required: bool,
    /// What it holds and in which format.
    pub description: &'static str,
}

/// Ids of records in the system a file comes from (its `id` column) →
/// the ids they got when imported here.
pub type IdMap = std::collections::BTreeMap<Uuid, Uuid>;

/// One kind of imported record: how a row is read and written.
pub(crate) trait Importer: Sized {
    /// What the rows become.
    const ENTITY: EntityKind;
    /// The columns it knows.
    const COLUMNS: &'static [Column];
    /// A row read and checked cell by cell, ready to write.
    type Input;

    /// Prepares for an import inside `batch`; `default_at` is the time
    /// rows without a time of their own are dated at (`None`: the clock).
    fn new(batch: &Batch<'_>, default_at: Option<DateTime<Utc>>) -> Result<Self>;
    /// Reads a row; `None` (with problems recorded on the row) when a cell
    /// is unusable.
    fn read(&mut self, row: &mut Row<'_>) -> Option<Self::Input>;
    /// Writes a row's records through the facade, returning the main
    /// record's id. On error nothing of the row may stay: a row written
    /// by one facade operation is atomic by itself (every rule is checked
    /// before its first write); a row of several operations must say so
    /// in [`Importer::several_steps`].
    fn write(&mut self, batch: &mut Batch<'_>, row: &Self::Input) -> Result<Uuid>;
    /// Whether writing `row` takes several facade operations (a deal
    /// created, then closed): then it runs inside [`Batch::attempt`] so a
    /// refusal of a later step undoes the earlier ones. Savepoints are not
    /// free (SQLite copies every page a savepoint's writes touch), so
    /// single-step rows do without.
    fn several_steps(&self, row: &Self::Input) -> bool;
    /// The column a refusal by the rules is about ("" for the whole row).
    fn column_of(&self, row: &Self::Input, error: &Error) -> &'static str;
    /// The existing record the row matches under `by` (never
    /// [`MatchBy::Nothing`]); `own_id` is the row's `id` cell, translated
    /// through the id map. `Err` is why the row cannot be matched (two
    /// records match it, say): a problem of the row, in column `.0`.
    fn find(
        &self,
        batch: &Batch<'_>,
        by: MatchBy,
        own_id: Option<Uuid>,
        row: &Self::Input,
    ) -> std::result::Result<Option<Uuid>, (&'static str, String)>;
    /// Brings record `id` in line with the row through the facade's update
    /// operations (their rules apply), returning each changed field (empty:
    /// it already was, and nothing was written). Runs inside
    /// [`Batch::attempt`], so a refusal by a later step undoes earlier ones.
    fn update(
        &mut self,
        batch: &mut Batch<'_>,
        id: Uuid,
        row: &Self::Input,
    ) -> Result<Vec<crate::event::FieldChange>>;
}

/// Whether `id` is a record the batch's actor sees (`NotFound`: no).
pub(crate) fn exists<T>(found: Result<T>) -> Result<Option<T>> {
    match found {
        Ok(t) => Ok(Some(t)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What to do with the valid rows when some rows have problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ImportPolicy {
    /// Any problem in any row: nothing is written.
    #[default]
    AllOrNothing,
    /// The valid rows are written (in one transaction); rows with problems
    /// are skipped and reported.
    SkipInvalid,
}

/// How to run an import.
///
/// ```
/// use crm_core::import::{ColumnMap, ImportOptions, ImportPolicy};
/// let options = ImportOptions::default()
///     .dry_run(true)
///     .policy(ImportPolicy::SkipInvalid)
///     .columns(ColumnMap::new().column("name", "Firma"));
/// assert!(options.dry_run);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct ImportOptions {
    /// Check everything and write nothing.
    pub dry_run: bool,
    /// What to do when some rows have problems.
    pub policy: ImportPolicy,
    /// Headers that fill columns of another name.
    pub columns: ColumnMap,
    /// The separator of list cells (roles, e-mails, phones, tags).
    pub list_separator: char,
    /// Ids given to records by earlier imports ([`ImportReport::id_map`]):
    /// references to them in this file (a deal's customer, an activity's
    /// deal) are translated. This is how an export from another store is
    /// imported file by file.
    pub id_map: IdMap,
    /// For customer imports: also look for rows that resemble existing
    /// customers or each other ([`ImportReport::duplicates`]). Works in dry
    /// runs too, which is how to check a file before importing it.
    pub duplicates: Option<crate::duplicate::DuplicateOptions>,
    /// How rows are matched to existing records, which they then update
    /// ([`MatchBy::Nothing`]: every row creates one). In an update a blank
    /// cell, or a column the file lacks, leaves the field as it is; e-mail
    /// addresses and phone numbers are added to the record's (none is
    /// removed), tags are set to the cell's list; the
    /// `kind`, `customer` and `pipeline` of a record are not changed by an
    /// import (a row that differs there is an error), nor a record's
    /// `created_at` (it is ignored).
    pub match_by: MatchBy,
    /// What happens to a row that matches no record (with a `match_by`).
    pub unmatched: Unmatched,
    /// The character between cells ([`Delimiter::Auto`]: detected, and
    /// said in [`ImportReport::detected`]).
    pub delimiter: Delimiter,
    /// The file's encoding ([`TextEncoding::Auto`]: detected, and said in
    /// [`ImportReport::detected`]).
    pub encoding: TextEncoding,
    /// The order of day and month in dates such as `01.04.2023` (ISO
    /// dates are read under every order).
    pub date_order: DateOrder,
    /// The decimal mark of amounts and decimal or money custom fields.
    pub decimal_mark: DecimalMark,
    /// The region of phone numbers written without a country code (an
    /// ISO 3166 two-letter code in capitals, such as `DE`): `030 1234567`
    /// is then `+49301234567`. `None`: a number needs its country code.
    pub phone_region: Option<String>,
    /// Also return the rows with problems as a CSV file of their own
    /// ([`ImportReport::failed_rows_csv`]): the file's columns plus a
    /// `reason` column, to fix and import again.
    pub failed_rows_csv: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            policy: ImportPolicy::AllOrNothing,
            columns: ColumnMap::default(),
            list_separator: ';',
            id_map: IdMap::new(),
            duplicates: None,
            match_by: MatchBy::Nothing,
            unmatched: Unmatched::Create,
            delimiter: Delimiter::Auto,
            encoding: TextEncoding::Auto,
            date_order: DateOrder::Iso,
            decimal_mark: DecimalMark::Point,
            phone_region: None,
            failed_rows_csv: false,
        }
    }
}

impl ImportOptions {
    /// Sets [`ImportOptions::dry_run`].
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets [`ImportOptions::policy`].
    pub fn policy(mut self, policy: ImportPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets [`ImportOptions::columns`].
    pub fn columns(mut self, columns: ColumnMap) -> Self {
        self.columns = columns;
        self
    }

    /// Sets [`ImportOptions::id_map`].
    pub fn id_map(mut self, ids: IdMap) -> Self {
        self.id_map = ids;
        self
    }

    /// Sets [`ImportOptions::duplicates`].
    pub fn duplicates(mut self, options: crate::duplicate::DuplicateOptions) -> Self {
        self.duplicates = Some(options);
        self
    }

    /// Sets [`ImportOptions::match_by`].
    pub fn match_by(mut self, by: MatchBy) -> Self {
        self.match_by = by;
        self
    }

    /// Sets [`ImportOptions::unmatched`].
    pub fn unmatched(mut self, unmatched: Unmatched) -> Self {
        self.unmatched = unmatched;
        self
    }

    /// Sets [`ImportOptions::delimiter`].
    pub fn delimiter(mut self, delimiter: Delimiter) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Sets [`ImportOptions::encoding`].
    pub fn encoding(mut self, encoding: TextEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Sets [`ImportOptions::date_order`].
    pub fn date_order(mut self, order: DateOrder) -> Self {
        self.date_order = order;
        self
    }

    /// Sets [`ImportOptions::decimal_mark`].
    pub fn decimal_mark(mut self, mark: DecimalMark) -> Self {
        self.decimal_mark = mark;
        self
    }

    /// Sets [`ImportOptions::phone_region`].
    pub fn phone_region(mut self, region: impl Into<String>) -> Self {
        self.phone_region = Some(region.into());
        self
    }

    /// Sets [`ImportOptions::failed_rows_csv`].
    pub fn failed_rows_csv(mut self, on: bool) -> Self {
        self.failed_rows_csv = on;
        self
    }

    /// Refuses options that cannot hold for `entity`: an unknown phone
    /// region; matching deals or activities by e-mail.
    pub(crate) fn check(&self, entity: EntityKind) -> Result<()> {
        if let Some(region) = &self.phone_region
            && let Err(reason) = format::check_region(region)
        {
            return Err(Error::invalid(
                entity,
                "options.phone_region",
                region,
                reason,
            ));
        }
        if self.match_by == MatchBy::Email && entity != EntityKind::Customer {
            return Err(Error::invalid(
                entity,
                "options.match_by",
                "email",
                format!("only customers are matched by e-mail; match {entity} rows by id"),
            ));
        }
        Ok(())
    }

    /// Sets [`ImportOptions::list_separator`].
    pub fn list_separator(mut self, separator: char) -> Self {
        self.list_separator = separator;
        self
    }
}

/// Which header fills which column, where the names differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    /// Column name → header in the file.
    pub headers: HashMap<String, String>,
}

impl ColumnMap {
    /// No mapping: every column is read from the header of its own name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads column `column` (such as `email`) from the header `header`
    /// (such as `Kontakt E-Mail`).
    pub fn column(mut self, column: impl Into<String>, header: impl Into<String>) -> Self {
        self.headers.insert(column.into(), header.into());
        self
    }
}

/// A header or column name reduced for matching: lower case, letters and
/// digits only.
pub(crate) fn header_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each known column is in a file.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Column name → (index, header as written in the file).
    found: HashMap<&'static str, (usize, String)>,
    /// Custom fields the file has: (definition, index, header).
    custom: Vec<(crate::custom_field::FieldDef, usize, String)>,
    /// Headers no column uses.
    ignored: Vec<String>,
    width: usize,
}

impl Layout {
    /// Matches `headers` against `columns`, then the remaining headers
    /// against the custom fields of `schema` (by key or label). A missing
    /// required column or a mapping to a header the file lacks is an error
    /// that lists the file's headers.
    pub(crate) fn new(
        entity: EntityKind,
        columns: &'static [Column],
        headers: &csv::StringRecord,
        map: &ColumnMap,
        schema: &crate::custom_field::FieldSchema,
    ) -> Result<Layout> {
        let keys: Vec<String> = headers.iter().map(header_key).collect();
        let listed = || {
            headers
                .iter()
                .map(|h| format!("'{h}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for name in map.headers.keys() {
            if !columns.iter().any(|c| c.name == name) && schema.field(name).is_none() {
                let known: Vec<&str> = columns
                    .iter()
                    .map(|c| c.name)
                    .chain(schema.fields.iter().map(|f| f.key.as_str()))
                    .collect();
                return Err(Error::invalid(
                    entity,
                    format!("columns.{name}"),
                    name,
                    format!(
                        "an import of {entity} records has no such column (it has {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        let mut found = HashMap::new();
        for column in columns {
            let wanted = map
                .headers
                .get(column.name)
                .map(|h| header_key(h))
                .unwrap_or_else(|| header_key(column.name));
            match keys.iter().position(|k| *k == wanted) {
                Some(i) => {
                    found.insert(column.name, (i, headers.get(i).unwrap_or("").to_owned()));
                }
                None if map.headers.contains_key(column.name) => {
                    return Err(Error::invalid(
                        entity,
                        format!("columns.{}", column.name),
                        map.headers.get(column.name).map_or("", String::as_str),
                        format!("the file has no such header (its headers are {})", listed()),
                    ));
                }
                None if column.required => {
                    return Err(Error::invalid(
                        entity,
                        format!("columns.{}", column.name),
                        "",
                        format!(
                            "the file needs a '{}' column ({}); its headers are {}. Map another header to it with ColumnMap::column",
                            column.name,
                            column.description,
                            listed()
                        ),
                    ));
                }
                None => {}
            }
        }
        let mut used: Vec<usize> = found.values().map(|(i, _)| *i).collect();
        let mut custom = Vec::new();
        for def in &schema.fields {
            let wanted: Vec<String> = match map.headers.get(&def.key) {
                Some(h) => vec![header_key(h)],
                None => vec![header_key(&def.key), header_key(&def.label)],
            };
            let at = keys
                .iter()
                .enumerate()
                .position(|(i, k)| !used.contains(&i) && wanted.contains(k));
            match at {
                Some(i) => {
                    used.push(i);
                    custom.push((def.clone(), i, headers.get(i).unwrap_or("").to_owned()));
                }
                None if map.headers.contains_key(&def.key) => {
                    return Err(Error::invalid(
                        entity,
                        format!("columns.{}", def.key),
                        map.headers.get(&def.key).map_or("", String::as_str),
                        format!("the file has no such header (its headers are {})", listed()),
                    ));
                }
                None => {}
            }
        }
        let ignored = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(_, h)| h.to_owned())
            .collect();
        Ok(Layout {
            found,
            custom,
            ignored,
            width: headers.len(),
        })
    }

    /// The custom-field columns: (definition, index, header).
    pub(crate) fn custom(&self) -> &[(crate::custom_field::FieldDef, usize, String)] {
        &self.custom
    }

    pub(crate) fn ignored(&self) -> &[String] {
        &self.ignored
    }

    pub(crate) fn width(&self) -> usize {
        self.width
    }

    /// The index and header of column `name`, if the file has it.
    pub(crate) fn get(&self, name: &str) -> Option<&(usize, String)> {
        self.found.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(h.to_vec())
    }

    #[test]
    fn headers_match_ignoring_case_and_punctuation() {
        let layout = Layout::new(
            EntityKind::Customer,
            CUSTOMER_COLUMNS,
            &headers(&["Name", "E-Mail", "Created At", "Shoe size"]),
            &ColumnMap::new(),
            &crate::custom_field::FieldSchema::empty(EntityKind::Customer),
        )
        .unwrap();
        assert_eq!(layout.get("name"), Some(&(0, "Name".to_owned())));
        assert_eq!(layout.get("email"), Some(&(1, "E-Mail".to_owned())));
        assert_eq!(
            layout.get("created_at"),
            Some(&(2, "Created At".to_owned()))
        );
        assert_eq!(layout.ignored(), ["Shoe size".to_owned()]);
    }

    #[test]
    fn a_missing_required_column_names_it_and_the_headers() {
        let err = Layout::new(
            EntityKind::Customer,
            CUSTOMER_COLUMNS,
            &headers(&["Firma", "Mail"]),
            &ColumnMap::new(),
            &crate::custom_field::FieldSchema::empty(EntityKind::Customer),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("invalid customer.columns.name"), "{text}");
        assert!(text.contains("'Firma', 'Mail'"), "{text}");

        let layout = Layout::new(
            EntityKind::Customer,
            CUSTOMER_COLUMNS,
            &headers(&["Firma", "Mail"]),
            &ColumnMap::new()
                .column("name", "firma")
                .column("email", "Mail"),
            &crate::custom_field::FieldSchema::empty(EntityKind::Customer),
        )
        .unwrap();
        assert_eq!(layout.get("name").map(|c| c.0), Some(0));
        assert_eq!(layout.get("email").map(|c| c.0), Some(1));
    }

    #[test]
    fn a_mapping_to_an_unknown_column_or_header_is_refused() {
        let unknown_column = Layout::new(
            EntityKind::Customer,
            CUSTOMER_COLUMNS,
            &headers(&["name"]),
            &ColumnMap::new().column("shoe_size", "name"),
            &crate::custom_field::FieldSchema::empty(EntityKind::Customer),
        )
        .unwrap_err();
        assert!(unknown_column.to_string().contains("has no such column"));
        let unknown_header = Layout::new(
            EntityKind::Customer,
            CUSTOMER_COLUMNS,
            &headers(&["name"]),
            &ColumnMap::new().column("email", "Mail"),
            &crate::custom_field::FieldSchema::empty(EntityKind::Customer),
        )
        .unwrap_err();
        assert!(
            unknown_header
                .to_string()
                .contains("the file has no such header")
        );
    }
}
