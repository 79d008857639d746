//! What makes a rule fire: an event in the audit log, or time passing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::calendar::BusinessCalendar;
use crate::customer::Lifecycle;
use crate::error::EntityKind;
use crate::event::{Event, EventKind};

/// What makes a [`Rule`](super::Rule) fire.
///
/// Event triggers are checked against every event appended in a write
/// transaction; time triggers are checked by
/// [`Session::run_due`](crate::Session::run_due).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// An open deal moved to the open stage with key `to`.
    DealStageChanged {
        /// The stage key the deal moved into.
        to: String,
    },
    /// A deal was won.
    DealWon,
    /// A deal was lost.
    DealLost,
    /// A customer's lifecycle changed to `to`.
    LifecycleChanged {
        /// The lifecycle the customer moved into.
        to: Lifecycle,
    },
    /// A task was completed.
    ActivityCompleted,
    /// Time: an open deal has had no stage change and no activity for
    /// `days` days (counted from the later of its last stage change and
    /// its newest activity's occurrence).
    DealIdle {
        /// Days without a stage change or activity (at least 1).
        days: u32,
    },
    /// Time: an open task is past its due time.
    TaskOverdue,
    /// A record of `entity` (customer, deal or activity) was created.
    RecordCreated {
        /// `customer`, `deal` or `activity`.
        entity: EntityKind,
    },
    /// A tracked field of a customer or deal changed, optionally only from
    /// one value and/or to another. See [`tracked_fields`] for the field
    /// names; `custom.KEY` names a custom field. Values are compared as
    /// text: a stage or lifecycle key, a user id, a date `2025-03-31`, a
    /// custom field's value (`"gold"`, `42`, `true`); `None` matches any
    /// value, including none.
    ///
    /// ```
    /// use crm_core::EntityKind;
    /// use crm_core::automation::Trigger;
    /// // Stage to `proposal` (from any stage), and any owner change:
    /// let into_proposal = Trigger::field_changed(EntityKind::Deal, "stage").to("proposal");
    /// let owner_changed = Trigger::field_changed(EntityKind::Customer, "owner");
    /// # let _ = (into_proposal, owner_changed);
    /// ```
    FieldChanged {
        /// `customer` or `deal`.
        entity: EntityKind,
        /// The field (`stage`, `lifecycle`, `owner`, `custom.tier`, …).
        field: String,
        /// Only changes away from this value (`None`: from anything).
        #[serde(default)]
        from: Option<String>,
        /// Only changes into this value (`None`: to anything).
        #[serde(default)]
        to: Option<String>,
    },
    /// A closed (won or lost) deal was reopened.
    DealReopened,
    /// Time: a date field of a customer or an open deal is `days` days
    /// away: negative `days` fires that many days *before* the date (a
    /// reminder ahead), zero on the date, positive that many days after
    /// it. The moment is 00:00 UTC of (date + `days`). The field is
    /// `expected_close_date` (deals) or `custom.KEY` (a custom date
    /// field). The occurrence is the date value itself, so a rule fires
    /// once per (record, date) and changing the date re-arms it.
    DateReached {
        /// `customer` or `deal`.
        entity: EntityKind,
        /// `expected_close_date` or `custom.KEY`.
        field: String,
        /// Offset from the date, in days (-3650 to 3650).
        days: i32,
    },
    /// Time: the first-response SLA. A customer that is a `lead` (now) got
    /// no response within `hours` business hours of its creation, counted
    /// in `calendar`'s business time. A response is a call, e-mail or
    /// meeting with direction `outbound` linked to the customer (directly
    /// or through one of its deals), by anyone, at or after the customer's
    /// creation and not after `now`; the SLA is breached when the first
    /// response came after more than `hours` business hours, or there is
    /// none and more than `hours` business hours have passed by `now` (the
    /// definitions of the first-response KPI, [`crate::kpi`]). Fires once per
    /// customer (the occurrence is its creation time).
    ///
    /// ```
    /// use crm_core::automation::Trigger;
    /// use crm_core::calendar::{BusinessCalendar, WeeklyHours};
    /// let sla = Trigger::FirstResponseOverdue {
    ///     hours: 4,
    ///     calendar: BusinessCalendar::new("Europe/Berlin", WeeklyHours::weekdays("09:00-17:00")?)?,
    /// };
    /// assert!(sla.is_time());
    /// # Ok::<(), crm_core::calendar::CalendarError>(())
    /// ```
    FirstResponseOverdue {
        /// Business hours allowed for the first response (1 to 8760).
        hours: u32,
        /// Opening hours, time zone and holidays the hours are counted in.
        calendar: BusinessCalendar,
    },
}

