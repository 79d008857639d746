//! Writes: inserts, compare-and-set updates and event appends.
//!
//! An insert is `INSERT … ON CONFLICT (id) DO NOTHING`; no row changed
//! means the id is taken. An update is `UPDATE … WHERE id = ? AND version
//! = ?` with the previous version; no row changed means a conflict (or a
//! missing record), decided by one more lookup. Child rows (contact points,
//! tags, stages, transitions) are replaced; a deal's stage history, which
//! the engine only ever appends to, is compared with the stored one and
//! only the differing tail is rewritten.

use crm_core::{
    Activity, Customer, Deal, EntityKind, Event, NewEvent, Pipeline, Segment, SegmentId,
    StageChange, StoreError, Team, Transitions, User,
};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::codec::*;

pub(crate) fn already_exists(entity: EntityKind, id: Uuid) -> StoreError {
    StoreError::AlreadyExists {
        entity,
        id: id.to_string(),
    }
}

/// After a compare-and-set touched no row: why not.
pub(crate) fn cas_failure(
    conn: &Connection,
    table_sql: &'static str,
    entity: EntityKind,
    id: Uuid,
    version: u64,
) -> StoreError {
    let stored: Result<Option<i64>, rusqlite::Error> =
        conn.prepare_cached(table_sql).and_then(|mut s| {
            let mut rows = s.query([blob(id)])?;
            Ok(match rows.next()? {
                Some(r) => Some(r.get(0)?),
                None => None,
            })
        });
    match stored {
        Err(e) => StoreError::backend("checking the stored version after a failed update", e),
        Ok(None) => StoreError::Missing {
            entity,
            id: id.to_string(),
        },
        Ok(Some(v)) => StoreError::VersionConflict {
            entity,
            id: id.to_string(),
            expected: version.wrapping_sub(1),
            actual: from_i64(v),
        },
    }
}

// ----- customers -----

pub(crate) fn insert_customer(conn: &Connection, c: &Customer) -> Result<(), StoreError> {
    let custom = custom_json(&c.custom)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO customers (id, version, kind, name, organisation, roles, lifecycle, \
             owner, created_at, updated_at, merged_into, custom) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                blob(c.id.as_uuid()),
                to_i64(c.version),
                party_kind_str(c.kind),
                c.name,
                opt_blob(c.organisation.map(|o| o.as_uuid())),
                roles_bits(&c.roles),
                lifecycle_str(c.lifecycle),
                opt_blob(c.owner.map(|o| o.as_uuid())),
                millis(c.created_at),
                millis(c.updated_at),
                opt_blob(c.merged_into.map(|o| o.as_uuid())),
                custom,
            ])
        })
        .map_err(backend("inserting a customer"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::Customer, c.id.as_uuid()));
    }
    insert_customer_children(conn, c)
}

fn insert_customer_children(conn: &Connection, c: &Customer) -> Result<(), StoreError> {
    let id = blob(c.id.as_uuid());
    if !c.emails.is_empty() {
        let mut s = conn
            .prepare_cached(
                "INSERT INTO customer_emails (customer_id, position, email) VALUES (?, ?, ?)",
            )
            .map_err(backend("preparing to store e-mail addresses"))?;
        for (pos, e) in c.emails.iter().enumerate() {
            s.execute(params![id, pos as i64, e.as_str()])
                .map_err(backend("storing an e-mail address"))?;
        }
    }
    if !c.phones.is_empty() {
        let mut s = conn
            .prepare_cached(
                "INSERT INTO customer_phones (customer_id, position, phone) VALUES (?, ?, ?)",
            )
            .map_err(backend("preparing to store phone numbers"))?;
        for (pos, p) in c.phones.iter().enumerate() {
            s.execute(params![id, pos as i64, p.as_str()])
                .map_err(backend("storing a phone number"))?;
        }
    }
    if !c.tags.is_empty() {
        let mut s = conn
            .prepare_cached("INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?)")
            .map_err(backend("preparing to store tags"))?;
        for t in &c.tags {
            s.execute(params![id, t.as_str()])
                .map_err(backend("storing a tag"))?;
        }
    }
    Ok(())
}

