//! Backup and restore through the facade: see [`crate::backup`].

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};

use super::Session;
use crate::access::{Access, Operation};
use crate::backup::{BackupCounts, FORMAT, Header, Line, RoundRobinCursor, VERSION};
use crate::custom_field::FieldSchema;
use crate::error::{EntityKind, Error, Result};
use crate::event::NewEvent;
use crate::id::{CustomerId, DealId, PipelineId, RuleId};
use crate::pipeline::StageKey;
use crate::query::{
    ActivityQuery, CustomerFilter, CustomerQuery, DealQuery, EventQuery, PipelineQuery, Query,
    for_each,
};
use crate::query::{TeamQuery, UserQuery};
use crate::segment::SegmentQuery;
use crate::store::Store;

impl<S: Store> Session<'_, S> {
    /// Writes a full backup of the store (see [`crate::backup`]) from one
    /// consistent read, and returns what it holds. Only an actor who may
    /// do everything (System, or a user whose roles grant write scope
    /// `all` everywhere and hide nothing) may take one: it holds every
    /// record.
    ///
    /// ```
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let source = Crm::new(MemoryStore::new());
    /// let s = source.as_actor(Actor::System);
    /// s.create_customer(NewCustomer::person("Ada"))?;
    /// let mut file = Vec::new();
    /// s.backup(&mut file)?;
    ///
    /// let copy = Crm::new(MemoryStore::new());
    /// let counts = copy.as_actor(Actor::System).restore(file.as_slice())?;
    /// assert_eq!((counts.customers, counts.events), (1, 1));
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn backup(&self, out: impl Write) -> Result<BackupCounts> {
        self.with_access(|tx, access| {
            // A backup holds every record of every owner.
            access.check_admin(Operation::BackUp)?;
            let mut out = std::io::BufWriter::new(out);
            let mut counts = BackupCounts::default();
            let mut write = |line: Line| -> Result<()> {
                counts.count(&line);
                serde_json::to_writer(&mut out, &line).map_err(|e| write_failed(e.to_string()))?;
                out.write_all(b"\n")
                    .map_err(|e| write_failed(e.to_string()))
            };
            write(Line::Header(Header {
                format: FORMAT.to_owned(),
                version: VERSION,
            }))?;
            for_each(
                Query::new(),
                |q: &TeamQuery| tx.teams(q),
                |t| write(Line::Team(t)),
            )?;
            for_each(
                Query::new(),
                |q: &UserQuery| tx.users(q),
                |u| write(Line::User(u)),
            )?;
            for kind in [EntityKind::Customer, EntityKind::Deal, EntityKind::Activity] {
                if let Some(schema) = tx.field_schema(kind)? {
                    write(Line::FieldSchema(schema))?;
                }
            }
            for_each(
                Query::new(),
                |q: &PipelineQuery| tx.pipelines(q),
                |p| write(Line::Pipeline(p)),
            )?;
            let everyone: CustomerQuery = Query::new().filter(CustomerFilter {
                include_merged: true,
                ..CustomerFilter::default()
            });
            for_each(everyone, |q| tx.customers(q), |c| write(Line::Customer(c)))?;
            for_each(
                Query::new(),
                |q: &DealQuery| tx.deals(q),
                |d| write(Line::Deal(d)),
            )?;
            for_each(
                Query::new(),
                |q: &ActivityQuery| tx.activities(q),
                |a| write(Line::Activity(a)),
            )?;
            for_each(
                Query::new(),
                |q: &SegmentQuery| tx.segments(q),
                |s| write(Line::Segment(s)),
            )?;
            for_each(
                Query::new(),
                |q: &EventQuery| tx.events(q),
                |e| write(Line::Event(e)),
            )?;
            // ----- automation (format version 2) -----
            for r in tx.rules()? {
                write(Line::Rule(r))?;
            }
            for n in tx.outbox(true)? {
                write(Line::Notification(n))?;
            }
            for f in tx.firings()? {
                write(Line::Firing(f))?;
            }
            for (team, user) in tx.round_robin_cursors()? {
                write(Line::RoundRobinCursor(RoundRobinCursor { team, user }))?;
            }
            // ----- external keys and idempotency keys (format version 3) -----
            for k in tx.external_keys()? {
                write(Line::ExternalKey(k))?;
            }
            for k in tx.idempotency_records()? {
                write(Line::IdempotencyKey(k))?;
            }
            // ----- change feed (format version 3) -----
            for c in tx.feed_consumers()? {
                write(Line::FeedConsumer(c))?;
            }
            out.flush().map_err(|e| write_failed(e.to_string()))?;
            Ok(counts)
        })
    }

    /// Restores a backup into this store, which must be empty, in one
    /// transaction (the same rights as [`Session::backup`] are needed): on any problem (a malformed line, a reference that
    /// does not resolve, a gap in the event numbers) nothing is restored
    /// and the error names the line. Before committing it runs the
    /// consistency check ([`crate::verify`]) on the restored store and
    /// refuses the backup on any finding, naming the line of the record at
    /// fault (0 when no one line holds it) and the finding.
    pub fn restore(&self, input: impl BufRead) -> Result<BackupCounts> {
        let mut tx = self.crm.store.write()?;
        Access::load(&*tx, self.actor)?.check_admin(Operation::Restore)?;
        let nothing: CustomerFilter = CustomerFilter {
            include_merged: true,
            ..CustomerFilter::default()
        };
        let empty = tx.count_customers(&nothing)? == 0
            && tx.pipelines(&Query::new().limit(1))?.items.is_empty()
            && tx.count_deals(&Default::default())? == 0
            && tx.activities(&Query::new().limit(1))?.items.is_empty()
            && tx.segments(&Query::new().limit(1))?.items.is_empty()
            && tx.users(&Query::new().limit(1))?.items.is_empty()
            && tx.teams(&Query::new().limit(1))?.items.is_empty()
            && tx.last_event_seq()? == 0
            && tx.rules()?.is_empty()
            && tx.outbox(true)?.is_empty()
            && tx.feed_consumers()?.is_empty();
        if !empty {
            return Err(Error::Backup {
                line: 0,
                reason: "a backup is restored into an empty store only, and this one holds records"
                    .into(),
            });
        }
        let mut counts = BackupCounts::default();
        let mut schemas: HashMap<EntityKind, FieldSchema> = HashMap::new();
        let schema_of = |schemas: &HashMap<EntityKind, FieldSchema>, kind| {
            schemas
                .get(&kind)
                .cloned()
                .unwrap_or_else(|| FieldSchema::empty(kind))
        };
        let mut stages: HashMap<PipelineId, Vec<StageKey>> = HashMap::new();
        let mut customers: HashSet<CustomerId> = HashSet::new();
        // References among customers may point forward: checked at the end.
        let mut customer_links: Vec<(u64, &'static str, CustomerId)> = Vec::new();
        let mut deals: HashSet<DealId> = HashSet::new();
        let mut rules: HashSet<RuleId> = HashSet::new();
        let mut lines_read = 0u64;
        // Where each record came from, to name the line of a finding.
        let mut line_of: HashMap<(EntityKind, String), u64> = HashMap::new();
        let mut input = input;
        let mut raw = Vec::new();
        for n in 1u64.. {
            let fail = |reason: String| Error::Backup { line: n, reason };
            let Some(text) = next_line(&mut input, &mut raw)
                .map_err(|e| fail(format!("cannot be read: {e}")))?
            else {
                break;
            };
            lines_read = n;
            let text = text.map_err(fail)?;
            if text.trim().is_empty() {
                continue;
            }
            let line: Line = crate::strict_json::from_str(text)
                .map_err(|e| fail(format!("is not a backup record: {e}")))?;
            if n == 1 {
                match &line {
                    Line::Header(h) if h.format == FORMAT && h.version <= VERSION => continue,
                    Line::Header(h) if h.format == FORMAT => {
                        return Err(fail(format!(
                            "the backup has format version {}, and this library reads versions up to {VERSION}; upgrade it to restore this backup",
                            h.version
                        )));
                    }
                    _ => {
                        return Err(fail(format!(
                            "the first line must be the '{FORMAT}' header"
                        )));
                    }
                }
            }
            counts.count(&line);
            if let Some(key) = record_key(&line) {
                line_of.entry(key).or_insert(n);
            }
            match line {
                Line::Header(_) => return Err(fail("a second header".into())),
                Line::Team(t) => tx.insert_team(&t)?,
                Line::User(u) => tx.insert_user(&u)?,
                Line::FieldSchema(schema) => {
                    tx.put_field_schema(&schema)?;
                    schemas.insert(schema.entity, schema);
                }
                Line::Segment(segment) => tx.insert_segment(&segment)?,
                Line::Pipeline(p) => {
                    stages.insert(p.id, p.stages.iter().map(|s| s.key.clone()).collect());
                    tx.insert_pipeline(&p)?;
                }
                Line::Customer(c) => {
                    if let Some(o) = c.organisation {
                        customer_links.push((n, "organisation", o));
                    }
                    if let Some(m) = c.merged_into {
                        customer_links.push((n, "merged_into", m));
                    }
                    schema_of(&schemas, EntityKind::Customer)
                        .check(&c.custom, true)
                        .map_err(|e| fail(format!("customer {}: {e}", c.id)))?;
                    customers.insert(c.id);
                    tx.insert_customer(&c)?;
                }
                Line::Deal(d) => {
                    if !customers.contains(&d.customer) {
                        return Err(fail(format!(
                            "deal {} belongs to customer {}, which is not earlier in the backup",
                            d.id, d.customer
                        )));
                    }
                    let keys = stages.get(&d.pipeline).ok_or_else(|| {
                        fail(format!(
                            "deal {} is in pipeline {}, which is not earlier in the backup",
                            d.id, d.pipeline
                        ))
                    })?;
                    // Only the current stage: earlier history entries may
                    // name stages a pipeline edit has since removed.
                    if !keys.contains(&d.stage) {
                        let k = &d.stage;
                        return Err(fail(format!(
                            "deal {} refers to stage '{k}', which its pipeline does not have",
                            d.id
                        )));
                    }
                    schema_of(&schemas, EntityKind::Deal)
                        .check(&d.custom, true)
                        .map_err(|e| fail(format!("deal {}: {e}", d.id)))?;
                    deals.insert(d.id);
                    tx.insert_deal(&d)?;
                }
                Line::Activity(a) => {
                    if let Some(c) = a.customer.filter(|c| !customers.contains(c)) {
                        return Err(fail(format!(
                            "activity {} is about customer {c}, which is not earlier in the backup",
                            a.id
                        )));
                    }
                    if let Some(d) = a.deal.filter(|d| !deals.contains(d)) {
                        return Err(fail(format!(
                            "activity {} is about deal {d}, which is not earlier in the backup",
                            a.id
                        )));
                    }
                    schema_of(&schemas, EntityKind::Activity)
                        .check(&a.custom, true)
                        .map_err(|e| fail(format!("activity {}: {e}", a.id)))?;
                    tx.insert_activity(&a)?;
                }
                Line::Event(e) => {
                    let seq = e.seq;
                    let stored = tx.append_event(NewEvent {
                        id: e.id,
                        at: e.at,
                        actor: e.actor,
                        entity: e.entity,
                        version: e.version,
                        kind: e.kind,
                        changes: e.changes,
                    })?;
                    if stored.seq != seq {
                        return Err(fail(format!(
                            "event number {seq} comes where number {} belongs: the log has a gap or is out of order",
                            stored.seq
                        )));
                    }
                }
                Line::Rule(r) => {
                    rules.insert(r.id);
                    tx.insert_rule(&r)?;
                }
                Line::Notification(note) => {
                    if !rules.contains(&note.rule) {
                        return Err(fail(format!(
                            "notification {} comes from rule {}, which is not earlier in the backup",
                            note.id, note.rule
                        )));
                    }
                    tx.insert_notification(&note)?;
                }
                Line::Firing(f) => {
                    if !rules.contains(&f.rule) {
                        return Err(fail(format!(
                            "a firing of rule {}, which is not earlier in the backup",
                            f.rule
                        )));
                    }
                    tx.record_firing(&f)?;
                }
                Line::RoundRobinCursor(c) => {
                    if tx.team(c.team)?.is_none() || tx.user(c.user)?.is_none() {
                        return Err(fail(format!(
                            "the round-robin cursor of team {} names a team or user ({}) not earlier in the backup",
                            c.team, c.user
                        )));
                    }
                    tx.set_round_robin_cursor(c.team, c.user)?;
                }
                Line::ExternalKey(k) => {
                    if !keyed_record_exists(&*tx, k.entity, k.record)? {
                        return Err(fail(format!(
                            "external key {} of {} {}, which is not earlier in the backup",
                            k.key, k.entity, k.record
                        )));
                    }
                    let mut keys = tx.external_keys_of(k.entity, k.record)?;
                    keys.push(k.key.clone());
                    keys.sort();
                    keys.dedup();
                    tx.set_external_keys(k.entity, k.record, &keys)
                        .map_err(|e| fail(e.to_string()))?;
                }
                Line::IdempotencyKey(k) => {
                    if !keyed_record_exists(&*tx, k.entity, k.record)? {
                        return Err(fail(format!(
                            "idempotency key {:?} of {} {}, which is not earlier in the backup",
                            k.key, k.entity, k.record
                        )));
                    }
                    tx.insert_idempotency_record(&k)
                        .map_err(|e| fail(e.to_string()))?;
                }
                // Checked against the restored log by the consistency
                // check below (a checkpoint past the newest event).
                Line::FeedConsumer(c) => tx.insert_feed_consumer(&c)?,
            }
        }
        if lines_read == 0 {
            return Err(Error::Backup {
                line: 0,
                reason: "the file is empty".into(),
            });
        }
        if let Some((line, field, id)) = customer_links
            .iter()
            .find(|(_, _, id)| !customers.contains(id))
        {
            return Err(Error::Backup {
                line: *line,
                reason: format!("the customer's {field} {id} is not in the backup"),
            });
        }
        // The backup's records each look right; the whole must be too.
        let findings = crate::verify::check(&*tx)?;
        if let Some(first) = findings.first() {
            let line = line_of
                .get(&(first.entity, first.id.clone()))
                .copied()
                .unwrap_or(0);
            let more = match findings.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more finding(s))"),
            };
            return Err(Error::Backup {
                line,
                reason: format!("the restored store would be inconsistent: {first}{more}"),
            });
        }
        tx.commit()?;
        Ok(counts)
    }
}

