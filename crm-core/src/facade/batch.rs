//! The write operations, run inside one transaction.

use chrono::{DateTime, Utc};

use super::reads;
use crate::access::{Access, Field, Operation, Resource};
use crate::activity::{self, Activity, ActivityKind, NewActivity};
use crate::actor::Actor;
use crate::clock::{Clock, truncate_to_millis};
use crate::customer::{self, Customer, CustomerPatch, NewCustomer, PartyKind};
use crate::deal::{self, Deal, DealPatch, NewDeal, StageChange};
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EntityRef, Event, EventKind, NewEvent};
use crate::external_key;
use crate::id::{ActivityId, CustomerId, DealId, EventId, IdGenerator, PipelineId, UserId};
use crate::pipeline::{Pipeline, PipelineDef, StageKind, StageMapping};
use crate::query::{
    ActivityQuery, CustomerFilter, CustomerQuery, DealFilter, DealQuery, EventQuery, Page,
    PipelineQuery, fetch_all,
};
use crate::store::WriteTx;

/// A unit of work: every operation on it joins one transaction, committed
/// when the closure given to [`Session::batch`](super::Session::batch)
/// returns `Ok`. Reads on it see the batch's own writes.
///
/// The actor's [`Access`] is resolved when the batch starts, from the
/// state inside its transaction, and again after every change to users or
/// teams made in the batch, so every check sees the transaction's own state.
pub struct Batch<'t> {
    pub(super) tx: Box<dyn WriteTx + 't>,
    clock: &'t dyn Clock,
    ids: &'t dyn IdGenerator,
    pub(super) actor: Actor,
    at: Option<DateTime<Utc>>,
    /// Custom-field schemas read (or written) in this batch.
    pub(super) schemas: std::collections::HashMap<EntityKind, crate::custom_field::FieldSchema>,
    pub(super) access: Access,
    /// Event rules and the chain of rules running (see `facade/automation.rs`).
    pub(super) automation: super::automation::AutomationState,
}

impl<'t> Batch<'t> {
    pub(super) fn new(
        tx: Box<dyn WriteTx + 't>,
        clock: &'t dyn Clock,
        ids: &'t dyn IdGenerator,
        actor: Actor,
        at: Option<DateTime<Utc>>,
    ) -> Result<Self> {
        let access = Access::load(&*tx, actor)?;
        Ok(Batch {
            tx,
            clock,
            ids,
            actor,
            at,
            schemas: Default::default(),
            access,
            automation: Default::default(),
        })
    }

    /// Re-resolves the actor's access after a change to users or teams.
    /// An actor who just lost the right to act keeps no permissions.
    pub(super) fn reload_access(&mut self) -> Result<()> {
        self.access = match Access::load(&*self.tx, self.actor) {
            Ok(a) => a,
            Err(Error::ActorNotAllowed { .. }) => Access::nothing(self.actor),
            Err(e) => return Err(e),
        };
        Ok(())
    }

    /// The owner a new record gets: the one given, or else the acting user.
    fn default_owner(&self, given: Option<UserId>) -> Option<UserId> {
        given.or(self.actor.user())
    }

    /// Refuses an owner (or assignee) that is not a stored, active user:
    /// every path that sets one (create, update, automation, import) goes
    /// through the batch operations that call this.
    pub(super) fn check_owner(&self, entity: EntityKind, owner: Option<UserId>) -> Result<()> {
        let Some(u) = owner else {
            return Ok(());
        };
        match self.tx.user(u)? {
            Some(user) if user.active => Ok(()),
            Some(_) => Err(Error::invalid(
                entity,
                "owner",
                u,
                "that user is deactivated; choose an active user",
            )),
            None => Err(Error::invalid(entity, "owner", u, "no user has this id")),
        }
    }

    /// Refuses changes of read-only fields among `changes` of `resource`.
    pub(super) fn check_fields(
        &self,
        resource: Resource,
        changes: &Changes,
        id: impl std::fmt::Display,
    ) -> Result<()> {
        for f in Field::ALL {
            if f.resource() == resource && changes.touches(f.name()) {
                self.access.check_field_write(f, &id)?;
            }
        }
        Ok(())
    }

    pub(super) fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    /// Who the batch acts as.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// Dates the following operations of this batch at `at` (historical
    /// imports); `None` goes back to the clock.
    pub fn set_time(&mut self, at: Option<DateTime<Utc>>) {
        self.at = at.map(truncate_to_millis);
    }

