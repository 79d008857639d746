//! External keys, upserts, caller-ID lookups and idempotent creates
//! through the facade (see [`crate::external_key`] for the contract).
//!
//! Every write here goes through the ordinary create and update paths of
//! [`Batch`]: an upsert only decides which one to run and with what input,
//! so owners, guards, the closed-deal freeze, custom-field schemas and
//! access scopes hold exactly as they do for a create or an update.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::Session;
use super::batch::{Batch, entity};
use super::reads;
use crate::access::{Access, Operation, Resource};
use crate::activity::{Activity, NewActivity};
use crate::contact::{Email, Phone};
use crate::customer::{Customer, CustomerPatch, NewCustomer, PartyKind};
use crate::deal::{Deal, DealPatch, NewDeal};
use crate::error::{EntityKind, Error, Result, StoreError};
use crate::event::{Changes, EventKind};
use crate::external_key::{
    self, ActivityUpsert, CustomerUpsert, DealUpsert, ExternalKey, IdempotencyRecord, KeyedRecord,
    UpsertMode, UpsertOutcome, Upserted,
};
use crate::id::{ActivityId, CustomerId, DealId};
use crate::limits;
use crate::store::{ReadTx, Store};
use crate::tag::Tag;

/// Whether the actor may read the record `id` of kind `entity`.
fn readable(tx: &dyn ReadTx, acc: &Access, entity: EntityKind, id: Uuid) -> Result<bool> {
    Ok(match entity {
        EntityKind::Customer => {
            reads::customer_in_scope(tx, acc, CustomerId::from_uuid(id)).is_ok()
        }
        EntityKind::Deal => reads::deal_in_scope(tx, acc, DealId::from_uuid(id)).is_ok(),
        EntityKind::Activity => {
            reads::activity_in_scope(tx, acc, ActivityId::from_uuid(id)).is_ok()
        }
        _ => false,
    })
}

fn key_not_found(entity: EntityKind, key: &ExternalKey) -> Error {
    Error::ExternalKeyNotFound {
        entity,
        system: key.system().to_owned(),
        key: key.key().to_owned(),
    }
}

fn key_taken(entity: EntityKind, key: &ExternalKey, holder: Option<Uuid>) -> Error {
    Error::ExternalKeyTaken {
        entity,
        system: key.system().to_owned(),
        key: key.key().to_owned(),
        holder: holder.map(|h| h.to_string()),
    }
}

/// The record holding `key` that the actor may read, if any; a key held
/// by a record out of reach is reported without naming it.
fn holder_in_scope(
    tx: &dyn ReadTx,
    acc: &Access,
    entity: EntityKind,
    key: &ExternalKey,
) -> Result<Option<Uuid>> {
    match tx.external_key_holder(entity, key)? {
        None => Ok(None),
        Some(h) if readable(tx, acc, entity, h)? => Ok(Some(h)),
        // Out of reach: the actor learns only that the key is taken, and
        // only where it tries to use it (see `Batch::find_holder`).
        Some(_) => Err(key_taken(entity, key, None)),
    }
}

