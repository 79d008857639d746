//! Activity metrics: who does what, and which tasks are overdue.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{KpiFilter, OwnerKey};
use crate::activity::{Activity, ActivityKind};
use crate::id::ActivityId;

/// An open task past its due time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OverdueTask {
    /// The task.
    pub task: ActivityId,
    /// Its assignee.
    pub owner: OwnerKey,
    /// When it was due.
    pub due_at: DateTime<Utc>,
}

/// Activity counts and overdue tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ActivityMetrics {
    /// Activities in the window per owner (`None`: no owner), per kind; in
    /// JSON an array of `{"owner": id-or-null, "value": {kind: count}}`.
    #[serde(with = "super::owner_map")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<super::owner_map::Entry<BTreeMap<ActivityKind, u64>>>")
    )]
    pub by_owner: BTreeMap<OwnerKey, BTreeMap<ActivityKind, u64>>,
    /// Activities in the window per kind, all owners.
    pub by_kind: BTreeMap<ActivityKind, u64>,
    /// Activities in the window.
    pub total: u64,
    /// Open tasks due before `now`, most overdue first (then by id).
    pub overdue_tasks: Vec<OverdueTask>,
}

/// **Activity metrics**: the activities within the filter's owner scope
/// whose `occurred_at` lies in the window, counted per owner and kind, per
/// kind, and in total; and every open (not completed) task in the owner
/// scope whose `due_at` is strictly before `now`, whatever the window. The
/// filter's pipeline does not apply (activities need not concern a deal).
pub fn activity_metrics<'a>(
    activities: impl IntoIterator<Item = &'a Activity>,
    filter: &KpiFilter,
    now: DateTime<Utc>,
) -> ActivityMetrics {
    let mut m = ActivityMetrics::default();
    for a in activities
        .into_iter()
        .filter(|a| filter.owner.is_none_or(|o| a.owner == Some(o)))
    {
        if filter.in_window(a.occurred_at) {
            *m.by_owner
                .entry(a.owner)
                .or_default()
                .entry(a.kind)
                .or_default() += 1;
            *m.by_kind.entry(a.kind).or_default() += 1;
            m.total += 1;
        }
        if a.is_open_task()
            && let Some(due) = a.due_at.filter(|d| *d < now)
        {
            m.overdue_tasks.push(OverdueTask {
                task: a.id,
                owner: a.owner,
                due_at: due,
            });
        }
    }
    m.overdue_tasks
        .sort_unstable_by(|a, b| a.due_at.cmp(&b.due_at).then(a.task.cmp(&b.task)));
    m
}
