//! A consistency check of a whole store, in the spirit of SQLite's
//! `PRAGMA integrity_check`.
//!
//! [`check`] reads every record and the whole audit log through the store
//! traits and returns one [`Finding`] per broken invariant (an empty list
//! when the store is consistent). It never changes anything. What it checks:
//!
//! - **Events per version** ([`Check::Events`]): every version `1..=n` of
//!   every record (customer, pipeline, deal, activity, user, team, segment,
//!   rule, notification, custom-field schema, feed consumer) is accounted for by exactly
//!   one event, in log order, starting with a `created` event at version 1.
//!   An event is either the record's own (its entity and version name the
//!   record) or a write that changed the record as a side effect and lists
//!   it: a customer merge (the merged customer and the moved deals,
//!   activities and people), a pipeline update (the deals it moved to
//!   another stage), a score run (the customers it wrote, and the customer
//!   field schema when it defined fields). An event about a record that
//!   does not exist is a finding, unless the record was deleted (a saved
//!   segment or feed consumer whose last event is `deleted`) or never
//!   stored (a model run).
//! - **Stage history** ([`Check::StageHistory`]): a deal's history starts
//!   with its creation, each entry leaves the stage the previous one
//!   entered, the last one enters the deal's current stage (earlier
//!   entries may name stages a pipeline edit has since removed), it has one
//!   entry per stage-changing event (`stage_changed`, `won`, `lost`,
//!   `reopened`, or a pipeline update that moved it), and the deal's status
//!   is its stage's kind; entry by entry, each history entry moves between
//!   the stages its event records, and no entry is dated before the one
//!   before it.
//! - **References** ([`Check::Reference`]): a deal's customer, pipeline and
//!   current stage; an activity's customer and deal; a person's organisation; a
//!   merged customer's survivor; every owner, assignee, team member, team
//!   manager, segment owner, event actor, rule author and user a rule names;
//!   the rule of every notification and firing; round-robin cursors; the
//!   record of every external key and idempotency key; a feed consumer's
//!   owner.
//! - **Event log** ([`Check::EventLog`]): sequence numbers run 1, 2, 3, …
//!   without a gap, event ids are unique, versions start at 1.
//! - **Values** ([`Check::Value`]): a pipeline's definition is one the
//!   engine would save (unique stage keys, an open, a won and a lost stage,
//!   transitions that reach both); a deal's amount is within
//!   [`MAX_AMOUNT`](crate::limits::MAX_AMOUNT) and its currency's places;
//!   `won_at` is set exactly on won deals, `lost_at` exactly on lost ones,
//!   a lost reason only on a lost deal.
//! - **Counters** ([`Check::Counter`]): the store's last event number is
//!   the log's last; the rules generation is at least
//!   the number of rules; custom-field schemas are at version 1 or later
//!   and custom values fit their entity's schema ([`Check::CustomValues`]);
//!   no feed consumer's checkpoint is past the newest event (it would skip
//!   the events that later get those numbers), and its name is one the
//!   engine accepts ([`Check::Value`]).
//!
//! [`Session::verify`](crate::Session::verify) runs it for an
//! administrator; [`Session::restore`](crate::Session::restore) runs it
//! before committing and refuses a backup that would give an inconsistent
//! store.
//!
//! ```
//! use crm_core::{Actor, Crm, NewCustomer};
//! use crm_store_memory::MemoryStore;
//!
//! let crm = Crm::new(MemoryStore::new());
//! let s = crm.as_actor(Actor::System);
//! s.create_customer(NewCustomer::person("Ada"))?;
//! assert!(s.verify()?.is_empty());
//! # Ok::<(), crm_core::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::actor::Actor;
use crate::custom_field::{CustomValues, FieldSchema};
use crate::deal::DealStatus;
use crate::error::{EntityKind, StoreError};
use crate::event::{EntityRef, Event, EventKind};
use crate::query::{
    ActivityQuery, CustomerFilter, CustomerQuery, DealQuery, EventQuery, PipelineQuery, TeamQuery,
    UserQuery, fetch_all,
};
use crate::segment::SegmentQuery;
use crate::store::ReadTx;

