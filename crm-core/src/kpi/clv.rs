//! Historical customer lifetime value.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::customer::PurchaseSummary;
use super::{KpiError, PerCurrency, RATE_DP, overflow_in, round, round_money};
use crate::currency::Currency;
use crate::id::CustomerId;

/// The assumptions of the historical CLV formula.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClvParams {
    /// Length of one period in days (365: purchase frequency per year).
    pub period_days: u32,
    /// How many periods a customer is expected to stay (for example
    /// 1 ÷ yearly churn rate). Must be positive.
    pub expected_lifetime_periods: Decimal,
}

impl Default for ClvParams {
    /// Yearly frequency and an expected lifetime of 3 years.
    fn default() -> Self {
        ClvParams {
            period_days: 365,
            expected_lifetime_periods: Decimal::from(3),
        }
    }
}

/// One customer's historical CLV in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerClv {
    /// The customer.
    pub customer: CustomerId,
    /// The currency.
    pub currency: Currency,
    /// Purchases (distinct purchase days) observed.
    pub purchases: u32,
    /// Total ÷ purchases, minor units (display only).
    pub average_purchase_value: Decimal,
    /// Purchases ÷ observed periods, 4 places (display only).
    pub purchases_per_period: Decimal,
    /// The CLV, rounded to the minor unit.
    pub clv: Decimal,
}

/// CLV per customer and the average per currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Clv {
    /// One entry per customer and currency, sorted like the summaries.
    pub customers: Vec<CustomerClv>,
    /// Per currency, the mean of the customers' (rounded) CLVs, rounded to
    /// the minor unit.
    pub average: PerCurrency<Decimal>,
}

/// **Historical CLV** = average purchase value × purchase frequency per
/// period × expected lifetime (in periods), per customer and currency,
/// from the purchase summaries:
///
/// - purchases `n` = frequency + 1 (distinct purchase days);
/// - average purchase value = total ÷ n;
/// - observed periods = max(T, period_days) ÷ period_days (at least one
///   period, so a customer first seen last week is not extrapolated from a
///   few days);
/// - purchase frequency = n ÷ observed periods;
/// - CLV = average purchase value × purchase frequency × expected lifetime,
///   which is total × expected lifetime ÷ observed periods, computed
///   exactly and rounded once to the minor unit.
///
/// The average per currency is the mean of the rounded per-customer CLVs,
/// rounded to the minor unit. No margin or discounting is applied.
pub fn historical_clv(summaries: &[PurchaseSummary], params: &ClvParams) -> Result<Clv, KpiError> {
    if params.period_days == 0 {
        return Err(KpiError::InvalidParameter {
            parameter: "period_days",
            value: "0".into(),
            reason: "a period is at least one day long".into(),
        });
    }
    if params.expected_lifetime_periods <= Decimal::ZERO {
        return Err(KpiError::InvalidParameter {
            parameter: "expected_lifetime_periods",
            value: params.expected_lifetime_periods.to_string(),
            reason: "the expected lifetime must be positive".into(),
        });
    }
    let period = Decimal::from(params.period_days);
    let mut out = Clv::default();
    let mut sums: PerCurrency<(Decimal, u64)> = PerCurrency::new();
    for s in summaries {
        let n = Decimal::from(s.frequency) + Decimal::ONE;
        let periods = Decimal::from(s.t.max(params.period_days)) / period;
        let clv = s
            .total
            .checked_mul(params.expected_lifetime_periods)
            .ok_or_else(|| overflow_in("CLV", s.currency))?
            .checked_div(periods)
            .ok_or_else(|| overflow_in("CLV", s.currency))?;
        let clv = round_money(clv, s.currency);
        let e = sums.entry(s.currency).or_default();
        e.0 =
            e.0.checked_add(clv)
                .ok_or_else(|| overflow_in("average CLV", s.currency))?;
        e.1 += 1;
        out.customers.push(CustomerClv {
            customer: s.customer,
            currency: s.currency,
            purchases: s.frequency + 1,
            average_purchase_value: round_money(s.total / n, s.currency),
            purchases_per_period: round(n / periods, RATE_DP),
            clv,
        });
    }
    out.average = sums
        .into_iter()
        .map(|(c, (sum, k))| (c, round_money(sum / Decimal::from(k), c)))
        .collect();
    Ok(out)
}
