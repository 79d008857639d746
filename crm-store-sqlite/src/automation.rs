//! Automation rules, the outbox and stored firings: each record kept as
//! its serde JSON form in a `body` column, beside the columns the store
//! looks up or orders by.

use crm_core::automation::{Firing, Notification, Rule};
use crm_core::{EntityKind, NotificationId, RuleId, StoreError, TeamId, UserId};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::codec::*;
use crate::write::{already_exists, cas_failure};

fn to_json<T: Serialize>(what: &'static str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|err| StoreError::backend(what, err))
}

fn from_json<T: DeserializeOwned>(table: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|err| corrupt(table, "body", err))
}

fn one<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    table: &'static str,
    id: Uuid,
) -> Result<Option<T>, StoreError> {
    let body: Option<String> = conn
        .prepare_cached(sql)
        .and_then(|mut st| st.query_row([blob(id)], |r| r.get(0)).optional())
        .map_err(backend("reading an automation record"))?;
    body.map(|b| from_json(table, &b)).transpose()
}

fn all<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    table: &'static str,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn
        .prepare_cached(sql)
        .map_err(backend("reading automation records"))?;
    let bodies = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(backend("reading automation records"))?;
    let mut out = Vec::new();
    for b in bodies {
        let b = b.map_err(backend("reading automation records"))?;
        out.push(from_json(table, &b)?);
    }
    Ok(out)
}

pub(crate) fn rule(conn: &Connection, id: RuleId) -> Result<Option<Rule>, StoreError> {
    one(
        conn,
        "SELECT body FROM automation_rules WHERE id = ?",
        "automation_rules",
        id.as_uuid(),
    )
}

pub(crate) fn rules(conn: &Connection) -> Result<Vec<Rule>, StoreError> {
    all(
        conn,
        "SELECT body FROM automation_rules ORDER BY id",
        "automation_rules",
    )
}

pub(crate) fn notification(
    conn: &Connection,
    id: NotificationId,
) -> Result<Option<Notification>, StoreError> {
    one(
        conn,
        "SELECT body FROM automation_outbox WHERE id = ?",
        "automation_outbox",
        id.as_uuid(),
    )
}

pub(crate) fn outbox(
    conn: &Connection,
    include_acknowledged: bool,
) -> Result<Vec<Notification>, StoreError> {
    let sql = if include_acknowledged {
        "SELECT body FROM automation_outbox ORDER BY created_at, id"
    } else {
        "SELECT body FROM automation_outbox WHERE acknowledged = 0 ORDER BY created_at, id"
    };
    all(conn, sql, "automation_outbox")
}

pub(crate) fn has_fired(
    conn: &Connection,
    rule: RuleId,
    subject: Uuid,
    episode: &str,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM automation_firings \
         WHERE rule = ? AND subject = ? AND episode = ?)",
    )
    .and_then(|mut st| {
        st.query_row(params![blob(rule.as_uuid()), blob(subject), episode], |r| {
            r.get(0)
        })
    })
    .map_err(backend("reading automation firings"))
}

pub(crate) fn insert_rule(conn: &Connection, r: &Rule) -> Result<(), StoreError> {
    let body = to_json("encoding a rule as JSON", r)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO automation_rules (id, version, body) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut st| st.execute(params![blob(r.id.as_uuid()), to_i64(r.version), body]))
        .map_err(backend("inserting a rule"))?;
    if n == 0 {
        return Err(already_exists(EntityKind::Rule, r.id.as_uuid()));
    }
    Ok(())
}

pub(crate) fn update_rule(conn: &Connection, r: &Rule) -> Result<(), StoreError> {
    let body = to_json("encoding a rule as JSON", r)?;
    let n = conn
        .prepare_cached(
            "UPDATE automation_rules SET version = ?, body = ? WHERE id = ? AND version = ?",
        )
        .and_then(|mut st| {
            st.execute(params![
                to_i64(r.version),
                body,
                blob(r.id.as_uuid()),
                to_i64(r.version.wrapping_sub(1)),
            ])
        })
        .map_err(backend("updating a rule"))?;
    if n == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM automation_rules WHERE id = ?",
            EntityKind::Rule,
            r.id.as_uuid(),
            r.version,
        ));
    }
    Ok(())
}

pub(crate) fn insert_notification(conn: &Connection, n: &Notification) -> Result<(), StoreError> {
    let body = to_json("encoding a notification as JSON", n)?;
    let count = conn
        .prepare_cached(
            "INSERT INTO automation_outbox (id, version, created_at, acknowledged, body) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .and_then(|mut st| {
            st.execute(params![
                blob(n.id.as_uuid()),
                to_i64(n.version),
                millis(n.created_at),
                i64::from(n.acknowledged_at.is_some()),
                body,
            ])
        })
        .map_err(backend("inserting a notification"))?;
    if count == 0 {
        return Err(already_exists(EntityKind::Notification, n.id.as_uuid()));
    }
    Ok(())
}

