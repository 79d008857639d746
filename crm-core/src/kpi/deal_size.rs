//! Deal size and sales-cycle length.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AmountStats, DurationStats, KpiError, KpiFilter, PerCurrency};
use crate::deal::{Deal, DealStatus};

/// Won amounts per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DealSize {
    /// Count, total, mean and median of won amounts, per currency.
    pub per_currency: PerCurrency<AmountStats>,
    /// Won deals in scope that have no amount (left out of the figures).
    pub without_amount: u64,
}

/// The won deals a deal-size or cycle figure looks at.
pub(crate) fn won_in_window(d: &Deal, f: &KpiFilter) -> bool {
    d.status == DealStatus::Won && f.scopes(d) && d.won_at.is_some_and(|t| f.in_window(t))
}

/// Won amounts and cycle lengths, one deal at a time.
#[derive(Debug, Default)]
pub(crate) struct SizeAcc {
    amounts: PerCurrency<Vec<Decimal>>,
    without_amount: u64,
    cycles: Vec<i64>,
}

impl SizeAcc {
    pub(crate) fn add(&mut self, d: &Deal, f: &KpiFilter) {
        if !won_in_window(d, f) {
            return;
        }
        match &d.amount {
            Some(m) => self.amounts.entry(m.currency).or_default().push(m.amount),
            None => self.without_amount += 1,
        }
        if let Some(w) = d.won_at {
            self.cycles.push((w - d.created_at).num_milliseconds());
        }
    }

    pub(crate) fn deal_size(&mut self) -> Result<DealSize, KpiError> {
        let mut per_currency = PerCurrency::new();
        for (c, v) in &mut self.amounts {
            per_currency.insert(*c, AmountStats::from_amounts(*c, v)?);
        }
        Ok(DealSize {
            per_currency,
            without_amount: self.without_amount,
        })
    }

    pub(crate) fn sales_cycle(&mut self) -> Result<DurationStats, KpiError> {
        DurationStats::from_millis(&mut self.cycles)
    }
}

fn acc<'a>(deals: impl IntoIterator<Item = &'a Deal>, filter: &KpiFilter) -> SizeAcc {
    let mut a = SizeAcc::default();
    for d in deals {
        a.add(d, filter);
    }
    a
}

/// **Deal size**: over the deals in scope that are won with `won_at` in
/// the window, per currency: the number of won deals with an amount, the
/// exact total, the mean (total ÷ count) and the median, both rounded to
/// the currency's minor unit. Won deals without an amount are only counted
/// in `without_amount`.
pub fn deal_size<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
) -> Result<DealSize, KpiError> {
    acc(deals, filter).deal_size()
}

/// **Sales cycle**: over the deals in scope that are won with `won_at` in
/// the window, the time from `created_at` to `won_at`; mean and median in
/// days, rounded to 2 places.
pub fn sales_cycle<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
) -> Result<DurationStats, KpiError> {
    acc(deals, filter).sales_cycle()
}