mod feed;
mod records;

/// Which invariant a [`Finding`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// One event per version of every record.
    Events,
    /// A deal's stage history agrees with its events and stage.
    StageHistory,
    /// A reference to another record resolves.
    Reference,
    /// The event log is numbered 1, 2, 3, … with unique ids.
    EventLog,
    /// Counters, cursors and schema versions are sane.
    Counter,
    /// Custom values fit their entity's custom-field schema.
    CustomValues,
    /// A record holds a value the engine refuses on input (a pipeline
    /// definition, a deal's amount or closing fields).
    Value,
}

impl Check {
    /// The lower-case name used in messages and serialised forms.
    pub fn as_str(&self) -> &'static str {
        match self {
            Check::Events => "events",
            Check::StageHistory => "stage_history",
            Check::Reference => "reference",
            Check::EventLog => "event_log",
            Check::Counter => "counter",
            Check::CustomValues => "custom_values",
            Check::Value => "value",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One broken invariant: which record, which check, what is wrong.
///
/// ```
/// use crm_core::error::EntityKind;
/// use crm_core::verify::{Check, Finding};
///
/// let f = Finding::new(EntityKind::Deal, "0190", Check::Reference, "customer 0191 does not exist");
/// assert_eq!(f.to_string(), "deal 0190: customer 0191 does not exist (reference)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// The kind of the record at fault.
    pub entity: EntityKind,
    /// Its id (for an event, the event's id; for a custom-field schema,
    /// the entity kind it describes).
    pub id: String,
    /// Which invariant is broken.
    pub check: Check,
    /// What is wrong, in words.
    pub what: String,
}

impl Finding {
    /// A finding about `entity` `id`.
    pub fn new(
        entity: EntityKind,
        id: impl fmt::Display,
        check: Check,
        what: impl Into<String>,
    ) -> Self {
        Finding {
            entity,
            id: id.to_string(),
            check,
            what: what.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {} ({})",
            self.entity, self.id, self.what, self.check
        )
    }
}

/// How an event touched one record.
#[derive(Debug, Clone, Copy)]
enum Touch {
    /// The record's own event, naming a version.
    Own { version: u64, kind: EventKind },
    /// A side effect of another record's event (one version bump);
    /// `stage` when it moved a deal to another stage.
    Side { stage: bool },
}

/// The records an event changed as a side effect (one version each), and
/// whether it moved them to another stage.
fn side_effects(e: &Event) -> Vec<(EntityRef, bool)> {
    let mut out = Vec::new();
    let change = |field: &str| e.changes.iter().find(|c| c.field == field).map(|c| &c.new);
    let ids = |v: Option<&Value>, kind: EntityKind, out: &mut Vec<(EntityRef, bool)>| {
        if let Some(Value::Array(items)) = v {
            for item in items {
                let (raw, stage) = match item {
                    Value::Object(o) => (o.get("deal"), true),
                    other => (Some(other), false),
                };
                if let Some(id) = raw.and_then(Value::as_str).and_then(|s| s.parse().ok()) {
                    out.push((EntityRef { kind, id }, stage));
                }
            }
        }
    };
    match (e.entity.kind, e.kind) {
        (EntityKind::Customer, EventKind::Merged) => {
            if let Some(id) = change("merged")
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
            {
                out.push((
                    EntityRef {
                        kind: EntityKind::Customer,
                        id,
                    },
                    false,
                ));
            }
            ids(change("moved_deals"), EntityKind::Deal, &mut out);
            ids(change("moved_activities"), EntityKind::Activity, &mut out);
            ids(change("moved_people"), EntityKind::Customer, &mut out);
        }
        (EntityKind::Pipeline, EventKind::Updated) => {
            ids(change("moved_deals"), EntityKind::Deal, &mut out);
        }
        (EntityKind::ModelRun, EventKind::ScoresWritten) => {
            ids(change("written_customers"), EntityKind::Customer, &mut out);
            if matches!(change("defined_fields"), Some(Value::Array(a)) if !a.is_empty()) {
                out.push((
                    EntityRef {
                        kind: EntityKind::FieldSchema,
                        id: FieldSchema::event_id(EntityKind::Customer),
                    },
                    false,
                ));
            }
        }
        _ => {}
    }
    out
}

/// Collects findings.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, entity: EntityKind, id: impl fmt::Display, check: Check, what: String) {
        self.0.push(Finding::new(entity, id, check, what));
    }
}

