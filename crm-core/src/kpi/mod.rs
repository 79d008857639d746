//! Sales KPIs and customer analytics: pure functions over domain records.
//!
//! Every function here takes records (`&[Deal]`, `&[Activity]`, …) and
//! returns numbers; none touches a store. The [`Session`](crate::Session)
//! facade loads the records a caller may see and calls them (see
//! `Session::kpi_report` and its siblings), so a dashboard gets the same
//! figures over any store.
//!
//! # Conventions (they hold for every KPI)
//!
//! - **Scope**: a [`KpiFilter`] restricts deals to one pipeline and/or one
//!   owner and gives a half-open time window `[from, to)`. Which timestamp
//!   the window applies to is part of each KPI's definition (won time for
//!   revenue, creation time for the funnel cohort, …).
//! - **Money is exact and never mixed**: every money result is a
//!   [`Decimal`] grouped per [`Currency`] (`BTreeMap<Currency, _>`). Amounts
//!   in different currencies are only combined through a caller-given
//!   [`RateTable`]; a missing rate is a [`KpiError::MissingRate`], never a
//!   guess. Deals without an amount are counted where a count makes sense
//!   and left out of money figures.
//! - **Rounding**: sums are exact. Averages and medians of money are rounded
//!   once, at the end, to the currency's minor unit; rates and ratios to
//!   [`RATE_DP`] (4) decimal places; durations, given in days, to
//!   [`DAYS_DP`] (2) decimal places. Every rounding is half away from zero
//!   (commercial rounding, as [`Money::round_to_minor_units`]).
//! - **Medians**: the middle value of the sorted values; for an even count
//!   the mean of the two middle values (then rounded as above).
//! - **Rates** are `None` when their denominator is zero, never a made-up 0.
//! - **Order does not matter**: no result depends on the order of the input
//!   records; lists in results are sorted by a documented key.
//! - **Time zone**: calendar bucketing (revenue by period, new customers,
//!   purchase days) takes dates in a caller-given [`ReportZone`]: an IANA
//!   time zone (daylight saving time included) or a fixed UTC offset.
//!   Response times are measured in business hours of a
//!   [`BusinessCalendar`](crate::calendar::BusinessCalendar), which has a
//!   real IANA time zone (daylight saving time included).
//!
//! Module map: [`win_rate`], [`funnel`], [`deal_size`] (deal size and sales
//! cycle), [`velocity`], [`forecast`], [`revenue`], [`customer`] (new
//! customers, churn and retention, repeat purchases, the per-customer
//! purchase summary), [`clv`], [`rotting`], [`activity`], [`response`]
//! (first-response time of leads and SLA attainment, in business hours),
//! and [`report`] (the whole suite in one call).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use crm_core::kpi::{KpiFilter, win_rate::win_rate};
//!
//! let deals: Vec<crm_core::Deal> = Vec::new();
//! let filter = KpiFilter::default().window(
//!     Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
//!     Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
//! )?;
//! let r = win_rate(&deals, &filter);
//! assert_eq!((r.won, r.lost, r.rate), (0, 0, None));
//! # Ok::<(), crm_core::kpi::KpiError>(())
//! ```

pub mod activity;
pub mod clv;
pub mod customer;
pub mod deal_size;
pub mod forecast;
pub mod funnel;
pub mod report;
pub mod response;
pub mod revenue;
pub mod rotting;
pub mod velocity;
pub mod win_rate;

mod owner_map;
mod zone;

pub use zone::ReportZone;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod props;
#[cfg(test)]
mod response_tests;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::currency::Currency;
use crate::deal::Deal;
use crate::id::{DealId, PipelineId, UserId};
use crate::money::Money;
use crate::pipeline::StageKey;

/// Decimal places of rates and ratios (win rate, conversion, churn, …).
pub const RATE_DP: u32 = 4;
/// Decimal places of durations in days (cycle length, time in stage, …).
pub const DAYS_DP: u32 = 2;

const MS_PER_DAY: i64 = 86_400_000;

/// Why a KPI could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KpiError {
    /// Amounts in `from` were to be converted but the rate table has no rate for it.
    #[error(
        "the rate table has no rate from {from} to {to}: add one (amounts are never converted with a guessed rate)"
    )]
    MissingRate {
        /// The currency without a rate.
        from: Currency,
        /// The reporting currency.
        to: Currency,
    },
    /// A parameter is out of range (a window that ends before it starts, a
    /// non-positive rate, …).
    #[error("invalid KPI parameter {parameter} {value:?}: {reason}")]
    InvalidParameter {
        /// Which parameter.
        parameter: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A deal refers to a pipeline that was not given to the KPI.
    #[error("deal {deal} is in pipeline {pipeline}, which is not among the pipelines given")]
    UnknownPipeline {
        /// The deal.
        deal: DealId,
        /// Its pipeline.
        pipeline: PipelineId,
    },
    /// A deal sits in a stage its pipeline does not have.
    #[error("deal {deal} is in stage '{stage}', which its pipeline does not have")]
    UnknownStage {
        /// The deal.
        deal: DealId,
        /// The stage.
        stage: StageKey,
    },
    /// A sum or product does not fit in a `Decimal` (about 7.9e28). With
    /// every stored amount within [`MAX_AMOUNT`](crate::limits::MAX_AMOUNT)
    /// this needs records stored by an older version, or huge rates.
    #[error("{}", overflow_message(what, *currency))]
    Overflow {
        /// Which figure.
        what: &'static str,
        /// The currency of the figure, when it has one.
        currency: Option<Currency>,
    },
}