/// The fields a [`Trigger::FieldChanged`] may watch on `entity` (besides
/// `custom.KEY`); empty for other kinds of record.
pub fn tracked_fields(entity: EntityKind) -> &'static [&'static str] {
    match entity {
        EntityKind::Customer => &[
            "name",
            "organisation",
            "roles",
            "lifecycle",
            "emails",
            "phones",
            "owner",
            "tags",
        ],
        EntityKind::Deal => &[
            "title",
            "amount",
            "expected_close_date",
            "owner",
            "stage",
            "status",
            "lost_reason",
        ],
        _ => &[],
    }
}

/// A field change's value as the text [`Trigger::FieldChanged`] compares
/// (`None` for no value). A custom value (`{"type":…,"value":…}`) is
/// its `value`.
fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(m) if m.contains_key("type") && m.contains_key("value") => {
            m.get("value").and_then(value_text)
        }
        other => Some(other.to_string()),
    }
}

/// The (old, new) text of `field` in `event`, if the event changed it.
fn changed(event: &Event, field: &str) -> Option<(Option<String>, Option<String>)> {
    if let Some(key) = field.strip_prefix("custom.") {
        let c = event.changes.iter().find(|c| c.field == "custom")?;
        let old = c.old.get(key).unwrap_or(&Value::Null);
        let new = c.new.get(key).unwrap_or(&Value::Null);
        if old == new {
            return None;
        }
        return Some((value_text(old), value_text(new)));
    }
    let c = event.changes.iter().find(|c| c.field == field)?;
    Some((value_text(&c.old), value_text(&c.new)))
}

impl Trigger {
    /// Whether [`Session::run_due`](crate::Session::run_due) checks this
    /// trigger (rather than the event log).
    pub fn is_time(&self) -> bool {
        matches!(
            self,
            Trigger::DealIdle { .. }
                | Trigger::TaskOverdue
                | Trigger::DateReached { .. }
                | Trigger::FirstResponseOverdue { .. }
        )
    }

    /// A [`Trigger::FieldChanged`] on any change of `field`; narrow it
    /// with [`from`](Trigger::from) and [`to`](Trigger::to).
    pub fn field_changed(entity: EntityKind, field: impl Into<String>) -> Self {
        Trigger::FieldChanged {
            entity,
            field: field.into(),
            from: None,
            to: None,
        }
    }

    /// Narrows a [`Trigger::FieldChanged`] to changes away from `value`
    /// (other triggers are returned unchanged).
    pub fn from(mut self, value: impl Into<String>) -> Self {
        if let Trigger::FieldChanged { from, .. } = &mut self {
            *from = Some(value.into());
        }
        self
    }

    /// Narrows a [`Trigger::FieldChanged`] to changes into `value` (other
    /// triggers are returned unchanged).
    pub fn to(mut self, value: impl Into<String>) -> Self {
        if let Trigger::FieldChanged { to, .. } = &mut self {
            *to = Some(value.into());
        }
        self
    }

    /// The (record kind, event kind) pairs this event trigger can match,
    /// for indexing rules by the event they wait for (empty for time
    /// triggers).
    pub fn event_keys(&self) -> Vec<(EntityKind, EventKind)> {
        use EntityKind as E;
        use EventKind as K;
        match self {
            Trigger::DealStageChanged { .. } => vec![(E::Deal, K::StageChanged)],
            Trigger::DealWon => vec![(E::Deal, K::Won)],
            Trigger::DealLost => vec![(E::Deal, K::Lost)],
            Trigger::DealReopened => vec![(E::Deal, K::Reopened)],
            Trigger::LifecycleChanged { .. } => vec![(E::Customer, K::Updated)],
            Trigger::ActivityCompleted => vec![(E::Activity, K::Completed)],
            Trigger::RecordCreated { entity } => vec![(*entity, K::Created)],
            Trigger::FieldChanged { entity, .. } => [
                K::Updated,
                K::StageChanged,
                K::Won,
                K::Lost,
                K::Reopened,
                K::Merged,
            ]
            .into_iter()
            .map(|k| (*entity, k))
            .collect(),
            Trigger::DealIdle { .. }
            | Trigger::TaskOverdue
            | Trigger::DateReached { .. }
            | Trigger::FirstResponseOverdue { .. } => Vec::new(),
        }
    }