/// What [`check`] knows of one stored record.
struct Record {
    version: u64,
    label: String,
}

/// Checks the whole store visible to `tx` and returns every finding, in a
/// stable order (by check, then record); empty when the store is
/// consistent. See the [module documentation](self) for what is checked.
pub fn check(tx: &dyn ReadTx) -> Result<Vec<Finding>, StoreError> {
    let mut f = Findings::default();
    let teams = fetch_all(Default::default(), |q: &TeamQuery| tx.teams(q))?;
    let users = fetch_all(Default::default(), |q: &UserQuery| tx.users(q))?;
    let pipelines = fetch_all(Default::default(), |q: &PipelineQuery| tx.pipelines(q))?;
    let customers = fetch_all(
        CustomerFilter {
            include_merged: true,
            ..CustomerFilter::default()
        },
        |q: &CustomerQuery| tx.customers(q),
    )?;
    let deals = fetch_all(Default::default(), |q: &DealQuery| tx.deals(q))?;
    let activities = fetch_all(Default::default(), |q: &ActivityQuery| tx.activities(q))?;
    let segments = fetch_all(Default::default(), |q: &SegmentQuery| tx.segments(q))?;
    let events = fetch_all(Default::default(), |q: &EventQuery| tx.events(q))?;
    let rules = tx.rules()?;
    let outbox = tx.outbox(true)?;
    let firings = tx.firings()?;
    let cursors = tx.round_robin_cursors()?;
    // ----- change feed -----
    let consumers = tx.feed_consumers()?;
    let mut schemas = BTreeMap::new();
    for kind in [EntityKind::Customer, EntityKind::Deal, EntityKind::Activity] {
        if let Some(s) = tx.field_schema(kind)? {
            schemas.insert(kind, s);
        }
    }

    // ----- every record, by reference -----
    let mut records: HashMap<EntityRef, Record> = HashMap::new();
    let mut add = |kind: EntityKind, id: Uuid, version: u64, label: String| {
        records.insert(EntityRef { kind, id }, Record { version, label });
    };
    for t in &teams {
        add(
            EntityKind::Team,
            t.id.as_uuid(),
            t.version,
            t.id.to_string(),
        );
    }
    for u in &users {
        add(
            EntityKind::User,
            u.id.as_uuid(),
            u.version,
            u.id.to_string(),
        );
    }
    for p in &pipelines {
        add(
            EntityKind::Pipeline,
            p.id.as_uuid(),
            p.version,
            p.id.to_string(),
        );
    }
    for c in &customers {
        add(
            EntityKind::Customer,
            c.id.as_uuid(),
            c.version,
            c.id.to_string(),
        );
    }
    for d in &deals {
        add(
            EntityKind::Deal,
            d.id.as_uuid(),
            d.version,
            d.id.to_string(),
        );
    }
    for a in &activities {
        add(
            EntityKind::Activity,
            a.id.as_uuid(),
            a.version,
            a.id.to_string(),
        );
    }
    for s in &segments {
        add(
            EntityKind::Segment,
            s.id.as_uuid(),
            s.version,
            s.id.to_string(),
        );
    }
    for r in &rules {
        add(
            EntityKind::Rule,
            r.id.as_uuid(),
            r.version,
            r.id.to_string(),
        );
    }
    for n in &outbox {
        add(
            EntityKind::Notification,
            n.id.as_uuid(),
            n.version,
            n.id.to_string(),
        );
    }
    for (kind, s) in &schemas {
        add(
            EntityKind::FieldSchema,
            FieldSchema::event_id(*kind),
            s.version,
            kind.to_string(),
        );
    }

    for c in &consumers {
        add(EntityKind::FeedConsumer, c.id, c.version, c.name.clone());
    }

    // ----- the event log -----
    let mut touches: HashMap<EntityRef, Vec<(u64, Touch)>> = HashMap::new();
    let mut deal_events: HashMap<Uuid, Vec<&Event>> = HashMap::new();
    let mut event_ids = HashSet::new();
    for (i, e) in events.iter().enumerate() {
        let expected = i as u64 + 1;
        if e.seq != expected {
            f.push(
                EntityKind::Event,
                e.id,
                Check::EventLog,
                format!("has number {} where number {expected} belongs", e.seq),
            );
        }
        if !event_ids.insert(e.id) {
            f.push(
                EntityKind::Event,
                e.id,
                Check::EventLog,
                "its id is used by an earlier event too".into(),
            );
        }
        if e.version == 0 {
            f.push(
                EntityKind::Event,
                e.id,
                Check::EventLog,
                format!("is about version 0 of {}", e.entity),
            );
        }
        touches.entry(e.entity).or_default().push((
            e.seq,
            Touch::Own {
                version: e.version,
                kind: e.kind,
            },
        ));
        if e.entity.kind == EntityKind::Deal {
            deal_events.entry(e.entity.id).or_default().push(e);
        }
        for (side, stage) in side_effects(e) {
            if side.kind == EntityKind::Deal {
                deal_events.entry(side.id).or_default().push(e);
            }
            touches
                .entry(side)
                .or_default()
                .push((e.seq, Touch::Side { stage }));
        }
    }

    // ----- one event per version -----
    for (r, rec) in &records {
        let list = touches.get(r).map(Vec::as_slice).unwrap_or(&[]);
        events_per_version(&mut f, r.kind, &rec.label, rec.version, list);
    }
    for e in &events {
        if records.contains_key(&e.entity) {
            continue;
        }
        let gone = match e.entity.kind {
            EntityKind::ModelRun => true,
            // A deleted segment (or feed consumer) leaves its events behind.
            EntityKind::Segment | EntityKind::FeedConsumer => touches
                .get(&e.entity)
                .and_then(|l| l.last())
                .is_some_and(|(_, t)| {
                    matches!(
                        t,
                        Touch::Own {
                            kind: EventKind::Deleted,
                            ..
                        }
                    )
                }),
            _ => false,
        };
        if !gone {
            f.push(
                EntityKind::Event,
                e.id,
                Check::Reference,
                format!(
                    "number {} is about {}, which does not exist",
                    e.seq, e.entity
                ),
            );
        }
    }

    // ----- references -----
    let user_ids: HashSet<Uuid> = users.iter().map(|u| u.id.as_uuid()).collect();
    feed::consumers(
        &mut f,
        &consumers,
        events.last().map_or(0, |e| e.seq),
        &user_ids,
    );
    let team_ids: HashSet<Uuid> = teams.iter().map(|t| t.id.as_uuid()).collect();
    let exists = |kind: EntityKind, id: Uuid| records.contains_key(&EntityRef { kind, id });
    let user_ref = |f: &mut Findings,
                    kind: EntityKind,
                    id: &dyn fmt::Display,
                    field: &str,
                    user: Option<crate::id::UserId>| {
        if let Some(u) = user
            && !user_ids.contains(&u.as_uuid())
        {
            f.push(
                kind,
                id,
                Check::Reference,
                format!("its {field} {u} is not a stored user"),
            );
        }
    };
    for t in &teams {
        user_ref(&mut f, EntityKind::Team, &t.id, "manager", t.manager);
    }
    for u in &users {
        for t in &u.teams {
            if !team_ids.contains(&t.as_uuid()) {
                f.push(
                    EntityKind::User,
                    u.id,
                    Check::Reference,
                    format!("it belongs to team {t}, which does not exist"),
                );
            }
        }
    }
    for c in &customers {
        user_ref(&mut f, EntityKind::Customer, &c.id, "owner", c.owner);
        for (field, other) in [
            ("organisation", c.organisation),
            ("merged_into", c.merged_into),
        ] {
            if let Some(o) = other
                && (o == c.id || !exists(EntityKind::Customer, o.as_uuid()))
            {
                f.push(
                    EntityKind::Customer,
                    c.id,
                    Check::Reference,
                    format!("its {field} {o} is not another stored customer"),
                );
            }
        }
        custom_values(&mut f, &schemas, EntityKind::Customer, &c.id, &c.custom);
    }
    let pipeline_of: HashMap<_, _> = pipelines.iter().map(|p| (p.id, p)).collect();
    for d in &deals {
        user_ref(&mut f, EntityKind::Deal, &d.id, "owner", d.owner);
        if !exists(EntityKind::Customer, d.customer.as_uuid()) {
            f.push(
                EntityKind::Deal,
                d.id,
                Check::Reference,
                format!("its customer {} does not exist", d.customer),
            );
        }
        custom_values(&mut f, &schemas, EntityKind::Deal, &d.id, &d.custom);
        let Some(p) = pipeline_of.get(&d.pipeline) else {
            f.push(
                EntityKind::Deal,
                d.id,
                Check::Reference,
                format!("its pipeline {} does not exist", d.pipeline),
            );
            continue;
        };
        match p.stage(&d.stage) {
            None => f.push(
                EntityKind::Deal,
                d.id,
                Check::Reference,
                format!(
                    "its stage '{}' is not a stage of pipeline {}",
                    d.stage, p.id
                ),
            ),
            Some(s) if DealStatus::from(s.kind) != d.status => f.push(
                EntityKind::Deal,
                d.id,
                Check::StageHistory,
                format!(
                    "its status is {} but its stage '{}' is a {} stage",
                    d.status, d.stage, s.kind
                ),
            ),
            Some(_) => {}
        }
    }
    for d in &deals {
        let list = touches
            .get(&EntityRef {
                kind: EntityKind::Deal,
                id: d.id.as_uuid(),
            })
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        stage_history(&mut f, d, list);
        let own = deal_events
            .get(&d.id.as_uuid())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        records::stage_entries(&mut f, d, own);
        records::deal(&mut f, d);
    }
    for p in &pipelines {
        records::pipeline(&mut f, p);
    }
    for a in &activities {
        user_ref(&mut f, EntityKind::Activity, &a.id, "owner", a.owner);
        if let Some(c) = a.customer
            && !exists(EntityKind::Customer, c.as_uuid())
        {
            f.push(
                EntityKind::Activity,
                a.id,
                Check::Reference,
                format!("its customer {c} does not exist"),
            );
        }
        if let Some(d) = a.deal
            && !exists(EntityKind::Deal, d.as_uuid())
        {
            f.push(
                EntityKind::Activity,
                a.id,
                Check::Reference,
                format!("its deal {d} does not exist"),
            );
        }
        custom_values(&mut f, &schemas, EntityKind::Activity, &a.id, &a.custom);
    }
    for s in &segments {
        user_ref(&mut f, EntityKind::Segment, &s.id, "owner", s.owner);
    }
    for e in &events {
        if let Actor::User(u) = e.actor {
            user_ref(&mut f, EntityKind::Event, &e.id, "actor", Some(u));
        }
    }
    for r in &rules {
        if let Actor::User(u) = r.author {
            user_ref(&mut f, EntityKind::Rule, &r.id, "author", Some(u));
        }
        for a in &r.actions {
            let (user, team) = a.references();
            user_ref(&mut f, EntityKind::Rule, &r.id, "action's user", user);
            if let Some(t) = team
                && !team_ids.contains(&t.as_uuid())
            {
                f.push(
                    EntityKind::Rule,
                    r.id,
                    Check::Reference,
                    format!("an action names team {t}, which does not exist"),
                );
            }
        }
    }
    let subject_exists = |s: &EntityRef| {
        !matches!(
            s.kind,
            EntityKind::Customer | EntityKind::Deal | EntityKind::Activity
        ) || records.contains_key(s)
    };
    for n in &outbox {
        if !exists(EntityKind::Rule, n.rule.as_uuid()) {
            f.push(
                EntityKind::Notification,
                n.id,
                Check::Reference,
                format!("it comes from rule {}, which does not exist", n.rule),
            );
        }
        user_ref(
            &mut f,
            EntityKind::Notification,
            &n.id,
            "recipient",
            n.recipient,
        );
        if !subject_exists(&n.subject) {
            f.push(
                EntityKind::Notification,
                n.id,
                Check::Reference,
                format!("it is about {}, which does not exist", n.subject),
            );
        }
    }
    for x in &firings {
        let label = firing_label(x);
        if !exists(EntityKind::Rule, x.rule.as_uuid()) {
            f.push(
                EntityKind::Rule,
                &label,
                Check::Reference,
                format!("a firing of rule {}, which does not exist", x.rule),
            );
        }
        if !subject_exists(&x.subject) {
            f.push(
                EntityKind::Rule,
                &label,
                Check::Reference,
                format!("a firing on {}, which does not exist", x.subject),
            );
        }
    }
    // External keys and idempotency keys name a stored customer, deal or
    // activity of their kind (uniqueness is the store's own index).
    let keyed = |kind: EntityKind, id: Uuid| {
        matches!(
            kind,
            EntityKind::Customer | EntityKind::Deal | EntityKind::Activity
        ) && records.contains_key(&EntityRef { kind, id })
    };
    for k in tx.external_keys()? {
        if !keyed(k.entity, k.record) {
            f.push(
                k.entity,
                k.record,
                Check::Reference,
                format!(
                    "external key {} is held by {} {}, which does not exist",
                    k.key, k.entity, k.record
                ),
            );
        }
    }
    for k in tx.idempotency_records()? {
        if !keyed(k.entity, k.record) {
            f.push(
                k.entity,
                k.record,
                Check::Reference,
                format!(
                    "idempotency key {:?} names {} {}, which does not exist",
                    k.key, k.entity, k.record
                ),
            );
        }
    }
    for (team, user) in &cursors {
        if !team_ids.contains(&team.as_uuid()) || !user_ids.contains(&user.as_uuid()) {
            f.push(
                EntityKind::Team,
                team,
                Check::Counter,
                format!("its round-robin cursor names team {team} and user {user}, and one of them does not exist"),
            );
        }
    }

    // ----- counters -----
    let last = tx.last_event_seq()?;
    let newest = events.last().map(|e| e.seq).unwrap_or(0);
    if last != newest || last != events.len() as u64 {
        f.push(
            EntityKind::Event,
            "sequence",
            Check::Counter,
            format!(
                "the store's last event number is {last}, and the log holds {} event(s) ending at number {newest}",
                events.len()
            ),
        );
    }
    let generation = tx.rules_generation()?;
    if generation < rules.len() as u64 {
        f.push(
            EntityKind::Rule,
            "generation",
            Check::Counter,
            format!(
                "the rules generation is {generation}, below the number of rules ({})",
                rules.len()
            ),
        );
    }
    for (kind, s) in &schemas {
        if s.entity != *kind {
            f.push(
                EntityKind::FieldSchema,
                kind,
                Check::Counter,
                format!("the schema stored for {kind} describes {}", s.entity),
            );
        }
    }

    let mut out = f.0;
    out.sort();
    Ok(out)
}

