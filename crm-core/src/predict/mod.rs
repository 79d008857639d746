//! Predictive customer value: the BG/NBD purchase model and the
//! Gamma-Gamma spend model, fitted by maximum likelihood, and the scores
//! built on them (expected purchases, probability alive, CLV).
//!
//! Everything here is a pure function of per-customer purchase summaries
//! ([`Rfm`], built from [`crate::kpi::customer::PurchaseSummary`]); the
//! facade (`Session::fit_bgnbd`, `Session::fit_gamma_gamma`,
//! `Session::predict_scores`) loads the summaries a caller may see, and
//! `Session::write_scores` fits both models and writes every customer's
//! scores to custom fields in one transaction with one event ([`run`]).
//!
//! Module map: [`units`] (time units, [`Rfm`] histories), [`special`]
//! (lnΓ, digamma, ₂F₁), [`optimize`] (BFGS, Hessian), [`bgnbd`] and
//! [`gamma_gamma`] (the models and their fits), [`score`](mod@score) (per-customer
//! scores and CLV), [`scorer`] (the same scores for many customers, with
//! the series coefficients cached per model), [`observation`] (what the facade reads and returns),
//! [`run`] (a run that writes scores to customers' custom fields),
//! [`simulate`] (synthetic customers from known parameters).
//!
//! # Time units are part of the type
//!
//! Durations are [`Span<U>`](units::Span) with a unit `U` of
//! [`Day`], [`Week`] or [`Month`]. A
//! model fitted on weekly data is a `BgNbd<Week>`; its scores take
//! `Span<Week>`, and a CLV horizon in months is converted with an explicit
//! [`Span::to`](units::Span::to). Mixing units does not compile. (The
//! Python `lifetimes` CLV helper takes the data's unit as a string argument
//! defaulting to days, so weekly data silently scored as daily is a common
//! mistake; here it cannot happen.)
//!
//! # Models and formulas (with sources)
//!
//! For a customer with `x` repeat purchases, the last at `t_x`, observed for
//! `T` since the first purchase:
//!
//! - **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy
//!   way", *Marketing Science* 24(2), eq. 6): with
//!   `A1 = lnΓ(r+x) − lnΓ(r) + r ln α`,
//!   `A2 = lnΓ(a+b) + lnΓ(b+x) − lnΓ(b) − lnΓ(a+b+x)`,
//!   `A3 = −(r+x) ln(α+T)`,
//!   `A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x)` (only when `x > 0`),
//!   `ln L = A1 + A2 + ln(e^{A3} + δ_{x>0} e^{A4})` (summed in log space).
//!   See [`bgnbd`].
//! - **Expected purchases of a new customer** by `t` (FHL 2005 eq. 7):
//!   `E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))]`.
//! - **Probability of n purchases** by `t` for a new customer (FHL 2005
//!   eq. 8): `P(X(t)=n) = B(a,b+n)/B(a,b) · Γ(r+n)/(Γ(r) n!) · (α/(α+t))^r (t/(α+t))^n
//!   + δ_{n>0} B(a+1,b+n−1)/B(a,b) · [1 − (α/(α+t))^r Σ_{j<n} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j]`.
//! - **Probability of n purchases in the next t** for a customer with a
//!   history (derived here from FHL 2005, as Fader & Hardie derive the
//!   conditional PMF of the Pareto/NBD in their note no. 28): given the
//!   history a living customer has `λ ~ Gamma(r+x, α+T)`, `p ~ Beta(a, b+x)`,
//!   so `P(Y(t)=n | x, t_x, T) = δ_{n=0} (1 − P(alive)) + P(alive) · P_8(n, t; r+x, α+T, a, b+x)`
//!   with `P_8` the formula above ([`BgNbd::p_purchases_given`]).
//! - **Probability alive** (FHL 2005 eq. 11; Fader & Hardie 2008 note 23):
//!   `P(alive | x, t_x, T) = 1 / (1 + δ_{x>0} a/(b+x−1) · ((α+T)/(α+t_x))^{r+x})`.
//! - **Conditional expected purchases** in the next `t` (FHL 2005 eq. 10):
//!   `E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^{r+x}
//!   ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))] · P(alive | x, t_x, T)`.
//!   The ₂F₁ factor is evaluated through Euler's transformation (see
//!   [`special`]) so that it stays bounded for any frequency.
//! - **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
//!   curves", *JMR* 42(4); Fader & Hardie 2013 note 25): for a customer with
//!   `x > 0` repeat purchases of mean value `m`,
//!   `ln f(m | p,q,v,x) = lnΓ(px+q) − lnΓ(px) − lnΓ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(v + x m)`,
//!   and the **expected average spend** is `E[M | x, m] = p (v + x m) / (p x + q − 1)`
//!   (for `x = 0`, the population mean `p v / (q − 1)`; both need `q > 1`).
//! - **CLV** over a horizon `H` in steps of a discount period `P` at a
//!   discount rate `d` per period (the discounted-cash-flow form used by
//!   `lifetimes`): `Σ_{i=1}^{H/P} E[M] · (E[Y(iP)] − E[Y((i−1)P)]) / (1+d)^i`.
//!
//! # Dependencies and numerics
//!
//! `lnΓ` and the digamma function ψ come from `statrs` (well kept, MIT, no
//! required dependencies beyond `approx` and `num-traits` with its default
//! features off). No crate provides a reliable Gauss hypergeometric ₂F₁, so
//! [`special::hyp2f1`] is written here (power series plus Euler and Pfaff
//! transformations). The optimiser is a small hand-written BFGS on the
//! logarithms of the parameters with analytic gradients ([`optimize`]):
//! the problems have three or four parameters, the gradients are cheap
//! closed forms, and a 100-line BFGS is lighter to build and easier to
//! audit than `argmin` with `argmin-math`'s vector backends.
//! Standard errors come from a central-difference Hessian of the
//! log-likelihood at the optimum (observed information).

