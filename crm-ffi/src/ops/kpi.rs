//! `kpi.*`: the whole KPI report and each KPI alone.
//!
//! Common request fields: `"filter"?: KpiFilter` (pipeline, owner and
//! window), `"period"?: "day" | "week" | "month" | ...` (default month),
//! `"zone"?`: an IANA time zone name (default UTC), and `"now"?`: the time
//! the KPIs are computed for (RFC 3339; default the engine's clock), which
//! is also the observation end of the purchase summaries and CLV in the
//! report.

use chrono::{DateTime, Utc};
use crm_core::calendar::BusinessCalendar;
use crm_core::kpi::clv::ClvParams;
use crm_core::kpi::report::KpiOptions;
use crm_core::kpi::response::ResponseOptions;
use crm_core::kpi::rotting::RottingThresholds;
use crm_core::kpi::{KpiFilter, Period, ReportZone};
use crm_core::{CustomerId, PipelineId};
use crm_core::{Session, Store};
use schemars::JsonSchema;
use serde::Deserialize;

use super::paging::{Slice, slice};
use super::{Ctx, json, out, req};
use crate::status::{CrmStatus, Failure};

#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Report {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
    /// The calendar period figures are grouped by (default month).
    period: Option<Period>,
    /// The IANA time zone periods and days are cut in, such as "Europe/Berlin" (default UTC).
    zone: Option<String>,
    /// First-response times and the SLA, when given.
    response: Option<Response>,
    /// When deals rot (default: after 30 idle days in any stage).
    rotting: Option<RottingThresholds>,
    /// CLV assumptions (default: yearly periods, 3-year lifetime).
    clv: Option<ClvParams>,
    /// The time the figures are computed for (default: the engine's clock).
    now: Option<DateTime<Utc>>,
}

/// `{"calendar": BusinessCalendar, "sla_minutes"?: n}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Response {
    /// The business hours response times are counted in.
    calendar: BusinessCalendar,
    /// The first-response target in business minutes, for the SLA attainment (default: none).
    #[serde(default)]
    sla_minutes: Option<u32>,
}

impl Response {
    fn options(self) -> ResponseOptions {
        let mut o = ResponseOptions::new(self.calendar);
        if let Some(m) = self.sla_minutes {
            o = o.sla(chrono::TimeDelta::minutes(i64::from(m)));
        }
        o
    }
}

/// `{"filter"?}`
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Filtered {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
}

/// `{"filter"?, "now"?}`
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct AsOf {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
    /// The time the figures are computed for (default: the engine's clock).
    now: Option<DateTime<Utc>>,
}

/// `{"pipeline", "filter"?}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Funnel {
    /// The pipeline whose stages make the funnel.
    pipeline: PipelineId,
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    #[serde(default)]
    filter: KpiFilter,
}

/// `{"filter"?, "period"?, "zone"?}`
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Periodic {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
    /// The calendar period figures are grouped by (default month).
    period: Option<Period>,
    /// The IANA time zone periods and days are cut in, such as "Europe/Berlin" (default UTC).
    zone: Option<String>,
}

/// `{"filter"?, "zone"?}`
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Zoned {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
    /// The IANA time zone periods and days are cut in, such as "Europe/Berlin" (default UTC).
    zone: Option<String>,
}

/// `{"filter"?, "observation_end"?, "zone"?}`
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Summaries {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
    /// Default: the engine's clock.
    observation_end: Option<DateTime<Utc>>,
    /// The IANA time zone periods and days are cut in, such as "Europe/Berlin" (default UTC).
    zone: Option<String>,
    /// One page of the summaries, in customer-id order (default: all, in
    /// the engine's order).
    page: Option<Slice<CustomerId>>,
}

/// `{"filter"?, "observation_end"?, "zone"?, "clv"?}`
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Observed {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
    /// Default: the engine's clock.
    observation_end: Option<DateTime<Utc>>,
    /// The IANA time zone periods and days are cut in, such as "Europe/Berlin" (default UTC).
    zone: Option<String>,
    /// CLV assumptions (default: yearly periods, 3-year lifetime).
    clv: Option<ClvParams>,
}

/// `{"filter"?, "thresholds"?, "now"?}`
#[derive(Deserialize, Default, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub(super) struct Rotting {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    filter: KpiFilter,
    /// When deals rot (default: after 30 idle days in any stage).
    thresholds: Option<RottingThresholds>,
    /// The time the figures are computed for (default: the engine's clock).
    now: Option<DateTime<Utc>>,
}

