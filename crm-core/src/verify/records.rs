//! The checks of [`super::check`] that look inside one record at a time:
//! a pipeline's definition, a deal's closing fields and amount, and a
//! deal's stage history entry by entry against the events that moved it.

use serde_json::Value;

use super::{Check, Findings};
use crate::deal::{Deal, DealStatus};
use crate::error::EntityKind;
use crate::event::{Event, EventKind};
use crate::pipeline::{Pipeline, PipelineDef, StageDef};

/// A stored pipeline's definition is one the engine would save: what
/// [`PipelineDef`] validation accepts (unique keys, an open, a won and a
/// lost stage, probabilities that fit the kinds, transitions between
/// existing stages that reach a won and a lost stage) and already in the
/// form validation gives it (trimmed names, no repeated guard).
pub(super) fn pipeline(f: &mut Findings, p: &Pipeline) {
    let def = PipelineDef {
        name: p.name.clone(),
        stages: p
            .stages
            .iter()
            .map(|s| StageDef {
                key: s.key.to_string(),
                name: s.name.clone(),
                probability: s.probability,
                kind: s.kind,
                guards: s.guards.clone(),
            })
            .collect(),
        transitions: p.transitions.clone(),
        allow_reopen: p.allow_reopen,
    };
    match def.validate() {
        Err(e) => f.push(
            EntityKind::Pipeline,
            p.id,
            Check::Value,
            format!("its definition would be refused: {e}"),
        ),
        Ok((name, stages, transitions, _)) => {
            if name != p.name || stages != p.stages || transitions != p.transitions {
                f.push(
                    EntityKind::Pipeline,
                    p.id,
                    Check::Value,
                    "its definition is not in the form the engine saves (untrimmed names or repeated guards)"
                        .into(),
                );
            }
        }
    }
}

/// A deal's amount is within the engine's bounds, and its closing fields
/// agree with its status: `won_at` exactly when won, `lost_at` exactly
/// when lost, a lost reason only on a lost deal.
pub(super) fn deal(f: &mut Findings, d: &Deal) {
    if let Err(e) = crate::deal::validate_amount(d.amount) {
        f.push(EntityKind::Deal, d.id, Check::Value, e.to_string());
    }
    let won = d.status == DealStatus::Won;
    let lost = d.status == DealStatus::Lost;
    for (field, set, wanted) in [
        ("won_at", d.won_at.is_some(), won),
        ("lost_at", d.lost_at.is_some(), lost),
    ] {
        if set != wanted {
            let state = if set { "set" } else { "missing" };
            f.push(
                EntityKind::Deal,
                d.id,
                Check::Value,
                format!("its {field} is {state}, and the deal is {}", d.status),
            );
        }
    }
    if d.lost_reason.is_some() && !lost {
        f.push(
            EntityKind::Deal,
            d.id,
            Check::Value,
            format!("it has a lost reason, and the deal is {}", d.status),
        );
    }
}

/// The `(from, to)` stage keys the events record for one deal, in log
/// order: its creation, its own stage changes, and the pipeline edits
/// that moved it.
fn recorded_moves(d: &Deal, events: &[&Event]) -> Vec<(Option<String>, Option<String>)> {
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let id = d.id.to_string();
    let mut out = Vec::new();
    for e in events {
        let stage = e.changes.iter().find(|c| c.field == "stage");
        match (e.entity.kind, e.kind) {
            (EntityKind::Deal, EventKind::Created) => {
                out.push((None, stage.and_then(|c| text(&c.new))));
            }
            (
                EntityKind::Deal,
                EventKind::StageChanged | EventKind::Won | EventKind::Lost | EventKind::Reopened,
            ) => {
                out.push((
                    stage.and_then(|c| text(&c.old)),
                    stage.and_then(|c| text(&c.new)),
                ));
            }
            (EntityKind::Pipeline, EventKind::Updated) => {
                let moved = e.changes.iter().find(|c| c.field == "moved_deals");
                if let Some(Value::Array(items)) = moved.map(|c| &c.new) {
                    for item in items {
                        if item.get("deal").and_then(Value::as_str) == Some(id.as_str()) {
                            out.push((
                                item.get("from").and_then(text),
                                item.get("to").and_then(text),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A deal's stage history entry by entry: each entry names the stages
/// the matching event recorded (its creation first, then each stage
/// change in log order), and no entry is dated before the one before it.
/// `events` are the events that touched the deal, in log order.
pub(super) fn stage_entries(f: &mut Findings, d: &Deal, events: &[&Event]) {
    for pair in d.history.windows(2) {
        if pair[1].at < pair[0].at {
            f.push(
                EntityKind::Deal,
                d.id,
                Check::StageHistory,
                format!(
                    "its stage history enters '{}' at {}, before it entered '{}' at {}",
                    pair[1].to,
                    pair[1].at.to_rfc3339(),
                    pair[0].to,
                    pair[0].at.to_rfc3339()
                ),
            );
            break;
        }
    }
    let recorded = recorded_moves(d, events);
    for (i, (entry, (from, to))) in d.history.iter().zip(&recorded).enumerate() {
        let entry_from = entry.from.as_ref().map(|k| k.to_string());
        if entry_from != *from || Some(entry.to.to_string()) != *to {
            let show = |k: &Option<String>| k.clone().unwrap_or_else(|| "nothing".into());
            f.push(
                EntityKind::Deal,
                d.id,
                Check::StageHistory,
                format!(
                    "its stage history entry {} moves from {} to '{}', and the log records a move from {} to {}",
                    i + 1,
                    show(&entry_from),
                    entry.to,
                    show(from),
                    show(to)
                ),
            );
            return;
        }
    }
}
