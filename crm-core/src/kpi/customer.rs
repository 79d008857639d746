//! Customer metrics: new customers, churn and retention, repeat
//! purchases, and the per-customer purchase summary used by
//! customer-lifetime-value models.
//!
//! A **purchase** is a won deal, at its `won_at` time. A **purchase day**
//! is the local calendar date of a purchase in a caller-given
//! [`ReportZone`]; all purchases of one customer on one day count as one purchase
//! (Fader, Hardie & Lee, 2005).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::deal_size::won_in_window;
use super::{
    KpiError, KpiFilter, Period, ReportZone, local_date, overflow, overflow_in, rate, round_money,
};
use crate::currency::Currency;
use crate::customer::Lifecycle;
use crate::deal::{Deal, DealStatus};
use crate::error::EntityKind;
use crate::event::Event;
use crate::id::CustomerId;

/// **New customers per period**: a customer is new in the period that
/// holds its first purchase, i.e. the local date (in `zone`) of the
/// earliest `won_at` among its won deals in the filter's pipeline and owner
/// scope, looking at all time. Only first purchases inside the window are
/// counted. Keys are the periods' first days; empty periods have no entry.
pub fn new_customers<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
    period: Period,
    zone: impl Into<ReportZone>,
) -> BTreeMap<NaiveDate, u64> {
    let mut a = NewCustomersAcc::default();
    for d in deals {
        a.add(d, filter);
    }
    a.finish(filter, period, zone.into())
}

/// First purchase per customer, one deal at a time.
#[derive(Default)]
pub(crate) struct NewCustomersAcc {
    first: HashMap<CustomerId, DateTime<Utc>>,
}

impl NewCustomersAcc {
    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) {
        if d.status != DealStatus::Won || !filter.scopes(d) {
            return;
        }
        if let Some(w) = d.won_at {
            self.first
                .entry(d.customer)
                .and_modify(|t| *t = (*t).min(w))
                .or_insert(w);
        }
    }

    pub(crate) fn finish(
        self,
        filter: &KpiFilter,
        period: Period,
        zone: ReportZone,
    ) -> BTreeMap<NaiveDate, u64> {
        let mut out = BTreeMap::new();
        for t in self.first.into_values().filter(|t| filter.in_window(*t)) {
            *out.entry(period.start_of(local_date(t, zone))).or_default() += 1;
        }
        out
    }
}

/// A customer's lifecycle change, as read from the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LifecycleChange {
    /// The customer.
    pub customer: CustomerId,
    /// When.
    pub at: DateTime<Utc>,
    /// The event's position in the log (orders changes at the same instant).
    pub seq: u64,
    /// The lifecycle state entered.
    pub to: Lifecycle,
}

impl LifecycleChange {
    /// The lifecycle change an event records, if any: a customer's
    /// `created` event (its initial state) or an update that changed
    /// `lifecycle`.
    pub fn from_event(e: &Event) -> Option<LifecycleChange> {
        if e.entity.kind != EntityKind::Customer {
            return None;
        }
        let change = e.changes.iter().find(|c| c.field == "lifecycle")?;
        let to: Lifecycle = serde_json::from_value(change.new.clone()).ok()?;
        Some(LifecycleChange {
            customer: CustomerId::from_uuid(e.entity.id),
            at: e.at,
            seq: e.seq,
            to,
        })
    }
}

/// Churn and retention over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// Customers in state `customer` at the window's start.
    pub at_start: u64,
    /// Of those, the ones not in state `customer` at the window's end.
    pub churned: u64,
    /// Of those, the ones still (or again) in state `customer` at the end.
    pub retained: u64,
    /// `churned / at_start`, 4 places.
    pub churn_rate: Option<Decimal>,
    /// `retained / at_start`, 4 places.
    pub retention_rate: Option<Decimal>,
}

