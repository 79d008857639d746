//! Activity rows: calls, e-mails, meetings, notes and tasks.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cell::{Row, parse_enum, parse_time, parse_user};
use super::index::CustomerIndex;
use super::{Column, Importer};
use crate::activity::{ActivityKind, NewActivity};
use crate::error::{EntityKind, Error, Result};
use crate::facade::Batch;
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
        let occurred_at = row.parse("occurred_at", parse_time);
        let due_at = row.parse("due_at", parse_time);
        let completed_at = row.parse("completed_at", parse_time);
        let custom = row.custom();
        let created_at = row.parse("created_at", parse_time).or(occurred_at);
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
}
