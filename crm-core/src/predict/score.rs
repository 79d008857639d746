//! Scores of one customer under fitted models: probability alive,
//! expected purchases, probability of n purchases, expected average
//! spend, and CLV (formulas and sources in the [module docs](super)).
//!
//! ```
//! use crm_core::predict::{BgNbd, ClvOptions, GammaGamma, Month, Rfm, Span, Week};
//! use rust_decimal::Decimal;
//!
//! // The published CDNOW parameters (weekly data).
//! let bg = BgNbd::<Week>::new(0.243, 4.414, 0.793, 2.426)?;
//! let w = |v: f64| Span::<Week>::new(v).unwrap();
//! let c = Rfm::new(2, w(30.43), w(38.86), Decimal::new(2500, 2))?;
//! let next_39_weeks = bg.expected_purchases(&c, w(39.0))?;
//! assert!((next_39_weeks - 1.226).abs() < 1e-3);
//!
//! // CLV over 12 months in monthly discount steps: the months are
//! // converted to weeks explicitly inside, never taken as weeks.
//! let gg = GammaGamma::new(6.25, 3.74, 15.44)?;
//! let year = ClvOptions::new(Span::<Month>::new(12.0)?, Span::<Month>::new(1.0)?, 0.01)?;
//! let clv = bg.clv(&gg, &c, &year)?;
//! assert!(clv > 0.0);
//! # Ok::<(), crm_core::predict::PredictError>(())
//! ```

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::bgnbd::BgNbd;
use super::gamma_gamma::GammaGamma;
use super::special::{ln_beta, ln_gamma, series};
use super::units::{Rfm, Span, TimeUnit};
use super::{PredictError, invalid};

/// The most discount periods in a CLV horizon.
pub const MAX_CLV_PERIODS: u32 = 10_000;

/// A CLV horizon and discount period in calendar unit `C`, and the
/// discount rate per period.
///
/// In JSON `{"horizon", "discount_period", "discount_rate", "periods"?}`,
/// checked as by [`ClvOptions::new`] when read (`periods`, written for
/// readers, must then be horizon ÷ discount period).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "ClvJson<C>", into = "ClvJson<C>", bound = "")]
pub struct ClvOptions<C: TimeUnit> {
    horizon: Span<C>,
    discount_period: Span<C>,
    discount_rate: f64,
    periods: u32,
}

/// The JSON form of [`ClvOptions`], before its checks.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, bound = "")]
struct ClvJson<C: TimeUnit> {
    horizon: Span<C>,
    discount_period: Span<C>,
    discount_rate: f64,
    #[serde(default)]
    periods: Option<u32>,
}

impl<C: TimeUnit> TryFrom<ClvJson<C>> for ClvOptions<C> {
    type Error = PredictError;

    fn try_from(j: ClvJson<C>) -> Result<Self, PredictError> {
        let options = ClvOptions::new(j.horizon, j.discount_period, j.discount_rate)?;
        match j.periods {
            Some(p) if p != options.periods => Err(invalid(
                "periods",
                p,
                &format!(
                    "must be the horizon divided by the discount period ({})",
                    options.periods
                ),
            )),
            _ => Ok(options),
        }
    }
}

impl<C: TimeUnit> From<ClvOptions<C>> for ClvJson<C> {
    fn from(o: ClvOptions<C>) -> Self {
        ClvJson {
            horizon: o.horizon,
            discount_period: o.discount_period,
            discount_rate: o.discount_rate,
            periods: Some(o.periods),
        }
    }
}

impl<C: TimeUnit> ClvOptions<C> {
    /// CLV over `horizon`, discounted at `discount_rate` per
    /// `discount_period` (e.g. 12 months at 0.01 per month). The horizon
    /// must be a whole number (≥ 1, ≤ [`MAX_CLV_PERIODS`]) of periods and
    /// the rate finite and above −1.
    pub fn new(
        horizon: Span<C>,
        discount_period: Span<C>,
        discount_rate: f64,
    ) -> Result<Self, PredictError> {
        if !discount_rate.is_finite() || discount_rate <= -1.0 {
            return Err(invalid(
                "discount_rate",
                discount_rate,
                "must be finite and greater than -1",
            ));
        }
        if discount_period.value() <= 0.0 {
            return Err(invalid(
                "discount_period",
                format!("{discount_period:?}"),
                "must be positive",
            ));
        }
        let ratio = horizon.value() / discount_period.value();
        let periods = ratio.round();
        if !(1.0..=f64::from(MAX_CLV_PERIODS)).contains(&periods)
            || (ratio - periods).abs() > 1e-9 * ratio.max(1.0)
        {
            return Err(invalid(
                "horizon",
                format!("{horizon:?} in periods of {discount_period:?}"),
                "must be a whole number of discount periods, from 1 to 10000",
            ));
        }
        Ok(ClvOptions {
            horizon,
            discount_period,
            discount_rate,
            periods: periods as u32,
        })
    }