    /// Runs `work` as one step of this batch that can fail on its own: if
    /// it returns an error, everything it wrote (records and events) is
    /// undone and the batch goes on as if the step had never run; if it
    /// returns `Ok`, its writes stay part of the batch. Imports use this to
    /// skip a bad row without losing the good ones.
    ///
    /// ```
    /// use crm_core::{Actor, Crm, NewCustomer};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let skipped = s.batch(|b| {
    ///     b.create_customer(NewCustomer::person("Grace Hopper"))?;
    ///     let bad = b.attempt(|b| {
    ///         b.create_customer(NewCustomer::person("Ada"))?;
    ///         b.create_customer(NewCustomer::person("")) // invalid: undoes Ada too
    ///     });
    ///     Ok(bad.is_err())
    /// })?;
    /// assert!(skipped);
    /// assert_eq!(s.count_customers(&Default::default())?, 1); // Grace only
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn attempt<T>(&mut self, work: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let savepoint = self.tx.savepoint()?;
        match work(self) {
            Ok(out) => {
                self.tx.release_savepoint(savepoint)?;
                Ok(out)
            }
            Err(e) => {
                self.tx.rollback_to_savepoint(savepoint)?;
                // A rule saved in the undone step must not fire later.
                self.automation.forget_rules();
                Err(e)
            }
        }
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.at
            .unwrap_or_else(|| truncate_to_millis(self.clock.now()))
    }

    /// A new id. Its v7 timestamp is the time of the write (the clock),
    /// never a historical time from [`Batch::set_time`]: ids then follow
    /// the order records are written in, so an import of old data appends
    /// to the end of every id-keyed index instead of inserting all over it.
    /// A record's business time is its `created_at`, not its id.
    pub(super) fn new_uuid(&self) -> uuid::Uuid {
        self.ids.next_uuid(truncate_to_millis(self.clock.now()))
    }

    pub(super) fn record(
        &mut self,
        entity: EntityRef,
        version: u64,
        kind: EventKind,
        changes: Changes,
        at: DateTime<Utc>,
    ) -> Result<Event> {
        let event = NewEvent {
            id: EventId::from_uuid(self.new_uuid()),
            at,
            actor: self.actor,
            entity,
            version,
            kind,
            changes: changes.into_vec(),
        };
        let event = self.tx.append_event(event)?;
        // Automation: matching event rules act inside this transaction.
        self.fire_event_rules(&event)?;
        Ok(event)
    }

    pub(super) fn check_version(
        entity: EntityKind,
        id: impl std::fmt::Display,
        expected: u64,
        actual: u64,
    ) -> Result<()> {
        if expected == actual {
            Ok(())
        } else {
            Err(Error::Conflict {
                entity,
                id: id.to_string(),
                expected,
                actual,
            })
        }
    }

    // ----- customers -----

    /// Creates a customer. See [`Session::create_customer`](super::Session::create_customer).
    pub fn create_customer(&mut self, mut input: NewCustomer) -> Result<Customer> {
        let fingerprint = external_key::fingerprint(&input);
        let idem = input.idempotency_key.take();
        if let Some(first) =
            self.idempotent_replay(EntityKind::Customer, idem.as_deref(), &fingerprint)?
        {
            return reads::customer(&*self.tx, &self.access, CustomerId::from_uuid(first));
        }
        let keys = external_key::check_keys(EntityKind::Customer, &input.external_keys)?;
        input.owner = self.default_owner(input.owner);
        self.access
            .check_write(Resource::Customers, Operation::Create, "", input.owner)?;
        let now = self.now();
        let id = CustomerId::from_uuid(self.new_uuid());
        let mut customer = input.into_customer(id, now)?;
        self.check_owner(EntityKind::Customer, customer.owner)?;
        self.access.check_custom_changes(
            EntityKind::Customer,
            &Default::default(),
            &customer.custom,
            "",
        )?;
        self.check_custom(EntityKind::Customer, &customer.custom)?;
        self.check_organisation(&customer)?;
        self.tx.insert_customer(&customer)?;
        self.store_keys(EntityKind::Customer, id.as_uuid(), &keys)?;
        self.remember_idempotency(
            EntityKind::Customer,
            idem.as_deref(),
            id.as_uuid(),
            fingerprint,
        )?;
        let mut changes = customer::creation_changes(&customer);
        if !keys.is_empty() {
            changes.set("external_keys", &(), &keys);
        }
        self.record(
            entity(EntityKind::Customer, id.as_uuid()),
            1,
            EventKind::Created,
            changes,
            now,
        )?;
        self.access.redact_customer(&mut customer);
        Ok(customer)
    }