pub(crate) fn update_customer(conn: &Connection, c: &Customer) -> Result<(), StoreError> {
    let custom = custom_json(&c.custom)?;
    let n = conn
        .prepare_cached(
            "UPDATE customers SET version = ?, kind = ?, name = ?, organisation = ?, roles = ?, \
             lifecycle = ?, owner = ?, created_at = ?, updated_at = ?, merged_into = ?, \
             custom = ? WHERE id = ? AND version = ?",
        )
        .and_then(|mut s| {
            s.execute(params![
                to_i64(c.version),
                party_kind_str(c.kind),
                c.name,
                opt_blob(c.organisation.map(|o| o.as_uuid())),
                roles_bits(&c.roles),
                lifecycle_str(c.lifecycle),
                opt_blob(c.owner.map(|o| o.as_uuid())),
                millis(c.created_at),
                millis(c.updated_at),
                opt_blob(c.merged_into.map(|o| o.as_uuid())),
                custom,
                blob(c.id.as_uuid()),
                to_i64(c.version.wrapping_sub(1)),
            ])
        })
        .map_err(backend("updating a customer"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM customers WHERE id = ?",
            EntityKind::Customer,
            c.id.as_uuid(),
            c.version,
        ));
    }
    let id = blob(c.id.as_uuid());
    for sql in [
        "DELETE FROM customer_emails WHERE customer_id = ?",
        "DELETE FROM customer_phones WHERE customer_id = ?",
        "DELETE FROM customer_tags WHERE customer_id = ?",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([id]))
            .map_err(backend("replacing a customer's contact points and tags"))?;
    }
    insert_customer_children(conn, c)
}

// ----- pipelines -----

fn transitions_mode(t: &Transitions) -> &'static str {
    match t {
        Transitions::Any => "any",
        Transitions::Only(_) => "only",
    }
}

pub(crate) fn insert_pipeline(conn: &Connection, p: &Pipeline) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO pipelines (id, version, name, transitions, allow_reopen, created_at, \
             updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                blob(p.id.as_uuid()),
                to_i64(p.version),
                p.name,
                transitions_mode(&p.transitions),
                p.allow_reopen,
                millis(p.created_at),
                millis(p.updated_at),
            ])
        })
        .map_err(backend("inserting a pipeline"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::Pipeline, p.id.as_uuid()));
    }
    insert_pipeline_children(conn, p)
}

fn insert_pipeline_children(conn: &Connection, p: &Pipeline) -> Result<(), StoreError> {
    let id = blob(p.id.as_uuid());
    let mut s = conn
        .prepare_cached(
            "INSERT INTO pipeline_stages (pipeline_id, position, key, name, probability, kind, \
             guards) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .map_err(backend("preparing to store pipeline stages"))?;
    for (pos, st) in p.stages.iter().enumerate() {
        let guards: Vec<&str> = st.guards.iter().map(|g| guard_str(*g)).collect();
        s.execute(params![
            id,
            pos as i64,
            st.key.as_str(),
            st.name,
            i64::from(st.probability),
            stage_kind_str(st.kind),
            guards.join(","),
        ])
        .map_err(backend("storing a pipeline stage"))?;
    }
    if let Transitions::Only(edges) = &p.transitions {
        let mut s = conn
            .prepare_cached(
                "INSERT INTO pipeline_transitions (pipeline_id, position, from_stage, to_stage) \
                 VALUES (?, ?, ?, ?)",
            )
            .map_err(backend("preparing to store pipeline transitions"))?;
        for (pos, (from, to)) in edges.iter().enumerate() {
            s.execute(params![id, pos as i64, from.as_str(), to.as_str()])
                .map_err(backend("storing a pipeline transition"))?;
        }
    }
    Ok(())
}

pub(crate) fn update_pipeline(conn: &Connection, p: &Pipeline) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE pipelines SET version = ?, name = ?, transitions = ?, allow_reopen = ?, \
             created_at = ?, updated_at = ? WHERE id = ? AND version = ?",
        )
        .and_then(|mut s| {
            s.execute(params![
                to_i64(p.version),
                p.name,
                transitions_mode(&p.transitions),
                p.allow_reopen,
                millis(p.created_at),
                millis(p.updated_at),
                blob(p.id.as_uuid()),
                to_i64(p.version.wrapping_sub(1)),
            ])
        })
        .map_err(backend("updating a pipeline"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM pipelines WHERE id = ?",
            EntityKind::Pipeline,
            p.id.as_uuid(),
            p.version,
        ));
    }
    let id = blob(p.id.as_uuid());
    for sql in [
        "DELETE FROM pipeline_stages WHERE pipeline_id = ?",
        "DELETE FROM pipeline_transitions WHERE pipeline_id = ?",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([id]))
            .map_err(backend("replacing a pipeline's stages"))?;
    }
    insert_pipeline_children(conn, p)
}

