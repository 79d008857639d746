//! Reads: point lookups and listings pushed down to SQL.
//!
//! A listing is one statement: the filter becomes a `WHERE` clause, the
//! order `ORDER BY key, id` (both descending for [`SortDirection::Desc`]),
//! the cursor a row-value comparison `(key, id) > (?, ?)` (or `<`), and the
//! page `LIMIT limit + 1`, the extra row telling whether a next page
//! exists. This reproduces [`crm_core::query::paginate`] exactly: text keys
//! compare with the BINARY collation (UTF-8 byte order, like `String`), ids
//! are UUID blobs (byte order, like `Uuid`).

use std::collections::BTreeSet;

use crm_core::query::{
    ActivityFilter, ActivityOrder, CustomerOrder, DealOrder, EventFilter, EventOrder, Order,
    PipelineFilter, PipelineOrder, Record, SortValue,
};
use crm_core::segment::{Expr, SegmentOrder};
use crm_core::{
    Activity, ActivityId, ActivityQuery, Actor, Currency, Customer, CustomerFilter, CustomerId,
    CustomerQuery, Deal, DealFilter, DealId, DealQuery, Email, EntityKind, EntityRef, Event,
    EventId, EventQuery, FieldChange, Money, Page, Phone, Pipeline, PipelineId, PipelineQuery,
    Query, Segment, SegmentId, SegmentQuery, SortDirection, Stage, StageChange, StageKey,
    StoreError, Tag, Transitions,
};
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::codec::*;

// ----- the generic listing -----

/// A `WHERE` clause under construction.
#[derive(Default)]
pub(crate) struct Where {
    conds: Vec<String>,
    params: Vec<Value>,
}

impl Where {
    fn push(&mut self, cond: &str, params: impl IntoIterator<Item = Value>) {
        self.conds.push(cond.to_owned());
        self.params.extend(params);
    }

    fn sql(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conds.join(" AND "))
        }
    }
}

fn b(u: Uuid) -> Value {
    Value::Blob(u.as_bytes().to_vec())
}

fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn i(v: i64) -> Value {
    Value::Integer(v)
}

/// The table-specific parts of a listing.
struct Listing {
    /// `SELECT` list.
    columns: &'static str,
    /// `FROM` clause.
    from: &'static str,
    /// The id column, the tie-breaker.
    id: &'static str,
    /// Whether the id column is unique on its own among sort keys (then the
    /// key alone orders).
    key_unique: bool,
}