/// The (kind, id) a backup line holds, as [`crate::verify::Finding`]s name
/// records.
fn record_key(line: &Line) -> Option<(EntityKind, String)> {
    let key = match line {
        Line::Header(_) => return None,
        Line::Firing(x) => (EntityKind::Rule, crate::verify::firing_label(x)),
        Line::Team(t) => (EntityKind::Team, t.id.to_string()),
        Line::User(u) => (EntityKind::User, u.id.to_string()),
        Line::FieldSchema(s) => (EntityKind::FieldSchema, s.entity.to_string()),
        Line::Pipeline(p) => (EntityKind::Pipeline, p.id.to_string()),
        Line::Customer(c) => (EntityKind::Customer, c.id.to_string()),
        Line::Deal(d) => (EntityKind::Deal, d.id.to_string()),
        Line::Activity(a) => (EntityKind::Activity, a.id.to_string()),
        Line::Segment(s) => (EntityKind::Segment, s.id.to_string()),
        Line::Event(e) => (EntityKind::Event, e.id.to_string()),
        Line::Rule(r) => (EntityKind::Rule, r.id.to_string()),
        Line::Notification(n) => (EntityKind::Notification, n.id.to_string()),
        Line::RoundRobinCursor(c) => (EntityKind::Team, c.team.to_string()),
        Line::ExternalKey(k) => (k.entity, k.record.to_string()),
        Line::IdempotencyKey(k) => (k.entity, k.record.to_string()),
        Line::FeedConsumer(c) => (EntityKind::FeedConsumer, c.name.clone()),
    };
    Some(key)
}

