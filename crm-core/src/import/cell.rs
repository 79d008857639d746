//! Reading the cells of one row, collecting every problem.

use std::fmt::Display;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::format::CellFormat;
use super::{IdMap, Layout, RowProblem};
use crate::id::UserId;

/// One data row of an imported file, with the problems found in it so far.
pub(crate) struct Row<'r> {
    record: &'r csv::StringRecord,
    layout: &'r Layout,
    cells: &'r CellFormat,
    ids: &'r IdMap,
    /// The data row, from 1.
    pub(crate) number: u64,
    /// The file line it starts on, from 1.
    pub(crate) line: u64,
    pub(crate) problems: Vec<RowProblem>,
}

impl<'r> Row<'r> {
    pub(crate) fn new(
        record: &'r csv::StringRecord,
        layout: &'r Layout,
        cells: &'r CellFormat,
        ids: &'r IdMap,
        number: u64,
        line: u64,
    ) -> Self {
        Row {
            record,
            layout,
            cells,
            ids,
            number,
            line,
            problems: Vec::new(),
        }
    }

    /// Ids from the file's system and the ids their records got here.
    pub(crate) fn ids(&self) -> &'r IdMap {
        self.ids
    }

    /// The row's own `id` cell: `None` when blank, a problem when it is
    /// not a UUID.
    pub(crate) fn own_id(&mut self) -> Option<Uuid> {
        self.parse("id", |t| {
            t.parse::<Uuid>()
                .map_err(|_| "expected a UUID, the record's id where the file comes from")
        })
    }

    /// The trimmed cell of column `name`, or `None` when the file has no
    /// such column or the cell is blank.
    pub(crate) fn text(&self, name: &str) -> Option<&'r str> {
        let (i, _) = self.layout.get(name)?;
        let cell = self.record.get(*i)?.trim();
        (!cell.is_empty()).then_some(cell)
    }

    /// The cell of a column that must have a value.
    pub(crate) fn required(&mut self, name: &str) -> Option<&'r str> {
        let cell = self.text(name);
        if cell.is_none() {
            self.problem(name, "", "a value is required");
        }
        cell
    }

    /// Records a problem with column `name` (its header as in the file).
    pub(crate) fn problem(&mut self, name: &str, value: impl Display, reason: impl Into<String>) {
        let column = self
            .layout
            .get(name)
            .map(|(_, header)| header.clone())
            .unwrap_or_else(|| name.to_owned());
        let mut value = value.to_string();
        if value.chars().count() > 80 {
            value = value.chars().take(77).collect::<String>() + "...";
        }
        self.problems.push(RowProblem {
            row: self.number,
            line: self.line,
            column,
            value,
            reason: reason.into(),
        });
    }

    /// Parses the cell of column `name` with `parse`; a blank cell is
    /// `None`, a cell that does not parse is `None` plus a problem.
    pub(crate) fn parse<T, E: Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let cell = self.text(name)?;
        match parse(cell) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(name, cell, e.to_string());
                None
            }
        }
    }

    /// The items of a list cell, trimmed, blanks dropped.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.text(name)
            .map(|cell| {
                cell.split(self.cells.list_separator)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A time cell in the forms the import's options accept.
    pub(crate) fn time(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let cells = self.cells;
        self.parse(name, |t| cells.time(t))
    }

    /// A date cell in the forms the import's options accept.
    pub(crate) fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let cells = self.cells;
        self.parse(name, |t| cells.date(t))
    }

    /// A decimal cell's text with a decimal point (see
    /// [`CellFormat::decimal`]); a problem when it has two decimal commas.
    pub(crate) fn decimal(&mut self, name: &str) -> Option<String> {
        let cells = self.cells;
        self.parse(name, |t| cells.decimal(t).map(|d| d.into_owned()))
    }

    /// A list of phone numbers, national ones read in the default region
    /// when the options give one.
    pub(crate) fn phones(&mut self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.list(name) {
            match self.cells.phone(&item) {
                Ok(p) => out.push(p),
                Err(e) => self.problem(name, &item, e),
            }
        }
        out
    }

    /// A list cell of enum values.
    pub(crate) fn enum_list<T: DeserializeOwned>(
        &mut self,
        name: &str,
        allowed: &[&str],
    ) -> Vec<T> {
        let mut out = Vec::new();
        for item in self.list(name) {
            match parse_enum(&item, allowed) {
                Ok(v) => out.push(v),
                Err(e) => self.problem(name, &item, e),
            }
        }
        out
    }

    /// The row's custom-field cells, parsed by their fields' types (blank
    /// cells give no value); a cell that does not parse is a problem.
    pub(crate) fn custom(&mut self) -> crate::custom_field::CustomValues {
        let mut out = crate::custom_field::CustomValues::new();
        for (def, i, header) in self.layout.custom() {
            let Some(cell) = self.record.get(*i).map(str::trim).filter(|c| !c.is_empty()) else {
                continue;
            };
            let cell = match self.localised(def.field_type, cell) {
                Ok(c) => c,
                Err(reason) => {
                    let header = header.clone();
                    self.problem(&header, cell, reason);
                    continue;
                }
            };
            match crate::custom_field::CustomValue::parse(def, &cell) {
                Ok(v) => {
                    out.insert(def.key.clone(), v);
                }
                Err(reason) => {
                    let header = header.clone();
                    self.problem(&header, &cell, reason);
                }
            }
        }
        out
    }

    /// A custom cell rewritten into the form its field's parser reads:
    /// decimal commas and local dates as the options say.
    fn localised(
        &self,
        field_type: crate::custom_field::FieldType,
        cell: &str,
    ) -> Result<String, String> {
        use crate::custom_field::FieldType;
        Ok(match field_type {
            FieldType::Decimal => self.cells.decimal(cell)?.into_owned(),
            FieldType::Money => match cell.rsplit_once(' ') {
                Some((amount, currency)) => {
                    format!("{} {currency}", self.cells.decimal(amount.trim())?)
                }
                None => cell.to_owned(),
            },
            FieldType::Date => self.cells.date(cell)?.format("%Y-%m-%d").to_string(),
            _ => cell.to_owned(),
        })
    }

    /// Whether a problem has been recorded for this row.
    pub(crate) fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// One of the snake_case names of an enum, ignoring case and surrounding
/// blanks; the error lists the allowed names.
pub(crate) fn parse_enum<T: DeserializeOwned>(text: &str, allowed: &[&str]) -> Result<T, String> {
    let key = text.trim().to_lowercase().replace([' ', '-'], "_");
    serde_json::from_value(serde_json::Value::String(key))
        .map_err(|_| format!("expected one of {}", allowed.join(", ")))
}

/// A point in time: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC) or a date
/// (midnight UTC).
pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err("expected a date as YYYY-MM-DD or a time as 2024-03-15T10:30:00Z".into())
}