/// Runs a listing and returns the page, `next` cursor included.
fn list<T, F, O>(
    conn: &Connection,
    listing: &Listing,
    q: &Query<F, O>,
    (key, key_is_text): (&'static str, bool),
    mut filter: Where,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    T: Record,
    O: Order<T>,
{
    let desc = q.direction == SortDirection::Desc;
    let after = q
        .page
        .after
        .as_ref()
        .map(|c| c.decode(q.order.name()))
        .transpose()?;
    if let Some((value, id)) = after {
        // A cursor value of the other type than this order's key sorts
        // (like `SortValue`) integers before all text.
        match (value, key_is_text) {
            (SortValue::Int(v), false) => push_cursor(&mut filter, key, listing, desc, i(v), id),
            (SortValue::Text(s), true) => push_cursor(&mut filter, key, listing, desc, t(&s), id),
            // An integer cursor on a text key, ascending: every row is after it.
            (SortValue::Int(_), true) if !desc => {}
            // A text cursor on an integer key, descending: every row is after it.
            (SortValue::Text(_), false) if desc => {}
            // Otherwise no row is after it.
            _ => return Ok(Vec::new()),
        }
    }
    let dir = if desc { "DESC" } else { "ASC" };
    let order = if listing.key_unique {
        format!("{key} {dir}")
    } else {
        format!("{key} {dir}, {} {dir}", listing.id)
    };
    let sql = format!(
        "SELECT {} FROM {}{} ORDER BY {order} LIMIT ?",
        listing.columns,
        listing.from,
        filter.sql()
    );
    let limit = i64::from(q.page.limit.max(1)) + 1;
    filter.params.push(i(limit));
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(backend("preparing a listing query"))?;
    let mut rows = stmt
        .query(params_from_iter(filter.params.iter()))
        .map_err(backend("running a listing query"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading a listing row"))? {
        out.push(decode(row)?);
    }
    Ok(out)
}

fn push_cursor(
    filter: &mut Where,
    key: &'static str,
    listing: &Listing,
    desc: bool,
    value: Value,
    id: Uuid,
) {
    let (op, op_eq) = if desc { ("<", "<=") } else { (">", ">=") };
    if listing.key_unique {
        // `key >= ?` gives the planner a plain range on the unique key; the
        // row value keeps the exact (key, id) semantics of the reference.
        filter.conds.push(format!(
            "{key} {op_eq} ? AND ({key}, {}) {op} (?, ?)",
            listing.id
        ));
        filter.params.push(value.clone());
    } else {
        filter
            .conds
            .push(format!("({key}, {}) {op} (?, ?)", listing.id));
    }
    filter.params.push(value);
    filter.params.push(b(id));
}

/// Turns the rows of a listing into a page: at most `limit` items and a
/// cursor after the last one if more rows remain.
fn into_page<T: Record, F, O: Order<T>>(mut items: Vec<T>, q: &Query<F, O>) -> Page<T> {
    let limit = q.page.limit.max(1) as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    let next = if more {
        items
            .last()
            .map(|last| crm_core::Cursor::new(q.order.name(), &q.order.value(last), last.uuid()))
    } else {
        None
    };
    Page { items, next }
}

fn count(conn: &Connection, from: &str, filter: Where) -> Result<u64, StoreError> {
    let sql = format!("SELECT count(*) FROM {}{}", from, filter.sql());
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(backend("preparing a count query"))?;
    let n: i64 = stmt
        .query_row(params_from_iter(filter.params.iter()), |r| r.get(0))
        .map_err(backend("running a count query"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

// ----- customers -----

const CUSTOMER_COLUMNS: &str = "c.id, c.version, c.kind, c.name, c.organisation, c.roles, \
     c.lifecycle, c.owner, c.created_at, c.updated_at, c.merged_into, c.custom, \
     (SELECT group_concat(email, char(10) ORDER BY position) FROM customer_emails WHERE customer_id = c.id), \
     (SELECT group_concat(phone, char(10) ORDER BY position) FROM customer_phones WHERE customer_id = c.id), \
     (SELECT group_concat(tag, char(10)) FROM customer_tags WHERE customer_id = c.id)";

const CUSTOMERS: Listing = Listing {
    columns: CUSTOMER_COLUMNS,
    from: "customers c",
    id: "c.id",
    key_unique: false,
};

fn split_list<T, E: std::fmt::Display>(
    joined: Option<&str>,
    c: Col,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, StoreError> {
    match joined {
        None => Ok(Vec::new()),
        Some(s) => s
            .split('\n')
            .map(|item| {
                parse(item).map_err(|e| corrupt(c.table, c.column, format!("{item:?}: {e}")))
            })
            .collect(),
    }
}

fn decode_customer(row: &Row<'_>) -> Result<Customer, StoreError> {
    const T: &str = "customers";
    let emails = split_list(
        get_opt_str(row, 12, col("customer_emails", "email"))?,
        col("customer_emails", "email"),
        Email::parse,
    )?;
    let phones = split_list(
        get_opt_str(row, 13, col("customer_phones", "phone"))?,
        col("customer_phones", "phone"),
        Phone::parse,
    )?;
    let tags: BTreeSet<Tag> = split_list(
        get_opt_str(row, 14, col("customer_tags", "tag"))?,
        col("customer_tags", "tag"),
        Tag::parse,
    )?
    .into_iter()
    .collect();
    Ok(Customer {
        id: CustomerId::from_uuid(get_uuid(row, 0, col(T, "id"))?),
        version: get_u64(row, 1, col(T, "version"))?,
        kind: get_parsed(row, 2, col(T, "kind"), party_kind)?,
        name: get_str(row, 3, col(T, "name"))?.to_owned(),
        organisation: get_opt_uuid(row, 4, col(T, "organisation"))?.map(CustomerId::from_uuid),
        roles: roles_from_bits(get_i64(row, 5, col(T, "roles"))?, col(T, "roles"))?,
        lifecycle: get_parsed(row, 6, col(T, "lifecycle"), lifecycle)?,
        emails,
        phones,
        owner: get_opt_user(row, 7, col(T, "owner"))?,
        tags,
        created_at: get_time(row, 8, col(T, "created_at"))?,
        updated_at: get_time(row, 9, col(T, "updated_at"))?,
        merged_into: get_opt_uuid(row, 10, col(T, "merged_into"))?.map(CustomerId::from_uuid),
        custom: get_custom(row, 11, col(T, "custom"))?,
    })
}

pub(crate) fn customer(conn: &Connection, id: CustomerId) -> Result<Option<Customer>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers c WHERE c.id = ?"
        ))
        .map_err(backend("preparing to read a customer"))?;
    let mut rows = stmt
        .query([blob(id.as_uuid())])
        .map_err(backend("reading a customer"))?;
    match rows.next().map_err(backend("reading a customer"))? {
        Some(row) => decode_customer(row).map(Some),
        None => Ok(None),
    }
}

fn customer_where(f: &CustomerFilter) -> Where {
    let mut w = Where::default();
    if !f.include_merged {
        w.push("c.merged_into IS NULL", []);
    }
    if let Some(k) = f.kind {
        w.push("c.kind = ?", [t(party_kind_str(k))]);
    }
    if let Some(l) = f.lifecycle {
        w.push("c.lifecycle = ?", [t(lifecycle_str(l))]);
    }
    if let Some(r) = f.role {
        w.push("(c.roles & ?) <> 0", [i(role_bit(r))]);
    }
    if let Some(o) = f.owner {
        w.push("c.owner = ?", [b(o.as_uuid())]);
    }
    if let Some(tag) = &f.tag {
        w.push(
            "EXISTS (SELECT 1 FROM customer_tags ct WHERE ct.customer_id = c.id AND ct.tag = ?)",
            [t(tag.as_str())],
        );
    }
    if let Some(o) = f.organisation {
        w.push("c.organisation = ?", [b(o.as_uuid())]);
    }
    if let Some(e) = &f.email {
        w.push(
            "c.id IN (SELECT customer_id FROM customer_emails WHERE email = ?)",
            [t(e.as_str())],
        );
    }
    if let Some(n) = &f.name_contains {
        // SQLite's lower() folds ASCII only, like to_ascii_lowercase; instr
        // has no wildcards (unlike LIKE), and an empty needle matches.
        w.push("instr(lower(c.name), lower(?)) > 0", [t(n)]);
    }
    w
}

pub(crate) fn customers(
    conn: &Connection,
    q: &CustomerQuery,
) -> Result<Page<Customer>, StoreError> {
    let key = match q.order {
        CustomerOrder::CreatedAt => ("c.created_at", false),
        CustomerOrder::UpdatedAt => ("c.updated_at", false),
        CustomerOrder::Name => ("c.name", true),
    };
    let rows = list(
        conn,
        &CUSTOMERS,
        q,
        key,
        customer_where(&q.filter),
        decode_customer,
    )?;
    Ok(into_page(rows, q))
}

pub(crate) fn count_customers(conn: &Connection, f: &CustomerFilter) -> Result<u64, StoreError> {
    count(conn, "customers c", customer_where(f))
}

// ----- pipelines -----

const PIPELINE_COLUMNS: &str =
    "p.id, p.version, p.name, p.transitions, p.allow_reopen, p.created_at, p.updated_at";

const PIPELINES: Listing = Listing {
    columns: PIPELINE_COLUMNS,
    from: "pipelines p",
    id: "p.id",
    key_unique: false,
};

/// A pipeline row; its stages and transitions are loaded by
/// [`complete_pipeline`] (`Transitions::Only` with no edges yet when the
/// pipeline lists its edges).
fn decode_pipeline(row: &Row<'_>) -> Result<Pipeline, StoreError> {
    const T: &str = "pipelines";
    let transitions = match get_str(row, 3, col(T, "transitions"))? {
        "any" => Transitions::Any,
        "only" => Transitions::Only(Vec::new()),
        other => {
            return Err(corrupt(
                T,
                "transitions",
                format!("{other:?} is not 'any' or 'only'"),
            ));
        }
    };
    let allow_reopen = match get_i64(row, 4, col(T, "allow_reopen"))? {
        0 => false,
        1 => true,
        other => return Err(corrupt(T, "allow_reopen", format!("{other} is not 0 or 1"))),
    };
    Ok(Pipeline {
        id: PipelineId::from_uuid(get_uuid(row, 0, col(T, "id"))?),
        version: get_u64(row, 1, col(T, "version"))?,
        name: get_str(row, 2, col(T, "name"))?.to_owned(),
        stages: Vec::new(),
        transitions,
        allow_reopen,
        created_at: get_time(row, 5, col(T, "created_at"))?,
        updated_at: get_time(row, 6, col(T, "updated_at"))?,
    })
}

fn stage_key(s: &str) -> Result<StageKey, crm_core::pipeline::StageKeyError> {
    StageKey::new(s)
}

/// Loads the stages and transitions of a pipeline row.
fn complete_pipeline(conn: &Connection, mut p: Pipeline) -> Result<Pipeline, StoreError> {
    const T: &str = "pipeline_stages";
    let mut stmt = conn
        .prepare_cached(
            "SELECT key, name, probability, kind, guards FROM pipeline_stages \
             WHERE pipeline_id = ? ORDER BY position",
        )
        .map_err(backend("preparing to read pipeline stages"))?;
    let mut rows = stmt
        .query([blob(p.id.as_uuid())])
        .map_err(backend("reading pipeline stages"))?;
    while let Some(row) = rows.next().map_err(backend("reading pipeline stages"))? {
        let probability = get_i64(row, 2, col(T, "probability"))?;
        let guards = get_str(row, 4, col(T, "guards"))?;
        p.stages.push(Stage {
            key: get_parsed(row, 0, col(T, "key"), stage_key)?,
            name: get_str(row, 1, col(T, "name"))?.to_owned(),
            probability: u8::try_from(probability)
                .map_err(|_| corrupt(T, "probability", format!("{probability} is not 0 to 255")))?,
            kind: get_parsed(row, 3, col(T, "kind"), stage_kind)?,
            guards: if guards.is_empty() {
                Vec::new()
            } else {
                guards
                    .split(',')
                    .map(|g| guard(g).map_err(|e| corrupt(T, "guards", format!("{g:?}: {e}"))))
                    .collect::<Result<_, _>>()?
            },
        });
    }
    if let Transitions::Only(_) = p.transitions {
        const TT: &str = "pipeline_transitions";
        let mut stmt = conn
            .prepare_cached(
                "SELECT from_stage, to_stage FROM pipeline_transitions \
                 WHERE pipeline_id = ? ORDER BY position",
            )
            .map_err(backend("preparing to read pipeline transitions"))?;
        let mut rows = stmt
            .query([blob(p.id.as_uuid())])
            .map_err(backend("reading pipeline transitions"))?;
        let mut edges = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(backend("reading pipeline transitions"))?
        {
            edges.push((
                get_parsed(row, 0, col(TT, "from_stage"), stage_key)?,
                get_parsed(row, 1, col(TT, "to_stage"), stage_key)?,
            ));
        }
        p.transitions = Transitions::Only(edges);
    }
    Ok(p)
}

pub(crate) fn pipeline(conn: &Connection, id: PipelineId) -> Result<Option<Pipeline>, StoreError> {
    let head = {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {PIPELINE_COLUMNS} FROM pipelines p WHERE p.id = ?"
            ))
            .map_err(backend("preparing to read a pipeline"))?;
        let mut rows = stmt
            .query([blob(id.as_uuid())])
            .map_err(backend("reading a pipeline"))?;
        match rows.next().map_err(backend("reading a pipeline"))? {
            Some(row) => decode_pipeline(row)?,
            None => return Ok(None),
        }
    };
    complete_pipeline(conn, head).map(Some)
}

pub(crate) fn pipelines(
    conn: &Connection,
    q: &PipelineQuery,
) -> Result<Page<Pipeline>, StoreError> {
    let key = match q.order {
        PipelineOrder::CreatedAt => ("p.created_at", false),
        PipelineOrder::Name => ("p.name", true),
    };
    let PipelineFilter {} = q.filter;
    // The cursor only needs the key and id, so stages are loaded after the
    // page is cut.
    let heads = list(conn, &PIPELINES, q, key, Where::default(), decode_pipeline)?;
    let page = into_page(heads, q);
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|p| complete_pipeline(conn, p))
            .collect::<Result<_, _>>()?,
        next: page.next,
    })
}

