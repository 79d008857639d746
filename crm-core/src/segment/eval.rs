//! The reference evaluator: what every backend's answer must equal.
//!
//! Evaluation has two phases. First the derived values an expression
//! needs ([`Needs`]) are computed from the deals and activities
//! ([`Derived`]); then every customer is tested with [`matches()`].
//!
//! Semantics, field by field (`now` is the engine's clock):
//!
//! - `kind`, `lifecycle`, `name`, `created`, `updated`, `open_deals`
//!   (number of open deals) and `won_amount(..)` (0 when nothing was won)
//!   are always present.
//! - `owner`, `last_won` (latest `won_at` of a won deal, any currency),
//!   `last_activity` (latest `occurred_at` of the customer's activities at
//!   or before now), `days_since_last_activity` (whole days from it to
//!   now, rounded down) and the RFM fields (present for customers in the
//!   RFM population, see [`super::rfm`]) may be absent. **On an absent
//!   value every comparison, `in` and `within` is false** (also `!=`);
//!   `exists` is false; `not` turns that into true.
//! - `roles`, `tags`, `email`, `phone` are sets/lists: `contains` tests
//!   membership (tags, roles) or substring of any item ignoring ASCII case
//!   (e-mails, phones); `in` means "has any of"; `exists` means "not empty".
//! - `name contains "x"` ignores ASCII case; `name = "x"` is exact.
//! - `within 30d` holds for times `t` with `now − 30 days <= t <= now`.
//! - `won_amount(CUR, W)` sums the amounts in `CUR` of deals won within
//!   `W`, exactly.
//! - `field.KEY` is the customer's custom value under `KEY`, absent when
//!   the customer has none (so, as above, every test but `exists` fails
//!   on it, and `not field.KEY exists` finds the customers without one).
//!   Per stored value type ([`CustomValue`]) and literal ([`Value`]):
//!   - integer and decimal values compare exactly with a whole-number or
//!     decimal literal (`field.seats >= 10`, `field.score < 0.5`), with
//!     every operator and `in`;
//!   - money compares its amount exactly with a money literal in the
//!     same currency (`field.budget > 1200 EUR`); a literal in another
//!     currency never matches (not even with `!=`): amounts are never
//!     converted;
//!   - a date is its midnight UTC: it compares with a date literal
//!     (`field.renewal < 2026-01-01`) with every operator, and `within
//!     30d` holds when that midnight lies in the window;
//!   - text (and enum) values support `=`, `!=`, `in` (exact) and
//!     `contains` (ignoring ASCII case); bools support `=`, `!=` and `in`
//!     with `true`/`false`;
//!   - any other pairing — a value of another type than the literal's,
//!     `<` on text or bools, `contains` on a number — never matches. The
//!     facade refuses such predicates before evaluating (it checks them
//!     against the customer field schema); this evaluator does not need
//!     the schema.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;

use super::expr::{Expr, Field, Pred, Revenue, Test, Value};
use super::rfm::{self, CustomerRfm, Purchases};
use crate::activity::Activity;
use crate::custom_field::CustomValue;
use crate::customer::Customer;
use crate::deal::{Deal, DealStatus};
use crate::error::{EntityKind, Error, Result};
use crate::id::CustomerId;
use crate::query::DealFilter;

/// What an expression needs besides the customer records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Needs open-deal counts.
    pub open_deals: bool,
    /// Needs the last won time.
    pub last_won: bool,
    /// Needs the last activity time.
    pub activities: bool,
    /// Needs won-deal sums or RFM for these selections.
    pub revenues: Vec<Revenue>,
    /// Needs RFM scores for these selections (also listed in `revenues`).
    pub rfm: Vec<Revenue>,
    /// Needs attributes of the customer records.
    pub attributes: bool,
}

impl Needs {
    /// What `expr` needs (custom fields are attributes of the customer
    /// record). Never fails today; the `Result` leaves room for
    /// expressions that cannot be evaluated.
    pub fn of(expr: &Expr) -> Result<Needs> {
        let mut n = Needs::default();
        expr.for_each_pred(&mut |p: &Pred| {
            let revenue = |r: &Revenue, rfm: bool, n: &mut Needs| {
                if !n.revenues.contains(r) {
                    n.revenues.push(*r);
                }
                if rfm && !n.rfm.contains(r) {
                    n.rfm.push(*r);
                }
            };
            match &p.field {
                Field::OpenDeals => n.open_deals = true,
                Field::LastWon => n.last_won = true,
                Field::LastActivity | Field::DaysSinceLastActivity => n.activities = true,
                Field::WonAmount(r) => revenue(r, false, &mut n),
                Field::RfmR(r) | Field::RfmF(r) | Field::RfmM(r) | Field::RfmSegment(r) => {
                    revenue(r, true, &mut n)
                }
                _ => n.attributes = true,
            }
        });
        Ok(n)
    }