    /// Changes a customer. See [`Session::update_customer`](super::Session::update_customer).
    pub fn update_customer(
        &mut self,
        id: CustomerId,
        version: u64,
        patch: CustomerPatch,
    ) -> Result<Customer> {
        let mut current = reads::customer_in_scope(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::Customer, id, version, current.version)?;
        self.access
            .check_write(Resource::Customers, Operation::Update, id, current.owner)?;
        super::merge::check_not_merged(&*self.tx, &self.access, EntityKind::Customer, "id", id)?;
        let (mut next, changes) = patch.apply(&current)?;
        if changes.is_empty() {
            self.access.redact_customer(&mut current);
            return Ok(current);
        }
        self.check_fields(Resource::Customers, &changes, id)?;
        self.access.check_custom_changes(
            EntityKind::Customer,
            &current.custom,
            &next.custom,
            id,
        )?;
        if next.owner != current.owner {
            self.access
                .check_write(Resource::Customers, Operation::ChangeOwner, id, next.owner)?;
            self.check_owner(EntityKind::Customer, next.owner)?;
        }
        self.check_custom(EntityKind::Customer, &next.custom)?;
        self.check_organisation(&next)?;
        let now = self.now();
        next.version += 1;
        next.updated_at = now.max(current.updated_at);
        self.tx.update_customer(&next)?;
        self.record(
            entity(EntityKind::Customer, id.as_uuid()),
            next.version,
            EventKind::Updated,
            changes,
            now,
        )?;
        self.access.redact_customer(&mut next);
        Ok(next)
    }

    fn check_organisation(&self, c: &Customer) -> Result<()> {
        if let Some(org_id) = c.organisation {
            let org = self
                .tx
                .customer(org_id)?
                .filter(|o| self.access.can_read(Resource::Customers, o.owner));
            match org {
                Some(org) if org.is_merged() => {
                    super::merge::check_not_merged(
                        &*self.tx,
                        &self.access,
                        EntityKind::Customer,
                        "organisation",
                        org_id,
                    )?;
                }
                Some(org) if org.kind == PartyKind::Organisation => {}
                Some(_) => {
                    return Err(Error::invalid(
                        EntityKind::Customer,
                        "organisation",
                        org_id,
                        "that customer is a person, not an organisation",
                    ));
                }
                None => {
                    return Err(Error::invalid(
                        EntityKind::Customer,
                        "organisation",
                        org_id,
                        "no customer has this id",
                    ));
                }
            }
        }
        Ok(())
    }

    // ----- pipelines -----

    /// Creates a pipeline. See [`Session::create_pipeline`](super::Session::create_pipeline).
    pub fn create_pipeline(&mut self, def: PipelineDef) -> Result<Pipeline> {
        self.access
            .check_write_all(Resource::Pipelines, Operation::Create, "")?;
        let (name, stages, transitions, allow_reopen) = def.validate()?;
        let now = self.now();
        let pipeline = Pipeline {
            id: PipelineId::from_uuid(self.new_uuid()),
            version: 1,
            name,
            stages,
            transitions,
            allow_reopen,
            created_at: now,
            updated_at: now,
        };
        self.tx.insert_pipeline(&pipeline)?;
        let mut ch = Changes::default();
        ch.set("name", &(), &pipeline.name);
        ch.set("stages", &(), &pipeline.stages);
        ch.set("transitions", &(), &pipeline.transitions);
        ch.set("allow_reopen", &(), &pipeline.allow_reopen);
        self.record(
            entity(EntityKind::Pipeline, pipeline.id.as_uuid()),
            1,
            EventKind::Created,
            ch,
            now,
        )?;
        Ok(pipeline)
    }