// ----- deals -----

const DEAL_COLUMNS: &str = "d.id, d.version, d.title, d.customer_id, d.pipeline_id, d.stage, \
     d.status, d.amount, d.currency, d.expected_close_date, d.owner, d.won_at, d.lost_at, \
     d.lost_reason, d.created_at, d.updated_at, d.custom";

const DEALS: Listing = Listing {
    columns: DEAL_COLUMNS,
    from: "deals d",
    id: "d.id",
    key_unique: false,
};

fn decode_deal(row: &Row<'_>) -> Result<Deal, StoreError> {
    const T: &str = "deals";
    let amount = get_opt_parsed(row, 7, col(T, "amount"), |s| s.parse::<Decimal>())?;
    let currency = get_opt_parsed(row, 8, col(T, "currency"), Currency::from_code)?;
    let amount = match (amount, currency) {
        (Some(a), Some(c)) => Some(Money::new(a, c)),
        (None, None) => None,
        _ => {
            return Err(corrupt(
                T,
                "amount",
                "amount and currency must both be set or both be NULL",
            ));
        }
    };
    Ok(Deal {
        id: DealId::from_uuid(get_uuid(row, 0, col(T, "id"))?),
        version: get_u64(row, 1, col(T, "version"))?,
        title: get_str(row, 2, col(T, "title"))?.to_owned(),
        customer: CustomerId::from_uuid(get_uuid(row, 3, col(T, "customer_id"))?),
        pipeline: PipelineId::from_uuid(get_uuid(row, 4, col(T, "pipeline_id"))?),
        stage: get_parsed(row, 5, col(T, "stage"), stage_key)?,
        status: get_parsed(row, 6, col(T, "status"), deal_status)?,
        amount,
        expected_close_date: get_date(row, 9, col(T, "expected_close_date"))?,
        owner: get_opt_user(row, 10, col(T, "owner"))?,
        history: Vec::new(),
        won_at: get_opt_time(row, 11, col(T, "won_at"))?,
        lost_at: get_opt_time(row, 12, col(T, "lost_at"))?,
        lost_reason: get_opt_str(row, 13, col(T, "lost_reason"))?.map(str::to_owned),
        created_at: get_time(row, 14, col(T, "created_at"))?,
        updated_at: get_time(row, 15, col(T, "updated_at"))?,
        custom: get_custom(row, 16, col(T, "custom"))?,
    })
}