fn overflow_message(what: &str, currency: Option<Currency>) -> String {
    let max = crate::limits::MAX_AMOUNT;
    match currency {
        Some(c) => format!(
            "the {what} in {c} is too large to compute exactly (some {c} amount is far above the bound of {max})"
        ),
        None => format!("the {what} is too large to compute exactly"),
    }
}

pub(crate) fn overflow(what: &'static str) -> KpiError {
    KpiError::Overflow {
        what,
        currency: None,
    }
}

/// [`overflow`] of a figure in `currency`.
pub(crate) fn overflow_in(what: &'static str, currency: Currency) -> KpiError {
    KpiError::Overflow {
        what,
        currency: Some(currency),
    }
}

/// Which deals (or activities) a KPI looks at: a pipeline, an owner and a
/// half-open time window `[from, to)`. Unset parts do not restrict.
///
/// The window applies to the timestamp each KPI names in its definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct KpiFilter {
    /// Start of the window (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// End of the window (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Only deals in this pipeline.
    pub pipeline: Option<PipelineId>,
    /// Only records owned by this user.
    pub owner: Option<UserId>,
}

impl KpiFilter {
    /// Sets the window `[from, to)`; `from` must be before `to`.
    pub fn window(mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Self, KpiError> {
        self.from = Some(from);
        self.to = Some(to);
        self.check()?;
        Ok(self)
    }

    /// Restricts to one pipeline.
    pub fn pipeline(mut self, pipeline: PipelineId) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// Restricts to one owner.
    pub fn owner(mut self, owner: UserId) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Checks that the window is not empty or reversed.
    pub fn check(&self) -> Result<(), KpiError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(KpiError::InvalidParameter {
                parameter: "window",
                value: format!("{} .. {}", from.to_rfc3339(), to.to_rfc3339()),
                reason: "the window's start must be before its end".into(),
            });
        }
        Ok(())
    }

    /// True when `t` lies in `[from, to)`.
    pub fn in_window(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.to.is_none_or(|e| t < e)
    }

    /// True when the deal is in the pipeline and owned by the owner asked for.
    pub fn scopes(&self, deal: &Deal) -> bool {
        self.pipeline.is_none_or(|p| deal.pipeline == p)
            && self.owner.is_none_or(|o| deal.owner == Some(o))
    }
}

/// Results per currency, in currency-code order.
pub type PerCurrency<T> = BTreeMap<Currency, T>;

/// Rounds half away from zero to `dp` decimal places.
pub(crate) fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero)
}

/// Rounds to the currency's minor unit, half away from zero.
pub(crate) fn round_money(d: Decimal, currency: Currency) -> Decimal {
    round(d, currency.minor_units())
}

/// `num / den` rounded to [`RATE_DP`] places; `None` when `den` is 0.
///
/// ```
/// use crm_core::kpi::rate;
/// assert_eq!(rate(2, 3).unwrap().to_string(), "0.6667");
/// assert_eq!(rate(1, 0), None);
/// ```
pub fn rate(num: u64, den: u64) -> Option<Decimal> {
    (den != 0).then(|| round(exact_ratio(num, den), RATE_DP))
}

/// `num / den` unrounded (den must not be 0).
pub(crate) fn exact_ratio(num: u64, den: u64) -> Decimal {
    Decimal::from(num) / Decimal::from(den)
}

/// Milliseconds as days, exact.
pub(crate) fn ms_to_days(ms: i128) -> Result<Decimal, KpiError> {
    let d = Decimal::try_from_i128_with_scale(ms, 0).map_err(|_| overflow("duration"))?;
    Ok(d / Decimal::from(MS_PER_DAY))
}

/// Count, mean and median of durations, in days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DurationStats {
    /// How many durations.
    pub count: u64,
    /// Mean, in days, rounded to [`DAYS_DP`] places (`None` when `count` is 0).
    pub mean_days: Option<Decimal>,
    /// Median, in days, rounded to [`DAYS_DP`] places (`None` when `count` is 0).
    pub median_days: Option<Decimal>,
}

