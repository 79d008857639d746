//! The BG/NBD model (Fader, Hardie & Lee 2005): while alive, a customer
//! buys as a Poisson process with rate λ ~ Gamma(r, α); after every
//! purchase they drop out with probability p ~ Beta(a, b). Fitted by
//! maximum likelihood on [`Rfm`] histories (formula in the
//! [module docs](super)).
//!
//! ```
//! use crm_core::predict::{BgNbd, FitOptions, Rfm, Span, Week, fit_bgnbd};
//! use crm_core::predict::simulate::simulate;
//! use rust_decimal::Decimal;
//!
//! let truth = BgNbd::<Week>::new(0.25, 4.0, 0.8, 2.5)?;
//! let data = simulate(&truth, None, 5_000, Span::new(52.0)?, 1);
//! let fit = fit_bgnbd(&data, &FitOptions::default())?;
//! assert!((fit.model.r() - 0.25).abs() < 0.05);
//! assert!(fit.standard_errors.is_some());
//!
//! // Five customers cannot pin down four parameters: a typed error.
//! let w = |v: f64| Span::<Week>::new(v).unwrap();
//! let few = vec![
//!     Rfm::new(0, w(0.0), w(30.0), Decimal::ZERO)?,
//!     Rfm::new(2, w(20.0), w(30.0), Decimal::TEN)?,
//!     Rfm::new(5, w(29.0), w(31.0), Decimal::TEN)?,
//!     Rfm::new(1, w(3.0), w(35.0), Decimal::TEN)?,
//!     Rfm::new(0, w(0.0), w(36.0), Decimal::ZERO)?,
//! ];
//! assert!(fit_bgnbd(&few, &FitOptions::default()).is_err());
//! # Ok::<(), crm_core::predict::PredictError>(())
//! ```

use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

use super::optimize::{self, hessian, minimize, spd_inverse};
use super::special::{digamma, ln_gamma};
use super::units::{Rfm, TimeUnit};
use super::{PredictError, invalid};

const MODEL: &str = "BG/NBD";

/// BG/NBD parameters for data in time unit `U` (`α` is a duration in `U`).
/// In JSON `{"r", "alpha", "a", "b"}`, checked as by [`BgNbd::new`] when
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "BgNbdJson", into = "BgNbdJson", bound = "")]
pub struct BgNbd<U: TimeUnit> {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    unit: PhantomData<U>,
}

/// The JSON form of [`BgNbd`], before its checks.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct BgNbdJson {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
}

impl<U: TimeUnit> TryFrom<BgNbdJson> for BgNbd<U> {
    type Error = PredictError;

    fn try_from(j: BgNbdJson) -> Result<Self, PredictError> {
        BgNbd::new(j.r, j.alpha, j.a, j.b)
    }
}

impl<U: TimeUnit> From<BgNbd<U>> for BgNbdJson {
    fn from(m: BgNbd<U>) -> Self {
        BgNbdJson {
            r: m.r,
            alpha: m.alpha,
            a: m.a,
            b: m.b,
        }
    }
}

impl<U: TimeUnit> BgNbd<U> {
    /// A model with the given parameters, all finite and positive.
    pub fn new(r: f64, alpha: f64, a: f64, b: f64) -> Result<Self, PredictError> {
        for (name, v) in [("r", r), ("alpha", alpha), ("a", a), ("b", b)] {
            if !v.is_finite() || v <= 0.0 {
                return Err(invalid(
                    name,
                    v,
                    "BG/NBD parameters must be finite and positive",
                ));
            }
        }
        Ok(BgNbd {
            r,
            alpha,
            a,
            b,
            unit: PhantomData,
        })
    }

    /// Shape of the Gamma mixing distribution of the purchase rate.
    pub fn r(&self) -> f64 {
        self.r
    }
    /// Scale of the Gamma mixing distribution (a duration in `U`).
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
    /// First shape of the Beta dropout distribution.
    pub fn a(&self) -> f64 {
        self.a
    }
    /// Second shape of the Beta dropout distribution.
    pub fn b(&self) -> f64 {
        self.b
    }

    /// The same model for data in unit `V`: only `α` (a time scale) changes.
    pub fn to_unit<V: TimeUnit>(&self) -> BgNbd<V> {
        BgNbd {
            r: self.r,
            alpha: self.alpha * U::DAYS / V::DAYS,
            a: self.a,
            b: self.b,
            unit: PhantomData,
        }
    }

