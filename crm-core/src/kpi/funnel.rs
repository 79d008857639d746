//! The stage funnel: how deals flow through a pipeline's stages.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{DurationStats, KpiError, KpiFilter, rate};
use crate::deal::{Deal, DealStatus};
use crate::id::PipelineId;
use crate::pipeline::{Pipeline, StageKey, StageKind};

/// One stage's line of the funnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StageFunnel {
    /// The stage.
    pub stage: StageKey,
    /// Its display name.
    pub name: String,
    /// Open, won or lost.
    pub kind: StageKind,
    /// Deals that entered the stage at least once.
    pub entered: u64,
    /// Of those, deals that left it again (to any stage).
    pub moved_on: u64,
    /// Of those, deals that later entered a stage further down the
    /// pipeline's display order that is open or won (not lost).
    pub advanced: u64,
    /// Of those, deals that are won now.
    pub won: u64,
    /// Stage-to-stage conversion: `advanced / entered`, 4 places.
    pub conversion_to_next: Option<Decimal>,
    /// Stage-to-won conversion: `won / entered`, 4 places.
    pub conversion_to_won: Option<Decimal>,
    /// Time spent in the stage per completed visit (entered, then left), in days.
    pub time_in_stage: DurationStats,
}

/// The funnel of one pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Funnel {
    /// The pipeline.
    pub pipeline: PipelineId,
    /// Deals in the cohort.
    pub deals: u64,
    /// One line per stage, in the pipeline's display order.
    pub stages: Vec<StageFunnel>,
}

#[derive(Default)]
struct Acc {
    entered: u64,
    moved_on: u64,
    advanced: u64,
    won: u64,
    visits: Vec<i64>,
}

/// **Stage funnel** of `pipeline` over the cohort of its deals (within the
/// filter's owner scope) *created* in the window, read from each deal's
/// stage history:
///
/// - `entered`: the deal's history has an entry into the stage (a deal
///   counts once per stage however often it came back);
/// - `moved_on`: it entered the stage and a later history entry leaves it;
/// - `advanced`: it entered the stage and a later entry goes to a stage
///   further down the display order that is open or won;
/// - `won`: it entered the stage and is won now;
/// - conversions `advanced / entered` and `won / entered`, rounded to 4
///   places (`None` for a stage nobody entered);
/// - time in stage: for every visit that ended (the history has a next
///   entry), the time from entering to the next entry; mean and median in
///   days (2 places). Visits still in progress are not counted.
///
/// History entries into stages the pipeline no longer has (after a
/// pipeline edit) are skipped. With a filter naming another pipeline the
/// cohort is empty.
pub fn stage_funnel<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    pipeline: &Pipeline,
    filter: &KpiFilter,
) -> Result<Funnel, KpiError> {
    let mut a = FunnelAcc::new(pipeline);
    for d in deals {
        a.add(d, filter);
    }
    a.finish()
}

/// The funnel of one pipeline, one deal at a time.
pub(crate) struct FunnelAcc<'p> {
    pipeline: &'p Pipeline,
    acc: Vec<Acc>,
    cohort: u64,
    seen: Vec<bool>,
    left: Vec<bool>,
    advanced: Vec<bool>,
    idx: Vec<Option<usize>>,
}

impl<'p> FunnelAcc<'p> {
    pub(crate) fn new(pipeline: &'p Pipeline) -> Self {
        let n = pipeline.stages.len();
        FunnelAcc {
            pipeline,
            acc: (0..n).map(|_| Acc::default()).collect(),
            cohort: 0,
            seen: vec![false; n],
            left: vec![false; n],
            advanced: vec![false; n],
            idx: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) {
        let pipeline = self.pipeline;
        if d.pipeline != pipeline.id || !filter.scopes(d) || !filter.in_window(d.created_at) {
            return;
        }
        self.cohort += 1;
        self.seen.fill(false);
        self.left.fill(false);
        self.advanced.fill(false);
        self.idx.clear();
        self.idx.extend(
            d.history
                .iter()
                .map(|c| pipeline.stages.iter().position(|s| s.key == c.to)),
        );
        // Furthest non-lost stage entered after position j, scanning backwards.
        let mut furthest_after: Option<usize> = None;
        for j in (0..self.idx.len()).rev() {
            if let Some(s) = self.idx[j] {
                self.seen[s] = true;
                if furthest_after.is_some_and(|f| f > s) {
                    self.advanced[s] = true;
                }
                if j + 1 < self.idx.len() {
                    self.left[s] = true;
                    let ms = (d.history[j + 1].at - d.history[j].at).num_milliseconds();
                    self.acc[s].visits.push(ms);
                }
                if pipeline.stages[s].kind != StageKind::Lost {
                    furthest_after = Some(furthest_after.map_or(s, |f| f.max(s)));
                }
            }
        }
        let won = d.status == DealStatus::Won;
        for (s, a) in self.acc.iter_mut().enumerate() {
            if self.seen[s] {
                a.entered += 1;
                a.moved_on += u64::from(self.left[s]);
                a.advanced += u64::from(self.advanced[s]);
                a.won += u64::from(won);
            }
        }
    }

    pub(crate) fn finish(self) -> Result<Funnel, KpiError> {
        let mut stages = Vec::with_capacity(self.acc.len());
        for (stage, mut a) in self.pipeline.stages.iter().zip(self.acc) {
            stages.push(StageFunnel {
                stage: stage.key.clone(),
                name: stage.name.clone(),
                kind: stage.kind,
                entered: a.entered,
                moved_on: a.moved_on,
                advanced: a.advanced,
                won: a.won,
                conversion_to_next: rate(a.advanced, a.entered),
                conversion_to_won: rate(a.won, a.entered),
                time_in_stage: DurationStats::from_millis(&mut a.visits)?,
            });
        }
        Ok(Funnel {
            pipeline: self.pipeline.id,
            deals: self.cohort,
            stages,
        })
    }
}