    /// Redefines a pipeline. See [`Session::update_pipeline`](super::Session::update_pipeline).
    ///
    /// For every stage of the old definition that the new one drops, the
    /// deals in it move to `mapping[old_key]`, a stage of the same kind in
    /// the new definition; each moved deal gets a stage-history entry. A
    /// stage that keeps its key may not change its kind while it holds
    /// deals. The one event of the edit lists the deals that moved.
    pub fn update_pipeline(
        &mut self,
        id: PipelineId,
        version: u64,
        def: PipelineDef,
        mapping: &StageMapping,
    ) -> Result<Pipeline> {
        let current = reads::pipeline(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::Pipeline, id, version, current.version)?;
        self.access
            .check_write_all(Resource::Pipelines, Operation::Update, id)?;
        let (name, stages, transitions, allow_reopen) = def.validate()?;
        let now = self.now();
        let mut next = Pipeline {
            name,
            stages,
            transitions,
            allow_reopen,
            ..current.clone()
        };

        for key in mapping.keys() {
            if current.stages.iter().all(|s| s.key.as_str() != key) {
                return Err(Error::invalid(
                    EntityKind::Pipeline,
                    format!("mapping.{key}"),
                    key,
                    "the pipeline has no stage with this key to map from",
                ));
            }
            if next.stages.iter().any(|s| s.key.as_str() == key) {
                return Err(Error::invalid(
                    EntityKind::Pipeline,
                    format!("mapping.{key}"),
                    key,
                    "this stage is kept, so its deals stay where they are",
                ));
            }
        }

        let mut moved: Vec<serde_json::Value> = Vec::new();
        for old in &current.stages {
            let in_stage = DealFilter {
                pipeline: Some(id),
                stage: Some(old.key.clone()),
                ..DealFilter::default()
            };
            match next.stage(&old.key) {
                Some(kept) if kept.kind == old.kind => continue,
                Some(kept) => {
                    let count = self.tx.count_deals(&in_stage)?;
                    if count > 0 {
                        return Err(Error::invalid(
                            EntityKind::Pipeline,
                            format!(
                                "stages[{}].kind",
                                next.stages
                                    .iter()
                                    .position(|s| s.key == kept.key)
                                    .unwrap_or(0)
                            ),
                            kept.kind,
                            format!(
                                "stage '{}' holds {count} deal(s), so it must stay {}",
                                old.key, old.kind
                            ),
                        ));
                    }
                }
                None => {
                    let deals = self.all_deals(&in_stage)?;
                    if deals.is_empty() {
                        continue;
                    }
                    let Some(target_key) = mapping.get(old.key.as_str()) else {
                        return Err(Error::StageMappingRequired {
                            pipeline: id.to_string(),
                            stage: old.key.clone(),
                            deals: deals.len() as u64,
                        });
                    };
                    let target =
                        deal::find_stage(&next, target_key, &format!("mapping.{}", old.key))
                            .map_err(|_| {
                                Error::invalid(
                                    EntityKind::Pipeline,
                                    format!("mapping.{}", old.key),
                                    target_key,
                                    "the new definition has no stage with this key",
                                )
                            })?
                            .clone();
                    if target.kind != old.kind {
                        return Err(Error::invalid(
                            EntityKind::Pipeline,
                            format!("mapping.{}", old.key),
                            target_key,
                            format!(
                                "deals in {} stage '{}' can only move to another {} stage",
                                old.kind, old.key, old.kind
                            ),
                        ));
                    }
                    for mut d in deals {
                        d.history.push(StageChange {
                            from: Some(d.stage.clone()),
                            to: target.key.clone(),
                            at: now.max(d.stage_entered_at()),
                            by: self.actor,
                        });
                        moved.push(
                            serde_json::json!({"deal": d.id, "from": d.stage, "to": target.key}),
                        );
                        d.stage = target.key.clone();
                        d.version += 1;
                        d.updated_at = now.max(d.updated_at);
                        self.tx.update_deal(&d)?;
                    }
                }
            }
        }

        let mut ch = Changes::default();
        ch.field("name", &current.name, &next.name);
        ch.field("stages", &current.stages, &next.stages);
        ch.field("transitions", &current.transitions, &next.transitions);
        ch.field("allow_reopen", &current.allow_reopen, &next.allow_reopen);
        if !moved.is_empty() {
            ch.set("moved_deals", &(), &moved);
        }
        if ch.is_empty() {
            return Ok(current);
        }
        next.version += 1;
        next.updated_at = now.max(current.updated_at);
        self.tx.update_pipeline(&next)?;
        self.record(
            entity(EntityKind::Pipeline, id.as_uuid()),
            next.version,
            EventKind::Updated,
            ch,
            now,
        )?;
        Ok(next)
    }

    fn all_deals(&self, filter: &DealFilter) -> Result<Vec<Deal>> {
        Ok(fetch_all(filter.clone(), |q: &DealQuery| self.tx.deals(q))?)
    }

    // ----- deals -----

