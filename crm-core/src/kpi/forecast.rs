//! The probability-weighted forecast of open deals.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{KpiError, KpiFilter, PerCurrency, add_to, overflow_in, round_money};
use crate::deal::{Deal, DealStatus};
use crate::id::DealId;
use crate::pipeline::Pipeline;

/// One month's open deals in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ForecastBucket {
    /// Open deals expected to close in the month.
    pub deals: u64,
    /// Their total amount, exact.
    pub amount: Decimal,
    /// Σ amount × stage probability ÷ 100, rounded once to the minor unit.
    pub weighted: Decimal,
}

/// The forecast of open deals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Forecast {
    /// Per currency, per expected close month (keyed by the month's first day).
    #[cfg_attr(
        feature = "schema",
        schemars(with = "PerCurrency<crate::schema::DateMap<ForecastBucket>>")
    )]
    pub by_month: PerCurrency<BTreeMap<NaiveDate, ForecastBucket>>,
    /// Per currency, the sum of the months' weighted amounts.
    pub weighted_total: PerCurrency<Decimal>,
    /// Per currency, the total amount of all open deals in scope (dated or
    /// not); the weighted total never exceeds it.
    pub open_total: PerCurrency<Decimal>,
    /// Open deals in scope with no expected close date, by id.
    pub undated: Vec<DealId>,
    /// Open deals in the buckets' date range without an amount, by id.
    pub without_amount: Vec<DealId>,
}

/// **Forecast**: the open deals in scope, bucketed per currency by the
/// calendar month of their expected close date; each bucket holds the
/// count, the exact amount and the weighted amount Σ amount × p ÷ 100,
/// where p is the win probability (percent) of the deal's current stage,
/// rounded once per bucket to the minor unit.
///
/// The filter's window applies to the expected close date (a date counts
/// as its midnight UTC): a date outside it leaves the deal out of the
/// buckets. Open deals without an expected close date are listed in
/// `undated` whatever the window; dated deals without an amount in
/// `without_amount`. Every open deal's pipeline must be in `pipelines`.
pub fn forecast<'a>(
    deals: impl IntoIterator<Item = &'a Deal>,
    pipelines: &[Pipeline],
    filter: &KpiFilter,
) -> Result<Forecast, KpiError> {
    let mut a = ForecastAcc::new(pipelines);
    for d in deals {
        a.add(d, filter)?;
    }
    a.finish()
}

/// The forecast, one deal at a time.
pub(crate) struct ForecastAcc<'p> {
    pipelines: &'p [Pipeline],
    f: Forecast,
    exact: PerCurrency<BTreeMap<NaiveDate, Decimal>>,
}

impl<'p> ForecastAcc<'p> {
    pub(crate) fn new(pipelines: &'p [Pipeline]) -> Self {
        ForecastAcc {
            pipelines,
            f: Forecast::default(),
            exact: PerCurrency::new(),
        }
    }

    pub(crate) fn add(&mut self, d: &Deal, filter: &KpiFilter) -> Result<(), KpiError> {
        if d.status != DealStatus::Open || !filter.scopes(d) {
            return Ok(());
        }
        let f = &mut self.f;
        if let Some(m) = &d.amount {
            add_to(&mut f.open_total, m, "open total")?;
        }
        let Some(date) = d.expected_close_date else {
            f.undated.push(d.id);
            return Ok(());
        };
        if !filter.in_window(date.and_time(chrono::NaiveTime::MIN).and_utc()) {
            return Ok(());
        }
        let Some(m) = &d.amount else {
            f.without_amount.push(d.id);
            return Ok(());
        };
        let p = probability(d, self.pipelines)?;
        let month = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date);
        let b = f
            .by_month
            .entry(m.currency)
            .or_default()
            .entry(month)
            .or_default();
        b.deals += 1;
        b.amount = b
            .amount
            .checked_add(m.amount)
            .ok_or_else(|| overflow_in("forecast amount", m.currency))?;
        let w = m
            .amount
            .checked_mul(Decimal::from(p))
            .ok_or_else(|| overflow_in("weighted forecast", m.currency))?
            / Decimal::ONE_HUNDRED;
        let slot = self
            .exact
            .entry(m.currency)
            .or_default()
            .entry(month)
            .or_default();
        *slot = slot
            .checked_add(w)
            .ok_or_else(|| overflow_in("weighted forecast", m.currency))?;
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Forecast, KpiError> {
        let mut f = self.f;
        for (c, months) in self.exact {
            let mut total = Decimal::ZERO;
            for (month, w) in months {
                let w = round_money(w, c);
                total = total
                    .checked_add(w)
                    .ok_or_else(|| overflow_in("weighted forecast", c))?;
                if let Some(b) = f.by_month.get_mut(&c).and_then(|m| m.get_mut(&month)) {
                    b.weighted = w;
                }
            }
            f.weighted_total.insert(c, total);
        }
        f.undated.sort_unstable();
        f.without_amount.sort_unstable();
        Ok(f)
    }
}

/// The win probability (percent) of the deal's current stage.
pub(crate) fn probability(d: &Deal, pipelines: &[Pipeline]) -> Result<u8, KpiError> {
    let p = pipelines
        .iter()
        .find(|p| p.id == d.pipeline)
        .ok_or(KpiError::UnknownPipeline {
            deal: d.id,
            pipeline: d.pipeline,
        })?;
    p.stage(&d.stage)
        .map(|s| s.probability)
        .ok_or_else(|| KpiError::UnknownStage {
            deal: d.id,
            stage: d.stage.clone(),
        })
}
