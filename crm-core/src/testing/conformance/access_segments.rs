//! Segment evaluation under access control: random data, teams, actors
//! and expressions, against the reference evaluator applied to the records
//! a brute-force reading of the rules lets each actor see.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{access_plan, build_access_plan, collect, engine, ref_allows, runner, t0};
use crate::access::{Access, Field as AccessField, Resource};
use crate::segment::eval::evaluate;
use crate::segment::rfm;
use crate::segment::{Expr, Field, Pred, Test, Value};
use crate::testing::{segments as strat, strategies};
use crate::*;

/// The user a generated owner id (`1..6`, see
/// [`strategies::user_id`]) stands for in this case: one of `users`.
fn map_user(u: UserId, users: &[UserId]) -> UserId {
    let n = u.as_uuid().as_u128() as usize;
    users[n.saturating_sub(1) % users.len()]
}

/// `e` with every user literal replaced by [`map_user`].
fn map_expr(e: &Expr, users: &[UserId]) -> Expr {
    let value = |v: &Value| match v {
        Value::User(u) => Value::User(map_user(*u, users)),
        other => other.clone(),
    };
    match e {
        Expr::Const(b) => Expr::Const(*b),
        Expr::And(parts) => Expr::And(parts.iter().map(|p| map_expr(p, users)).collect()),
        Expr::Or(parts) => Expr::Or(parts.iter().map(|p| map_expr(p, users)).collect()),
        Expr::Not(inner) => Expr::Not(Box::new(map_expr(inner, users))),
        Expr::Pred(p) => {
            let mut p = p.clone();
            p.test = match &p.test {
                Test::Cmp { op, value: v } => Test::Cmp {
                    op: *op,
                    value: value(v),
                },
                Test::In { values } => Test::In {
                    values: values.iter().map(value).collect(),
                },
                Test::Contains { value: v } => Test::Contains { value: value(v) },
                other => other.clone(),
            };
            Expr::Pred(p)
        }
    }
}

/// The fields with rules that `e` tests or aggregates, written out by hand.
fn fields_used(e: &Expr) -> Vec<AccessField> {
    let mut out = Vec::new();
    e.for_each_pred(&mut |p| {
        let f = match &p.field {
            Field::Email => AccessField::CustomerEmails,
            Field::Phone => AccessField::CustomerPhones,
            Field::WonAmount(_)
            | Field::RfmR(_)
            | Field::RfmF(_)
            | Field::RfmM(_)
            | Field::RfmSegment(_) => AccessField::DealAmount,
            _ => return,
        };
        out.push(f);
    });
    out
}

/// A predicate on the deals or activities of a customer, with literals
/// near the generated records (so that leaving an out-of-scope deal or
/// activity in would change the answer).
fn record_pred() -> BoxedStrategy<Expr> {
    let pred = |field: Field, test: Test| Expr::Pred(Pred { field, test });
    prop_oneof![
        (strat::cmp_op(), 0i64..4).prop_map(move |(op, n)| pred(
            Field::OpenDeals,
            Test::Cmp {
                op,
                value: Value::Int(n)
            }
        )),
        Just(pred(Field::LastWon, Test::Exists)),
        strat::window().prop_map(move |window| pred(Field::LastWon, Test::Within { window })),
        Just(pred(Field::LastActivity, Test::Exists)),
        strat::window().prop_map(move |window| pred(Field::LastActivity, Test::Within { window })),
        (strat::cmp_op(), 0i64..9_000).prop_map(move |(op, n)| pred(
            Field::DaysSinceLastActivity,
            Test::Cmp {
                op,
                value: Value::Int(n)
            }
        )),
    ]
    .boxed()
}

/// One to three [`record_pred`]s under `and`, `or` or `not`.
fn record_expr() -> BoxedStrategy<Expr> {
    prop_oneof![
        2 => record_pred(),
        1 => record_pred().prop_map(|e| Expr::Not(Box::new(e))),
        1 => proptest::collection::vec(record_pred(), 2..4).prop_map(Expr::And),
        1 => proptest::collection::vec(record_pred(), 2..4).prop_map(Expr::Or),
    ]
    .boxed()
}

/// The RFM scores over every won EUR deal of `deals` (all time), kept
/// for the unmerged `customers`; `None` when a customer's sum overflows.
fn ref_rfm(customers: &[Customer], deals: &[Deal]) -> Option<Vec<rfm::CustomerRfm>> {
    let mut all: HashMap<CustomerId, rfm::Purchases> = HashMap::new();
    for d in deals {
        let (Some(at), Some(m)) = (d.won_at, d.amount) else {
            continue;
        };
        if d.status != DealStatus::Won || m.currency != Currency::EUR {
            continue;
        }
        let p = all.entry(d.customer).or_insert(rfm::Purchases {
            last: at,
            count: 0,
            total: rust_decimal::Decimal::ZERO,
        });
        p.last = p.last.max(at);
        p.count += 1;
        p.total = p.total.checked_add(m.amount)?;
    }
    let visible: HashMap<CustomerId, rfm::Purchases> = customers
        .iter()
        .filter(|c| !c.is_merged())
        .filter_map(|c| all.get(&c.id).map(|p| (c.id, *p)))
        .collect();
    Some(rfm::score(&visible))
}

