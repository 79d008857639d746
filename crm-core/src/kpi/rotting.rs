//! Rotting deals: open deals nobody has touched for too long.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{DAYS_DP, KpiError, KpiFilter, ms_to_days, round};
use crate::activity::Activity;
use crate::deal::{Deal, DealStatus};
use crate::id::{DealId, UserId};
use crate::pipeline::StageKey;

/// How long a deal may sit idle, per stage key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct RottingThresholds {
    /// Days allowed in a stage with no entry in `per_stage` (`None`: such
    /// stages never rot).
    pub default_days: Option<u32>,
    /// Days allowed per stage key (in any pipeline).
    pub per_stage: BTreeMap<StageKey, u32>,
}

impl RottingThresholds {
    /// Every stage rots after `days`.
    pub fn days(days: u32) -> Self {
        RottingThresholds {
            default_days: Some(days),
            per_stage: BTreeMap::new(),
        }
    }

    /// Sets the threshold of one stage key.
    pub fn stage(mut self, key: StageKey, days: u32) -> Self {
        self.per_stage.insert(key, days);
        self
    }

    /// The threshold for `stage`, if it rots at all.
    pub fn for_stage(&self, stage: &StageKey) -> Option<u32> {
        self.per_stage.get(stage).copied().or(self.default_days)
    }
}

/// An open deal idle for longer than its stage allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RottingDeal {
    /// The deal.
    pub deal: DealId,
    /// Its owner.
    pub owner: Option<UserId>,
    /// Its stage.
    pub stage: StageKey,
    /// The last stage change or activity.
    pub last_touch: DateTime<Utc>,
    /// Days since `last_touch`, 2 places.
    pub idle_days: Decimal,
    /// The threshold it exceeds, in days.
    pub threshold_days: u32,
}

/// When an activity last touched its deal: its `occurred_at`, or for a
/// completed task the later of that and `completed_at`.
fn touched_at(a: &Activity) -> DateTime<Utc> {
    a.completed_at
        .map_or(a.occurred_at, |c| c.max(a.occurred_at))
}

/// **Rotting deals**: open deals in scope whose last touch is more than
/// their stage's threshold (whole days × 24 h) before `now`. The last
/// touch is the later of the time the deal entered its current stage and
/// the latest touch, up to `now`, of an activity linked to the deal (an
/// activity's `occurred_at`, or a completed task's `completed_at` if
/// later). Idle time is given in days, 2 places. The window does not
/// apply. Sorted by idle time, longest first, then by deal id.
pub fn rotting_deals<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    activities: impl IntoIterator<Item = &'a Activity>,
    thresholds: &RottingThresholds,
    filter: &KpiFilter,
    now: DateTime<Utc>,
) -> Result<Vec<RottingDeal>, KpiError> {
    let mut a = RottingAcc::new(activities, thresholds, now);
    for d in deals {
        a.add(d, filter)?;
    }
    Ok(a.finish())
}

/// Rotting deals, one deal at a time (after one pass over the activities).
pub(crate) struct RottingAcc<'t> {
    thresholds: &'t RottingThresholds,
    now: DateTime<Utc>,
    last_activity: HashMap<DealId, DateTime<Utc>>,
    out: Vec<RottingDeal>,
}

impl<'t> RottingAcc<'t> {
    pub(crate) fn new<'a>(
        activities: impl IntoIterator<Item = &'a Activity>,
        thresholds: &'t RottingThresholds,
        now: DateTime<Utc>,
    ) -> Self {
        let mut last_activity: HashMap<DealId, DateTime<Utc>> = HashMap::new();
        for a in activities {
            let (Some(deal), t) = (a.deal, touched_at(a)) else {
                continue;
            };
            // A completion after `now` has not happened yet as of `now`.
            let t = if t > now { a.occurred_at } else { t };
            if t <= now {
                last_activity
                    .entry(deal)
                    .and_modify(|l| *l = (*l).max(t))
                    .or_insert(t);
            }
        }
        RottingAcc {
            thresholds,
            now,
            last_activity,
            out: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) -> Result<(), KpiError> {
        if d.status != DealStatus::Open || !filter.scopes(d) {
            return Ok(());
        }
        let Some(days) = self.thresholds.for_stage(&d.stage) else {
            return Ok(());
        };
        let entered = d.stage_entered_at();
        let last = self
            .last_activity
            .get(&d.id)
            .map_or(entered, |t| (*t).max(entered));
        let idle_ms = (self.now - last).num_milliseconds();
        if idle_ms > i64::from(days) * 86_400_000 {
            self.out.push(RottingDeal {
                deal: d.id,
                owner: d.owner,
                stage: d.stage.clone(),
                last_touch: last,
                idle_days: round(ms_to_days(i128::from(idle_ms))?, DAYS_DP),
                threshold_days: days,
            });
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Vec<RottingDeal> {
        self.out
            .sort_unstable_by(|a, b| a.last_touch.cmp(&b.last_touch).then(a.deal.cmp(&b.deal)));
        self.out
    }
}
