//! Rules: trigger, optional condition, actions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Action, Assignee, Trigger, tracked_fields};
use crate::actor::Actor;
use crate::customer::Lifecycle;
use crate::error::{EntityKind, Error, Result};
use crate::id::RuleId;
use crate::limits::{MAX_RULE_DAYS, MAX_SLA_HOURS};
use crate::segment::Expr;

/// The most actions one rule may have
/// ([`limits::MAX_RULE_ACTIONS`](crate::limits::MAX_RULE_ACTIONS)).
pub const MAX_ACTIONS: usize = crate::limits::MAX_RULE_ACTIONS;
/// The longest rule name, in characters
/// ([`limits::MAX_NAME_CHARS`](crate::limits::MAX_NAME_CHARS)).
pub const MAX_NAME_CHARS: usize = crate::limits::MAX_NAME_CHARS;

/// A stored automation rule (versioned and audited like every record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Identity.
    pub id: RuleId,
    /// Starts at 1, +1 per change.
    pub version: u64,
    /// A name for people.
    pub name: String,
    /// Only active rules fire.
    pub active: bool,
    /// What makes it fire.
    pub trigger: Trigger,
    /// A segment expression the subject's customer must match (`None`:
    /// always).
    pub condition: Option<Expr>,
    /// What it does, in order.
    pub actions: Vec<Action>,
    /// Who saved it.
    pub author: Actor,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Input for [`Session::create_rule`](crate::Session::create_rule) and
/// [`Session::update_rule`](crate::Session::update_rule).
///
/// ```
/// use crm_core::automation::{Action, NewRule, Trigger};
/// let rule = NewRule::new("Follow up proposals", Trigger::DealStageChanged { to: "proposal".into() })
///     .action(Action::CreateTask { title: "Follow up".into(), due_in_days: 2 });
/// assert!(rule.active);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NewRule {
    /// A name for people (1 to [`MAX_NAME_CHARS`] characters).
    pub name: String,
    /// Whether it fires.
    pub active: bool,
    /// What makes it fire.
    pub trigger: Trigger,
    /// Optional condition over the subject's customer.
    pub condition: Option<Expr>,
    /// 1 to [`MAX_ACTIONS`] actions.
    pub actions: Vec<Action>,
}

impl NewRule {
    /// An active rule with no condition and no actions yet.
    pub fn new(name: impl Into<String>, trigger: Trigger) -> Self {
        NewRule {
            name: name.into(),
            active: true,
            trigger,
            condition: None,
            actions: Vec::new(),
        }
    }

    /// Sets the condition.
    pub fn condition(mut self, expr: Expr) -> Self {
        self.condition = Some(expr);
        self
    }

