//! Reads: point lookups and listings pushed down to SQL.
//!
//! A listing is one statement: the filter becomes a `WHERE` clause, the
//! order `ORDER BY key, id` (both descending for [`SortDirection::Desc`]),
//! the cursor a row-value comparison `(key, id) > (?, ?)` (or `<`), and the
//! page `LIMIT limit + 1`, the extra row telling whether a next page
//! exists. This reproduces [`crm_core::query::paginate`] exactly: text keys
//! compare with the BINARY collation (UTF-8 byte order, like `String`), ids
//! are UUID blobs (byte order, like `Uuid`).

use std::collections::{BTreeSet, HashMap};

use crm_core::query::{
    ActivityFilter, ActivityOrder, CustomerOrder, DealOrder, EventFilter, EventOrder, Order,
    PipelineFilter, PipelineOrder, Record, SortValue, TeamFilter, TeamOrder, UserFilter, UserOrder,
};
use crm_core::segment::{Expr, SegmentOrder};
use crm_core::{
    AccessRole, Activity, ActivityId, ActivityQuery, Actor, Currency, Customer, CustomerFilter,
    CustomerId, CustomerQuery, Deal, DealFilter, DealId, DealQuery, Email, EntityKind, EntityRef,
    Event, EventId, EventQuery, FieldChange, Money, Page, Phone, Pipeline, PipelineId,
    PipelineQuery, Query, Segment, SegmentId, SegmentQuery, SortDirection, Stage, StageChange,
    StageKey, StoreError, Tag, Team, TeamId, TeamQuery, Transitions, User, UserId, UserQuery,
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

/// An owner restriction: `column IN (ids)` (`None`: no restriction).
type Owners<'a> = Option<(&'static str, &'a [UserId])>;

/// Up to this many owners, a scoped listing runs as one index range per
/// owner merged by SQLite; above it, as a plain `owner IN (…)`.
const OWNER_MERGE_MAX: usize = 64;

/// `column IN (?, ?, …)` with the ids as parameters; `0` for no id.
pub(crate) fn push_in(w: &mut Where, column: &str, ids: impl ExactSizeIterator<Item = Uuid>) {
    if ids.len() == 0 {
        w.push("0", []);
        return;
    }
    let marks = vec!["?"; ids.len()].join(", ");
    w.push(&format!("{column} IN ({marks})"), ids.map(b));
}

/// Runs a listing and returns the page, `next` cursor included.
///
/// With `owners`, only rows whose owner column is one of the ids are
/// listed. For a few owners (a sales rep's team) the statement walks the
/// `(owner, key, id)` index once per owner, each walk stopping after
/// `limit + 1` rows, and merges the walks: the cost grows with the page
/// size and the number of owners, not with the number of rows out of
/// scope, so a scoped listing costs about what an unscoped one does.
#[allow(clippy::too_many_arguments)]
fn list<T, F, O>(
    conn: &Connection,
    listing: &Listing,
    q: &Query<F, O>,
    (key, key_is_text): (&'static str, bool),
    mut filter: Where,
    owners: Owners<'_>,
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
    let limit = i64::from(q.page.limit.max(1)) + 1;
    let sql = match owners {
        None => None,
        Some((_, [])) => return Ok(Vec::new()),
        Some((column, [one])) => {
            filter.push(&format!("{column} = ?"), [b(one.as_uuid())]);
            None
        }
        Some((column, many)) if many.len() <= OWNER_MERGE_MAX => {
            // One walk of the `(owner, key, id)` index per owner, reading
            // only (key, id) and merged as it goes, so about `limit` index
            // entries are read in all; then the page's rows by id.
            let ids = page_ids(
                conn, listing, &filter, key, &order, column, many, limit, desc,
            )?;
            return fetch_in_order(conn, listing, &ids, decode);
        }
        Some((column, many)) => {
            push_in(&mut filter, column, many.iter().map(|u| u.as_uuid()));
            None
        }
    };
    let sql = match sql {
        Some(sql) => sql,
        None => {
            let sql = format!(
                "SELECT {} FROM {}{} ORDER BY {order} LIMIT ?",
                listing.columns,
                listing.from,
                filter.sql()
            );
            filter.params.push(i(limit));
            sql
        }
    };
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

/// One owner's walk: the keys and ids of the first rows of one owner, in
/// order. With the `(owner, key, id)` indexes this reads the index only.
fn owner_walk_sql(
    listing: &Listing,
    filter: &Where,
    key: &str,
    order: &str,
    column: &str,
) -> String {
    let base = filter.sql();
    let joiner = if base.is_empty() { " WHERE " } else { " AND " };
    format!(
        "SELECT {key}, {} FROM {}{base}{joiner}{column} = ? ORDER BY {order} LIMIT ?",
        listing.id, listing.from
    )
}

/// The ids of the first `limit` rows matching `filter` whose `column` is
/// one of `owners`, in the listing's order: a k-way merge of one index
/// walk per owner, each stepped only as far as the merge needs.
#[allow(clippy::too_many_arguments)]
fn page_ids(
    conn: &Connection,
    listing: &Listing,
    filter: &Where,
    key: &str,
    order: &str,
    column: &str,
    owners: &[UserId],
    limit: i64,
    desc: bool,
) -> Result<Vec<Uuid>, StoreError> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        Int(i64),
        Text(String),
    }
    fn head(
        rows: &mut rusqlite::Rows<'_>,
        table: &'static str,
    ) -> Result<Option<(Key, Uuid)>, StoreError> {
        let Some(row) = rows
            .next()
            .map_err(backend("reading a scoped listing row"))?
        else {
            return Ok(None);
        };
        let k = match row.get_ref(0).map_err(backend("reading a sort key"))? {
            rusqlite::types::ValueRef::Integer(v) => Key::Int(v),
            rusqlite::types::ValueRef::Text(t) => {
                Key::Text(String::from_utf8_lossy(t).into_owned())
            }
            _ => return Err(corrupt(table, "sort key", "neither integer nor text")),
        };
        Ok(Some((k, get_uuid(row, 1, col(table, "id"))?)))
    }
    let sql = owner_walk_sql(listing, filter, key, order, column);
    let mut stmts = Vec::with_capacity(owners.len());
    for n in 0..owners.len() {
        // The walks run side by side, so each needs its own statement; a
        // distinct text per position keeps each one in the statement cache
        // (the cache holds one statement per text).
        stmts.push(
            conn.prepare_cached(&format!("{sql} -- walk {n}"))
                .map_err(backend("preparing a scoped listing query"))?,
        );
    }
    let mut walks = Vec::with_capacity(owners.len());
    for (stmt, owner) in stmts.iter_mut().zip(owners) {
        let mut params = filter.params.clone();
        params.push(b(owner.as_uuid()));
        params.push(i(limit));
        walks.push(
            stmt.query(params_from_iter(params))
                .map_err(backend("running a scoped listing query"))?,
        );
    }
    let mut heads = Vec::with_capacity(walks.len());
    for w in &mut walks {
        heads.push(head(w, listing.from)?);
    }
    let want = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(want.min(1024));
    while out.len() < want {
        let mut best: Option<usize> = None;
        for (n, h) in heads.iter().enumerate() {
            let Some(h) = h else { continue };
            let better = match best.and_then(|b| heads[b].as_ref()) {
                None => true,
                Some(cur) => {
                    if desc {
                        h > cur
                    } else {
                        h < cur
                    }
                }
            };
            if better {
                best = Some(n);
            }
        }
        let Some(n) = best else { break };
        let next = head(&mut walks[n], listing.from)?;
        if let Some((_, id)) = std::mem::replace(&mut heads[n], next) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The rows with `ids`, in the order of `ids`.
fn fetch_in_order<T: Record>(
    conn: &Connection,
    listing: &Listing,
    ids: &[Uuid],
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut w = Where::default();
    push_in(&mut w, listing.id, ids.iter().copied());
    let sql = format!(
        "SELECT {} FROM {}{}",
        listing.columns,
        listing.from,
        w.sql()
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(backend("preparing to read a page by id"))?;
    let mut rows = stmt
        .query(params_from_iter(w.params.iter()))
        .map_err(backend("reading a page by id"))?;
    let mut out = Vec::with_capacity(ids.len());
    while let Some(row) = rows.next().map_err(backend("reading a page by id"))? {
        out.push(decode(row)?);
    }
    let position: HashMap<Uuid, usize> = ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
    out.sort_unstable_by_key(|item| position.get(&item.uuid()).copied().unwrap_or(usize::MAX));
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

fn owners_of<'a>(column: &'static str, ids: &'a Option<Vec<UserId>>) -> Owners<'a> {
    ids.as_deref().map(|ids| (column, ids))
}

/// `w` with the owner restriction as a plain `IN` (for counts).
fn with_owners(mut w: Where, owners: Owners<'_>) -> Where {
    if let Some((column, ids)) = owners {
        push_in(&mut w, column, ids.iter().map(|u| u.as_uuid()));
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
        owners_of("c.owner", &q.filter.owner_in),
        decode_customer,
    )?;
    Ok(into_page(rows, q))
}

pub(crate) fn count_customers(conn: &Connection, f: &CustomerFilter) -> Result<u64, StoreError> {
    let w = with_owners(customer_where(f), owners_of("c.owner", &f.owner_in));
    count(conn, "customers c", w)
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
    let heads = list(
        conn,
        &PIPELINES,
        q,
        key,
        Where::default(),
        None,
        decode_pipeline,
    )?;
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
    match f.amount_set {
        None => {}
        Some(true) => w.push("d.amount IS NOT NULL", []),
        Some(false) => w.push("d.amount IS NULL", []),
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
    let rows = list(
        conn,
        &DEALS,
        q,
        key,
        deal_where(&q.filter),
        owners_of("d.owner", &q.filter.owner_in),
        decode_deal,
    )?;
    let mut page = into_page(rows, q);
    for d in &mut page.items {
        d.history = history(conn, d.id)?;
    }
    Ok(page)
}

pub(crate) fn count_deals(conn: &Connection, f: &DealFilter) -> Result<u64, StoreError> {
    let w = with_owners(deal_where(f), owners_of("d.owner", &f.owner_in));
    count(conn, "deals d", w)
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
        owners_of("a.owner", &q.filter.owner_in),
        decode_activity,
    )?;
    Ok(into_page(rows, q))
}

// ----- events -----

pub(crate) const EVENT_COLUMNS: &str =
    "e.seq, e.id, e.at, e.actor, e.entity_kind, e.entity_id, e.version, e.kind, e.changes";

const EVENTS: Listing = Listing {
    columns: EVENT_COLUMNS,
    from: "events e",
    id: "e.id",
    // seq is the primary key: ties on it cannot happen.
    key_unique: true,
};

pub(crate) fn decode_event(row: &Row<'_>) -> Result<Event, StoreError> {
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
        owners_of("e.actor", &q.filter.actor_in),
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

const SEGMENT_COLUMNS: &str =
    "s.id, s.version, s.name, s.expression, s.created_at, s.updated_at, s.owner";

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
        owner: get_opt_user(row, 6, col(T, "owner"))?,
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
    let rows = list(
        conn,
        &SEGMENTS,
        q,
        key,
        w,
        owners_of("s.owner", &q.filter.owner_in),
        decode_segment,
    )?;
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
    let w = with_owners(deal_where(f), owners_of("d.owner", &f.owner_in));
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
    let w = with_owners(activity_where(f), owners_of("a.owner", &f.owner_in));
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

// ----- users and teams -----

const USER_COLUMNS: &str = "u.id, u.version, u.name, u.email, u.active, u.created_at, \
     u.updated_at, \
     (SELECT group_concat(role, char(10)) FROM user_roles WHERE user_id = u.id), \
     (SELECT group_concat(hex(team_id), char(10)) FROM user_teams WHERE user_id = u.id)";

const USERS: Listing = Listing {
    columns: USER_COLUMNS,
    from: "users u",
    id: "u.id",
    key_unique: false,
};

fn decode_user(row: &Row<'_>) -> Result<User, StoreError> {
    const T: &str = "users";
    let active = get_i64(row, 4, col(T, "active"))?;
    Ok(User {
        id: UserId::from_uuid(get_uuid(row, 0, col(T, "id"))?),
        version: get_u64(row, 1, col(T, "version"))?,
        name: get_str(row, 2, col(T, "name"))?.to_owned(),
        email: get_parsed(row, 3, col(T, "email"), Email::parse)?,
        active: active != 0,
        created_at: get_time(row, 5, col(T, "created_at"))?,
        updated_at: get_time(row, 6, col(T, "updated_at"))?,
        roles: split_list(
            get_opt_str(row, 7, col(T, "roles"))?,
            col("user_roles", "role"),
            access_role,
        )?
        .into_iter()
        .collect::<BTreeSet<AccessRole>>(),
        teams: split_list(
            get_opt_str(row, 8, col(T, "teams"))?,
            col("user_teams", "team_id"),
            |h| Uuid::try_parse(h).map(TeamId::from_uuid),
        )?
        .into_iter()
        .collect::<BTreeSet<TeamId>>(),
    })
}

pub(crate) fn user(conn: &Connection, id: UserId) -> Result<Option<User>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?"
        ))
        .map_err(backend("preparing to read a user"))?;
    let mut rows = stmt
        .query([blob(id.as_uuid())])
        .map_err(backend("reading a user"))?;
    match rows.next().map_err(backend("reading a user"))? {
        Some(row) => decode_user(row).map(Some),
        None => Ok(None),
    }
}

fn user_where(f: &UserFilter) -> Where {
    let mut w = Where::default();
    if let Some(a) = f.active {
        w.push("u.active = ?", [i(i64::from(a))]);
    }
    if let Some(team) = f.team {
        w.push(
            "u.id IN (SELECT user_id FROM user_teams WHERE team_id = ?)",
            [b(team.as_uuid())],
        );
    }
    if let Some(ids) = &f.id_in {
        push_in(&mut w, "u.id", ids.iter().map(|u| u.as_uuid()));
    }
    w
}

pub(crate) fn users(conn: &Connection, q: &UserQuery) -> Result<Page<User>, StoreError> {
    let key = match q.order {
        UserOrder::CreatedAt => ("u.created_at", false),
        UserOrder::Name => ("u.name", true),
    };
    let rows = list(
        conn,
        &USERS,
        q,
        key,
        user_where(&q.filter),
        None,
        decode_user,
    )?;
    Ok(into_page(rows, q))
}

const TEAM_COLUMNS: &str = "t.id, t.version, t.name, t.manager, t.created_at, t.updated_at";

const TEAMS: Listing = Listing {
    columns: TEAM_COLUMNS,
    from: "teams t",
    id: "t.id",
    key_unique: false,
};

fn decode_team(row: &Row<'_>) -> Result<Team, StoreError> {
    const T: &str = "teams";
    Ok(Team {
        id: TeamId::from_uuid(get_uuid(row, 0, col(T, "id"))?),
        version: get_u64(row, 1, col(T, "version"))?,
        name: get_str(row, 2, col(T, "name"))?.to_owned(),
        manager: get_opt_user(row, 3, col(T, "manager"))?,
        created_at: get_time(row, 4, col(T, "created_at"))?,
        updated_at: get_time(row, 5, col(T, "updated_at"))?,
    })
}

pub(crate) fn team(conn: &Connection, id: TeamId) -> Result<Option<Team>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams t WHERE t.id = ?"
        ))
        .map_err(backend("preparing to read a team"))?;
    let mut rows = stmt
        .query([blob(id.as_uuid())])
        .map_err(backend("reading a team"))?;
    match rows.next().map_err(backend("reading a team"))? {
        Some(row) => decode_team(row).map(Some),
        None => Ok(None),
    }
}

