//! Segment push-down: attribute predicates evaluated in SQL.
//!
//! An expression whose predicates are all on customer attributes
//! (`kind`, `lifecycle`, `owner`, `roles`, `tags`, `name`, `email`,
//! `phone`, `created`, `updated`) or on `open_deals`, `last_won`,
//! `last_activity` and `days_since_last_activity` (correlated subqueries
//! on indexed columns) becomes one `SELECT c.id FROM customers c WHERE …`.
//! Each predicate is wrapped in `coalesce(…, 0)` so it is exactly 0 or 1,
//! never NULL: SQL's three-valued logic would otherwise make `NOT (owner =
//! ?)` unknown for a customer without an owner, where the reference
//! evaluator says true.
//!
//! Not pushed down (the store answers `None` and the facade evaluates with
//! the reference evaluator): `won_amount` (SQLite's `sum` over TEXT
//! decimals would go through floating point, and money must stay exact),
//! the RFM fields (quintiles over the whole population), custom fields,
//! and comparisons with times finer than a millisecond (stored times are
//! whole milliseconds).

use chrono::{DateTime, Utc};
use crm_core::segment::{CmpOp, Expr, Field, Pred, Test, Value};
use crm_core::{CustomerId, StoreError};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params_from_iter};

use crate::codec::*;

/// The ids of the customers matching `expr`, ascending, or `None` if some
/// part of it cannot be evaluated in SQL.
pub(crate) fn push_down(
    conn: &Connection,
    expr: &Expr,
    now: DateTime<Utc>,
) -> Result<Option<Vec<CustomerId>>, StoreError> {
    let mut params = Vec::new();
    let Some(cond) = to_sql(expr, now, &mut params) else {
        return Ok(None);
    };
    // Customers merged into others are never part of a segment.
    let sql = format!(
        "SELECT c.id FROM customers c WHERE c.merged_into IS NULL AND ({cond}) ORDER BY c.id"
    );
    // Not cached: every expression is a different statement.
    let mut stmt = conn
        .prepare(&sql)
        .map_err(backend("preparing a segment query"))?;
    let mut rows = stmt
        .query(params_from_iter(params.iter()))
        .map_err(backend("running a segment query"))?;
    let mut out = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(backend("reading a segment query row"))?
    {
        out.push(CustomerId::from_uuid(get_uuid(
            row,
            0,
            col("customers", "id"),
        )?));
    }
    Ok(Some(out))
}

fn to_sql(e: &Expr, now: DateTime<Utc>, params: &mut Vec<Sql>) -> Option<String> {
    Some(match e {
        Expr::Const(b) => if *b { "1" } else { "0" }.to_owned(),
        Expr::And(parts) | Expr::Or(parts) => {
            let and = matches!(e, Expr::And(_));
            if parts.is_empty() {
                return Some(if and { "1" } else { "0" }.to_owned());
            }
            let sqls: Option<Vec<String>> = parts.iter().map(|p| to_sql(p, now, params)).collect();
            format!("({})", sqls?.join(if and { " AND " } else { " OR " }))
        }
        Expr::Not(inner) => format!("(NOT {})", to_sql(inner, now, params)?),
        Expr::Pred(p) => format!("coalesce(({}), 0)", pred_sql(p, now, params)?),
    })
}