    /// The horizon.
    pub fn horizon(&self) -> Span<C> {
        self.horizon
    }
    /// The discount period.
    pub fn discount_period(&self) -> Span<C> {
        self.discount_period
    }
    /// The discount rate per period.
    pub fn discount_rate(&self) -> f64 {
        self.discount_rate
    }
}

impl<U: TimeUnit> BgNbd<U> {
    /// P(alive | x, t_x, T): 1 for a customer without repeat purchases.
    pub fn p_alive(&self, c: &Rfm<U>) -> f64 {
        p_alive(
            self,
            f64::from(c.frequency()),
            c.recency().value(),
            c.age().value(),
        )
    }

    /// Expected purchases of this customer in the next `t` (FHL eq. 10).
    pub fn expected_purchases(&self, c: &Rfm<U>, t: Span<U>) -> Result<f64, PredictError> {
        let x = f64::from(c.frequency());
        let (tx, age) = (c.recency().value(), c.age().value());
        let alive = p_alive(self, x, tx, age);
        conditional(self, x, age, t.value(), alive)
    }

    /// Expected purchases of a new customer in its first `t` (FHL eq. 7).
    pub fn expected_purchases_new(&self, t: Span<U>) -> Result<f64, PredictError> {
        conditional(self, 0.0, 0.0, t.value(), 1.0)
    }

    /// Probability that a new customer makes exactly `n` purchases in its
    /// first `t` (FHL eq. 8).
    pub fn p_purchases(&self, n: u32, t: Span<U>) -> Result<f64, PredictError> {
        pmf_new(self.r(), self.alpha(), self.a(), self.b(), n, t.value())
    }

    /// Probability that this customer makes exactly `n` purchases in the
    /// next `t` after the end of observation:
    /// `P(Y(t) = n | x, t_x, T)`.
    ///
    /// Derived from FHL 2005 as in Fader & Hardie's note "Deriving the
    /// conditional PMF of the Pareto/NBD model" (their note no. 28), carried over to
    /// the BG/NBD: given the history, the customer is alive at `T` with
    /// probability `P(alive | x, t_x, T)`, and then (Bayes' rule on the
    /// "alive" term `(1−p)^x λ^x e^{−λT}` of the individual likelihood)
    /// `λ ~ Gamma(r+x, α+T)` and `p ~ Beta(a, b+x)`, independently; the
    /// process is memoryless from `T` on, so the count in `(T, T+t]` of a
    /// living customer has FHL eq. 8 with those parameters. A customer
    /// who is gone buys nothing. Hence
    ///
    /// `P(Y(t)=n | x, t_x, T) = δ_{n=0} (1 − P(alive)) + P(alive) · P_8(n, t; r+x, α+T, a, b+x)`,
    ///
    /// where `P_8` is [`p_purchases`](Self::p_purchases)' formula. For
    /// `x = 0`, `T = 0` it is eq. 8 itself. Checked in the tests against a
    /// two-dimensional quadrature (mpmath) of the individual-level model
    /// and against a Monte-Carlo simulation of the purchase process.
    ///
    /// ```
    /// use crm_core::predict::{BgNbd, Rfm, Span, Week};
    /// use rust_decimal::Decimal;
    ///
    /// let bg = BgNbd::<Week>::new(0.243, 4.414, 0.793, 2.426)?;
    /// let w = |v: f64| Span::<Week>::new(v).unwrap();
    /// let c = Rfm::new(2, w(30.43), w(38.86), Decimal::ZERO)?;
    /// // No purchase in the next 39 weeks: gone, or alive and quiet.
    /// let none = bg.p_purchases_given(&c, 0, w(39.0))?;
    /// assert!((none - 0.445_372_862).abs() < 1e-8);
    /// # Ok::<(), crm_core::predict::PredictError>(())
    /// ```
    pub fn p_purchases_given(&self, c: &Rfm<U>, n: u32, t: Span<U>) -> Result<f64, PredictError> {
        let x = f64::from(c.frequency());
        let alive = self.p_alive(c);
        let living = if alive == 0.0 {
            if n == 0 { 1.0 } else { 0.0 }
        } else {
            pmf_new(
                self.r() + x,
                self.alpha() + c.age().value(),
                self.a(),
                self.b() + x,
                n,
                t.value(),
            )?
        };
        let gone = if n == 0 { 1.0 - alive } else { 0.0 };
        Ok((gone + alive * living).clamp(0.0, 1.0))
    }

