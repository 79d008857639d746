//! Automation in the facade: rule records, firing event rules inside the
//! batch that appended the event, time rules (`run_due`), the outbox.
//!
//! See [`crate::automation`] for the semantics.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::batch::entity;
use super::{Batch, Session};
use crate::access::{Access, Operation, Resource};
use crate::activity::{Activity, ActivityKind, Direction, NewActivity};
use crate::actor::Actor;
use crate::automation::{
    Action, Assignee, DueReport, Firing, NewRule, Notification, Recipient, Rule, Trigger,
};
use crate::clock::truncate_to_millis;
use crate::customer::{Customer, CustomerPatch, Lifecycle};
use crate::deal::DealStatus;
use crate::deal::{Deal, DealPatch};
use crate::error::{EntityKind, Error, Result, StoreError};
use crate::event::{Changes, EntityRef, Event, EventKind};
use crate::id::{CustomerId, DealId, NotificationId, RuleId, UserId};
use crate::query::{ActivityFilter, DealFilter};
use crate::store::Store;

/// The active rules, indexed: event rules by the (record kind, event
/// kind) they wait for, time rules in id order. Built from the rules of
/// one store state, named by its [`rules_generation`](crate::store::ReadTx::rules_generation).
#[derive(Debug, Default)]
pub(super) struct RuleIndex {
    generation: u64,
    by_event: HashMap<(EntityKind, EventKind), Vec<Rule>>,
    time: Vec<Rule>,
}

impl RuleIndex {
    fn build(generation: u64, rules: Vec<Rule>) -> Self {
        let mut index = RuleIndex {
            generation,
            ..Default::default()
        };
        for rule in rules.into_iter().filter(|r| r.active) {
            if rule.trigger.is_time() {
                index.time.push(rule);
                continue;
            }
            for key in rule.trigger.event_keys() {
                index.by_event.entry(key).or_default().push(rule.clone());
            }
        }
        index
    }
}

/// The rule index a [`Crm`](crate::Crm) shares between its batches. A
/// batch uses it only if the store's rules generation, read inside the
/// batch's own transaction, is the one it was built at: a rule saved by
/// another handle or process changes the generation, so a stale index is
/// never used. Batches that wrote rules themselves neither use nor fill it
/// (their uncommitted rules could be rolled back).
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleCache(Arc<Mutex<Option<Arc<RuleIndex>>>>);

impl RuleCache {
    fn get(&self, generation: u64) -> Option<Arc<RuleIndex>> {
        let guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        guard.clone().filter(|ix| ix.generation == generation)
    }

    fn put(&self, index: Arc<RuleIndex>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(index);
    }
}

/// Per-batch automation state: the rule index (found once per batch,
/// found again after a rule changes) and the chain of rules running.
pub(super) struct AutomationState {
    index: Option<Arc<RuleIndex>>,
    /// This batch saved a rule: read rules from the transaction, uncached.
    rules_written: bool,
    /// The engine's shared cache (absent: load per batch).
    pub(super) shared: Option<RuleCache>,
    chain: Vec<String>,
    /// How deep rules may set each other off.
    pub(super) max_depth: u32,
}

/// A condition's input, read once per subject: the customer (`None` if
/// it is gone), its deals and its activities (`None` until read).
type ConditionData = Option<(Customer, Vec<Deal>, Vec<Activity>)>;

/// The record a rule fires on, and what actions need of it.
struct Subject {
    entity: EntityRef,
    customer: Option<CustomerId>,
    deal: Option<DealId>,
    owner: Option<UserId>,
}

fn subject(tx: &dyn crate::store::ReadTx, e: EntityRef) -> Result<Option<Subject>> {
    Ok(match e.kind {
        EntityKind::Deal => tx.deal(DealId::from_uuid(e.id))?.map(|d| Subject {
            entity: e,
            customer: Some(d.customer),
            deal: Some(d.id),
            owner: d.owner,
        }),
        EntityKind::Customer => tx.customer(CustomerId::from_uuid(e.id))?.map(|c| Subject {
            entity: e,
            customer: Some(c.id),
            deal: None,
            owner: c.owner,
        }),
        EntityKind::Activity => tx
            .activity(crate::id::ActivityId::from_uuid(e.id))?
            .map(|a| Subject {
                entity: e,
                customer: a.customer,
                deal: a.deal,
                owner: a.owner,
            }),
        _ => None,
    })
}

fn rule_changes(r: &Rule) -> Changes {
    let mut ch = Changes::default();
    ch.set("name", &(), &r.name);
    ch.set("active", &(), &r.active);
    ch.set("trigger", &(), &r.trigger);
    ch.set("condition", &(), &r.condition);
    ch.set("actions", &(), &r.actions);
    ch
}

impl Default for AutomationState {
    fn default() -> Self {
        AutomationState {
            index: None,
            rules_written: false,
            shared: None,
            chain: Vec::new(),
            max_depth: crate::automation::DEFAULT_MAX_DEPTH,
        }
    }
}