// ----- deals -----

/// The deal's columns in `deals` order, without `id`.
macro_rules! deal_params {
    ($d:ident, $($extra:expr),*) => {
        params![
            to_i64($d.version),
            $d.title,
            blob($d.customer.as_uuid()),
            blob($d.pipeline.as_uuid()),
            $d.stage.as_str(),
            deal_status_str($d.status),
            $d.amount.map(|m| m.amount.to_string()),
            $d.amount.map(|m| m.currency.code().to_owned()),
            $d.expected_close_date.map(|x| x.format("%Y-%m-%d").to_string()),
            opt_blob($d.owner.map(|o| o.as_uuid())),
            opt_millis($d.won_at),
            opt_millis($d.lost_at),
            $d.lost_reason,
            millis($d.created_at),
            millis($d.updated_at),
            $($extra),*
        ]
    };
}

pub(crate) fn insert_deal(conn: &Connection, d: &Deal) -> Result<(), StoreError> {
    let custom = custom_json(&d.custom)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO deals (version, title, customer_id, pipeline_id, stage, status, amount, \
             currency, expected_close_date, owner, won_at, lost_at, lost_reason, created_at, \
             updated_at, custom, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| s.execute(deal_params!(d, custom, blob(d.id.as_uuid()))))
        .map_err(backend("inserting a deal"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::Deal, d.id.as_uuid()));
    }
    insert_history(conn, d, 0)
}

fn insert_history(conn: &Connection, d: &Deal, from: usize) -> Result<(), StoreError> {
    if from >= d.history.len() {
        return Ok(());
    }
    let id = blob(d.id.as_uuid());
    let mut s = conn
        .prepare_cached(
            "INSERT INTO deal_stage_history (deal_id, position, from_stage, to_stage, at, \
             by_user) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .map_err(backend("preparing to store a deal's stage history"))?;
    for (pos, ch) in d.history.iter().enumerate().skip(from) {
        s.execute(params![
            id,
            pos as i64,
            ch.from.as_ref().map(|k| k.as_str()),
            ch.to.as_str(),
            millis(ch.at),
            actor_blob(ch.by),
        ])
        .map_err(backend("storing a deal's stage change"))?;
    }
    Ok(())
}

/// Replaces a deal whose stored version is `d.version - 1`. `stored_history`
/// is the deal's stored stage history when the caller knows it (saving a
/// read).
pub(crate) fn update_deal(
    conn: &Connection,
    d: &Deal,
    stored_history: Option<&[StageChange]>,
) -> Result<(), StoreError> {
    let custom = custom_json(&d.custom)?;
    let n = conn
        .prepare_cached(
            "UPDATE deals SET version = ?, title = ?, customer_id = ?, pipeline_id = ?, \
             stage = ?, status = ?, amount = ?, currency = ?, expected_close_date = ?, \
             owner = ?, won_at = ?, lost_at = ?, lost_reason = ?, created_at = ?, \
             updated_at = ?, custom = ? WHERE id = ? AND version = ?",
        )
        .and_then(|mut s| {
            s.execute(deal_params!(
                d,
                custom,
                blob(d.id.as_uuid()),
                to_i64(d.version.wrapping_sub(1))
            ))
        })
        .map_err(backend("updating a deal"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM deals WHERE id = ?",
            EntityKind::Deal,
            d.id.as_uuid(),
            d.version,
        ));
    }
    // The engine appends to the history; keep the common prefix and
    // rewrite only from the first entry that differs.
    let read_back;
    let stored = match stored_history {
        Some(h) => h,
        None => {
            read_back = crate::read::history(conn, d.id)?;
            &read_back[..]
        }
    };
    let same = stored
        .iter()
        .zip(&d.history)
        .take_while(|(a, b)| a == b)
        .count();
    if same < stored.len() {
        conn.prepare_cached("DELETE FROM deal_stage_history WHERE deal_id = ? AND position >= ?")
            .and_then(|mut s| s.execute(params![blob(d.id.as_uuid()), same as i64]))
            .map_err(backend("rewriting a deal's stage history"))?;
    }
    insert_history(conn, d, same)
}

