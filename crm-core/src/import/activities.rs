//! Activity rows: calls, e-mails, meetings, notes and tasks.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cell::{Row, parse_enum, parse_user};
use super::index::CustomerIndex;
use super::{Column, Importer, MatchBy, exists};
use crate::activity::{ActivityKind, NewActivity};
use crate::error::{EntityKind, Error, Result};
use crate::event::FieldChange;
use crate::facade::Batch;
use crate::id::ActivityId;
use crate::id::DealId;

/// The columns of an activity file.
pub const ACTIVITY_COLUMNS: &[Column] = &[
    Column {
        name: "id",
        required: false,
        description: "the record's id in the system the file comes from; later rows and files can refer to it",
    },
    Column {
        name: "kind",
        required: true,
        description: "call, email, meeting, note or task",
    },
    Column {
        name: "subject",
        required: true,
        description: "a one-line summary",
    },
    Column {
        name: "body",
        required: false,
        description: "longer text",
    },
    Column {
        name: "customer",
        required: false,
        description: "the customer, by id, e-mail address or exact name",
    },
    Column {
        name: "deal",
        required: false,
        description: "the deal's id",
    },
    Column {
        name: "owner",
        required: false,
        description: "the user who did it, or a task's assignee, by id",
    },
    Column {
        name: "direction",
        required: false,
        description: "inbound or outbound",
    },
    Column {
        name: "occurred_at",
        required: false,
        description: "when it happened (default: now)",
    },
    Column {
        name: "due_at",
        required: false,
        description: "when a task is due (required for a task)",
    },
    Column {
        name: "completed_at",
        required: false,
        description: "when a task was done",
    },
    Column {
        name: "created_at",
        required: false,
        description: "when it was recorded (default: occurred_at, else now)",
    },
];

pub(crate) struct ActivityRow {
    input: NewActivity,
    completed_at: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
}

/// Imports activities, recorded at `created_at` (or when they occurred);
/// a task with `completed_at` is logged, then completed at that time.
pub(crate) struct ActivityImporter {
    customers: CustomerIndex,
    default_at: Option<DateTime<Utc>>,
}

impl Importer for ActivityImporter {
    const ENTITY: EntityKind = EntityKind::Activity;
    const COLUMNS: &'static [Column] = ACTIVITY_COLUMNS;
    type Input = ActivityRow;

    fn new(batch: &Batch<'_>, default_at: Option<DateTime<Utc>>) -> Result<Self> {
        Ok(ActivityImporter {
            customers: CustomerIndex::load(batch)?,
            default_at,
        })
    }

    fn read(&mut self, row: &mut Row<'_>) -> Option<ActivityRow> {
        let kind = match row.required("kind") {
            Some(_) => row.parse("kind", |t| {
                parse_enum::<ActivityKind>(t, &["call", "email", "meeting", "note", "task"])
            }),
            None => None,
        };
        let subject = row.required("subject");
        let ids = row.ids();
        let customer = row.parse("customer", |t| self.customers.resolve(t, ids));
        let deal = row.parse("deal", |t| {
            t.parse::<uuid::Uuid>()
                .map(|id| DealId::from_uuid(ids.get(&id).copied().unwrap_or(id)))
                .map_err(|_| "expected a deal id (a UUID)".to_owned())
        });
        let owner = row.parse("owner", parse_user);
        let direction = row.parse("direction", |t| parse_enum(t, &["inbound", "outbound"]));
        let occurred_at = row.time("occurred_at");
        let due_at = row.time("due_at");
        let completed_at = row.time("completed_at");
        let custom = row.custom();
        let created_at = row.time("created_at").or(occurred_at);
        let kind = kind?;
        if kind != ActivityKind::Task
            && let Some(done) = completed_at
        {
            row.problem(
                "completed_at",
                done.to_rfc3339(),
                format!("only tasks are completed, and this is a {kind}"),
            );
        }
        if row.has_problems() {
            return None;
        }
        let mut input = NewActivity::new(kind, subject?);
        input.body = row.text("body").map(str::to_owned);
        input.customer = customer;
        input.deal = deal;
        input.owner = owner;
        input.direction = direction;
        input.occurred_at = occurred_at;
        input.due_at = due_at;
        input.custom = custom;
        Some(ActivityRow {
            input,
            completed_at,
            created_at,
        })
    }