fn op_sql(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "<>",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// `?, ?, ?` for `n` parameters.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The SQL value of an equality-comparable attribute value.
fn scalar(v: &Value) -> Option<Sql> {
    Some(match v {
        Value::Kind(k) => Sql::Text(party_kind_str(*k).to_owned()),
        Value::Lifecycle(l) => Sql::Text(lifecycle_str(*l).to_owned()),
        Value::User(u) => Sql::Blob(u.as_uuid().as_bytes().to_vec()),
        Value::Tag(t) => Sql::Text(t.as_str().to_owned()),
        Value::Text(s) => Sql::Text(s.clone()),
        Value::Int(i) => Sql::Integer(*i),
        Value::Time(t) => {
            if t.timestamp_subsec_nanos() % 1_000_000 != 0 {
                return None;
            }
            Sql::Integer(millis(*t))
        }
        _ => return None,
    })
}

fn pred_sql(p: &Pred, now: DateTime<Utc>, params: &mut Vec<Sql>) -> Option<String> {
    let column = match p.field {
        Field::Kind => "c.kind",
        Field::Lifecycle => "c.lifecycle",
        Field::Owner => "c.owner",
        Field::Name => "c.name",
        Field::Created => "c.created_at",
        Field::Updated => "c.updated_at",
        Field::Roles => return roles_sql(&p.test),
        Field::Tags => return tags_sql(&p.test, params),
        Field::Email => return contact_sql("customer_emails", "email", &p.test, params),
        Field::Phone => return contact_sql("customer_phones", "phone", &p.test, params),
        Field::OpenDeals => {
            "(SELECT count(*) FROM deals d WHERE d.customer_id = c.id AND d.status = 'open')"
        }
        Field::LastWon => {
            "(SELECT max(d.won_at) FROM deals d WHERE d.customer_id = c.id AND d.status = 'won')"
        }
        Field::LastActivity | Field::DaysSinceLastActivity => {
            let now_ms = millis(now);
            // `now` is inlined: it is an integer the engine computed, and
            // the subquery appears before the test's own parameters.
            let last = format!(
                "(SELECT max(a.occurred_at) FROM activities a \
                 WHERE a.customer_id = c.id AND a.occurred_at <= {now_ms})"
            );
            let column = if p.field == Field::LastActivity {
                last
            } else {
                // Whole days, rounded down (the difference is never negative).
                format!("(({now_ms} - {last}) / 86400000)")
            };
            return test_sql(&column, &p.test, now, params);
        }
        _ => return None,
    };
    test_sql(column, &p.test, now, params)
}

/// `column` (an SQL expression) tested by `test`.
fn test_sql(
    column: &str,
    test: &Test,
    now: DateTime<Utc>,
    params: &mut Vec<Sql>,
) -> Option<String> {
    Some(match test {
        Test::Cmp { op, value } => {
            params.push(scalar(value)?);
            format!("{column} {} ?", op_sql(*op))
        }
        Test::In { values } => {
            for v in values {
                params.push(scalar(v)?);
            }
            format!("{column} IN ({})", marks(values.len()))
        }
        Test::Contains {
            value: Value::Text(s),
        } => {
            // SQLite's lower() folds ASCII only, like to_ascii_lowercase;
            // instr has no wildcards and an empty needle matches.
            params.push(Sql::Text(s.clone()));
            format!("instr(lower({column}), lower(?)) > 0")
        }
        Test::Exists => format!("{column} IS NOT NULL"),
        Test::Within { window } => {
            params.push(Sql::Integer(millis(window.start(now))));
            params.push(Sql::Integer(millis(now)));
            format!("{column} BETWEEN ? AND ?")
        }
        Test::Contains { .. } => return None,
    })
}

fn roles_sql(test: &Test) -> Option<String> {
    let bits = |values: &[Value]| -> Option<i64> {
        values.iter().try_fold(0i64, |acc, v| match v {
            Value::Role(r) => Some(acc | role_bit(*r)),
            _ => None,
        })
    };
    // Bits are constants of the schema, not user input: inline them.
    Some(match test {
        Test::Contains { value } => {
            format!("(c.roles & {}) <> 0", bits(std::slice::from_ref(value))?)
        }
        Test::In { values } => format!("(c.roles & {}) <> 0", bits(values)?),
        Test::Exists => "c.roles <> 0".to_owned(),
        _ => return None,
    })
}

fn tags_sql(test: &Test, params: &mut Vec<Sql>) -> Option<String> {
    const SUB: &str = "SELECT 1 FROM customer_tags ct WHERE ct.customer_id = c.id";
    Some(match test {
        Test::Contains { value } => {
            params.push(scalar(value)?);
            format!("EXISTS ({SUB} AND ct.tag = ?)")
        }
        Test::In { values } => {
            for v in values {
                params.push(scalar(v)?);
            }
            format!("EXISTS ({SUB} AND ct.tag IN ({}))", marks(values.len()))
        }
        Test::Exists => format!("EXISTS ({SUB})"),
        _ => return None,
    })
}

fn contact_sql(
    table: &'static str,
    column: &'static str,
    test: &Test,
    params: &mut Vec<Sql>,
) -> Option<String> {
    let sub = format!("SELECT 1 FROM {table} x WHERE x.customer_id = c.id");
    Some(match test {
        Test::Contains {
            value: Value::Text(s),
        } => {
            params.push(Sql::Text(s.clone()));
            format!("EXISTS ({sub} AND instr(lower(x.{column}), lower(?)) > 0)")
        }
        Test::Exists => format!("EXISTS ({sub})"),
        _ => return None,
    })
}