pub(crate) fn update_notification(conn: &Connection, n: &Notification) -> Result<(), StoreError> {
    let body = to_json("encoding a notification as JSON", n)?;
    let count = conn
        .prepare_cached(
            "UPDATE automation_outbox SET version = ?, created_at = ?, acknowledged = ?, body = ? \
             WHERE id = ? AND version = ?",
        )
        .and_then(|mut st| {
            st.execute(params![
                to_i64(n.version),
                millis(n.created_at),
                i64::from(n.acknowledged_at.is_some()),
                body,
                blob(n.id.as_uuid()),
                to_i64(n.version.wrapping_sub(1)),
            ])
        })
        .map_err(backend("updating a notification"))?;
    if count == 0 {
        return Err(cas_failure(
            conn,
            "SELECT version FROM automation_outbox WHERE id = ?",
            EntityKind::Notification,
            n.id.as_uuid(),
            n.version,
        ));
    }
    Ok(())
}

pub(crate) fn record_firing(conn: &Connection, f: &Firing) -> Result<(), StoreError> {
    let body = to_json("encoding a firing as JSON", f)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO automation_firings (rule, subject, episode, body) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .and_then(|mut st| {
            st.execute(params![
                blob(f.rule.as_uuid()),
                blob(f.subject.id),
                f.episode,
                body
            ])
        })
        .map_err(backend("recording a firing"))?;
    if n == 0 {
        return Err(StoreError::AlreadyExists {
            entity: EntityKind::Rule,
            id: format!("{} on {} ({})", f.rule, f.subject.id, f.episode),
        });
    }
    Ok(())
}

// ----- rule cache, round-robin, backups -----

pub(crate) fn rules_generation(conn: &Connection) -> Result<u64, StoreError> {
    // Triggers on automation_rules bump it (schema V7), whoever writes.
    let g: i64 = conn
        .prepare_cached("SELECT generation FROM automation_generation WHERE id = 1")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .map_err(backend("reading the rules generation"))?;
    Ok(u64::try_from(g).unwrap_or_default())
}

fn user_id(table: &'static str, b: Vec<u8>) -> Result<UserId, StoreError> {
    Uuid::from_slice(&b)
        .map(UserId::from_uuid)
        .map_err(|err| corrupt(table, "user", err))
}

pub(crate) fn round_robin_cursor(
    conn: &Connection,
    team: TeamId,
) -> Result<Option<UserId>, StoreError> {
    let b: Option<Vec<u8>> = conn
        .prepare_cached("SELECT user FROM automation_cursors WHERE team = ?")
        .and_then(|mut st| {
            st.query_row([blob(team.as_uuid())], |r| r.get(0))
                .optional()
        })
        .map_err(backend("reading a round-robin cursor"))?;
    b.map(|b| user_id("automation_cursors", b)).transpose()
}

pub(crate) fn round_robin_cursors(conn: &Connection) -> Result<Vec<(TeamId, UserId)>, StoreError> {
    let mut st = conn
        .prepare_cached("SELECT team, user FROM automation_cursors ORDER BY team")
        .map_err(backend("reading round-robin cursors"))?;
    let rows = st
        .query_map([], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(backend("reading round-robin cursors"))?;
    let mut out = Vec::new();
    for row in rows {
        let (t, u) = row.map_err(backend("reading round-robin cursors"))?;
        let team = Uuid::from_slice(&t)
            .map(TeamId::from_uuid)
            .map_err(|err| corrupt("automation_cursors", "team", err))?;
        out.push((team, user_id("automation_cursors", u)?));
    }
    Ok(out)
}

pub(crate) fn firings(conn: &Connection) -> Result<Vec<Firing>, StoreError> {
    all(
        conn,
        "SELECT body FROM automation_firings ORDER BY rule, subject, episode",
        "automation_firings",
    )
}

pub(crate) fn set_round_robin_cursor(
    conn: &Connection,
    team: TeamId,
    user: UserId,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO automation_cursors (team, user) VALUES (?, ?) \
         ON CONFLICT (team) DO UPDATE SET user = excluded.user",
    )
    .and_then(|mut st| st.execute(params![blob(team.as_uuid()), blob(user.as_uuid())]))
    .map_err(backend("storing a round-robin cursor"))?;
    Ok(())
}