/// **Churn and retention** over the window `[from, to)` (both required),
/// from the customers' lifecycle history. A customer's state at an instant
/// is the last change strictly before it (by time, then log position).
/// `at_start` counts customers whose state at `from` is `customer`;
/// `churned` those of them whose state at `to` is not `customer`;
/// `retained` the rest (a customer who churned and was won back inside the
/// window is retained). Churn rate = churned ÷ at_start, retention rate =
/// retained ÷ at_start, each rounded to 4 places (so they add up to 1
/// except for rounding). The filter's pipeline and owner do not apply
/// (lifecycle belongs to the customer, not to a deal).
pub fn churn<'a>(
    changes: impl IntoIterator<Item = &'a LifecycleChange>,
    filter: &KpiFilter,
) -> Result<Churn, KpiError> {
    let (Some(from), Some(to)) = (filter.from, filter.to) else {
        return Err(KpiError::InvalidParameter {
            parameter: "window",
            value: format!("{:?} .. {:?}", filter.from, filter.to),
            reason: "churn and retention need a window with a start and an end".into(),
        });
    };
    filter.check()?;
    // Per customer: (latest change before `from`, latest change before `to`).
    type Last = Option<(DateTime<Utc>, u64, Lifecycle)>;
    let mut state: HashMap<CustomerId, (Last, Last)> = HashMap::new();
    let later =
        |cur: &Last, c: &LifecycleChange| cur.is_none_or(|(t, s, _)| (c.at, c.seq) > (t, s));
    for c in changes {
        let e = state.entry(c.customer).or_default();
        if c.at < from && later(&e.0, c) {
            e.0 = Some((c.at, c.seq, c.to));
        }
        if c.at < to && later(&e.1, c) {
            e.1 = Some((c.at, c.seq, c.to));
        }
    }
    let (mut at_start, mut retained) = (0u64, 0u64);
    for (start, end) in state.values() {
        if start.is_some_and(|(_, _, l)| l == Lifecycle::Customer) {
            at_start += 1;
            if end.is_some_and(|(_, _, l)| l == Lifecycle::Customer) {
                retained += 1;
            }
        }
    }
    let churned = at_start - retained;
    Ok(Churn {
        at_start,
        churned,
        retained,
        churn_rate: rate(churned, at_start),
        retention_rate: rate(retained, at_start),
    })
}

/// Customers with one and with several purchase days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RepeatPurchase {
    /// Customers with at least one purchase in the window.
    pub customers: u64,
    /// Of those, customers with purchases on two or more distinct days.
    pub repeat_customers: u64,
    /// `repeat_customers / customers`, 4 places.
    pub rate: Option<Decimal>,
}

/// **Repeat purchase rate**: among customers with at least one purchase
/// (won deal in scope, `won_at` in the window, with or without amount), the
/// share with purchases on at least two distinct purchase days (local
/// dates in `zone`), rounded to 4 places.
pub fn repeat_purchase_rate<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
    zone: impl Into<ReportZone>,
) -> RepeatPurchase {
    let mut a = RepeatAcc::new(zone.into());
    for d in deals {
        a.add(d, filter);
    }
    a.finish()
}

/// First purchase day and "bought on another day" per customer.
pub(crate) struct RepeatAcc {
    zone: ReportZone,
    days: HashMap<CustomerId, (NaiveDate, bool)>,
}

impl RepeatAcc {
    pub(crate) fn new(zone: ReportZone) -> Self {
        RepeatAcc {
            zone,
            days: HashMap::new(),
        }
    }

    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) {
        if !won_in_window(d, filter) {
            return;
        }
        let Some(w) = d.won_at else { return };
        let day = local_date(w, self.zone);
        self.days
            .entry(d.customer)
            .and_modify(|(first, repeat)| *repeat |= *first != day)
            .or_insert((day, false));
    }

    pub(crate) fn finish(self) -> RepeatPurchase {
        let customers = self.days.len() as u64;
        let repeat_customers = self.days.values().filter(|(_, r)| *r).count() as u64;
        RepeatPurchase {
            customers,
            repeat_customers,
            rate: rate(repeat_customers, customers),
        }
    }
}