    /// Customer lifetime value over the horizon of `options`: the
    /// expected purchases in each discount period (converted explicitly
    /// from the calendar unit `C` to the model's unit `U`) times the
    /// expected average spend, discounted per period.
    pub fn clv<C: TimeUnit>(
        &self,
        spend: &GammaGamma,
        c: &Rfm<U>,
        options: &ClvOptions<C>,
    ) -> Result<f64, PredictError> {
        let m = c.monetary().to_f64().unwrap_or(0.0);
        let per_purchase = spend.expected_spend(c.frequency(), m)?;
        Ok(
            clv_and_purchases(self, per_purchase, c, options, |x, age, t, alive| {
                conditional(self, x, age, t, alive)
            })?
            .0,
        )
    }
}

/// FHL eq. 8: P(X(t) = n) for a new customer.
fn pmf_new(r: f64, alpha: f64, a: f64, b: f64, n: u32, t: f64) -> Result<f64, PredictError> {
    if t == 0.0 {
        return Ok(if n == 0 { 1.0 } else { 0.0 });
    }
    let nf = f64::from(n);
    let ln_p0 = r * (alpha / (alpha + t)).ln();
    let ln_q = (t / (alpha + t)).ln();
    let lb = ln_beta(a, b);
    let first = (ln_beta(a, b + nf) - lb + ln_gamma(r + nf) - ln_gamma(r) - ln_gamma(nf + 1.0)
        + ln_p0
        + nf * ln_q)
        .exp();
    if n == 0 {
        return Ok(first);
    }
    // 1 − (α/(α+t))^r Σ_{j<n} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j is the
    // negative binomial tail P(N ≥ n) = I_{t/(α+t)}(n, r).
    let tail = statrs::function::beta::checked_beta_reg(nf, r, t / (alpha + t)).map_err(|e| {
        PredictError::Undefined {
            what: "the probability of n purchases",
            reason: e.to_string(),
        }
    })?;
    let second = (ln_beta(a + 1.0, b + nf - 1.0) - lb).exp() * tail;
    Ok((first + second).clamp(0.0, 1.0))
}

/// The CLV (at `per_purchase` a purchase) and the expected purchases over
/// the whole horizon: P(alive) once, one expectation per period, each from
/// `expectation(x, T, t, P(alive))` (the reference [`conditional`] or the
/// cached series of a [`Scorer`](super::scorer::Scorer)).
pub(super) fn clv_and_purchases<U: TimeUnit, C: TimeUnit>(
    m: &BgNbd<U>,
    per_purchase: f64,
    c: &Rfm<U>,
    options: &ClvOptions<C>,
    expectation: impl Fn(f64, f64, f64, f64) -> Result<f64, PredictError>,
) -> Result<(f64, f64), PredictError> {
    let x = f64::from(c.frequency());
    let age = c.age().value();
    let alive = p_alive(m, x, c.recency().value(), age);
    let period = options.discount_period.to::<U>().value();
    let mut prev = 0.0;
    let mut total = 0.0;
    let mut discount = 1.0;
    for i in 1..=options.periods {
        let e = expectation(x, age, f64::from(i) * period, alive)?;
        discount /= 1.0 + options.discount_rate;
        total += per_purchase * (e - prev) * discount;
        prev = e;
    }
    Ok((total, prev))
}

pub(super) fn p_alive<U: TimeUnit>(m: &BgNbd<U>, x: f64, tx: f64, age: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    // odds = a/(b+x−1) · ((α+T)/(α+t_x))^{r+x}: one power; an overflow
    // to infinity gives P(alive) = 0, never NaN.
    let odds = m.a() / (m.b() + x - 1.0) * ((m.alpha() + age) / (m.alpha() + tx)).powf(m.r() + x);
    1.0 / (1.0 + odds)
}

/// How close to 1 `a` is taken as 1 (see [`conditional`]).
pub(super) const NEAR: f64 = 1e-6;

