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
    BgNbd, ClvOptions, Day, FitOptions, GammaGamma, Month, Observation, PredictError, ScoreRun,
    Span, TimeUnit, Week,
};
use crm_core::{Currency, Session, Store};
use serde::Deserialize;
use serde_json::json;

use crate::status::{CrmStatus, Failure};

/// A time unit by name.
#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
enum Unit {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObservationJson {
    end: DateTime<Utc>,
    currency: Currency,
    #[serde(default)]
    utc_offset_seconds: i32,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClvJson {
    horizon: f64,
    discount_period: f64,
    unit: Unit,
    discount_rate: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BgNbdJson {
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GammaGammaJson {
    p: f64,
    q: f64,
    v: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FitRequest {
    observation: ObservationJson,
    #[serde(default)]
    unit: Unit,
    #[serde(default)]
    l2_penalty: f64,
    #[serde(default)]
    spend_l2_penalty: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreRequest {
    observation: ObservationJson,
    #[serde(default)]
    unit: Unit,
    bg_nbd: BgNbdJson,
    #[serde(default)]
    gamma_gamma: Option<GammaGammaJson>,
    clv: ClvJson,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteRequest {
    observation: ObservationJson,
    #[serde(default)]
    unit: Unit,
    clv: ClvJson,
    #[serde(default)]
    l2_penalty: f64,
    #[serde(default)]
    spend_l2_penalty: f64,
}

fn clv_options<C: TimeUnit>(c: &ClvJson) -> Result<ClvOptions<C>, PredictError> {
    ClvOptions::new(
        Span::new(c.horizon)?,
        Span::new(c.discount_period)?,
        c.discount_rate,
    )
}

fn fit_options(l2_penalty: f64) -> FitOptions {
    FitOptions {
        l2_penalty,
        ..FitOptions::default()
    }
}

fn json_out<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| {
        Failure::new(
            CrmStatus::Internal,
            format!("cannot serialise the response: {e}"),
        )
    })
}

/// `predict.fit`: both models on the observation's purchases.
fn fit_in<S: Store>(s: &Session<'_, S>, r: FitRequestJson) -> Result<String, Failure> {
    let r = r.0;
    let obs = r.observation.build()?;
    in_unit!(r.unit, U => {
        let bg = s.fit_bgnbd::<U>(&obs, &fit_options(r.l2_penalty))?;
        let gg = s.fit_gamma_gamma(&obs, r.spend_l2_penalty)?;
        json_out(&json!({"bg_nbd": bg, "gamma_gamma": gg}))
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
            json_out(&s.predict_scores(&obs, &model, spend.as_ref(), &clv)?)
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
                fit: fit_options(r.l2_penalty),
                spend_l2_penalty: r.spend_l2_penalty,
                clv,
            };
            json_out(&s.write_scores::<U, C>(&obs, &run)?)
        })
    })
}

/// The request of `predict.fit`, parsed.
#[derive(Deserialize)]
#[serde(transparent)]
struct FitRequestJson(FitRequest);

/// The request of `predict.score`, parsed.
#[derive(Deserialize)]
#[serde(transparent)]
struct ScoreRequestJson(ScoreRequest);

/// The request of `predict.write_scores`, parsed.
#[derive(Deserialize)]
#[serde(transparent)]
struct WriteRequestJson(WriteRequest);

pub(super) fn fit(c: &super::Ctx<'_>, request: &str) -> Result<String, Failure> {
    fit_in(&c.s, super::req(request)?)
}

pub(super) fn score(c: &super::Ctx<'_>, request: &str) -> Result<String, Failure> {
    score_in(&c.s, super::req(request)?)
}

pub(super) fn write_scores(c: &super::Ctx<'_>, request: &str) -> Result<String, Failure> {
    write_scores_in(&c.s, super::req(request)?)
}
