//! Automation in the facade: rule records, firing event rules inside the
//! batch that appended the event, time rules (`run_due`), the outbox.
//!
//! See [`crate::automation`] for the semantics.

use chrono::{DateTime, Duration, Utc};

use super::batch::entity;
use super::{Batch, Session};
use crate::access::{Access, Operation, Resource};
use crate::activity::NewActivity;
use crate::actor::Actor;
use crate::automation::{
    Action, DueReport, Firing, MAX_DEPTH, NewRule, Notification, Rule, Trigger,
};
use crate::clock::truncate_to_millis;
use crate::customer::CustomerPatch;
use crate::deal::DealStatus;
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EntityRef, Event, EventKind};
use crate::id::{CustomerId, DealId, NotificationId, RuleId, UserId};
use crate::query::{ActivityFilter, DealFilter};
use crate::store::Store;

/// Per-batch automation state: the active event rules (read once per
/// batch, re-read after a rule changes) and the chain of rules running.
#[derive(Default)]
pub(super) struct AutomationState {
    event_rules: Option<Vec<Rule>>,
    chain: Vec<String>,
}

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

impl AutomationState {
    /// Drops the cached event rules (re-read on the next event).
    pub(super) fn forget_rules(&mut self) {
        self.event_rules = None;
    }
}

impl Batch<'_> {
    fn check_automation_admin(&self) -> Result<()> {
        self.access
            .check_write_all(Resource::Pipelines, Operation::Update, "automation")
    }

    /// Creates a rule. See [`Session::create_rule`].
    pub fn create_rule(&mut self, input: NewRule) -> Result<Rule> {
        self.check_automation_admin()?;
        input.validate()?;
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
        self.automation.event_rules = None;
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
        self.automation.event_rules = None;
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
        if self.automation.event_rules.is_none() {
            let rules = self
                .tx
                .rules()?
                .into_iter()
                .filter(|r| r.active && !r.trigger.is_time())
                .collect();
            self.automation.event_rules = Some(rules);
        }
        let matching: Vec<Rule> = self
            .automation
            .event_rules
            .iter()
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
        for rule in &matching {
            self.run_rule(rule, &subject, event.at)?;
        }
        Ok(())
    }

    /// Whether `rule`'s condition holds for `subject` at `at`.
    fn condition_holds(&self, rule: &Rule, subject: &Subject, at: DateTime<Utc>) -> Result<bool> {
        let Some(expr) = &rule.condition else {
            return Ok(true);
        };
        let Some(cid) = subject.customer else {
            return Ok(false);
        };
        let Some(customer) = self.tx.customer(cid)? else {
            return Ok(false);
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
        let ids = crate::segment::evaluate(expr, &[customer], &deals, &activities, at)?;
        Ok(ids.contains(&cid))
    }

    /// Runs `rule` on `subject` if its condition holds: its actions as
    /// [`Actor::System`], one level deeper on the chain.
    fn run_rule(&mut self, rule: &Rule, subject: &Subject, at: DateTime<Utc>) -> Result<()> {
        if self.automation.chain.len() >= MAX_DEPTH as usize {
            let mut rules = self.automation.chain.clone();
            rules.push(rule.name.clone());
            return Err(Error::AutomationLoop {
                depth: MAX_DEPTH,
                rules,
            });
        }
        if !self.condition_holds(rule, subject, at)? {
            return Ok(());
        }
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
        out
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
                let due = at + Duration::days(i64::from(*due_in_days));
                let mut task = NewActivity::task(title.clone(), due);
                if let Some(owner) = subject.owner {
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
            Action::Notify { text } => {
                let n = Notification {
                    id: NotificationId::from_uuid(self.new_uuid()),
                    version: 1,
                    rule: rule.id,
                    recipient: subject.owner,
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

    /// Fires the due time rules. See [`Session::run_due`]. Dates this
    /// batch's following operations at `now`, as
    /// [`set_time`](Batch::set_time) does.
    pub fn run_due(&mut self, now: DateTime<Utc>) -> Result<DueReport> {
        self.check_automation_admin()?;
        let now = truncate_to_millis(now);
        self.set_time(Some(now));
        let rules: Vec<Rule> = self
            .tx
            .rules()?
            .into_iter()
            .filter(|r| r.active && r.trigger.is_time())
            .collect();
        let mut report = DueReport::default();
        if rules.is_empty() {
            return Ok(report);
        }
        // Newest activity per deal, read once for every idle rule.
        let mut last_activity: std::collections::HashMap<DealId, DateTime<Utc>> =
            Default::default();
        if rules
            .iter()
            .any(|r| matches!(r.trigger, Trigger::DealIdle { .. }))
        {
            self.tx
                .scan_activities(&ActivityFilter::default(), &mut |a| {
                    if let Some(d) = a.deal {
                        let t = last_activity.entry(d).or_insert(a.occurred_at);
                        *t = (*t).max(a.occurred_at);
                    }
                })?;
        }
        for rule in &rules {
            // (subject, episode start) of every record due under this rule.
            let mut due: Vec<(EntityRef, DateTime<Utc>)> = Vec::new();
            match rule.trigger {
                Trigger::DealIdle { days } => {
                    let limit = Duration::days(i64::from(days));
                    self.tx.scan_deals(
                        &DealFilter {
                            status: Some(DealStatus::Open),
                            ..Default::default()
                        },
                        &mut |d| {
                            let moved = d.history.last().map_or(d.created_at, |h| h.at);
                            let since = last_activity.get(&d.id).map_or(moved, |a| moved.max(*a));
                            if now - since >= limit {
                                due.push((entity(EntityKind::Deal, d.id.as_uuid()), since));
                            }
                        },
                    )?;
                }
                Trigger::TaskOverdue => {
                    self.tx.scan_activities(
                        &ActivityFilter {
                            open_tasks_only: true,
                            ..Default::default()
                        },
                        &mut |a| {
                            if let Some(t) = a.due_at.filter(|t| *t < now) {
                                due.push((entity(EntityKind::Activity, a.id.as_uuid()), t));
                            }
                        },
                    )?;
                }
                _ => {}
            }
            due.sort_by_key(|(e, _)| e.id);
            for (e, since) in due {
                let firing = Firing {
                    rule: rule.id,
                    subject: e,
                    episode: since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    at: now,
                };
                if self.tx.has_fired(rule.id, e.id, &firing.episode)? {
                    continue;
                }
                let Some(subject) = subject(&*self.tx, e)? else {
                    continue;
                };
                if !self.condition_holds(rule, &subject, now)? {
                    continue;
                }
                let outcome = self.attempt(|b| {
                    b.tx.record_firing(&firing)?;
                    b.run_rule(rule, &subject, now)
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
