//! Custom fields: the host application's own fields on customers, deals
//! and activities.
//!
//! Each of those entity types has one [`FieldSchema`], a stored, versioned
//! and audited record listing its [`FieldDef`]s: a key, a label, a
//! [`FieldType`] (text, integer, decimal, money, date, bool, or enum with
//! options) and whether the field is required. Records carry their values
//! in `custom`, a map from key to [`CustomValue`].
//!
//! Rules, enforced on every write of a record:
//! - every key must be defined in the schema ("unknown custom field");
//! - every value must have the field's type, an enum value must be one of
//!   the options, money must fit its currency's minor units;
//! - a required field must have a value, on creation and after every
//!   change.
//!
//! Rules for changing a schema ([`Session::set_custom_fields`](crate::Session::set_custom_fields)):
//! keys are 1 to 40 of `a-z`, `0-9`, `_`, starting with a letter, and
//! unique; labels are not empty; an enum has at least one option and
//! options are unique. A field may not be removed, nor change its type,
//! while a record holds a value for it; an enum may not drop an option a
//! record uses; a field may not become required while a record lacks it
//! (these checks read every record of the type: schema changes are rare).
//!
//! A field may be hidden from, or read-only for, some roles
//! ([`FieldDef::hidden_from`], [`FieldDef::read_only_for`]); those rules
//! hold on every read and write path, as the built-in field rules do (see
//! [custom fields in `access`](crate::access#custom-fields)).
//!
//! ```
//! use crm_core::custom_field::{CustomValue, FieldDef, FieldType};
//! use crm_core::{Actor, Crm, EntityKind, NewCustomer};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let s = crm.as_actor(Actor::System);
//! s.set_custom_fields(EntityKind::Customer, 0, vec![
//!     FieldDef::new("industry", "Industry", FieldType::Enum).options(["retail", "manufacturing"]),
//!     FieldDef::new("employees", "Employees", FieldType::Integer),
//! ])?;
//! let acme = s.create_customer(NewCustomer::organisation("ACME")
//!     .custom("industry", CustomValue::Text("manufacturing".into()))
//!     .custom("employees", CustomValue::Integer(250)))?;
//! assert_eq!(acme.custom["employees"], CustomValue::Integer(250));
//!
//! let err = s.create_customer(NewCustomer::organisation("Globex")
//!     .custom("industry", CustomValue::Text("mining".into()))).unwrap_err();
//! assert_eq!(err.to_string(),
//!     "invalid customer.custom.industry \"mining\": expected one of retail, manufacturing");
//! # Ok::<(), crm_core::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::access::AccessRole;
use crate::error::{EntityKind, Error, Result};
use crate::money::Money;

/// The type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Free text (up to 1000 characters).
    Text,
    /// A whole number.
    Integer,
    /// An exact decimal number.
    Decimal,
    /// An amount of money in a currency.
    Money,
    /// A calendar date.
    Date,
    /// Yes or no.
    Bool,
    /// One of the field's options (a text value).
    Enum,
}

impl FieldType {
    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Integer => "integer",
            FieldType::Decimal => "decimal",
            FieldType::Money => "money",
            FieldType::Date => "date",
            FieldType::Bool => "bool",
            FieldType::Enum => "enum",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The definition of one custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// The key values are stored under (`a-z`, `0-9`, `_`).
    pub key: String,
    /// The name shown to people.
    pub label: String,
    /// The type of its values.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// The allowed values of an enum field.
    #[serde(default)]
    pub options: Vec<String>,
    /// Whether every record must have a value.
    #[serde(default)]
    pub required: bool,
    /// The roles the field's values are hidden from, as a role hides a
    /// built-in field (see [field rules](crate::access#custom-fields)):
    /// absent from every record, event and export such a user reads;
    /// filtering or aggregating on it is an
    /// [`Error::CustomFieldHidden`]; and, being hidden, it is read-only too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_from: Vec<AccessRole>,
    /// The roles for which the field is read-only: setting or clearing it
    /// is an [`Error::CustomFieldReadOnly`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only_for: Vec<AccessRole>,
}

impl FieldDef {
    /// An optional field.
    pub fn new(key: impl Into<String>, label: impl Into<String>, field_type: FieldType) -> Self {
        FieldDef {
            key: key.into(),
            label: label.into(),
            field_type,
            options: Vec::new(),
            required: false,
            hidden_from: Vec::new(),
            read_only_for: Vec::new(),
        }
    }

