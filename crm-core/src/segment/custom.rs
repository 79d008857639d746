//! Custom fields in segment expressions: `field.KEY` predicates checked
//! against the customer [`FieldSchema`].
//!
//! The parser and the evaluator do not know the schema (a value after
//! `field.KEY` is typed by how it is written, see [`super::parse()`]). The
//! facade calls [`check_custom_fields`] whenever a segment is saved or
//! evaluated, so nonsense is a typed error rather than an empty result:
//!
//! | field type | tests | literal |
//! |---|---|---|
//! | text | `=` `!=` `in` `contains` `exists` | quoted text or a bare word |
//! | enum | `=` `!=` `in` `contains` `exists` | text; with `=` `!=` `in`, one of the options |
//! | integer, decimal | `=` `!=` `<` `<=` `>` `>=` `in` `exists` | a number (`42`, `12.5`) |
//! | money | `=` `!=` `<` `<=` `>` `>=` `in` `exists` | an amount and a currency (`1200.50 EUR`) |
//! | date | `=` `!=` `<` `<=` `>` `>=` `in` `within` `exists` | a date (`2025-01-31`) |
//! | bool | `=` `!=` `in` `exists` | `true`, `false` |
//!
//! ```
//! use crm_core::custom_field::{FieldDef, FieldSchema, FieldType};
//! use crm_core::segment::custom::check_custom_fields;
//! use crm_core::EntityKind;
//!
//! let mut schema = FieldSchema::empty(EntityKind::Customer);
//! schema.fields.push(FieldDef::new("seats", "Seats", FieldType::Integer));
//! check_custom_fields(&"field.seats >= 10".parse()?, &schema)?;
//! let err = check_custom_fields(&"field.seats contains \"1\"".parse()?, &schema).unwrap_err();
//! assert!(err.to_string().contains("'contains' does not apply"), "{err}");
//! let err = check_custom_fields(&"field.seets > 1".parse()?, &schema).unwrap_err();
//! assert!(err.to_string().contains("(the fields are seats)"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::Timelike;

use super::expr::{Expr, Field, Pred, Test, Value};
use super::print::pred_to_string;
use crate::custom_field::{FieldDef, FieldSchema, FieldType};
use crate::error::{EntityKind, Error, Result};

/// Checks every `field.KEY` predicate of `expr` against the customer field
/// `schema`: the key must be defined, the test must apply to the field's
/// type, and every literal must be of that type (an enum literal one of
/// the options). Other predicates are not looked at.
pub fn check_custom_fields(expr: &Expr, schema: &FieldSchema) -> Result<()> {
    let mut first = Ok(());
    expr.for_each_pred(&mut |p| {
        if first.is_ok() {
            first = check_pred(p, schema);
        }
    });
    first
}

fn check_pred(p: &Pred, schema: &FieldSchema) -> Result<()> {
    let Field::Custom { key } = &p.field else {
        return Ok(());
    };
    let shown = pred_to_string(p);
    let fail = |reason: String| {
        Err(Error::invalid(
            EntityKind::Segment,
            format!("field.{key}"),
            &shown,
            reason,
        ))
    };
    let Some(def) = schema.field(key) else {
        let known: Vec<&str> = schema.fields.iter().map(|f| f.key.as_str()).collect();
        return fail(if known.is_empty() {
            format!("no custom field '{key}': customers have no custom fields")
        } else {
            format!(
                "no custom field '{key}' on customers (the fields are {})",
                known.join(", ")
            )
        });
    };
    let ty = def.field_type;
    let ordered = matches!(
        ty,
        FieldType::Integer | FieldType::Decimal | FieldType::Money | FieldType::Date
    );
    let textual = matches!(ty, FieldType::Text | FieldType::Enum);
    let (applies, what) = match &p.test {
        Test::Cmp { op, .. } => (ordered || op.is_equality(), format!("'{}'", op.as_str())),
        Test::In { .. } | Test::Exists => (true, String::new()),
        Test::Contains { .. } => (textual, "'contains'".to_owned()),
        Test::Within { .. } => (ty == FieldType::Date, "'within'".to_owned()),
    };
    if !applies {
        return fail(format!(
            "'field.{key}' is {} {ty} field: {what} does not apply (it supports {})",
            article(ty),
            supported(ty)
        ));
    }
    let values: &[Value] = match &p.test {
        Test::Cmp { value, .. } | Test::Contains { value } => std::slice::from_ref(value),
        Test::In { values } => values,
        Test::Exists | Test::Within { .. } => &[],
    };
    let equality = match &p.test {
        Test::Cmp { op, .. } => op.is_equality(),
        Test::In { .. } => true,
        _ => false,
    };
    for v in values {
        if !literal_fits(def, v) {
            return fail(format!(
                "'field.{key}' is {} {ty} field: it takes {}",
                article(ty),
                literal(ty)
            ));
        }
        if let (FieldType::Enum, Value::Text(t), true) = (ty, v, equality)
            && !def.options.contains(t)
        {
            return fail(format!(
                "'field.{key}' is an enum field: \"{t}\" is not one of its options ({})",
                def.options.join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether `v` is a literal of `def`'s type.
fn literal_fits(def: &FieldDef, v: &Value) -> bool {
    match (def.field_type, v) {
        (FieldType::Text | FieldType::Enum, Value::Text(_)) => true,
        (FieldType::Integer | FieldType::Decimal, Value::Int(_) | Value::Decimal(_)) => true,
        (FieldType::Money, Value::Money(_)) => true,
        (FieldType::Date, Value::Time(t)) => {
            t.num_seconds_from_midnight() == 0 && t.nanosecond() == 0
        }
        (FieldType::Bool, Value::Bool(_)) => true,
        _ => false,
    }
}

fn article(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Integer | FieldType::Enum => "an",
        _ => "a",
    }
}

fn supported(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text | FieldType::Enum => "=, !=, in, contains and exists",
        FieldType::Integer | FieldType::Decimal | FieldType::Money => {
            "=, !=, <, <=, >, >=, in and exists"
        }
        FieldType::Date => "=, !=, <, <=, >, >=, in, within and exists",
        FieldType::Bool => "=, !=, in and exists",
    }
}

fn literal(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Text | FieldType::Enum => "a quoted text such as \"gold\"",
        FieldType::Integer | FieldType::Decimal => "a number such as 42 or 12.5",
        FieldType::Money => "an amount and a currency such as 1200.50 EUR",
        FieldType::Date => "a date such as 2025-01-31",
        FieldType::Bool => "true or false",
    }
}