    /// The log-likelihood of `data` under this model.
    pub fn log_likelihood(&self, data: &[Rfm<U>]) -> f64 {
        ll_and_grad(&[self.r, self.alpha, self.a, self.b], &prepare(data)).0
    }
}

/// Options for [`fit_bgnbd`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FitOptions {
    /// L2 penalty λ ≥ 0: the fit minimises `−ln L / n + λ (r² + α² + a² + b²)`
    /// (as `lifetimes`' `penalizer_coef`). 0 is plain maximum likelihood.
    pub l2_penalty: f64,
    /// The most optimiser iterations.
    pub max_iterations: u32,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            l2_penalty: 0.0,
            max_iterations: 500,
        }
    }
}

/// Standard errors of the BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BgNbdErrors {
    /// Of `r`.
    pub r: f64,
    /// Of `α`.
    pub alpha: f64,
    /// Of `a`.
    pub a: f64,
    /// Of `b`.
    pub b: f64,
}

/// A fitted BG/NBD model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(bound = "")]
pub struct BgNbdFit<U: TimeUnit> {
    /// The parameters.
    pub model: BgNbd<U>,
    /// The log-likelihood at the parameters (without the penalty).
    pub log_likelihood: f64,
    /// Standard errors from the inverse of the observed information (the
    /// negative Hessian of the log-likelihood, by central differences);
    /// `None` when that matrix is not positive definite. With an L2
    /// penalty they ignore the penalty.
    pub standard_errors: Option<BgNbdErrors>,
    /// Customers fitted on.
    pub customers: usize,
    /// Optimiser iterations.
    pub iterations: u32,
}

/// Histories grouped by frequency, then by identical (t_x, T).
pub(crate) struct Prepared {
    blocks: Vec<Block>,
    customers: f64,
}

struct Block {
    x: f64,
    weight: f64,
    rows: Vec<(f64, f64, f64)>, // (t_x, T, count)
}

pub(crate) fn prepare<U: TimeUnit>(data: &[Rfm<U>]) -> Prepared {
    let mut v: Vec<(u32, f64, f64)> = data
        .iter()
        .map(|c| (c.frequency(), c.recency().value(), c.age().value()))
        .collect();
    v.sort_unstable_by(|p, q| {
        p.0.cmp(&q.0)
            .then(p.1.total_cmp(&q.1))
            .then(p.2.total_cmp(&q.2))
    });
    let mut blocks: Vec<Block> = Vec::new();
    for (x, tx, t) in v {
        let x = f64::from(x);
        match blocks.last_mut() {
            Some(b) if b.x == x => {
                b.weight += 1.0;
                match b.rows.last_mut() {
                    Some(r) if r.0 == tx && r.1 == t => r.2 += 1.0,
                    _ => b.rows.push((tx, t, 1.0)),
                }
            }
            _ => blocks.push(Block {
                x,
                weight: 1.0,
                rows: vec![(tx, t, 1.0)],
            }),
        }
    }
    Prepared {
        blocks,
        customers: data.len() as f64,
    }
}

/// The log-likelihood and its gradient in (r, α, a, b).
pub(crate) fn ll_and_grad(p: &[f64; 4], data: &Prepared) -> (f64, [f64; 4]) {
    let [r, alpha, a, b] = *p;
    let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
    let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
    let (dg_r, dg_b, dg_ab) = (digamma(r), digamma(b), digamma(a + b));
    let mut ll = 0.0;
    let mut g = [0.0; 4];
    for blk in &data.blocks {
        let x = blk.x;
        let w = blk.weight;
        let a1 = ln_gamma(r + x) - lg_r + r * ln_alpha;
        let a2 = lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
        ll += w * (a1 + a2);
        let dg_abx = digamma(a + b + x);
        g[0] += w * (digamma(r + x) - dg_r + ln_alpha);
        g[1] += w * r / alpha;
        g[2] += w * (dg_ab - dg_abx);
        g[3] += w * (dg_ab + digamma(b + x) - dg_b - dg_abx);
        let rx = r + x;
        let lb = if x > 0.0 { (b + x - 1.0).ln() } else { 0.0 };
        for &(tx, t, n) in &blk.rows {
            let l_t = (alpha + t).ln();
            let a3 = -rx * l_t;
            if x > 0.0 {
                let l_tx = (alpha + tx).ln();
                let a4 = ln_a - lb - rx * l_tx;
                // ln(e^{A3} + e^{A4}) = max + ln(1 + e^{−|A4−A3|}): one exp.
                let u = (-(a4 - a3).abs()).exp();
                let (e_max, e_min) = (1.0 / (1.0 + u), u / (1.0 + u));
                let (e3, e4) = if a3 >= a4 {
                    (e_max, e_min)
                } else {
                    (e_min, e_max)
                };
                ll += n * (a3.max(a4) + u.ln_1p());
                g[0] -= n * (e3 * l_t + e4 * l_tx);
                g[1] -= n * rx * (e3 / (alpha + t) + e4 / (alpha + tx));
                g[2] += n * e4 / a;
                g[3] -= n * e4 / (b + x - 1.0);
            } else {
                ll += n * a3;
                g[0] -= n * l_t;
                g[1] -= n * rx / (alpha + t);
            }
        }
    }
    (ll, g)
}

