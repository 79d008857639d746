//! KPI entry points: the [`crate::kpi`] functions over the records this
//! session may see.
//!
//! Records are loaded only through the helpers below, one per record type
//! (`visit_deals` for deals), with the actor's read scope ANDed into what
//! the store returns and hidden fields removed; KPIs that sum or average
//! deal amounts refuse an actor whose roles hide them
//! ([`Error::FieldHidden`](crate::Error::FieldHidden)).

use chrono::{DateTime, NaiveDate, Utc};

use super::Session;
use crate::access::{Access, Field};
use crate::activity::Activity;
use crate::customer::Customer;
use crate::deal::{Deal, DealStatus};
use crate::error::{EntityKind, Result};
use crate::id::PipelineId;
use crate::kpi::activity::{ActivityMetrics, activity_metrics};
use crate::kpi::clv::{Clv, ClvParams, historical_clv};
use crate::kpi::customer::{
    Churn, LifecycleChange, PurchaseSummary, RepeatPurchase, SummaryAcc, churn, new_customers,
    repeat_purchase_rate,
};
use crate::kpi::deal_size::{DealSize, deal_size, sales_cycle};
use crate::kpi::forecast::{Forecast, forecast};
use crate::kpi::funnel::{Funnel, stage_funnel};
use crate::kpi::report::{KpiOptions, KpiReport, ReportBuilder};
use crate::kpi::response::{FirstResponse, ResponseOptions, first_response};
use crate::kpi::revenue::{Revenue, revenue_by_period};
use crate::kpi::rotting::{RottingDeal, RottingThresholds, rotting_deals};
use crate::kpi::velocity::{Velocity, sales_velocity};
use crate::kpi::win_rate::{CloseRate, WinRate, close_rate, win_rate};
use crate::kpi::{DurationStats, KpiFilter, PerCurrency, Period, ReportZone};
use crate::pipeline::Pipeline;
use crate::query::{
    ActivityFilter, CustomerFilter, CustomerQuery, DealFilter, EventFilter, EventQuery,
    PipelineQuery, fetch_all,
};
use crate::store::{ReadTx, Store};

