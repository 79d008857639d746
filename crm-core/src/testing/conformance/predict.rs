//! Predictive scores written back to customers
//! ([`Session::write_scores`](crate::Session::write_scores)): one
//! transaction, one event, customer versions bumped, values segments can
//! filter on, and access respected.

use std::collections::BTreeMap;

use chrono::Duration;
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::{all_events, engine, last_seq, t0};
use crate::custom_field::CustomValue;
use crate::predict::simulate::SplitMix64;
use crate::predict::{ClvOptions, Month, Observation, Rfm, ScoreRun, Span, Week, score};
use crate::query::{CustomerFilter, CustomerQuery, fetch_all};
use crate::segment::Expr;
use crate::*;

/// Days of observation: purchases on days 0..OBSERVED, first purchases in
/// the first half.
const OBSERVED: i64 = 364;

/// One customer's purchases: (day, whole euros), from the BG/NBD process
/// with the CDNOW parameters in days (r 0.243, α 30.9 days, a 0.793,
/// b 2.426) and a customer-level mean spend, drawn from `rng`.
fn purchases(rng: &mut SplitMix64) -> Vec<(i64, i64)> {
    let first = (rng.uniform() * (OBSERVED / 2) as f64) as i64;
    let rate = rng.gamma(0.243) / 30.9;
    let drop = rng.beta(0.793, 2.426);
    let mean = 20.0 + 480.0 * rng.uniform();
    let amount = |rng: &mut SplitMix64| (mean * (0.5 + rng.uniform())).round().max(1.0) as i64;
    let mut out = vec![(first, amount(rng))];
    let mut t = first as f64;
    loop {
        t += -rng.uniform().ln() / rate;
        if t >= OBSERVED as f64 {
            break;
        }
        out.push((t as i64, amount(rng)));
        if rng.uniform() < drop {
            break;
        }
    }
    out
}

/// The history by hand from the purchase days (a day's purchases are one
/// purchase worth their sum): x distinct days after the first, recency and
/// age in days converted to weeks, monetary the mean of the later days
/// rounded to cents (half away from zero, as money is).
fn history(p: &[(i64, i64)]) -> Rfm<Week> {
    let mut days: BTreeMap<i64, i64> = BTreeMap::new();
    for &(d, a) in p {
        *days.entry(d).or_default() += a;
    }
    let first = *days.keys().next().expect("a purchase");
    let last = *days.keys().last().expect("a purchase");
    let x = days.len() as u32 - 1;
    let later: i64 = days.iter().skip(1).map(|(_, a)| a).sum();
    let monetary = if x == 0 {
        Decimal::ZERO
    } else {
        (Decimal::from(later) / Decimal::from(x))
            .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
    };
    let w = |d: i64| Span::<Week>::new(d as f64 / 7.0).expect("span");
    Rfm::new(x, w(last - first), w(OBSERVED - first), monetary).expect("history")
}

fn decimal(c: &Customer, key: &str) -> Option<Decimal> {
    match c.custom.get(key) {
        Some(CustomValue::Decimal(d)) => Some(*d),
        _ => None,
    }
}

fn everyone<S: Store>(crm: &Crm<S>) -> BTreeMap<CustomerId, Customer> {
    let s = crm.as_actor(Actor::System);
    fetch_all(CustomerFilter::default(), |q: &CustomerQuery| {
        s.customers(q)
    })
    .expect("customers")
    .into_iter()
    .map(|c| (c.id, c))
    .collect()
}

fn matching<S: Store>(who: &Session<'_, S>, expr: &str) -> Vec<CustomerId> {
    let e: Expr = expr.parse().expect("expression");
    let page = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    who.evaluate_expr(&e, &page).expect("segment").page.items
}