/// A deal's stage history, oldest first.
pub(crate) fn history(conn: &Connection, id: DealId) -> Result<Vec<StageChange>, StoreError> {
    const T: &str = "deal_stage_history";
    let mut stmt = conn
        .prepare_cached(
            "SELECT from_stage, to_stage, at, by_user FROM deal_stage_history \
             WHERE deal_id = ? ORDER BY position",
        )
        .map_err(backend("preparing to read a deal's history"))?;
    let mut rows = stmt
        .query([blob(id.as_uuid())])
        .map_err(backend("reading a deal's history"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading a deal's history"))? {
        out.push(StageChange {
            from: get_opt_parsed(row, 0, col(T, "from_stage"), stage_key)?,
            to: get_parsed(row, 1, col(T, "to_stage"), stage_key)?,
            at: get_time(row, 2, col(T, "at"))?,
            by: get_actor(row, 3, col(T, "by_user"))?,
        });
    }
    Ok(out)
}

pub(crate) fn deal(conn: &Connection, id: DealId) -> Result<Option<Deal>, StoreError> {
    let found = {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {DEAL_COLUMNS} FROM deals d WHERE d.id = ?"
            ))
            .map_err(backend("preparing to read a deal"))?;
        let mut rows = stmt
            .query([blob(id.as_uuid())])
            .map_err(backend("reading a deal"))?;
        match rows.next().map_err(backend("reading a deal"))? {
            Some(row) => decode_deal(row)?,
            None => return Ok(None),
        }
    };
    let mut d = found;
    d.history = history(conn, d.id)?;
    Ok(Some(d))
}

