//! The schema, its migrations and the checks made when a file is opened.
//!
//! The schema version is SQLite's `PRAGMA user_version`; a crm database is
//! recognised by `PRAGMA application_id` = [`APPLICATION_ID`].
//! [`MIGRATIONS`]`[i]` takes a database from version `i` to `i + 1`. The
//! list is append-only: a released migration is never edited, a change to
//! the schema is a new entry. All pending migrations run in one
//! `BEGIN IMMEDIATE` transaction, so a crash mid-migration leaves the file
//! at its old version, and two processes opening the same new file migrate
//! it once.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::OpenError;

/// The `PRAGMA application_id` of a crm database ("CRM1" in ASCII).
pub const APPLICATION_ID: i32 = 0x4352_4D31;

/// The schema version this library writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 1: the first schema.
///
/// Conventions: ids are 16-byte UUID blobs (so `ORDER BY id` is UUID
/// order), times are INTEGER epoch milliseconds, money is a TEXT decimal
/// with a TEXT currency code, enums are their snake_case names, an actor
/// is a user id blob or NULL for the system. Text uses the BINARY
/// collation, i.e. UTF-8 byte order, which is Rust's `String` order.
const V1: &str = r#"
CREATE TABLE customers (
    id           BLOB    NOT NULL PRIMARY KEY,
    version      INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    organisation BLOB,
    roles        INTEGER NOT NULL, -- bit set: 1 customer, 2 supplier, 4 partner
    lifecycle    TEXT    NOT NULL,
    owner        BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX customers_by_created ON customers (created_at, id);
CREATE INDEX customers_by_updated ON customers (updated_at, id);
CREATE INDEX customers_by_name ON customers (name, id);
CREATE INDEX customers_by_owner ON customers (owner);
CREATE INDEX customers_by_organisation ON customers (organisation);
CREATE INDEX customers_by_lifecycle ON customers (lifecycle);

CREATE TABLE customer_emails (
    customer_id BLOB    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    email       TEXT    NOT NULL,
    PRIMARY KEY (customer_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_emails_by_email ON customer_emails (email);

CREATE TABLE customer_phones (
    customer_id BLOB    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    phone       TEXT    NOT NULL,
    PRIMARY KEY (customer_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_phones_by_phone ON customer_phones (phone);

CREATE TABLE customer_tags (
    customer_id BLOB NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag         TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX customer_tags_by_tag ON customer_tags (tag, customer_id);

CREATE TABLE pipelines (
    id           BLOB    NOT NULL PRIMARY KEY,
    version      INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    transitions  TEXT    NOT NULL, -- 'any', or 'only' with the edges in pipeline_transitions
    allow_reopen INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX pipelines_by_created ON pipelines (created_at, id);
CREATE INDEX pipelines_by_name ON pipelines (name, id);

CREATE TABLE pipeline_stages (
    pipeline_id BLOB    NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    key         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    probability INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    guards      TEXT    NOT NULL, -- comma-separated guard names, in order
    PRIMARY KEY (pipeline_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE pipeline_transitions (
    pipeline_id BLOB    NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    from_stage  TEXT    NOT NULL,
    to_stage    TEXT    NOT NULL,
    PRIMARY KEY (pipeline_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE deals (
    id                  BLOB    NOT NULL PRIMARY KEY,
    version             INTEGER NOT NULL,
    title               TEXT    NOT NULL,
    customer_id         BLOB    NOT NULL REFERENCES customers (id),
    pipeline_id         BLOB    NOT NULL REFERENCES pipelines (id),
    stage               TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    amount              TEXT,            -- exact decimal, scale kept ("10.50")
    currency            TEXT,            -- ISO 4217 code
    expected_close_date TEXT,            -- YYYY-MM-DD
    owner               BLOB,
    won_at              INTEGER,
    lost_at             INTEGER,
    lost_reason         TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK ((amount IS NULL) = (currency IS NULL))
) STRICT;
CREATE INDEX deals_by_created ON deals (created_at, id);
CREATE INDEX deals_by_updated ON deals (updated_at, id);
CREATE INDEX deals_by_title ON deals (title, id);
CREATE INDEX deals_by_stage ON deals (pipeline_id, stage);
CREATE INDEX deals_by_customer ON deals (customer_id);
CREATE INDEX deals_by_owner ON deals (owner);
CREATE INDEX deals_by_status ON deals (status);

CREATE TABLE deal_stage_history (
    deal_id    BLOB    NOT NULL REFERENCES deals (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    from_stage TEXT,
    to_stage   TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    by_user    BLOB,                     -- NULL: the system
    PRIMARY KEY (deal_id, position)
) STRICT, WITHOUT ROWID;

CREATE TABLE activities (
    id           BLOB    NOT NULL PRIMARY KEY,
    version      INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    subject      TEXT    NOT NULL,
    body         TEXT,
    customer_id  BLOB,
    deal_id      BLOB,
    owner        BLOB,
    direction    TEXT,
    occurred_at  INTEGER NOT NULL,
    due_at       INTEGER,
    completed_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX activities_by_occurred ON activities (occurred_at, id);
CREATE INDEX activities_by_created ON activities (created_at, id);
CREATE INDEX activities_by_customer ON activities (customer_id);
CREATE INDEX activities_by_deal ON activities (deal_id);
CREATE INDEX activities_by_owner ON activities (owner);
CREATE INDEX activities_by_due ON activities (due_at);

-- No AUTOINCREMENT: a new seq is max(seq) + 1, so a rolled-back append leaves no gap.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          BLOB    NOT NULL,
    at          INTEGER NOT NULL,
    actor       BLOB,                    -- NULL: the system
    entity_kind TEXT    NOT NULL,
    entity_id   BLOB    NOT NULL,
    version     INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    changes     TEXT    NOT NULL         -- JSON array of {field, old, new}
) STRICT;
CREATE INDEX events_by_entity ON events (entity_kind, entity_id, seq);
CREATE INDEX events_by_at ON events (at);
"#;

/// Version 2: merged customers point to the customer they were merged
/// into (NULL for every customer of version 1).
const V2_MERGE: &str = r#"
ALTER TABLE customers ADD COLUMN merged_into BLOB;
CREATE INDEX customers_by_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;
"#;

/// Version 3: custom fields. Each entity type's schema is one row of
/// `field_schemas` (definitions as JSON); records keep their values in a
/// JSON object column (`{}` for none).
const V3_CUSTOM_FIELDS: &str = r#"
CREATE TABLE field_schemas (
    entity     TEXT    NOT NULL PRIMARY KEY, -- customer, deal or activity
    version    INTEGER NOT NULL,
    fields     TEXT    NOT NULL,             -- JSON array of field definitions
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
ALTER TABLE customers ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
ALTER TABLE deals ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
ALTER TABLE activities ADD COLUMN custom TEXT NOT NULL DEFAULT '{}';
"#;

/// Version 4: saved segments: a name and an expression tree stored as
/// JSON (the serde form of `crm_core::segment::Expr`).
const V4_SEGMENTS: &str = r#"
CREATE TABLE segments (
    id         BLOB    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    expression TEXT    NOT NULL, -- JSON
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    owner      BLOB              -- the user who saved it; NULL: the system
) STRICT;
CREATE INDEX segments_by_created ON segments (created_at, id);
CREATE INDEX segments_by_name ON segments (name, id);
CREATE INDEX segments_by_owner_created ON segments (owner, created_at, id);
CREATE INDEX segments_by_owner_name ON segments (owner, name, id);
"#;

/// Version 5: users and teams, and the indexes that make scoped listings
/// cheap.
///
/// Membership and roles are child tables of `users` (`user_teams` indexed
/// by team, for "who is in this team"). A team's manager and a member's
/// team carry no foreign key: like every rule, their existence is checked
/// by the facade. For access control, every owned table gets an
/// `(owner, sort key, id)` index per order (replacing the plain owner
/// index), so a listing restricted to a few owners walks one index range
/// per owner; the event log gets `(actor, seq, id)` for the same reason.
const V5_USERS: &str = r#"
CREATE TABLE users (
    id         BLOB    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    email      TEXT    NOT NULL,
    active     INTEGER NOT NULL, -- 0 or 1
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX users_by_created ON users (created_at, id);
CREATE INDEX users_by_name ON users (name, id);

CREATE TABLE user_roles (
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE user_teams (
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id BLOB NOT NULL,
    PRIMARY KEY (user_id, team_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_teams_by_team ON user_teams (team_id, user_id);

CREATE TABLE teams (
    id         BLOB    NOT NULL PRIMARY KEY,
    version    INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    manager    BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX teams_by_created ON teams (created_at, id);
CREATE INDEX teams_by_name ON teams (name, id);
CREATE INDEX teams_by_manager ON teams (manager);

DROP INDEX customers_by_owner;
CREATE INDEX customers_by_owner_created ON customers (owner, created_at, id);
CREATE INDEX customers_by_owner_updated ON customers (owner, updated_at, id);
CREATE INDEX customers_by_owner_name ON customers (owner, name, id);
DROP INDEX deals_by_owner;
CREATE INDEX deals_by_owner_created ON deals (owner, created_at, id);
CREATE INDEX deals_by_owner_updated ON deals (owner, updated_at, id);
CREATE INDEX deals_by_owner_title ON deals (owner, title, id);
DROP INDEX activities_by_owner;
CREATE INDEX activities_by_owner_occurred ON activities (owner, occurred_at, id);
CREATE INDEX activities_by_owner_created ON activities (owner, created_at, id);
CREATE INDEX events_by_actor ON events (actor, seq, id);
"#;

/// Version 6: automation. Rules, outbox notifications and the firings of
/// time rules, each kept as its serde JSON form (`body`) beside the
/// columns looked up or ordered by. A firing's primary key is what makes
/// `run_due` fire once per (rule, record, episode), even from two
/// processes.
const V6_AUTOMATION: &str = r#"
CREATE TABLE automation_rules (
    id      BLOB    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    body    TEXT    NOT NULL -- JSON
) STRICT;
CREATE TABLE automation_outbox (
    id           BLOB    NOT NULL PRIMARY KEY,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    acknowledged INTEGER NOT NULL, -- 0 or 1
    body         TEXT    NOT NULL  -- JSON
) STRICT;
CREATE INDEX automation_outbox_pending ON automation_outbox (acknowledged, created_at, id);
CREATE TABLE automation_firings (
    rule    BLOB NOT NULL,
    subject BLOB NOT NULL,
    episode TEXT NOT NULL,
    body    TEXT NOT NULL, -- JSON
    PRIMARY KEY (rule, subject, episode)
) STRICT, WITHOUT ROWID;
"#;

/// Automation, second round: a rules generation counter that triggers on
/// `automation_rules` bump on every insert and update (so every handle,
/// in any process, sees a rule change by a changed number), and the
/// round-robin cursors.
const V7_AUTOMATION_CURSORS: &str = r#"
CREATE TABLE automation_generation (
    id         INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
) STRICT;
INSERT INTO automation_generation VALUES (1, 0);
CREATE TRIGGER automation_rules_inserted AFTER INSERT ON automation_rules BEGIN
    UPDATE automation_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER automation_rules_updated AFTER UPDATE ON automation_rules BEGIN
    UPDATE automation_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER automation_rules_deleted AFTER DELETE ON automation_rules BEGIN
    UPDATE automation_generation SET generation = generation + 1 WHERE id = 1;
END;
CREATE TABLE automation_cursors (
    team BLOB NOT NULL PRIMARY KEY,
    user BLOB NOT NULL
) STRICT, WITHOUT ROWID;
"#;

/// Version 8: external keys (the primary key is the unique index that
/// makes a key belong to one record of a kind, across processes),
/// idempotency keys of creates, and an index of e-mail domains for
/// caller-ID lookups (phone numbers have `customer_phones_by_phone`).
const V8_EXTERNAL_KEYS: &str = r#"
CREATE TABLE external_keys (
    entity TEXT NOT NULL, -- customer, deal or activity
    system TEXT NOT NULL,
    key    TEXT NOT NULL,
    record BLOB NOT NULL, -- the id of the record of kind `entity`
    PRIMARY KEY (entity, system, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX external_keys_by_record ON external_keys (entity, record);

CREATE TABLE idempotency_keys (
    entity      TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    record      BLOB    NOT NULL,
    fingerprint TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (entity, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX customer_emails_by_domain
    ON customer_emails (substr(email, instr(email, '@') + 1));
"#;

/// Version 9, the change feed: each consumer's checkpoint, in the same
/// database as the events it acknowledges (so a crash between a read and
/// its acknowledgement reads the same events again).
const V9_FEED_CONSUMERS: &str = r#"
CREATE TABLE feed_consumers (
    name       TEXT    NOT NULL PRIMARY KEY,
    id         BLOB    NOT NULL UNIQUE,
    checkpoint INTEGER NOT NULL CHECK (checkpoint >= 0),
    body       TEXT    NOT NULL -- JSON
) STRICT, WITHOUT ROWID;
"#;

/// Every schema version's migration, oldest first: `MIGRATIONS[i]` takes
/// version `i` to `i + 1`. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[
    V1,
    V2_MERGE,
    V3_CUSTOM_FIELDS,
    V4_SEGMENTS,
    V5_USERS,
    V6_AUTOMATION,
    V7_AUTOMATION_CURSORS,
    V8_EXTERNAL_KEYS,
    V9_FEED_CONSUMERS,
];

fn sqlite(context: &str) -> impl FnOnce(rusqlite::Error) -> OpenError + '_ {
    move |source| OpenError::Sqlite {
        context: context.to_owned(),
        source,
    }
}

/// What the file's header says, read without writing anything.
struct Header {
    application_id: i32,
    user_version: i64,
    objects: i64,
}

fn read_header(conn: &Connection, path: &Path) -> Result<Header, OpenError> {
    let not_a_db = |e: rusqlite::Error| match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => OpenError::NotADatabase {
            path: path.to_owned(),
        },
        _ => OpenError::Sqlite {
            context: format!("reading the header of {}", path.display()),
            source: e,
        },
    };
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(not_a_db)?;
    let user_version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(not_a_db)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(not_a_db)?;
    Ok(Header {
        application_id,
        user_version,
        objects,
    })
}

/// Refuses files that are not crm databases, or are newer than this library.
fn check_header(h: &Header, path: &Path) -> Result<(), OpenError> {
    let fresh = h.application_id == 0 && h.user_version == 0 && h.objects == 0;
    if (h.application_id != APPLICATION_ID && !fresh) || h.user_version < 0 {
        return Err(OpenError::NotACrmDatabase {
            path: path.to_owned(),
            application_id: h.application_id,
        });
    }
    if h.user_version > SCHEMA_VERSION {
        return Err(OpenError::TooNew {
            path: path.to_owned(),
            found: h.user_version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Checks what `conn` was opened on, without writing to it.
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<(), OpenError> {
    check_header(&read_header(conn, path)?, path)
}

/// Brings the schema to [`SCHEMA_VERSION`], in one `BEGIN IMMEDIATE`
/// transaction that re-checks the header under the write lock.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite("starting the schema migration"))?;
    let header = read_header(&tx, path)?;
    check_header(&header, path)?;
    if header.user_version == SCHEMA_VERSION {
        return Ok(()); // dropping `tx` ends the (empty) transaction
    }
    let done = usize::try_from(header.user_version).unwrap_or(MIGRATIONS.len());
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.execute_batch(sql).map_err(|source| OpenError::Sqlite {
            context: format!("migrating the schema from version {from} to {}", from + 1),
            source,
        })?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sqlite("setting the application id"))?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(sqlite("setting the schema version"))?;
    tx.commit()
        .map_err(sqlite("committing the schema migration"))
}

#[cfg(test)]
mod tests {
    //! Every earlier schema version, rebuilt from [`MIGRATIONS`] and filled
    //! with that version's fixture, must open and read back.
    use super::*;
    use crate::SqliteStore;
    use crm_core::{CustomerId, DealId, SegmentId, Store, TeamId, UserId};
    use uuid::Uuid;

    /// Fixture data valid at each schema version: `FIXTURES[v]` is SQL run
    /// against a database at version `v` (index 0: the empty file, no data).
    /// When a migration is added, add the data that version can hold.
    const FIXTURES: &[&str] = &[
        "",
        r#"
        INSERT INTO customers VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e', 2, 'organisation', 'ACME GmbH', NULL, 3, 'customer', NULL, 1735689600000, 1735693200000);
        INSERT INTO customer_emails VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e', 0, 'sales@acme.example');
        INSERT INTO customer_tags VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e', 'vip');
        INSERT INTO pipelines VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d2e', 1, 'Sales', 'any', 1, 1735689600000, 1735689600000);
        INSERT INTO pipeline_stages VALUES
            (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d2e', 0, 'lead', 'Lead', 10, 'open', ''),
            (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d2e', 1, 'won', 'Won', 100, 'won', ''),
            (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d2e', 2, 'lost', 'Lost', 0, 'lost', 'requires_lost_reason');
        INSERT INTO deals VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d3e', 1, 'Big one', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d2e',
            'lead', 'open', '10.50', 'EUR', '2025-03-31', NULL, NULL, NULL, NULL, 1735689600000, 1735689600000);
        INSERT INTO deal_stage_history VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d3e', 0, NULL, 'lead', 1735689600000, NULL);
        INSERT INTO events VALUES (NULL, x'0190f5a27c4e7b1a9d3e2f6a8b9c0d4e', 1735689600000, NULL, 'deal', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d3e', 1, 'created', '[{"field":"title","old":null,"new":"Big one"}]');
        "#,
        r#"
        INSERT INTO customers VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e', 2, 'organisation', 'ACME', NULL, 1, 'lead', NULL, 1735689600000, 1735693200000, x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e');
        "#,
        r#"
        INSERT INTO field_schemas VALUES ('customer', 1, '[{"key":"tier","label":"Tier","type":"enum","options":["gold","silver"],"required":false}]', 1735689600000, 1735689600000);
        UPDATE customers SET custom = '{"tier":{"type":"text","value":"gold"}}' WHERE id = x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e';
        "#,
        r#"
        INSERT INTO segments VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e', 1, 'VIPs',
            '{"pred":{"field":{"name":"tags"},"test":{"contains":{"value":{"tag":"vip"}}}}}',
            1735689600000, 1735689600000, NULL);
        "#,
        r#"
        INSERT INTO teams VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d6e', 1, 'North', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e', 1735689600000, 1735689600000);
        INSERT INTO users VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e', 3, 'Maria', 'maria@example.com', 1, 1735689600000, 1735693200000);
        INSERT INTO user_roles VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e', 'sales_manager'), (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e', 'sales_rep');
        INSERT INTO user_teams VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d6e');
        UPDATE deals SET owner = x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e';
        "#,
        r#"
        INSERT INTO automation_rules VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d7e', 1,
            '{"id":"0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d7e","version":1,"name":"Won deals","active":true,"trigger":"deal_won","condition":null,"actions":[{"add_tag":{"tag":"won"}}],"author":{"type":"system"},"created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z"}');
        "#,
        r#"
        INSERT INTO automation_cursors VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d6e', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d5e');
        INSERT INTO automation_rules VALUES (x'0190f5a27c4e7b1a9d3e2f6a8b9c0d8e', 1,
            '{"id":"0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d8e","version":1,"name":"Old notify","active":true,"trigger":"deal_lost","condition":null,"actions":[{"notify":{"text":"lost"}}],"author":{"type":"system"},"created_at":"2025-01-01T00:00:00Z","updated_at":"2025-01-01T00:00:00Z"}');
        "#,
        r#"
        INSERT INTO external_keys VALUES ('customer', 'shop', 'C-1', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e');
        INSERT INTO idempotency_keys VALUES ('customer', 'req-1', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d1e', '0123456789abcdef', 1735689600000);
        "#,
        r#"
        INSERT INTO feed_consumers VALUES ('erp', x'0190f5a27c4e7b1a9d3e2f6a8b9c0d9e', 1,
            '{"id":"0190f5a2-7c4e-7b1a-9d3e-2f6a8b9c0d9e","name":"erp","version":1,"filter":{"entity_kinds":["deal"],"event_kinds":[]},"checkpoint":1,"owner":{"type":"system"},"created_at":"2025-01-01T00:00:00Z","acknowledged_at":"2025-01-01T00:00:00Z"}');
        "#,
    ];

    /// The V8 keys read back; on every migrated file the caller-ID lookups
    /// find the customers stored before the domain index existed.
    fn check_key_fixture(store: &SqliteStore, version: usize) {
        let tx = store.read().unwrap();
        let acme = CustomerId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d1e));
        let key = crm_core::ExternalKey::new("shop", "C-1").unwrap();
        let holder = tx
            .external_key_holder(crm_core::EntityKind::Customer, &key)
            .unwrap();
        let idem = tx
            .idempotency_record(crm_core::EntityKind::Customer, "req-1")
            .unwrap();
        if version >= 8 {
            assert_eq!(holder, Some(acme.as_uuid()));
            assert_eq!(idem.map(|r| r.record), Some(acme.as_uuid()));
        } else {
            assert_eq!((holder, idem), (None, None));
        }
        let by_domain = tx.customers_by_email_domain("acme.example").unwrap();
        assert_eq!(by_domain.contains(&acme), version >= 1);
    }

    /// Checks the data of `FIXTURES[..=version]` after migrating to the latest schema.
    fn check_fixture_data(store: &SqliteStore, version: usize) {
        let tx = store.read().unwrap();
        if version >= 1 {
            let id = CustomerId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d1e));
            let c = tx.customer(id).unwrap().expect("fixture customer");
            assert_eq!(c.name, "ACME GmbH");
            assert_eq!(c.version, 2);
            assert_eq!(c.emails[0].as_str(), "sales@acme.example");
            let d = tx
                .deal(DealId::from_uuid(Uuid::from_u128(
                    0x0190f5a27c4e7b1a9d3e2f6a8b9c0d3e,
                )))
                .unwrap()
                .expect("fixture deal");
            assert_eq!(d.amount.unwrap().amount.to_string(), "10.50");
            assert_eq!(d.history.len(), 1);
            assert_eq!(tx.last_event_seq().unwrap(), 1);
            assert_eq!(c.merged_into, None, "a version-1 customer is not merged");
        }
        if (1..3).contains(&version) {
            let id = CustomerId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d1e));
            let c = tx.customer(id).unwrap().expect("fixture customer");
            assert!(c.custom.is_empty(), "custom values before version 3");
            assert_eq!(
                tx.field_schema(crm_core::EntityKind::Customer).unwrap(),
                None
            );
        }
        if version >= 3 {
            let id = CustomerId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d1e));
            let c = tx.customer(id).unwrap().expect("fixture customer");
            assert_eq!(
                c.custom["tier"],
                crm_core::custom_field::CustomValue::Text("gold".into())
            );
            let schema = tx
                .field_schema(crm_core::EntityKind::Customer)
                .unwrap()
                .expect("fixture schema");
            assert_eq!((schema.version, schema.fields[0].key.as_str()), (1, "tier"));
        }
        if version >= 2 {
            let id = CustomerId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d5e));
            let c = tx.customer(id).unwrap().expect("fixture merged customer");
            assert_eq!(
                c.merged_into,
                Some(CustomerId::from_uuid(Uuid::from_u128(
                    0x0190f5a27c4e7b1a9d3e2f6a8b9c0d1e
                )))
            );
        }
        if version >= 4 {
            let id = SegmentId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d5e));
            let s = tx.segment(id).unwrap().expect("fixture segment");
            assert_eq!(s.name, "VIPs");
            assert_eq!(s.expression.to_string(), "tag:vip");
        }
        if version >= 5 {
            let maria = UserId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d5e));
            let north = TeamId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d6e));
            let u = tx.user(maria).unwrap().expect("fixture user");
            assert_eq!((u.name.as_str(), u.version, u.active), ("Maria", 3, true));
            assert_eq!(
                u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                ["sales_manager", "sales_rep"]
            );
            assert_eq!(u.teams.iter().copied().collect::<Vec<_>>(), [north]);
            let t = tx.team(north).unwrap().expect("fixture team");
            assert_eq!((t.name.as_str(), t.manager), ("North", Some(maria)));
            // The scoped-listing indexes answer an owner-restricted listing.
            let q = crm_core::DealQuery::new().filter(crm_core::DealFilter {
                owner_in: Some(vec![maria, UserId::from_uuid(Uuid::from_u128(5))]),
                ..Default::default()
            });
            assert_eq!(tx.deals(&q).unwrap().items.len(), 1);
        }
        let rules = tx.rules().unwrap();
        if version >= 6 {
            assert_eq!(rules.len(), if version >= 7 { 2 } else { 1 });
            assert_eq!(rules[0].name, "Won deals");
            assert_eq!(rules[0].trigger, crm_core::automation::Trigger::DealWon);
            assert_eq!(tx.outbox(true).unwrap(), vec![]);
        } else {
            assert!(rules.is_empty(), "no rules before version 6");
        }
        // ----- change feed -----
        let consumers = tx.feed_consumers().unwrap();
        if version >= 9 {
            assert_eq!(consumers.len(), 1);
            assert_eq!(
                (consumers[0].name.as_str(), consumers[0].checkpoint),
                ("erp", 1)
            );
            assert_eq!(
                consumers[0].filter.entity_kinds,
                [crm_core::EntityKind::Deal]
            );
        } else {
            assert!(consumers.is_empty(), "no consumers before version 9");
        }
    }

    /// The V7 round-robin cursor reads back; earlier files have none.
    fn check_cursor_fixture(store: &SqliteStore, version: usize) {
        let tx = store.read().unwrap();
        let cursors = tx.round_robin_cursors().unwrap();
        if version >= 7 {
            let north = TeamId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d6e));
            let maria = UserId::from_uuid(Uuid::from_u128(0x0190f5a27c4e7b1a9d3e2f6a8b9c0d5e));
            assert_eq!(cursors, vec![(north, maria)]);
            // A notify action stored without `to` (as round one wrote
            // them) is for the owner.
            let old = tx.rules().unwrap().remove(1);
            assert_eq!(
                old.actions,
                vec![crm_core::automation::Action::notify("lost")]
            );
            // The fixture's insert bumped the generation once.
            assert_eq!(tx.rules_generation().unwrap(), 1);
        } else {
            assert!(cursors.is_empty());
            // Rules from before V7 start at generation 0.
            assert_eq!(tx.rules_generation().unwrap(), 0);
        }
    }

    /// A database path in a fresh directory of the caller's own; the
    /// directory is deleted when the returned guard is dropped.
    fn temp_path(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix(&format!("crm-schema-{name}-"))
            .tempdir()
            .unwrap();
        let path = dir.path().join("crm.db");
        (dir, path)
    }

    #[test]
    fn every_earlier_version_migrates_to_the_latest() {
        assert_eq!(
            FIXTURES.len(),
            MIGRATIONS.len() + 1,
            "one fixture per version"
        );
        for version in 0..=MIGRATIONS.len() {
            let (dir, path) = temp_path(&format!("v{version}"));
            {
                // Build the file exactly as that version of the library left it.
                let conn = Connection::open(&path).unwrap();
                for (v, sql) in MIGRATIONS.iter().take(version).enumerate() {
                    conn.execute_batch(sql).unwrap();
                    conn.execute_batch(FIXTURES[v + 1]).unwrap();
                }
                if version > 0 {
                    conn.pragma_update(None, "application_id", APPLICATION_ID)
                        .unwrap();
                    conn.pragma_update(None, "user_version", version as i64)
                        .unwrap();
                }
            }
            let store = SqliteStore::open(&path).unwrap();
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
            check_fixture_data(&store, version);
            check_cursor_fixture(&store, version);
            check_key_fixture(&store, version);
            drop(store);
            // Opening again is a no-op.
            let store = SqliteStore::open(&path).unwrap();
            check_fixture_data(&store, version);
            drop(store);
            drop(dir);
        }
    }

    #[test]
    fn newer_schema_is_refused_untouched() {
        let (_dir, path) = temp_path("newer");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(V1).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        match SqliteStore::open(&path) {
            Err(OpenError::TooNew {
                found, supported, ..
            }) => {
                assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            }
            Err(e) => panic!("expected TooNew, got {e}"),
            Ok(_) => panic!("expected TooNew, got a store"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
