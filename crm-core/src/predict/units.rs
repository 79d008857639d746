//! Time units carried in the type: a [`Span<U>`] is a duration in unit
//! `U` ([`Day`], [`Week`] or [`Month`]), and converting between units is an
//! explicit [`Span::to`]. Models are generic over the unit of the data they
//! were fitted on, so a weekly model cannot be scored with days.
//!
//! ```
//! use crm_core::predict::units::{Day, Month, Span, Week};
//!
//! let year = Span::<Month>::new(12.0)?;
//! let weeks: Span<Week> = year.to();
//! assert!((weeks.value() - 365.25 / 7.0).abs() < 1e-12);
//! assert_eq!(Span::<Week>::new(2.0)?.to::<Day>().value(), 14.0);
//! # Ok::<(), crm_core::predict::PredictError>(())
//! ```

use std::fmt;
use std::marker::PhantomData;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{PredictError, invalid};
use crate::kpi::customer::PurchaseSummary;

mod sealed {
    pub trait Sealed {}
}

/// A unit of time: one of [`Day`], [`Week`], [`Month`].
pub trait TimeUnit:
    sealed::Sealed + Copy + fmt::Debug + Default + PartialEq + Send + Sync + 'static
{
    /// The unit's length in days.
    const DAYS: f64;
    /// The unit's name, for messages.
    const NAME: &'static str;
    /// The unit's one-letter abbreviation (`d`, `w`, `m`), as in the
    /// names of score fields such as `clv_12m`.
    const SHORT: &'static str;
}

/// A day (the unit of [`PurchaseSummary`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Day;
/// A week: 7 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Week;
/// A month: the mean Gregorian month, 365.25 / 12 = 30.4375 days (so 12
/// months are a year of 365.25 days; `lifetimes` uses 30 days or 4.345
/// weeks, which differ by up to 1.5 %).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Month;

impl sealed::Sealed for Day {}
impl sealed::Sealed for Week {}
impl sealed::Sealed for Month {}
impl TimeUnit for Day {
    const DAYS: f64 = 1.0;
    const NAME: &'static str = "days";
    const SHORT: &'static str = "d";
}
impl TimeUnit for Week {
    const DAYS: f64 = 7.0;
    const NAME: &'static str = "weeks";
    const SHORT: &'static str = "w";
}
impl TimeUnit for Month {
    const DAYS: f64 = 365.25 / 12.0;
    const NAME: &'static str = "months";
    const SHORT: &'static str = "m";
}

/// A non-negative, finite duration in unit `U`. In JSON a number, checked
/// as by [`Span::new`] when read.
#[derive(Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "f64", into = "f64", bound = "U: TimeUnit")]
pub struct Span<U> {
    value: f64,
    unit: PhantomData<U>,
}

impl<U: TimeUnit> TryFrom<f64> for Span<U> {
    type Error = PredictError;

    fn try_from(value: f64) -> Result<Self, PredictError> {
        Span::new(value)
    }
}

impl<U> From<Span<U>> for f64 {
    fn from(s: Span<U>) -> f64 {
        s.value
    }
}

impl<U: TimeUnit> Span<U> {
    /// A span of `value` units; refused unless finite and non-negative.
    pub fn new(value: f64) -> Result<Self, PredictError> {
        if !value.is_finite() || value < 0.0 {
            return Err(invalid(
                "time span",
                format!("{value} {}", U::NAME),
                "must be finite and not negative",
            ));
        }
        Ok(Span::raw(value))
    }

    pub(crate) fn raw(value: f64) -> Self {
        Span {
            value,
            unit: PhantomData,
        }
    }

    /// The length in units `U`.
    pub fn value(self) -> f64 {
        self.value
    }

    /// The same duration in unit `V` (the one way to change units).
    pub fn to<V: TimeUnit>(self) -> Span<V> {
        Span::raw(self.value * U::DAYS / V::DAYS)
    }
}

impl<U: TimeUnit> fmt::Debug for Span<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value, U::NAME)
    }
}

/// One customer's purchase history as the models see it, in unit `U`:
/// frequency `x` (repeat purchases), recency `t_x` (first to last
/// purchase), age `T` (first purchase to the end of observation) and the
/// mean value of the repeat purchases.
///
/// In JSON an object of the four fields, checked as by [`Rfm::new`] when
/// read.
#[derive(Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "RfmJson<U>", into = "RfmJson<U>", bound = "")]
pub struct Rfm<U: TimeUnit> {
    frequency: u32,
    recency: Span<U>,
    age: Span<U>,
    monetary: Decimal,
}