/// One customer's purchase history in one currency, summarised the way
/// buy-till-you-die models (BG/NBD, Pareto/NBD) and the Gamma-Gamma spend
/// model take it (Fader, Hardie & Lee, 2005).
///
/// All day counts are whole calendar days between local purchase dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PurchaseSummary {
    /// The customer.
    pub customer: CustomerId,
    /// The currency of the purchases summarised.
    pub currency: Currency,
    /// *frequency*: the number of distinct purchase days after the first.
    pub frequency: u32,
    /// *recency*: days from the first to the last purchase day (0 when
    /// `frequency` is 0).
    pub recency: u32,
    /// *T*: days from the first purchase day to the observation end's local date.
    pub t: u32,
    /// *monetary value*: the mean of the repeat purchase days' totals (every
    /// purchase day after the first; a day's purchases are added), rounded
    /// to the minor unit; zero when `frequency` is 0.
    pub monetary_value: Decimal,
    /// The first purchase day.
    pub first_purchase: NaiveDate,
    /// The last purchase day.
    pub last_purchase: NaiveDate,
    /// The exact total of all purchases, the first day's included.
    pub total: Decimal,
}

/// **Per-customer purchase summary**: for every customer and currency with
/// at least one purchase (won deal in scope with an amount, `won_at` in
/// the window and before `observation_end`): frequency, recency, T and
/// monetary value as documented on [`PurchaseSummary`], with purchase days
/// taken in `zone`. Sorted by customer, then currency.
/// Won deals without an amount are left out (they have no value and no
/// currency).
pub fn purchase_summaries<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
    observation_end: DateTime<Utc>,
    zone: impl Into<ReportZone>,
) -> Result<Vec<PurchaseSummary>, KpiError> {
    let mut a = SummaryAcc::new(observation_end, zone.into());
    for d in deals {
        a.add(d, filter);
    }
    a.finish()
}

/// Purchase rows for the summaries, one deal at a time.
pub(crate) struct SummaryAcc {
    observation_end: DateTime<Utc>,
    zone: ReportZone,
    rows: Vec<(CustomerId, Currency, NaiveDate, Decimal)>,
}

impl SummaryAcc {
    pub(crate) fn new(observation_end: DateTime<Utc>, zone: ReportZone) -> Self {
        SummaryAcc {
            observation_end,
            zone,
            rows: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) {
        if !won_in_window(d, filter) {
            return;
        }
        if let (Some(m), Some(w)) = (&d.amount, d.won_at)
            && w < self.observation_end
        {
            self.rows
                .push((d.customer, m.currency, local_date(w, self.zone), m.amount));
        }
    }

    pub(crate) fn finish(self) -> Result<Vec<PurchaseSummary>, KpiError> {
        summarise(self.rows, local_date(self.observation_end, self.zone))
    }
}

/// Builds summaries from purchase rows (sorted here).
pub(crate) fn summarise(
    mut rows: Vec<(CustomerId, Currency, NaiveDate, Decimal)>,
    end_day: NaiveDate,
) -> Result<Vec<PurchaseSummary>, KpiError> {
    rows.sort_unstable_by_key(|r| (r.0, r.1, r.2));
    let days = |a: NaiveDate, b: NaiveDate| -> Result<u32, KpiError> {
        u32::try_from((b - a).num_days()).map_err(|_| overflow("day count"))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let (customer, currency, first, _) = rows[i];
        let mut total = Decimal::ZERO;
        let mut repeat_total = Decimal::ZERO;
        let mut frequency = 0u32;
        let mut last = first;
        while i < rows.len() && rows[i].0 == customer && rows[i].1 == currency {
            let (_, _, day, amount) = rows[i];
            total = total
                .checked_add(amount)
                .ok_or_else(|| overflow_in("purchase total", currency))?;
            if day != first {
                repeat_total = repeat_total
                    .checked_add(amount)
                    .ok_or_else(|| overflow_in("purchase total", currency))?;
                if day != last {
                    frequency += 1;
                }
            }
            last = day;
            i += 1;
        }
        let monetary_value = if frequency == 0 {
            Decimal::ZERO
        } else {
            round_money(repeat_total / Decimal::from(frequency), currency)
        };
        out.push(PurchaseSummary {
            customer,
            currency,
            frequency,
            recency: days(first, last)?,
            t: days(first, end_day)?,
            monetary_value,
            first_purchase: first,
            last_purchase: last,
            total,
        });
    }
    Ok(out)
}