/// `{"filter"?, "calendar", "sla_minutes"?, "now"?}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FirstResponse {
    /// Which deals, customers and activities count: pipeline, owner and time window (default: all in scope).
    #[serde(default)]
    filter: KpiFilter,
    /// The business hours response times are counted in.
    calendar: BusinessCalendar,
    /// The first-response target in business minutes, for the SLA attainment (default: none).
    #[serde(default)]
    sla_minutes: Option<u32>,
    /// The time the figures are computed for (default: the engine's clock).
    #[serde(default)]
    now: Option<DateTime<Utc>>,
}

fn zone(name: Option<String>) -> Result<ReportZone, Failure> {
    match name {
        None => Ok(ReportZone::utc()),
        Some(z) => ReportZone::named(&z).map_err(|e| {
            Failure::new(
                CrmStatus::InvalidInput,
                format!("request.zone {z:?}: {}", crm_core::Error::from(e)),
            )
        }),
    }
}

/// The session, dated `now` when given.
fn at<'a>(c: &Ctx<'a>, now: Option<DateTime<Utc>>) -> Session<'a, Box<dyn Store>> {
    match now {
        Some(t) => c.s.at(t),
        None => c.s.clone(),
    }
}

pub(super) fn report(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Report = req(request)?;
    let mut options = KpiOptions {
        filter: r.filter,
        zone: zone(r.zone)?,
        response: r.response.map(Response::options),
        ..KpiOptions::default()
    };
    if let Some(p) = r.period {
        options.period = p;
    }
    if let Some(t) = r.rotting {
        options.rotting = t;
    }
    if let Some(p) = r.clv {
        options.clv = p;
    }
    out(at(c, r.now).kpi_report(&options))
}

pub(super) fn win_rate(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Filtered = req(request)?;
    out(c.s.win_rate(&r.filter))
}

pub(super) fn close_rate(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Filtered = req(request)?;
    out(c.s.close_rate(&r.filter))
}

pub(super) fn funnel(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Funnel = req(request)?;
    out(c.s.stage_funnel(r.pipeline, &r.filter))
}

pub(super) fn deal_size(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Filtered = req(request)?;
    out(c.s.deal_size(&r.filter))
}

pub(super) fn sales_cycle(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Filtered = req(request)?;
    out(c.s.sales_cycle(&r.filter))
}

pub(super) fn sales_velocity(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Filtered = req(request)?;
    out(c.s.sales_velocity(&r.filter))
}

pub(super) fn forecast(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Filtered = req(request)?;
    out(c.s.forecast(&r.filter))
}

pub(super) fn revenue(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Periodic = req(request)?;
    let period = r.period.unwrap_or(Period::Month);
    out(c.s.revenue_by_period(&r.filter, period, zone(r.zone)?))
}

pub(super) fn new_customers(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Periodic = req(request)?;
    let period = r.period.unwrap_or(Period::Month);
    out(c.s.new_customers(&r.filter, period, zone(r.zone)?))
}

pub(super) fn churn(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Filtered = req(request)?;
    out(c.s.churn(&r.filter))
}

pub(super) fn repeat_purchase_rate(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Zoned = req(request)?;
    out(c.s.repeat_purchase_rate(&r.filter, zone(r.zone)?))
}

pub(super) fn purchase_summaries(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Summaries = req(request)?;
    let end = r.observation_end.unwrap_or_else(|| c.engine.now());
    let all = c.s.purchase_summaries(&r.filter, end, zone(r.zone)?)?;
    json(&slice(all, |s| s.customer, r.page)?)
}

pub(super) fn historical_clv(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Observed = req(request)?;
    let end = r.observation_end.unwrap_or_else(|| c.engine.now());
    let params = r.clv.unwrap_or_default();
    out(c.s.historical_clv(&r.filter, end, zone(r.zone)?, &params))
}

pub(super) fn rotting_deals(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Rotting = req(request)?;
    let thresholds = r
        .thresholds
        .unwrap_or_else(|| KpiOptions::default().rotting);
    out(at(c, r.now).rotting_deals(&r.filter, &thresholds))
}

pub(super) fn activity_metrics(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: AsOf = req(request)?;
    out(at(c, r.now).activity_metrics(&r.filter))
}

pub(super) fn first_response(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: FirstResponse = req(request)?;
    let options = Response {
        calendar: r.calendar,
        sla_minutes: r.sla_minutes,
    }
    .options();
    out(at(c, r.now).first_response(&r.filter, &options))
}