    fn write(&mut self, batch: &mut Batch<'_>, row: &ActivityRow) -> Result<Uuid> {
        batch.set_time(row.created_at.or(self.default_at));
        let result = batch.log_activity(row.input.clone()).and_then(|activity| {
            if let Some(done) = row.completed_at {
                batch.set_time(Some(done));
                batch.complete_task(activity.id, activity.version)?;
            }
            Ok(activity.id.as_uuid())
        });
        batch.set_time(self.default_at);
        result
    }

    fn several_steps(&self, row: &ActivityRow) -> bool {
        row.completed_at.is_some()
    }

    fn column_of(&self, _: &ActivityRow, error: &Error) -> &'static str {
        let Error::Invalid(v) = error else { return "" };
        match v.field.split(['[', '.']).next().unwrap_or("") {
            "subject" => "subject",
            "body" => "body",
            "customer" => "customer",
            "deal" => "deal",
            "owner" => "owner",
            "direction" => "direction",
            "occurred_at" => "occurred_at",
            "due_at" => "due_at",
            "completed_at" => "completed_at",
            _ => "",
        }
    }

    fn find(
        &self,
        batch: &Batch<'_>,
        by: MatchBy,
        own_id: Option<Uuid>,
        _: &ActivityRow,
    ) -> std::result::Result<Option<Uuid>, (&'static str, String)> {
        match (by, own_id) {
            (MatchBy::Id, Some(id)) => exists(batch.activity(ActivityId::from_uuid(id)))
                .map(|a| a.map(|a| a.id.as_uuid()))
                .map_err(|e| ("id", e.to_string())),
            _ => Ok(None),
        }
    }

    /// An activity, once logged, is a record of what happened: the only
    /// change it takes is a task's completion. A row that differs in
    /// anything else is an error naming the first such column.
    fn update(
        &mut self,
        batch: &mut Batch<'_>,
        id: Uuid,
        row: &ActivityRow,
    ) -> Result<Vec<FieldChange>> {
        let id = ActivityId::from_uuid(id);
        let current = batch.activity(id)?;
        let input = &row.input;
        let mut differs: Vec<(&'static str, String)> = Vec::new();
        let mut check = |column: &'static str, same: bool, value: String| {
            if !same {
                differs.push((column, value));
            }
        };
        check("kind", input.kind == current.kind, input.kind.to_string());
        check(
            "subject",
            input.subject.trim() == current.subject,
            input.subject.clone(),
        );
        if let Some(body) = &input.body {
            check(
                "body",
                Some(body.as_str()) == current.body.as_deref(),
                body.clone(),
            );
        }
        if let Some(c) = input.customer {
            check("customer", Some(c) == current.customer, c.to_string());
        }
        if let Some(d) = input.deal {
            check("deal", Some(d) == current.deal, d.to_string());
        }
        if let Some(o) = input.owner {
            check("owner", Some(o) == current.owner, o.to_string());
        }
        if let Some(d) = input.direction {
            check(
                "direction",
                Some(d) == current.direction,
                format!("{d:?}").to_lowercase(),
            );
        }
        if let Some(t) = input.occurred_at {
            check("occurred_at", t == current.occurred_at, t.to_rfc3339());
        }
        if let Some(t) = input.due_at {
            check("due_at", Some(t) == current.due_at, t.to_rfc3339());
        }
        for (key, value) in &input.custom {
            check(
                "custom",
                current.custom.get(key) == Some(value),
                key.clone(),
            );
        }
        if let Some((column, value)) = differs.into_iter().next() {
            return Err(Error::invalid(
                EntityKind::Activity,
                column,
                value,
                "a logged activity is not changed by an import (only a task's completion is); log a new one instead",
            ));
        }
        match row.completed_at {
            Some(done) if current.completed_at.is_none() => {
                batch.set_time(Some(done));
                let completed = batch.complete_task(id, current.version);
                batch.set_time(self.default_at);
                let completed = completed?;
                Ok(vec![FieldChange {
                    field: "completed_at".into(),
                    old: serde_json::Value::Null,
                    new: serde_json::to_value(completed.completed_at).unwrap_or_default(),
                }])
            }
            _ => Ok(Vec::new()),
        }
    }
}
