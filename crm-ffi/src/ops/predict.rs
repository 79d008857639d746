//! The predictive-model operations of `crm_call`: `predict.fit`,
//! `predict.score` and `predict.write_scores` (see [`crm_core::predict`]
//! for the models).
//!
//! Time units cross as names: `"unit"` is the unit the models are fitted
//! and scored in (`"day"`, `"week"` or `"month"`, default `"week"`), and
//! the CLV options carry their own calendar unit, converted explicitly.
//! Parameters coming in are checked as crm-core's constructors check them
//! (a negative `r` is refused, never scored).
//!
//! Requests:
//!
//! - observation: `{"end": RFC 3339, "currency": "EUR",
//!   "utc_offset_seconds"?: 0, "filter"?: KpiFilter}`
//! - clv: `{"horizon": 12, "discount_period": 1, "unit": "month",
//!   "discount_rate": 0.01}`
//! - `predict.fit`: `{"observation", "unit"?, "l2_penalty"?,
//!   "spend_l2_penalty"?}` → `{"bg_nbd": BgNbdFit, "gamma_gamma": GammaGammaFit}`
//! - `predict.score`: `{"observation", "unit"?, "bg_nbd": {"r","alpha","a","b"},
//!   "gamma_gamma"?: {"p","q","v"}, "clv"}` → `[CustomerScores]`
//! - `predict.write_scores`: `{"observation", "unit"?, "clv", "l2_penalty"?,
//!   "spend_l2_penalty"?}` → `ScoreRunReport`

use chrono::{DateTime, FixedOffset, Utc};
use crm_core::kpi::KpiFilter;
use crm_core::predict::{
    BgNbd, BgNbdFit, ClvOptions, Day, FitOptions, GammaGamma, GammaGammaFit, Month, Observation,
    PredictError, ScoreRun, Span, TimeUnit, Week,
};
use crm_core::{Currency, CustomerId, Session, Store};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::paging::{Slice, slice};
use crate::status::{CrmStatus, Failure};

/// A time unit by name.
#[derive(Deserialize, Clone, Copy, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Unit {
    Day,
    #[default]
    Week,
    Month,
}

/// Runs `$body` with the type `$U` bound to the unit `$unit` names.
macro_rules! in_unit {
    ($unit:expr, $U:ident => $body:expr) => {
        match $unit {
            Unit::Day => {
                type $U = Day;
                $body
            }
            Unit::Week => {
                type $U = Week;
                $body
            }
            Unit::Month => {
                type $U = Month;
                $body
            }
        }
    };
}

/// Whose purchases the models see, up to when, in which currency.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ObservationJson {
    /// The end of the observation period (RFC 3339).
    end: DateTime<Utc>,
    /// The currency of the purchases modelled (others are left out).
    currency: Currency,
    /// The UTC offset days are cut at, in seconds east (default 0, within ±86399).
    #[serde(default)]
    utc_offset_seconds: i32,
    /// Which purchases count (default: all in scope).
    #[serde(default)]
    filter: KpiFilter,
}

impl ObservationJson {
    fn build(self) -> Result<Observation, Failure> {
        let offset = FixedOffset::east_opt(self.utc_offset_seconds).ok_or_else(|| {
            Failure::new(
                CrmStatus::InvalidInput,
                format!(
                    "request.observation.utc_offset_seconds {}: must be within ±86399",
                    self.utc_offset_seconds
                ),
            )
        })?;
        Ok(Observation {
            filter: self.filter,
            end: self.end,
            offset,
            currency: self.currency,
        })
    }
}

/// How customer lifetime value is computed.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ClvJson {
    /// How far ahead to value, in `unit`s.
    horizon: f64,
    /// The length of one discounting period, in `unit`s.
    discount_period: f64,
    /// The calendar unit of `horizon` and `discount_period`.
    unit: Unit,
    /// The discount rate per period, such as 0.01.
    discount_rate: f64,
}

/// BG/NBD parameters.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BgNbdJson {
    /// The shape of the purchase-rate Gamma (positive).
    r: f64,
    /// The scale of the purchase-rate Gamma, a duration in the request's `unit` (positive).
    alpha: f64,
    /// The first shape of the dropout Beta (positive).
    a: f64,
    /// The second shape of the dropout Beta (positive).
    b: f64,
}

/// Gamma-Gamma parameters.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GammaGammaJson {
    /// The shape of the per-purchase spend Gamma (positive).
    p: f64,
    /// The shape of the spend-scale Gamma (positive).
    q: f64,
    /// The scale of the spend-scale Gamma (positive).
    v: f64,
}

/// `predict.fit`: what to fit on.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FitRequest {
    /// Whose purchases, up to when, in which currency.
    observation: ObservationJson,
    /// The time unit the models are fitted and scored in (default week).
    #[serde(default)]
    unit: Unit,
    /// L2 penalty on the BG/NBD parameters (default 0).
    #[serde(default)]
    l2_penalty: f64,
    /// L2 penalty on the Gamma-Gamma parameters (default 0).
    #[serde(default)]
    spend_l2_penalty: f64,
    /// The most BG/NBD optimiser iterations, at least 1 (default 500).
    #[serde(default)]
    #[schemars(range(min = 1))]
    max_iterations: Option<u32>,
}

/// `predict.score`: what to score, under which parameters.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ScoreRequest {
    /// Whose purchases, up to when, in which currency.
    observation: ObservationJson,
    /// The time unit the models are fitted and scored in (default week).
    #[serde(default)]
    unit: Unit,
    /// The purchase model's parameters.
    bg_nbd: BgNbdJson,
    /// The spend model's parameters (default: no monetary scores).
    #[serde(default)]
    gamma_gamma: Option<GammaGammaJson>,
    /// How customer lifetime value is computed.
    clv: ClvJson,
    /// One page of the scores, in customer-id order (default: all, in
    /// the engine's order).
    #[serde(default)]
    page: Option<Slice<CustomerId>>,
}