pub mod bgnbd;
pub mod gamma_gamma;
pub mod observation;
pub mod optimize;
pub mod run;
pub mod score;
pub mod scorer;
pub mod simulate;
pub mod special;
pub mod units;

#[cfg(test)]
mod cdnow;
#[cfg(test)]
mod tests;

pub use bgnbd::{BgNbd, BgNbdFit, FitOptions, fit_bgnbd};
pub use gamma_gamma::{GammaGamma, GammaGammaFit, LeftOut, fit_gamma_gamma};
pub use observation::{CustomerScores, Observation};
pub use run::{ScoreFields, ScoreRun, ScoreRunReport};
pub use score::{ClvOptions, Scores, score};
pub use scorer::Scorer;
pub use units::{Day, Month, Rfm, Span, TimeUnit, Week};

/// Why a model could not be fitted or a score computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PredictError {
    /// An input value is out of range.
    #[error("invalid {field} {value}: {reason}")]
    InvalidInput {
        /// Which input.
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// There is nothing to fit on.
    #[error("the {model} model needs at least one customer to fit on, and got none")]
    NoCustomers {
        /// Which model.
        model: &'static str,
    },
    /// No customer bought more than once, so the data cannot tell how
    /// often customers buy or when they drop out.
    #[error(
        "none of the {customers} customers made a repeat purchase: the {model} model cannot be identified from such data"
    )]
    NoRepeatBuyers {
        /// Which model.
        model: &'static str,
        /// The customers given.
        customers: usize,
    },
    /// The data do not determine the parameters (the likelihood keeps
    /// improving towards a boundary of the parameter space).
    #[error("the {model} model cannot be identified from these data: {reason}")]
    Unidentifiable {
        /// Which model.
        model: &'static str,
        /// What happened.
        reason: String,
    },
    /// The optimiser stopped before it converged.
    #[error(
        "fitting the {model} model did not converge after {iterations} iterations (gradient norm {gradient_norm:e}); try an L2 penalty or more iterations"
    )]
    NotConverged {
        /// Which model.
        model: &'static str,
        /// Iterations done.
        iterations: u32,
        /// The largest gradient component at the last point.
        gradient_norm: f64,
    },
    /// A score is not defined at these parameters (for example the mean
    /// spend of a Gamma-Gamma model with `q ≤ 1`).
    #[error("{what} is not defined here: {reason}")]
    Undefined {
        /// Which quantity.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

pub(crate) fn invalid(
    field: &'static str,
    value: impl std::fmt::Display,
    reason: &str,
) -> PredictError {
    PredictError::InvalidInput {
        field,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}
