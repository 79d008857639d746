//! Canonical printing: the text form the parser reads back into the same
//! tree.
//!
//! - `and` binds tighter than `or`; a nested `and`/`or` inside another
//!   `and`/`or`, or under `not`, is parenthesised, so grouping survives.
//! - Keywords, field names and enum values are lower case; tags, roles
//!   and kinds are bare words; text is always double-quoted (with `\"`
//!   and `\\` escapes); times print as `2025-01-31` at midnight UTC,
//!   otherwise RFC 3339 in UTC with milliseconds when there are any;
//!   money prints as `1200.50 EUR`, bools as `true`/`false`, and a
//!   decimal compared with a custom field always shows its dot (`5.0`).
//! - `tags contains X` prints as the shorthand `tag:X`.
//! - An `and` of no parts prints as `true`, an `or` of none as `false`,
//!   and one of a single part as that part (the parser never builds
//!   those, so they are the only trees that do not print back to
//!   themselves).

use std::fmt::{self, Write};

use chrono::{DateTime, Timelike, Utc};

use super::expr::{Expr, Field, FieldType, Pred, Revenue, Test, Value};

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        write_expr(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&pred_to_string(self))
    }
}

/// The canonical text of one predicate.
pub(crate) fn pred_to_string(p: &Pred) -> String {
    let mut s = String::new();
    write_pred(&mut s, p);
    s
}

/// Whether `e` prints as a bare `and`/`or` chain (so it needs parentheses
/// when nested).
fn is_chain(e: &Expr) -> bool {
    match e {
        Expr::And(p) | Expr::Or(p) => match p.len() {
            0 => false,
            1 => is_chain(&p[0]),
            _ => true,
        },
        _ => false,
    }
}

fn write_grouped(out: &mut String, e: &Expr) {
    if is_chain(e) {
        out.push('(');
        write_expr(out, e);
        out.push(')');
    } else {
        write_expr(out, e);
    }
}

fn write_expr(out: &mut String, e: &Expr) {
    match e {
        Expr::Const(b) => out.push_str(if *b { "true" } else { "false" }),
        Expr::And(parts) | Expr::Or(parts) => {
            let and = matches!(e, Expr::And(_));
            match parts.len() {
                0 => out.push_str(if and { "true" } else { "false" }),
                1 => write_expr(out, &parts[0]),
                _ => {
                    for (i, p) in parts.iter().enumerate() {
                        if i > 0 {
                            out.push_str(if and { " and " } else { " or " });
                        }
                        write_grouped(out, p);
                    }
                }
            }
        }
        Expr::Not(inner) => {
            out.push_str("not ");
            write_grouped(out, inner);
        }
        Expr::Pred(p) => write_pred(out, p),
    }
}

fn write_revenue(out: &mut String, r: &Revenue) {
    out.push('(');
    out.push_str(r.currency.code());
    if let Some(w) = r.window {
        let _ = write!(out, ", {w}");
    }
    out.push(')');
}

fn write_field(out: &mut String, field: &Field) {
    match field {
        Field::Custom { key } => {
            out.push_str("field.");
            out.push_str(key);
        }
        Field::WonAmount(r)
        | Field::RfmR(r)
        | Field::RfmF(r)
        | Field::RfmM(r)
        | Field::RfmSegment(r) => {
            out.push_str(field.name());
            write_revenue(out, r);
        }
        other => out.push_str(other.name()),
    }
}

fn write_pred(out: &mut String, p: &Pred) {
    if let (
        Field::Tags,
        Test::Contains {
            value: Value::Tag(t),
        },
    ) = (&p.field, &p.test)
    {
        out.push_str("tag:");
        out.push_str(t.as_str());
        return;
    }
    write_field(out, &p.field);
    let ty = p.field.ty();
    match &p.test {
        Test::Cmp { op, value } => {
            let _ = write!(out, " {} ", op.as_str());
            write_value(out, value, ty);
        }
        Test::In { values } => {
            out.push_str(" in (");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, v, ty);
            }
            out.push(')');
        }
        Test::Contains { value } => {
            out.push_str(" contains ");
            write_value(out, value, ty);
        }
        Test::Exists => out.push_str(" exists"),
        Test::Within { window } => {
            let _ = write!(out, " within {window}");
        }
    }
}

/// Writes `s` double-quoted, escaping `"` and `\`.
pub(crate) fn write_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

fn write_time(out: &mut String, t: &DateTime<Utc>) {
    if t.num_seconds_from_midnight() == 0 && t.nanosecond() == 0 {
        let _ = write!(out, "{}", t.format("%Y-%m-%d"));
    } else if t.nanosecond() == 0 {
        let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%SZ"));
    } else {
        let _ = write!(out, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
    }
}

fn write_value(out: &mut String, v: &Value, ty: FieldType) {
    match v {
        Value::Text(s) => write_quoted(out, s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Decimal(d) => {
            let _ = write!(out, "{d}");
            // Where the field's type does not say "decimal", a dot does.
            if ty == FieldType::Any && d.scale() == 0 {
                out.push_str(".0");
            }
        }
        Value::Time(t) => write_time(out, t),
        Value::Kind(k) => out.push_str(match k {
            crate::PartyKind::Person => "person",
            crate::PartyKind::Organisation => "organisation",
        }),
        Value::Lifecycle(l) => out.push_str(l.as_str()),
        Value::Role(r) => out.push_str(super::parse::role_str(*r)),
        Value::Tag(t) => out.push_str(t.as_str()),
        Value::User(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Segment(s) => out.push_str(s.as_str()),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Money(m) => {
            let _ = write!(out, "{} {}", m.amount, m.currency.code());
        }
    }
}