fn deal_where(f: &DealFilter) -> Where {
    let mut w = Where::default();
    if let Some(p) = f.pipeline {
        w.push("d.pipeline_id = ?", [b(p.as_uuid())]);
    }
    if let Some(s) = &f.stage {
        w.push("d.stage = ?", [t(s.as_str())]);
    }
    if let Some(s) = f.status {
        w.push("d.status = ?", [t(deal_status_str(s))]);
    }
    if let Some(c) = f.customer {
        w.push("d.customer_id = ?", [b(c.as_uuid())]);
    }
    if let Some(o) = f.owner {
        w.push("d.owner = ?", [b(o.as_uuid())]);
    }
    w
}

pub(crate) fn deals(conn: &Connection, q: &DealQuery) -> Result<Page<Deal>, StoreError> {
    let key = match q.order {
        DealOrder::CreatedAt => ("d.created_at", false),
        DealOrder::UpdatedAt => ("d.updated_at", false),
        DealOrder::Title => ("d.title", true),
    };
    // The cursor only needs the key and id, so history is loaded after
    // the page is cut.
    let rows = list(conn, &DEALS, q, key, deal_where(&q.filter), decode_deal)?;
    let mut page = into_page(rows, q);
    for d in &mut page.items {
        d.history = history(conn, d.id)?;
    }
    Ok(page)
}

pub(crate) fn count_deals(conn: &Connection, f: &DealFilter) -> Result<u64, StoreError> {
    count(conn, "deals d", deal_where(f))
}