/// Whether `user`'s roles hide `f`: a user without roles sees no field;
/// of the built-in roles only `support` hides one (the deal amount), and a
/// field is hidden only if every role hides it.
fn ref_hidden(user: &User, f: AccessField) -> bool {
    user.roles.is_empty()
        || (f == AccessField::DealAmount && user.roles.iter().all(|r| *r == AccessRole::Support))
}

/// Under random data, teams, actors (every built-in role and random mixes
/// of them) and segment expressions, segment evaluation through the facade
/// gives exactly what the reference evaluator gives on the customers,
/// deals and activities a brute-force evaluation of the rules lets the
/// actor read; an expression on a field the actor's roles hide is an
/// [`Error::FieldHidden`] (a custom field, for a user without roles, an
/// [`Error::CustomFieldHidden`]). Whatever the store's scoped push-down answers
/// directly ([`ReadTx::segment_push_down_scoped`]) is that same set. RFM
/// ranks exactly the won deals in scope of the customers in scope.
pub fn segments_under_random_actors_match_brute_force<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let now = t0();
    let system = crm.as_actor(Actor::System);
    system
        .set_custom_fields(EntityKind::Customer, 0, strat::custom_field_defs())
        .expect("custom field schema");
    // Records accumulate over the cases (one store): at most 24 cases.
    let mut runner = {
        let cases = runner(12).config().cases.min(24);
        TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        })
    };
    let case = std::sync::atomic::AtomicU64::new(0);
    let exprs = proptest::collection::vec(strat::expr_with_custom(strat::field(false)), 1..5);
    let attr_exprs =
        proptest::collection::vec(strat::expr_with_custom(strat::attribute_field()), 1..3);
    let record_exprs = proptest::collection::vec(record_expr(), 1..4);
    let sets = proptest::collection::vec(strategies::record_set(), 1..6);
    // Most actors hold one built-in role (a random mix of roles mostly
    // reaches `all`); the rest keep the plan's random mix.
    // `sales_rep` (the one role with a narrower read scope) most often.
    let single_roles = proptest::collection::vec(
        prop_oneof![
            4 => Just(Some(2usize)),
            2 => (0..AccessRole::ALL.len()).prop_map(Some),
            1 => Just(None),
        ],
        6,
    );
    runner
        .run(
            &(
                access_plan(),
                single_roles,
                sets,
                (exprs, attr_exprs, record_exprs),
            ),
            |(mut plan, single_roles, sets, (exprs, attr_exprs, record_exprs))| {
                for (u, single) in plan.users.iter_mut().zip(single_roles) {
                    if let Some(r) = single {
                        u.0 = 1 << r;
                    }
                }
                // Offset far from the ids other tests' plans use.
                let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1_000;
                let new_users = build_access_plan(&crm, &plan, n);
                // The generated records, owned by this case's users.
                let mut tx = crm.store().write().expect("write");
                for (mut c, p, ds, acts) in sets {
                    // While shrinking, proptest re-runs cases whose records
                    // are stored already: skip those.
                    if tx.customer(c.id).expect("get").is_some()
                        || tx.pipeline(p.id).expect("get").is_some()
                        || ds.iter().any(|d| matches!(tx.deal(d.id), Ok(Some(_))))
                        || acts
                            .iter()
                            .any(|a| matches!(tx.activity(a.id), Ok(Some(_))))
                    {
                        continue;
                    }
                    c.owner = c.owner.map(|u| map_user(u, &new_users));
                    tx.insert_customer(&c).expect("insert customer");
                    tx.insert_pipeline(&p).expect("insert pipeline");
                    for mut d in ds {
                        d.owner = d.owner.map(|u| map_user(u, &new_users));
                        tx.insert_deal(&d).expect("insert deal");
                    }
                    for mut a in acts {
                        a.owner = a.owner.map(|u| map_user(u, &new_users));
                        tx.insert_activity(&a).expect("insert activity");
                    }
                }
                tx.commit().expect("commit");
                let exprs: Vec<Expr> = exprs
                    .iter()
                    .chain(&attr_exprs)
                    .chain(&record_exprs)
                    .map(|e| map_expr(e, &new_users))
                    .collect();

                // The truth: everything stored, read without any scope.
                let tx = crm.store().read().expect("read");
                let users = collect(|q| tx.users(q), UserQuery::new().limit(500));
                let teams = collect(|q| tx.teams(q), TeamQuery::new().limit(500));
                let mut customers = Vec::new();
                tx.scan_customers(&mut |c| customers.push(c.clone()))
                    .expect("customers");
                let mut deals = Vec::new();
                tx.scan_deals(&DealFilter::default(), &mut |d| deals.push(d.clone()))
                    .expect("deals");
                let mut activities = Vec::new();
                tx.scan_activities(&ActivityFilter::default(), &mut |a| {
                    activities.push(a.clone())
                })
                .expect("activities");
                drop(tx);

                let mut actors: Vec<Option<&User>> = vec![None];
                actors.extend(
                    new_users
                        .iter()
                        .map(|id| users.iter().find(|u| u.id == *id)),
                );
                for actor in actors {
                    let (s, me) = match actor {
                        None => (crm.as_actor(Actor::System), None),
                        Some(u) => (crm.as_user(u.id), Some(u)),
                    };
                    let who = format!("{:?}", me.map(|u| (&u.roles, &u.teams)));
                    if me.is_some_and(|u| !u.active) {
                        for e in &exprs {
                            prop_assert!(
                                matches!(
                                    s.evaluate_expr(e, &PageRequest::default()),
                                    Err(Error::ActorNotAllowed { .. })
                                ),
                                "a deactivated user evaluates nothing"
                            );
                        }
                        continue;
                    }
                    let allows = |r: Resource, owner: Option<UserId>| match me {
                        None => true,
                        Some(u) => ref_allows(u, &users, &teams, r, false, owner),
                    };
                    let seen_customers: Vec<Customer> = customers
                        .iter()
                        .filter(|c| allows(Resource::Customers, c.owner))
                        .cloned()
                        .collect();
                    let seen_deals: Vec<Deal> = deals
                        .iter()
                        .filter(|d| allows(Resource::Deals, d.owner))
                        .cloned()
                        .collect();
                    let seen_activities: Vec<Activity> = activities
                        .iter()
                        .filter(|a| allows(Resource::Activities, a.owner))
                        .cloned()
                        .collect();
                    let wants: Vec<Vec<CustomerId>> = exprs
                        .iter()
                        .map(|e| {
                            evaluate(e, &seen_customers, &seen_deals, &seen_activities, now)
                                .expect("reference evaluation")
                        })
                        .collect();
                    // The store's own answer, when it gives one.
                    let tx = crm.store().read().expect("read");
                    let scope = Access::load(&*tx, s.actor()).expect("access").read_scope();
                    for (e, want) in exprs.iter().zip(&wants) {
                        if let Some(ids) = tx
                            .segment_push_down_scoped(e, now, &scope)
                            .expect("scoped push-down")
                        {
                            prop_assert_eq!(&ids, want, "push-down of {} for {}", e, who);
                        }
                    }
                    drop(tx);
                    // RFM over the won EUR deals in scope, for the customers
                    // in scope.
                    let amount_hidden = me.is_some_and(|u| ref_hidden(u, AccessField::DealAmount));
                    match (
                        s.rfm(Currency::EUR, None),
                        ref_rfm(&seen_customers, &seen_deals),
                    ) {
                        (Ok(got), Some(want)) => {
                            prop_assert!(!amount_hidden, "{} ranked hidden amounts", who);
                            prop_assert_eq!(got, want, "RFM for {}", who);
                        }
                        (Err(Error::FieldHidden { .. }), _) => {
                            prop_assert!(amount_hidden, "{} refused RFM", who)
                        }
                        (Err(Error::Invalid { .. }), None) => {} // a sum overflowed
                        (got, want) => {
                            return Err(TestCaseError::fail(format!(
                                "RFM for {who}: got {got:?}, want {want:?}"
                            )));
                        }
                    }
                    for (e, want) in exprs.iter().zip(&wants) {
                        let hidden: Vec<AccessField> = match me {
                            None => Vec::new(),
                            Some(u) => fields_used(e)
                                .into_iter()
                                .filter(|f| ref_hidden(u, *f))
                                .collect(),
                        };
                        // Custom fields carry no rules here, so only a
                        // user without roles has them hidden.
                        let mut custom = false;
                        e.for_each_pred(&mut |p| custom |= matches!(p.field, Field::Custom { .. }));
                        let custom_hidden = custom && me.is_some_and(|u| u.roles.is_empty());
                        let got = s.evaluate_expr(
                            e,
                            &PageRequest {
                                limit: PageRequest::MAX_LIMIT,
                                after: None,
                            },
                        );
                        match got {
                            Ok(r) => {
                                prop_assert!(
                                    hidden.is_empty() && !custom_hidden,
                                    "{} evaluated {} on hidden {:?}",
                                    who,
                                    e,
                                    hidden
                                );
                                prop_assert_eq!(r.count, want.len() as u64, "count of {}", e);
                                prop_assert_eq!(&r.page.items, want, "ids of {} for {}", e, who);
                            }
                            Err(Error::FieldHidden { field, .. }) => prop_assert!(
                                hidden.contains(&field),
                                "{} refused {} on visible {}",
                                who,
                                e,
                                field
                            ),
                            Err(Error::CustomFieldHidden { key, .. }) => prop_assert!(
                                custom_hidden,
                                "{} refused {} on visible custom field {}",
                                who,
                                e,
                                key
                            ),
                            Err(other) => {
                                return Err(TestCaseError::fail(format!(
                                    "evaluating {e} for {who}: {other}"
                                )));
                            }
                        }
                    }
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("scoped segment evaluation property failed: {e}"));
}
