//! Predictive-model entry points: [`crate::predict`] fitted and scored
//! on the purchase summaries this session may see.
//!
//! Purchases are read only through `Session::purchase_summaries` (and so
//! through the KPI module's one deal-loading helper), in
//! `predict_histories` below: the single place a visibility scope applies
//! to what the models see.

use super::Session;
use crate::error::Result;
use crate::id::CustomerId;
use crate::predict::score::score;
use crate::predict::{
    BgNbd, BgNbdFit, ClvOptions, CustomerScores, FitOptions, GammaGamma, GammaGammaFit,
    Observation, Rfm, TimeUnit, fit_bgnbd, fit_gamma_gamma,
};
use crate::store::Store;

impl<S: Store> Session<'_, S> {
    /// The customers' purchase histories in `obs.currency`, in unit `U`
    /// (converted explicitly from the summaries' days).
    fn predict_histories<U: TimeUnit>(
        &self,
        obs: &Observation,
    ) -> Result<Vec<(CustomerId, Rfm<U>)>> {
        let summaries = self.purchase_summaries(&obs.filter, obs.end, obs.offset)?;
        let mut out = Vec::with_capacity(summaries.len());
        for s in summaries.iter().filter(|s| s.currency == obs.currency) {
            out.push((s.customer, Rfm::from_summary(s)?));
        }
        Ok(out)
    }

    /// Fits a [BG/NBD model](crate::predict::bgnbd) in time unit `U` on the
    /// purchases of `obs`.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use crm_core::predict::{FitOptions, Observation, Week};
    /// use crm_core::{Actor, Crm, Currency, ManualClock, Money, NewCustomer, NewDeal, PipelineDef};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let start = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    /// let crm = Crm::new(MemoryStore::new()).with_clock(ManualClock::new(start));
    /// let s = crm.as_actor(Actor::System);
    /// let p = s.create_pipeline(PipelineDef::sales_template("Sales"))?;
    /// let c = s.create_customer(NewCustomer::person("Ada"))?;
    /// let d = s.create_deal(NewDeal::new(c.id, p.id, "Seats").amount(Money::parse("50", "EUR")?))?;
    /// s.win_deal(d.id, d.version)?;
    ///
    /// // One customer who never came back: the model cannot be identified.
    /// let obs = Observation::new(start + Duration::days(90), Currency::EUR);
    /// let err = s.fit_bgnbd::<Week>(&obs, &FitOptions::default()).unwrap_err();
    /// assert!(err.to_string().contains("repeat purchase"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fit_bgnbd<U: TimeUnit>(
        &self,
        obs: &Observation,
        options: &FitOptions,
    ) -> Result<BgNbdFit<U>> {
        let data: Vec<Rfm<U>> = self
            .predict_histories(obs)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        Ok(fit_bgnbd(&data, options)?)
    }

    /// Fits a [Gamma-Gamma spend model](crate::predict::gamma_gamma) on
    /// the purchases of `obs` (repeat buyers with a positive spend; the
    /// result counts the others).
    pub fn fit_gamma_gamma(&self, obs: &Observation, l2_penalty: f64) -> Result<GammaGammaFit> {
        let data: Vec<Rfm<crate::predict::Day>> = self
            .predict_histories(obs)?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        Ok(fit_gamma_gamma(&data, l2_penalty)?)
    }

    /// Scores every customer of `obs` under fitted models: P(alive),
    /// expected purchases over the CLV horizon and, with a spend model,
    /// expected average spend and CLV (in `obs.currency`, rounded to its
    /// minor unit). The horizon's calendar unit `C` is converted to the
    /// model's unit `U` explicitly. Sorted by customer.
    pub fn predict_scores<U: TimeUnit, C: TimeUnit>(
        &self,
        obs: &Observation,
        purchases: &BgNbd<U>,
        spend: Option<&GammaGamma>,
        clv: &ClvOptions<C>,
    ) -> Result<Vec<CustomerScores>> {
        let mut out = Vec::new();
        for (customer, rfm) in self.predict_histories::<U>(obs)? {
            let s = score(purchases, spend, &rfm, clv)?;
            out.push(CustomerScores::new(customer, obs.currency, &s)?);
        }
        Ok(out)
    }
}
