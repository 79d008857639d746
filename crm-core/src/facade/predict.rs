//! Predictive-model entry points: [`crate::predict`] fitted and scored
//! on the purchase summaries this session may see.
//!
//! Purchases are read only through `Session::purchase_summaries` (and so
//! through the KPI module's one deal-loading helper), in
//! `predict_histories` below: the single place a visibility scope applies
//! to what the models see.

use serde_json::json;

use super::Session;
use super::batch::entity;
use crate::access::{Operation, OwnerSet, Resource};
use crate::custom_field::{FieldType, validate_defs};
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EventKind};
use crate::id::CustomerId;
use crate::predict::{
    BgNbd, BgNbdFit, ClvOptions, CustomerScores, FitOptions, GammaGamma, GammaGammaFit,
    Observation, Rfm, ScoreFields, ScoreRun, ScoreRunReport, TimeUnit, fit_bgnbd, fit_gamma_gamma,
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
        let scorer = purchases.scorer();
        for (customer, rfm) in self.predict_histories::<U>(obs)? {
            let s = scorer.score(spend, &rfm, clv)?;
            out.push(CustomerScores::new(customer, obs.currency, &s)?);
        }
        Ok(out)
    }
}

impl<S: Store> Session<'_, S> {
    /// Fits both models on the purchases of `obs` and writes every
    /// customer's scores to its custom fields, in one transaction with one
    /// event: the [`predict::run`](crate::predict::run) module documents the
    /// fields (`p_alive`, `expected_purchases_<h>`, `expected_spend`,
    /// `clv_<h>`, named after the CLV horizon), which are defined as
    /// optional decimal fields of customers if absent (that needs the right
    /// to change custom fields: write scope `all` on pipelines).
    ///
    /// The event has entity kind `model_run` (a new id per run), version 1,
    /// kind [`EventKind::ScoresWritten`], and changes `model`,
    /// `observation`, `bg_nbd`, `gamma_gamma`, `clv`, `fields`,
    /// `defined_fields` and `customers` (counts). Each written customer's
    /// version bumps, without an event of its own.
    ///
    /// Access: the models see the won deals the actor may read (as the
    /// KPIs do). Scores are written to the customers of those purchases that
    /// the actor may read and change; customers it may not read are neither
    /// read nor written, customers it may read but not change (or whose
    /// score fields are read-only for the actor's roles) are left as they
    /// are; both are counted in the report. An actor who may change no
    /// customer at all gets [`Error::PermissionDenied`]. Customers without a
    /// purchase in `obs.currency` are left as they are.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use crm_core::custom_field::CustomValue;
    /// use crm_core::predict::{ClvOptions, FitOptions, Month, Observation, ScoreRun, Span, Week};
    /// use crm_core::{Actor, Crm, Currency, ManualClock, Money, NewCustomer, NewDeal, PipelineDef};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let start = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
    /// let crm = Crm::new(MemoryStore::new()).with_clock(ManualClock::new(start));
    /// let s = crm.as_actor(Actor::System);
    /// let p = s.create_pipeline(PipelineDef::sales_template("Sales"))?;
    /// // 60 customers: customer i buys every (7 + i % 9) days for (i % 5) * 20 days.
    /// for i in 0..60i64 {
    ///     let c = s.create_customer(NewCustomer::person(format!("C{i}")))?;
    ///     let mut day = i % 30;
    ///     while day <= i % 30 + (i % 5) * 20 {
    ///         let at = s.at(start + Duration::days(day));
    ///         let d = at.create_deal(NewDeal::new(c.id, p.id, "order")
    ///             .amount(Money::parse(&format!("{}", 20 + i % 7 * 5), "EUR")?))?;
    ///         at.win_deal(d.id, d.version)?;
    ///         day += 7 + i % 9;
    ///     }
    /// }
    /// let obs = Observation::new(start + Duration::days(150), Currency::EUR);
    /// let year = ClvOptions::new(Span::<Month>::new(12.0)?, Span::<Month>::new(1.0)?, 0.01)?;
    /// // Such regular buyers never seem to leave: a small penalty bounds
    /// // the dropout parameters.
    /// let run = ScoreRun { fit: FitOptions { l2_penalty: 0.001, ..FitOptions::default() }, ..ScoreRun::new(year) };
    /// let report = s.write_scores::<Week, Month>(&obs, &run)?;
    /// assert_eq!(report.written, 60);
    /// assert_eq!(report.defined_fields.len(), 4);
    /// let c = s.customers(&Default::default())?.items.remove(0);
    /// assert!(matches!(c.custom["clv_12m"], CustomValue::Decimal(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_scores<U: TimeUnit, C: TimeUnit>(
        &self,
        obs: &Observation,
        run: &ScoreRun<C>,
    ) -> Result<ScoreRunReport<U>> {
        obs.filter.check()?;
        let fields = ScoreFields::for_horizon(&run.clv)?;
        self.batch(|b| {
            if matches!(b.access.write_owners(Resource::Customers), OwnerSet::Only(ref v) if v.is_empty())
            {
                b.access.check_write(
                    Resource::Customers,
                    Operation::Update,
                    "customers (predicted scores)",
                    None,
                )?;
            }
            // The purchases, through the KPI module's one loading path.
            let summaries = self
                .won_deal_purchases(&*b.tx, &b.access, &obs.filter, obs.end, obs.offset)?
                .finish()?;
            let mut histories: Vec<(CustomerId, Rfm<U>)> = Vec::with_capacity(summaries.len());
            for s in summaries.iter().filter(|s| s.currency == obs.currency) {
                histories.push((s.customer, Rfm::from_summary(s)?));
            }
            let data: Vec<Rfm<U>> = histories.iter().map(|(_, r)| *r).collect();
            let purchases = fit_bgnbd(&data, &run.fit)?;
            let spend = fit_gamma_gamma(&data, run.spend_l2_penalty)?;
            drop(data);

            let now = b.now();
            let defined_fields = define_score_fields(b, &fields, obs, now)?;

            let (mut written, mut out_of_scope, mut not_writable, mut merged) = (0, 0, 0, 0);
            // The customers this run changes: their new versions have no
            // event of their own, the run's event lists them.
            let mut written_ids: Vec<CustomerId> = Vec::new();
            let scorer = purchases.model.scorer();
            for (id, rfm) in &histories {
                let Some(mut c) = b.tx.customer(*id)? else {
                    out_of_scope += 1;
                    continue;
                };
                if !b.access.can_read(Resource::Customers, c.owner) {
                    out_of_scope += 1;
                    continue;
                }
                if c.is_merged() {
                    merged += 1;
                    continue;
                }
                if b
                    .access
                    .check_write(Resource::Customers, Operation::Update, id, c.owner)
                    .is_err()
                {
                    not_writable += 1;
                    continue;
                }
                let s = scorer.score(Some(&spend.model), rfm, &run.clv)?;
                let s = CustomerScores::new(*id, obs.currency, &s)?;
                let before = c.custom.clone();
                for (key, value) in fields.values(&s)? {
                    c.custom.insert(key, value);
                }
                // A score field read-only for the actor's roles is not
                // theirs to write, like a customer outside the write scope.
                if b
                    .access
                    .check_custom_changes(EntityKind::Customer, &before, &c.custom, id)
                    .is_err()
                {
                    not_writable += 1;
                    continue;
                }
                b.check_custom(EntityKind::Customer, &c.custom)?;
                c.version += 1;
                c.updated_at = now.max(c.updated_at);
                b.tx.update_customer(&c)?;
                written_ids.push(c.id);
                written += 1;
            }

            let run_id = b.new_uuid();
            let m = &purchases.model;
            let g = &spend.model;
            let mut ch = Changes::default();
            let none = serde_json::Value::Null;
            ch.set("model", &none, "BG/NBD + Gamma-Gamma");
            ch.set(
                "observation",
                &none,
                &json!({
                    "end": obs.end,
                    "utc_offset_seconds": obs.offset.local_minus_utc(),
                    "currency": obs.currency,
                    "unit": U::NAME,
                }),
            );
            ch.set(
                "bg_nbd",
                &none,
                &json!({
                    "r": m.r(), "alpha": m.alpha(), "a": m.a(), "b": m.b(),
                    "log_likelihood": purchases.log_likelihood,
                    "customers": purchases.customers,
                    "l2_penalty": run.fit.l2_penalty,
                }),
            );
            ch.set(
                "gamma_gamma",
                &none,
                &json!({
                    "p": g.p(), "q": g.q(), "v": g.v(),
                    "log_likelihood": spend.log_likelihood,
                    "customers": spend.customers,
                    "left_out_no_repeat_purchase": spend.left_out.no_repeat_purchase,
                    "left_out_zero_spend": spend.left_out.zero_spend,
                    "l2_penalty": run.spend_l2_penalty,
                }),
            );
            ch.set(
                "clv",
                &none,
                &json!({
                    "horizon": fields.horizon,
                    "discount_period": format!("{:?}", run.clv.discount_period()),
                    "discount_rate": run.clv.discount_rate(),
                }),
            );
            ch.set("fields", &none, &fields.keys());
            ch.set("written_customers", &none, &written_ids);
            ch.set("defined_fields", &none, &defined_fields);
            ch.set(
                "customers",
                &none,
                &json!({
                    "scored": histories.len(),
                    "written": written,
                    "out_of_scope": out_of_scope,
                    "not_writable": not_writable,
                    "merged": merged,
                }),
            );
            let event = b.record(
                entity(EntityKind::ModelRun, run_id),
                1,
                EventKind::ScoresWritten,
                ch,
                now,
            )?;
            Ok(ScoreRunReport {
                run: run_id,
                event_seq: event.seq,
                purchases,
                spend,
                fields: fields.clone(),
                defined_fields,
                written,
                out_of_scope,
                not_writable,
                merged,
            })
        })
    }
}

