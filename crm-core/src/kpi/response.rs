//! First-response time of new leads and SLA attainment, in business time
//! under a [`BusinessCalendar`] and in wall-clock time.
//!
//! # Definitions
//!
//! - **Lead**: a customer (person or organisation, not merged into
//!   another) that was a `lead` when it was created, whose `created_at`
//!   lies in the filter's window and is not after `now`, and that is owned
//!   by the filter's owner when one is given. Its state at creation is the
//!   earliest entry of its lifecycle history (the `created` event records
//!   it); a customer without visible history counts by its current state.
//!   The filter's pipeline does not apply (a lead need not have a deal).
//! - **Response**: a call, e-mail or meeting with direction `outbound`
//!   linked to the lead's customer (directly or through one of its deals;
//!   by anyone, not only the owner), whose `occurred_at` is at or after the
//!   lead's `created_at` and not after `now`. Notes, tasks, inbound
//!   activities and activities without a direction are not responses.
//! - **First response**: the response with the earliest `occurred_at`
//!   (ties: the smaller activity id). A lead without one is *unanswered*.
//! - **First-response time**: from `created_at` to the first response's
//!   `occurred_at`, as wall-clock time and as business time
//!   ([`BusinessCalendar::business_time_between`]).
//! - **SLA** with a target of `T` business time: a lead's SLA clock runs
//!   in business time from `created_at` and stops at its first response.
//!   The lead *met* the SLA when it was answered within `T` (business
//!   first-response time `<= T`); it *breached* it when it was answered
//!   later, or when it is unanswered and more than `T` of business time
//!   has elapsed by `now`. Otherwise (unanswered, at most `T` elapsed) its
//!   window is still open: *pending*. **Attainment** = met ÷ (met +
//!   breached), over the leads whose window has closed, rounded to
//!   [`RATE_DP`](super::RATE_DP) places; pending leads are reported
//!   separately and left out. The *due* time shown per lead is
//!   [`BusinessCalendar::add_business_time`]`(created_at, T)`: the instant
//!   the target elapses (`None` when the calendar is never open).
//! - **Statistics** (count, mean, median, 90th percentile) are over the
//!   answered leads, in minutes rounded to [`MINUTES_DP`] places, half away
//!   from zero; the median follows the module convention (mean of the two
//!   middle values for an even count); the 90th percentile is the
//!   nearest-rank value: the `ceil(0.9 n)`-th smallest.
//!
//! The result does not depend on the order of the input records; leads are
//! listed by `created_at`, then customer id.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::customer::LifecycleChange;
use super::{KpiError, KpiFilter, overflow, rate, round};
use crate::activity::{Activity, ActivityKind, Direction};
use crate::calendar::BusinessCalendar;
use crate::customer::{Customer, Lifecycle};
use crate::id::{ActivityId, CustomerId, UserId};

/// Decimal places of durations in minutes.
pub const MINUTES_DP: u32 = 2;

const MS_PER_MINUTE: i64 = 60_000;

/// How first-response times are measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseOptions {
    /// The business hours response times are measured in.
    pub calendar: BusinessCalendar,
    /// The SLA target in business time (e.g. 4 hours); `None`: no SLA
    /// figures. Must be positive.
    pub sla_target: Option<TimeDelta>,
}

impl Default for ResponseOptions {
    /// Around the clock in UTC (business time is wall-clock time), no SLA.
    fn default() -> Self {
        ResponseOptions {
            calendar: BusinessCalendar::always_open(),
            sla_target: None,
        }
    }
}

impl ResponseOptions {
    /// Response times under `calendar`, without an SLA.
    pub fn new(calendar: BusinessCalendar) -> Self {
        ResponseOptions {
            calendar,
            sla_target: None,
        }
    }

    /// Sets the SLA target (business time).
    pub fn sla(mut self, target: TimeDelta) -> Self {
        self.sla_target = Some(target);
        self
    }
}

/// Where a lead stands against the SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SlaStatus {
    /// Answered within the target.
    Met,
    /// Answered after the target, or unanswered with the target exceeded.
    Breached,
    /// Unanswered, the target not yet exceeded: the window is open.
    Pending,
}

/// One lead's first response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LeadResponse {
    /// The lead.
    pub customer: CustomerId,
    /// Its owner.
    pub owner: Option<UserId>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The first response (`None`: unanswered).
    pub first_response: Option<ActivityId>,
    /// When it occurred.
    pub responded_at: Option<DateTime<Utc>>,
    /// Wall-clock first-response time, in milliseconds.
    pub wall_clock_ms: Option<i64>,
    /// Business first-response time, in milliseconds.
    pub business_ms: Option<i64>,
    /// When the SLA target elapses (with an SLA and a calendar that opens).
    pub sla_due: Option<DateTime<Utc>>,
    /// Where it stands against the SLA (with an SLA).
    pub sla: Option<SlaStatus>,
}

