//! The whole KPI suite in one call.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::activity::{ActivityMetrics, activity_metrics};
use super::clv::{Clv, ClvParams, historical_clv};
use super::customer::{
    Churn, LifecycleChange, NewCustomersAcc, PurchaseSummary, RepeatAcc, RepeatPurchase,
    SummaryAcc, churn,
};
use super::deal_size::{DealSize, SizeAcc};
use super::forecast::{Forecast, ForecastAcc};
use super::funnel::{Funnel, FunnelAcc};
use super::response::{FirstResponse, ResponseOptions, first_response};
use super::revenue::{Revenue, RevenueAcc};
use super::rotting::{RottingAcc, RottingDeal, RottingThresholds};
use super::velocity::{Velocity, VelocityAcc};
use super::win_rate::{CloseRate, WinAcc, WinRate};
use super::{DurationStats, KpiError, KpiFilter, OwnerKey, PerCurrency, Period, ReportZone};
use crate::activity::Activity;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::pipeline::Pipeline;

/// What the suite looks at and how it buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiOptions {
    /// Pipeline, owner and window.
    pub filter: KpiFilter,
    /// Bucket size of revenue and new customers.
    pub period: Period,
    /// The time zone calendar dates are taken in.
    pub zone: ReportZone,
    /// When deals rot.
    pub rotting: RottingThresholds,
    /// CLV assumptions.
    pub clv: ClvParams,
    /// First-response time and SLA attainment of leads: the calendar and
    /// target; `None` (the default) leaves them out of the report.
    pub response: Option<ResponseOptions>,
}

impl Default for KpiOptions {
    /// No filter, monthly buckets in UTC, deals rot after 30 idle days,
    /// default CLV assumptions.
    fn default() -> Self {
        KpiOptions {
            filter: KpiFilter::default(),
            period: Period::Month,
            zone: ReportZone::utc(),
            rotting: RottingThresholds::days(30),
            clv: ClvParams::default(),
            response: None,
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
    /// Customers (read only for first-response times).
    pub customers: &'a [Customer],
}

/// Every KPI of this module, computed with one set of options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KpiReport {
    /// The time the report was computed for.
    pub now: DateTime<Utc>,
    /// [`win_rate`](super::win_rate::win_rate).
    pub win_rate: WinRate,
    /// [`win_rate_by_owner`](super::win_rate::win_rate_by_owner); in JSON an
    /// array of `{"owner": id-or-null, "value": WinRate}`.
    #[serde(with = "super::owner_map")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Vec<super::owner_map::Entry<WinRate>>")
    )]
    pub win_rate_by_owner: BTreeMap<OwnerKey, WinRate>,
    /// [`close_rate`](super::win_rate::close_rate).
    pub close_rate: CloseRate,
    /// [`stage_funnel`](super::funnel::stage_funnel) of every pipeline in scope, in the order given.
    pub funnels: Vec<Funnel>,
    /// [`deal_size`](super::deal_size::deal_size).
    pub deal_size: DealSize,
    /// [`sales_cycle`](super::deal_size::sales_cycle).
    pub sales_cycle: DurationStats,
    /// [`sales_velocity`](super::velocity::sales_velocity).
    pub velocity: PerCurrency<Velocity>,
    /// [`forecast`](super::forecast::forecast).
    pub forecast: Forecast,
    /// [`revenue_by_period`](super::revenue::revenue_by_period).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "super::PerCurrency<crate::schema::DateMap<rust_decimal::Decimal>>")
    )]
    pub revenue: Revenue,
    /// [`new_customers`](super::customer::new_customers).
    #[cfg_attr(feature = "schema", schemars(with = "crate::schema::DateMap<u64>"))]
    pub new_customers: BTreeMap<NaiveDate, u64>,
    /// [`churn`], when the window has a start and an end.
    pub churn: Option<Churn>,
    /// [`repeat_purchase_rate`](super::customer::repeat_purchase_rate).
    pub repeat_purchase: RepeatPurchase,
    /// [`purchase_summaries`](super::customer::purchase_summaries), observed until the window's end or `now`, whichever is earlier.
    pub purchase_summaries: Vec<PurchaseSummary>,
    /// [`historical_clv`] from those summaries.
    pub clv: Clv,
    /// [`rotting_deals`](super::rotting::rotting_deals) at `now`.
    pub rotting: Vec<RottingDeal>,
    /// [`activity_metrics`] at `now`.
    pub activities: ActivityMetrics,
    /// [`first_response`] at `now`, when [`KpiOptions::response`] is set.
    #[serde(default)]
    pub first_response: Option<FirstResponse>,
}