    /// Hides the field's values from users whose every role is one of
    /// `roles` (see [field rules](crate::access#custom-fields)).
    ///
    /// ```
    /// use crm_core::custom_field::{FieldDef, FieldType};
    /// use crm_core::AccessRole;
    ///
    /// let margin = FieldDef::new("margin", "Margin", FieldType::Money)
    ///     .hidden_from([AccessRole::Support])
    ///     .read_only_for([AccessRole::SalesRep]);
    /// assert_eq!(margin.hidden_from, [AccessRole::Support]);
    /// assert_eq!(margin.read_only_for, [AccessRole::SalesRep]);
    /// ```
    pub fn hidden_from(mut self, roles: impl IntoIterator<Item = AccessRole>) -> Self {
        self.hidden_from = roles.into_iter().collect();
        self
    }

    /// Makes the field read-only for users whose every role is one of
    /// `roles` (or hides it from them).
    pub fn read_only_for(mut self, roles: impl IntoIterator<Item = AccessRole>) -> Self {
        self.read_only_for = roles.into_iter().collect();
        self
    }

    /// Sets the options of an enum field.
    pub fn options<I: Into<String>>(mut self, options: impl IntoIterator<Item = I>) -> Self {
        self.options = options.into_iter().map(Into::into).collect();
        self
    }

    /// Makes the field required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// A custom field's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum CustomValue {
    /// For text and enum fields.
    Text(String),
    /// For integer fields.
    Integer(i64),
    /// For decimal fields.
    Decimal(Decimal),
    /// For money fields.
    Money(Money),
    /// For date fields.
    Date(NaiveDate),
    /// For bool fields.
    Bool(bool),
}

impl fmt::Display for CustomValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CustomValue::Text(t) => f.write_str(t),
            CustomValue::Integer(i) => write!(f, "{i}"),
            CustomValue::Decimal(d) => write!(f, "{d}"),
            CustomValue::Money(m) => write!(f, "{m}"),
            CustomValue::Date(d) => write!(f, "{d}"),
            CustomValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl CustomValue {
    /// Parses `text` as a value of `field`'s type (as in a CSV cell:
    /// money as `1250.50 EUR`, dates as `YYYY-MM-DD`, bools as
    /// true/false/yes/no/1/0).
    pub fn parse(field: &FieldDef, text: &str) -> std::result::Result<CustomValue, String> {
        let text = text.trim();
        match field.field_type {
            FieldType::Text | FieldType::Enum => Ok(CustomValue::Text(text.to_owned())),
            FieldType::Integer => text
                .parse()
                .map(CustomValue::Integer)
                .map_err(|_| "expected a whole number".into()),
            FieldType::Decimal => text
                .parse()
                .map(CustomValue::Decimal)
                .map_err(|_| "expected a decimal number such as 12.5".into()),
            FieldType::Money => {
                let (amount, currency) = text.rsplit_once(' ').ok_or_else(|| {
                    "expected an amount and a currency, such as 1250.50 EUR".to_owned()
                })?;
                Money::parse(amount, currency)
                    .map(CustomValue::Money)
                    .map_err(|e| e.to_string())
            }
            FieldType::Date => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(CustomValue::Date)
                .map_err(|_| "expected a date as YYYY-MM-DD".into()),
            FieldType::Bool => match text.to_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(CustomValue::Bool(true)),
                "false" | "no" | "0" => Ok(CustomValue::Bool(false)),
                _ => Err("expected true or false".into()),
            },
        }
    }

    fn fits(&self, t: FieldType) -> bool {
        matches!(
            (self, t),
            (CustomValue::Text(_), FieldType::Text | FieldType::Enum)
                | (CustomValue::Integer(_), FieldType::Integer)
                | (CustomValue::Decimal(_), FieldType::Decimal)
                | (CustomValue::Money(_), FieldType::Money)
                | (CustomValue::Date(_), FieldType::Date)
                | (CustomValue::Bool(_), FieldType::Bool)
        )
    }
}

/// Custom values by field key.
pub type CustomValues = BTreeMap<String, CustomValue>;

/// Applies a patch's custom values: `Some` sets, `None` clears.
pub(crate) fn apply_custom(
    values: &mut CustomValues,
    patch: BTreeMap<String, Option<CustomValue>>,
) {
    for (key, value) in patch {
        match value {
            Some(v) => values.insert(key, v),
            None => values.remove(&key),
        };
    }
}