// ----- activities -----

const ACTIVITY_COLUMNS: &str = "a.id, a.version, a.kind, a.subject, a.body, a.customer_id, \
     a.deal_id, a.owner, a.direction, a.occurred_at, a.due_at, a.completed_at, a.created_at, \
     a.updated_at, a.custom";

const ACTIVITIES: Listing = Listing {
    columns: ACTIVITY_COLUMNS,
    from: "activities a",
    id: "a.id",
    key_unique: false,
};

fn decode_activity(row: &Row<'_>) -> Result<Activity, StoreError> {
    const T: &str = "activities";
    Ok(Activity {
        id: ActivityId::from_uuid(get_uuid(row, 0, col(T, "id"))?),
        version: get_u64(row, 1, col(T, "version"))?,
        kind: get_parsed(row, 2, col(T, "kind"), activity_kind)?,
        subject: get_str(row, 3, col(T, "subject"))?.to_owned(),
        body: get_opt_str(row, 4, col(T, "body"))?.map(str::to_owned),
        customer: get_opt_uuid(row, 5, col(T, "customer_id"))?.map(CustomerId::from_uuid),
        deal: get_opt_uuid(row, 6, col(T, "deal_id"))?.map(DealId::from_uuid),
        owner: get_opt_user(row, 7, col(T, "owner"))?,
        direction: get_opt_parsed(row, 8, col(T, "direction"), direction)?,
        occurred_at: get_time(row, 9, col(T, "occurred_at"))?,
        due_at: get_opt_time(row, 10, col(T, "due_at"))?,
        completed_at: get_opt_time(row, 11, col(T, "completed_at"))?,
        created_at: get_time(row, 12, col(T, "created_at"))?,
        updated_at: get_time(row, 13, col(T, "updated_at"))?,
        custom: get_custom(row, 14, col(T, "custom"))?,
    })
}

pub(crate) fn activity(conn: &Connection, id: ActivityId) -> Result<Option<Activity>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities a WHERE a.id = ?"
        ))
        .map_err(backend("preparing to read an activity"))?;
    let mut rows = stmt
        .query([blob(id.as_uuid())])
        .map_err(backend("reading an activity"))?;
    match rows.next().map_err(backend("reading an activity"))? {
        Some(row) => decode_activity(row).map(Some),
        None => Ok(None),
    }
}

fn activity_where(f: &ActivityFilter) -> Where {
    let mut w = Where::default();
    if let Some(c) = f.customer {
        w.push("a.customer_id = ?", [b(c.as_uuid())]);
    }
    if let Some(d) = f.deal {
        w.push("a.deal_id = ?", [b(d.as_uuid())]);
    }
    if let Some(k) = f.kind {
        w.push("a.kind = ?", [t(activity_kind_str(k))]);
    }
    if let Some(o) = f.owner {
        w.push("a.owner = ?", [b(o.as_uuid())]);
    }
    if f.open_tasks_only {
        w.push("a.kind = 'task' AND a.completed_at IS NULL", []);
    }
    if let Some(before) = f.due_before {
        // NULL < x is NULL: tasks without a due time never match.
        w.push("a.due_at < ?", [i(millis(before))]);
    }
    w
}

pub(crate) fn activities(
    conn: &Connection,
    q: &ActivityQuery,
) -> Result<Page<Activity>, StoreError> {
    let key = match q.order {
        ActivityOrder::OccurredAt => ("a.occurred_at", false),
        ActivityOrder::CreatedAt => ("a.created_at", false),
    };
    let rows = list(
        conn,
        &ACTIVITIES,
        q,
        key,
        activity_where(&q.filter),
        decode_activity,
    )?;
    Ok(into_page(rows, q))
}

// ----- events -----

const EVENT_COLUMNS: &str =
    "e.seq, e.id, e.at, e.actor, e.entity_kind, e.entity_id, e.version, e.kind, e.changes";

const EVENTS: Listing = Listing {
    columns: EVENT_COLUMNS,
    from: "events e",
    id: "e.id",
    // seq is the primary key: ties on it cannot happen.
    key_unique: true,
};

