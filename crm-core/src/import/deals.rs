//! Deal rows, with their historical stage, amount and dates.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::cell::{Row, parse_user};
use super::index::{CustomerIndex, PipelineIndex};
use super::{Column, Importer, MatchBy, exists};
use crate::deal::{DealPatch, NewDeal};
use crate::error::{EntityKind, Error, Result};
use crate::event::FieldChange;
use crate::facade::Batch;
use crate::id::DealId;
use crate::money::Money;
use crate::pipeline::{StageGuard, StageKind};

/// The columns of a deal file.
pub const DEAL_COLUMNS: &[Column] = &[
    Column {
        name: "id",
        required: false,
        description: "the record's id in the system the file comes from; later rows and files can refer to it",
    },
    Column {
        name: "title",
        required: true,
        description: "what is being sold",
    },
    Column {
        name: "customer",
        required: true,
        description: "the customer, by id, e-mail address or exact name",
    },
    Column {
        name: "pipeline",
        required: false,
        description: "the pipeline by id or name (default: the only pipeline)",
    },
    Column {
        name: "stage",
        required: false,
        description: "the stage key the deal is in now (default: the pipeline's first open stage); a won or lost stage imports a closed deal",
    },
    Column {
        name: "amount",
        required: false,
        description: "the deal's value, such as 1250.50",
    },
    Column {
        name: "currency",
        required: false,
        description: "the amount's ISO 4217 code, such as EUR (required with an amount)",
    },
    Column {
        name: "expected_close_date",
        required: false,
        description: "YYYY-MM-DD",
    },
    Column {
        name: "owner",
        required: false,
        description: "the owning user's id",
    },
    Column {
        name: "created_at",
        required: false,
        description: "when the deal was opened (default: now)",
    },
    Column {
        name: "won_at",
        required: false,
        description: "when it was won (required for a won stage)",
    },
    Column {
        name: "lost_at",
        required: false,
        description: "when it was lost (required for a lost stage)",
    },
    Column {
        name: "lost_reason",
        required: false,
        description: "why it was lost",
    },
];

/// How an imported deal was closed.
struct Closing {
    stage: String,
    kind: StageKind,
    at: DateTime<Utc>,
    reason: Option<String>,
}

pub(crate) struct DealRow {
    input: NewDeal,
    created_at: Option<DateTime<Utc>>,
    closing: Option<Closing>,
    /// Which cells the row fills (a blank cell leaves a field alone in an
    /// update).
    stage_given: bool,
    amount_given: bool,
    expected_close_date_given: bool,
    owner_given: bool,
}

/// Imports deals: created in their open stage at `created_at`, and for a
/// won or lost stage then closed at `won_at` / `lost_at`, through the same
/// moves (and guards and transition rules) as a live deal.
pub(crate) struct DealImporter {
    customers: CustomerIndex,
    pipelines: PipelineIndex,
    default_at: Option<DateTime<Utc>>,
}

impl Importer for DealImporter {
    const ENTITY: EntityKind = EntityKind::Deal;
    const COLUMNS: &'static [Column] = DEAL_COLUMNS;
    type Input = DealRow;

    fn new(batch: &Batch<'_>, default_at: Option<DateTime<Utc>>) -> Result<Self> {
        Ok(DealImporter {
            customers: CustomerIndex::load(batch)?,
            pipelines: PipelineIndex::load(batch)?,
            default_at,
        })
    }