/// The custom fields of one entity type, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FieldSchema {
    /// Whose fields: customer, deal or activity.
    pub entity: EntityKind,
    /// The fields, in display order.
    pub fields: Vec<FieldDef>,
    /// 0 while never defined, then +1 on every change.
    pub version: u64,
    /// When it was first defined.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl FieldSchema {
    /// The schema of an entity type that has no custom fields yet.
    pub fn empty(entity: EntityKind) -> Self {
        FieldSchema {
            entity,
            fields: Vec::new(),
            version: 0,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    /// The next version of this schema, holding `fields`, changed at `now`
    /// (created at `now` too if this is the first version).
    pub fn next(&self, fields: Vec<FieldDef>, now: DateTime<Utc>) -> Self {
        FieldSchema {
            entity: self.entity,
            fields,
            version: self.version + 1,
            created_at: if self.version == 0 {
                now
            } else {
                self.created_at
            },
            updated_at: now.max(self.updated_at),
        }
    }

    /// The field with `key`.
    pub fn field(&self, key: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The id its audit events carry: fixed per entity type.
    pub fn event_id(entity: EntityKind) -> uuid::Uuid {
        let n = match entity {
            EntityKind::Customer => 1,
            EntityKind::Deal => 2,
            EntityKind::Activity => 3,
            _ => 0,
        };
        uuid::Uuid::from_u128(n)
    }

    /// Checks `values` of a record of this schema's type: known keys, right
    /// types, enum options, and (when `complete`) every required field.
    pub fn check(&self, values: &CustomValues, complete: bool) -> Result<()> {
        let invalid = |key: &str, value: &dyn fmt::Display, reason: String| {
            Error::invalid(self.entity, format!("custom.{key}"), value, reason)
        };
        for (key, value) in values {
            let Some(def) = self.field(key) else {
                let known: Vec<&str> = self.fields.iter().map(|f| f.key.as_str()).collect();
                return Err(invalid(
                    key,
                    value,
                    if known.is_empty() {
                        format!(
                            "unknown custom field: {} records have no custom fields",
                            self.entity
                        )
                    } else {
                        format!("unknown custom field (the fields are {})", known.join(", "))
                    },
                ));
            };
            if !value.fits(def.field_type) {
                return Err(invalid(
                    key,
                    value,
                    format!("expected a {} value", def.field_type),
                ));
            }
            match value {
                CustomValue::Text(t)
                    if def.field_type == FieldType::Enum && !def.options.contains(t) =>
                {
                    return Err(invalid(
                        key,
                        value,
                        format!("expected one of {}", def.options.join(", ")),
                    ));
                }
                CustomValue::Text(t) => crate::limits::check_text(
                    self.entity,
                    &format!("custom.{key}"),
                    "a text",
                    t,
                    crate::limits::MAX_CUSTOM_TEXT_CHARS,
                    true,
                )?,
                CustomValue::Money(m) if m.check_bounds().is_err() => {
                    return Err(invalid(
                        key,
                        value,
                        format!(
                            "an amount is at most {} in absolute value",
                            crate::limits::MAX_AMOUNT
                        ),
                    ));
                }
                CustomValue::Money(m) if !m.fits_minor_units() => {
                    return Err(invalid(
                        key,
                        value,
                        format!(
                            "{} has {} decimal places at most",
                            m.currency,
                            m.currency.minor_units()
                        ),
                    ));
                }
                _ => {}
            }
        }
        if complete
            && let Some(missing) = self
                .fields
                .iter()
                .find(|f| f.required && !values.contains_key(&f.key))
        {
            return Err(invalid(
                &missing.key,
                &"",
                format!("'{}' is required", missing.label),
            ));
        }
        Ok(())
    }
}

/// Checks a new list of definitions on its own.
pub(crate) fn validate_defs(entity: EntityKind, fields: &[FieldDef]) -> Result<()> {
    if !matches!(
        entity,
        EntityKind::Customer | EntityKind::Deal | EntityKind::Activity
    ) {
        return Err(Error::invalid(
            entity,
            "custom_fields",
            entity,
            "only customers, deals and activities have custom fields",
        ));
    }
    crate::limits::check_count(
        entity,
        "custom_fields",
        fields.len(),
        crate::limits::MAX_CUSTOM_FIELDS,
    )?;
    let mut keys = BTreeSet::new();
    for (i, f) in fields.iter().enumerate() {
        let invalid = |what: &str, value: &dyn fmt::Display, reason: &str| {
            Error::invalid(entity, format!("custom_fields[{i}].{what}"), value, reason)
        };
        let k = &f.key;
        let well_formed = (1..=40).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !well_formed {
            return Err(invalid(
                "key",
                k,
                "a key is 1 to 40 of a-z, 0-9 and _, starting with a letter",
            ));
        }
        if !keys.insert(k.clone()) {
            return Err(invalid("key", k, "another field has this key"));
        }
        if f.label.trim().is_empty() || f.label.chars().count() > 100 {
            return Err(invalid(
                "label",
                &f.label,
                "a label has 1 to 100 characters",
            ));
        }
        crate::limits::check_text(
            entity,
            &format!("custom_fields[{i}].label"),
            "a label",
            &f.label,
            100,
            false,
        )?;
        match f.field_type {
            FieldType::Enum => {
                let unique: BTreeSet<&String> = f.options.iter().collect();
                if f.options.is_empty() || unique.len() != f.options.len() {
                    return Err(invalid(
                        "options",
                        &f.options.join(", "),
                        "an enum field needs one or more different options",
                    ));
                }
                if f.options.iter().any(|o| o.trim().is_empty()) {
                    return Err(invalid(
                        "options",
                        &f.options.join(", "),
                        "an option cannot be blank",
                    ));
                }
                crate::limits::check_count(
                    entity,
                    &format!("custom_fields[{i}].options"),
                    f.options.len(),
                    crate::limits::MAX_ENUM_OPTIONS,
                )?;
                for (j, o) in f.options.iter().enumerate() {
                    crate::limits::check_text(
                        entity,
                        &format!("custom_fields[{i}].options[{j}]"),
                        "an option",
                        o,
                        crate::limits::MAX_NAME_CHARS,
                        false,
                    )?;
                }
            }
            _ if !f.options.is_empty() => {
                return Err(invalid(
                    "options",
                    &f.options.join(", "),
                    "only enum fields have options",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks that moving from `old` to `new` definitions leaves every
/// existing record valid; `records` are the custom values of every record
/// of the type.
pub(crate) fn check_change<'a>(
    entity: EntityKind,
    old: &FieldSchema,
    new: &[FieldDef],
    records: impl Iterator<Item = &'a CustomValues>,
) -> Result<()> {
    let records: Vec<&CustomValues> = records.collect();
    let holding = |key: &str, pred: &dyn Fn(&CustomValue) -> bool| {
        records
            .iter()
            .filter(|r| r.get(key).is_some_and(pred))
            .count()
    };
    for was in &old.fields {
        let refuse = |reason: String| {
            Err(Error::invalid(
                entity,
                format!("custom_fields.{}", was.key),
                &was.key,
                reason,
            ))
        };
        match new.iter().find(|f| f.key == was.key) {
            None => {
                let n = holding(&was.key, &|_| true);
                if n > 0 {
                    return refuse(format!(
                        "{n} {entity} record(s) have a value for this field; clear them before removing it"
                    ));
                }
            }
            Some(now) if now.field_type != was.field_type => {
                let n = holding(&was.key, &|_| true);
                if n > 0 {
                    return refuse(format!(
                        "{n} {entity} record(s) have a {} value for this field, so it cannot become {}",
                        was.field_type, now.field_type
                    ));
                }
            }
            Some(now) if now.field_type == FieldType::Enum => {
                let n = holding(
                    &was.key,
                    &|v| matches!(v, CustomValue::Text(t) if !now.options.contains(t)),
                );
                if n > 0 {
                    return refuse(format!(
                        "{n} {entity} record(s) use an option this change removes"
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for f in new.iter().filter(|f| f.required) {
        let lacking = records.iter().filter(|r| !r.contains_key(&f.key)).count();
        if lacking > 0 {
            return Err(Error::invalid(
                entity,
                format!("custom_fields.{}", f.key),
                &f.key,
                format!(
                    "{lacking} {entity} record(s) have no value for this field, so it cannot be required yet"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> FieldSchema {
        FieldSchema {
            fields: vec![
                FieldDef::new("tier", "Tier", FieldType::Enum).options(["gold", "silver"]),
                FieldDef::new("budget", "Budget", FieldType::Money).required(),
                FieldDef::new("seats", "Seats", FieldType::Integer),
            ],
            ..FieldSchema::empty(EntityKind::Deal)
        }
    }

    fn values(pairs: &[(&str, CustomValue)]) -> CustomValues {
        pairs
            .iter()
            .cloned()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    #[test]
    fn values_are_checked_against_the_schema() {
        let s = schema();
        let budget = CustomValue::Money(Money::parse("100.00", "EUR").unwrap());
        assert!(
            s.check(&values(&[("budget", budget.clone())]), true)
                .is_ok()
        );
        let err = |v: CustomValues, complete| s.check(&v, complete).unwrap_err().to_string();
        assert_eq!(
            err(values(&[("colour", CustomValue::Bool(true))]), false),
            "invalid deal.custom.colour \"true\": unknown custom field (the fields are tier, budget, seats)"
        );
        assert_eq!(
            err(values(&[("seats", CustomValue::Text("ten".into()))]), false),
            "invalid deal.custom.seats \"ten\": expected a integer value"
        );
        assert_eq!(
            err(
                values(&[("tier", CustomValue::Text("bronze".into()))]),
                false
            ),
            "invalid deal.custom.tier \"bronze\": expected one of gold, silver"
        );
        assert_eq!(
            err(values(&[("seats", CustomValue::Integer(3))]), true),
            "invalid deal.custom.budget \"\": 'Budget' is required"
        );
        assert_eq!(
            err(
                values(&[(
                    "budget",
                    CustomValue::Money(Money::parse("1.005", "EUR").unwrap())
                )]),
                true
            ),
            "invalid deal.custom.budget \"1.005 EUR\": EUR has 2 decimal places at most"
        );
    }

    #[test]
    fn cells_parse_by_type() {
        let s = schema();
        let budget = s.field("budget").unwrap();
        assert_eq!(
            CustomValue::parse(budget, "1250.50 EUR"),
            Ok(CustomValue::Money(Money::parse("1250.50", "EUR").unwrap()))
        );
        assert!(CustomValue::parse(budget, "1250.50").is_err());
        let flag = FieldDef::new("ok", "OK", FieldType::Bool);
        assert_eq!(
            CustomValue::parse(&flag, "Yes"),
            Ok(CustomValue::Bool(true))
        );
        assert!(CustomValue::parse(&flag, "maybe").is_err());
    }

    #[test]
    fn definitions_are_validated() {
        let bad = |f: FieldDef| {
            validate_defs(EntityKind::Customer, &[f])
                .unwrap_err()
                .to_string()
        };
        assert!(bad(FieldDef::new("Tier", "Tier", FieldType::Text)).contains("a key is 1 to 40"));
        assert!(bad(FieldDef::new("tier", " ", FieldType::Text)).contains("a label has"));
        assert!(bad(FieldDef::new("tier", "Tier", FieldType::Enum)).contains("one or more"));
        assert!(
            bad(FieldDef::new("tier", "Tier", FieldType::Text).options(["a"]))
                .contains("only enum fields")
        );
        let twice = validate_defs(
            EntityKind::Customer,
            &[
                FieldDef::new("a", "A", FieldType::Text),
                FieldDef::new("a", "B", FieldType::Bool),
            ],
        );
        assert!(
            twice
                .unwrap_err()
                .to_string()
                .contains("another field has this key")
        );
    }

    #[test]
    fn schema_changes_keep_existing_records_valid() {
        let old = schema();
        let budget = CustomValue::Money(Money::parse("10.00", "EUR").unwrap());
        let records = [
            values(&[
                ("tier", CustomValue::Text("gold".into())),
                ("seats", CustomValue::Integer(3)),
                ("budget", budget.clone()),
            ]),
            values(&[("budget", budget)]),
        ];
        let mut new = old.fields.clone();
        new.retain(|f| f.key != "seats");
        let err = check_change(EntityKind::Deal, &old, &new, records.iter()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid deal.custom_fields.seats \"seats\": 1 deal record(s) have a value for this field; clear them before removing it"
        );
        let mut new = old.fields.clone();
        new[0].options = vec!["silver".into()];
        assert!(check_change(EntityKind::Deal, &old, &new, records.iter()).is_err());
        let mut new = old.fields.clone();
        new[2].required = true;
        let err = check_change(EntityKind::Deal, &old, &new, records.iter()).unwrap_err();
        assert!(err.to_string().contains("1 deal record(s) have no value"));
        let mut new = old.fields.clone();
        new.push(FieldDef::new("notes", "Notes", FieldType::Text));
        new[0].options.push("bronze".into());
        assert!(check_change(EntityKind::Deal, &old, &new, records.iter()).is_ok());
    }
}
