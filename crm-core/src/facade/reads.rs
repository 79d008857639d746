//! Read operations shared by [`Session`](super::Session) and [`Batch`](super::Batch).

use crate::activity::Activity;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::error::{EntityKind, Error, Result};
use crate::event::Event;
use crate::id::{ActivityId, CustomerId, DealId, PipelineId};
use crate::pipeline::Pipeline;
use crate::query::{
    ActivityQuery, CustomerQuery, DealQuery, EventQuery, Page, PageRequest, PipelineQuery,
};
use crate::store::ReadTx;

fn check_page(entity: EntityKind, page: &PageRequest) -> Result<()> {
    if page.limit == 0 || page.limit > PageRequest::MAX_LIMIT {
        return Err(Error::invalid(
            entity,
            "page.limit",
            page.limit,
            format!("a page holds 1 to {} items", PageRequest::MAX_LIMIT),
        ));
    }
    Ok(())
}

pub(crate) fn customer(tx: &dyn ReadTx, id: CustomerId) -> Result<Customer> {
    tx.customer(id)?
        .ok_or_else(|| Error::not_found(EntityKind::Customer, id))
}

pub(crate) fn customers(tx: &dyn ReadTx, q: &CustomerQuery) -> Result<Page<Customer>> {
    check_page(EntityKind::Customer, &q.page)?;
    Ok(tx.customers(q)?)
}

pub(crate) fn pipeline(tx: &dyn ReadTx, id: PipelineId) -> Result<Pipeline> {
    tx.pipeline(id)?
        .ok_or_else(|| Error::not_found(EntityKind::Pipeline, id))
}

pub(crate) fn pipelines(tx: &dyn ReadTx, q: &PipelineQuery) -> Result<Page<Pipeline>> {
    check_page(EntityKind::Pipeline, &q.page)?;
    Ok(tx.pipelines(q)?)
}

pub(crate) fn deal(tx: &dyn ReadTx, id: DealId) -> Result<Deal> {
    tx.deal(id)?
        .ok_or_else(|| Error::not_found(EntityKind::Deal, id))
}

pub(crate) fn deals(tx: &dyn ReadTx, q: &DealQuery) -> Result<Page<Deal>> {
    check_page(EntityKind::Deal, &q.page)?;
    Ok(tx.deals(q)?)
}

pub(crate) fn activity(tx: &dyn ReadTx, id: ActivityId) -> Result<Activity> {
    tx.activity(id)?
        .ok_or_else(|| Error::not_found(EntityKind::Activity, id))
}

pub(crate) fn activities(tx: &dyn ReadTx, q: &ActivityQuery) -> Result<Page<Activity>> {
    check_page(EntityKind::Activity, &q.page)?;
    Ok(tx.activities(q)?)
}

pub(crate) fn events(tx: &dyn ReadTx, q: &EventQuery) -> Result<Page<Event>> {
    check_page(EntityKind::Event, &q.page)?;
    Ok(tx.events(q)?)
}