/// How a finding names a firing (which has no id of its own): its rule,
/// subject and episode. Restore uses it to find the firing's line.
pub(crate) fn firing_label(x: &crate::automation::Firing) -> String {
    format!("{} on {} ({})", x.rule, x.subject, x.episode)
}

/// Walks the events that touched one record, in log order.
fn events_per_version(
    f: &mut Findings,
    kind: EntityKind,
    id: &str,
    version: u64,
    list: &[(u64, Touch)],
) {
    if version == 0 {
        f.push(kind, id, Check::Events, "it is at version 0".into());
        return;
    }
    let mut next = 1u64;
    for (seq, touch) in list {
        match *touch {
            Touch::Own {
                version: v,
                kind: k,
            } => {
                if v != next {
                    f.push(
                        kind,
                        id,
                        Check::Events,
                        format!("event number {seq} is about version {v} where version {next} comes next"),
                    );
                    return;
                }
                if (next == 1) != (k == EventKind::Created) {
                    f.push(
                        kind,
                        id,
                        Check::Events,
                        format!("event number {seq} ({k}) is about version {v}; only version 1 is created"),
                    );
                    return;
                }
            }
            // A score run defines the customer fields when there were none.
            Touch::Side { .. } if next == 1 && kind != EntityKind::FieldSchema => {
                f.push(
                    kind,
                    id,
                    Check::Events,
                    format!("event number {seq} changed it before it was created"),
                );
                return;
            }
            Touch::Side { .. } => {}
        }
        next += 1;
    }
    let accounted = next - 1;
    if accounted != version {
        f.push(
            kind,
            id,
            Check::Events,
            format!("it is at version {version}, and the log accounts for {accounted} version(s)"),
        );
    }
}