/// `predict.write_scores`: what to fit and score.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct WriteRequest {
    /// Whose purchases, up to when, in which currency.
    observation: ObservationJson,
    /// The time unit the models are fitted and scored in (default week).
    #[serde(default)]
    unit: Unit,
    /// How customer lifetime value is computed.
    clv: ClvJson,
    /// L2 penalty on the BG/NBD parameters (default 0).
    #[serde(default)]
    l2_penalty: f64,
    /// L2 penalty on the Gamma-Gamma parameters (default 0).
    #[serde(default)]
    spend_l2_penalty: f64,
    /// The most BG/NBD optimiser iterations, at least 1 (default 500).
    #[serde(default)]
    #[schemars(range(min = 1))]
    max_iterations: Option<u32>,
}

fn clv_options<C: TimeUnit>(c: &ClvJson) -> Result<ClvOptions<C>, PredictError> {
    ClvOptions::new(
        Span::new(c.horizon)?,
        Span::new(c.discount_period)?,
        c.discount_rate,
    )
}

/// The fit options; `max_iterations` 0 is refused (it would return the
/// starting point as if it were a fit).
fn fit_options(l2_penalty: f64, max_iterations: Option<u32>) -> Result<FitOptions, Failure> {
    let mut options = FitOptions {
        l2_penalty,
        ..FitOptions::default()
    };
    match max_iterations {
        Some(0) => {
            return Err(Failure::new(
                CrmStatus::InvalidInput,
                "request.max_iterations 0: must be at least 1",
            )
            .at_path("max_iterations"));
        }
        Some(n) => options.max_iterations = n,
        None => {}
    }
    Ok(options)
}

fn json_out<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| {
        Failure::new(
            CrmStatus::Internal,
            format!("cannot serialise the response: {e}"),
        )
    })
}

/// What `predict.fit` answers: both fits (the BG/NBD one in the
/// request's unit; its JSON is the same in every unit).
#[derive(Serialize, JsonSchema)]
#[serde(bound = "")]
#[schemars(bound = "U: JsonSchema")]
pub(super) struct Fits<U: TimeUnit> {
    /// The purchase model.
    bg_nbd: BgNbdFit<U>,
    /// The spend model.
    gamma_gamma: GammaGammaFit,
}

/// `predict.fit`: both models on the observation's purchases.
fn fit_in<S: Store>(s: &Session<'_, S>, r: FitRequestJson) -> Result<String, Failure> {
    let r = r.0;
    let obs = r.observation.build()?;
    in_unit!(r.unit, U => {
        let bg = s.fit_bgnbd::<U>(&obs, &fit_options(r.l2_penalty, r.max_iterations)?)?;
        let gg = s.fit_gamma_gamma(&obs, r.spend_l2_penalty)?;
        json_out(&Fits {
            bg_nbd: bg,
            gamma_gamma: gg,
        })
    })
}

/// `predict.score`: every customer's scores under given parameters.
fn score_in<S: Store>(s: &Session<'_, S>, r: ScoreRequestJson) -> Result<String, Failure> {
    let r = r.0;
    let obs = r.observation.build()?;
    let spend = match &r.gamma_gamma {
        Some(g) => Some(GammaGamma::new(g.p, g.q, g.v).map_err(crm_core::Error::from)?),
        None => None,
    };
    let b = &r.bg_nbd;
    in_unit!(r.unit, U => {
        let model = BgNbd::<U>::new(b.r, b.alpha, b.a, b.b).map_err(crm_core::Error::from)?;
        in_unit!(r.clv.unit, C => {
            let clv = clv_options::<C>(&r.clv).map_err(crm_core::Error::from)?;
            let scores = s.predict_scores(&obs, &model, spend.as_ref(), &clv)?;
            json_out(&slice(scores, |c| c.customer, r.page)?)
        })
    })
}

/// `predict.write_scores`: fit and write every customer's scores.
fn write_scores_in<S: Store>(s: &Session<'_, S>, r: WriteRequestJson) -> Result<String, Failure> {
    let r = r.0;
    let obs = r.observation.build()?;
    in_unit!(r.unit, U => {
        in_unit!(r.clv.unit, C => {
            let clv = clv_options::<C>(&r.clv).map_err(crm_core::Error::from)?;
            let run = ScoreRun {
                fit: fit_options(r.l2_penalty, r.max_iterations)?,
                spend_l2_penalty: r.spend_l2_penalty,
                clv,
            };
            json_out(&s.write_scores::<U, C>(&obs, &run)?)
        })
    })
}

/// The request of `predict.fit`, parsed.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub(super) struct FitRequestJson(FitRequest);

/// The request of `predict.score`, parsed.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub(super) struct ScoreRequestJson(ScoreRequest);

/// The request of `predict.write_scores`, parsed.
#[derive(Deserialize, JsonSchema)]
#[serde(transparent)]
pub(super) struct WriteRequestJson(WriteRequest);

pub(super) fn fit(c: &super::Ctx<'_>, request: &str) -> Result<String, Failure> {
    fit_in(&c.s, super::req(request)?)
}

pub(super) fn score(c: &super::Ctx<'_>, request: &str) -> Result<String, Failure> {
    score_in(&c.s, super::req(request)?)
}

pub(super) fn write_scores(c: &super::Ctx<'_>, request: &str) -> Result<String, Failure> {
    write_scores_in(&c.s, super::req(request)?)
}
