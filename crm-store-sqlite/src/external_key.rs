//! External keys, idempotency keys and the caller-ID lookups.
//!
//! `external_keys` has the primary key (entity, system, key): SQLite's
//! unique index is what makes two writers (in any process) unable to give
//! one key to two records. A write checks for a holder first, so a taken
//! key is a clean refusal that leaves the transaction usable.

use crm_core::external_key::{ExternalKey, ExternalKeyEntry, IdempotencyRecord};
use crm_core::{CustomerId, EntityKind, Phone, StoreError};
use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::codec::{
    backend, blob, col, corrupt, entity_kind, entity_kind_str, get_parsed, get_str, get_time,
    get_uuid, millis,
};

const T: &str = "external_keys";
const I: &str = "idempotency_keys";

fn key_of(system: &str, key: &str) -> Result<ExternalKey, StoreError> {
    ExternalKey::new(system, key).map_err(|e| corrupt(T, "key", e))
}

pub(crate) fn holder(
    conn: &Connection,
    entity: EntityKind,
    key: &ExternalKey,
) -> Result<Option<Uuid>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT record FROM external_keys WHERE entity = ? AND system = ? AND key = ?",
        )
        .map_err(backend("preparing to look up an external key"))?;
    let mut rows = st
        .query(params![entity_kind_str(entity), key.system(), key.key()])
        .map_err(backend("looking up an external key"))?;
    match rows.next().map_err(backend("looking up an external key"))? {
        Some(row) => Ok(Some(get_uuid(row, 0, col(T, "record"))?)),
        None => Ok(None),
    }
}

pub(crate) fn keys_of(
    conn: &Connection,
    entity: EntityKind,
    record: Uuid,
) -> Result<Vec<ExternalKey>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT system, key FROM external_keys WHERE entity = ? AND record = ? \
             ORDER BY system, key",
        )
        .map_err(backend("preparing to read a record's external keys"))?;
    let mut rows = st
        .query(params![entity_kind_str(entity), blob(record)])
        .map_err(backend("reading a record's external keys"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading external keys"))? {
        out.push(key_of(
            get_str(row, 0, col(T, "system"))?,
            get_str(row, 1, col(T, "key"))?,
        )?);
    }
    Ok(out)
}

pub(crate) fn all_keys(conn: &Connection) -> Result<Vec<ExternalKeyEntry>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT entity, system, key, record FROM external_keys ORDER BY entity, system, key",
        )
        .map_err(backend("preparing to read external keys"))?;
    let mut rows = st.query([]).map_err(backend("reading external keys"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading external keys"))? {
        out.push(ExternalKeyEntry {
            entity: get_parsed(row, 0, col(T, "entity"), entity_kind)?,
            key: key_of(
                get_str(row, 1, col(T, "system"))?,
                get_str(row, 2, col(T, "key"))?,
            )?,
            record: get_uuid(row, 3, col(T, "record"))?,
        });
    }
    Ok(out)
}

