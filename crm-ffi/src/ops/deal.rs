//! `deal.*`: create, read, change, count and move deals through their
//! pipeline.

use crm_core::query::{DealFilter, DealQuery};
use crm_core::{DealId, DealPatch, NewDeal};
use serde::Deserialize;
use serde_json::json;

use super::{ById, Ctx, Step, Versioned, json, out, req, step};
use crate::status::Failure;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    id: DealId,
    version: u64,
    patch: DealPatch,
}

/// `{"filter"?: DealFilter}`
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Count {
    filter: DealFilter,
}

/// `{"id","version","patch": DealPatch,"reason"}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Correct {
    id: DealId,
    version: u64,
    patch: DealPatch,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    id: DealId,
    version: u64,
    stage: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lose {
    id: DealId,
    version: u64,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoseIn {
    id: DealId,
    version: u64,
    stage: String,
    reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reopen {
    id: DealId,
    version: u64,
    #[serde(default)]
    stage: Option<String>,
}

pub(super) fn create(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let input: NewDeal = req(request)?;
    step(move |b| b.create_deal(input))
}

pub(super) fn get(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.deal(req::<ById<DealId>>(request)?.id))
}

pub(super) fn list(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    out(c.s.deals(&req::<DealQuery>(request)?))
}

pub(super) fn count(c: &Ctx<'_>, request: &str) -> Result<String, Failure> {
    let r: Count = req(request)?;
    json(&json!({"count": c.s.count_deals(&r.filter)?}))
}

pub(super) fn update(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Update = req(request)?;
    step(move |b| b.update_deal(r.id, r.version, r.patch))
}

/// `deal.correct`: changes a won or lost deal's fields with a reason the
/// event records (see `Session::correct_deal`; `deal.update` refuses
/// every change of a closed deal but its owner).
// Until `deal.correct` is in `table.rs`, only the tests reach it.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn correct(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Correct = req(request)?;
    step(move |b| b.correct_deal(r.id, r.version, r.patch, &r.reason))
}

pub(super) fn move_to(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Move = req(request)?;
    step(move |b| b.move_deal(r.id, r.version, &r.stage))
}

pub(super) fn win(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Versioned<DealId> = req(request)?;
    step(move |b| b.win_deal(r.id, r.version))
}

pub(super) fn lose(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Lose = req(request)?;
    step(move |b| b.lose_deal(r.id, r.version, &r.reason))
}

pub(super) fn lose_in(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: LoseIn = req(request)?;
    step(move |b| b.lose_deal_in(r.id, r.version, &r.stage, &r.reason))
}

pub(super) fn reopen(_: &Ctx<'_>, request: &str) -> Result<Step, Failure> {
    let r: Reopen = req(request)?;
    step(move |b| b.reopen_deal(r.id, r.version, r.stage.as_deref()))
}

#[cfg(test)]
mod tests {
    use crm_core::store::Store;
    use crm_core::{Actor, Crm, NewCustomer, PipelineDef};
    use crm_store_memory::MemoryStore;
    use serde_json::{Value, json};

    use super::super::{Ctx, Engine, out};
    use crate::status::CrmStatus;

    /// Runs the `deal.correct` handler as `crm_call` runs a step.
    fn correct(engine: &Engine, request: Value) -> Result<Value, (CrmStatus, String)> {
        let ctx = Ctx {
            s: engine.as_actor(Actor::System),
            engine,
            at: None,
        };
        super::correct(&ctx, &request.to_string())
            .and_then(|step| out(ctx.s.batch(step)))
            .map(|text| serde_json::from_str(&text).expect("response JSON"))
            .map_err(|f| (f.status, f.message))
    }

    #[test]
    fn correct_changes_a_won_deal_with_its_reason_in_the_event() {
        let store: Box<dyn Store> = Box::new(MemoryStore::new());
        let engine: Engine = Crm::new(store);
        let s = engine.as_actor(Actor::System);
        let c = s.create_customer(NewCustomer::person("Ada")).expect("c");
        let p = s
            .create_pipeline(PipelineDef::sales_template("Sales"))
            .expect("p");
        let d = s
            .create_deal(
                crm_core::NewDeal::new(c.id, p.id, "Robots")
                    .amount(crm_core::Money::parse("100", "EUR").expect("money")),
            )
            .expect("deal");
        let open = correct(
            &engine,
            json!({"id": d.id, "version": d.version, "patch": {"title": "X"}, "reason": "typo"}),
        )
        .expect_err("an open deal is not corrected");
        assert_eq!(open.0, CrmStatus::InvalidInput, "{open:?}");
        let won = s.win_deal(d.id, d.version).expect("won");
        let e = correct(
            &engine,
            json!({"id": won.id, "version": won.version,
                   "patch": {"amount": {"amount": "90", "currency": "EUR"}}}),
        )
        .expect_err("the reason is required");
        assert!(e.1.contains("reason"), "{e:?}");
        let fixed = correct(
            &engine,
            json!({"id": won.id, "version": won.version,
                   "patch": {"amount": {"amount": "90", "currency": "EUR"}},
                   "reason": "invoice 42 was 90 EUR"}),
        )
        .expect("corrected");
        assert_eq!(fixed["amount"]["amount"], "90");
        assert_eq!(fixed["status"], "won");
        let events = s
            .events(&crm_core::query::EventQuery::default())
            .expect("events");
        let last = events.items.last().expect("event");
        assert_eq!(
            last.changes
                .last()
                .map(|c| (c.field.as_str(), c.new.clone())),
            Some(("correction_reason", json!("invoice 42 was 90 EUR")))
        );
    }
}