    /// Creates a deal. See [`Session::create_deal`](super::Session::create_deal).
    pub fn create_deal(&mut self, mut input: NewDeal) -> Result<Deal> {
        let fingerprint = external_key::fingerprint(&input);
        let idem = input.idempotency_key.take();
        if let Some(first) =
            self.idempotent_replay(EntityKind::Deal, idem.as_deref(), &fingerprint)?
        {
            return reads::deal(&*self.tx, &self.access, DealId::from_uuid(first));
        }
        let keys = external_key::check_keys(EntityKind::Deal, &input.external_keys)?;
        input.owner = self.default_owner(input.owner);
        self.access
            .check_write(Resource::Deals, Operation::Create, "", input.owner)?;
        if input.amount.is_some() {
            self.access.check_field_write(Field::DealAmount, "")?;
        }
        if reads::customer_in_scope(&*self.tx, &self.access, input.customer).is_err() {
            return Err(Error::invalid(
                EntityKind::Deal,
                "customer",
                input.customer,
                "no customer has this id",
            ));
        }
        super::merge::check_not_merged(
            &*self.tx,
            &self.access,
            EntityKind::Deal,
            "customer",
            input.customer,
        )?;
        let pipeline = reads::pipeline(&*self.tx, &self.access, input.pipeline).map_err(|_| {
            Error::invalid(
                EntityKind::Deal,
                "pipeline",
                input.pipeline,
                "no pipeline has this id",
            )
        })?;
        let now = self.now();
        let id = DealId::from_uuid(self.new_uuid());
        let mut deal = deal::create(input, id, &pipeline, now, self.actor)?;
        self.check_owner(EntityKind::Deal, deal.owner)?;
        self.access.check_custom_changes(
            EntityKind::Deal,
            &Default::default(),
            &deal.custom,
            "",
        )?;
        self.check_custom(EntityKind::Deal, &deal.custom)?;
        self.tx.insert_deal(&deal)?;
        self.store_keys(EntityKind::Deal, id.as_uuid(), &keys)?;
        self.remember_idempotency(EntityKind::Deal, idem.as_deref(), id.as_uuid(), fingerprint)?;
        let mut changes = deal::creation_changes(&deal);
        if !keys.is_empty() {
            changes.set("external_keys", &(), &keys);
        }
        self.record(
            entity(EntityKind::Deal, id.as_uuid()),
            1,
            EventKind::Created,
            changes,
            now,
        )?;
        self.access.redact_deal(&mut deal);
        Ok(deal)
    }

    /// Changes a deal's fields. See [`Session::update_deal`](super::Session::update_deal).
    pub fn update_deal(&mut self, id: DealId, version: u64, patch: DealPatch) -> Result<Deal> {
        self.change_deal(id, version, patch, None)
    }

    /// Corrects a won or lost deal's fields, with a reason recorded in the
    /// event. See [`Session::correct_deal`](super::Session::correct_deal).
    pub fn correct_deal(
        &mut self,
        id: DealId,
        version: u64,
        patch: DealPatch,
        reason: &str,
    ) -> Result<Deal> {
        let reason = deal::validate_correction_reason(reason)?;
        self.change_deal(id, version, patch, Some(reason))
    }

    /// `update_deal` (`correction` `None`: the deal must be open, or only
    /// its owner change) and `correct_deal` (the deal must be closed).
    fn change_deal(
        &mut self,
        id: DealId,
        version: u64,
        patch: DealPatch,
        correction: Option<String>,
    ) -> Result<Deal> {
        let mut current = reads::deal_in_scope(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::Deal, id, version, current.version)?;
        self.access
            .check_write(Resource::Deals, Operation::Update, id, current.owner)?;
        if correction.is_some() && current.status == deal::DealStatus::Open {
            return Err(Error::invalid(
                EntityKind::Deal,
                "status",
                current.status,
                "only a won or lost deal is corrected; change an open deal with update_deal",
            ));
        }
        let (mut next, mut changes) = patch.apply(&current)?;
        if changes.is_empty() {
            self.access.redact_deal(&mut current);
            return Ok(current);
        }
        if correction.is_none() {
            deal::check_not_frozen(&current, &changes)?;
        }
        self.check_fields(Resource::Deals, &changes, id)?;
        self.access
            .check_custom_changes(EntityKind::Deal, &current.custom, &next.custom, id)?;
        if next.owner != current.owner {
            self.access
                .check_write(Resource::Deals, Operation::ChangeOwner, id, next.owner)?;
            self.check_owner(EntityKind::Deal, next.owner)?;
        }
        // The current stage's guards hold for as long as the deal is in it.
        if let Some(pipeline) = self.tx.pipeline(current.pipeline)?
            && let Some(stage) = pipeline.stage(&current.stage)
        {
            deal::check_guards_kept(&current, &next, stage)?;
        }
        self.check_custom(EntityKind::Deal, &next.custom)?;
        if let Some(reason) = &correction {
            changes.set("correction_reason", &(), reason);
        }
        let now = self.now();
        next.version += 1;
        next.updated_at = now.max(current.updated_at);
        self.tx.update_deal(&next)?;
        self.record(
            entity(EntityKind::Deal, id.as_uuid()),
            next.version,
            EventKind::Updated,
            changes,
            now,
        )?;
        self.access.redact_deal(&mut next);
        Ok(next)
    }