    /// True when deals must be read.
    pub fn deals(&self) -> bool {
        self.open_deals || self.last_won || !self.revenues.is_empty()
    }

    /// The deals that must be read (`None`: none at all): only won deals
    /// or only open ones when that is all the expression looks at.
    pub fn deal_filter(&self) -> Option<DealFilter> {
        let won = self.last_won || !self.revenues.is_empty();
        let status = match (self.open_deals, won) {
            (false, false) => return None,
            (true, false) => Some(DealStatus::Open),
            (false, true) => Some(DealStatus::Won),
            (true, true) => None,
        };
        Some(DealFilter {
            status,
            ..DealFilter::default()
        })
    }
}

#[derive(Debug, Default, Clone)]
struct Facts {
    open_deals: i64,
    last_won: Option<DateTime<Utc>>,
    last_activity: Option<DateTime<Utc>>,
}

/// The derived values of every customer, built from deals and activities.
#[derive(Debug)]
pub struct Derived {
    now: DateTime<Utc>,
    needs: Needs,
    facts: HashMap<CustomerId, Facts>,
    purchases: Vec<HashMap<CustomerId, Purchases>>,
    rfm: Vec<HashMap<CustomerId, CustomerRfm>>,
    overflow: Option<crate::Currency>,
}

impl Derived {
    /// Empty derived values for `needs` at `now`; feed it every deal and
    /// activity, then call [`Derived::finish`].
    pub fn new(needs: Needs, now: DateTime<Utc>) -> Derived {
        let k = needs.revenues.len();
        Derived {
            now,
            needs,
            facts: HashMap::new(),
            purchases: vec![HashMap::new(); k],
            rfm: Vec::new(),
            overflow: None,
        }
    }

    /// Counts one deal.
    pub fn add_deal(&mut self, d: &Deal) {
        if self.needs.open_deals && d.status == DealStatus::Open {
            self.facts.entry(d.customer).or_default().open_deals += 1;
        }
        if d.status != DealStatus::Won {
            return;
        }
        let Some(won_at) = d.won_at else { return };
        if self.needs.last_won {
            let f = self.facts.entry(d.customer).or_default();
            f.last_won = f.last_won.max(Some(won_at));
        }
        let Some(amount) = d.amount else { return };
        for (i, r) in self.needs.revenues.iter().enumerate() {
            if amount.currency != r.currency
                || !r.window.is_none_or(|w| w.contains(won_at, self.now))
            {
                continue;
            }
            match self.purchases[i].entry(d.customer) {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    let p = e.get_mut();
                    p.last = p.last.max(won_at);
                    p.count += 1;
                    match p.total.checked_add(amount.amount) {
                        Some(t) => p.total = t,
                        None => self.overflow = Some(amount.currency),
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(Purchases {
                        last: won_at,
                        count: 1,
                        total: amount.amount,
                    });
                }
            }
        }
    }

    /// Counts one activity.
    pub fn add_activity(&mut self, a: &Activity) {
        if !self.needs.activities || a.occurred_at > self.now {
            return;
        }
        if let Some(c) = a.customer {
            let f = self.facts.entry(c).or_default();
            f.last_activity = f.last_activity.max(Some(a.occurred_at));
        }
    }

    /// Computes the RFM scores; fails if a sum overflowed.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(c) = self.overflow {
            return Err(Error::invalid(
                EntityKind::Segment,
                "won_amount",
                format!("sum in {c}"),
                format!(
                    "a customer's won amounts in {c} are too large to add up exactly (some amount is far above the bound of {})",
                    crate::limits::MAX_AMOUNT
                ),
            ));
        }
        self.rfm = self
            .needs
            .revenues
            .iter()
            .enumerate()
            .map(|(i, r)| {
                if self.needs.rfm.contains(r) {
                    rfm::score(&self.purchases[i])
                        .into_iter()
                        .map(|c| (c.customer, c))
                        .collect()
                } else {
                    HashMap::new()
                }
            })
            .collect();
        Ok(())
    }

    fn revenue_index(&self, r: &Revenue) -> Option<usize> {
        self.needs.revenues.iter().position(|x| x == r)
    }

    fn facts(&self, c: CustomerId) -> Option<&Facts> {
        self.facts.get(&c)
    }
}