/// Whether the customer, deal or activity `id` is stored.
fn keyed_record_exists(
    tx: &dyn crate::store::ReadTx,
    entity: EntityKind,
    id: uuid::Uuid,
) -> Result<bool> {
    Ok(match entity {
        EntityKind::Customer => tx.customer(crate::id::CustomerId::from_uuid(id))?.is_some(),
        EntityKind::Deal => tx.deal(crate::id::DealId::from_uuid(id))?.is_some(),
        EntityKind::Activity => tx.activity(crate::id::ActivityId::from_uuid(id))?.is_some(),
        _ => false,
    })
}

fn write_failed(reason: String) -> Error {
    Error::Backup {
        line: 0,
        reason: format!("writing the backup failed: {reason}"),
    }
}

/// The next line of a backup (without its line break) in `buf`, read
/// without ever holding more than
/// [`MAX_BACKUP_LINE_BYTES`](crate::limits::MAX_BACKUP_LINE_BYTES) + 1
/// bytes of it: `None` at the end, `Some(Err(why))` for a line past the
/// bound or not UTF-8.
fn next_line<'b>(
    input: &mut impl BufRead,
    buf: &'b mut Vec<u8>,
) -> std::io::Result<Option<std::result::Result<&'b str, String>>> {
    use std::io::Read;
    let max = crate::limits::MAX_BACKUP_LINE_BYTES;
    buf.clear();
    let read = input.take(max as u64 + 2).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.len() > max {
        return Ok(Some(Err(format!(
            "is longer than {max} bytes, the bound of one backup line"
        ))));
    }
    Ok(Some(std::str::from_utf8(buf).map_err(|e| {
        format!("cannot be read: it is not UTF-8 ({e})")
    })))
}