/// A calendar date, `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| "expected a date as YYYY-MM-DD, such as 2024-03-15".to_owned())
}

/// A user id.
pub(crate) fn parse_user(text: &str) -> Result<UserId, String> {
    text.parse::<UserId>().map_err(|_| {
        "expected a user id (a UUID such as 0192e4a0-7b1c-7def-8000-000000000001)".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::Lifecycle;
    use chrono::TimeZone;

    #[test]
    fn times_in_every_accepted_form() {
        let t = Utc.with_ymd_and_hms(2024, 3, 15, 10, 30, 0).unwrap();
        assert_eq!(parse_time("2024-03-15T10:30:00Z"), Ok(t));
        assert_eq!(parse_time("2024-03-15T11:30:00+01:00"), Ok(t));
        assert_eq!(parse_time("2024-03-15 10:30"), Ok(t));
        assert_eq!(parse_time("2024-03-15 10:30:00"), Ok(t));
        assert_eq!(
            parse_time("2024-03-15"),
            Ok(Utc.with_ymd_and_hms(2024, 3, 15, 0, 0, 0).unwrap())
        );
        assert!(parse_time("15/03/2024").is_err());
        assert!(parse_date("2024-02-30").is_err());
    }

    #[test]
    fn enums_ignore_case_and_list_the_choices() {
        let allowed = ["lead", "prospect", "customer", "churned"];
        assert_eq!(
            parse_enum::<Lifecycle>(" Customer ", &allowed),
            Ok(Lifecycle::Customer)
        );
        assert_eq!(
            parse_enum::<Lifecycle>("client", &allowed),
            Err("expected one of lead, prospect, customer, churned".to_owned())
        );
    }
}