/// Scores written back: a model run writes `p_alive`,
/// `expected_purchases_12m`, `expected_spend` and `clv_12m` to every
/// customer with purchases in one transaction with one `scores_written`
/// event (customer versions bump), defining the fields once; the values
/// are the pure scores of the histories built by hand; a win-back segment
/// on them selects exactly the customers whose values pass; a rep writes
/// only customers it may change and fits only on deals it may read; a
/// read-only user, a support agent (amounts hidden) and a rep who may not
/// define fields are refused and change nothing.
pub fn predicted_scores_are_written_in_one_event<S: Store>(store: S) {
    let (crm, _) = engine(store);
    let system = crm.as_actor(Actor::System);
    let north = system.create_team(NewTeam::new("North")).expect("team");
    let south = system.create_team(NewTeam::new("South")).expect("team");
    let rep = |name: &str, team: TeamId| {
        system
            .create_user(
                NewUser::new(name, format!("{}@example.com", name.to_lowercase()))
                    .role(AccessRole::SalesRep)
                    .team(team),
            )
            .expect("user")
            .id
    };
    let (ana, ari, bo) = (
        rep("Ana", north.id),
        rep("Ari", north.id),
        rep("Bo", south.id),
    );
    let viewer = system
        .create_user(NewUser::new("Vi", "vi@example.com").role(AccessRole::ReadOnly))
        .expect("viewer")
        .id;
    let agent = system
        .create_user(NewUser::new("Sam", "sam@example.com").role(AccessRole::Support))
        .expect("agent")
        .id;
    let p = system
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");

    // 360 customers owned in turn by Ana, Ari and Bo, and one of Bo's
    // customers with a deal of Ana's (Ana sees the deal, not the customer).
    let mut rng = SplitMix64::new(7);
    let mut hand: BTreeMap<CustomerId, (UserId, Rfm<Week>)> = BTreeMap::new();
    let owners = [ana, ari, bo];
    system
        .batch(|b| {
            for i in 0..361usize {
                let owner = owners[i % 3];
                let customer_owner = if i == 360 { bo } else { owner };
                let bought = purchases(&mut rng);
                b.set_time(Some(t0() + Duration::days(bought[0].0)));
                let c =
                    b.create_customer(NewCustomer::person(format!("C{i}")).owner(customer_owner))?;
                for &(day, amount) in &bought {
                    b.set_time(Some(t0() + Duration::days(day) + Duration::hours(1)));
                    let d = b.create_deal(
                        NewDeal::new(c.id, p.id, "order")
                            .owner(owner)
                            .amount(Money::new(Decimal::from(amount), Currency::EUR)),
                    )?;
                    b.win_deal(d.id, d.version)?;
                }
                hand.insert(c.id, (customer_owner, history(&bought)));
            }
            b.set_time(None);
            // A customer without purchases: never scored.
            b.create_customer(NewCustomer::person("Nobody"))?;
            Ok(())
        })
        .expect("world");
    let obs = Observation::new(t0() + Duration::days(OBSERVED), Currency::EUR);
    let year = ClvOptions::new(
        Span::<Month>::new(12.0).expect("span"),
        Span::<Month>::new(1.0).expect("span"),
        0.01,
    )
    .expect("clv options");
    let run = ScoreRun::new(year);

    // Refusals change nothing: a viewer may change no customer, a support
    // agent may not see amounts, a rep may not define the fields.
    let before = (last_seq(crm.store()), everyone(&crm));
    let refused = [
        crm.as_user(viewer).write_scores::<Week, Month>(&obs, &run),
        crm.as_user(agent).write_scores::<Week, Month>(&obs, &run),
        crm.as_user(ana).write_scores::<Week, Month>(&obs, &run),
    ];
    assert!(
        matches!(refused[0], Err(Error::PermissionDenied { .. })),
        "viewer: {:?}",
        refused[0].as_ref().map(|r| r.written)
    );
    assert!(
        matches!(refused[1], Err(Error::FieldHidden { .. })),
        "agent: {:?}",
        refused[1].as_ref().map(|r| r.written)
    );
    assert!(
        matches!(refused[2], Err(Error::PermissionDenied { .. })),
        "rep defining fields: {:?}",
        refused[2].as_ref().map(|r| r.written)
    );
    assert_eq!(
        (last_seq(crm.store()), everyone(&crm)),
        before,
        "a refused run changed something"
    );

    // The system's run: every customer with purchases, one event.
    let report = system
        .write_scores::<Week, Month>(&obs, &run)
        .expect("system run");
    assert_eq!(report.written, 361);
    assert_eq!(
        (report.out_of_scope, report.not_writable, report.merged),
        (0, 0, 0)
    );
    assert_eq!(
        report.defined_fields,
        [
            "p_alive",
            "expected_purchases_12m",
            "expected_spend",
            "clv_12m"
        ]
    );
    assert_eq!(report.purchases.customers, 361);
    let repeat = hand.values().filter(|(_, h)| h.frequency() > 0).count();
    assert_eq!(report.spend.customers, repeat);
    assert_eq!(report.spend.left_out.no_repeat_purchase, 361 - repeat);
    assert_eq!(last_seq(crm.store()), before.0 + 1, "one event for the run");
    let events = all_events(crm.store());
    let ev = events.last().expect("event");
    assert_eq!(ev.seq, report.event_seq);
    assert_eq!(ev.kind, EventKind::ScoresWritten);
    assert_eq!(ev.entity.kind, EntityKind::ModelRun);
    assert_eq!(ev.entity.id, report.run);
    let change = |name: &str| {
        ev.changes
            .iter()
            .find(|c| c.field == name)
            .map(|c| c.new.clone())
            .unwrap_or_else(|| panic!("no {name} in {:?}", ev.changes))
    };
    assert_eq!(change("customers")["written"], 361);
    assert_eq!(change("bg_nbd")["r"], report.purchases.model.r());
    assert_eq!(change("gamma_gamma")["customers"], repeat);
    assert_eq!(change("defined_fields")[3], "clv_12m");
    let schema = system.custom_fields(EntityKind::Customer).expect("schema");
    assert_eq!(schema.version, 1);
    assert_eq!(schema.fields.len(), 4);

    // Versions bump, values are the pure scores of the hand-built histories.
    let after = everyone(&crm);
    let mut winback = Vec::new();
    for (id, c) in &after {
        let old = &before.1[id];
        let Some((_, h)) = hand.get(id) else {
            assert_eq!(c, old, "a customer without purchases changed");
            continue;
        };
        assert_eq!(c.version, old.version + 1);
        let want =
            score(&report.purchases.model, Some(&report.spend.model), h, &year).expect("score");
        let round = |v: f64, dp: u32| Decimal::from_f64(v).expect("finite").round_dp(dp);
        // Money rounds half away from zero.
        let cents = |v: f64| {
            Decimal::from_f64(v)
                .expect("finite")
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        };
        assert_eq!(decimal(c, "p_alive"), Some(round(want.p_alive, 6)), "{id}");
        assert_eq!(
            decimal(c, "expected_purchases_12m"),
            Some(round(want.expected_purchases, 4)),
            "{id}"
        );
        let clv = cents(want.clv.expect("clv"));
        assert_eq!(decimal(c, "clv_12m"), Some(clv), "{id}");
        assert_eq!(
            decimal(c, "expected_spend"),
            Some(cents(want.expected_spend.expect("spend"))),
            "{id}"
        );
        winback.push((*id, round(want.p_alive, 6), clv));
    }
    // Win-back segments (valuable but probably gone) select exactly the
    // customers whose values pass, filtered here by hand. (In these
    // simulated data the probably-gone have CLVs up to about 350.)
    let mut sizes = Vec::new();
    for (alive, value) in [("0.3", "500"), ("0.3", "100"), ("0.5", "300")] {
        let (alive, value): (Decimal, Decimal) = (
            alive.parse().expect("decimal"),
            value.parse().expect("decimal"),
        );
        let want: Vec<CustomerId> = winback
            .iter()
            .filter(|(_, p, clv)| *p < alive && *clv > value)
            .map(|(id, _, _)| *id)
            .collect();
        let expr = format!("field.p_alive < {alive} and field.clv_12m > {value}");
        assert_eq!(matching(&system, &expr), want, "{expr}");
        sizes.push(want.len());
    }
    assert!(
        sizes[1] > 0 && sizes[2] > 0 && sizes[1] < 50,
        "segment sizes {sizes:?}"
    );

    // Ana's run: fits on the North team's deals (hers, Ari's), writes her
    // own customers, leaves Ari's (not hers to change) and Bo's customer
    // with her deal (not hers to read) alone; South is not touched.
    let before = (last_seq(crm.store()), everyone(&crm));
    let mine = report_counts(&hand, ana);
    let report = crm
        .as_user(ana)
        .write_scores::<Week, Month>(&obs, &run)
        .expect("rep run");
    assert_eq!(report.written, mine);
    assert_eq!(report.not_writable, report_counts(&hand, ari));
    assert_eq!(report.out_of_scope, 1);
    assert!(report.defined_fields.is_empty());
    assert_eq!(report.purchases.customers, 2 * 120 + 1);
    assert_eq!(last_seq(crm.store()), before.0 + 1);
    for (id, c) in everyone(&crm) {
        let old = &before.1[&id];
        let written = c.owner == Some(ana) && hand.contains_key(&id);
        assert_eq!(c.version, old.version + u64::from(written), "{id}");
        if !written {
            assert_eq!(&c, old);
        }
    }
    // Ana's segment sees only what she may read.
    let theirs: Vec<CustomerId> = matching(&crm.as_user(ana), "field.p_alive >= 0")
        .into_iter()
        .collect();
    let visible = everyone(&crm)
        .values()
        .filter(|c| c.owner == Some(ana) || c.owner == Some(ari))
        .filter(|c| decimal(c, "p_alive").is_some())
        .count();
    assert_eq!(theirs.len(), visible);
    super::verify::assert_consistent(&crm);
}

/// Customers of `owner` with purchases.
fn report_counts(hand: &BTreeMap<CustomerId, (UserId, Rfm<Week>)>, owner: UserId) -> usize {
    hand.values().filter(|(o, _)| *o == owner).count()
}