/// Fits a BG/NBD model by maximum likelihood (BFGS over the logarithms of
/// the parameters, analytic gradient; see [`optimize`]).
///
/// Errors: [`PredictError::NoCustomers`] for empty data,
/// [`PredictError::NoRepeatBuyers`] when no customer has a repeat
/// purchase, [`PredictError::Unidentifiable`] when a parameter runs off
/// to 0 or infinity, [`PredictError::NotConverged`] when the optimiser
/// stops early, [`PredictError::InvalidInput`] for a bad penalty.
pub fn fit_bgnbd<U: TimeUnit>(
    data: &[Rfm<U>],
    options: &FitOptions,
) -> Result<BgNbdFit<U>, PredictError> {
    let lambda = options.l2_penalty;
    if !lambda.is_finite() || lambda < 0.0 {
        return Err(invalid(
            "l2_penalty",
            lambda,
            "must be finite and not negative",
        ));
    }
    if data.is_empty() {
        return Err(PredictError::NoCustomers { model: MODEL });
    }
    if data.iter().all(|c| c.frequency() == 0) {
        return Err(PredictError::NoRepeatBuyers {
            model: MODEL,
            customers: data.len(),
        });
    }
    let prep = prepare(data);
    let n = prep.customers;
    let mean_x = data.iter().map(|c| f64::from(c.frequency())).sum::<f64>() / n;
    let mean_t = data.iter().map(|c| c.age().value()).sum::<f64>() / n;
    // Start at r = 1 with the mean purchase rate, and a = b = 1.
    let alpha0 = (mean_t / mean_x.max(1e-3)).clamp(1e-3, 1e6);
    let x0 = [0.0, alpha0.ln(), 0.0, 0.0];
    let objective = |th: &[f64; 4], grad: &mut [f64; 4]| {
        let p = th.map(f64::exp);
        let (ll, g) = ll_and_grad(&p, &prep);
        for i in 0..4 {
            grad[i] = -g[i] * p[i] / n + 2.0 * lambda * p[i] * p[i];
        }
        -ll / n + lambda * p.iter().map(|v| v * v).sum::<f64>()
    };
    let opts = optimize::Options {
        max_iterations: options.max_iterations,
        ..optimize::Options::default()
    };
    let m = minimize(objective, x0, &opts);
    let names = ["r", "alpha", "a", "b"];
    if let Some(i) = m.x.iter().position(|t| t.abs() > 16.0) {
        return Err(PredictError::Unidentifiable {
            model: MODEL,
            reason: format!(
                "parameter {} runs off to {:e}; the data do not determine it (an L2 penalty bounds it)",
                names[i],
                m.x[i].exp()
            ),
        });
    }
    if !m.converged {
        return Err(PredictError::NotConverged {
            model: MODEL,
            iterations: m.iterations,
            gradient_norm: m.gradient_norm,
        });
    }
    let p = m.x.map(f64::exp);
    let model = BgNbd::new(p[0], p[1], p[2], p[3])?;
    let (log_likelihood, _) = ll_and_grad(&p, &prep);
    let h = hessian(|q: &[f64; 4]| ll_and_grad(q, &prep).1, &p);
    let info = h.map(|row| row.map(|v| -v));
    let standard_errors = spd_inverse(&info).map(|c| BgNbdErrors {
        r: c[0][0].sqrt(),
        alpha: c[1][1].sqrt(),
        a: c[2][2].sqrt(),
        b: c[3][3].sqrt(),
    });
    Ok(BgNbdFit {
        model,
        log_likelihood,
        standard_errors,
        customers: data.len(),
        iterations: m.iterations,
    })
}