/// The JSON form of an [`Rfm`], before its checks.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, bound = "")]
struct RfmJson<U: TimeUnit> {
    frequency: u32,
    recency: Span<U>,
    age: Span<U>,
    monetary: Decimal,
}

impl<U: TimeUnit> TryFrom<RfmJson<U>> for Rfm<U> {
    type Error = PredictError;

    fn try_from(j: RfmJson<U>) -> Result<Self, PredictError> {
        Rfm::new(j.frequency, j.recency, j.age, j.monetary)
    }
}

impl<U: TimeUnit> From<Rfm<U>> for RfmJson<U> {
    fn from(r: Rfm<U>) -> Self {
        RfmJson {
            frequency: r.frequency,
            recency: r.recency,
            age: r.age,
            monetary: r.monetary,
        }
    }
}

impl<U: TimeUnit> fmt::Debug for Rfm<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rfm")
            .field("frequency", &self.frequency)
            .field("recency", &self.recency)
            .field("age", &self.age)
            .field("monetary", &self.monetary)
            .finish()
    }
}

impl<U: TimeUnit> Rfm<U> {
    /// A purchase history; refused when `recency > age`, when a customer
    /// without repeat purchases has a positive recency, or when the
    /// monetary value is negative.
    pub fn new(
        frequency: u32,
        recency: Span<U>,
        age: Span<U>,
        monetary: Decimal,
    ) -> Result<Self, PredictError> {
        if recency.value() > age.value() {
            return Err(invalid(
                "recency",
                format!("{:?} with age {:?}", recency, age),
                "the last purchase cannot be after the end of observation",
            ));
        }
        if frequency == 0 && recency.value() > 0.0 {
            return Err(invalid(
                "recency",
                format!("{recency:?} with frequency 0"),
                "a customer without repeat purchases has recency 0",
            ));
        }
        if monetary.is_sign_negative() && !monetary.is_zero() {
            return Err(invalid("monetary value", monetary, "must not be negative"));
        }
        Ok(Rfm {
            frequency,
            recency,
            age,
            monetary,
        })
    }

    /// From a KPI purchase summary (in days), converted to unit `U`.
    pub fn from_summary(s: &PurchaseSummary) -> Result<Self, PredictError> {
        Rfm::new(
            s.frequency,
            Span::<Day>::new(f64::from(s.recency))?.to(),
            Span::<Day>::new(f64::from(s.t))?.to(),
            s.monetary_value,
        )
    }

    /// Repeat purchases (`x`).
    pub fn frequency(&self) -> u32 {
        self.frequency
    }
    /// First to last purchase (`t_x`).
    pub fn recency(&self) -> Span<U> {
        self.recency
    }
    /// First purchase to the end of observation (`T`).
    pub fn age(&self) -> Span<U> {
        self.age
    }
    /// Mean value of the repeat purchases.
    pub fn monetary(&self) -> Decimal {
        self.monetary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact_ratios_of_days() {
        assert_eq!(Span::<Day>::new(14.0).unwrap().to::<Week>().value(), 2.0);
        assert_eq!(
            Span::<Month>::new(1.0).unwrap().to::<Day>().value(),
            30.4375
        );
        let w = Span::<Month>::new(12.0).unwrap().to::<Week>().value();
        assert!((w - 52.178_571_428_571_43).abs() < 1e-12, "{w}");
    }

    #[test]
    fn bad_spans_and_histories_are_refused() {
        assert!(Span::<Day>::new(-1.0).is_err());
        assert!(Span::<Day>::new(f64::NAN).is_err());
        assert!(Span::<Day>::new(f64::INFINITY).is_err());
        let d = |v| Span::<Day>::new(v).unwrap();
        assert!(Rfm::new(1, d(5.0), d(4.0), Decimal::ONE).is_err());
        assert!(Rfm::new(0, d(1.0), d(4.0), Decimal::ZERO).is_err());
        assert!(Rfm::new(1, d(1.0), d(4.0), Decimal::NEGATIVE_ONE).is_err());
        assert!(Rfm::new(1, d(4.0), d(4.0), Decimal::ONE).is_ok());
    }
}
