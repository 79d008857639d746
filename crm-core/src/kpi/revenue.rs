//! Revenue by calendar period.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::deal_size::won_in_window;
use super::{
    KpiError, KpiFilter, PerCurrency, Period, RateTable, ReportZone, local_date, overflow_in,
};
use crate::deal::Deal;
use crate::money::Money;

/// Revenue per currency, per period (keyed by the period's first day).
pub type Revenue = PerCurrency<BTreeMap<NaiveDate, Decimal>>;

/// **Revenue by period**: the exact sum of the amounts of the deals in
/// scope won with `won_at` in the window, per currency, bucketed by the
/// `period` containing the local date of `won_at` in `zone` (an IANA zone
/// such as `Europe/Berlin`, or a fixed UTC offset). Buckets are keyed
/// by their first day (weeks start on Monday); periods without revenue
/// have no entry. Won deals without an amount add nothing.
///
/// ```
/// use chrono::{FixedOffset, NaiveDate, TimeZone, Utc};
/// use crm_core::kpi::{KpiFilter, Period, revenue::revenue_by_period};
///
/// let deals: Vec<crm_core::Deal> = Vec::new();
/// let east = FixedOffset::east_opt(2 * 3600).unwrap();
/// let r = revenue_by_period(&deals, &KpiFilter::default(), Period::Month, east)?;
/// assert!(r.is_empty());
/// # Ok::<(), crm_core::kpi::KpiError>(())
/// ```
pub fn revenue_by_period<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
    period: Period,
    zone: impl Into<ReportZone>,
) -> Result<Revenue, KpiError> {
    let mut a = RevenueAcc::new(period, zone.into());
    for d in deals {
        a.add(d, filter)?;
    }
    Ok(a.out)
}

/// Revenue by period, one deal at a time.
pub(crate) struct RevenueAcc {
    period: Period,
    zone: ReportZone,
    pub(crate) out: Revenue,
}

impl RevenueAcc {
    pub(crate) fn new(period: Period, zone: ReportZone) -> Self {
        RevenueAcc {
            period,
            zone,
            out: Revenue::new(),
        }
    }

    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) -> Result<(), KpiError> {
        if !won_in_window(d, filter) {
            return Ok(());
        }
        let (Some(m), Some(at)) = (&d.amount, d.won_at) else {
            return Ok(());
        };
        let key = self.period.start_of(local_date(at, self.zone));
        let slot = self
            .out
            .entry(m.currency)
            .or_default()
            .entry(key)
            .or_default();
        *slot = slot
            .checked_add(m.amount)
            .ok_or_else(|| overflow_in("revenue", m.currency))?;
        Ok(())
    }
}

/// Revenue converted into the rate table's reporting currency, per period:
/// each period's per-currency sums converted exactly, added and rounded
/// once to the minor unit. A currency without a rate is an error.
pub fn revenue_in(
    revenue: &Revenue,
    rates: &RateTable,
) -> Result<BTreeMap<NaiveDate, Money>, KpiError> {
    let mut by_period: BTreeMap<NaiveDate, PerCurrency<Decimal>> = BTreeMap::new();
    for (c, periods) in revenue {
        for (p, a) in periods {
            by_period.entry(*p).or_default().insert(*c, *a);
        }
    }
    by_period
        .into_iter()
        .map(|(p, totals)| Ok((p, rates.convert_total(&totals)?)))
        .collect()
}