/// E[Y(t) | x, T] given P(alive) (FHL eq. 10; eq. 7 with x = T = 0): the
/// reference evaluation, one ₂F₁ series summed term by term.
pub(super) fn conditional<U: TimeUnit>(
    m: &BgNbd<U>,
    x: f64,
    age: f64,
    t: f64,
    alive: f64,
) -> Result<f64, PredictError> {
    if t == 0.0 || alive == 0.0 {
        return Ok(0.0);
    }
    let a = m.a();
    // (a+b+x−1)/(a−1) has a removable singularity at a = 1: average the
    // two sides there.
    if (a - 1.0).abs() < NEAR {
        let lo = conditional_at(m.r(), m.alpha(), 1.0 - NEAR, m.b(), x, age, t)?;
        let hi = conditional_at(m.r(), m.alpha(), 1.0 + NEAR, m.b(), x, age, t)?;
        return Ok(0.5 * (lo + hi) * alive);
    }
    Ok(conditional_at(m.r(), m.alpha(), a, m.b(), x, age, t)? * alive)
}

fn conditional_at(
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    x: f64,
    age: f64,
    t: f64,
) -> Result<f64, PredictError> {
    let c = a + b + x - 1.0;
    if c <= 0.0 {
        return Err(PredictError::Undefined {
            what: "the expected number of purchases",
            reason: format!(
                "a + b = {} ≤ 1 for a customer without repeat purchases",
                a + b
            ),
        });
    }
    let z = t / (alpha + age + t);
    let one_minus_z = (alpha + age) / (alpha + age + t);
    // G = (1−z)^{r+x} ₂F₁(r+x, b+x; c; z); by Euler's transformation
    // G = (1−z)^{a−1} ₂F₁(a+b−1−r, a−1; c; z) when c − (r+x) − (b+x) < 0.
    let g = if a - 1.0 - r - x < 0.0 {
        one_minus_z.powf(a - 1.0) * series(a + b - 1.0 - r, a - 1.0, c, z)?
    } else {
        one_minus_z.powf(r + x) * series(r + x, b + x, c, z)?
    };
    Ok(c / (a - 1.0) * (1.0 - g))
}

/// One customer's scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Scores {
    /// P(alive).
    pub p_alive: f64,
    /// Expected purchases over the CLV horizon.
    pub expected_purchases: f64,
    /// Expected average spend per purchase, when a spend model is given.
    pub expected_spend: Option<f64>,
    /// CLV over the horizon, when a spend model is given.
    pub clv: Option<f64>,
}

/// All scores of one customer: P(alive), expected purchases over the
/// horizon of `options` (converted to `U`), and with a spend model the
/// expected average spend and the CLV.
///
/// This is the reference evaluation, one ₂F₁ series per expectation; to
/// score many customers under one model build a
/// [`Scorer`](super::scorer::Scorer) once (`purchases.scorer()`), which
/// gives the same scores faster.
pub fn score<U: TimeUnit, C: TimeUnit>(
    purchases: &BgNbd<U>,
    spend: Option<&GammaGamma>,
    c: &Rfm<U>,
    options: &ClvOptions<C>,
) -> Result<Scores, PredictError> {
    score_with(purchases, spend, c, options, |x, age, t, alive| {
        conditional(purchases, x, age, t, alive)
    })
}

/// [`score`] with the expectation `expectation(x, T, t, P(alive))` given.
pub(super) fn score_with<U: TimeUnit, C: TimeUnit>(
    purchases: &BgNbd<U>,
    spend: Option<&GammaGamma>,
    c: &Rfm<U>,
    options: &ClvOptions<C>,
    expectation: impl Fn(f64, f64, f64, f64) -> Result<f64, PredictError>,
) -> Result<Scores, PredictError> {
    let x = f64::from(c.frequency());
    let age = c.age().value();
    let (expected_purchases, expected_spend, clv) = match spend {
        Some(gg) => {
            let per_purchase =
                gg.expected_spend(c.frequency(), c.monetary().to_f64().unwrap_or(0.0))?;
            // The CLV's last cumulative expectation is the horizon's.
            let (clv, purchases_over_horizon) =
                clv_and_purchases(purchases, per_purchase, c, options, &expectation)?;
            (purchases_over_horizon, Some(per_purchase), Some(clv))
        }
        None => {
            let alive = p_alive(purchases, x, c.recency().value(), age);
            let horizon = options.horizon.to::<U>().value();
            (expectation(x, age, horizon, alive)?, None, None)
        }
    };
    Ok(Scores {
        p_alive: purchases.p_alive(c),
        expected_purchases,
        expected_spend,
        clv,
    })
}
