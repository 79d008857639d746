//! Read operations shared by [`Session`](super::Session) and [`Batch`](super::Batch).
//!
//! Every function takes the actor's [`Access`]: listings AND its scope
//! into the filter the store evaluates; lookups by id report a record
//! outside the scope as not found; everything returned is redacted.
//! This module and `Access` are the only way the facade reads records for
//! a caller.

use crate::access::{Access, OwnerSet, Resource};
use crate::activity::Activity;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::error::{EntityKind, Error, Result};
use crate::event::Event;
use crate::id::{ActivityId, CustomerId, DealId, PipelineId, TeamId, UserId};
use crate::pipeline::Pipeline;
use crate::query::{
    ActivityQuery, CustomerFilter, CustomerQuery, DealFilter, DealQuery, EventQuery, Page,
    PageRequest, PipelineQuery, TeamQuery, UserQuery,
};
use crate::store::ReadTx;
use crate::team::Team;
use crate::user::User;

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

fn redacted<T>(mut page: Page<T>, redact: impl Fn(&mut T)) -> Page<T> {
    page.items.iter_mut().for_each(redact);
    page
}

// ----- unredacted, scoped lookups for the write paths -----

/// The customer as stored, if the actor may read it.
pub(crate) fn customer_in_scope(tx: &dyn ReadTx, acc: &Access, id: CustomerId) -> Result<Customer> {
    tx.customer(id)?
        .filter(|c| acc.can_read(Resource::Customers, c.owner))
        .ok_or_else(|| Error::not_found(EntityKind::Customer, id))
}

/// The deal as stored, if the actor may read it.
pub(crate) fn deal_in_scope(tx: &dyn ReadTx, acc: &Access, id: DealId) -> Result<Deal> {
    tx.deal(id)?
        .filter(|d| acc.can_read(Resource::Deals, d.owner))
        .ok_or_else(|| Error::not_found(EntityKind::Deal, id))
}

/// The activity as stored, if the actor may read it.
pub(crate) fn activity_in_scope(tx: &dyn ReadTx, acc: &Access, id: ActivityId) -> Result<Activity> {
    tx.activity(id)?
        .filter(|a| acc.can_read(Resource::Activities, a.owner))
        .ok_or_else(|| Error::not_found(EntityKind::Activity, id))
}

/// The user as stored, if the actor may read it.
pub(crate) fn user_in_scope(tx: &dyn ReadTx, acc: &Access, id: UserId) -> Result<User> {
    tx.user(id)?
        .filter(|u| acc.can_read(Resource::Users, Some(u.id)))
        .ok_or_else(|| Error::not_found(EntityKind::User, id))
}

// ----- the caller-facing reads -----

pub(crate) fn customer(tx: &dyn ReadTx, acc: &Access, id: CustomerId) -> Result<Customer> {
    let mut c = customer_in_scope(tx, acc, id)?;
    acc.redact_customer(&mut c);
    Ok(c)
}

pub(crate) fn customers(
    tx: &dyn ReadTx,
    acc: &Access,
    q: &CustomerQuery,
) -> Result<Page<Customer>> {
    check_page(EntityKind::Customer, &q.page)?;
    let mut q = q.clone();
    acc.restrict_customers(&mut q.filter)?;
    Ok(redacted(tx.customers(&q)?, |c| acc.redact_customer(c)))
}

pub(crate) fn count_customers(tx: &dyn ReadTx, acc: &Access, f: &CustomerFilter) -> Result<u64> {
    let mut f = f.clone();
    acc.restrict_customers(&mut f)?;
    Ok(tx.count_customers(&f)?)
}

pub(crate) fn pipeline(tx: &dyn ReadTx, acc: &Access, id: PipelineId) -> Result<Pipeline> {
    tx.pipeline(id)?
        .filter(|_| acc.can_read(Resource::Pipelines, None))
        .ok_or_else(|| Error::not_found(EntityKind::Pipeline, id))
}

pub(crate) fn pipelines(
    tx: &dyn ReadTx,
    acc: &Access,
    q: &PipelineQuery,
) -> Result<Page<Pipeline>> {
    check_page(EntityKind::Pipeline, &q.page)?;
    // Pipelines have no owner: only the `all` scope reaches them.
    if acc.read_owners(Resource::Pipelines) != OwnerSet::All {
        return Ok(Page {
            items: Vec::new(),
            next: None,
        });
    }
    Ok(tx.pipelines(q)?)
}

pub(crate) fn deal(tx: &dyn ReadTx, acc: &Access, id: DealId) -> Result<Deal> {
    let mut d = deal_in_scope(tx, acc, id)?;
    acc.redact_deal(&mut d);
    Ok(d)
}

pub(crate) fn deals(tx: &dyn ReadTx, acc: &Access, q: &DealQuery) -> Result<Page<Deal>> {
    check_page(EntityKind::Deal, &q.page)?;
    let mut q = q.clone();
    acc.restrict_deals(&mut q.filter)?;
    Ok(redacted(tx.deals(&q)?, |d| acc.redact_deal(d)))
}

pub(crate) fn count_deals(tx: &dyn ReadTx, acc: &Access, f: &DealFilter) -> Result<u64> {
    let mut f = f.clone();
    acc.restrict_deals(&mut f)?;
    Ok(tx.count_deals(&f)?)
}

pub(crate) fn activity(tx: &dyn ReadTx, acc: &Access, id: ActivityId) -> Result<Activity> {
    let mut a = activity_in_scope(tx, acc, id)?;
    acc.redact_activity(&mut a);
    Ok(a)
}

pub(crate) fn activities(
    tx: &dyn ReadTx,
    acc: &Access,
    q: &ActivityQuery,
) -> Result<Page<Activity>> {
    check_page(EntityKind::Activity, &q.page)?;
    let mut q = q.clone();
    acc.restrict_activities(&mut q.filter)?;
    Ok(redacted(tx.activities(&q)?, |a| acc.redact_activity(a)))
}

pub(crate) fn events(tx: &dyn ReadTx, acc: &Access, q: &EventQuery) -> Result<Page<Event>> {
    check_page(EntityKind::Event, &q.page)?;
    let mut q = q.clone();
    acc.restrict_events(&mut q.filter)?;
    Ok(redacted(tx.events(&q)?, |e| acc.redact_event(e)))
}

pub(crate) fn user(tx: &dyn ReadTx, acc: &Access, id: UserId) -> Result<User> {
    user_in_scope(tx, acc, id)
}

pub(crate) fn users(tx: &dyn ReadTx, acc: &Access, q: &UserQuery) -> Result<Page<User>> {
    check_page(EntityKind::User, &q.page)?;
    let mut q = q.clone();
    acc.restrict_users(&mut q.filter)?;
    Ok(tx.users(&q)?)
}

pub(crate) fn team(tx: &dyn ReadTx, acc: &Access, id: TeamId) -> Result<Team> {
    tx.team(id)?
        .filter(|t| acc.can_read_team(t.id))
        .ok_or_else(|| Error::not_found(EntityKind::Team, id))
}

pub(crate) fn teams(tx: &dyn ReadTx, acc: &Access, q: &TeamQuery) -> Result<Page<Team>> {
    check_page(EntityKind::Team, &q.page)?;
    let mut q = q.clone();
    acc.restrict_teams(&mut q.filter)?;
    Ok(tx.teams(&q)?)
}