impl AutomationState {
    /// Drops the batch's rule index (found again on the next event).
    pub(super) fn forget_rules(&mut self) {
        self.index = None;
    }

    /// Marks that this batch wrote a rule.
    fn rules_changed(&mut self) {
        self.index = None;
        self.rules_written = true;
    }
}

impl Batch<'_> {
    fn check_automation_admin(&self) -> Result<()> {
        self.access
            .check_write_all(Resource::Pipelines, Operation::Update, "automation")
    }

    /// Refuses actions naming a user that is not an active user, or a team
    /// that does not exist (checked again when the action runs).
    fn check_rule_references(&self, input: &NewRule) -> Result<()> {
        for (i, a) in input.actions.iter().enumerate() {
            let (user, team) = a.references();
            if let Some(u) = user
                && !self.tx.user(u)?.is_some_and(|u| u.active)
            {
                return Err(Error::invalid(
                    EntityKind::Rule,
                    format!("actions[{i}]"),
                    u,
                    "no active user has this id",
                ));
            }
            if let Some(t) = team
                && self.tx.team(t)?.is_none()
            {
                return Err(Error::invalid(
                    EntityKind::Rule,
                    format!("actions[{i}]"),
                    t,
                    "no team has this id",
                ));
            }
        }
        Ok(())
    }

    /// Refuses a rule whose trigger or condition reads a field hidden from
    /// its author ([`Error::FieldHidden`], [`Error::CustomFieldHidden`]), or
    /// whose action sets a custom field read-only for them: a rule runs as
    /// the system, so it must not see or change for its author what their
    /// roles keep from them.
    fn check_rule_fields(&self, input: &NewRule) -> Result<()> {
        let access = &self.access;
        let readable = |entity: EntityKind, field: &str| -> Result<()> {
            if let Some(key) = field.strip_prefix("custom.") {
                return access.require_custom_readable(entity, key);
            }
            let resource = match entity {
                EntityKind::Customer => Resource::Customers,
                EntityKind::Deal => Resource::Deals,
                _ => Resource::Activities,
            };
            for f in crate::access::Field::ALL {
                if f.resource() == resource && f.name() == field {
                    access.require_readable(f)?;
                }
            }
            Ok(())
        };
        match &input.trigger {
            Trigger::FieldChanged { entity, field, .. }
            | Trigger::DateReached { entity, field, .. } => readable(*entity, field)?,
            _ => {}
        }
        if let Some(expr) = &input.condition {
            super::segment::require_readable_fields(access, expr)?;
        }
        for (i, a) in input.actions.iter().enumerate() {
            if let Action::SetField { entity, field, .. } = a
                && let Some(key) = field.strip_prefix("custom.")
            {
                access.require_custom_readable(*entity, key)?;
                if access.is_custom_read_only(*entity, key) {
                    return Err(Error::invalid(
                        EntityKind::Rule,
                        format!("actions[{i}].field"),
                        field,
                        "the field is read-only for your roles, so a rule of yours may not change it",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Refuses to deactivate `user` while an active rule names them as an
    /// assignee or a recipient: every change that fires the rule would
    /// otherwise fail until the rule is fixed. The error names the rules.
    pub(super) fn check_no_rule_names(&self, user: UserId) -> Result<()> {
        let naming: Vec<String> = self
            .tx
            .rules()?
            .into_iter()
            .filter(|r| r.active && r.actions.iter().any(|a| a.references().0 == Some(user)))
            .map(|r| format!("'{}'", r.name))
            .collect();
        if naming.is_empty() {
            return Ok(());
        }
        Err(Error::invalid(
            EntityKind::User,
            "active",
            false,
            format!(
                "active automation rules name this user: {}; change or deactivate them first",
                naming.join(", ")
            ),
        ))
    }

    /// Creates a rule. See [`Session::create_rule`].
    pub fn create_rule(&mut self, input: NewRule) -> Result<Rule> {
        self.check_automation_admin()?;
        let n = self.tx.rules()?.len();
        if n >= crate::limits::MAX_RULES {
            return Err(Error::invalid(
                EntityKind::Rule,
                "rules",
                format!("{n} rules"),
                format!(
                    "a store holds at most {} rules; change or deactivate one instead",
                    crate::limits::MAX_RULES
                ),
            ));
        }
        input.validate()?;
        self.check_rule_references(&input)?;
        self.check_rule_fields(&input)?;
        let now = self.now();
        let rule = Rule {
            id: RuleId::from_uuid(self.new_uuid()),
            version: 1,
            name: input.name.trim().to_owned(),
            active: input.active,
            trigger: input.trigger,
            condition: input.condition,
            actions: input.actions,
            author: self.actor,
            created_at: now,
            updated_at: now,
        };
        self.tx.insert_rule(&rule)?;
        self.automation.rules_changed();
        self.record(
            entity(EntityKind::Rule, rule.id.as_uuid()),
            1,
            EventKind::Created,
            rule_changes(&rule),
            now,
        )?;
        Ok(rule)
    }

    /// Replaces a rule's definition. See [`Session::update_rule`].
    pub fn update_rule(&mut self, id: RuleId, version: u64, input: NewRule) -> Result<Rule> {
        self.check_automation_admin()?;
        let current = self
            .tx
            .rule(id)?
            .ok_or_else(|| Error::not_found(EntityKind::Rule, id))?;
        Self::check_version(EntityKind::Rule, id, version, current.version)?;
        input.validate()?;
        self.check_rule_references(&input)?;
        self.check_rule_fields(&input)?;
        let now = self.now();
        let next = Rule {
            version: current.version + 1,
            name: input.name.trim().to_owned(),
            active: input.active,
            trigger: input.trigger,
            condition: input.condition,
            actions: input.actions,
            updated_at: now.max(current.updated_at),
            ..current.clone()
        };
        let mut ch = Changes::default();
        ch.field("name", &current.name, &next.name);
        ch.field("active", &current.active, &next.active);
        ch.field("trigger", &current.trigger, &next.trigger);
        ch.field("condition", &current.condition, &next.condition);
        ch.field("actions", &current.actions, &next.actions);
        if ch.is_empty() {
            return Ok(current);
        }
        self.tx.update_rule(&next)?;
        self.automation.rules_changed();
        self.record(
            entity(EntityKind::Rule, id.as_uuid()),
            next.version,
            EventKind::Updated,
            ch,
            now,
        )?;
        Ok(next)
    }

    /// Acknowledges an outbox notification. See
    /// [`Session::acknowledge_notification`].
    pub fn acknowledge_notification(
        &mut self,
        id: NotificationId,
        version: u64,
    ) -> Result<Notification> {
        self.check_automation_admin()?;
        let current = self
            .tx
            .notification(id)?
            .ok_or_else(|| Error::not_found(EntityKind::Notification, id))?;
        Self::check_version(EntityKind::Notification, id, version, current.version)?;
        if current.acknowledged_at.is_some() {
            return Ok(current);
        }
        let now = self.now();
        let next = Notification {
            version: current.version + 1,
            acknowledged_at: Some(now),
            ..current.clone()
        };
        let mut ch = Changes::default();
        ch.field(
            "acknowledged_at",
            &current.acknowledged_at,
            &next.acknowledged_at,
        );
        self.tx.update_notification(&next)?;
        self.record(
            entity(EntityKind::Notification, id.as_uuid()),
            next.version,
            EventKind::Updated,
            ch,
            now,
        )?;
        Ok(next)
    }

    /// Offers a just-appended event to the active event rules (called by
    /// `Batch::record`, the one hook in the batch).
    pub(super) fn fire_event_rules(&mut self, event: &Event) -> Result<()> {
        let index = self.rule_index()?;
        let matching: Vec<Rule> = index
            .by_event
            .get(&(event.entity.kind, event.kind))
            .into_iter()
            .flatten()
            .filter(|r| r.trigger.matches(event))
            .cloned()
            .collect();
        if matching.is_empty() {
            return Ok(());
        }
        let Some(subject) = subject(&*self.tx, event.entity)? else {
            return Ok(());
        };
        let mut ctx = None;
        for rule in &matching {
            if !self.condition_holds(rule, &subject, event.at, &mut ctx)? {
                continue;
            }
            // Recorded in the same transaction: the audit trail says which
            // rule acted on which event, and a rule never acts twice on one.
            let firing = Firing {
                rule: rule.id,
                subject: event.entity,
                episode: format!("event {}", event.seq),
                at: event.at,
            };
            match self.tx.record_firing(&firing) {
                Ok(()) => {}
                Err(StoreError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            self.run_rule(rule, &subject, event.at, &mut ctx)
                .map_err(|e| {
                    // The record this event created is rolled back with
                    // the failed call: the error must not name its id.
                    if event.kind == EventKind::Created {
                        e.forget_new(event.entity.kind, &event.entity.id.to_string())
                    } else {
                        e
                    }
                })?;
        }
        Ok(())
    }

    /// The active rules, indexed: the batch's own, else the engine's shared
    /// index if it is of the store's current rules generation, else read
    /// from the store (and shared, unless this batch wrote rules).
    fn rule_index(&mut self) -> Result<Arc<RuleIndex>> {
        if let Some(ix) = &self.automation.index {
            return Ok(ix.clone());
        }
        let generation = self.tx.rules_generation()?;
        let shared = self
            .automation
            .shared
            .clone()
            .filter(|_| !self.automation.rules_written);
        let ix = match shared.as_ref().and_then(|c| c.get(generation)) {
            Some(ix) => ix,
            None => {
                let ix = Arc::new(RuleIndex::build(generation, self.tx.rules()?));
                if let Some(cache) = &shared {
                    cache.put(ix.clone());
                }
                ix
            }
        };
        self.automation.index = Some(ix.clone());
        Ok(ix)
    }

    /// Whether `rule`'s condition holds for `subject` at `at`. The
    /// subject's customer, deals and activities are read into `ctx` the
    /// first time a condition needs them and reused by the next rules on
    /// the same subject, until a rule's actions run (which may change
    /// them: [`run_rule`](Self::run_rule) then empties `ctx`).
    fn condition_holds(
        &self,
        rule: &Rule,
        subject: &Subject,
        at: DateTime<Utc>,
        ctx: &mut Option<ConditionData>,
    ) -> Result<bool> {
        let Some(expr) = &rule.condition else {
            return Ok(true);
        };
        let Some(cid) = subject.customer else {
            return Ok(false);
        };
        if ctx.is_none() {
            *ctx = Some(self.condition_data(cid)?);
        }
        let Some(Some((customer, deals, activities))) = ctx.as_ref() else {
            return Ok(false);
        };
        let ids =
            crate::segment::evaluate(expr, std::slice::from_ref(customer), deals, activities, at)?;
        Ok(ids.contains(&cid))
    }

    /// What a condition is evaluated on: the customer (`None` if it is
    /// gone), its deals and its activities.
    fn condition_data(&self, cid: CustomerId) -> Result<ConditionData> {
        let Some(customer) = self.tx.customer(cid)? else {
            return Ok(None);
        };
        let mut deals = Vec::new();
        self.tx.scan_deals(
            &DealFilter {
                customer: Some(cid),
                ..Default::default()
            },
            &mut |d| deals.push(d.clone()),
        )?;
        let mut activities = Vec::new();
        self.tx.scan_activities(
            &ActivityFilter {
                customer: Some(cid),
                ..Default::default()
            },
            &mut |a| activities.push(a.clone()),
        )?;
        Ok(Some((customer, deals, activities)))
    }

    /// Runs the actions of `rule`, whose condition the caller found true
    /// for `subject`, as [`Actor::System`], one level deeper on the chain.
    /// The actions may change what `ctx` holds, so it is emptied.
    fn run_rule(
        &mut self,
        rule: &Rule,
        subject: &Subject,
        at: DateTime<Utc>,
        ctx: &mut Option<ConditionData>,
    ) -> Result<()> {
        let max_depth = self.automation.max_depth;
        if self.automation.chain.len() >= max_depth as usize {
            let mut rules = self.automation.chain.clone();
            rules.push(rule.name.clone());
            return Err(Error::AutomationLoop {
                depth: max_depth,
                rules,
            });
        }
        *ctx = None;
        let actor = std::mem::replace(&mut self.actor, Actor::System);
        let access = std::mem::replace(&mut self.access, Access::system());
        self.automation.chain.push(rule.name.clone());
        let mut out = Ok(());
        for action in &rule.actions {
            out = self.run_action(rule, subject, action, at);
            if out.is_err() {
                break;
            }
        }
        self.automation.chain.pop();
        self.actor = actor;
        self.access = access;
        out.map_err(|e| self.scrub_for_actor(e.in_rule(rule.id, &rule.name), subject))
    }

    /// A rule acts as the system, but its failure is reported to the user
    /// whose change set it off: an error about a customer, deal or
    /// activity that user may not read becomes an
    /// [`Error::HiddenRecords`] about the rule's subject, so the record is
    /// not named. (Nested rules run as the system, so only the outermost
    /// level, back in the user's access, changes anything.)
    fn scrub_for_actor(&self, e: Error, subject: &Subject) -> Error {
        if self.actor == Actor::System {
            return e;
        }
        if let Error::Rule { rule, name, source } = e {
            return Error::Rule {
                rule,
                name,
                source: Box::new(self.scrub_for_actor(*source, subject)),
            };
        }
        let p = e.parts();
        let (Some(kind), Some(id)) = (p.entity, p.id.as_deref()) else {
            return e;
        };
        let Ok(uuid) = uuid::Uuid::parse_str(id) else {
            return e;
        };
        let access = &self.access;
        let hidden = match kind {
            EntityKind::Customer => self
                .tx
                .customer(CustomerId::from_uuid(uuid))
                .ok()
                .flatten()
                .filter(|c| !access.can_read(Resource::Customers, c.owner))
                .map(|_| Resource::Customers),
            EntityKind::Deal => self
                .tx
                .deal(DealId::from_uuid(uuid))
                .ok()
                .flatten()
                .filter(|d| !access.can_read(Resource::Deals, d.owner))
                .map(|_| Resource::Deals),
            EntityKind::Activity => self
                .tx
                .activity(crate::id::ActivityId::from_uuid(uuid))
                .ok()
                .flatten()
                .filter(|a| !access.can_read(Resource::Activities, a.owner))
                .map(|_| Resource::Activities),
            _ => None,
        };
        match hidden {
            Some(hidden) => Error::HiddenRecords {
                actor: self.actor,
                operation: Operation::Update,
                entity: subject.entity.kind,
                id: subject.entity.id.to_string(),
                hidden,
            },
            None => e,
        }
    }

    fn run_action(
        &mut self,
        rule: &Rule,
        subject: &Subject,
        action: &Action,
        at: DateTime<Utc>,
    ) -> Result<()> {
        match action {
            Action::CreateTask { title, due_in_days } => {
                let due = offset_days(at, *due_in_days, "actions.due_in_days")?;
                let mut task = NewActivity::task(title.clone(), due);
                if let Some(owner) = self.active_owner(subject)? {
                    task = task.owner(owner);
                }
                match (subject.deal, subject.customer) {
                    (Some(d), _) => task = task.deal(d),
                    (None, Some(c)) => task = task.customer(c),
                    (None, None) => {}
                }
                self.log_activity(task)?;
            }
            Action::AddTag { tag } | Action::RemoveTag { tag } => {
                let Some(c) = subject
                    .customer
                    .and_then(|c| self.tx.customer(c).transpose())
                else {
                    return Ok(());
                };
                let c = c?;
                let add = matches!(action, Action::AddTag { .. });
                let has = c.tags.iter().any(|t| t.as_str() == tag);
                if add != has {
                    let patch = if add {
                        CustomerPatch::default().add_tag(tag.clone())
                    } else {
                        CustomerPatch::default().remove_tag(tag.clone())
                    };
                    self.update_customer(c.id, c.version, patch)?;
                }
            }
            Action::SetLifecycle { to } => {
                let Some(c) = subject
                    .customer
                    .and_then(|c| self.tx.customer(c).transpose())
                else {
                    return Ok(());
                };
                let c = c?;
                if c.lifecycle != *to {
                    self.update_customer(c.id, c.version, CustomerPatch::default().lifecycle(*to))?;
                }
            }
            Action::CreateActivity {
                kind,
                subject: title,
                in_days,
                assignee,
            } => {
                let when = offset_days(at, *in_days, "actions.in_days")?;
                let mut input = if *kind == ActivityKind::Task {
                    NewActivity::task(title.clone(), when)
                } else {
                    let mut a = NewActivity::new(*kind, title.clone());
                    a.occurred_at = Some(when);
                    a
                };
                if let Some(owner) = self.assignee(*assignee, subject)? {
                    input = input.owner(owner);
                }
                match (subject.deal, subject.customer) {
                    (Some(d), _) => input = input.deal(d),
                    (None, Some(c)) => input = input.customer(c),
                    (None, None) => {}
                }
                self.log_activity(input)?;
            }
            Action::SetField {
                entity: kind,
                field,
                value,
            } => {
                let patch = crate::automation::set_field_patch(*kind, field, value)
                    .map_err(|why| Error::invalid(EntityKind::Rule, "actions.value", value, why))?;
                let bad = |e: serde_json::Error| {
                    Error::invalid(EntityKind::Rule, "actions.value", value, e.to_string())
                };
                self.patch_subject(
                    *kind,
                    subject,
                    || crate::strict_json::from_value(patch.clone()).map_err(bad),
                    || crate::strict_json::from_value(patch.clone()).map_err(bad),
                )?;
            }
            Action::ChangeOwner { entity: kind, to } => {
                let owner = self.assignee(*to, subject)?;
                self.patch_subject(
                    *kind,
                    subject,
                    || Ok(CustomerPatch::default().owner(owner)),
                    || Ok(DealPatch::default().owner(owner)),
                )?;
            }
            Action::Notify { text, to } => {
                let recipient = match to {
                    Recipient::Owner => self.active_owner(subject)?,
                    Recipient::User(u) => Some(self.active_user(*u)?),
                    Recipient::TeamManager(t) => {
                        let manager = self
                            .tx
                            .team(*t)?
                            .ok_or_else(|| {
                                Error::invalid(
                                    EntityKind::Rule,
                                    "actions.to",
                                    t,
                                    "no team has this id",
                                )
                            })?
                            .manager;
                        self.if_active(manager)?
                    }
                };
                let n = Notification {
                    id: NotificationId::from_uuid(self.new_uuid()),
                    version: 1,
                    rule: rule.id,
                    recipient,
                    subject: subject.entity,
                    text: text.clone(),
                    created_at: at,
                    acknowledged_at: None,
                };
                self.tx.insert_notification(&n)?;
                let mut ch = Changes::default();
                ch.set("rule", &(), &n.rule);
                ch.set("recipient", &(), &n.recipient);
                ch.set("subject", &(), &n.subject);
                ch.set("text", &(), &n.text);
                self.record(
                    entity(EntityKind::Notification, n.id.as_uuid()),
                    1,
                    EventKind::Created,
                    ch,
                    at,
                )?;
            }
        }
        Ok(())
    }

    /// The subject's owner, if it has one who is active. A deactivated
    /// user keeps the records they own, but a rule never assigns them new
    /// work or notifies them: the task is unassigned, the notification has
    /// no recipient (the change that fired the rule still goes through).
    fn active_owner(&self, subject: &Subject) -> Result<Option<UserId>> {
        self.if_active(subject.owner)
    }

    /// `u` if it is a stored, active user, else `None`.
    fn if_active(&self, u: Option<UserId>) -> Result<Option<UserId>> {
        let Some(u) = u else { return Ok(None) };
        Ok(self.tx.user(u)?.filter(|user| user.active).map(|_| u))
    }

    /// `u`, if it is an active user.
    fn active_user(&self, u: UserId) -> Result<UserId> {
        match self.tx.user(u)? {
            Some(user) if user.active => Ok(u),
            _ => Err(Error::invalid(
                EntityKind::Rule,
                "assignee",
                u,
                "no active user has this id",
            )),
        }
    }

    /// The user an [`Assignee`] names for `subject`; a round-robin choice
    /// moves the team's stored cursor in this transaction.
    fn assignee(&mut self, a: Assignee, subject: &Subject) -> Result<Option<UserId>> {
        match a {
            Assignee::Owner => self.active_owner(subject),
            Assignee::User(u) => self.active_user(u).map(Some),
            Assignee::RoundRobin(team) => {
                let mut active = Vec::new();
                for u in self.tx.team_members(&[team])? {
                    if self.tx.user(u)?.is_some_and(|user| user.active) {
                        active.push(u);
                    }
                }
                let last = self.tx.round_robin_cursor(team)?;
                let next = last
                    .and_then(|l| active.iter().find(|u| **u > l))
                    .or(active.first())
                    .copied()
                    .ok_or_else(|| {
                        Error::invalid(
                            EntityKind::Rule,
                            "assignee",
                            team,
                            "the team has no active users to assign to",
                        )
                    })?;
                self.tx.set_round_robin_cursor(team, next)?;
                Ok(Some(next))
            }
        }
    }

    /// Applies a patch to the subject's customer (`kind` customer) or deal
    /// (`kind` deal; nothing if the subject has no deal) through the normal
    /// update paths.
    fn patch_subject(
        &mut self,
        kind: EntityKind,
        subject: &Subject,
        customer_patch: impl FnOnce() -> Result<CustomerPatch>,
        deal_patch: impl FnOnce() -> Result<DealPatch>,
    ) -> Result<()> {
        match kind {
            EntityKind::Customer => {
                let Some(c) = subject.customer.map(|c| self.tx.customer(c)).transpose()? else {
                    return Ok(());
                };
                if let Some(c) = c {
                    self.update_customer(c.id, c.version, customer_patch()?)?;
                }
            }
            EntityKind::Deal => {
                let Some(d) = subject.deal.map(|d| self.tx.deal(d)).transpose()? else {
                    return Ok(());
                };
                if let Some(d) = d {
                    self.update_deal(d.id, d.version, deal_patch()?)?;
                }
            }
            other => {
                return Err(Error::invalid(
                    EntityKind::Rule,
                    "actions.entity",
                    other,
                    "must be customer or deal",
                ));
            }
        }
        Ok(())
    }

    /// Fires the due time rules. See [`Session::run_due`]. Dates this
    /// batch's following operations at `now`, as
    /// [`set_time`](Batch::set_time) does.
    pub fn run_due(&mut self, now: DateTime<Utc>) -> Result<DueReport> {
        self.check_automation_admin()?;
        let now = truncate_to_millis(now);
        self.set_time(Some(now));
        let index = self.rule_index()?;
        let rules = &index.time;
        let mut report = DueReport::default();
        if rules.is_empty() {
            return Ok(report);
        }
        // Which rules look at what; every kind of record is scanned once
        // for all the rules on it.
        let mut idle = Vec::new();
        let mut overdue = Vec::new();
        let mut deal_dates = Vec::new();
        let mut customer_dates = Vec::new();
        let mut sla = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            if let Err(e) = crate::automation::check_trigger_bounds(&rule.trigger) {
                report
                    .skipped
                    .push((rule.id, format!("rule '{}': {e}", rule.name)));
                continue;
            }
            match &rule.trigger {
                // Due when idle since at or before `now - days`.
                Trigger::DealIdle { days } => match Duration::try_days(i64::from(*days))
                    .and_then(|d| now.checked_sub_signed(d))
                {
                    Some(since) => idle.push((i, since)),
                    None => report.skipped.push((
                        rule.id,
                        format!(
                            "rule '{}': {days} idle days before {now} is outside the calendar",
                            rule.name
                        ),
                    )),
                },
                Trigger::TaskOverdue => overdue.push(i),
                Trigger::DateReached {
                    entity: EntityKind::Deal,
                    field,
                    days,
                } => deal_dates.push((i, field.as_str(), last_due_date(now, *days))),
                Trigger::DateReached {
                    entity: EntityKind::Customer,
                    field,
                    days,
                } => customer_dates.push((i, field.as_str(), last_due_date(now, *days))),
                Trigger::FirstResponseOverdue { hours, calendar } => {
                    sla.push((i, Duration::hours(i64::from(*hours)), calendar));
                    // (bounded by check_trigger_bounds above: no overflow)
                }
                _ => {}
            }
        }
        // (subject, episode) of every record due, per rule.
        let mut due: Vec<Vec<(EntityRef, String)>> = vec![Vec::new(); rules.len()];
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        // Leads (for SLA rules): customer -> created_at.
        let mut leads: HashMap<CustomerId, DateTime<Utc>> = HashMap::new();
        if !customer_dates.is_empty() || !sla.is_empty() {
            self.tx.scan_customers(&mut |c| {
                if c.is_merged() {
                    return;
                }
                if !sla.is_empty() && c.lifecycle == Lifecycle::Lead {
                    leads.insert(c.id, c.created_at);
                }
                let e = entity(EntityKind::Customer, c.id.as_uuid());
                for (i, field, last) in &customer_dates {
                    if let Some(date) =
                        custom_date(&c.custom, field).filter(|date| Some(*date) <= *last)
                    {
                        due[*i].push((e, date.to_string()));
                    }
                }
            })?;
        }
        // Newest activity per deal (idle rules) and each lead's first
        // response (SLA rules), from one scan.
        let mut last_activity: HashMap<DealId, DateTime<Utc>> = HashMap::new();
        let mut first_response: HashMap<CustomerId, DateTime<Utc>> = HashMap::new();
        if !idle.is_empty() || !leads.is_empty() {
            self.tx
                .scan_activities(&ActivityFilter::default(), &mut |a| {
                    if let Some(d) = a.deal {
                        let t = last_activity.entry(d).or_insert(a.occurred_at);
                        *t = (*t).max(a.occurred_at);
                    }
                    let response = matches!(
                        a.kind,
                        ActivityKind::Call | ActivityKind::Email | ActivityKind::Meeting
                    ) && a.direction == Some(Direction::Outbound)
                        && a.occurred_at <= now;
                    if let Some(created) = a.customer.and_then(|c| leads.get(&c).map(|t| (c, *t)))
                        && response
                        && a.occurred_at >= created.1
                    {
                        let t = first_response.entry(created.0).or_insert(a.occurred_at);
                        *t = (*t).min(a.occurred_at);
                    }
                })?;
        }
        for (i, target, calendar) in &sla {
            for (c, created) in &leads {
                let answered_or_now = first_response.get(c).copied().unwrap_or(now);
                if calendar.business_time_between(*created, answered_or_now) > *target {
                    due[*i].push((entity(EntityKind::Customer, c.as_uuid()), stamp(*created)));
                }
            }
        }
        if !idle.is_empty() || !deal_dates.is_empty() {
            self.tx.scan_deals(
                &DealFilter {
                    status: Some(DealStatus::Open),
                    ..Default::default()
                },
                &mut |d| {
                    let e = entity(EntityKind::Deal, d.id.as_uuid());
                    if !idle.is_empty() {
                        let moved = d.history.last().map_or(d.created_at, |h| h.at);
                        let since = last_activity.get(&d.id).map_or(moved, |a| moved.max(*a));
                        for (i, idle_since) in &idle {
                            if since <= *idle_since {
                                due[*i].push((e, stamp(since)));
                            }
                        }
                    }
                    for (i, field, last) in &deal_dates {
                        let date = if *field == "expected_close_date" {
                            d.expected_close_date
                        } else {
                            custom_date(&d.custom, field)
                        };
                        if let Some(date) = date.filter(|date| Some(*date) <= *last) {
                            due[*i].push((e, date.to_string()));
                        }
                    }
                },
            )?;
        }
        if !overdue.is_empty() {
            self.tx.scan_activities(
                &ActivityFilter {
                    open_tasks_only: true,
                    ..Default::default()
                },
                &mut |a| {
                    if let Some(t) = a.due_at.filter(|t| *t < now) {
                        let e = entity(EntityKind::Activity, a.id.as_uuid());
                        for i in &overdue {
                            due[*i].push((e, stamp(t)));
                        }
                    }
                },
            )?;
        }
        for (rule, mut due) in rules.iter().zip(due) {
            due.sort_by_key(|(e, _)| e.id);
            for (e, episode) in due {
                let firing = Firing {
                    rule: rule.id,
                    subject: e,
                    episode,
                    at: now,
                };
                if self.tx.has_fired(rule.id, e.id, &firing.episode)? {
                    continue;
                }
                let Some(subject) = subject(&*self.tx, e)? else {
                    continue;
                };
                let mut ctx = None;
                if !self.condition_holds(rule, &subject, now, &mut ctx)? {
                    continue;
                }
                let outcome = self.attempt(|b| {
                    b.tx.record_firing(&firing)?;
                    b.run_rule(rule, &subject, now, &mut ctx)
                });
                match outcome {
                    Ok(()) => report.fired.push(firing),
                    Err(err) => report.failed.push((firing, err.to_string())),
                }
            }
        }
        Ok(report)
    }
}

/// `at` + `days` days, or a typed error naming `field` when a stored rule
/// (saved by an older version, before the bounds) leaves the calendar.
fn offset_days(at: DateTime<Utc>, days: u32, field: &str) -> Result<DateTime<Utc>> {
    let max = crate::limits::MAX_RULE_DAYS;
    if days > max {
        return Err(Error::invalid(
            EntityKind::Rule,
            field,
            days,
            format!("must be at most {max} days; update the rule"),
        ));
    }
    Duration::try_days(i64::from(days))
        .and_then(|d| at.checked_add_signed(d))
        .ok_or_else(|| {
            Error::invalid(
                EntityKind::Rule,
                field,
                days,
                format!("{days} days after {at} is outside the calendar"),
            )
        })
}

/// The date in custom field `custom.KEY`, if it holds one.
fn custom_date(custom: &crate::custom_field::CustomValues, field: &str) -> Option<NaiveDate> {
    match custom.get(field.strip_prefix("custom.")?)? {
        crate::custom_field::CustomValue::Date(d) => Some(*d),
        _ => None,
    }
}

/// The latest date whose `days`-offset moment (00:00 UTC of date + `days`)
/// is at or before `now`: that moment is at or before `now` exactly when
/// date + `days` is at or before `now`'s UTC date. `None`: no date is
/// (out of the calendar's range).
fn last_due_date(now: DateTime<Utc>, days: i32) -> Option<NaiveDate> {
    now.date_naive()
        .checked_sub_signed(Duration::days(i64::from(days)))
}

impl<S: Store> Session<'_, S> {
    /// Saves a new automation rule (needs the right to change pipelines).
    ///
    /// ```
    /// use crm_core::automation::{Action, NewRule, Trigger};
    /// use crm_core::{Actor, Crm, Lifecycle};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let rule = s.create_rule(
    ///     NewRule::new("Won deals make customers", Trigger::DealWon)
    ///         .action(Action::SetLifecycle { to: Lifecycle::Customer })
    ///         .action(Action::AddTag { tag: "customer".into() }),
    /// )?;
    /// assert_eq!(rule.version, 1);
    /// # Ok::<(), crm_core::Error>(())
    /// ```
    pub fn create_rule(&self, input: NewRule) -> Result<Rule> {
        self.batch(|b| b.create_rule(input))
    }

    /// Replaces the definition of the rule at `version` (deactivate one
    /// with `active(false)`).
    pub fn update_rule(&self, id: RuleId, version: u64, input: NewRule) -> Result<Rule> {
        self.batch(|b| b.update_rule(id, version, input))
    }

    /// The rule with `id`.
    pub fn rule(&self, id: RuleId) -> Result<Rule> {
        self.batch(|b| {
            b.check_automation_admin()?;
            b.tx.rule(id)?
                .ok_or_else(|| Error::not_found(EntityKind::Rule, id))
        })
    }

    /// Every rule, by id.
    pub fn rules(&self) -> Result<Vec<Rule>> {
        self.batch(|b| {
            b.check_automation_admin()?;
            Ok(b.tx.rules()?)
        })
    }

    /// The outbox, oldest first: unacknowledged notifications only, unless
    /// `include_acknowledged`. The host delivers them, then acknowledges
    /// each with [`Session::acknowledge_notification`].
    pub fn outbox(&self, include_acknowledged: bool) -> Result<Vec<Notification>> {
        self.batch(|b| {
            b.check_automation_admin()?;
            Ok(b.tx.outbox(include_acknowledged)?)
        })
    }

    /// Marks a notification at `version` as delivered (idempotent).
    pub fn acknowledge_notification(
        &self,
        id: NotificationId,
        version: u64,
    ) -> Result<Notification> {
        self.batch(|b| b.acknowledge_notification(id, version))
    }

    /// Fires every active time rule due at `now`, in one transaction, once
    /// per (rule, record, episode) however often or late it is called: the
    /// firings are stored, and two processes calling it on one SQLite file
    /// are serialised by the write lock. Each firing's actions run as
    /// [`Actor::System`] and are dated `now`. A firing whose actions fail
    /// is undone and reported in [`DueReport::failed`]; the rest still
    /// commit.
    pub fn run_due(&self, now: DateTime<Utc>) -> Result<DueReport> {
        self.batch(|b| b.run_due(now))
    }
}
