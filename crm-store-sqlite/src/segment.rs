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
//! Custom fields (`field.KEY`) are read from the JSON column
//! `customers.custom` (`{"KEY": {"type": "…", "value": …}}`), each test
//! guarded by the stored type so a value of another type never matches,
//! as in the reference evaluator. Pushed down: `exists`; text (and enum)
//! `=`, `!=`, `in` and `contains`; bool `=`, `!=`, `in`; date `=`, `!=`,
//! `in` with a date literal (the stored `YYYY-MM-DD` text compared as
//! text); whole-number literals with every operator and `in`, but only
//! while no customer holds a decimal under that key (a query checks
//! first), since an integer against a decimal string is not exact in SQL.
//!
//! Under an actor's [`ReadScope`] the query keeps only customers whose
//! owner is in the customer scope (`c.owner IN (…)`, which SQLite answers
//! from the `customers_by_owner_*` indexes, one range per owner), and the
//! deal and activity subqueries count only rows whose owner is in the deal
//! or activity scope. The owner ids are inlined as blob literals (ids the
//! engine resolved, not caller text).
//!
//! Not pushed down (the store answers `None` and the facade evaluates with
//! the reference evaluator): `won_amount` (SQLite's `sum` over TEXT
//! decimals would go through floating point, and money must stay exact),
//! the RFM fields (quintiles over the whole population), custom decimal
//! and money comparisons (stored as decimal strings), date ordering and
//! `within` on custom dates, and comparisons with times finer than a
//! millisecond (stored times are whole milliseconds).

use chrono::{DateTime, Datelike, Utc};
use crm_core::access::{OwnerSet, ReadScope};
use crm_core::segment::{CmpOp, Expr, Field, Pred, Test, Value};
use crm_core::{CustomerId, StoreError};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params_from_iter};

use crate::codec::*;

/// A segment query: its SQL text and parameters, and the custom keys
/// compared with whole numbers.
struct Query {
    sql: String,
    params: Vec<Sql>,
    int_keys: Vec<String>,
}

/// The query selecting the ids of the customers within `scope` matching
/// `expr`, ascending; `None` if some part of `expr` has no SQL form.
fn query(expr: &Expr, now: DateTime<Utc>, scope: &ReadScope) -> Option<Query> {
    let mut params = Vec::new();
    let mut int_keys = Vec::new();
    let cond = to_sql(
        expr,
        now,
        &mut Ctx {
            params: &mut params,
            int_keys: &mut int_keys,
            scope,
        },
    )?;
    // Customers merged into others are never part of a segment; customers
    // out of scope are not looked at (an indexed `owner IN (…)`).
    let customers = owners_sql("c.owner", &scope.customers);
    let sql = format!(
        "SELECT c.id FROM customers c \
         WHERE c.merged_into IS NULL{customers} AND ({cond}) ORDER BY c.id"
    );
    Some(Query {
        sql,
        params,
        int_keys,
    })
}

/// The ids of the customers within `scope` matching `expr`, ascending,
/// or `None` if some part of it cannot be evaluated in SQL. Deal and
/// activity predicates see only the deals and activities within `scope`.
pub(crate) fn push_down(
    conn: &Connection,
    expr: &Expr,
    now: DateTime<Utc>,
    scope: &ReadScope,
) -> Result<Option<Vec<CustomerId>>, StoreError> {
    let Some(Query {
        sql,
        params,
        int_keys,
    }) = query(expr, now, scope)
    else {
        return Ok(None);
    };
    // Whole-number comparisons are exact only on integer values: decline
    // when some customer holds a decimal under such a key.
    for key in &int_keys {
        let decimal: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM customers WHERE json_extract(custom, ?) = 'decimal')",
                [format!("$.\"{key}\".type")],
                |r| r.get(0),
            )
            .map_err(backend("checking custom value types"))?;
        if decimal {
            return Ok(None);
        }
    }
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

/// What translating an expression collects besides the SQL text.
struct Ctx<'a> {
    /// The statement's parameters, in order.
    params: &'a mut Vec<Sql>,
    /// Custom keys compared with whole numbers (exact only when no stored
    /// value under them is a decimal).
    int_keys: &'a mut Vec<String>,
    /// The records the actor may read.
    scope: &'a ReadScope,
}

/// ` AND column IN (…)` restricting `column` to the owners in `set`; empty
/// for every owner. The ids are inlined as blob literals: they are user
/// ids the engine resolved (not caller text), a team has a handful, and
/// literals keep the statement's parameters in the order its predicates
/// push them.
fn owners_sql(column: &str, set: &OwnerSet) -> String {
    match set {
        OwnerSet::All => String::new(),
        OwnerSet::Only(ids) if ids.is_empty() => " AND 0".to_owned(),
        OwnerSet::Only(ids) => {
            let list: Vec<String> = ids
                .iter()
                .map(|u| format!("X'{}'", u.as_uuid().simple()))
                .collect();
            format!(" AND {column} IN ({})", list.join(", "))
        }
    }
}