fn decode_event(row: &Row<'_>) -> Result<Event, StoreError> {
    const T: &str = "events";
    Ok(Event {
        seq: get_u64(row, 0, col(T, "seq"))?,
        id: EventId::from_uuid(get_uuid(row, 1, col(T, "id"))?),
        at: get_time(row, 2, col(T, "at"))?,
        actor: get_actor(row, 3, col(T, "actor"))?,
        entity: EntityRef {
            kind: get_parsed(row, 4, col(T, "entity_kind"), entity_kind)?,
            id: get_uuid(row, 5, col(T, "entity_id"))?,
        },
        version: get_u64(row, 6, col(T, "version"))?,
        kind: get_parsed(row, 7, col(T, "kind"), event_kind)?,
        changes: get_parsed(row, 8, col(T, "changes"), |s| {
            serde_json::from_str::<Vec<FieldChange>>(s)
        })?,
    })
}

fn event_where(f: &EventFilter) -> Where {
    let mut w = Where::default();
    if let Some(r) = f.entity {
        w.push(
            "e.entity_kind = ? AND e.entity_id = ?",
            [t(entity_kind_str(r.kind)), b(r.id)],
        );
    }
    if let Some(k) = f.entity_kind {
        w.push("e.entity_kind = ?", [t(entity_kind_str(k))]);
    }
    match f.actor {
        None => {}
        Some(Actor::System) => w.push("e.actor IS NULL", []),
        Some(Actor::User(u)) => w.push("e.actor = ?", [b(u.as_uuid())]),
    }
    if let Some(from) = f.from {
        w.push("e.at >= ?", [i(millis(from))]);
    }
    if let Some(to) = f.to {
        w.push("e.at < ?", [i(millis(to))]);
    }
    w
}

pub(crate) fn events(conn: &Connection, q: &EventQuery) -> Result<Page<Event>, StoreError> {
    let EventOrder::Seq = q.order;
    let rows = list(
        conn,
        &EVENTS,
        q,
        ("e.seq", false),
        event_where(&q.filter),
        decode_event,
    )?;
    Ok(into_page(rows, q))
}

pub(crate) fn last_event_seq(conn: &Connection) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT coalesce(max(seq), 0) FROM events")
        .map_err(backend("preparing to read the last event number"))?;
    let seq: i64 = stmt
        .query_row([], |r| r.get(0))
        .map_err(backend("reading the last event number"))?;
    Ok(from_i64(seq))
}

// ----- custom field schemas -----

pub(crate) fn field_schema(
    conn: &Connection,
    entity: EntityKind,
) -> Result<Option<crm_core::custom_field::FieldSchema>, StoreError> {
    const T: &str = "field_schemas";
    let mut stmt = conn
        .prepare_cached(
            "SELECT version, fields, created_at, updated_at FROM field_schemas WHERE entity = ?",
        )
        .map_err(backend("preparing to read a custom-field schema"))?;
    let mut rows = stmt
        .query([entity_kind_str(entity)])
        .map_err(backend("reading a custom-field schema"))?;
    let Some(row) = rows
        .next()
        .map_err(backend("reading a custom-field schema"))?
    else {
        return Ok(None);
    };
    let fields = serde_json::from_str(get_str(row, 1, col(T, "fields"))?)
        .map_err(|e| corrupt(T, "fields", e))?;
    Ok(Some(crm_core::custom_field::FieldSchema {
        entity,
        fields,
        version: get_u64(row, 0, col(T, "version"))?,
        created_at: get_time(row, 2, col(T, "created_at"))?,
        updated_at: get_time(row, 3, col(T, "updated_at"))?,
    }))
}

// ----- segments -----

const SEGMENT_COLUMNS: &str = "s.id, s.version, s.name, s.expression, s.created_at, s.updated_at";

const SEGMENTS: Listing = Listing {
    columns: SEGMENT_COLUMNS,
    from: "segments s",
    id: "s.id",
    key_unique: false,
};

fn decode_segment(row: &Row<'_>) -> Result<Segment, StoreError> {
    const T: &str = "segments";
    let json = get_str(row, 3, col(T, "expression"))?;
    let expression: Expr = serde_json::from_str(json).map_err(|e| corrupt(T, "expression", e))?;
    Ok(Segment {
        id: SegmentId::from_uuid(get_uuid(row, 0, col(T, "id"))?),
        version: get_u64(row, 1, col(T, "version"))?,
        name: get_str(row, 2, col(T, "name"))?.to_owned(),
        expression,
        created_at: get_time(row, 4, col(T, "created_at"))?,
        updated_at: get_time(row, 5, col(T, "updated_at"))?,
    })
}