/// Count, mean, median and 90th percentile of response times, in minutes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponseTimeStats {
    /// How many (answered) leads.
    pub count: u64,
    /// The mean, in minutes ([`MINUTES_DP`] places; `None` when `count` is 0).
    pub mean_minutes: Option<Decimal>,
    /// The median, in minutes.
    pub median_minutes: Option<Decimal>,
    /// The nearest-rank 90th percentile, in minutes.
    pub p90_minutes: Option<Decimal>,
}

impl ResponseTimeStats {
    /// Stats over durations in milliseconds (sorted in place).
    fn from_millis(ms: &mut [i64]) -> Result<Self, KpiError> {
        let n = ms.len();
        if n == 0 {
            return Ok(ResponseTimeStats::default());
        }
        ms.sort_unstable();
        let minutes = |v: i128| {
            Decimal::try_from_i128_with_scale(v, 0)
                .map(|d| d / Decimal::from(MS_PER_MINUTE))
                .map_err(|_| overflow("response time"))
        };
        let sum: i128 = ms.iter().map(|&m| i128::from(m)).sum();
        let mean = minutes(sum)? / Decimal::from(n as u64);
        let median = if n % 2 == 1 {
            minutes(i128::from(ms[n / 2]))?
        } else {
            minutes(i128::from(ms[n / 2 - 1]) + i128::from(ms[n / 2]))? / Decimal::TWO
        };
        // Nearest rank: the ceil(0.9 n)-th smallest (1-based).
        let rank = (9 * n).div_ceil(10).max(1);
        Ok(ResponseTimeStats {
            count: n as u64,
            mean_minutes: Some(round(mean, MINUTES_DP)),
            median_minutes: Some(round(median, MINUTES_DP)),
            p90_minutes: Some(round(minutes(i128::from(ms[rank - 1]))?, MINUTES_DP)),
        })
    }
}

/// SLA attainment over the leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SlaAttainment {
    /// The target, in business minutes.
    pub target_minutes: Decimal,
    /// Leads answered within the target.
    pub met: u64,
    /// Leads answered late, or unanswered past the target.
    pub breached: u64,
    /// Leads unanswered with the target not yet exceeded (open windows).
    pub pending: u64,
    /// met ÷ (met + breached), [`RATE_DP`](super::RATE_DP) places; `None` when no window has closed.
    pub attainment: Option<Decimal>,
}

/// First-response times of the leads, with SLA attainment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FirstResponse {
    /// Leads.
    pub leads: u64,
    /// Leads with a first response.
    pub answered: u64,
    /// Leads without one.
    pub unanswered: u64,
    /// Wall-clock first-response times of the answered leads.
    pub wall_clock: ResponseTimeStats,
    /// Business first-response times of the answered leads.
    pub business: ResponseTimeStats,
    /// SLA attainment (with an SLA target).
    pub sla: Option<SlaAttainment>,
    /// Every lead, by `created_at`, then customer id.
    pub per_lead: Vec<LeadResponse>,
}

/// True when `a` is a response: an outbound call, e-mail or meeting.
pub fn is_response(a: &Activity) -> bool {
    matches!(
        a.kind,
        ActivityKind::Call | ActivityKind::Email | ActivityKind::Meeting
    ) && a.direction == Some(Direction::Outbound)
}

