//! The change feed: events read after a sequence number, and the
//! consumers' checkpoints (table `feed_consumers`, schema V9), each
//! consumer kept as its serde JSON form beside its name and checkpoint.

use crm_core::feed::{FeedConsumer, FeedFilter};
use crm_core::{EntityKind, Event, StoreError, UserId};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::codec::*;
use crate::read::{EVENT_COLUMNS, decode_event};

pub(crate) fn events_after(
    conn: &Connection,
    after: u64,
    filter: &FeedFilter,
    actors: Option<&[UserId]>,
    limit: u32,
) -> Result<Vec<Event>, StoreError> {
    if actors.is_some_and(<[UserId]>::is_empty) {
        return Ok(Vec::new());
    }
    let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events e WHERE e.seq > ?");
    let mut args: Vec<Value> = vec![Value::Integer(to_i64(after))];
    let mut list = |column: &str, names: Vec<&'static str>, sql: &mut String| {
        if names.is_empty() {
            return;
        }
        let marks = vec!["?"; names.len()].join(", ");
        sql.push_str(&format!(" AND {column} IN ({marks})"));
        args.extend(names.into_iter().map(|n| Value::Text(n.to_owned())));
    };
    list(
        "e.entity_kind",
        filter
            .entity_kinds
            .iter()
            .map(|k| entity_kind_str(*k))
            .collect(),
        &mut sql,
    );
    list(
        "e.kind",
        filter
            .event_kinds
            .iter()
            .map(|k| event_kind_str(*k))
            .collect(),
        &mut sql,
    );
    if let Some(ids) = actors {
        let marks = vec!["?"; ids.len()].join(", ");
        sql.push_str(&format!(" AND e.actor IN ({marks})"));
        args.extend(
            ids.iter()
                .map(|u| Value::Blob(u.as_uuid().as_bytes().to_vec())),
        );
    }
    sql.push_str(" ORDER BY e.seq LIMIT ?");
    args.push(Value::Integer(i64::from(limit)));
    let mut st = conn
        .prepare_cached(&sql)
        .map_err(backend("preparing to read the change feed"))?;
    let mut rows = st
        .query(params_from_iter(args))
        .map_err(backend("reading the change feed"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading the change feed"))? {
        out.push(decode_event(row)?);
    }
    Ok(out)
}

fn decode(body: &str, checkpoint: i64) -> Result<FeedConsumer, StoreError> {
    let mut c: FeedConsumer =
        serde_json::from_str(body).map_err(|err| corrupt("feed_consumers", "body", err))?;
    // The column is what the store maintains; the body's copy follows it.
    c.checkpoint = from_i64(checkpoint);
    Ok(c)
}

pub(crate) fn feed_consumer(
    conn: &Connection,
    name: &str,
) -> Result<Option<FeedConsumer>, StoreError> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT body, checkpoint FROM feed_consumers WHERE name = ?")
        .and_then(|mut st| {
            st.query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend("reading a feed consumer"))?;
    row.map(|(b, c)| decode(&b, c)).transpose()
}

pub(crate) fn feed_consumers(conn: &Connection) -> Result<Vec<FeedConsumer>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT body, checkpoint FROM feed_consumers ORDER BY name")
        .map_err(backend("reading feed consumers"))?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(backend("reading feed consumers"))?;
    let mut out = Vec::new();
    for row in rows {
        let (b, c) = row.map_err(backend("reading feed consumers"))?;
        out.push(decode(&b, c)?);
    }
    Ok(out)
}

fn body(c: &FeedConsumer) -> Result<String, StoreError> {
    serde_json::to_string(c).map_err(|err| StoreError::backend("encoding a feed consumer", err))
}

pub(crate) fn insert_feed_consumer(conn: &Connection, c: &FeedConsumer) -> Result<(), StoreError> {
    let body = body(c)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO feed_consumers (name, id, checkpoint, body) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .and_then(|mut st| st.execute(params![c.name, blob(c.id), to_i64(c.checkpoint), body]))
        .map_err(backend("inserting a feed consumer"))?;
    if n == 0 {
        return Err(StoreError::AlreadyExists {
            entity: EntityKind::FeedConsumer,
            id: c.name.clone(),
        });
    }
    Ok(())
}

pub(crate) fn update_feed_consumer(conn: &Connection, c: &FeedConsumer) -> Result<(), StoreError> {
    let body = body(c)?;
    let n = conn
        .prepare_cached("UPDATE feed_consumers SET checkpoint = ?, body = ? WHERE name = ?")
        .and_then(|mut st| st.execute(params![to_i64(c.checkpoint), body, c.name]))
        .map_err(backend("updating a feed consumer"))?;
    if n == 0 {
        return Err(StoreError::Missing {
            entity: EntityKind::FeedConsumer,
            id: c.name.clone(),
        });
    }
    Ok(())
}

pub(crate) fn delete_feed_consumer(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM feed_consumers WHERE name = ?")
        .and_then(|mut st| st.execute([name]))
        .map_err(backend("deleting a feed consumer"))?;
    if n == 0 {
        return Err(StoreError::Missing {
            entity: EntityKind::FeedConsumer,
            id: name.to_owned(),
        });
    }
    Ok(())
}
