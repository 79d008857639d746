//! What makes a rule fire: an event in the audit log, or time passing.

use serde::{Deserialize, Serialize};

use crate::customer::Lifecycle;
use crate::error::EntityKind;
use crate::event::{Event, EventKind};

/// What makes a [`Rule`](super::Rule) fire.
///
/// Event triggers are checked against every event appended in a write
/// transaction; time triggers are checked by
/// [`Session::run_due`](crate::Session::run_due).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Trigger {
    /// Whether [`Session::run_due`](crate::Session::run_due) checks this
    /// trigger (rather than the event log).
    pub fn is_time(&self) -> bool {
        matches!(self, Trigger::DealIdle { .. } | Trigger::TaskOverdue)
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
            Trigger::DealIdle { .. } | Trigger::TaskOverdue => false,
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