// ----- activities -----

macro_rules! activity_params {
    ($a:ident, $($extra:expr),*) => {
        params![
            to_i64($a.version),
            activity_kind_str($a.kind),
            $a.subject,
            $a.body,
            opt_blob($a.customer.map(|c| c.as_uuid())),
            opt_blob($a.deal.map(|d| d.as_uuid())),
            opt_blob($a.owner.map(|o| o.as_uuid())),
            $a.direction.map(direction_str),
            millis($a.occurred_at),
            opt_millis($a.due_at),
            opt_millis($a.completed_at),
            millis($a.created_at),
            millis($a.updated_at),
            $($extra),*
        ]
    };
}

pub(crate) fn insert_activity(conn: &Connection, a: &Activity) -> Result<(), StoreError> {
    let custom = custom_json(&a.custom)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO activities (version, kind, subject, body, customer_id, deal_id, owner, \
             direction, occurred_at, due_at, completed_at, created_at, updated_at, custom, id) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| s.execute(activity_params!(a, custom, blob(a.id.as_uuid()))))
        .map_err(backend("inserting an activity"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::Activity, a.id.as_uuid()));
    }
    Ok(())
}

pub(crate) fn update_activity(conn: &Connection, a: &Activity) -> Result<(), StoreError> {
    let custom = custom_json(&a.custom)?;
    let n = conn
        .prepare_cached(
            "UPDATE activities SET version = ?, kind = ?, subject = ?, body = ?, \
             customer_id = ?, deal_id = ?, owner = ?, direction = ?, occurred_at = ?, \
             due_at = ?, completed_at = ?, created_at = ?, updated_at = ?, custom = ? \
             WHERE id = ? AND version = ?",
        )
        .and_then(|mut s| {
            s.execute(activity_params!(
                a,
                custom,
                blob(a.id.as_uuid()),
                to_i64(a.version.wrapping_sub(1))
            ))
        })
        .map_err(backend("updating an activity"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM activities WHERE id = ?",
            EntityKind::Activity,
            a.id.as_uuid(),
            a.version,
        ));
    }
    Ok(())
}

// ----- events -----

pub(crate) fn append_event(conn: &Connection, e: NewEvent) -> Result<Event, StoreError> {
    let changes = serde_json::to_string(&e.changes)
        .map_err(|err| StoreError::backend("encoding an event's changes as JSON", err))?;
    // seq is an INTEGER PRIMARY KEY without AUTOINCREMENT: SQLite assigns
    // max(seq) + 1, so numbers follow commit order (writers are serialised)
    // and a rolled-back append leaves no gap.
    // (Not `RETURNING seq`: SQLite materialises RETURNING rows in an
    // ephemeral table, which costs more than asking for the rowid.)
    conn.prepare_cached(
        "INSERT INTO events (id, at, actor, entity_kind, entity_id, version, kind, changes) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .and_then(|mut s| {
        s.execute(params![
            blob(e.id.as_uuid()),
            millis(e.at),
            actor_blob(e.actor),
            entity_kind_str(e.entity.kind),
            blob(e.entity.id),
            to_i64(e.version),
            event_kind_str(e.kind),
            changes,
        ])
    })
    .map_err(backend("appending an event"))?;
    let seq = conn.last_insert_rowid();
    Ok(e.with_seq(from_i64(seq)))
}

