//! The Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV";
//! Fader & Hardie 2013, note 25): a customer's purchase values are
//! Gamma(p, ν) with ν ~ Gamma(q, v) across customers, independent of the
//! purchase process. Fitted on customers with at least one repeat purchase
//! and a positive mean repeat-purchase value; the others are counted in
//! [`LeftOut`]. Formulas in the [module docs](super).

use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use super::optimize::{self, hessian, minimize, spd_inverse};
use super::special::{digamma, ln_gamma};
use super::units::{Rfm, TimeUnit};
use super::{PredictError, invalid};

const MODEL: &str = "Gamma-Gamma";

/// Gamma-Gamma parameters (`v` is in the data's currency). In JSON
/// `{"p", "q", "v"}`, checked as by [`GammaGamma::new`] when read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(try_from = "GammaGammaJson", into = "GammaGammaJson")]
pub struct GammaGamma {
    p: f64,
    q: f64,
    v: f64,
}

/// The JSON form of [`GammaGamma`], before its checks.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct GammaGammaJson {
    p: f64,
    q: f64,
    v: f64,
}

impl TryFrom<GammaGammaJson> for GammaGamma {
    type Error = PredictError;

    fn try_from(j: GammaGammaJson) -> Result<Self, PredictError> {
        GammaGamma::new(j.p, j.q, j.v)
    }
}

impl From<GammaGamma> for GammaGammaJson {
    fn from(m: GammaGamma) -> Self {
        GammaGammaJson {
            p: m.p,
            q: m.q,
            v: m.v,
        }
    }
}

impl GammaGamma {
    /// A model with the given parameters, all finite and positive.
    pub fn new(p: f64, q: f64, v: f64) -> Result<Self, PredictError> {
        for (name, x) in [("p", p), ("q", q), ("v", v)] {
            if !x.is_finite() || x <= 0.0 {
                return Err(invalid(
                    name,
                    x,
                    "Gamma-Gamma parameters must be finite and positive",
                ));
            }
        }
        Ok(GammaGamma { p, q, v })
    }
    /// Shape of the purchase values.
    pub fn p(&self) -> f64 {
        self.p
    }
    /// Shape of the customers' value rates ν.
    pub fn q(&self) -> f64 {
        self.q
    }
    /// Scale of the customers' value rates ν.
    pub fn v(&self) -> f64 {
        self.v
    }

    /// Expected mean purchase value of a customer with `frequency` repeat
    /// purchases of mean value `monetary`:
    /// `p (v + x m) / (p x + q − 1)`; for `x = 0` the population mean
    /// `p v / (q − 1)`. Needs `q > 1` (otherwise the mean is infinite).
    pub fn expected_spend(&self, frequency: u32, monetary: f64) -> Result<f64, PredictError> {
        if self.q <= 1.0 {
            return Err(PredictError::Undefined {
                what: "the expected average spend",
                reason: format!(
                    "with q = {} ≤ 1 the Gamma-Gamma mean spend is infinite",
                    self.q
                ),
            });
        }
        if !monetary.is_finite() || monetary < 0.0 {
            return Err(invalid(
                "monetary value",
                monetary,
                "must be finite and not negative",
            ));
        }
        let x = f64::from(frequency);
        let m = if frequency == 0 { 0.0 } else { monetary };
        Ok(self.p * (self.v + x * m) / (self.p * x + self.q - 1.0))
    }

    /// The log-likelihood of the customers the model is fitted on.
    pub fn log_likelihood<U: TimeUnit>(&self, data: &[Rfm<U>]) -> f64 {
        ll_and_grad(&[self.p, self.q, self.v], &prepare(data).0).0
    }
}

/// Customers the Gamma-Gamma fit left out, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LeftOut {
    /// No repeat purchase (frequency 0): no repeat purchase values to fit.
    pub no_repeat_purchase: usize,
    /// A repeat buyer whose mean repeat purchase value is zero.
    pub zero_spend: usize,
}

/// Standard errors of the Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GammaGammaErrors {
    /// Of `p`.
    pub p: f64,
    /// Of `q`.
    pub q: f64,
    /// Of `v`.
    pub v: f64,
}

/// A fitted Gamma-Gamma model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GammaGammaFit {
    /// The parameters.
    pub model: GammaGamma,
    /// The log-likelihood at the parameters (without the penalty).
    pub log_likelihood: f64,
    /// Standard errors (as for BG/NBD); `None` when the observed
    /// information is not positive definite.
    pub standard_errors: Option<GammaGammaErrors>,
    /// Customers fitted on.
    pub customers: usize,
    /// Customers left out, by reason.
    pub left_out: LeftOut,
    /// Optimiser iterations.
    pub iterations: u32,
}