    fn read(&mut self, row: &mut Row<'_>) -> Option<DealRow> {
        let title = row.required("title");
        let customer = match row.required("customer") {
            Some(_) => {
                let ids = row.ids();
                row.parse("customer", |t| self.customers.resolve(t, ids))
            }
            None => None,
        };
        let pipeline_cell = row.text("pipeline");
        let pipeline = match self.pipelines.resolve(pipeline_cell, row.ids()) {
            Ok(p) => Some(p),
            Err(reason) => {
                row.problem("pipeline", pipeline_cell.unwrap_or(""), reason);
                None
            }
        };
        let stage = match (pipeline, row.text("stage")) {
            (Some(p), Some(key)) => match p.stages.iter().find(|s| s.key.as_str() == key) {
                Some(s) => Some(s),
                None => {
                    let keys: Vec<&str> = p.stages.iter().map(|s| s.key.as_str()).collect();
                    row.problem(
                        "stage",
                        key,
                        format!(
                            "pipeline '{}' has no such stage (its stages are {})",
                            p.name,
                            keys.join(", ")
                        ),
                    );
                    None
                }
            },
            (Some(p), None) => p.first_open_stage(),
            (None, _) => None,
        };
        let amount_text = row.decimal("amount");
        let amount = match (amount_text.as_deref(), row.text("currency")) {
            (Some(a), Some(c)) => match Money::parse(a, c) {
                Ok(m) => Some(m),
                Err(crate::money::MoneyError::UnknownCurrency(e)) => {
                    row.problem("currency", c, e.to_string());
                    None
                }
                Err(e) => {
                    row.problem("amount", a, e.to_string());
                    None
                }
            },
            (Some(a), None) => {
                row.problem("currency", "", format!("an amount ({a}) needs a currency"));
                None
            }
            // A currency column filled for every row, with no amount here.
            (None, _) => None,
        };
        let expected_close_date = row.date("expected_close_date");
        let owner = row.parse("owner", parse_user);
        let created_at = row.time("created_at");
        let won_at = row.time("won_at");
        let lost_at = row.time("lost_at");
        let stage_given = row.text("stage").is_some();
        let lost_reason = row.text("lost_reason").map(str::to_owned);
        let custom = row.custom();

        let stage = stage?;
        let kind = stage.kind;
        let misplaced = |row: &mut Row<'_>, column: &str, value: DateTime<Utc>| {
            row.problem(
                column,
                value.to_rfc3339(),
                format!(
                    "the deal is in {kind} stage '{}', so it has no {column}",
                    stage.key
                ),
            );
        };
        let closing_at = match kind {
            StageKind::Open => {
                for (column, value) in [("won_at", won_at), ("lost_at", lost_at)] {
                    if let Some(v) = value {
                        misplaced(row, column, v);
                    }
                }
                None
            }
            StageKind::Won => {
                if let Some(v) = lost_at {
                    misplaced(row, "lost_at", v);
                }
                if won_at.is_none() && row.text("won_at").is_none() {
                    row.problem(
                        "won_at",
                        "",
                        format!(
                            "a deal in won stage '{}' needs the time it was won",
                            stage.key
                        ),
                    );
                }
                won_at
            }
            StageKind::Lost => {
                if let Some(v) = won_at {
                    misplaced(row, "won_at", v);
                }
                if lost_at.is_none() && row.text("lost_at").is_none() {
                    row.problem(
                        "lost_at",
                        "",
                        format!(
                            "a deal in lost stage '{}' needs the time it was lost",
                            stage.key
                        ),
                    );
                }
                lost_at
            }
        };
        if kind != StageKind::Lost
            && let Some(reason) = &lost_reason
        {
            row.problem(
                "lost_reason",
                reason,
                format!(
                    "the deal is in {kind} stage '{}', so it has no lost reason",
                    stage.key
                ),
            );
        }
        if row.has_problems() {
            return None;
        }
        let pipeline = pipeline?;
        let mut input = NewDeal::new(customer?, pipeline.id, title?);
        input.amount = amount;
        input.expected_close_date = expected_close_date;
        input.owner = owner;
        input.custom = custom;
        let closing = match kind {
            StageKind::Open => {
                input.stage = Some(stage.key.as_str().to_owned());
                None
            }
            StageKind::Won | StageKind::Lost => Some(Closing {
                stage: stage.key.as_str().to_owned(),
                kind,
                at: closing_at?,
                reason: lost_reason,
            }),
        };
        Some(DealRow {
            stage_given,
            amount_given: input.amount.is_some(),
            expected_close_date_given: input.expected_close_date.is_some(),
            owner_given: input.owner.is_some(),
            input,
            created_at,
            closing,
        })
    }

    fn write(&mut self, batch: &mut Batch<'_>, row: &DealRow) -> Result<Uuid> {
        batch.set_time(row.created_at.or(self.default_at));
        let result = (|| {
            let deal = batch.create_deal(row.input.clone())?;
            let Some(closing) = &row.closing else {
                return Ok(deal.id);
            };
            batch.set_time(Some(closing.at));
            let closed = match closing.kind {
                StageKind::Lost => batch.lose_deal_in(
                    deal.id,
                    deal.version,
                    &closing.stage,
                    closing.reason.as_deref().unwrap_or(""),
                )?,
                _ => batch.move_deal(deal.id, deal.version, &closing.stage)?,
            };
            Ok(closed.id)
        })();
        batch.set_time(self.default_at);
        result.map(|id| id.as_uuid())
    }

    fn several_steps(&self, row: &DealRow) -> bool {
        row.closing.is_some()
    }

    fn column_of(&self, row: &DealRow, error: &Error) -> &'static str {
        match error {
            Error::Invalid(v) => match v.field.split(['[', '.']).next().unwrap_or("") {
                "title" => "title",
                "customer" => "customer",
                "pipeline" => "pipeline",
                "stage" => "stage",
                "amount" => "amount",
                "lost_reason" => "lost_reason",
                "owner" => "owner",
                "expected_close_date" => "expected_close_date",
                // A move dated before the deal's creation.
                "at" => match row.closing.as_ref().map(|c| c.kind) {
                    Some(StageKind::Lost) => "lost_at",
                    _ => "won_at",
                },
                _ => "",
            },
            Error::GuardFailed { guard, .. } => match guard {
                StageGuard::RequiresAmount => "amount",
                StageGuard::RequiresExpectedCloseDate => "expected_close_date",
                StageGuard::RequiresOwner => "owner",
                StageGuard::RequiresLostReason => "lost_reason",
            },
            Error::TransitionNotAllowed { .. } => "stage",
            _ => "",
        }
    }

    fn find(
        &self,
        batch: &Batch<'_>,
        by: MatchBy,
        own_id: Option<Uuid>,
        _: &DealRow,
    ) -> std::result::Result<Option<Uuid>, (&'static str, String)> {
        match (by, own_id) {
            (MatchBy::Id, Some(id)) => exists(batch.deal(DealId::from_uuid(id)))
                .map(|d| d.map(|d| d.id.as_uuid()))
                .map_err(|e| ("id", e.to_string())),
            _ => Ok(None),
        }
    }

    fn update(
        &mut self,
        batch: &mut Batch<'_>,
        id: Uuid,
        row: &DealRow,
    ) -> Result<Vec<FieldChange>> {
        let id = DealId::from_uuid(id);
        let current = batch.deal(id)?;
        let input = &row.input;
        if input.customer != current.customer {
            return Err(Error::invalid(
                EntityKind::Deal,
                "customer",
                input.customer,
                format!(
                    "the deal is for customer {}; an import does not move a deal to another customer",
                    current.customer
                ),
            ));
        }
        if input.pipeline != current.pipeline {
            return Err(Error::invalid(
                EntityKind::Deal,
                "pipeline",
                input.pipeline,
                format!(
                    "the deal is in pipeline {}; an import does not move a deal to another pipeline",
                    current.pipeline
                ),
            ));
        }
        let mut patch = DealPatch {
            title: Some(input.title.clone()),
            ..DealPatch::default()
        };
        if row.amount_given {
            patch.amount = Some(input.amount);
        }
        if row.expected_close_date_given {
            patch.expected_close_date = Some(input.expected_close_date);
        }
        if row.owner_given {
            patch.owner = Some(input.owner);
        }
        for (key, value) in &input.custom {
            patch.custom.insert(key.clone(), Some(value.clone()));
        }
        batch.set_time(self.default_at);
        // The same computation the update makes: empty means no change.
        let (_, changes) = patch.clone().apply(&current)?;
        let mut changes = changes.into_vec();
        let mut version = current.version;
        if !changes.is_empty() {
            version = batch.update_deal(id, version, patch)?.version;
        }
        let target = match (&row.closing, &input.stage) {
            (Some(c), _) => Some(c.stage.as_str()),
            (None, Some(open)) => Some(open.as_str()),
            (None, None) => None,
        };
        if row.stage_given
            && let Some(target) = target
            && target != current.stage.as_str()
        {
            let result = match &row.closing {
                None => batch.move_deal(id, version, target),
                Some(c) => {
                    batch.set_time(Some(c.at));
                    match c.kind {
                        StageKind::Lost => batch.lose_deal_in(
                            id,
                            version,
                            target,
                            c.reason.as_deref().unwrap_or(""),
                        ),
                        _ => batch.move_deal(id, version, target),
                    }
                }
            };
            batch.set_time(self.default_at);
            result?;
            changes.push(FieldChange {
                field: "stage".into(),
                old: serde_json::Value::String(current.stage.as_str().to_owned()),
                new: serde_json::Value::String(target.to_owned()),
            });
        }
        Ok(changes)
    }
}
