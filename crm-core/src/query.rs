//! Filters, ordering and cursor pagination for listing records.
//!
//! A [`Query`] combines a filter, an order, a direction and a
//! [`PageRequest`]. Results come back a [`Page`] at a time, ordered by the
//! chosen key and then by id (so the order is total and stable). The page's
//! `next` cursor continues strictly after the last item returned: records
//! inserted or changed meanwhile never make a page repeat or skip an item
//! that kept its sort key. A cursor belongs to the order it was made for;
//! passing it to another order is an error.
//!
//! The `matches` methods on the filters are the reference semantics: a store
//! that pushes a filter down to SQL must return exactly what they accept.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::activity::{Activity, ActivityKind};
use crate::actor::Actor;
use crate::contact::Email;
use crate::customer::{Customer, Lifecycle, PartyKind, Role};
use crate::deal::{Deal, DealStatus};
use crate::error::{EntityKind, StoreError};
use crate::event::{EntityRef, Event};
use crate::id::{CustomerId, DealId, PipelineId, TeamId, UserId};
use crate::pipeline::{Pipeline, StageKey};
use crate::tag::Tag;
use crate::team::Team;
use crate::user::User;

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// Which page to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct PageRequest {
    /// At most this many items (1 to [`PageRequest::MAX_LIMIT`]).
    pub limit: u32,
    /// Continue after this cursor (from a previous page's `next`).
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// The largest page size ([`MAX_PAGE_SIZE`](crate::limits::MAX_PAGE_SIZE)).
    pub const MAX_LIMIT: u32 = crate::limits::MAX_PAGE_SIZE;
    /// The default page size.
    pub const DEFAULT_LIMIT: u32 = 50;
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: Self::DEFAULT_LIMIT,
            after: None,
        }
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` when this is the last page.
    pub next: Option<Cursor>,
}

/// An opaque position in an ordered listing. Pass it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Cursor(String);

/// The value a record is sorted by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SortValue {
    /// An integer key (times as epoch milliseconds, sequence numbers).
    Int(i64),
    /// A text key, compared byte-wise (UTF-8 order).
    Text(String),
}

impl Cursor {
    /// The cursor just after an item with sort `value` and `id`, for the order named `order`.
    pub fn new(order: &str, value: &SortValue, id: Uuid) -> Cursor {
        match value {
            SortValue::Int(i) => Cursor(format!("{order}|i|{}|{i}", id.simple())),
            SortValue::Text(t) => Cursor(format!("{order}|t|{}|{t}", id.simple())),
        }
    }

    /// Wraps a cursor string received from a caller.
    pub fn from_string(s: impl Into<String>) -> Cursor {
        Cursor(s.into())
    }

    /// The cursor text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Decodes the cursor for the order named `order`.
    pub fn decode(&self, order: &str) -> Result<(SortValue, Uuid), StoreError> {
        let bad = || StoreError::InvalidCursor(self.0.clone());
        let mut parts = self.0.splitn(4, '|');
        let (Some(o), Some(t), Some(id), Some(v)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        if o != order {
            return Err(bad());
        }
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        let value = match t {
            "i" => SortValue::Int(v.parse().map_err(|_| bad())?),
            "t" => SortValue::Text(v.to_owned()),
            _ => return Err(bad()),
        };
        Ok((value, id))
    }
}

/// A record that can be listed.
pub trait Record: Clone {
    /// Its id as a UUID (the tie-breaker in every order).
    fn uuid(&self) -> Uuid;
}

/// A filter over records of type `T`.
pub trait Filter<T> {
    /// True when `item` passes. This is the reference semantics.
    fn matches(&self, item: &T) -> bool;
}

/// An order over records of type `T`.
pub trait Order<T> {
    /// A stable name, embedded in cursors.
    fn name(&self) -> &'static str;
    /// The value `item` sorts by.
    fn value(&self, item: &T) -> SortValue;
}

/// A listing request: filter, order, direction and page.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(bound = "F: schemars::JsonSchema + Default, O: schemars::JsonSchema + Default")
)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct Query<F, O> {
    /// Which records.
    pub filter: F,
    /// Sorted by what.
    pub order: O,
    /// Ascending or descending.
    pub direction: SortDirection,
    /// Which page.
    pub page: PageRequest,
}

impl<F: Default, O: Default> Query<F, O> {
    /// All records in the default order, first page.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Feeds every record `q` selects to `each`, fetching them page by page
/// (largest pages) from `q`'s order and filter, so memory stays bounded.
pub(crate) fn for_each<T, F, O, E, E1>(
    mut q: Query<F, O>,
    mut fetch: impl FnMut(&Query<F, O>) -> Result<Page<T>, E1>,
    mut each: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<E1>,
{
    q.page = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    loop {
        let page = fetch(&q)?;
        for item in page.items {
            each(item)?;
        }
        match page.next {
            Some(cursor) => q.page.after = Some(cursor),
            None => return Ok(()),
        }
    }
}

/// Every record `filter` selects, in the default order, for work that
/// needs them all at once (merges, imports, duplicate searches).
pub(crate) fn fetch_all<T, F, O: Default, E>(
    filter: F,
    fetch: impl FnMut(&Query<F, O>) -> Result<Page<T>, E>,
) -> Result<Vec<T>, E> {
    let q = Query {
        filter,
        order: O::default(),
        direction: SortDirection::default(),
        page: PageRequest::default(),
    };
    let mut out = Vec::new();
    for_each(q, fetch, |item| -> Result<(), E> {
        out.push(item);
        Ok(())
    })?;
    Ok(out)
}

impl<F, O> Query<F, O> {
    /// Sets the filter.
    pub fn filter(mut self, filter: F) -> Self {
        self.filter = filter;
        self
    }

    /// Sets the order (ascending unless [`Query::desc`] is called).
    pub fn order(mut self, order: O) -> Self {
        self.order = order;
        self
    }

    /// Sorts descending.
    pub fn desc(mut self) -> Self {
        self.direction = SortDirection::Desc;
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.page.limit = limit;
        self
    }

    /// Continues after `cursor`.
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.page.after = cursor;
        self
    }
}

/// Lists `items` the way every store must: filter, order by (key, id) in the
/// query's direction, start strictly after the cursor, return at most
/// `limit` items and a `next` cursor if more remain.
///
/// The in-memory store uses this directly; other stores use it as the
/// reference their own implementation is tested against.
pub fn paginate<'a, T, F, O>(
    items: impl IntoIterator<Item = &'a T>,
    query: &Query<F, O>,
) -> Result<Page<T>, StoreError>
where
    T: Record + 'a,
    F: Filter<T>,
    O: Order<T>,
{
    let order_name = query.order.name();
    let after = query
        .page
        .after
        .as_ref()
        .map(|c| c.decode(order_name))
        .transpose()?;
    let desc = query.direction == SortDirection::Desc;
    let mut rows: Vec<(SortValue, Uuid, &T)> = items
        .into_iter()
        .filter(|item| query.filter.matches(item))
        .map(|item| (query.order.value(item), item.uuid(), item))
        .filter(|(v, id, _)| match &after {
            None => true,
            Some((av, aid)) => {
                let ord = (v, id).cmp(&(av, aid));
                if desc { ord.is_lt() } else { ord.is_gt() }
            }
        })
        .collect();
    let cmp = |a: &(SortValue, Uuid, &T), b: &(SortValue, Uuid, &T)| {
        let ord = (&a.0, &a.1).cmp(&(&b.0, &b.1));
        if desc { ord.reverse() } else { ord }
    };
    let limit = query.page.limit.max(1) as usize;
    if rows.len() > limit + 1 {
        rows.select_nth_unstable_by(limit, cmp);
        rows.truncate(limit + 1);
    }
    rows.sort_unstable_by(cmp);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last()
            .map(|(v, id, _)| Cursor::new(order_name, v, *id))
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(|(_, _, item)| item.clone()).collect(),
        next,
    })
}

fn millis(t: DateTime<Utc>) -> SortValue {
    SortValue::Int(t.timestamp_millis())
}

// ----- customers -----

/// Which customers to list. Every set field must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct CustomerFilter {
    /// Person or organisation.
    pub kind: Option<PartyKind>,
    /// Lifecycle state.
    pub lifecycle: Option<Lifecycle>,
    /// Has this role.
    pub role: Option<Role>,
    /// Owned by this user.
    pub owner: Option<UserId>,
    /// Has this tag.
    pub tag: Option<Tag>,
    /// Belongs to this organisation.
    pub organisation: Option<CustomerId>,
    /// Has this e-mail address.
    pub email: Option<Email>,
    /// Name contains this text, ignoring ASCII case.
    pub name_contains: Option<String>,
    /// Also list customers merged into others (left out by default).
    pub include_merged: bool,
    /// Owned by one of these users (unowned customers never match; an
    /// empty list matches nothing). The facade ANDs the actor's read scope
    /// in here.
    pub owner_in: Option<Vec<UserId>>,
}

fn owner_in(set: &Option<Vec<UserId>>, owner: Option<UserId>) -> bool {
    set.as_ref()
        .is_none_or(|s| owner.is_some_and(|o| s.contains(&o)))
}

impl Filter<Customer> for CustomerFilter {
    fn matches(&self, c: &Customer) -> bool {
        self.kind.is_none_or(|k| c.kind == k)
            && self.lifecycle.is_none_or(|l| c.lifecycle == l)
            && self.role.is_none_or(|r| c.roles.contains(&r))
            && self.owner.is_none_or(|o| c.owner == Some(o))
            && self.tag.as_ref().is_none_or(|t| c.tags.contains(t))
            && self.organisation.is_none_or(|o| c.organisation == Some(o))
            && self.email.as_ref().is_none_or(|e| c.emails.contains(e))
            && (self.include_merged || c.merged_into.is_none())
            && self.name_contains.as_ref().is_none_or(|n| {
                c.name
                    .to_ascii_lowercase()
                    .contains(&n.to_ascii_lowercase())
            })
            && owner_in(&self.owner_in, c.owner)
    }
}

/// How to order customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CustomerOrder {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By last change.
    UpdatedAt,
    /// By name (byte-wise).
    Name,
}

impl Order<Customer> for CustomerOrder {
    fn name(&self) -> &'static str {
        match self {
            CustomerOrder::CreatedAt => "created_at",
            CustomerOrder::UpdatedAt => "updated_at",
            CustomerOrder::Name => "name",
        }
    }
    fn value(&self, c: &Customer) -> SortValue {
        match self {
            CustomerOrder::CreatedAt => millis(c.created_at),
            CustomerOrder::UpdatedAt => millis(c.updated_at),
            CustomerOrder::Name => SortValue::Text(c.name.clone()),
        }
    }
}

impl Record for Customer {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// A customer listing.
pub type CustomerQuery = Query<CustomerFilter, CustomerOrder>;

// ----- pipelines -----

/// Which pipelines to list (all of them; reserved for future criteria).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct PipelineFilter {}

impl Filter<Pipeline> for PipelineFilter {
    fn matches(&self, _: &Pipeline) -> bool {
        true
    }
}

/// How to order pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PipelineOrder {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By name.
    Name,
}

impl Order<Pipeline> for PipelineOrder {
    fn name(&self) -> &'static str {
        match self {
            PipelineOrder::CreatedAt => "created_at",
            PipelineOrder::Name => "name",
        }
    }
    fn value(&self, p: &Pipeline) -> SortValue {
        match self {
            PipelineOrder::CreatedAt => millis(p.created_at),
            PipelineOrder::Name => SortValue::Text(p.name.clone()),
        }
    }
}

impl Record for Pipeline {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// A pipeline listing.
pub type PipelineQuery = Query<PipelineFilter, PipelineOrder>;

// ----- deals -----

/// Which deals to list. Every set field must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct DealFilter {
    /// In this pipeline.
    pub pipeline: Option<PipelineId>,
    /// In this stage (usually with `pipeline`).
    pub stage: Option<StageKey>,
    /// Open, won or lost.
    pub status: Option<DealStatus>,
    /// With this customer.
    pub customer: Option<CustomerId>,
    /// Owned by this user.
    pub owner: Option<UserId>,
    /// Owned by one of these users (see [`CustomerFilter::owner_in`]).
    pub owner_in: Option<Vec<UserId>>,
    /// With (`true`) or without (`false`) an amount.
    pub amount_set: Option<bool>,
}

impl Filter<Deal> for DealFilter {
    fn matches(&self, d: &Deal) -> bool {
        self.pipeline.is_none_or(|p| d.pipeline == p)
            && self.stage.as_ref().is_none_or(|s| &d.stage == s)
            && self.status.is_none_or(|s| d.status == s)
            && self.customer.is_none_or(|c| d.customer == c)
            && self.owner.is_none_or(|o| d.owner == Some(o))
            && owner_in(&self.owner_in, d.owner)
            && self.amount_set.is_none_or(|b| d.amount.is_some() == b)
    }
}

/// How to order deals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DealOrder {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By last change.
    UpdatedAt,
    /// By title (byte-wise).
    Title,
}

impl Order<Deal> for DealOrder {
    fn name(&self) -> &'static str {
        match self {
            DealOrder::CreatedAt => "created_at",
            DealOrder::UpdatedAt => "updated_at",
            DealOrder::Title => "title",
        }
    }
    fn value(&self, d: &Deal) -> SortValue {
        match self {
            DealOrder::CreatedAt => millis(d.created_at),
            DealOrder::UpdatedAt => millis(d.updated_at),
            DealOrder::Title => SortValue::Text(d.title.clone()),
        }
    }
}

impl Record for Deal {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// A deal listing.
pub type DealQuery = Query<DealFilter, DealOrder>;

// ----- activities -----

/// Which activities to list. Every set field must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct ActivityFilter {
    /// Linked to this customer.
    pub customer: Option<CustomerId>,
    /// Linked to this deal.
    pub deal: Option<DealId>,
    /// Of this kind.
    pub kind: Option<ActivityKind>,
    /// Owned by (assigned to) this user.
    pub owner: Option<UserId>,
    /// Only tasks not yet completed.
    pub open_tasks_only: bool,
    /// Only activities due strictly before this time (tasks without a due time never match).
    pub due_before: Option<DateTime<Utc>>,
    /// Owned by (assigned to) one of these users (see [`CustomerFilter::owner_in`]).
    pub owner_in: Option<Vec<UserId>>,
}

impl Filter<Activity> for ActivityFilter {
    fn matches(&self, a: &Activity) -> bool {
        self.customer.is_none_or(|c| a.customer == Some(c))
            && self.deal.is_none_or(|d| a.deal == Some(d))
            && self.kind.is_none_or(|k| a.kind == k)
            && self.owner.is_none_or(|o| a.owner == Some(o))
            && (!self.open_tasks_only || a.is_open_task())
            && self
                .due_before
                .is_none_or(|t| a.due_at.is_some_and(|due| due < t))
            && owner_in(&self.owner_in, a.owner)
    }
}

/// How to order activities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActivityOrder {
    /// By when it happened (the timeline).
    #[default]
    OccurredAt,
    /// By when it was recorded.
    CreatedAt,
}

impl Order<Activity> for ActivityOrder {
    fn name(&self) -> &'static str {
        match self {
            ActivityOrder::OccurredAt => "occurred_at",
            ActivityOrder::CreatedAt => "created_at",
        }
    }
    fn value(&self, a: &Activity) -> SortValue {
        match self {
            ActivityOrder::OccurredAt => millis(a.occurred_at),
            ActivityOrder::CreatedAt => millis(a.created_at),
        }
    }
}

impl Record for Activity {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// An activity listing.
pub type ActivityQuery = Query<ActivityFilter, ActivityOrder>;

// ----- events -----

/// Which events to list. Every set field must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct EventFilter {
    /// About this record.
    pub entity: Option<EntityRef>,
    /// About records of this kind.
    pub entity_kind: Option<EntityKind>,
    /// Made by this actor.
    pub actor: Option<Actor>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Strictly before this time.
    pub to: Option<DateTime<Utc>>,
    /// Made by one of these users (system events never match; an empty
    /// list matches nothing). The facade ANDs the actor's event scope in here.
    pub actor_in: Option<Vec<UserId>>,
}

impl Filter<Event> for EventFilter {
    fn matches(&self, e: &Event) -> bool {
        self.entity.is_none_or(|r| e.entity == r)
            && self.entity_kind.is_none_or(|k| e.entity.kind == k)
            && self.actor.is_none_or(|a| e.actor == a)
            && self.from.is_none_or(|t| e.at >= t)
            && self.to.is_none_or(|t| e.at < t)
            && owner_in(&self.actor_in, e.actor.user())
    }
}

/// Events are ordered by their sequence number, i.e. the order they were committed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventOrder {
    /// By [`Event::seq`].
    #[default]
    Seq,
}

impl Order<Event> for EventOrder {
    fn name(&self) -> &'static str {
        "seq"
    }
    fn value(&self, e: &Event) -> SortValue {
        SortValue::Int(i64::try_from(e.seq).unwrap_or(i64::MAX))
    }
}

impl Record for Event {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// An event-log listing.
pub type EventQuery = Query<EventFilter, EventOrder>;

// ----- users and teams -----

/// Which users to list. Every set field must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct UserFilter {
    /// Active or deactivated.
    pub active: Option<bool>,
    /// Member of this team.
    pub team: Option<TeamId>,
    /// One of these users (an empty list matches nothing).
    pub id_in: Option<Vec<UserId>>,
}

impl Filter<User> for UserFilter {
    fn matches(&self, u: &User) -> bool {
        self.active.is_none_or(|a| u.active == a)
            && self.team.is_none_or(|t| u.teams.contains(&t))
            && owner_in(&self.id_in, Some(u.id))
    }
}

/// How to order users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UserOrder {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By name (byte-wise).
    Name,
}

impl Order<User> for UserOrder {
    fn name(&self) -> &'static str {
        match self {
            UserOrder::CreatedAt => "created_at",
            UserOrder::Name => "name",
        }
    }
    fn value(&self, u: &User) -> SortValue {
        match self {
            UserOrder::CreatedAt => millis(u.created_at),
            UserOrder::Name => SortValue::Text(u.name.clone()),
        }
    }
}

impl Record for User {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// A user listing.
pub type UserQuery = Query<UserFilter, UserOrder>;

/// Which teams to list. Every set field must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct TeamFilter {
    /// Managed by this user.
    pub manager: Option<UserId>,
    /// One of these teams (an empty list matches nothing).
    pub id_in: Option<Vec<TeamId>>,
}

impl Filter<Team> for TeamFilter {
    fn matches(&self, t: &Team) -> bool {
        self.manager.is_none_or(|m| t.manager == Some(m))
            && self.id_in.as_ref().is_none_or(|s| s.contains(&t.id))
    }
}

/// How to order teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TeamOrder {
    /// By creation time.
    #[default]
    CreatedAt,
    /// By name (byte-wise).
    Name,
}

impl Order<Team> for TeamOrder {
    fn name(&self) -> &'static str {
        match self {
            TeamOrder::CreatedAt => "created_at",
            TeamOrder::Name => "name",
        }
    }
    fn value(&self, t: &Team) -> SortValue {
        match self {
            TeamOrder::CreatedAt => millis(t.created_at),
            TeamOrder::Name => SortValue::Text(t.name.clone()),
        }
    }
}

impl Record for Team {
    fn uuid(&self) -> Uuid {
        self.id.as_uuid()
    }
}

/// A team listing.
pub type TeamQuery = Query<TeamFilter, TeamOrder>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Item(u128, i64);
    impl Record for Item {
        fn uuid(&self) -> Uuid {
            Uuid::from_u128(self.0)
        }
    }
    #[derive(Default)]
    struct All;
    impl Filter<Item> for All {
        fn matches(&self, _: &Item) -> bool {
            true
        }
    }
    #[derive(Default)]
    struct ByVal;
    impl Order<Item> for ByVal {
        fn name(&self) -> &'static str {
            "v"
        }
        fn value(&self, i: &Item) -> SortValue {
            SortValue::Int(i.1)
        }
    }

    fn all_pages(items: &[Item], limit: u32, desc: bool) -> Vec<Item> {
        let mut q: Query<All, ByVal> = Query::new().limit(limit);
        if desc {
            q = q.desc();
        }
        let mut out = Vec::new();
        loop {
            let page = paginate(items, &q).unwrap();
            assert!(page.items.len() <= limit as usize);
            out.extend(page.items);
            match page.next {
                Some(c) => q = q.after(Some(c)),
                None => return out,
            }
        }
    }

    #[test]
    fn pages_are_complete_ordered_and_tie_broken_by_id() {
        let items: Vec<Item> = (0..23u128)
            .map(|i| Item(1000 - i, (i % 5) as i64))
            .collect();
        let mut expected = items.clone();
        expected.sort_by_key(|i| (i.1, i.0));
        for limit in [1, 2, 5, 22, 23, 24, 100] {
            assert_eq!(all_pages(&items, limit, false), expected, "limit {limit}");
            let mut rev = expected.clone();
            rev.reverse();
            assert_eq!(all_pages(&items, limit, true), rev, "limit {limit} desc");
        }
    }

    #[test]
    fn cursors_are_checked() {
        let c = Cursor::new("name", &SortValue::Text("a|b".into()), Uuid::from_u128(7));
        assert_eq!(
            c.decode("name").unwrap(),
            (SortValue::Text("a|b".into()), Uuid::from_u128(7))
        );
        assert!(c.decode("created_at").is_err());
        assert!(Cursor::from_string("garbage").decode("name").is_err());
        let q: Query<All, ByVal> = Query::new().after(Some(Cursor::from_string("v|i|zz|1")));
        assert!(matches!(
            paginate(&[Item(1, 1)], &q),
            Err(StoreError::InvalidCursor(_))
        ));
    }
}