/// (x, m, count) rows of the repeat buyers with positive spend.
fn prepare<U: TimeUnit>(data: &[Rfm<U>]) -> (Vec<(f64, f64, f64)>, LeftOut) {
    let mut left = LeftOut::default();
    let mut v = Vec::new();
    for c in data {
        if c.frequency() == 0 {
            left.no_repeat_purchase += 1;
            continue;
        }
        match c.monetary().to_f64() {
            Some(m) if m > 0.0 && m.is_finite() => v.push((f64::from(c.frequency()), m)),
            _ => left.zero_spend += 1,
        }
    }
    v.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut rows: Vec<(f64, f64, f64)> = Vec::new();
    for (x, m) in v {
        match rows.last_mut() {
            Some(r) if r.0 == x && r.1 == m => r.2 += 1.0,
            _ => rows.push((x, m, 1.0)),
        }
    }
    (rows, left)
}

fn ll_and_grad(par: &[f64; 3], rows: &[(f64, f64, f64)]) -> (f64, [f64; 3]) {
    let [p, q, v] = *par;
    let (lg_q, dg_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
    let mut ll = 0.0;
    let mut g = [0.0; 3];
    for &(x, m, n) in rows {
        let px = p * x;
        let (ln_m, ln_x, ln_vm) = (m.ln(), x.ln(), (v + x * m).ln());
        let dg_pxq = digamma(px + q);
        ll += n
            * (ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_v + (px - 1.0) * ln_m + px * ln_x
                - (px + q) * ln_vm);
        g[0] += n * x * (dg_pxq - digamma(px) + ln_m + ln_x - ln_vm);
        g[1] += n * (dg_pxq - dg_q + ln_v - ln_vm);
        g[2] += n * (q / v - (px + q) / (v + x * m));
    }
    (ll, g)
}

/// Fits a Gamma-Gamma model by maximum likelihood on the customers with a
/// repeat purchase and a positive monetary value, with an optional L2
/// penalty λ on `p² + q² + v²` (as for [`fit_bgnbd`](super::fit_bgnbd)).
pub fn fit_gamma_gamma<U: TimeUnit>(
    data: &[Rfm<U>],
    l2_penalty: f64,
) -> Result<GammaGammaFit, PredictError> {
    if !l2_penalty.is_finite() || l2_penalty < 0.0 {
        return Err(invalid(
            "l2_penalty",
            l2_penalty,
            "must be finite and not negative",
        ));
    }
    if data.is_empty() {
        return Err(PredictError::NoCustomers { model: MODEL });
    }
    let (rows, left_out) = prepare(data);
    let n: f64 = rows.iter().map(|r| r.2).sum();
    if rows.is_empty() {
        return Err(PredictError::NoRepeatBuyers {
            model: MODEL,
            customers: data.len(),
        });
    }
    let mean_m = rows.iter().map(|r| r.1 * r.2).sum::<f64>() / n;
    // Start at p = 1, q = 3 and the v that gives the observed mean spend.
    let x0 = [0.0, 3f64.ln(), (2.0 * mean_m).ln()];
    let objective = |th: &[f64; 3], grad: &mut [f64; 3]| {
        let p = th.map(f64::exp);
        let (ll, g) = ll_and_grad(&p, &rows);
        for i in 0..3 {
            grad[i] = -g[i] * p[i] / n + 2.0 * l2_penalty * p[i] * p[i];
        }
        -ll / n + l2_penalty * p.iter().map(|v| v * v).sum::<f64>()
    };
    let m = minimize(objective, x0, &optimize::Options::default());
    let names = ["p", "q", "v"];
    if let Some(i) = m.x.iter().position(|t| t.abs() > 25.0) {
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
    let model = GammaGamma::new(p[0], p[1], p[2])?;
    let (log_likelihood, _) = ll_and_grad(&p, &rows);
    let h = hessian(|q: &[f64; 3]| ll_and_grad(q, &rows).1, &p);
    let standard_errors = spd_inverse(&h.map(|r| r.map(|v| -v))).map(|c| GammaGammaErrors {
        p: c[0][0].sqrt(),
        q: c[1][1].sqrt(),
        v: c[2][2].sqrt(),
    });
    Ok(GammaGammaFit {
        model,
        log_likelihood,
        standard_errors,
        customers: n as usize,
        left_out,
        iterations: m.iterations,
    })
}
