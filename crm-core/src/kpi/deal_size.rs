//! Deal size and sales-cycle length.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{AmountStats, DurationStats, KpiError, KpiFilter, PerCurrency};
use crate::deal::{Deal, DealStatus};

/// Won amounts per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// **Deal size**: over the deals in scope that are won with `won_at` in
/// the window, per currency: the number of won deals with an amount, the
/// exact total, the mean (total ÷ count) and the median, both rounded to
/// the currency's minor unit. Won deals without an amount are only counted
/// in `without_amount`.
pub fn deal_size<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
) -> Result<DealSize, KpiError> {
    let mut amounts: PerCurrency<Vec<Decimal>> = PerCurrency::new();
    let mut without_amount = 0;
    for d in deals.into_iter().filter(|d| won_in_window(d, filter)) {
        match &d.amount {
            Some(m) => amounts.entry(m.currency).or_default().push(m.amount),
            None => without_amount += 1,
        }
    }
    let mut per_currency = PerCurrency::new();
    for (c, mut v) in amounts {
        per_currency.insert(c, AmountStats::from_amounts(c, &mut v)?);
    }
    Ok(DealSize {
        per_currency,
        without_amount,
    })
}

/// **Sales cycle**: over the deals in scope that are won with `won_at` in
/// the window, the time from `created_at` to `won_at`; mean and median in
/// days, rounded to 2 places.
pub fn sales_cycle<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    filter: &KpiFilter,
) -> Result<DurationStats, KpiError> {
    let mut ms: Vec<i64> = deals
        .into_iter()
        .filter(|d| won_in_window(d, filter))
        .filter_map(|d| d.won_at.map(|w| (w - d.created_at).num_milliseconds()))
        .collect();
    DurationStats::from_millis(&mut ms)
}
