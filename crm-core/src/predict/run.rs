//! A model run that writes its scores back to the customers, so that
//! segments can filter on them (`field.p_alive < 0.3 and field.clv_12m > 500`):
//! what to fit ([`ScoreRun`]), which custom fields hold the scores
//! ([`ScoreFields`]) and what the run did ([`ScoreRunReport`]). The facade
//! call is [`Session::write_scores`](crate::Session::write_scores).
//!
//! # The score fields
//!
//! Four decimal custom fields on customers, named after the CLV horizon
//! (`<n><unit>`: `12m` for 12 months, `26w` for 26 weeks, `90d` for 90
//! days):
//!
//! | key | value |
//! | --- | --- |
//! | `p_alive` | P(alive) at the end of observation, 6 decimals |
//! | `expected_purchases_<h>` | expected purchases over the horizon, 4 decimals |
//! | `expected_spend` | expected average spend per purchase, in the run's currency, rounded to its minor unit |
//! | `clv_<h>` | discounted CLV over the horizon, in the run's currency, rounded to its minor unit |
//!
//! Money is stored as a plain decimal (the currency is in the field's
//! label and in the run's event) so that a segment can compare it with a
//! number.
//!
//! ```
//! use crm_core::predict::{ClvOptions, Month, ScoreFields, Span};
//!
//! let year = ClvOptions::new(Span::<Month>::new(12.0)?, Span::<Month>::new(1.0)?, 0.01)?;
//! let f = ScoreFields::for_horizon(&year)?;
//! assert_eq!(f.keys(), ["p_alive", "expected_purchases_12m", "expected_spend", "clv_12m"]);
//! # Ok::<(), crm_core::predict::PredictError>(())
//! ```

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::bgnbd::{BgNbdFit, FitOptions};
use super::gamma_gamma::GammaGammaFit;
use super::observation::CustomerScores;
use super::score::ClvOptions;
use super::units::TimeUnit;
use super::{PredictError, invalid};
use crate::currency::Currency;
use crate::custom_field::{CustomValue, FieldDef, FieldType};

/// What a run fits and scores: BG/NBD options, the Gamma-Gamma L2
/// penalty, and the CLV horizon, discount period and rate in calendar
/// unit `C`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(bound = "")]
pub struct ScoreRun<C: TimeUnit> {
    /// Options of the BG/NBD fit.
    pub fit: FitOptions,
    /// L2 penalty of the Gamma-Gamma fit (0: plain maximum likelihood).
    pub spend_l2_penalty: f64,
    /// The CLV horizon (which also names the fields) and discounting.
    pub clv: ClvOptions<C>,
}

impl<C: TimeUnit> ScoreRun<C> {
    /// Plain maximum-likelihood fits and the given CLV options.
    pub fn new(clv: ClvOptions<C>) -> Self {
        ScoreRun {
            fit: FitOptions::default(),
            spend_l2_penalty: 0.0,
            clv,
        }
    }
}

/// The custom-field keys a run writes (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScoreFields {
    /// P(alive).
    pub p_alive: String,
    /// Expected purchases over the horizon.
    pub expected_purchases: String,
    /// Expected average spend per purchase.
    pub expected_spend: String,
    /// CLV over the horizon.
    pub clv: String,
    /// The horizon as said in labels, such as "12 months".
    pub horizon: String,
}

/// The most units a horizon may have to name fields (`clv_1000000d`).
const MAX_HORIZON: f64 = 1_000_000.0;

impl ScoreFields {
    /// The keys for a CLV horizon of a whole number of units `C`;
    /// refused for a fractional horizon (it could not name a field).
    pub fn for_horizon<C: TimeUnit>(clv: &ClvOptions<C>) -> Result<Self, PredictError> {
        let h = clv.horizon().value();
        if h.fract() != 0.0 || !(1.0..=MAX_HORIZON).contains(&h) {
            return Err(invalid(
                "horizon",
                format!("{:?}", clv.horizon()),
                "scores written to fields need a whole number of units (from 1 to 1000000) to name them, such as 12 months (clv_12m)",
            ));
        }
        // A whole number up to 10^6: exact as an integer.
        let n = h as u64;
        let suffix = format!("{n}{}", C::SHORT);
        Ok(ScoreFields {
            p_alive: "p_alive".into(),
            expected_purchases: format!("expected_purchases_{suffix}"),
            expected_spend: "expected_spend".into(),
            clv: format!("clv_{suffix}"),
            horizon: format!("{n} {}", C::NAME),
        })
    }

    /// The four keys: P(alive), expected purchases, expected spend, CLV.
    pub fn keys(&self) -> [&str; 4] {
        [
            &self.p_alive,
            &self.expected_purchases,
            &self.expected_spend,
            &self.clv,
        ]
    }