    fn move_to(
        &mut self,
        id: DealId,
        version: u64,
        target: Target<'_>,
        lost_reason: Option<&str>,
    ) -> Result<Deal> {
        let current = reads::deal_in_scope(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::Deal, id, version, current.version)?;
        self.access
            .check_write(Resource::Deals, Operation::Update, id, current.owner)?;
        // The deal's pipeline, whether or not the actor may list pipelines.
        let pipeline = self.tx.pipeline(current.pipeline)?.ok_or_else(|| {
            Error::Store(crate::error::StoreError::Corrupt(format!(
                "deal {id} is in pipeline {} which does not exist",
                current.pipeline
            )))
        })?;
        let to = match target {
            Target::Key(key) | Target::KeyOfKind(key, _) => {
                deal::find_stage(&pipeline, key, "stage")?
            }
            Target::OnlyOfKind(kind) => {
                let mut of_kind = pipeline.stages_of_kind(kind);
                match (of_kind.next(), of_kind.next()) {
                    (Some(s), None) => s,
                    _ => {
                        let keys: Vec<&str> = pipeline
                            .stages_of_kind(kind)
                            .map(|s| s.key.as_str())
                            .collect();
                        // The pipeline's name only to who may read pipelines.
                        let named = if self.access.can_read(Resource::Pipelines, None) {
                            format!("pipeline '{}'", pipeline.name)
                        } else {
                            "the deal's pipeline".to_owned()
                        };
                        return Err(Error::invalid(
                            EntityKind::Deal,
                            "stage",
                            "",
                            format!(
                                "{named} has several {kind} stages ({}); name the one to use",
                                keys.join(", ")
                            ),
                        ));
                    }
                }
            }
            Target::ReopenDefault => {
                let from = current
                    .history
                    .last()
                    .and_then(|c| c.from.as_ref())
                    .and_then(|k| pipeline.stage(k))
                    .filter(|s| s.kind == StageKind::Open);
                match from {
                    Some(s) => s,
                    None => {
                        return Err(Error::invalid(
                            EntityKind::Deal,
                            "stage",
                            "",
                            "the stage this deal was closed from is gone or not open; name the stage to reopen into",
                        ));
                    }
                }
            }
        };
        if let Some(required) = target.required_kind()
            && to.kind != required
        {
            return Err(Error::TransitionNotAllowed {
                deal: id.to_string(),
                from: current.stage.clone(),
                to: to.key.clone(),
                reason: crate::error::TransitionRefusal::WrongStageKind {
                    expected: required.as_str().to_owned(),
                },
            });
        }
        let now = self.now();
        let (mut next, kind, changes) = deal::apply_move(
            &current,
            &pipeline,
            to,
            lost_reason.map(str::to_owned),
            now,
            self.actor,
        )?;
        if matches!(target, Target::ReopenDefault) && kind != EventKind::Reopened {
            return Err(Error::TransitionNotAllowed {
                deal: id.to_string(),
                from: current.stage.clone(),
                to: to.key.clone(),
                reason: crate::error::TransitionRefusal::WrongStageKind {
                    expected: "won or lost".into(),
                },
            });
        }
        next.version += 1;
        next.updated_at = now.max(current.updated_at);
        self.tx.update_deal(&next)?;
        self.record(
            entity(EntityKind::Deal, id.as_uuid()),
            next.version,
            kind,
            changes,
            now,
        )?;
        self.access.redact_deal(&mut next);
        Ok(next)
    }

    /// Moves a deal to a stage. See [`Session::move_deal`](super::Session::move_deal).
    pub fn move_deal(&mut self, id: DealId, version: u64, stage: &str) -> Result<Deal> {
        self.move_to(id, version, Target::Key(stage), None)
    }

