//! Segments through the facade: saved segments (create, update, delete,
//! read, list), evaluation of saved or ad-hoc expressions, RFM and ABC.
//!
//! Every record these operations read comes through one private helper,
//! [`Session::visible_records`], so that record-level visibility can be
//! applied at that single point.

use chrono::{DateTime, Utc};

use super::Session;
use crate::access::{Access, Field, Operation, Resource};
use crate::activity::Activity;
use crate::currency::Currency;
use crate::custom_field::FieldSchema;
use crate::customer::Customer;
use crate::deal::Deal;
use crate::error::{EntityKind, Error, Result};
use crate::event::{Changes, EntityRef, EventKind, NewEvent};
use crate::id::{CustomerId, EventId, SegmentId};
use crate::query::{ActivityFilter, Cursor, DealFilter, Page, PageRequest, SortValue};
use crate::segment::Field as SegField;
use crate::segment::abc::{self, AbcCutoffs, CustomerAbc};
use crate::segment::custom::check_custom_fields;
use crate::segment::eval::{self, Derived, Needs};
use crate::segment::rfm::{self, CustomerRfm};
use crate::segment::{
    Expr, Revenue, Segment, SegmentPatch, SegmentQuery, SegmentResult, Window, validate_expr,
    validate_name,
};
use crate::store::{ReadTx, Store, WriteTx};