impl Batch<'_> {
    /// Replaces the stored keys of a record, turning the store's refusal
    /// of a taken key into [`Error::ExternalKeyTaken`] (naming the holder
    /// only when the actor may read it).
    pub(super) fn store_keys(
        &mut self,
        kind: EntityKind,
        id: Uuid,
        keys: &[ExternalKey],
    ) -> Result<()> {
        match self.tx.set_external_keys(kind, id, keys) {
            Ok(()) => Ok(()),
            Err(StoreError::KeyTaken {
                entity,
                system,
                key,
                holder,
            }) => {
                let shown = Uuid::parse_str(&holder)
                    .ok()
                    .filter(|h| readable(&*self.tx, &self.access, entity, *h).unwrap_or(false));
                Err(Error::ExternalKeyTaken {
                    entity,
                    system,
                    key,
                    holder: shown.map(|h| h.to_string()),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// For a create carrying an idempotency key: the id of the record the
    /// first create with that key made (a retry), or `None` (a first
    /// create). The same key with a different input is refused.
    pub(super) fn idempotent_replay(
        &self,
        kind: EntityKind,
        key: Option<&str>,
        fingerprint: &str,
    ) -> Result<Option<Uuid>> {
        let Some(key) = key else { return Ok(None) };
        external_key::check_idempotency_key(kind, key)?;
        let Some(stored) = self.tx.idempotency_record(kind, key)? else {
            return Ok(None);
        };
        if stored.fingerprint != fingerprint {
            return Err(Error::invalid(
                kind,
                "idempotency_key",
                key,
                "this key was used by an earlier create with a different input; use a new key for a new record",
            ));
        }
        if !readable(&*self.tx, &self.access, kind, stored.record)? {
            return Err(Error::invalid(
                kind,
                "idempotency_key",
                key,
                "this key was used by an earlier create whose record you may not read",
            ));
        }
        Ok(Some(stored.record))
    }

    /// Stores the idempotency key of a first create, in its transaction.
    pub(super) fn remember_idempotency(
        &mut self,
        kind: EntityKind,
        key: Option<&str>,
        record: Uuid,
        fingerprint: String,
    ) -> Result<()> {
        let Some(key) = key else { return Ok(()) };
        let now = self.now();
        self.tx.insert_idempotency_record(&IdempotencyRecord {
            entity: kind,
            key: key.to_owned(),
            record,
            fingerprint,
            created_at: now,
        })?;
        Ok(())
    }

    /// The record an upsert in `mode` updates (`Some`) or `None` when it
    /// creates; the errors the mode makes of a missing or a held key.
    fn find_holder(
        &self,
        kind: EntityKind,
        key: &ExternalKey,
        mode: UpsertMode,
        expected_version: Option<u64>,
    ) -> Result<Option<Uuid>> {
        let holder = match holder_in_scope(&*self.tx, &self.access, kind, key) {
            // A record out of reach holds it: to an update it is missing.
            Err(_) if mode == UpsertMode::UpdateOnly => return Err(key_not_found(kind, key)),
            other => other?,
        };
        match (holder, mode) {
            (None, UpsertMode::UpdateOnly) => Err(key_not_found(kind, key)),
            // Nothing to compare a version with.
            (None, _) if expected_version.is_some() => Err(key_not_found(kind, key)),
            (Some(h), UpsertMode::CreateOnly) => Err(key_taken(kind, key, Some(h))),
            (h, _) => Ok(h),
        }
    }

    /// Creates or updates the customer holding `up.key`. See
    /// [`Session::upsert_customer`].
    pub fn upsert_customer(&mut self, up: CustomerUpsert) -> Result<Upserted<Customer>> {
        let CustomerUpsert {
            key,
            mode,
            expected_version,
            record: mut input,
        } = up;
        match self.find_holder(EntityKind::Customer, &key, mode, expected_version)? {
            None => {
                input.external_keys.push(key);
                let record = self.create_customer(input)?;
                Ok(Upserted {
                    record,
                    outcome: UpsertOutcome::Created,
                })
            }
            Some(h) => {
                let id = CustomerId::from_uuid(h);
                let current = reads::customer_in_scope(&*self.tx, &self.access, id)?;
                let patch = customer_patch(&current, &input)?;
                let version = expected_version.unwrap_or(current.version);
                let record = self.update_customer(id, version, patch)?;
                Ok(Upserted {
                    outcome: outcome(current.version, record.version),
                    record,
                })
            }
        }
    }

    /// Creates or updates the deal holding `up.key`. See
    /// [`Session::upsert_deal`].
    pub fn upsert_deal(&mut self, up: DealUpsert) -> Result<Upserted<Deal>> {
        let DealUpsert {
            key,
            mode,
            expected_version,
            record: mut input,
        } = up;
        match self.find_holder(EntityKind::Deal, &key, mode, expected_version)? {
            None => {
                input.external_keys.push(key);
                let record = self.create_deal(input)?;
                Ok(Upserted {
                    record,
                    outcome: UpsertOutcome::Created,
                })
            }
            Some(h) => {
                let id = DealId::from_uuid(h);
                let current = reads::deal_in_scope(&*self.tx, &self.access, id)?;
                let patch = deal_patch(&current, &input)?;
                let version = expected_version.unwrap_or(current.version);
                let record = self.update_deal(id, version, patch)?;
                Ok(Upserted {
                    outcome: outcome(current.version, record.version),
                    record,
                })
            }
        }
    }

    /// Logs the activity holding `up.key` unless it is logged already.
    /// See [`Session::upsert_activity`].
    pub fn upsert_activity(&mut self, up: ActivityUpsert) -> Result<Upserted<Activity>> {
        let ActivityUpsert {
            key,
            mode,
            expected_version,
            record: mut input,
        } = up;
        match self.find_holder(EntityKind::Activity, &key, mode, expected_version)? {
            None => {
                input.external_keys.push(key);
                let record = self.log_activity(input)?;
                Ok(Upserted {
                    record,
                    outcome: UpsertOutcome::Created,
                })
            }
            Some(h) => {
                let id = ActivityId::from_uuid(h);
                let mut current = reads::activity_in_scope(&*self.tx, &self.access, id)?;
                Self::check_version(
                    EntityKind::Activity,
                    id,
                    expected_version.unwrap_or(current.version),
                    current.version,
                )?;
                check_activity_unchanged(&current, input)?;
                self.access.redact_activity(&mut current);
                Ok(Upserted {
                    record: current,
                    outcome: UpsertOutcome::Unchanged,
                })
            }
        }
    }

    /// Replaces the external keys of a record at `version`. See
    /// [`Session::set_external_keys`].
    pub fn set_external_keys(
        &mut self,
        record: KeyedRecord,
        version: u64,
        keys: &[ExternalKey],
    ) -> Result<u64> {
        let kind = record.entity();
        let keys = external_key::check_keys(kind, keys)?;
        let id = record.uuid();
        let old = self.tx.external_keys_of(kind, id)?;
        let now = self.now();
        let next_version = match record {
            KeyedRecord::Customer(cid) => {
                let current = reads::customer_in_scope(&*self.tx, &self.access, cid)?;
                Self::check_version(kind, cid, version, current.version)?;
                self.access.check_write(
                    Resource::Customers,
                    Operation::Update,
                    cid,
                    current.owner,
                )?;
                super::merge::check_not_merged(&*self.tx, &self.access, kind, "id", cid)?;
                if old == keys {
                    return Ok(current.version);
                }
                let mut next = current.clone();
                next.version += 1;
                next.updated_at = now.max(current.updated_at);
                self.tx.update_customer(&next)?;
                next.version
            }
            KeyedRecord::Deal(did) => {
                let current = reads::deal_in_scope(&*self.tx, &self.access, did)?;
                Self::check_version(kind, did, version, current.version)?;
                self.access
                    .check_write(Resource::Deals, Operation::Update, did, current.owner)?;
                if old == keys {
                    return Ok(current.version);
                }
                // Keys are how other systems know the deal, not its
                // business data: a closed deal may still be linked.
                let mut next = current.clone();
                next.version += 1;
                next.updated_at = now.max(current.updated_at);
                self.tx.update_deal(&next)?;
                next.version
            }
            KeyedRecord::Activity(aid) => {
                let current = reads::activity_in_scope(&*self.tx, &self.access, aid)?;
                Self::check_version(kind, aid, version, current.version)?;
                self.access.check_write(
                    Resource::Activities,
                    Operation::Update,
                    aid,
                    current.owner,
                )?;
                if old == keys {
                    return Ok(current.version);
                }
                let mut next = current.clone();
                next.version += 1;
                next.updated_at = now.max(current.updated_at);
                self.tx.update_activity(&next)?;
                next.version
            }
        };
        self.store_keys(kind, id, &keys)?;
        let mut changes = Changes::default();
        changes.field("external_keys", &old, &keys);
        self.record(
            entity(kind, id),
            next_version,
            EventKind::Updated,
            changes,
            now,
        )?;
        Ok(next_version)
    }
}

fn outcome(before: u64, after: u64) -> UpsertOutcome {
    if before == after {
        UpsertOutcome::Unchanged
    } else {
        UpsertOutcome::Updated
    }
}

/// What an upsert's input changes on an existing customer (see the
/// [`crate::external_key`] docs): everything it describes except the
/// lifecycle, the owner only when named.
fn customer_patch(current: &Customer, input: &NewCustomer) -> Result<CustomerPatch> {
    if input.kind != current.kind {
        return Err(Error::invalid(
            EntityKind::Customer,
            "kind",
            match input.kind {
                PartyKind::Person => "person",
                PartyKind::Organisation => "organisation",
            },
            "a customer's kind (person or organisation) does not change",
        ));
    }
    let mut wanted = BTreeSet::new();
    for (i, t) in input.tags.iter().enumerate() {
        let tag = Tag::parse(t)
            .map_err(|e| Error::invalid(EntityKind::Customer, format!("tags[{i}]"), t, e.reason))?;
        wanted.insert(tag);
    }
    Ok(CustomerPatch {
        name: Some(input.name.clone()),
        organisation: Some(input.organisation),
        roles: Some(input.roles.clone()),
        lifecycle: None,
        emails: Some(input.emails.clone()),
        phones: Some(input.phones.clone()),
        owner: input.owner.map(Some),
        add_tags: input.tags.clone(),
        remove_tags: current
            .tags
            .iter()
            .filter(|t| !wanted.contains(*t))
            .map(|t| t.as_str().to_owned())
            .collect(),
        custom: input
            .custom
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect(),
    })
}

/// What an upsert's input changes on an existing deal: title, amount,
/// expected close date, custom values given, the owner when named.
fn deal_patch(current: &Deal, input: &NewDeal) -> Result<DealPatch> {
    if input.customer != current.customer {
        return Err(Error::invalid(
            EntityKind::Deal,
            "customer",
            input.customer,
            "a deal's customer does not change by upsert",
        ));
    }
    if input.pipeline != current.pipeline {
        return Err(Error::invalid(
            EntityKind::Deal,
            "pipeline",
            input.pipeline,
            "a deal's pipeline does not change by upsert",
        ));
    }
    Ok(DealPatch {
        title: Some(input.title.clone()),
        amount: Some(input.amount),
        expected_close_date: Some(input.expected_close_date),
        owner: input.owner.map(Some),
        custom: input
            .custom
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect(),
    })
}

/// Refuses an upsert input that describes the stored activity differently
/// (an activity is a record of what happened and is never rewritten).
fn check_activity_unchanged(current: &Activity, input: NewActivity) -> Result<()> {
    let given_customer = input.customer;
    let given_owner = input.owner;
    let given_time = input.occurred_at.is_some();
    let wanted = input.into_activity(current.id, current.created_at)?;
    let differs = |field: &str, value: String| {
        Err(Error::invalid(
            EntityKind::Activity,
            field,
            value,
            "an activity is a record of what happened and is not changed by an upsert; log a new one under another key",
        ))
    };
    if wanted.kind != current.kind {
        return differs("kind", wanted.kind.to_string());
    }
    if wanted.subject != current.subject {
        return differs("subject", wanted.subject);
    }
    if wanted.body != current.body {
        return differs("body", wanted.body.unwrap_or_default());
    }
    if wanted.deal != current.deal {
        return differs("deal", format!("{:?}", wanted.deal));
    }
    if given_customer.is_some() && wanted.customer != current.customer {
        return differs("customer", format!("{:?}", wanted.customer));
    }
    if given_owner.is_some() && wanted.owner != current.owner {
        return differs("owner", format!("{:?}", wanted.owner));
    }
    if wanted.direction != current.direction {
        return differs("direction", format!("{:?}", wanted.direction));
    }
    if given_time && wanted.occurred_at != current.occurred_at {
        return differs("occurred_at", wanted.occurred_at.to_rfc3339());
    }
    if wanted.due_at != current.due_at {
        return differs("due_at", format!("{:?}", wanted.due_at));
    }
    if wanted.custom != current.custom {
        return differs("custom", format!("{:?}", wanted.custom.keys()));
    }
    Ok(())
}

/// The lower-case domain of `input`: an address (`ada@example.org`) or a
/// domain (`example.org`).
fn domain_of(input: &str) -> Result<String> {
    let trimmed = input.trim();
    let domain = trimmed.rsplit_once('@').map_or(trimmed, |(_, d)| d);
    let probe = format!("x@{domain}");
    Email::parse(&probe)
        .map_err(|e| Error::invalid(EntityKind::Customer, "domain", input, e.reason.to_string()))?;
    Ok(domain.to_lowercase())
}

impl<S: Store> Session<'_, S> {
    /// Creates or updates the customer that holds `up.key`, in the mode
    /// `up.mode` (see [`crate::external_key`] for what an update changes,
    /// compare-and-set and last-writer-wins). An input matching the stored
    /// customer changes nothing: same version, no event.
    ///
    /// ```
    /// use crm_core::external_key::{ExternalKey, UpsertMode};
    /// use crm_core::{Actor, Crm, CustomerUpsert, Error, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let key = ExternalKey::new("erp", "K-7")?;
    /// let stale = CustomerUpsert::new(key.clone(), NewCustomer::organisation("ACME"))
    ///     .mode(UpsertMode::UpdateOnly);
    /// assert!(matches!(s.upsert_customer(stale), Err(Error::ExternalKeyNotFound { .. })));
    /// assert_eq!(s.count_customers(&Default::default())?, 0); // no duplicate made
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn upsert_customer(&self, up: CustomerUpsert) -> Result<Upserted<Customer>> {
        self.batch(|b| b.upsert_customer(up))
    }

    /// Creates or updates the deal that holds `up.key` (see
    /// [`upsert_customer`](Self::upsert_customer)). A won or lost deal
    /// stays frozen: an upsert that would change more than its owner is
    /// refused, as [`update_deal`](Self::update_deal) refuses it.
    pub fn upsert_deal(&self, up: DealUpsert) -> Result<Upserted<Deal>> {
        self.batch(|b| b.upsert_deal(up))
    }

    /// Logs the activity that holds `up.key` unless it is logged already
    /// (then returns it, unchanged; an input describing it differently is
    /// refused, naming the field).
    pub fn upsert_activity(&self, up: ActivityUpsert) -> Result<Upserted<Activity>> {
        self.batch(|b| b.upsert_activity(up))
    }

    /// The customer holding `key` ([`Error::ExternalKeyNotFound`] if none
    /// the actor may read does).
    pub fn customer_by_key(&self, key: &ExternalKey) -> Result<Customer> {
        self.with_access(
            |tx, acc| match holder_in_scope(tx, acc, EntityKind::Customer, key) {
                Ok(Some(h)) => reads::customer(tx, acc, CustomerId::from_uuid(h)),
                _ => Err(key_not_found(EntityKind::Customer, key)),
            },
        )
    }

    /// The deal holding `key` ([`Error::ExternalKeyNotFound`] if none the
    /// actor may read does).
    pub fn deal_by_key(&self, key: &ExternalKey) -> Result<Deal> {
        self.with_access(
            |tx, acc| match holder_in_scope(tx, acc, EntityKind::Deal, key) {
                Ok(Some(h)) => reads::deal(tx, acc, DealId::from_uuid(h)),
                _ => Err(key_not_found(EntityKind::Deal, key)),
            },
        )
    }

    /// The activity holding `key` ([`Error::ExternalKeyNotFound`] if none
    /// the actor may read does).
    pub fn activity_by_key(&self, key: &ExternalKey) -> Result<Activity> {
        self.with_access(
            |tx, acc| match holder_in_scope(tx, acc, EntityKind::Activity, key) {
                Ok(Some(h)) => reads::activity(tx, acc, ActivityId::from_uuid(h)),
                _ => Err(key_not_found(EntityKind::Activity, key)),
            },
        )
    }

    /// The external keys a record holds, sorted.
    pub fn external_keys(&self, record: KeyedRecord) -> Result<Vec<ExternalKey>> {
        self.with_access(|tx, acc| {
            let id = record.uuid();
            if !readable(tx, acc, record.entity(), id)? {
                return Err(Error::not_found(record.entity(), id));
            }
            Ok(tx.external_keys_of(record.entity(), id)?)
        })
    }

    /// Replaces the external keys of a record that is at `version`,
    /// returning its new version (the same one, and no event, when the
    /// keys are already these). Needs the right to update the record; a
    /// closed deal may be given keys (they link it, they are not its
    /// business data). A key another record holds is
    /// [`Error::ExternalKeyTaken`].
    pub fn set_external_keys(
        &self,
        record: KeyedRecord,
        version: u64,
        keys: &[ExternalKey],
    ) -> Result<u64> {
        self.batch(|b| b.set_external_keys(record, version, keys))
    }

    /// Caller ID: the customers with the phone number `number` (at most
    /// [`MAX_LOOKUP_MATCHES`](limits::MAX_LOOKUP_MATCHES), never a merged
    /// one, only those the actor may read), by id. `number` is normalised
    /// to E.164 as stored numbers are: an international form (`+49 30
    /// 1234567`, `0049 30 1234567`) always works; a national form (`030
    /// 1234567`, `(415) 555-0100`) needs `default_region`, an ISO 3166
    /// code such as `DE` or `US`.
    ///
    /// ```
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let ada = s.create_customer(NewCustomer::person("Ada").phone("+49 30 1234567"))?;
    /// assert_eq!(s.customers_by_phone("030 1234567", Some("DE"))?[0].id, ada.id);
    /// assert_eq!(s.customers_by_phone("0049-30-123 45 67", None)?[0].id, ada.id);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn customers_by_phone(
        &self,
        number: &str,
        default_region: Option<&str>,
    ) -> Result<Vec<Customer>> {
        let phone = Phone::parse_in_region(number, default_region).map_err(|e| {
            Error::invalid(EntityKind::Customer, "phone", number, e.reason.to_string())
        })?;
        self.with_access(|tx, acc| {
            let ids = tx.customers_by_phone(&phone)?;
            Ok(ids
                .into_iter()
                .filter_map(|id| reads::customer(tx, acc, id).ok())
                .filter(|c| !c.is_merged())
                .take(limits::MAX_LOOKUP_MATCHES)
                .collect())
        })
    }

    /// The organisations an e-mail domain belongs to: those with an
    /// address at `domain` (given as `example.org` or as a whole address)
    /// and those that people with such an address work at. At most
    /// [`MAX_LOOKUP_MATCHES`](limits::MAX_LOOKUP_MATCHES), never a merged
    /// one, only those the actor may read, by id.
    ///
    /// ```
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let acme = s.create_customer(NewCustomer::organisation("ACME"))?;
    /// s.create_customer(NewCustomer::person("Wile").email("wile@acme.example").works_at(acme.id))?;
    /// let found = s.organisations_by_domain("someone.new@ACME.example")?;
    /// assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), [acme.id]);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn organisations_by_domain(&self, domain: &str) -> Result<Vec<Customer>> {
        let domain = domain_of(domain)?;
        self.with_access(|tx, acc| {
            let mut orgs: BTreeSet<CustomerId> = BTreeSet::new();
            for id in tx.customers_by_email_domain(&domain)? {
                let Ok(c) = reads::customer(tx, acc, id) else {
                    continue;
                };
                if c.is_merged() {
                    continue;
                }
                match (c.kind, c.organisation) {
                    (PartyKind::Organisation, _) => {
                        orgs.insert(c.id);
                    }
                    (PartyKind::Person, Some(org)) => {
                        orgs.insert(org);
                    }
                    _ => {}
                }
            }
            Ok(orgs
                .into_iter()
                .filter_map(|id| reads::customer(tx, acc, id).ok())
                .filter(|c| !c.is_merged() && c.kind == PartyKind::Organisation)
                .take(limits::MAX_LOOKUP_MATCHES)
                .collect())
        })
    }
}