// ----- custom field schemas -----

pub(crate) fn put_field_schema(
    conn: &Connection,
    schema: &crm_core::custom_field::FieldSchema,
) -> Result<(), StoreError> {
    let fields = serde_json::to_string(&schema.fields)
        .map_err(|e| StoreError::backend("encoding custom field definitions as JSON", e))?;
    let entity = entity_kind_str(schema.entity);
    let stored: Option<i64> = conn
        .prepare_cached("SELECT version FROM field_schemas WHERE entity = ?")
        .and_then(|mut s| s.query_row([entity], |r| r.get(0)).optional())
        .map_err(backend("reading a custom-field schema's version"))?;
    match stored {
        Some(v) if from_i64(v).wrapping_add(1) != schema.version => {
            Err(StoreError::VersionConflict {
                entity: EntityKind::FieldSchema,
                id: crm_core::custom_field::FieldSchema::event_id(schema.entity).to_string(),
                expected: schema.version.saturating_sub(1),
                actual: from_i64(v),
            })
        }
        _ => conn
            .prepare_cached(
                "INSERT INTO field_schemas (entity, version, fields, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (entity) DO UPDATE SET \
                 version = excluded.version, fields = excluded.fields, \
                 created_at = excluded.created_at, updated_at = excluded.updated_at",
            )
            .and_then(|mut s| {
                s.execute(params![
                    entity,
                    to_i64(schema.version),
                    fields,
                    millis(schema.created_at),
                    millis(schema.updated_at)
                ])
            })
            .map(|_| ())
            .map_err(backend("storing a custom-field schema")),
    }
}

// ----- segments -----

fn expression_json(s: &Segment) -> Result<String, StoreError> {
    serde_json::to_string(&s.expression)
        .map_err(|err| StoreError::backend("encoding a segment's expression as JSON", err))
}

pub(crate) fn insert_segment(conn: &Connection, s: &Segment) -> Result<(), StoreError> {
    let json = expression_json(s)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO segments (id, version, name, expression, created_at, updated_at, owner) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut st| {
            st.execute(params![
                blob(s.id.as_uuid()),
                to_i64(s.version),
                s.name,
                json,
                millis(s.created_at),
                millis(s.updated_at),
                opt_blob(s.owner.map(|o| o.as_uuid())),
            ])
        })
        .map_err(backend("inserting a segment"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::Segment, s.id.as_uuid()));
    }
    Ok(())
}

pub(crate) fn update_segment(conn: &Connection, s: &Segment) -> Result<(), StoreError> {
    let json = expression_json(s)?;
    let n = conn
        .prepare_cached(
            "UPDATE segments SET version = ?, name = ?, expression = ?, created_at = ?, \
             updated_at = ?, owner = ? WHERE id = ? AND version = ?",
        )
        .and_then(|mut st| {
            st.execute(params![
                to_i64(s.version),
                s.name,
                json,
                millis(s.created_at),
                millis(s.updated_at),
                opt_blob(s.owner.map(|o| o.as_uuid())),
                blob(s.id.as_uuid()),
                to_i64(s.version.wrapping_sub(1)),
            ])
        })
        .map_err(backend("updating a segment"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM segments WHERE id = ?",
            EntityKind::Segment,
            s.id.as_uuid(),
            s.version,
        ));
    }
    Ok(())
}