/// A field's value for one customer.
enum Got<'a> {
    Absent,
    Value(Value),
    Time(DateTime<Utc>),
    Int(i64),
    Decimal(Decimal),
    Text(&'a str),
    Emails(&'a [crate::contact::Email]),
    Phones(&'a [crate::contact::Phone]),
    Roles(&'a std::collections::BTreeSet<crate::customer::Role>),
    Tags(&'a std::collections::BTreeSet<crate::tag::Tag>),
    Custom(&'a CustomValue),
}

fn get<'a>(field: &Field, id: CustomerId, rec: Option<&'a Customer>, d: &Derived) -> Got<'a> {
    let facts = d.facts(id);
    let rfm = |r: &Revenue| d.revenue_index(r).and_then(|i| d.rfm.get(i)?.get(&id));
    if field.is_attribute() {
        return match rec {
            Some(c) => attribute(field, c),
            None => Got::Absent,
        };
    }
    match field {
        Field::OpenDeals => Got::Int(facts.map_or(0, |f| f.open_deals)),
        Field::WonAmount(r) => Got::Decimal(
            d.revenue_index(r)
                .and_then(|i| d.purchases[i].get(&id))
                .map_or(Decimal::ZERO, |p| p.total),
        ),
        Field::LastWon => facts
            .and_then(|f| f.last_won)
            .map_or(Got::Absent, Got::Time),
        Field::LastActivity => facts
            .and_then(|f| f.last_activity)
            .map_or(Got::Absent, Got::Time),
        Field::DaysSinceLastActivity => facts
            .and_then(|f| f.last_activity)
            .map_or(Got::Absent, |t| Got::Int((d.now - t).num_days())),
        Field::RfmR(r) => rfm(r).map_or(Got::Absent, |x| Got::Int(i64::from(x.score.r))),
        Field::RfmF(r) => rfm(r).map_or(Got::Absent, |x| Got::Int(i64::from(x.score.f))),
        Field::RfmM(r) => rfm(r).map_or(Got::Absent, |x| Got::Int(i64::from(x.score.m))),
        Field::RfmSegment(r) => {
            rfm(r).map_or(Got::Absent, |x| Got::Value(Value::Segment(x.segment)))
        }
        _ => Got::Absent,
    }
}

fn attribute<'a>(field: &Field, c: &'a Customer) -> Got<'a> {
    match field {
        Field::Kind => Got::Value(Value::Kind(c.kind)),
        Field::Lifecycle => Got::Value(Value::Lifecycle(c.lifecycle)),
        Field::Owner => c.owner.map_or(Got::Absent, |o| Got::Value(Value::User(o))),
        Field::Roles => Got::Roles(&c.roles),
        Field::Tags => Got::Tags(&c.tags),
        Field::Name => Got::Text(&c.name),
        Field::Email => Got::Emails(&c.emails),
        Field::Phone => Got::Phones(&c.phones),
        Field::Created => Got::Time(c.created_at),
        Field::Updated => Got::Time(c.updated_at),
        Field::Custom { key } => c.custom.get(key).map_or(Got::Absent, Got::Custom),
        _ => Got::Absent,
    }
}

fn cmp_values(got: &Got<'_>, v: &Value) -> Option<Ordering> {
    match (got, v) {
        (Got::Time(a), Value::Time(b)) => Some(a.cmp(b)),
        (Got::Int(a), Value::Int(b)) => Some(a.cmp(b)),
        (Got::Decimal(a), Value::Decimal(b)) => Some(a.cmp(b)),
        (Got::Text(a), Value::Text(b)) => Some(a.cmp(&b.as_str())),
        (Got::Value(a), b) => (a == b).then_some(Ordering::Equal).or(Some(Ordering::Less)),
        (Got::Custom(c), v) => custom_cmp(c, v),
        _ => None,
    }
}

/// Midnight UTC of a custom date.
fn midnight(d: &NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// A custom value against a literal: `None` when the two cannot be
/// compared (different types, different currencies). Text and bools
/// order here too, but only `=`/`!=` use that ([`custom_ordered`]).
fn custom_cmp(c: &CustomValue, v: &Value) -> Option<Ordering> {
    Some(match (c, v) {
        (CustomValue::Integer(a), Value::Int(b)) => a.cmp(b),
        (CustomValue::Integer(a), Value::Decimal(b)) => Decimal::from(*a).cmp(b),
        (CustomValue::Decimal(a), Value::Int(b)) => a.cmp(&Decimal::from(*b)),
        (CustomValue::Decimal(a), Value::Decimal(b)) => a.cmp(b),
        (CustomValue::Money(a), Value::Money(b)) if a.currency == b.currency => {
            a.amount.cmp(&b.amount)
        }
        (CustomValue::Date(a), Value::Time(b)) => midnight(a).cmp(b),
        (CustomValue::Text(a), Value::Text(b)) => a.cmp(b),
        (CustomValue::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => return None,
    })
}

/// Whether `<`, `<=`, `>`, `>=` apply to a custom value (not to text or
/// bools).
fn custom_ordered(c: &CustomValue) -> bool {
    !matches!(c, CustomValue::Text(_) | CustomValue::Bool(_))
}

fn ascii_contains(hay: &str, needle: &str) -> bool {
    hay.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// Whether customer `c` matches `expr`, given the derived values.
pub fn matches(expr: &Expr, c: &Customer, d: &Derived) -> bool {
    matches_id(expr, c.id, Some(c), d)
}

/// Whether customer `id` matches `expr`; without its record (`None`) its
/// attributes count as absent, which is exact for an expression with no
/// attribute predicates.
pub fn matches_id(expr: &Expr, id: CustomerId, c: Option<&Customer>, d: &Derived) -> bool {
    match expr {
        Expr::Const(b) => *b,
        Expr::And(parts) => parts.iter().all(|p| matches_id(p, id, c, d)),
        Expr::Or(parts) => parts.iter().any(|p| matches_id(p, id, c, d)),
        Expr::Not(inner) => !matches_id(inner, id, c, d),
        Expr::Pred(p) => pred_matches(p, id, c, d),
    }
}

fn pred_matches(p: &Pred, id: CustomerId, c: Option<&Customer>, d: &Derived) -> bool {
    let got = get(&p.field, id, c, d);
    if matches!(got, Got::Absent) {
        return false;
    }
    match &p.test {
        Test::Exists => match &got {
            Got::Roles(s) => !s.is_empty(),
            Got::Tags(s) => !s.is_empty(),
            Got::Emails(s) => !s.is_empty(),
            Got::Phones(s) => !s.is_empty(),
            _ => true,
        },
        Test::Cmp { op, value } => {
            let ordered = match &got {
                Got::Custom(c) => custom_ordered(c),
                _ => true,
            };
            (ordered || op.is_equality()) && cmp_values(&got, value).is_some_and(|o| op.holds(o))
        }
        Test::In { values } => values.iter().any(|v| match (&got, v) {
            (Got::Roles(s), Value::Role(r)) => s.contains(r),
            (Got::Tags(s), Value::Tag(t)) => s.contains(t),
            _ => cmp_values(&got, v) == Some(Ordering::Equal),
        }),
        Test::Contains { value } => match (&got, value) {
            (Got::Roles(s), Value::Role(r)) => s.contains(r),
            (Got::Tags(s), Value::Tag(t)) => s.contains(t),
            (Got::Text(t), Value::Text(n)) => ascii_contains(t, n),
            (Got::Custom(CustomValue::Text(t)), Value::Text(n)) => ascii_contains(t, n),
            (Got::Emails(es), Value::Text(n)) => es.iter().any(|e| ascii_contains(e.as_str(), n)),
            (Got::Phones(ps), Value::Text(n)) => ps.iter().any(|p| ascii_contains(p.as_str(), n)),
            _ => false,
        },
        Test::Within { window } => match got {
            Got::Time(t) => window.contains(t, d.now),
            Got::Custom(CustomValue::Date(day)) => window.contains(midnight(day), d.now),
            _ => false,
        },
    }
}

/// Evaluates `expr` over in-memory records: the ids of the matching
/// customers, ascending (customers merged into others never match). The
/// reference every store's answer must equal.
/// The tree is checked first ([`Expr::check`]): an ill-typed tree is an
/// error, never a silently wrong answer.
///
/// ```
/// use crm_core::segment::{evaluate, parse};
/// let none: Vec<crm_core::Customer> = Vec::new();
/// let now = chrono::DateTime::from_timestamp(1_750_000_000, 0).unwrap();
/// let ids = evaluate(&parse("tag:vip")?, &none, &[], &[], now)?;
/// assert!(ids.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn evaluate(
    expr: &Expr,
    customers: &[Customer],
    deals: &[Deal],
    activities: &[Activity],
    now: DateTime<Utc>,
) -> Result<Vec<CustomerId>> {
    super::validate_expr(expr)?;
    let needs = Needs::of(expr)?;
    let mut d = Derived::new(needs, now);
    if d.needs.deals() {
        deals.iter().for_each(|x| d.add_deal(x));
    }
    if d.needs.activities {
        activities.iter().for_each(|x| d.add_activity(x));
    }
    d.finish()?;
    // Customers merged into others are never part of a segment.
    let mut ids: Vec<CustomerId> = customers
        .iter()
        .filter(|c| !c.is_merged() && matches(expr, c, &d))
        .map(|c| c.id)
        .collect();
    ids.sort();
    Ok(ids)
}

impl Derived {
    /// The per-customer purchases counted for `r` (after feeding deals).
    pub fn purchases(&self, r: &Revenue) -> Option<&HashMap<CustomerId, Purchases>> {
        self.revenue_index(r).map(|i| &self.purchases[i])
    }

    /// Moves the per-customer purchases counted for `r` out (leaving none).
    pub fn take_purchases(&mut self, r: &Revenue) -> HashMap<CustomerId, Purchases> {
        match self.revenue_index(r) {
            Some(i) => std::mem::take(&mut self.purchases[i]),
            None => HashMap::new(),
        }
    }
}