    /// The field definitions (optional decimal fields) for scores in
    /// `currency`.
    pub fn definitions(&self, currency: Currency) -> Vec<FieldDef> {
        vec![
            FieldDef::new(
                &self.p_alive,
                "Probability alive (BG/NBD)",
                FieldType::Decimal,
            ),
            FieldDef::new(
                &self.expected_purchases,
                format!("Expected purchases, next {} (BG/NBD)", self.horizon),
                FieldType::Decimal,
            ),
            FieldDef::new(
                &self.expected_spend,
                format!("Expected average spend, {currency} (Gamma-Gamma)"),
                FieldType::Decimal,
            ),
            FieldDef::new(
                &self.clv,
                format!("CLV, next {}, {currency}", self.horizon),
                FieldType::Decimal,
            ),
        ]
    }

    /// One customer's values under these keys.
    pub fn values(&self, s: &CustomerScores) -> Result<Vec<(String, CustomValue)>, PredictError> {
        let dec = |what: &'static str, v: f64, dp: u32| {
            Decimal::from_f64(v)
                .map(|d| CustomValue::Decimal(d.round_dp(dp).normalize()))
                .ok_or(PredictError::Undefined {
                    what,
                    reason: format!("{v} is not a decimal number"),
                })
        };
        let mut out = vec![
            (self.p_alive.clone(), dec("P(alive)", s.p_alive, 6)?),
            (
                self.expected_purchases.clone(),
                dec("the expected purchases", s.expected_purchases, 4)?,
            ),
        ];
        if let Some(m) = &s.expected_spend {
            out.push((self.expected_spend.clone(), CustomValue::Decimal(m.amount)));
        }
        if let Some(m) = &s.clv {
            out.push((self.clv.clone(), CustomValue::Decimal(m.amount)));
        }
        Ok(out)
    }
}

/// What a run did: the fits, the fields, and how many customers it wrote
/// or left alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(bound = "")]
pub struct ScoreRunReport<U: TimeUnit> {
    /// The run's id (the entity of its event, of kind `model_run`).
    pub run: Uuid,
    /// The sequence number of the run's one event.
    pub event_seq: u64,
    /// The purchase model.
    pub purchases: BgNbdFit<U>,
    /// The spend model.
    pub spend: GammaGammaFit,
    /// The keys written.
    pub fields: ScoreFields,
    /// The keys this run added to the customer field schema (empty when
    /// they were all defined).
    pub defined_fields: Vec<String>,
    /// Customers whose scores were written (their versions bumped).
    pub written: usize,
    /// Customers with purchases the actor may see but whose record it may
    /// not read: neither read nor written.
    pub out_of_scope: usize,
    /// Customers the actor may read but not change: not written.
    pub not_writable: usize,
    /// Customers merged into another (their purchases moved there): not
    /// written.
    pub merged: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::{Day, Month, Span, Week};

    #[test]
    fn keys_follow_the_horizon_and_fractions_are_refused() {
        let clv = |h: f64, p: f64| {
            ClvOptions::new(Span::<Week>::new(h).unwrap(), Span::new(p).unwrap(), 0.0).unwrap()
        };
        let f = ScoreFields::for_horizon(&clv(26.0, 1.0)).unwrap();
        assert_eq!(
            f.keys(),
            [
                "p_alive",
                "expected_purchases_26w",
                "expected_spend",
                "clv_26w"
            ]
        );
        assert_eq!(f.horizon, "26 weeks");
        let d = ClvOptions::new(
            Span::<Day>::new(90.0).unwrap(),
            Span::new(30.0).unwrap(),
            0.0,
        )
        .unwrap();
        assert_eq!(ScoreFields::for_horizon(&d).unwrap().clv, "clv_90d");
        let half = ClvOptions::new(
            Span::<Month>::new(1.5).unwrap(),
            Span::new(0.5).unwrap(),
            0.0,
        )
        .unwrap();
        assert!(matches!(
            ScoreFields::for_horizon(&half),
            Err(PredictError::InvalidInput {
                field: "horizon",
                ..
            })
        ));
        // Every key is a valid custom-field key.
        crate::custom_field::validate_defs(
            crate::EntityKind::Customer,
            &f.definitions(Currency::EUR),
        )
        .unwrap();
    }

    #[test]
    fn values_are_rounded_decimals() {
        let f = ScoreFields::for_horizon(
            &ClvOptions::new(
                Span::<Month>::new(12.0).unwrap(),
                Span::new(1.0).unwrap(),
                0.01,
            )
            .unwrap(),
        )
        .unwrap();
        let eur = |s: &str| crate::Money::parse(s, "EUR").unwrap();
        let s = CustomerScores {
            customer: crate::CustomerId::from_uuid(Uuid::nil()),
            p_alive: 0.726_578_570_080_673,
            expected_purchases: 1.226_028_174_767_144,
            expected_spend: Some(eur("24.65")),
            clv: Some(eur("39.51")),
        };
        let d = |s: &str| CustomValue::Decimal(s.parse().unwrap());
        assert_eq!(
            f.values(&s).unwrap(),
            vec![
                ("p_alive".to_string(), d("0.726579")),
                ("expected_purchases_12m".to_string(), d("1.226")),
                ("expected_spend".to_string(), d("24.65")),
                ("clv_12m".to_string(), d("39.51")),
            ]
        );
    }
}