    /// Whether `event` fires this (event) trigger.
    pub fn matches(&self, event: &Event) -> bool {
        let new_value = |field: &str| {
            event
                .changes
                .iter()
                .find(|c| c.field == field)
                .map(|c| &c.new)
        };
        match self {
            Trigger::DealStageChanged { to } => {
                event.entity.kind == EntityKind::Deal
                    && event.kind == EventKind::StageChanged
                    && new_value("stage").and_then(|v| v.as_str()) == Some(to.as_str())
            }
            Trigger::DealWon => {
                event.entity.kind == EntityKind::Deal && event.kind == EventKind::Won
            }
            Trigger::DealLost => {
                event.entity.kind == EntityKind::Deal && event.kind == EventKind::Lost
            }
            Trigger::LifecycleChanged { to } => {
                event.entity.kind == EntityKind::Customer
                    && event.kind == EventKind::Updated
                    && new_value("lifecycle").and_then(|v| v.as_str()) == Some(to.as_str())
            }
            Trigger::ActivityCompleted => {
                event.entity.kind == EntityKind::Activity && event.kind == EventKind::Completed
            }
            Trigger::DealReopened => {
                event.entity.kind == EntityKind::Deal && event.kind == EventKind::Reopened
            }
            Trigger::RecordCreated { entity } => {
                event.entity.kind == *entity && event.kind == EventKind::Created
            }
            Trigger::FieldChanged {
                entity,
                field,
                from,
                to,
            } => {
                if event.entity.kind != *entity || event.kind == EventKind::Created {
                    return false;
                }
                let Some((old, new)) = changed(event, field) else {
                    return false;
                };
                from.as_ref().is_none_or(|f| old.as_ref() == Some(f))
                    && to.as_ref().is_none_or(|t| new.as_ref() == Some(t))
            }
            Trigger::DealIdle { .. }
            | Trigger::TaskOverdue
            | Trigger::DateReached { .. }
            | Trigger::FirstResponseOverdue { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::Actor;
    use crate::event::{EntityRef, FieldChange};
    use crate::id::EventId;
    use serde_json::json;

    fn event(kind: EntityKind, ev: EventKind, field: &str, old: &str, new: &str) -> Event {
        Event {
            seq: 1,
            id: EventId::from_uuid(uuid::Uuid::from_u128(1)),
            at: chrono::DateTime::from_timestamp(1_735_689_600, 0).unwrap_or_default(),
            actor: Actor::System,
            entity: EntityRef {
                kind,
                id: uuid::Uuid::from_u128(2),
            },
            version: 2,
            kind: ev,
            changes: vec![FieldChange {
                field: field.into(),
                old: json!(old),
                new: json!(new),
            }],
        }
    }

    #[test]
    fn stage_trigger_matches_only_its_target_stage() {
        let t = Trigger::DealStageChanged {
            to: "proposal".into(),
        };
        let into = event(
            EntityKind::Deal,
            EventKind::StageChanged,
            "stage",
            "qualified",
            "proposal",
        );
        let out_of = event(
            EntityKind::Deal,
            EventKind::StageChanged,
            "stage",
            "proposal",
            "negotiation",
        );
        assert!(t.matches(&into));
        assert!(!t.matches(&out_of));
        assert!(!Trigger::DealWon.matches(&into));
        let won = event(EntityKind::Deal, EventKind::Won, "stage", "proposal", "won");
        assert!(Trigger::DealWon.matches(&won));
        assert!(!Trigger::DealLost.matches(&won));
        assert!(!t.matches(&won), "a win is not an open-stage change");
    }

    #[test]
    fn lifecycle_trigger_matches_updates_into_its_value() {
        let t = Trigger::LifecycleChanged {
            to: Lifecycle::Churned,
        };
        let e = event(
            EntityKind::Customer,
            EventKind::Updated,
            "lifecycle",
            "customer",
            "churned",
        );
        assert!(t.matches(&e));
        let name = event(
            EntityKind::Customer,
            EventKind::Updated,
            "name",
            "a",
            "churned",
        );
        assert!(!t.matches(&name), "another field with that value");
        let on_deal = event(
            EntityKind::Deal,
            EventKind::Updated,
            "lifecycle",
            "customer",
            "churned",
        );
        assert!(!t.matches(&on_deal));
    }

    #[test]
    fn time_triggers_never_match_events() {
        let e = event(
            EntityKind::Activity,
            EventKind::Completed,
            "completed_at",
            "",
            "x",
        );
        assert!(Trigger::ActivityCompleted.matches(&e));
        assert!(!Trigger::TaskOverdue.matches(&e));
        assert!(Trigger::TaskOverdue.is_time());
        assert!(Trigger::DealIdle { days: 3 }.is_time());
        assert!(!Trigger::ActivityCompleted.is_time());
    }
}