pub(crate) fn set_keys(
    conn: &Connection,
    entity: EntityKind,
    record: Uuid,
    keys: &[ExternalKey],
) -> Result<(), StoreError> {
    // Refuse before changing a row, so the refusal is clean.
    for k in keys {
        if let Some(h) = holder(conn, entity, k)?
            && h != record
        {
            return Err(StoreError::KeyTaken {
                entity,
                system: k.system().to_owned(),
                key: k.key().to_owned(),
                holder: h.to_string(),
            });
        }
    }
    let kind = entity_kind_str(entity);
    conn.prepare_cached("DELETE FROM external_keys WHERE entity = ? AND record = ?")
        .and_then(|mut s| s.execute(params![kind, blob(record)]))
        .map_err(backend("replacing a record's external keys"))?;
    let mut st = conn
        .prepare_cached(
            "INSERT INTO external_keys (entity, system, key, record) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .map_err(backend("preparing to store external keys"))?;
    for k in keys {
        st.execute(params![kind, k.system(), k.key(), blob(record)])
            .map_err(backend("storing an external key"))?;
    }
    Ok(())
}

pub(crate) fn customers_by_phone(
    conn: &Connection,
    phone: &Phone,
) -> Result<Vec<CustomerId>, StoreError> {
    ids(
        conn,
        "SELECT DISTINCT customer_id FROM customer_phones WHERE phone = ? ORDER BY customer_id",
        phone.as_str(),
        "customer_phones",
    )
}

pub(crate) fn customers_by_domain(
    conn: &Connection,
    domain: &str,
) -> Result<Vec<CustomerId>, StoreError> {
    // The expression is exactly the one `customer_emails_by_domain`
    // indexes, so SQLite reads the index.
    ids(
        conn,
        "SELECT DISTINCT customer_id FROM customer_emails \
         WHERE substr(email, instr(email, '@') + 1) = ? ORDER BY customer_id",
        domain,
        "customer_emails",
    )
}

fn ids(
    conn: &Connection,
    sql: &str,
    value: &str,
    table: &'static str,
) -> Result<Vec<CustomerId>, StoreError> {
    let mut st = conn
        .prepare_cached(sql)
        .map_err(backend("preparing a caller-ID lookup"))?;
    let mut rows = st
        .query([value])
        .map_err(backend("running a caller-ID lookup"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("running a caller-ID lookup"))? {
        out.push(CustomerId::from_uuid(get_uuid(
            row,
            0,
            col(table, "customer_id"),
        )?));
    }
    Ok(out)
}

fn decode_idempotency(row: &rusqlite::Row<'_>) -> Result<IdempotencyRecord, StoreError> {
    Ok(IdempotencyRecord {
        entity: get_parsed(row, 0, col(I, "entity"), entity_kind)?,
        key: get_str(row, 1, col(I, "key"))?.to_owned(),
        record: get_uuid(row, 2, col(I, "record"))?,
        fingerprint: get_str(row, 3, col(I, "fingerprint"))?.to_owned(),
        created_at: get_time(row, 4, col(I, "created_at"))?,
    })
}

pub(crate) fn idempotency_record(
    conn: &Connection,
    entity: EntityKind,
    key: &str,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT entity, key, record, fingerprint, created_at FROM idempotency_keys \
             WHERE entity = ? AND key = ?",
        )
        .map_err(backend("preparing to look up an idempotency key"))?;
    let mut rows = st
        .query(params![entity_kind_str(entity), key])
        .map_err(backend("looking up an idempotency key"))?;
    match rows
        .next()
        .map_err(backend("looking up an idempotency key"))?
    {
        Some(row) => Ok(Some(decode_idempotency(row)?)),
        None => Ok(None),
    }
}

pub(crate) fn idempotency_records(conn: &Connection) -> Result<Vec<IdempotencyRecord>, StoreError> {
    let mut st = conn
        .prepare_cached(
            "SELECT entity, key, record, fingerprint, created_at FROM idempotency_keys \
             ORDER BY entity, key",
        )
        .map_err(backend("preparing to read idempotency keys"))?;
    let mut rows = st.query([]).map_err(backend("reading idempotency keys"))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend("reading idempotency keys"))? {
        out.push(decode_idempotency(row)?);
    }
    Ok(out)
}

pub(crate) fn insert_idempotency_record(
    conn: &Connection,
    r: &IdempotencyRecord,
) -> Result<(), StoreError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO idempotency_keys (entity, key, record, fingerprint, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                entity_kind_str(r.entity),
                r.key,
                blob(r.record),
                r.fingerprint,
                millis(r.created_at),
            ])
        })
        .map_err(backend("storing an idempotency key"))?;
    if n == 0 {
        return Err(StoreError::AlreadyExists {
            entity: r.entity,
            id: r.key.clone(),
        });
    }
    Ok(())
}