impl DurationStats {
    /// Stats over durations in milliseconds (the slice is sorted in place).
    pub(crate) fn from_millis(ms: &mut [i64]) -> Result<Self, KpiError> {
        if ms.is_empty() {
            return Ok(DurationStats::default());
        }
        ms.sort_unstable();
        let n = ms.len();
        let sum: i128 = ms.iter().map(|&m| i128::from(m)).sum();
        let mean = ms_to_days(sum)? / Decimal::from(n as u64);
        let mid = if n % 2 == 1 {
            ms_to_days(i128::from(ms[n / 2]))?
        } else {
            ms_to_days(i128::from(ms[n / 2 - 1]) + i128::from(ms[n / 2]))? / Decimal::TWO
        };
        Ok(DurationStats {
            count: n as u64,
            mean_days: Some(round(mean, DAYS_DP)),
            median_days: Some(round(mid, DAYS_DP)),
        })
    }
}

/// Count, total, mean and median of amounts in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AmountStats {
    /// How many amounts.
    pub count: u64,
    /// Their exact sum.
    pub total: Decimal,
    /// The mean, rounded to the currency's minor unit.
    pub mean: Decimal,
    /// The median, rounded to the currency's minor unit.
    pub median: Decimal,
}

impl AmountStats {
    /// Stats over a non-empty list of amounts (sorted in place).
    pub(crate) fn from_amounts(
        currency: Currency,
        amounts: &mut [Decimal],
    ) -> Result<Self, KpiError> {
        amounts.sort_unstable();
        let n = amounts.len();
        let total = checked_sum(amounts.iter().copied(), "total amount")
            .map_err(|_| overflow_in("total amount", currency))?;
        if n == 0 {
            return Ok(AmountStats::default());
        }
        let mean = total / Decimal::from(n as u64);
        let mid = if n % 2 == 1 {
            amounts[n / 2]
        } else {
            amounts[n / 2 - 1]
                .checked_add(amounts[n / 2])
                .ok_or_else(|| overflow_in("median amount", currency))?
                / Decimal::TWO
        };
        Ok(AmountStats {
            count: n as u64,
            total,
            mean: round_money(mean, currency),
            median: round_money(mid, currency),
        })
    }
}

/// Sums decimals, failing instead of overflowing.
pub(crate) fn checked_sum(
    items: impl IntoIterator<Item = Decimal>,
    what: &'static str,
) -> Result<Decimal, KpiError> {
    items.into_iter().try_fold(Decimal::ZERO, |acc, d| {
        acc.checked_add(d).ok_or_else(|| overflow(what))
    })
}

/// Adds `amount` to `map[currency]`.
pub(crate) fn add_to(
    map: &mut PerCurrency<Decimal>,
    m: &Money,
    what: &'static str,
) -> Result<(), KpiError> {
    let slot = map.entry(m.currency).or_default();
    *slot = slot
        .checked_add(m.amount)
        .ok_or_else(|| overflow_in(what, m.currency))?;
    Ok(())
}

/// Exchange rates into one reporting currency, given by the caller.
///
/// A rate says how many units of the reporting currency one unit of
/// another currency is worth. The reporting currency converts to itself at
/// 1 without an entry. Converting an amount multiplies exactly and rounds
/// the result once to the reporting currency's minor unit; converting a
/// per-currency total converts each currency exactly, adds, and rounds the
/// sum once.
///
/// ```
/// use crm_core::{Currency, Money};
/// use crm_core::kpi::RateTable;
/// use rust_decimal::Decimal;
///
/// let rates = RateTable::new(Currency::EUR).with_rate(Currency::USD, Decimal::new(92, 2))?;
/// let eur = rates.convert(&Money::parse("10.01", "USD").unwrap())?;
/// assert_eq!(eur, Money::parse("9.21", "EUR").unwrap()); // 9.2092 rounded
/// assert!(rates.convert(&Money::parse("1", "GBP").unwrap()).is_err());
/// # Ok::<(), crm_core::kpi::KpiError>(())
/// ```
///
/// In JSON `{"reporting", "rates": {"USD": "0.92", ...}}`, each rate
/// checked as by [`RateTable::with_rate`] when read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "RateTableJson", into = "RateTableJson")]
pub struct RateTable {
    reporting: Currency,
    rates: BTreeMap<Currency, Decimal>,
}

/// The JSON form of [`RateTable`], before its checks.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RateTableJson {
    reporting: Currency,
    rates: BTreeMap<Currency, Decimal>,
}

impl TryFrom<RateTableJson> for RateTable {
    type Error = KpiError;

    fn try_from(j: RateTableJson) -> Result<Self, KpiError> {
        j.rates
            .into_iter()
            .try_fold(RateTable::new(j.reporting), |t, (from, rate)| {
                t.with_rate(from, rate)
            })
    }
}