pub(crate) fn delete_segment(
    conn: &Connection,
    id: SegmentId,
    version: u64,
) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached("DELETE FROM segments WHERE id = ? AND version = ?")
        .and_then(|mut st| st.execute(params![blob(id.as_uuid()), to_i64(version)]))
        .map_err(backend("deleting a segment"))?;
    if n == 0 {
        // `cas_failure` reports the expected version as its argument - 1.
        return Err(cas_failure(
            conn,
            "SELECT version FROM segments WHERE id = ?",
            EntityKind::Segment,
            id.as_uuid(),
            version.wrapping_add(1),
        ));
    }
    Ok(())
}

// ----- users and teams -----

fn insert_user_children(conn: &Connection, u: &User) -> Result<(), StoreError> {
    let id = blob(u.id.as_uuid());
    for r in &u.roles {
        conn.prepare_cached("INSERT INTO user_roles (user_id, role) VALUES (?, ?)")
            .and_then(|mut s| s.execute(params![id, access_role_str(*r)]))
            .map_err(backend("storing a user's roles"))?;
    }
    for t in &u.teams {
        conn.prepare_cached("INSERT INTO user_teams (user_id, team_id) VALUES (?, ?)")
            .and_then(|mut s| s.execute(params![id, blob(t.as_uuid())]))
            .map_err(backend("storing a user's teams"))?;
    }
    Ok(())
}

pub(crate) fn insert_user(conn: &Connection, u: &User) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO users (id, version, name, email, active, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                blob(u.id.as_uuid()),
                to_i64(u.version),
                u.name,
                u.email.as_str(),
                i64::from(u.active),
                millis(u.created_at),
                millis(u.updated_at),
            ])
        })
        .map_err(backend("inserting a user"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::User, u.id.as_uuid()));
    }
    insert_user_children(conn, u)
}

pub(crate) fn update_user(conn: &Connection, u: &User) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE users SET version = ?, name = ?, email = ?, active = ?, created_at = ?, \
             updated_at = ? WHERE id = ? AND version = ?",
        )
        .and_then(|mut s| {
            s.execute(params![
                to_i64(u.version),
                u.name,
                u.email.as_str(),
                i64::from(u.active),
                millis(u.created_at),
                millis(u.updated_at),
                blob(u.id.as_uuid()),
                to_i64(u.version.wrapping_sub(1)),
            ])
        })
        .map_err(backend("updating a user"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM users WHERE id = ?",
            EntityKind::User,
            u.id.as_uuid(),
            u.version,
        ));
    }
    let id = blob(u.id.as_uuid());
    for sql in [
        "DELETE FROM user_roles WHERE user_id = ?",
        "DELETE FROM user_teams WHERE user_id = ?",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([id]))
            .map_err(backend("replacing a user's roles and teams"))?;
    }
    insert_user_children(conn, u)
}

pub(crate) fn insert_team(conn: &Connection, t: &Team) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO teams (id, version, name, manager, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                blob(t.id.as_uuid()),
                to_i64(t.version),
                t.name,
                opt_blob(t.manager.map(|m| m.as_uuid())),
                millis(t.created_at),
                millis(t.updated_at),
            ])
        })
        .map_err(backend("inserting a team"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::Team, t.id.as_uuid()));
    }
    Ok(())
}

pub(crate) fn update_team(conn: &Connection, t: &Team) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "UPDATE teams SET version = ?, name = ?, manager = ?, created_at = ?, updated_at = ? \
             WHERE id = ? AND version = ?",
        )
        .and_then(|mut s| {
            s.execute(params![
                to_i64(t.version),
                t.name,
                opt_blob(t.manager.map(|m| m.as_uuid())),
                millis(t.created_at),
                millis(t.updated_at),
                blob(t.id.as_uuid()),
                to_i64(t.version.wrapping_sub(1)),
            ])
        })
        .map_err(backend("updating a team"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM teams WHERE id = ?",
            EntityKind::Team,
            t.id.as_uuid(),
            t.version,
        ));
    }
    Ok(())
}