/// One record handed out by [`Session::visible_records`].
enum Visited<'a> {
    Deal(&'a Deal),
    Activity(&'a Activity),
    /// A customer passing the pre-filter, with its record when asked for.
    Customer(CustomerId, Option<&'a Customer>),
}

/// What an evaluation needs to read.
struct Wanted<'e> {
    /// Only customers matching this expression are visited (the store may
    /// evaluate it itself; otherwise it must be attribute-only).
    prefilter: &'e Expr,
    /// Visit nothing unless the store evaluates `prefilter` itself.
    pushed_only: bool,
    /// Visit customers with their records (not only their ids).
    customer_records: bool,
    /// Visit the deals matching this filter (none when `None`).
    deals: Option<DealFilter>,
    /// Visit every activity.
    activities: bool,
}

const RESULT_ORDER: &str = "segment";

/// The event a segment write appends: record, version after, kind, fields.
type Change = (SegmentId, u64, EventKind, Changes);

impl<S: Store> Session<'_, S> {
    fn segment_now(&self) -> DateTime<Utc> {
        self.at.unwrap_or_else(|| self.crm.now())
    }

    /// The single point through which segment evaluation, RFM and ABC read
    /// records: first every wanted deal, then every wanted activity, then
    /// the customers passing `wanted.prefilter`. Returns whether the store
    /// evaluated the pre-filter itself (with `wanted.pushed_only`, nothing
    /// is visited when it did not).
    ///
    /// The actor's read scope applies here: only deals, activities and
    /// customers the actor may read are visited, so a segment counts and
    /// aggregates what its user can see. The pre-filter goes to the store
    /// with the actor's [`ReadScope`](crate::access::ReadScope)
    /// ([`ReadTx::segment_push_down_scoped`]), which answers only with
    /// customers in reach, and evaluates deal and activity predicates on
    /// the deals and activities in reach only; when the store declines,
    /// customers are scanned and filtered here by the same rule.
    fn visible_records(
        &self,
        tx: &dyn ReadTx,
        access: &Access,
        wanted: &Wanted<'_>,
        now: DateTime<Utc>,
        visit: &mut dyn FnMut(Visited<'_>),
    ) -> Result<bool> {
        let pushed = tx.segment_push_down_scoped(wanted.prefilter, now, &access.read_scope())?;
        if pushed.is_none() && wanted.pushed_only {
            return Ok(false);
        }
        if let Some(filter) = &wanted.deals {
            let mut filter = filter.clone();
            access.restrict_deals(&mut filter)?;
            tx.scan_deals(&filter, &mut |d| visit(Visited::Deal(d)))?;
        }
        if wanted.activities {
            let mut filter = ActivityFilter::default();
            access.restrict_activities(&mut filter)?;
            tx.scan_activities(&filter, &mut |a| visit(Visited::Activity(a)))?;
        }
        match pushed {
            Some(ids) => {
                for id in ids {
                    if wanted.customer_records {
                        if let Some(c) = tx.customer(id)? {
                            visit(Visited::Customer(id, Some(&c)));
                        }
                    } else {
                        visit(Visited::Customer(id, None));
                    }
                }
            }
            None => {
                let none = Derived::new(Needs::default(), now);
                tx.scan_customers(&mut |c| {
                    // Customers merged into others are never part of a segment.
                    if !c.is_merged()
                        && access.can_read(Resource::Customers, c.owner)
                        && eval::matches(wanted.prefilter, c, &none)
                    {
                        visit(Visited::Customer(c.id, Some(c)));
                    }
                })?;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The ids of every customer matching `expr`, ascending.
    fn matching_ids(
        &self,
        tx: &dyn ReadTx,
        access: &Access,
        expr: &Expr,
    ) -> Result<Vec<CustomerId>> {
        validate_expr(expr)?;
        // Field rules first: the schema check's message lists the custom
        // fields, which an actor who may not read them must not learn.
        require_readable_fields(access, expr)?;
        check_custom(tx, expr)?;
        let now = self.segment_now();
        // First ask the store for the whole answer.
        let whole = Wanted {
            prefilter: expr,
            pushed_only: true,
            customer_records: false,
            deals: None,
            activities: false,
        };
        let mut ids = Vec::new();
        let pushed = self.visible_records(tx, access, &whole, now, &mut |v| {
            if let Visited::Customer(id, _) = v {
                ids.push(id);
            }
        })?;
        if pushed {
            ids.sort_unstable();
            return Ok(ids);
        }
        // Otherwise the store may still pre-filter on the attribute-only
        // conjuncts; the reference evaluates the rest.
        let (prefilter, rest) = split(expr);
        let needs = Needs::of(&rest)?;
        let wanted = Wanted {
            prefilter: &prefilter,
            pushed_only: false,
            customer_records: needs.attributes,
            deals: needs.deal_filter(),
            activities: needs.activities,
        };
        let mut derived = Derived::new(needs, now);
        let mut finished: Option<Result<()>> = None;
        self.visible_records(tx, access, &wanted, now, &mut |v| match v {
            Visited::Deal(d) => derived.add_deal(d),
            Visited::Activity(a) => derived.add_activity(a),
            Visited::Customer(id, c) => {
                let ok = finished.get_or_insert_with(|| derived.finish()).is_ok();
                if ok && eval::matches_id(&rest, id, c, &derived) {
                    ids.push(id);
                }
            }
        })?;
        finished.unwrap_or_else(|| derived.finish())?;
        ids.sort_unstable();
        Ok(ids)
    }

    /// Refuses a bad page request before any work is done.
    fn check_page(page: &PageRequest) -> Result<()> {
        if page.limit == 0 || page.limit > PageRequest::MAX_LIMIT {
            return Err(Error::invalid(
                EntityKind::Segment,
                "page.limit",
                page.limit,
                format!("a page holds 1 to {} items", PageRequest::MAX_LIMIT),
            ));
        }
        if let Some(cursor) = &page.after {
            cursor.decode(RESULT_ORDER)?;
        }
        Ok(())
    }

    fn result_page(ids: Vec<CustomerId>, page: &PageRequest) -> Result<SegmentResult> {
        Self::check_page(page)?;
        let start = match &page.after {
            None => 0,
            Some(cursor) => {
                let (_, after) = cursor.decode(RESULT_ORDER)?;
                ids.partition_point(|id| id.as_uuid() <= after)
            }
        };
        let limit = page.limit as usize;
        let end = start.saturating_add(limit).min(ids.len());
        let items = ids[start..end].to_vec();
        let next = if end < ids.len() {
            items
                .last()
                .map(|id| Cursor::new(RESULT_ORDER, &SortValue::Int(0), id.as_uuid()))
        } else {
            None
        };
        Ok(SegmentResult {
            count: ids.len() as u64,
            page: Page { items, next },
        })
    }

    /// Evaluates an expression that is not saved: how many customers match
    /// and one page of their ids (ascending). Relative windows (`within
    /// 30d`, `won_amount(EUR, 365d)`) end at the engine's now (or the
    /// session's [`at`](Session::at) time).
    ///
    /// Each call evaluates afresh; pass `page.after` from the previous
    /// result's `page.next` to continue. `field.KEY` predicates are checked
    /// against the customer field schema first ([`crate::segment::custom`]):
    /// an unknown key or a test the field's type cannot take is an
    /// [`Error::Invalid`] on `field.KEY`.
    ///
    /// A user's evaluation counts only the customers, deals and activities
    /// they may read ([access docs](crate::access#segment-evaluation)),
    /// and a test on a field their roles hide is an [`Error::FieldHidden`]:
    ///
    /// ```
    /// use crm_core::{AccessRole, Actor, Crm, Error, NewCustomer, NewDeal, NewTeam, NewUser, PageRequest, PipelineDef};
    /// use crm_store_memory::MemoryStore;
    ///
    /// let crm = Crm::new(MemoryStore::new());
    /// let system = crm.as_actor(Actor::System);
    /// let north = system.create_team(NewTeam::new("North"))?;
    /// let south = system.create_team(NewTeam::new("South"))?;
    /// let rep = |name: &str, team| system.create_user(
    ///     NewUser::new(name, format!("{name}@example.com")).role(AccessRole::SalesRep).team(team));
    /// let (rita, sven) = (rep("rita", north.id)?, rep("sven", south.id)?);
    /// let sam = system.create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))?;
    /// let p = system.create_pipeline(PipelineDef::sales_template("Sales"))?;
    /// let acme = system.create_customer(NewCustomer::organisation("ACME").owner(rita.id))?;
    /// system.create_customer(NewCustomer::organisation("Initech").owner(sven.id))?;
    /// // Sven's deal on Rita's customer: Rita does not see it.
    /// system.create_deal(NewDeal::new(acme.id, p.id, "Robots").owner(sven.id))?;
    ///
    /// let open: crm_core::segment::Expr = "open_deals >= 1".parse()?;
    /// let all: crm_core::segment::Expr = "kind = organisation".parse()?;
    /// let page = PageRequest::default();
    /// assert_eq!(system.evaluate_expr(&open, &page)?.count, 1);
    /// assert_eq!(crm.as_user(rita.id).evaluate_expr(&all, &page)?.count, 1);
    /// assert_eq!(crm.as_user(rita.id).evaluate_expr(&open, &page)?.count, 0);
    /// // Support may not see deal amounts, so may not segment by revenue.
    /// let revenue = "won_amount(EUR) > 0".parse()?;
    /// assert!(matches!(
    ///     crm.as_user(sam.id).evaluate_expr(&revenue, &page),
    ///     Err(Error::FieldHidden { .. })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn evaluate_expr(&self, expr: &Expr, page: &PageRequest) -> Result<SegmentResult> {
        Self::check_page(page)?;
        let ids = self.with_access(|tx, access| self.matching_ids(tx, access, expr))?;
        Self::result_page(ids, page)
    }

    /// Evaluates the saved segment `id`, like [`Session::evaluate_expr`].
    pub fn evaluate_segment(&self, id: SegmentId, page: &PageRequest) -> Result<SegmentResult> {
        Self::check_page(page)?;
        let ids = self.with_access(|tx, access| {
            let seg = readable_segment(tx, access, id)?;
            self.matching_ids(tx, access, &seg.expression)
        })?;
        Self::result_page(ids, page)
    }

    /// Counts won deals per customer for `selection`, visible customers only.
    fn purchases(
        &self,
        selection: Revenue,
    ) -> Result<std::collections::HashMap<CustomerId, rfm::Purchases>> {
        let now = self.segment_now();
        let needs = Needs {
            revenues: vec![selection],
            ..Needs::default()
        };
        let all = Expr::Const(true);
        let wanted = Wanted {
            prefilter: &all,
            pushed_only: false,
            customer_records: false,
            deals: Some(DealFilter {
                status: Some(crate::deal::DealStatus::Won),
                ..DealFilter::default()
            }),
            activities: false,
        };
        let mut derived = Derived::new(needs, now);
        // Deals come first; then each visible customer takes its counts.
        let mut counted = None;
        let mut visible = std::collections::HashMap::new();
        self.with_access(|tx, access| {
            // RFM and ABC rank customers by the amounts of their deals.
            access.require_readable(Field::DealAmount)?;
            self.visible_records(tx, access, &wanted, now, &mut |v| match v {
                Visited::Deal(d) => derived.add_deal(d),
                Visited::Activity(_) => {}
                Visited::Customer(id, _) => {
                    let all = counted.get_or_insert_with(|| derived.take_purchases(&selection));
                    if let Some(p) = all.remove(&id) {
                        visible.insert(id, p);
                    }
                }
            })
        })?;
        derived.finish()?; // reports an overflowing sum
        Ok(visible)
    }

    /// RFM scores of every customer with a won deal in `currency` within
    /// `window` (all time when `None`), ascending by customer id. See
    /// [`crate::segment::rfm`] for the scoring and the named segments.
    pub fn rfm(&self, currency: Currency, window: Option<Window>) -> Result<Vec<CustomerRfm>> {
        let p = self.purchases(Revenue { currency, window })?;
        Ok(rfm::score(&p))
    }

    /// ABC classification of customers by the revenue of their deals won in
    /// `currency` within `window`, largest first. See
    /// [`crate::segment::abc`].
    pub fn abc(
        &self,
        currency: Currency,
        window: Option<Window>,
        cutoffs: AbcCutoffs,
    ) -> Result<Vec<CustomerAbc>> {
        cutoffs.validate()?;
        let p = self.purchases(Revenue { currency, window })?;
        let revenues: Vec<(CustomerId, rust_decimal::Decimal)> =
            p.into_iter().map(|(id, p)| (id, p.total)).collect();
        abc::classify(&revenues, cutoffs)
    }

    // ----- saved segments -----

    /// One write transaction that appends exactly one event.
    fn segment_write<T>(
        &self,
        work: impl FnOnce(&mut dyn WriteTx, &Access, DateTime<Utc>) -> Result<(T, Option<Change>)>,
    ) -> Result<T> {
        let mut tx = self.crm.store.write()?;
        let access = Access::load(&*tx, self.actor)?;
        let now = self.segment_now();
        let (out, change) = work(&mut *tx, &access, now)?;
        // No change: dropping the transaction leaves everything as it was.
        let Some((id, version, kind, changes)) = change else {
            return Ok(out);
        };
        tx.append_event(NewEvent {
            id: EventId::from_uuid(self.crm.ids.next_uuid(now)),
            at: now,
            actor: self.actor,
            entity: EntityRef {
                kind: EntityKind::Segment,
                id: id.as_uuid(),
            },
            version,
            kind,
            changes: changes.into_vec(),
        })?;
        tx.commit()?;
        Ok(out)
    }

    /// Saves a segment under `name`. The expression is checked
    /// ([`Expr::check`], at most [`crate::segment::MAX_DEPTH`] levels, and
    /// its `field.KEY` predicates against the customer field schema, see
    /// [`crate::segment::custom`]); build it with `"…".parse()?` or by
    /// hand.
    pub fn create_segment(&self, name: &str, expression: Expr) -> Result<Segment> {
        let name = validate_name(name)?;
        validate_expr(&expression)?;
        self.segment_write(|tx, access, now| {
            let owner = self.actor.user();
            access.check_write(Resource::Segments, Operation::Create, "", owner)?;
            check_custom(&*tx, &expression)?;
            let seg = Segment {
                id: SegmentId::from_uuid(self.crm.ids.next_uuid(now)),
                version: 1,
                name,
                expression,
                owner,
                created_at: now,
                updated_at: now,
            };
            tx.insert_segment(&seg)?;
            let mut ch = Changes::default();
            ch.set("name", &(), &seg.name);
            ch.set("expression", &(), &seg.expression.to_string());
            Ok((seg.clone(), Some((seg.id, 1, EventKind::Created, ch))))
        })
    }

    /// Changes a saved segment that is at `version`.
    pub fn update_segment(
        &self,
        id: SegmentId,
        version: u64,
        patch: SegmentPatch,
    ) -> Result<Segment> {
        let name = patch.name.as_deref().map(validate_name).transpose()?;
        if let Some(e) = &patch.expression {
            validate_expr(e)?;
        }
        self.segment_write(|tx, access, now| {
            let current = readable_segment(&*tx, access, id)?;
            check_version(id, version, current.version)?;
            access.check_write(Resource::Segments, Operation::Update, id, current.owner)?;
            if let Some(e) = &patch.expression {
                check_custom(&*tx, e)?;
            }
            let mut next = current.clone();
            let mut ch = Changes::default();
            if let Some(name) = name {
                ch.field("name", &current.name, &name);
                next.name = name;
            }
            if let Some(e) = patch.expression {
                if e != current.expression {
                    ch.set(
                        "expression",
                        &current.expression.to_string(),
                        &e.to_string(),
                    );
                }
                next.expression = e;
            }
            if ch.is_empty() {
                return Ok((current, None));
            }
            next.version += 1;
            next.updated_at = now.max(current.updated_at);
            tx.update_segment(&next)?;
            Ok((
                next.clone(),
                Some((id, next.version, EventKind::Updated, ch)),
            ))
        })
    }

    /// Deletes a saved segment that is at `version`. The audit log keeps
    /// its `deleted` event.
    pub fn delete_segment(&self, id: SegmentId, version: u64) -> Result<()> {
        self.segment_write(|tx, access, _now| {
            let current = readable_segment(&*tx, access, id)?;
            check_version(id, version, current.version)?;
            access.check_write(Resource::Segments, Operation::Update, id, current.owner)?;
            tx.delete_segment(id, version)?;
            let mut ch = Changes::default();
            ch.set("name", &current.name, &());
            ch.set("expression", &current.expression.to_string(), &());
            Ok(((), Some((id, version + 1, EventKind::Deleted, ch))))
        })
    }

    /// The saved segment with `id`.
    pub fn segment(&self, id: SegmentId) -> Result<Segment> {
        self.with_access(|tx, access| readable_segment(tx, access, id))
    }

    /// A page of saved segments.
    pub fn segments(&self, query: &SegmentQuery) -> Result<Page<Segment>> {
        if query.page.limit == 0 || query.page.limit > PageRequest::MAX_LIMIT {
            return Err(Error::invalid(
                EntityKind::Segment,
                "page.limit",
                query.page.limit,
                format!("a page holds 1 to {} items", PageRequest::MAX_LIMIT),
            ));
        }
        self.with_access(|tx, access| {
            let mut query = query.clone();
            access
                .read_owners(Resource::Segments)
                .and_into(&mut query.filter.owner_in);
            Ok(tx.segments(&query)?)
        })
    }
}

/// The saved segment `id`, if it is within the actor's read scope (by
/// the user who saved it); not found otherwise.
fn readable_segment(tx: &dyn ReadTx, access: &Access, id: SegmentId) -> Result<Segment> {
    tx.segment(id)?
        .filter(|s| access.can_read(Resource::Segments, s.owner))
        .ok_or_else(|| Error::not_found(EntityKind::Segment, id))
}

/// Refuses an expression that tests or aggregates a field the actor's
/// roles hide (contact points, deal amounts).
pub(super) fn require_readable_fields(access: &Access, expr: &Expr) -> Result<()> {
    match expr {
        Expr::Const(_) => Ok(()),
        Expr::And(parts) | Expr::Or(parts) => parts
            .iter()
            .try_for_each(|e| require_readable_fields(access, e)),
        Expr::Not(e) => require_readable_fields(access, e),
        Expr::Pred(p) => match &p.field {
            SegField::Email => access.require_readable(Field::CustomerEmails),
            SegField::Phone => access.require_readable(Field::CustomerPhones),
            SegField::WonAmount(_)
            | SegField::RfmR(_)
            | SegField::RfmF(_)
            | SegField::RfmM(_)
            | SegField::RfmSegment(_) => access.require_readable(Field::DealAmount),
            SegField::Custom { key } => access.require_custom_readable(EntityKind::Customer, key),
            _ => Ok(()),
        },
    }
}

/// Refuses `field.KEY` predicates that do not fit the customer field
/// schema (unknown key, a test or literal the field's type cannot take).
fn check_custom(tx: &dyn ReadTx, expr: &Expr) -> Result<()> {
    let mut any = false;
    expr.for_each_pred(&mut |p| any |= matches!(p.field, crate::segment::Field::Custom { .. }));
    if !any {
        return Ok(());
    }
    let schema = tx
        .field_schema(EntityKind::Customer)?
        .unwrap_or_else(|| FieldSchema::empty(EntityKind::Customer));
    check_custom_fields(expr, &schema)
}

fn check_version(id: SegmentId, expected: u64, actual: u64) -> Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(Error::Conflict {
            entity: EntityKind::Segment,
            id: id.to_string(),
            expected,
            actual,
        })
    }
}

/// Splits `expr` into an attribute-only part a store may evaluate itself
/// and the rest, such that `expr == prefilter and rest`.
fn split(expr: &Expr) -> (Expr, Expr) {
    if expr.is_attribute_only() {
        return (expr.clone(), Expr::Const(true));
    }
    if let Expr::And(parts) = expr {
        let (attr, rest): (Vec<Expr>, Vec<Expr>) =
            parts.iter().cloned().partition(Expr::is_attribute_only);
        let wrap = |mut v: Vec<Expr>| match v.len() {
            0 => Expr::Const(true),
            1 => v.remove(0),
            _ => Expr::And(v),
        };
        return (wrap(attr), wrap(rest));
    }
    (Expr::Const(true), expr.clone())
}