/// A deal's history against its events.
fn stage_history(f: &mut Findings, d: &crate::deal::Deal, list: &[(u64, Touch)]) {
    let moves = list
        .iter()
        .filter(|(_, t)| match t {
            Touch::Own { kind, .. } => matches!(
                kind,
                EventKind::StageChanged | EventKind::Won | EventKind::Lost | EventKind::Reopened
            ),
            // A pipeline update's moves change the history; a merge only
            // changes the deal's customer.
            Touch::Side { stage } => *stage,
        })
        .count();
    let Some(first) = d.history.first() else {
        f.push(
            EntityKind::Deal,
            d.id,
            Check::StageHistory,
            "its stage history is empty".into(),
        );
        return;
    };
    if first.from.is_some() {
        f.push(
            EntityKind::Deal,
            d.id,
            Check::StageHistory,
            "its stage history does not start with its creation".into(),
        );
    }
    for pair in d.history.windows(2) {
        if pair[1].from.as_ref() != Some(&pair[0].to) {
            f.push(
                EntityKind::Deal,
                d.id,
                Check::StageHistory,
                format!(
                    "its stage history enters '{}' and then leaves {:?}",
                    pair[0].to,
                    pair[1].from.as_ref().map(|k| k.to_string())
                ),
            );
            return;
        }
    }
    if d.history.last().map(|h| &h.to) != Some(&d.stage) {
        f.push(
            EntityKind::Deal,
            d.id,
            Check::StageHistory,
            format!("its stage history does not end in its stage '{}'", d.stage),
        );
    }
    if d.history.len() != moves + 1 {
        f.push(
            EntityKind::Deal,
            d.id,
            Check::StageHistory,
            format!(
                "its stage history has {} entries, and the log records its creation and {moves} stage change(s)",
                d.history.len()
            ),
        );
    }
}

/// Custom values against their entity's schema.
fn custom_values(
    f: &mut Findings,
    schemas: &BTreeMap<EntityKind, FieldSchema>,
    kind: EntityKind,
    id: &dyn fmt::Display,
    values: &CustomValues,
) {
    let empty;
    let schema = match schemas.get(&kind) {
        Some(s) => s,
        None => {
            empty = FieldSchema::empty(kind);
            &empty
        }
    };
    if let Err(e) = schema.check(values, true) {
        f.push(kind, id, Check::CustomValues, e.to_string());
    }
}