    /// Wins a deal. See [`Session::win_deal`](super::Session::win_deal).
    pub fn win_deal(&mut self, id: DealId, version: u64) -> Result<Deal> {
        self.move_to(id, version, Target::OnlyOfKind(StageKind::Won), None)
    }

    /// Loses a deal. See [`Session::lose_deal`](super::Session::lose_deal).
    pub fn lose_deal(&mut self, id: DealId, version: u64, reason: &str) -> Result<Deal> {
        self.move_to(
            id,
            version,
            Target::OnlyOfKind(StageKind::Lost),
            Some(reason),
        )
    }

    /// Loses a deal into a named lost stage. See [`Session::lose_deal_in`](super::Session::lose_deal_in).
    pub fn lose_deal_in(
        &mut self,
        id: DealId,
        version: u64,
        stage: &str,
        reason: &str,
    ) -> Result<Deal> {
        self.move_to(
            id,
            version,
            Target::KeyOfKind(stage, StageKind::Lost),
            Some(reason),
        )
    }

    /// Reopens a closed deal. See [`Session::reopen_deal`](super::Session::reopen_deal).
    pub fn reopen_deal(&mut self, id: DealId, version: u64, stage: Option<&str>) -> Result<Deal> {
        let current = reads::deal_in_scope(&*self.tx, &self.access, id)?;
        if current.status == crate::deal::DealStatus::Open {
            return Err(Error::invalid(
                EntityKind::Deal,
                "status",
                current.status,
                "only a won or lost deal can be reopened",
            ));
        }
        match stage {
            Some(key) => self.move_to(id, version, Target::Key(key), None),
            None => self.move_to(id, version, Target::ReopenDefault, None),
        }
    }

    // ----- activities -----

    /// Logs an activity. See [`Session::log_activity`](super::Session::log_activity).
    pub fn log_activity(&mut self, mut input: NewActivity) -> Result<Activity> {
        let fingerprint = external_key::fingerprint(&input);
        let idem = input.idempotency_key.take();
        if let Some(first) =
            self.idempotent_replay(EntityKind::Activity, idem.as_deref(), &fingerprint)?
        {
            return reads::activity(&*self.tx, &self.access, ActivityId::from_uuid(first));
        }
        let keys = external_key::check_keys(EntityKind::Activity, &input.external_keys)?;
        input.owner = self.default_owner(input.owner);
        self.access
            .check_write(Resource::Activities, Operation::Create, "", input.owner)?;
        if input.body.is_some() {
            self.access.check_field_write(Field::ActivityBody, "")?;
        }
        let now = self.now();
        let id = ActivityId::from_uuid(self.new_uuid());
        let mut activity = input.into_activity(id, now)?;
        self.check_owner(EntityKind::Activity, activity.owner)?;
        self.access.check_custom_changes(
            EntityKind::Activity,
            &Default::default(),
            &activity.custom,
            "",
        )?;
        self.check_custom(EntityKind::Activity, &activity.custom)?;
        if let Some(deal_id) = activity.deal {
            let deal = reads::deal_in_scope(&*self.tx, &self.access, deal_id).map_err(|_| {
                Error::invalid(EntityKind::Activity, "deal", deal_id, "no deal has this id")
            })?;
            match activity.customer {
                None => activity.customer = Some(deal.customer),
                Some(c) if c != deal.customer => {
                    // Name the deal's customer only if the actor may read it.
                    let theirs =
                        match reads::customer_in_scope(&*self.tx, &self.access, deal.customer) {
                            Ok(owner) => format!("customer {}", owner.id),
                            Err(_) => "another customer".to_owned(),
                        };
                    return Err(Error::invalid(
                        EntityKind::Activity,
                        "deal",
                        deal_id,
                        format!("that deal belongs to {theirs}, not {c}"),
                    ));
                }
                Some(_) => {}
            }
        } else if let Some(c) = activity.customer
            && reads::customer_in_scope(&*self.tx, &self.access, c).is_err()
        {
            return Err(Error::invalid(
                EntityKind::Activity,
                "customer",
                c,
                "no customer has this id",
            ));
        }
        if let Some(c) = activity.customer {
            super::merge::check_not_merged(
                &*self.tx,
                &self.access,
                EntityKind::Activity,
                "customer",
                c,
            )?;
        }
        self.tx.insert_activity(&activity)?;
        self.store_keys(EntityKind::Activity, id.as_uuid(), &keys)?;
        self.remember_idempotency(
            EntityKind::Activity,
            idem.as_deref(),
            id.as_uuid(),
            fingerprint,
        )?;
        let mut changes = activity::creation_changes(&activity);
        if !keys.is_empty() {
            changes.set("external_keys", &(), &keys);
        }
        self.record(
            entity(EntityKind::Activity, id.as_uuid()),
            1,
            EventKind::Created,
            changes,
            now,
        )?;
        self.access.redact_activity(&mut activity);
        Ok(activity)
    }