impl From<RateTable> for RateTableJson {
    fn from(t: RateTable) -> Self {
        RateTableJson {
            reporting: t.reporting,
            rates: t.rates,
        }
    }
}

impl RateTable {
    /// An empty table converting into `reporting`.
    pub fn new(reporting: Currency) -> Self {
        RateTable {
            reporting,
            rates: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) the rate from `from` into the reporting currency;
    /// the rate must be positive.
    pub fn with_rate(mut self, from: Currency, rate: Decimal) -> Result<Self, KpiError> {
        if rate <= Decimal::ZERO {
            return Err(KpiError::InvalidParameter {
                parameter: "rate",
                value: format!("{from}->{}: {rate}", self.reporting),
                reason: "an exchange rate must be greater than zero".into(),
            });
        }
        self.rates.insert(from, rate);
        Ok(self)
    }

    /// The reporting currency.
    pub fn reporting(&self) -> Currency {
        self.reporting
    }

    /// The rate from `from` into the reporting currency.
    pub fn rate(&self, from: Currency) -> Result<Decimal, KpiError> {
        if from == self.reporting {
            return Ok(Decimal::ONE);
        }
        self.rates.get(&from).copied().ok_or(KpiError::MissingRate {
            from,
            to: self.reporting,
        })
    }

    fn exact(&self, amount: Decimal, from: Currency) -> Result<Decimal, KpiError> {
        amount
            .checked_mul(self.rate(from)?)
            .ok_or_else(|| overflow_in("converted amount", from))
    }

    /// `money` in the reporting currency, rounded to its minor unit.
    pub fn convert(&self, money: &Money) -> Result<Money, KpiError> {
        let exact = self.exact(money.amount, money.currency)?;
        Ok(Money::new(
            round_money(exact, self.reporting),
            self.reporting,
        ))
    }

    /// The sum of per-currency amounts in the reporting currency: each
    /// converted exactly, added, rounded once.
    pub fn convert_total(&self, totals: &PerCurrency<Decimal>) -> Result<Money, KpiError> {
        let mut sum = Decimal::ZERO;
        for (c, a) in totals {
            sum = sum
                .checked_add(self.exact(*a, *c)?)
                .ok_or_else(|| overflow_in("converted total", self.reporting))?;
        }
        Ok(Money::new(round_money(sum, self.reporting), self.reporting))
    }
}

/// A calendar period for bucketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A calendar quarter (January, April, July, October).
    Quarter,
    /// A calendar year.
    Year,
}

impl Period {
    /// The first day of the period containing `date` (the bucket key).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use crm_core::kpi::Period;
    /// let d = NaiveDate::from_ymd_opt(2026, 8, 20).unwrap(); // a Thursday
    /// assert_eq!(Period::Week.start_of(d), NaiveDate::from_ymd_opt(2026, 8, 17).unwrap());
    /// assert_eq!(Period::Quarter.start_of(d), NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
    /// ```
    pub fn start_of(&self, date: NaiveDate) -> NaiveDate {
        let ymd = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(date);
        match self {
            Period::Day => date,
            Period::Week => {
                let back = u64::from(date.weekday().num_days_from_monday());
                date.checked_sub_days(chrono::Days::new(back))
                    .unwrap_or(date)
            }
            Period::Month => ymd(date.year(), date.month(), 1),
            Period::Quarter => ymd(date.year(), (date.month() - 1) / 3 * 3 + 1, 1),
            Period::Year => ymd(date.year(), 1, 1),
        }
    }

    /// `day`, `week`, `month`, `quarter` or `year`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The calendar date of `t` in `zone`.
pub fn local_date(t: DateTime<Utc>, zone: ReportZone) -> NaiveDate {
    zone.date(t)
}

/// Owner key used in per-owner breakdowns (`None` = deals without owner).
pub type OwnerKey = Option<UserId>;

#[cfg(test)]
mod rate_table_tests {
    use super::*;

    /// A rate table read from JSON is checked as `with_rate` checks: a
    /// zero or negative rate (which made every converted total 0 or
    /// negative) is refused.
    #[test]
    fn rates_read_from_json_are_positive() {
        let t = RateTable::new(Currency::EUR)
            .with_rate(Currency::USD, Decimal::new(92, 2))
            .expect("rate");
        let text = serde_json::to_string(&t).expect("json");
        assert_eq!(text, r#"{"reporting":"EUR","rates":{"USD":"0.92"}}"#);
        assert_eq!(serde_json::from_str::<RateTable>(&text).expect("back"), t);
        for bad in ["0", "-0.92"] {
            let text = format!(r#"{{"reporting":"EUR","rates":{{"USD":"{bad}"}}}}"#);
            let err = serde_json::from_str::<RateTable>(&text).expect_err(bad);
            assert!(err.to_string().contains("greater than zero"), "{err}");
        }
    }
}
