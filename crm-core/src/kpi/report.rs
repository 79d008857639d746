//! The whole KPI suite in one call.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};
use serde::{Deserialize, Serialize};

use super::activity::{ActivityMetrics, activity_metrics};
use super::clv::{Clv, ClvParams, historical_clv};
use super::customer::{
    Churn, LifecycleChange, PurchaseSummary, RepeatPurchase, churn, new_customers,
    purchase_summaries, repeat_purchase_rate,
};
use super::deal_size::{DealSize, deal_size, sales_cycle};
use super::forecast::{Forecast, forecast};
use super::funnel::{Funnel, stage_funnel};
use super::revenue::{Revenue, revenue_by_period};
use super::rotting::{RottingDeal, RottingThresholds, rotting_deals};
use super::velocity::{Velocity, sales_velocity};
use super::win_rate::{CloseRate, WinRate, close_rate, win_rate, win_rate_by_owner};
use super::{DurationStats, KpiError, KpiFilter, OwnerKey, PerCurrency, Period};
use crate::activity::Activity;
use crate::deal::Deal;
use crate::pipeline::Pipeline;

/// What the suite looks at and how it buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiOptions {
    /// Pipeline, owner and window.
    pub filter: KpiFilter,
    /// Bucket size of revenue and new customers.
    pub period: Period,
    /// The fixed UTC offset calendar dates are taken at.
    pub offset: FixedOffset,
    /// When deals rot.
    pub rotting: RottingThresholds,
    /// CLV assumptions.
    pub clv: ClvParams,
}

impl Default for KpiOptions {
    /// No filter, monthly buckets in UTC, deals rot after 30 idle days,
    /// default CLV assumptions.
    fn default() -> Self {
        KpiOptions {
            filter: KpiFilter::default(),
            period: Period::Month,
            offset: Utc.fix(),
            rotting: RottingThresholds::days(30),
            clv: ClvParams::default(),
        }
    }
}

/// The records the suite runs over.
#[derive(Debug, Clone, Copy)]
pub struct KpiData<'a> {
    /// Deals.
    pub deals: &'a [Deal],
    /// Pipelines (every deal's pipeline must be here).
    pub pipelines: &'a [Pipeline],
    /// Activities.
    pub activities: &'a [Activity],
    /// Customers' lifecycle history.
    pub lifecycle: &'a [LifecycleChange],
}

/// Every KPI of this module, computed with one set of options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KpiReport {
    /// The time the report was computed for.
    pub now: DateTime<Utc>,
    /// [`win_rate`].
    pub win_rate: WinRate,
    /// [`win_rate_by_owner`].
    pub win_rate_by_owner: BTreeMap<OwnerKey, WinRate>,
    /// [`close_rate`].
    pub close_rate: CloseRate,
    /// [`stage_funnel`] of every pipeline in scope, in the order given.
    pub funnels: Vec<Funnel>,
    /// [`deal_size`].
    pub deal_size: DealSize,
    /// [`sales_cycle`].
    pub sales_cycle: DurationStats,
    /// [`sales_velocity`].
    pub velocity: PerCurrency<Velocity>,
    /// [`forecast`].
    pub forecast: Forecast,
    /// [`revenue_by_period`].
    pub revenue: Revenue,
    /// [`new_customers`].
    pub new_customers: BTreeMap<NaiveDate, u64>,
    /// [`churn`], when the window has a start and an end.
    pub churn: Option<Churn>,
    /// [`repeat_purchase_rate`].
    pub repeat_purchase: RepeatPurchase,
    /// [`purchase_summaries`], observed until the window's end or `now`, whichever is earlier.
    pub purchase_summaries: Vec<PurchaseSummary>,
    /// [`historical_clv`] from those summaries.
    pub clv: Clv,
    /// [`rotting_deals`] at `now`.
    pub rotting: Vec<RottingDeal>,
    /// [`activity_metrics`] at `now`.
    pub activities: ActivityMetrics,
}

/// Runs every KPI over `data` with `options`, as of `now`.
pub fn kpi_report(
    data: KpiData<'_>,
    options: &KpiOptions,
    now: DateTime<Utc>,
) -> Result<KpiReport, KpiError> {
    let f = &options.filter;
    f.check()?;
    let deals = data.deals;
    let funnels = data
        .pipelines
        .iter()
        .filter(|p| f.pipeline.is_none_or(|id| id == p.id))
        .map(|p| stage_funnel(deals, p, f))
        .collect::<Result<Vec<_>, _>>()?;
    let observation_end = f.to.map_or(now, |t| t.min(now));
    let summaries = purchase_summaries(deals, f, observation_end, options.offset)?;
    let clv = historical_clv(&summaries, &options.clv)?;
    Ok(KpiReport {
        now,
        win_rate: win_rate(deals, f),
        win_rate_by_owner: win_rate_by_owner(deals, f),
        close_rate: close_rate(deals, f),
        funnels,
        deal_size: deal_size(deals, f)?,
        sales_cycle: sales_cycle(deals, f)?,
        velocity: sales_velocity(deals, f)?,
        forecast: forecast(deals, data.pipelines, f)?,
        revenue: revenue_by_period(deals, f, options.period, options.offset)?,
        new_customers: new_customers(deals, f, options.period, options.offset),
        churn: match (f.from, f.to) {
            (Some(_), Some(_)) => Some(churn(data.lifecycle, f)?),
            _ => None,
        },
        repeat_purchase: repeat_purchase_rate(deals, f, options.offset),
        purchase_summaries: summaries,
        clv,
        rotting: rotting_deals(deals, data.activities, &options.rotting, f, now)?,
        activities: activity_metrics(data.activities, f, now),
    })
}