    /// Appends an action.
    pub fn action(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    /// Sets whether the rule is active.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// Checks every field; the first problem is the error.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, value: &dyn std::fmt::Display, why: &str| {
            Err(Error::invalid(EntityKind::Rule, field, value, why))
        };
        let name = self.name.trim();
        if name.is_empty() {
            return bad("name", &self.name, "must not be empty");
        }
        crate::limits::check_text(
            EntityKind::Rule,
            "name",
            "a rule name",
            name,
            MAX_NAME_CHARS,
            false,
        )?;
        check_trigger_bounds(&self.trigger)?;
        match &self.trigger {
            Trigger::DealStageChanged { to } if to.trim().is_empty() => {
                return bad("trigger.to", to, "must name a stage");
            }
            Trigger::DealStageChanged { to } => {
                crate::limits::check_text(
                    EntityKind::Rule,
                    "trigger.to",
                    "a stage key",
                    to,
                    crate::limits::MAX_NAME_CHARS,
                    false,
                )?;
            }
            Trigger::RecordCreated { entity }
                if !matches!(
                    entity,
                    EntityKind::Customer | EntityKind::Deal | EntityKind::Activity
                ) =>
            {
                return bad(
                    "trigger.entity",
                    entity,
                    "must be customer, deal or activity",
                );
            }
            Trigger::FieldChanged {
                entity,
                field,
                from,
                to,
            } => {
                check_field_name("trigger", *entity, field, tracked_fields(*entity))?;
                for (name, v) in [("trigger.from", from), ("trigger.to", to)] {
                    if let Some(v) = v {
                        crate::limits::check_text(
                            EntityKind::Rule,
                            name,
                            "a watched value",
                            v,
                            crate::limits::MAX_CUSTOM_TEXT_CHARS,
                            false,
                        )?;
                    }
                }
                if field == "lifecycle" {
                    for (name, v) in [("trigger.from", from), ("trigger.to", to)] {
                        if let Some(v) = v
                            && serde_json::from_value::<Lifecycle>(v.as_str().into()).is_err()
                        {
                            return bad(name, v, "is not a lifecycle");
                        }
                    }
                }
            }
            Trigger::DateReached { entity, field, .. } => {
                let standard: &[&str] = match entity {
                    EntityKind::Deal => &["expected_close_date"],
                    _ => &[],
                };
                check_field_name("trigger", *entity, field, standard)?;
            }
            Trigger::FirstResponseOverdue { calendar, .. }
                if calendar.hours().minutes_per_week() == 0 =>
            {
                return bad(
                    "trigger.calendar",
                    &calendar.time_zone(),
                    "has no open hours, so no response could ever be late",
                );
            }
            _ => {}
        }
        if let Some(expr) = &self.condition {
            crate::segment::validate_expr(expr)?;
        }
        if self.actions.is_empty() {
            return bad("actions", &0, "a rule needs at least one action");
        }
        if self.actions.len() > MAX_ACTIONS {
            return bad(
                "actions",
                &self.actions.len(),
                &format!("a rule has at most {MAX_ACTIONS} actions"),
            );
        }
        for (i, a) in self.actions.iter().enumerate() {
            match a {
                Action::CreateTask { title, due_in_days } => {
                    if title.trim().is_empty() {
                        return bad(&format!("actions[{i}].title"), title, "must not be empty");
                    }
                    // The task's subject: refused now, not when it fires.
                    crate::limits::check_text(
                        EntityKind::Rule,
                        &format!("actions[{i}].title"),
                        "a task title",
                        title.trim(),
                        crate::limits::MAX_NAME_CHARS,
                        false,
                    )?;
                    if *due_in_days > MAX_RULE_DAYS {
                        return bad(
                            &format!("actions[{i}].due_in_days"),
                            due_in_days,
                            &format!("must be at most {MAX_RULE_DAYS}"),
                        );
                    }
                }
                Action::AddTag { tag } | Action::RemoveTag { tag }
                    if crate::tag::Tag::parse(tag).is_err() =>
                {
                    return bad(&format!("actions[{i}].tag"), tag, "is not a valid tag");
                }
                Action::Notify { text, .. } => {
                    if text.trim().is_empty() {
                        return bad(&format!("actions[{i}].text"), text, "must not be empty");
                    }
                    crate::limits::check_text(
                        EntityKind::Rule,
                        &format!("actions[{i}].text"),
                        "a notification text",
                        text,
                        crate::limits::MAX_NOTIFICATION_CHARS,
                        true,
                    )?;
                }
                Action::CreateActivity {
                    subject, in_days, ..
                } => {
                    if subject.trim().is_empty() {
                        return bad(
                            &format!("actions[{i}].subject"),
                            subject,
                            "must not be empty",
                        );
                    }
                    crate::limits::check_text(
                        EntityKind::Rule,
                        &format!("actions[{i}].subject"),
                        "an activity subject",
                        subject.trim(),
                        crate::limits::MAX_NAME_CHARS,
                        false,
                    )?;
                    if *in_days > MAX_RULE_DAYS {
                        return bad(
                            &format!("actions[{i}].in_days"),
                            in_days,
                            &format!("must be at most {MAX_RULE_DAYS}"),
                        );
                    }
                }
                Action::SetField {
                    entity,
                    field,
                    value,
                } => {
                    let at = format!("actions[{i}]");
                    let settable: &[&str] = match entity {
                        EntityKind::Customer => &[
                            "name",
                            "organisation",
                            "roles",
                            "lifecycle",
                            "emails",
                            "phones",
                            "owner",
                        ],
                        EntityKind::Deal => &["title", "amount", "expected_close_date", "owner"],
                        _ => &[],
                    };
                    check_field_name(&at, *entity, field, settable)?;
                    let patch = set_field_patch(*entity, field, value).map_err(|why| {
                        Error::invalid(EntityKind::Rule, format!("{at}.value"), value, why)
                    })?;
                    // An amount is bounded when the rule is saved, not only
                    // when it fires.
                    if *entity == EntityKind::Deal
                        && let Ok(p) = crate::strict_json::from_value::<crate::DealPatch>(patch)
                        && let Some(amount) = p.amount
                    {
                        crate::deal::validate_amount(amount).map_err(|e| {
                            let why = match e {
                                Error::Invalid(v) => v.reason,
                                other => other.to_string(),
                            };
                            Error::invalid(EntityKind::Rule, format!("{at}.value"), value, why)
                        })?;
                    }
                }
                Action::ChangeOwner { entity, to } => {
                    if !matches!(entity, EntityKind::Customer | EntityKind::Deal) {
                        return bad(
                            &format!("actions[{i}].entity"),
                            entity,
                            "must be customer or deal",
                        );
                    }
                    if *to == Assignee::Owner {
                        return bad(
                            &format!("actions[{i}].to"),
                            &"owner",
                            "must name a user or a round-robin team",
                        );
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Refuses a field name that is neither one of `standard` nor
/// `custom.KEY` on a customer or deal.
fn check_field_name(at: &str, entity: EntityKind, field: &str, standard: &[&str]) -> Result<()> {
    if !matches!(entity, EntityKind::Customer | EntityKind::Deal) {
        return Err(Error::invalid(
            EntityKind::Rule,
            format!("{at}.entity"),
            entity,
            "must be customer or deal",
        ));
    }
    let custom_ok = field.strip_prefix("custom.").is_some_and(|k| {
        (1..=40).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    });
    if custom_ok || standard.contains(&field) {
        return Ok(());
    }
    Err(Error::invalid(
        EntityKind::Rule,
        format!("{at}.field"),
        field,
        format!(
            "is not a field of a {entity} here (one of {}, or custom.KEY)",
            standard.join(", ")
        ),
    ))
}

/// The patch a [`Action::SetField`] applies, as JSON, checked by decoding
/// it into the entity's patch type; the reason when it does not decode.
pub(crate) fn set_field_patch(
    entity: EntityKind,
    field: &str,
    value: &serde_json::Value,
) -> std::result::Result<serde_json::Value, String> {
    let patch = match field.strip_prefix("custom.") {
        Some(key) => serde_json::json!({ "custom": { key: value } }),
        None => serde_json::json!({ field: value }),
    };
    let decoded = match entity {
        EntityKind::Customer => {
            crate::strict_json::from_value::<crate::customer::CustomerPatch>(patch.clone())
                .map(|_| ())
        }
        _ => crate::strict_json::from_value::<crate::deal::DealPatch>(patch.clone()).map(|_| ()),
    };
    decoded
        .map(|()| patch)
        .map_err(|e| format!("is not a valid value for {field}: {e}"))
}

/// Checks the durations and offsets a trigger carries against their
/// bounds ([`MAX_RULE_DAYS`], [`MAX_SLA_HOURS`]). Run when a rule is saved,
/// and again by `run_due` on every stored rule, so a rule saved by an older
/// version with a larger value is skipped (and reported) instead of making
/// date arithmetic fail.
pub(crate) fn check_trigger_bounds(trigger: &Trigger) -> Result<()> {
    let bad = |field: &str, value: &dyn std::fmt::Display, why: String| {
        Err(Error::invalid(EntityKind::Rule, field, value, why))
    };
    match trigger {
        Trigger::DealIdle { days } if !(1..=MAX_RULE_DAYS).contains(days) => bad(
            "trigger.days",
            days,
            format!("must be between 1 and {MAX_RULE_DAYS} days"),
        ),
        Trigger::DateReached { days, .. } if days.unsigned_abs() > MAX_RULE_DAYS => bad(
            "trigger.days",
            days,
            format!("must be between -{MAX_RULE_DAYS} and {MAX_RULE_DAYS} days"),
        ),
        Trigger::FirstResponseOverdue { hours, .. } if !(1..=MAX_SLA_HOURS).contains(hours) => bad(
            "trigger.hours",
            hours,
            format!("must be between 1 and {MAX_SLA_HOURS} hours"),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_text(r: NewRule) -> String {
        match r.validate() {
            Ok(()) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn validation_names_the_field() {
        let ok = NewRule::new("r", Trigger::DealWon).action(Action::notify("t"));
        assert_eq!(err_text(ok.clone()), "");
        let mut blank = ok.clone();
        blank.name = "  ".into();
        assert!(err_text(blank).contains("name"));
        assert!(err_text(NewRule::new("r", Trigger::DealWon)).contains("actions"));
        let task = NewRule::new("r", Trigger::DealWon).action(Action::CreateTask {
            title: "t".into(),
            due_in_days: 3651,
        });
        assert!(err_text(task).contains("actions[0].due_in_days"));
        let tag = ok.clone().action(Action::AddTag { tag: "".into() });
        assert!(err_text(tag).contains("actions[1].tag"));
        let stage = NewRule::new("r", Trigger::DealStageChanged { to: " ".into() })
            .action(Action::notify("t"));
        assert!(err_text(stage).contains("trigger.to"));
        let many = (0..21).fold(NewRule::new("r", Trigger::DealWon), |r, _| {
            r.action(Action::notify("t"))
        });
        assert!(err_text(many).contains("at most 20"));
    }
}