/// Runs every KPI over `data` with `options`, as of `now`: the same
/// results as calling each KPI function, computed in one pass over the
/// deals (plus one over the activities and one over the lifecycle history)
/// instead of one pass per KPI.
pub fn kpi_report(
    data: KpiData<'_>,
    options: &KpiOptions,
    now: DateTime<Utc>,
) -> Result<KpiReport, KpiError> {
    let mut builder = ReportBuilder::new(data.pipelines, data.activities, options, now)?;
    for d in data.deals {
        builder.add(d)?;
    }
    builder.finish(data.customers, data.lifecycle)
}

/// [`kpi_report`] fed one deal at a time, so a caller that streams deals
/// from a store never holds them all: create it over the pipelines and
/// activities, [`add`](ReportBuilder::add) every deal (in any order), then
/// [`finish`](ReportBuilder::finish) with the lifecycle history.
pub struct ReportBuilder<'a> {
    options: &'a KpiOptions,
    activities: &'a [Activity],
    now: DateTime<Utc>,
    funnels: Vec<FunnelAcc<'a>>,
    wins: WinAcc,
    sizes: SizeAcc,
    velocity: VelocityAcc,
    forecast: ForecastAcc<'a>,
    revenue: RevenueAcc,
    new_customers: NewCustomersAcc,
    repeat: RepeatAcc,
    summaries: SummaryAcc,
    rotting: RottingAcc<'a>,
}

impl<'a> ReportBuilder<'a> {
    /// A report over `pipelines` (every added deal's pipeline must be
    /// there) and `activities`, with `options`, as of `now`. Fails when the
    /// options' filter is invalid.
    pub fn new(
        pipelines: &'a [Pipeline],
        activities: &'a [Activity],
        options: &'a KpiOptions,
        now: DateTime<Utc>,
    ) -> Result<Self, KpiError> {
        let f = &options.filter;
        f.check()?;
        let observation_end = f.to.map_or(now, |t| t.min(now));
        Ok(ReportBuilder {
            options,
            activities,
            now,
            funnels: pipelines
                .iter()
                .filter(|p| f.pipeline.is_none_or(|id| id == p.id))
                .map(FunnelAcc::new)
                .collect(),
            wins: WinAcc::default(),
            sizes: SizeAcc::default(),
            velocity: VelocityAcc::default(),
            forecast: ForecastAcc::new(pipelines),
            revenue: RevenueAcc::new(options.period, options.zone),
            new_customers: NewCustomersAcc::default(),
            repeat: RepeatAcc::new(options.zone),
            summaries: SummaryAcc::new(observation_end, options.zone),
            rotting: RottingAcc::new(activities, &options.rotting, now),
        })
    }

    /// Counts one deal into every KPI (deals outside the filter count for
    /// nothing).
    pub fn add(&mut self, d: &Deal) -> Result<(), KpiError> {
        let f = &self.options.filter;
        self.wins.add(d, f);
        for funnel in &mut self.funnels {
            funnel.add(d, f);
        }
        self.sizes.add(d, f);
        self.velocity.add(d, f)?;
        self.forecast.add(d, f)?;
        self.revenue.add(d, f)?;
        self.new_customers.add(d, f);
        self.repeat.add(d, f);
        self.summaries.add(d, f);
        self.rotting.add(d, f)?;
        Ok(())
    }

    /// The report, with churn from `lifecycle` when the window has both
    /// ends, and first responses to the leads among `customers` when the
    /// options ask for them.
    pub fn finish(
        mut self,
        customers: &[Customer],
        lifecycle: &[LifecycleChange],
    ) -> Result<KpiReport, KpiError> {
        let f = &self.options.filter;
        let purchase_summaries = self.summaries.finish()?;
        let clv = historical_clv(&purchase_summaries, &self.options.clv)?;
        Ok(KpiReport {
            now: self.now,
            win_rate: self.wins.win_rate(),
            win_rate_by_owner: self.wins.by_owner(),
            close_rate: self.wins.close_rate(),
            funnels: self
                .funnels
                .into_iter()
                .map(FunnelAcc::finish)
                .collect::<Result<_, _>>()?,
            deal_size: self.sizes.deal_size()?,
            sales_cycle: self.sizes.sales_cycle()?,
            velocity: self.velocity.finish()?,
            forecast: self.forecast.finish()?,
            revenue: self.revenue.out,
            new_customers: self
                .new_customers
                .finish(f, self.options.period, self.options.zone),
            churn: match (f.from, f.to) {
                (Some(_), Some(_)) => Some(churn(lifecycle, f)?),
                _ => None,
            },
            repeat_purchase: self.repeat.finish(),
            purchase_summaries,
            clv,
            rotting: self.rotting.finish(),
            activities: activity_metrics(self.activities, f, self.now),
            first_response: self
                .options
                .response
                .as_ref()
                .map(|r| first_response(customers, self.activities, lifecycle, f, r, self.now))
                .transpose()?,
        })
    }
}