fn to_sql(e: &Expr, now: DateTime<Utc>, ctx: &mut Ctx<'_>) -> Option<String> {
    Some(match e {
        Expr::Const(b) => if *b { "1" } else { "0" }.to_owned(),
        Expr::And(parts) | Expr::Or(parts) => {
            let and = matches!(e, Expr::And(_));
            if parts.is_empty() {
                return Some(if and { "1" } else { "0" }.to_owned());
            }
            let sqls: Option<Vec<String>> = parts.iter().map(|p| to_sql(p, now, ctx)).collect();
            format!("({})", sqls?.join(if and { " AND " } else { " OR " }))
        }
        Expr::Not(inner) => format!("(NOT {})", to_sql(inner, now, ctx)?),
        Expr::Pred(p) => format!("coalesce(({}), 0)", pred_sql(p, now, ctx)?),
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

fn pred_sql(p: &Pred, now: DateTime<Utc>, ctx: &mut Ctx<'_>) -> Option<String> {
    if let Field::Custom { key } = &p.field {
        return custom_sql(key, &p.test, ctx);
    }
    let params = &mut *ctx.params;
    // Deal and activity subqueries count only the records in scope (the
    // owner test runs on the few rows of one customer, found by index).
    let deals_in_scope = owners_sql("d.owner", &ctx.scope.deals);
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
            let sub = format!(
                "(SELECT count(*) FROM deals d \
                 WHERE d.customer_id = c.id AND d.status = 'open'{deals_in_scope})"
            );
            return test_sql(&sub, &p.test, now, params);
        }
        Field::LastWon => {
            let sub = format!(
                "(SELECT max(d.won_at) FROM deals d \
                 WHERE d.customer_id = c.id AND d.status = 'won'{deals_in_scope})"
            );
            return test_sql(&sub, &p.test, now, params);
        }
        Field::LastActivity | Field::DaysSinceLastActivity => {
            let now_ms = millis(now);
            let activities_in_scope = owners_sql("a.owner", &ctx.scope.activities);
            // `now` is inlined: it is an integer the engine computed, and
            // the subquery appears before the test's own parameters.
            let last = format!(
                "(SELECT max(a.occurred_at) FROM activities a \
                 WHERE a.customer_id = c.id AND a.occurred_at <= {now_ms}{activities_in_scope})"
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

/// The SQL literal of a custom value compared by equality, with the
/// stored type it must have: `None` for literals not compared exactly in
/// SQL (decimals, money, times that are not a date at midnight, years
/// outside 0–9999 whose text form differs).
fn custom_scalar(v: &Value) -> Option<(&'static str, Sql)> {
    Some(match v {
        Value::Text(t) => ("text", Sql::Text(t.clone())),
        Value::Bool(b) => ("bool", Sql::Integer(i64::from(*b))),
        Value::Int(i) => ("integer", Sql::Integer(*i)),
        Value::Time(t) => {
            let midnight = t.time() == chrono::NaiveTime::MIN;
            let year = t.date_naive().year();
            if !midnight || !(0..=9999).contains(&year) {
                return None;
            }
            (
                "date",
                Sql::Text(t.date_naive().format("%Y-%m-%d").to_string()),
            )
        }
        _ => return None,
    })
}

/// A test on the custom value under `key` in `customers.custom`.
fn custom_sql(key: &str, test: &Test, ctx: &mut Ctx<'_>) -> Option<String> {
    // Keys are checked by the parser and `Expr::check`; refuse anything
    // else rather than quote it.
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let ty = format!("json_extract(c.custom, '$.\"{key}\".type')");
    let value = format!("json_extract(c.custom, '$.\"{key}\".value')");
    // One stored type for every literal of the test.
    let mut typed = |values: &[Value]| -> Option<&'static str> {
        let mut want = None;
        for v in values {
            let (t, sql) = custom_scalar(v)?;
            if want.is_some_and(|w| w != t) {
                return None;
            }
            want = Some(t);
            ctx.params.push(sql);
        }
        if want == Some("integer") && !ctx.int_keys.iter().any(|k| k == key) {
            ctx.int_keys.push(key.to_owned());
        }
        want
    };
    Some(match test {
        Test::Exists => format!("json_type(c.custom, '$.\"{key}\"') IS NOT NULL"),
        Test::Cmp { op, value: v } => {
            let t = typed(std::slice::from_ref(v))?;
            // Text, bools and dates (as text) compare by equality only.
            if t != "integer" && !op.is_equality() {
                return None;
            }
            format!("{ty} = '{t}' AND {value} {} ?", op_sql(*op))
        }
        Test::In { values } => {
            let t = typed(values)?;
            format!("{ty} = '{t}' AND {value} IN ({})", marks(values.len()))
        }
        Test::Contains {
            value: Value::Text(s),
        } => {
            ctx.params.push(Sql::Text(s.clone()));
            format!("{ty} = 'text' AND instr(lower({value}), lower(?)) > 0")
        }
        Test::Contains { .. } | Test::Within { .. } => return None,
    })
}

#[cfg(test)]
mod tests {
    //! The scope reaches SQLite as index lookups, not as a filter over
    //! every row: checked on the query plans.
    use super::*;
    use crm_core::UserId;
    use uuid::Uuid;

    /// A database with 200 owners, 2 000 customers and 20 000 deals, with
    /// statistics, so that the planner sees how selective an owner is.
    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::schema::migrate(&mut conn, std::path::Path::new(":memory:")).expect("schema");
        conn.execute_batch(
            "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 1999)
             INSERT INTO customers (id, version, kind, name, organisation, roles, lifecycle,
                 owner, created_at, updated_at)
             SELECT unhex(printf('%032x', x + 1)), 1, 'organisation', 'c' || x, NULL, 1,
                 'customer', unhex(printf('%032x', 1000000 + x % 200)), x, x FROM n;
             INSERT INTO pipelines VALUES (x'ff', 1, 'P', 'any', 1, 0, 0);
             WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 19999)
             INSERT INTO deals (id, version, title, customer_id, pipeline_id, stage, status,
                 amount, currency, expected_close_date, owner, won_at, lost_at, lost_reason,
                 created_at, updated_at)
             SELECT unhex(printf('%032x', 5000000 + x)), 1, 'd', unhex(printf('%032x', x % 2000 + 1)),
                 x'ff', 'lead', 'open', NULL, NULL, NULL,
                 unhex(printf('%032x', 1000000 + x % 200)), NULL, NULL, NULL, x, x FROM n;
             ANALYZE;",
        )
        .expect("data");
        conn
    }

    fn plan(conn: &Connection, text: &str, scope: &ReadScope) -> String {
        let e: Expr = text.parse().expect("expression");
        let q = query(&e, DateTime::UNIX_EPOCH, scope).expect("pushed down");
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql))
            .expect("explain");
        let rows = stmt
            .query_map(params_from_iter(q.params.iter()), |r| r.get::<_, String>(3))
            .expect("plan");
        rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("\n")
    }

    fn team() -> OwnerSet {
        OwnerSet::Only(
            (0..4u128)
                .map(|i| UserId::from_uuid(Uuid::from_u128(1_000_000 + i)))
                .collect(),
        )
    }

    #[test]
    fn a_team_scope_is_an_index_lookup_per_owner() {
        let conn = db();
        let scope = ReadScope {
            customers: team(),
            deals: team(),
            activities: team(),
        };
        let p = plan(&conn, "lifecycle = customer and open_deals >= 1", &scope);
        assert!(
            p.contains("SEARCH c USING INDEX customers_by_owner"),
            "customers by owner index:\n{p}"
        );
        assert!(
            p.contains("SEARCH d USING INDEX deals_by_customer (customer_id=?)"),
            "deals of one customer by index:\n{p}"
        );
        assert!(!p.contains("SCAN c"), "no scan of all customers:\n{p}");
        // The answer agrees: customers of the four owners, 10 each, with
        // an open deal of theirs (every deal is open, owned like its customer).
        let got = push_down(
            &conn,
            &"open_deals >= 1".parse().expect("expr"),
            DateTime::UNIX_EPOCH,
            &scope,
        )
        .expect("run")
        .expect("pushed");
        assert_eq!(got.len(), 40);
    }

    #[test]
    fn an_empty_scope_reads_nothing_and_all_adds_no_condition() {
        let conn = db();
        let none = ReadScope {
            customers: OwnerSet::Only(Vec::new()),
            deals: OwnerSet::All,
            activities: OwnerSet::All,
        };
        let got = push_down(&conn, &Expr::Const(true), DateTime::UNIX_EPOCH, &none)
            .expect("run")
            .expect("pushed");
        assert!(got.is_empty());
        let all =
            query(&Expr::Const(true), DateTime::UNIX_EPOCH, &ReadScope::all()).expect("pushed");
        assert!(!all.sql.contains(" IN ("), "{}", all.sql);
        // Deals out of scope are not counted: with deals of other owners
        // only, nobody has an open deal.
        let others = ReadScope {
            customers: team(),
            deals: OwnerSet::Only(vec![UserId::from_uuid(Uuid::from_u128(7))]),
            activities: OwnerSet::All,
        };
        let got = push_down(
            &conn,
            &"open_deals >= 1".parse().expect("expr"),
            DateTime::UNIX_EPOCH,
            &others,
        )
        .expect("run")
        .expect("pushed");
        assert!(got.is_empty());
    }
}