impl<S: Store> Session<'_, S> {
    /// The time KPIs are computed for: the session's `at` time if set
    /// ([`Session::at`]), otherwise the clock's now.
    fn kpi_now(&self) -> DateTime<Utc> {
        self.at.unwrap_or_else(|| self.crm.now())
    }

    // ----- loading: one helper per record type -----

    /// Visits, by reference, every deal KPIs may aggregate: those the actor
    /// may read, in the filter's pipeline and owner scope (and of `status`,
    /// when given). With `amounts`, the KPI sums or averages deal amounts,
    /// which an actor whose roles hide them may not do. The one place deals
    /// are read for KPIs.
    fn visit_deals(
        &self,
        tx: &dyn ReadTx,
        access: &Access,
        filter: &KpiFilter,
        status: Option<DealStatus>,
        amounts: bool,
        visit: &mut dyn FnMut(&Deal),
    ) -> Result<()> {
        if amounts {
            access.require_readable(Field::DealAmount)?;
        }
        let mut deal_filter = DealFilter {
            pipeline: filter.pipeline,
            owner: filter.owner,
            status,
            ..DealFilter::default()
        };
        access.restrict_deals(&mut deal_filter)?;
        Ok(tx.scan_deals(&deal_filter, visit)?)
    }

    /// The deals KPIs may aggregate, collected and redacted (see
    /// `visit_deals`).
    fn visible_deals(
        &self,
        tx: &dyn ReadTx,
        access: &Access,
        filter: &KpiFilter,
        amounts: bool,
    ) -> Result<Vec<Deal>> {
        let mut out = Vec::new();
        self.visit_deals(tx, access, filter, None, amounts, &mut |d| {
            let mut d = d.clone();
            access.redact_deal(&mut d);
            out.push(d)
        })?;
        // The store visits in no particular order; KPIs do not depend on
        // it, but a stable order keeps results reproducible to the byte.
        out.sort_unstable_by_key(|d| d.id);
        Ok(out)
    }

    /// The pipelines KPIs may read.
    fn visible_pipelines(&self, tx: &dyn ReadTx, access: &Access) -> Result<Vec<Pipeline>> {
        fetch_all(Default::default(), |q: &PipelineQuery| {
            super::reads::pipelines(tx, access, q)
        })
    }

    /// The activities KPIs may aggregate: those the actor may read. All of
    /// them, not only the filter owner's: a colleague's call on a deal still
    /// keeps it from rotting (activity metrics apply the owner themselves).
    fn visible_activities(&self, tx: &dyn ReadTx, access: &Access) -> Result<Vec<Activity>> {
        let mut filter = ActivityFilter::default();
        access.restrict_activities(&mut filter)?;
        let mut out = Vec::new();
        tx.scan_activities(&filter, &mut |a| {
            let mut a = a.clone();
            access.redact_activity(&mut a);
            out.push(a);
        })?;
        // Stable order, as for deals.
        out.sort_unstable_by_key(|a| a.id);
        Ok(out)
    }

    /// The customers' lifecycle history KPIs may read, from the part of the
    /// audit log the actor may read.
    fn visible_lifecycle_changes(
        &self,
        tx: &dyn ReadTx,
        access: &Access,
    ) -> Result<Vec<LifecycleChange>> {
        let filter = EventFilter {
            entity_kind: Some(EntityKind::Customer),
            ..EventFilter::default()
        };
        let events = fetch_all(filter, |q: &EventQuery| super::reads::events(tx, access, q))?;
        Ok(events
            .iter()
            .filter_map(LifecycleChange::from_event)
            .collect())
    }

    /// The customers KPIs may aggregate: those the actor may read (hidden
    /// fields removed, merged customers left out), owned by the filter's
    /// owner when one is given.
    fn visible_customers(
        &self,
        tx: &dyn ReadTx,
        access: &Access,
        filter: &KpiFilter,
    ) -> Result<Vec<Customer>> {
        let f = CustomerFilter {
            owner: filter.owner,
            ..CustomerFilter::default()
        };
        fetch_all(f, |q: &CustomerQuery| {
            super::reads::customers(tx, access, q)
        })
    }

    fn with_deals<T>(
        &self,
        filter: &KpiFilter,
        amounts: bool,
        f: impl FnOnce(&[Deal]) -> std::result::Result<T, crate::kpi::KpiError>,
    ) -> Result<T> {
        filter.check()?;
        let deals =
            self.with_access(|tx, access| self.visible_deals(tx, access, filter, amounts))?;
        Ok(f(&deals)?)
    }

    // ----- the KPIs -----

    /// Every KPI of [`crate::kpi`] at once, over one consistent snapshot
    /// (one read transaction), as of [`Session::at`] or the clock's now.
    /// Lifecycle history is read only when the window has both ends (for
    /// churn) or first-response times are asked for
    /// ([`KpiOptions::response`], which also reads the customers).
    ///
    /// ```
    /// use crm_core::{Actor, Crm, Money, NewCustomer, NewDeal, PipelineDef};
    /// use crm_core::kpi::report::KpiOptions;
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let p = s.create_pipeline(PipelineDef::sales_template("Sales"))?;
    /// let c = s.create_customer(NewCustomer::organisation("ACME"))?;
    /// let d = s.create_deal(NewDeal::new(c.id, p.id, "Seats").amount(Money::parse("500", "EUR")?))?;
    /// s.win_deal(d.id, d.version)?;
    ///
    /// let report = s.kpi_report(&KpiOptions::default())?;
    /// assert_eq!(report.win_rate.won, 1);
    /// assert_eq!(report.deal_size.per_currency[&crm_core::Currency::EUR].total.to_string(), "500");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kpi_report(&self, options: &KpiOptions) -> Result<KpiReport> {
        let f = &options.filter;
        f.check()?;
        let now = self.kpi_now();
        self.with_access(|tx, access| {
            let lifecycle = match (f.from, f.to, &options.response) {
                (Some(_), Some(_), _) | (_, _, Some(_)) => {
                    self.visible_lifecycle_changes(tx, access)?
                }
                _ => Vec::new(),
            };
            let customers = match options.response {
                Some(_) => self.visible_customers(tx, access, f)?,
                None => Vec::new(),
            };
            let pipelines = self.visible_pipelines(tx, access)?;
            let activities = self.visible_activities(tx, access)?;
            let mut report = ReportBuilder::new(&pipelines, &activities, options, now)?;
            // Deals stream into the report by reference: with amounts
            // readable (checked by `visit_deals`), no deal field is hidden,
            // so there is nothing to redact and nothing to copy.
            let mut failed = None;
            self.visit_deals(tx, access, f, None, true, &mut |d| {
                if failed.is_none()
                    && let Err(e) = report.add(d)
                {
                    failed = Some(e);
                }
            })?;
            if let Some(e) = failed {
                return Err(e.into());
            }
            Ok(report.finish(&customers, &lifecycle)?)
        })
    }

    /// [Win rate](crate::kpi::win_rate::win_rate) of the deals in scope.
    pub fn win_rate(&self, filter: &KpiFilter) -> Result<WinRate> {
        self.with_deals(filter, false, |d| Ok(win_rate(d, filter)))
    }

    /// [Close rate](crate::kpi::win_rate::close_rate) of the deals in scope.
    pub fn close_rate(&self, filter: &KpiFilter) -> Result<CloseRate> {
        self.with_deals(filter, false, |d| Ok(close_rate(d, filter)))
    }

    /// [Stage funnel](crate::kpi::funnel::stage_funnel) of one pipeline.
    pub fn stage_funnel(&self, pipeline: PipelineId, filter: &KpiFilter) -> Result<Funnel> {
        filter.check()?;
        let (p, deals) = self.with_access(|tx, access| {
            let p = super::reads::pipeline(tx, access, pipeline)?;
            let scoped = KpiFilter {
                pipeline: Some(pipeline),
                ..filter.clone()
            };
            Ok((p, self.visible_deals(tx, access, &scoped, false)?))
        })?;
        Ok(stage_funnel(&deals, &p, filter)?)
    }

    /// [Deal size](crate::kpi::deal_size::deal_size) of the deals won in the window.
    pub fn deal_size(&self, filter: &KpiFilter) -> Result<DealSize> {
        self.with_deals(filter, true, |d| deal_size(d, filter))
    }

    /// [Sales cycle](crate::kpi::deal_size::sales_cycle) of the deals won in the window.
    pub fn sales_cycle(&self, filter: &KpiFilter) -> Result<DurationStats> {
        self.with_deals(filter, false, |d| sales_cycle(d, filter))
    }

    /// [Sales velocity](crate::kpi::velocity::sales_velocity) per currency.
    pub fn sales_velocity(&self, filter: &KpiFilter) -> Result<PerCurrency<Velocity>> {
        self.with_deals(filter, true, |d| sales_velocity(d, filter))
    }

    /// [Forecast](crate::kpi::forecast::forecast) of the open deals in scope.
    pub fn forecast(&self, filter: &KpiFilter) -> Result<Forecast> {
        filter.check()?;
        let (deals, pipelines) = self.with_access(|tx, access| {
            Ok((
                self.visible_deals(tx, access, filter, true)?,
                self.visible_pipelines(tx, access)?,
            ))
        })?;
        Ok(forecast(&deals, &pipelines, filter)?)
    }

    /// [Revenue by period](crate::kpi::revenue::revenue_by_period) in `zone`
    /// (an IANA zone or a fixed UTC offset).
    pub fn revenue_by_period(
        &self,
        filter: &KpiFilter,
        period: Period,
        zone: impl Into<ReportZone>,
    ) -> Result<Revenue> {
        self.with_deals(filter, true, |d| revenue_by_period(d, filter, period, zone))
    }

    /// [New customers per period](crate::kpi::customer::new_customers).
    pub fn new_customers(
        &self,
        filter: &KpiFilter,
        period: Period,
        zone: impl Into<ReportZone>,
    ) -> Result<std::collections::BTreeMap<NaiveDate, u64>> {
        self.with_deals(filter, false, |d| {
            Ok(new_customers(d, filter, period, zone))
        })
    }

    /// [Churn and retention](crate::kpi::customer::churn) over the window
    /// (which needs a start and an end).
    pub fn churn(&self, filter: &KpiFilter) -> Result<Churn> {
        filter.check()?;
        let changes = self.with_access(|tx, access| self.visible_lifecycle_changes(tx, access))?;
        Ok(churn(&changes, filter)?)
    }

    /// [Repeat purchase rate](crate::kpi::customer::repeat_purchase_rate).
    pub fn repeat_purchase_rate(
        &self,
        filter: &KpiFilter,
        zone: impl Into<ReportZone>,
    ) -> Result<RepeatPurchase> {
        self.with_deals(filter, false, |d| Ok(repeat_purchase_rate(d, filter, zone)))
    }

    /// [Purchase summaries](crate::kpi::customer::purchase_summaries)
    /// (frequency, recency, T, monetary value) observed until `observation_end`.
    pub fn purchase_summaries(
        &self,
        filter: &KpiFilter,
        observation_end: DateTime<Utc>,
        zone: impl Into<ReportZone>,
    ) -> Result<Vec<PurchaseSummary>> {
        filter.check()?;
        let acc = self.with_access(|tx, access| {
            self.won_deal_purchases(tx, access, filter, observation_end, zone)
        })?;
        Ok(acc.finish()?)
    }

    /// The won deals' purchases, streamed from the store without copying
    /// the deals.
    pub(super) fn won_deal_purchases(
        &self,
        tx: &dyn ReadTx,
        access: &Access,
        filter: &KpiFilter,
        observation_end: DateTime<Utc>,
        zone: impl Into<ReportZone>,
    ) -> Result<SummaryAcc> {
        let mut acc = SummaryAcc::new(observation_end, zone.into());
        self.visit_deals(tx, access, filter, Some(DealStatus::Won), true, &mut |d| {
            acc.add(d, filter)
        })?;
        Ok(acc)
    }

    /// [Historical CLV](crate::kpi::clv::historical_clv) from the purchase
    /// summaries observed until `observation_end`.
    pub fn historical_clv(
        &self,
        filter: &KpiFilter,
        observation_end: DateTime<Utc>,
        zone: impl Into<ReportZone>,
        params: &ClvParams,
    ) -> Result<Clv> {
        filter.check()?;
        let acc = self.with_access(|tx, access| {
            self.won_deal_purchases(tx, access, filter, observation_end, zone)
        })?;
        Ok(historical_clv(&acc.finish()?, params)?)
    }

    /// [Rotting deals](crate::kpi::rotting::rotting_deals) as of now.
    pub fn rotting_deals(
        &self,
        filter: &KpiFilter,
        thresholds: &RottingThresholds,
    ) -> Result<Vec<RottingDeal>> {
        filter.check()?;
        let now = self.kpi_now();
        let (deals, activities) = self.with_access(|tx, access| {
            Ok((
                self.visible_deals(tx, access, filter, false)?,
                self.visible_activities(tx, access)?,
            ))
        })?;
        Ok(rotting_deals(&deals, &activities, thresholds, filter, now)?)
    }

    /// [Activity metrics](crate::kpi::activity::activity_metrics) as of now.
    pub fn activity_metrics(&self, filter: &KpiFilter) -> Result<ActivityMetrics> {
        filter.check()?;
        let now = self.kpi_now();
        let activities = self.with_access(|tx, access| self.visible_activities(tx, access))?;
        Ok(activity_metrics(&activities, filter, now))
    }

    // ----- response times (branch sla) -----

    /// [First-response time and SLA attainment](crate::kpi::response::first_response)
    /// of the leads the actor may read, as of [`Session::at`] or the
    /// clock's now. Only activities the actor may read count as responses,
    /// and a customer's lifecycle at creation comes from the audit events
    /// the actor may read (a customer whose `created` event is out of the
    /// actor's event scope counts by its current lifecycle).
    ///
    /// ```
    /// use chrono::Duration;
    /// use crm_core::{Actor, ActivityKind, Crm, Direction, NewActivity, NewCustomer};
    /// use crm_core::kpi::KpiFilter;
    /// use crm_core::kpi::response::ResponseOptions;
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let s = crm.as_actor(Actor::System);
    /// let lead = s.create_customer(NewCustomer::person("Ada"))?;
    /// s.log_activity(NewActivity::new(ActivityKind::Email, "Hello")
    ///     .customer(lead.id).direction(Direction::Outbound))?;
    /// let options = ResponseOptions::default().sla(Duration::hours(4));
    /// let r = s.first_response(&KpiFilter::default(), &options)?;
    /// assert_eq!((r.leads, r.answered), (1, 1));
    /// assert_eq!(r.sla.unwrap().met, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first_response(
        &self,
        filter: &KpiFilter,
        options: &ResponseOptions,
    ) -> Result<FirstResponse> {
        filter.check()?;
        let now = self.kpi_now();
        let (customers, activities, lifecycle) = self.with_access(|tx, access| {
            Ok((
                self.visible_customers(tx, access, filter)?,
                self.visible_activities(tx, access)?,
                self.visible_lifecycle_changes(tx, access)?,
            ))
        })?;
        Ok(first_response(
            &customers,
            &activities,
            &lifecycle,
            filter,
            options,
            now,
        )?)
    }
}