    /// Completes a task. See [`Session::complete_task`](super::Session::complete_task).
    pub fn complete_task(&mut self, id: ActivityId, version: u64) -> Result<Activity> {
        let current = reads::activity_in_scope(&*self.tx, &self.access, id)?;
        Self::check_version(EntityKind::Activity, id, version, current.version)?;
        self.access
            .check_write(Resource::Activities, Operation::Update, id, current.owner)?;
        if current.kind != ActivityKind::Task {
            return Err(Error::invalid(
                EntityKind::Activity,
                "kind",
                current.kind,
                "only tasks can be completed",
            ));
        }
        if let Some(done) = current.completed_at {
            return Err(Error::invalid(
                EntityKind::Activity,
                "completed_at",
                done.to_rfc3339(),
                "the task is already completed",
            ));
        }
        let now = self.now();
        let mut next = current.clone();
        next.completed_at = Some(now);
        next.version += 1;
        next.updated_at = now.max(current.updated_at);
        let mut ch = Changes::default();
        ch.field("completed_at", &current.completed_at, &next.completed_at);
        self.tx.update_activity(&next)?;
        self.record(
            entity(EntityKind::Activity, id.as_uuid()),
            next.version,
            EventKind::Completed,
            ch,
            now,
        )?;
        self.access.redact_activity(&mut next);
        Ok(next)
    }

    // ----- reads inside the batch (scoped like the session's) -----

    /// The customer with `id`, as this batch sees it.
    pub fn customer(&self, id: CustomerId) -> Result<Customer> {
        reads::customer(&*self.tx, &self.access, id)
    }

    /// A page of customers, as this batch sees them.
    pub fn customers(&self, query: &CustomerQuery) -> Result<Page<Customer>> {
        reads::customers(&*self.tx, &self.access, query)
    }

    /// How many customers match `filter`.
    pub fn count_customers(&self, filter: &CustomerFilter) -> Result<u64> {
        reads::count_customers(&*self.tx, &self.access, filter)
    }

    /// The pipeline with `id`.
    pub fn pipeline(&self, id: PipelineId) -> Result<Pipeline> {
        reads::pipeline(&*self.tx, &self.access, id)
    }

    /// A page of pipelines.
    pub fn pipelines(&self, query: &PipelineQuery) -> Result<Page<Pipeline>> {
        reads::pipelines(&*self.tx, &self.access, query)
    }

    /// The deal with `id`.
    pub fn deal(&self, id: DealId) -> Result<Deal> {
        reads::deal(&*self.tx, &self.access, id)
    }

    /// A page of deals.
    pub fn deals(&self, query: &DealQuery) -> Result<Page<Deal>> {
        reads::deals(&*self.tx, &self.access, query)
    }

    /// How many deals match `filter`.
    pub fn count_deals(&self, filter: &DealFilter) -> Result<u64> {
        reads::count_deals(&*self.tx, &self.access, filter)
    }

    /// The activity with `id`.
    pub fn activity(&self, id: ActivityId) -> Result<Activity> {
        reads::activity(&*self.tx, &self.access, id)
    }

    /// A page of activities.
    pub fn activities(&self, query: &ActivityQuery) -> Result<Page<Activity>> {
        reads::activities(&*self.tx, &self.access, query)
    }

    /// A page of the audit log, including this batch's events so far.
    pub fn events(&self, query: &EventQuery) -> Result<Page<Event>> {
        reads::events(&*self.tx, &self.access, query)
    }
}

#[derive(Clone, Copy)]
enum Target<'a> {
    Key(&'a str),
    KeyOfKind(&'a str, StageKind),
    OnlyOfKind(StageKind),
    ReopenDefault,
}

impl<'a> Target<'a> {
    fn required_kind(&self) -> Option<StageKind> {
        match self {
            Target::KeyOfKind(_, k) | Target::OnlyOfKind(k) => Some(*k),
            Target::Key(_) | Target::ReopenDefault => None,
        }
    }
}

pub(super) fn entity(kind: EntityKind, id: uuid::Uuid) -> EntityRef {
    EntityRef { kind, id }
}
