//! What the facade fits and scores on: which purchases (a KPI filter, an
//! observation end, the UTC offset of purchase days, one currency), and
//! the per-customer scores it returns, with money as exact [`Money`].

use chrono::{DateTime, FixedOffset, Offset, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};

use super::PredictError;
use super::score::Scores;
use crate::currency::Currency;
use crate::id::CustomerId;
use crate::kpi::KpiFilter;
use crate::money::Money;

/// The purchases a model is fitted on or scores are computed from: won
/// deals in the filter's scope, summarised per customer up to
/// `end` (purchase days at `offset`; see
/// [`PurchaseSummary`](crate::kpi::customer::PurchaseSummary)), in one
/// currency (spend cannot be mixed across currencies, and a customer's
/// purchases in another currency are another history).
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Which deals (pipeline, owner, window on `won_at`).
    pub filter: KpiFilter,
    /// The end of observation.
    pub end: DateTime<Utc>,
    /// The UTC offset at which purchase days are taken.
    pub offset: FixedOffset,
    /// The currency of the purchases.
    pub currency: Currency,
}

impl Observation {
    /// All won deals in `currency` until `end`, purchase days in UTC.
    pub fn new(end: DateTime<Utc>, currency: Currency) -> Self {
        Observation {
            filter: KpiFilter::default(),
            end,
            offset: Utc.fix(),
            currency,
        }
    }
}

/// One customer's scores, money rounded to the currency's minor unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerScores {
    /// The customer.
    pub customer: CustomerId,
    /// P(alive).
    pub p_alive: f64,
    /// Expected purchases over the CLV horizon.
    pub expected_purchases: f64,
    /// Expected average spend per purchase (with a spend model).
    pub expected_spend: Option<Money>,
    /// CLV over the horizon (with a spend model).
    pub clv: Option<Money>,
}

impl CustomerScores {
    pub(crate) fn new(
        customer: CustomerId,
        currency: Currency,
        s: &Scores,
    ) -> Result<Self, PredictError> {
        let money = |what: &'static str, v: Option<f64>| -> Result<Option<Money>, PredictError> {
            v.map(|v| {
                Decimal::from_f64(v)
                    .map(|amount| Money { amount, currency }.round_to_minor_units())
                    .ok_or(PredictError::Undefined {
                        what,
                        reason: format!("{v} does not fit in a decimal amount"),
                    })
            })
            .transpose()
        };
        Ok(CustomerScores {
            customer,
            p_alive: s.p_alive,
            expected_purchases: s.expected_purchases,
            expected_spend: money("the expected average spend", s.expected_spend)?,
            clv: money("the CLV", s.clv)?,
        })
    }
}