/// Adds the score fields missing from the customer field schema (as
/// optional decimals), refusing a key already defined with another type.
/// The schema change is recorded in the run's event, not one of its own.
fn define_score_fields(
    b: &mut super::Batch<'_>,
    fields: &ScoreFields,
    obs: &Observation,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>> {
    let current = b.field_schema(EntityKind::Customer)?;
    let mut missing = Vec::new();
    for def in fields.definitions(obs.currency) {
        match current.fields.iter().find(|f| f.key == def.key) {
            Some(f) if f.field_type == FieldType::Decimal => {}
            Some(f) => {
                return Err(Error::invalid(
                    EntityKind::FieldSchema,
                    format!("customer.fields.{}", f.key),
                    f.field_type,
                    "predicted scores are written as decimal numbers; rename or retype this field",
                ));
            }
            None => missing.push(def),
        }
    }
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    b.access
        .check_write_all(Resource::Pipelines, Operation::Update, EntityKind::Customer)?;
    let defined: Vec<String> = missing.iter().map(|f| f.key.clone()).collect();
    let mut all = current.fields.clone();
    all.extend(missing);
    validate_defs(EntityKind::Customer, &all)?;
    let next = current.next(all, now);
    b.tx.put_field_schema(&next)?;
    b.schemas.insert(EntityKind::Customer, next);
    Ok(defined)
}