pub(crate) fn segment(conn: &Connection, id: SegmentId) -> Result<Option<Segment>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {SEGMENT_COLUMNS} FROM segments s WHERE s.id = ?"
        ))
        .map_err(backend("preparing to read a segment"))?;
    let mut rows = stmt
        .query([blob(id.as_uuid())])
        .map_err(backend("reading a segment"))?;
    match rows.next().map_err(backend("reading a segment"))? {
        Some(row) => decode_segment(row).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn segments(conn: &Connection, q: &SegmentQuery) -> Result<Page<Segment>, StoreError> {
    let key = match q.order {
        SegmentOrder::CreatedAt => ("s.created_at", false),
        SegmentOrder::Name => ("s.name", true),
    };
    let mut w = Where::default();
    if let Some(n) = &q.filter.name_contains {
        w.push("instr(lower(s.name), lower(?)) > 0", [t(n)]);
    }
    let rows = list(conn, &SEGMENTS, q, key, w, decode_segment)?;
    Ok(into_page(rows, q))
}

/// Every customer, one statement.
pub(crate) fn scan_customers(
    conn: &Connection,
    visit: &mut dyn FnMut(&Customer),
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {CUSTOMER_COLUMNS} FROM customers c"))
        .map_err(backend("preparing to scan customers"))?;
    let mut rows = stmt.query([]).map_err(backend("scanning customers"))?;
    while let Some(row) = rows.next().map_err(backend("scanning customers"))? {
        visit(&decode_customer(row)?);
    }
    Ok(())
}

/// Every matching deal with its history: two statements in deal id order,
/// merged.
pub(crate) fn scan_deals(
    conn: &Connection,
    f: &DealFilter,
    visit: &mut dyn FnMut(&Deal),
) -> Result<(), StoreError> {
    const T: &str = "deal_stage_history";
    let w = deal_where(f);
    let mut deals = conn
        .prepare_cached(&format!(
            "SELECT {DEAL_COLUMNS} FROM deals d{} ORDER BY d.id",
            w.sql()
        ))
        .map_err(backend("preparing to scan deals"))?;
    let mut hist = conn
        .prepare_cached(&format!(
            "SELECT h.deal_id, h.from_stage, h.to_stage, h.at, h.by_user \
             FROM deal_stage_history h JOIN deals d ON d.id = h.deal_id{} \
             ORDER BY h.deal_id, h.position",
            w.sql()
        ))
        .map_err(backend("preparing to scan deal histories"))?;
    let mut drows = deals
        .query(params_from_iter(w.params.iter()))
        .map_err(backend("scanning deals"))?;
    let mut hrows = hist
        .query(params_from_iter(w.params.iter()))
        .map_err(backend("scanning deal histories"))?;
    let mut pending: Option<(Uuid, StageChange)> = None;
    let next_change =
        |hrows: &mut rusqlite::Rows<'_>| -> Result<Option<(Uuid, StageChange)>, StoreError> {
            match hrows.next().map_err(backend("scanning deal histories"))? {
                None => Ok(None),
                Some(row) => Ok(Some((
                    get_uuid(row, 0, col(T, "deal_id"))?,
                    StageChange {
                        from: get_opt_parsed(row, 1, col(T, "from_stage"), stage_key)?,
                        to: get_parsed(row, 2, col(T, "to_stage"), stage_key)?,
                        at: get_time(row, 3, col(T, "at"))?,
                        by: get_actor(row, 4, col(T, "by_user"))?,
                    },
                ))),
            }
        };
    while let Some(row) = drows.next().map_err(backend("scanning deals"))? {
        let mut d = decode_deal(row)?;
        let id = d.id.as_uuid();
        loop {
            if pending.is_none() {
                pending = next_change(&mut hrows)?;
            }
            match pending.take() {
                Some((deal, change)) if deal == id => d.history.push(change),
                // A history row of no listed deal cannot occur (same
                // filter, same order, one snapshot); skip it if it does.
                Some((deal, _)) if deal < id => {}
                other => {
                    pending = other;
                    break;
                }
            }
        }
        visit(&d);
    }
    Ok(())
}

/// Every matching activity, one statement.
pub(crate) fn scan_activities(
    conn: &Connection,
    f: &ActivityFilter,
    visit: &mut dyn FnMut(&Activity),
) -> Result<(), StoreError> {
    let w = activity_where(f);
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ACTIVITY_COLUMNS} FROM activities a{}",
            w.sql()
        ))
        .map_err(backend("preparing to scan activities"))?;
    let mut rows = stmt
        .query(params_from_iter(w.params.iter()))
        .map_err(backend("scanning activities"))?;
    while let Some(row) = rows.next().map_err(backend("scanning activities"))? {
        visit(&decode_activity(row)?);
    }
    Ok(())
}