fn team_where(f: &TeamFilter) -> Where {
    let mut w = Where::default();
    if let Some(m) = f.manager {
        w.push("t.manager = ?", [b(m.as_uuid())]);
    }
    if let Some(ids) = &f.id_in {
        push_in(&mut w, "t.id", ids.iter().map(|t| t.as_uuid()));
    }
    w
}

pub(crate) fn team_members(conn: &Connection, teams: &[TeamId]) -> Result<Vec<UserId>, StoreError> {
    if teams.is_empty() {
        return Ok(Vec::new());
    }
    let mut w = Where::default();
    push_in(&mut w, "team_id", teams.iter().map(|t| t.as_uuid()));
    let sql = format!(
        "SELECT DISTINCT user_id FROM user_teams{} ORDER BY user_id",
        w.sql()
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(backend("preparing to read team members"))?;
    let mut rows = stmt
        .query(params_from_iter(w.params.iter()))
        .map_err(backend("reading team members"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading team members"))? {
        out.push(UserId::from_uuid(get_uuid(
            row,
            0,
            col("user_teams", "user_id"),
        )?));
    }
    Ok(out)
}

pub(crate) fn teams(conn: &Connection, q: &TeamQuery) -> Result<Page<Team>, StoreError> {
    let key = match q.order {
        TeamOrder::CreatedAt => ("t.created_at", false),
        TeamOrder::Name => ("t.name", true),
    };
    let rows = list(
        conn,
        &TEAMS,
        q,
        key,
        team_where(&q.filter),
        None,
        decode_team,
    )?;
    Ok(into_page(rows, q))
}

#[cfg(test)]
mod tests {
    //! The scoped listings use the owner indexes: no walk over rows out of
    //! scope and no sort, whatever the order, direction or cursor.
    use super::*;

    fn plan(conn: &Connection, sql: &str, params: &[Value]) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn owner_walks_read_one_index_range_without_sorting() {
        let conn = Connection::open_in_memory().unwrap();
        for sql in crate::schema::MIGRATIONS {
            conn.execute_batch(sql).unwrap();
        }
        let cases: [(&Listing, &str, &str, &str); 6] = [
            (&DEALS, "d.created_at", "d.owner", "deals_by_owner_created"),
            (&DEALS, "d.updated_at", "d.owner", "deals_by_owner_updated"),
            (&DEALS, "d.title", "d.owner", "deals_by_owner_title"),
            (&CUSTOMERS, "c.name", "c.owner", "customers_by_owner_name"),
            (
                &ACTIVITIES,
                "a.occurred_at",
                "a.owner",
                "activities_by_owner_occurred",
            ),
            (&EVENTS, "e.seq", "e.actor", "events_by_actor"),
        ];
        for (listing, key, column, index) in cases {
            for desc in [false, true] {
                let dir = if desc { "DESC" } else { "ASC" };
                let order = if listing.key_unique {
                    format!("{key} {dir}")
                } else {
                    format!("{key} {dir}, {} {dir}", listing.id)
                };
                let mut filter = Where::default();
                push_cursor(&mut filter, key, listing, desc, i(5), Uuid::nil());
                let sql = owner_walk_sql(listing, &filter, key, &order, column);
                let mut params = filter.params.clone();
                params.extend([b(Uuid::nil()), i(51)]);
                let p = plan(&conn, &sql, &params);
                assert!(
                    p.contains(&format!(
                        "COVERING INDEX {index} ({}=?",
                        column.split('.').nth(1).unwrap()
                    )),
                    "{key} {dir}: {p}"
                );
                assert!(!p.contains("TEMP B-TREE"), "{key} {dir} sorts: {p}");
            }
        }
        // A scoped count is an index range per owner, never a table scan.
        let mut w = Where::default();
        push_in(&mut w, "d.owner", [Uuid::nil(), Uuid::max()].into_iter());
        let p = plan(
            &conn,
            &format!("SELECT count(*) FROM deals d{}", w.sql()),
            &w.params,
        );
        assert!(p.contains("COVERING INDEX deals_by_owner_"), "count: {p}");
    }
}