/// **First-response time and SLA attainment** of the leads, as of `now`
/// (see the [module documentation](self) for the exact definitions).
///
/// Errors: [`KpiError::InvalidParameter`] for a reversed window or an SLA
/// target that is not positive.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use crm_core::calendar::{BusinessCalendar, WeeklyHours};
/// use crm_core::kpi::KpiFilter;
/// use crm_core::kpi::response::{ResponseOptions, first_response};
///
/// let cal = BusinessCalendar::new("Europe/Berlin", WeeklyHours::weekdays("09:00-17:00")?)?;
/// let options = ResponseOptions::new(cal).sla(Duration::hours(4));
/// let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
/// let r = first_response(&[], &[], &[], &KpiFilter::default(), &options, now)?;
/// assert_eq!((r.leads, r.sla.unwrap().attainment), (0, None));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn first_response<'a>(
    customers: impl IntoIterator<Item = &'a Customer>,
    activities: impl IntoIterator<Item = &'a Activity>,
    lifecycle: impl IntoIterator<Item = &'a LifecycleChange>,
    filter: &KpiFilter,
    options: &ResponseOptions,
    now: DateTime<Utc>,
) -> Result<FirstResponse, KpiError> {
    filter.check()?;
    if let Some(t) = options.sla_target
        && t <= TimeDelta::zero()
    {
        return Err(KpiError::InvalidParameter {
            parameter: "sla_target",
            value: t.to_string(),
            reason: "an SLA target must be a positive amount of business time".into(),
        });
    }
    // The earliest lifecycle entry of each customer: its state at creation.
    let mut initial: BTreeMap<CustomerId, (DateTime<Utc>, u64, Lifecycle)> = BTreeMap::new();
    for c in lifecycle {
        let e = initial.entry(c.customer).or_insert((c.at, c.seq, c.to));
        if (c.at, c.seq) < (e.0, e.1) {
            *e = (c.at, c.seq, c.to);
        }
    }
    let mut leads: BTreeMap<CustomerId, &Customer> = BTreeMap::new();
    for c in customers {
        let was_lead = initial.get(&c.id).map_or(c.lifecycle, |&(_, _, l)| l) == Lifecycle::Lead;
        if was_lead
            && !c.is_merged()
            && filter.in_window(c.created_at)
            && c.created_at <= now
            && filter.owner.is_none_or(|o| c.owner == Some(o))
        {
            leads.insert(c.id, c);
        }
    }
    let mut first: BTreeMap<CustomerId, (DateTime<Utc>, ActivityId)> = BTreeMap::new();
    for a in activities {
        let Some(lead) = a.customer.and_then(|c| leads.get(&c)) else {
            continue;
        };
        if !is_response(a) || a.occurred_at < lead.created_at || a.occurred_at > now {
            continue;
        }
        let candidate = (a.occurred_at, a.id);
        first
            .entry(lead.id)
            .and_modify(|f| *f = (*f).min(candidate))
            .or_insert(candidate);
    }

    let cal = &options.calendar;
    let mut per_lead = Vec::with_capacity(leads.len());
    let (mut wall, mut business) = (Vec::new(), Vec::new());
    let (mut met, mut breached, mut pending) = (0u64, 0u64, 0u64);
    for lead in leads.values() {
        let response = first.get(&lead.id).copied();
        let elapsed = response.map(|(at, _)| {
            (
                at - lead.created_at,
                cal.business_time_between(lead.created_at, at),
            )
        });
        if let Some((w, b)) = elapsed {
            wall.push(w.num_milliseconds());
            business.push(b.num_milliseconds());
        }
        let (sla_due, sla) = match options.sla_target {
            None => (None, None),
            Some(target) => {
                let status = match elapsed {
                    Some((_, b)) if b <= target => SlaStatus::Met,
                    Some(_) => SlaStatus::Breached,
                    None if cal.business_time_between(lead.created_at, now) > target => {
                        SlaStatus::Breached
                    }
                    None => SlaStatus::Pending,
                };
                match status {
                    SlaStatus::Met => met += 1,
                    SlaStatus::Breached => breached += 1,
                    SlaStatus::Pending => pending += 1,
                }
                (
                    cal.add_business_time(lead.created_at, target).ok(),
                    Some(status),
                )
            }
        };
        per_lead.push(LeadResponse {
            customer: lead.id,
            owner: lead.owner,
            created_at: lead.created_at,
            first_response: response.map(|(_, id)| id),
            responded_at: response.map(|(at, _)| at),
            wall_clock_ms: elapsed.map(|(w, _)| w.num_milliseconds()),
            business_ms: elapsed.map(|(_, b)| b.num_milliseconds()),
            sla_due,
            sla,
        });
    }
    per_lead.sort_by_key(|l| (l.created_at, l.customer));
    let answered = first.len() as u64;
    let sla = options.sla_target.map(|t| SlaAttainment {
        target_minutes: round(
            Decimal::from(t.num_milliseconds()) / Decimal::from(MS_PER_MINUTE),
            MINUTES_DP,
        ),
        met,
        breached,
        pending,
        attainment: rate(met, met + breached),
    });
    Ok(FirstResponse {
        leads: leads.len() as u64,
        answered,
        unanswered: leads.len() as u64 - answered,
        wall_clock: ResponseTimeStats::from_millis(&mut wall)?,
        business: ResponseTimeStats::from_millis(&mut business)?,
        sla,
        per_lead,
    })
}
