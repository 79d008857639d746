//! Segments on a realistic data set: saved segments with their counts, the
//! RFM segment table and an ABC summary.
//!
//! ```sh
//! cargo run --example segments
//! ```
//!
//! The data is generated from a fixed seed with a tiny deterministic
//! generator (SplitMix64), so every run prints the same numbers: 3 000
//! customers over two years, each with a purchasing profile, their won and
//! open deals (EUR) and their activities.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::segment::Window;
use crm_core::segment::abc::{AbcClass, AbcCutoffs};
use crm_core::segment::rfm::RfmSegment;
use crm_core::{
    ActivityKind, Actor, Crm, Currency, Lifecycle, ManualClock, Money, NewActivity, NewCustomer,
    NewDeal, NewUser, PageRequest, PipelineDef, SequentialIds, UserId,
};
use crm_store_memory::MemoryStore;
use rust_decimal::Decimal;

/// The example's deterministic generator (SplitMix64).
type Rng = crm_core::predict::simulate::SplitMix64;

const CUSTOMERS: u64 = 3_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let crm = Crm::new(MemoryStore::new())
        .with_clock(clock.clone())
        .with_ids(SequentialIds::new(5));
    let s = crm.as_actor(Actor::System);
    let pipeline = s.create_pipeline(PipelineDef::sales_template("Sales"))?;
    // The sales team: an owner must be a stored, active user.
    let mut owners: Vec<UserId> = Vec::new();
    for name in ["Ana", "Ben", "Cem", "Dora"] {
        let email = format!("{}@example.com", name.to_lowercase());
        owners.push(s.create_user(NewUser::new(name, email))?.id);
    }
    let cities = ["berlin", "hamburg", "munich", "vienna"];

    let mut rng = Rng::new(2026);
    let day = |d: u64| -> DateTime<Utc> { now - Duration::days(d as i64) };
    s.batch(|b| {
        for i in 0..CUSTOMERS {
            // Profile: how often and how much this customer buys, and how
            // long ago they stopped (if they did).
            let size = [1u64, 1, 1, 2, 3, 5, 10, 25][rng.below(8) as usize];
            let orders = rng.below(9);
            let silent_for = if rng.chance(30) {
                200 + rng.below(400)
            } else {
                0
            };
            let created = day(700 + rng.below(30));
            b.set_time(Some(created));
            let mut input = if rng.chance(70) {
                NewCustomer::organisation(format!("Company {i:04} GmbH"))
            } else {
                NewCustomer::person(format!("Person {i:04}"))
            }
            .tag(cities[rng.below(4) as usize])
            .owner(owners[rng.below(4) as usize]);
            if size >= 10 {
                input = input.tag("vip");
            }
            if rng.chance(60) {
                input = input.email(format!("c{i}@example.com"));
            }
            input = input.lifecycle(if orders > 0 {
                Lifecycle::Customer
            } else {
                Lifecycle::Lead
            });
            let c = b.create_customer(input)?;
            for _ in 0..orders {
                let won = silent_for + rng.below(690 - silent_for.min(600));
                let opened = won + 5 + rng.below(20);
                let cents = size * (20_000 + rng.below(180_000));
                b.set_time(Some(day(opened)));
                let d = b.create_deal(
                    NewDeal::new(c.id, pipeline.id, "Order")
                        .amount(Money::new(Decimal::new(cents as i64, 2), Currency::EUR)),
                )?;
                b.set_time(Some(day(won)));
                b.win_deal(d.id, d.version)?;
            }
            if rng.chance(25) {
                b.set_time(Some(day(rng.below(30))));
                let cents = size * (50_000 + rng.below(2_000_000));
                b.create_deal(
                    NewDeal::new(c.id, pipeline.id, "Expansion")
                        .amount(Money::new(Decimal::new(cents as i64, 2), Currency::EUR)),
                )?;
            }
            for _ in 0..rng.below(4) {
                b.set_time(Some(day(silent_for + rng.below(120))));
                b.log_activity(NewActivity::new(ActivityKind::Call, "Check-in").customer(c.id))?;
            }
        }
        Ok(())
    })?;
    clock.set(now);

    println!("{CUSTOMERS} customers; now = {now}\n");
    println!("Saved segments:");
    let saved = [
        (
            "VIPs in Berlin not contacted for 60 days",
            "tag:vip and tag:berlin and not last_activity within 60d".to_owned(),
        ),
        (
            "Ana's leads with an open deal",
            format!("lifecycle = lead and owner = {} and open_deals > 0", owners[0]),
        ),
        (
            "Churn risk: big spenders gone quiet",
            "won_amount(EUR, 730d) > 10000 and rfm_segment(EUR, 365d) in (at_risk, cannot_lose, hibernating)".to_owned(),
        ),
    ];
    for (name, text) in saved {
        let seg = s.create_segment(name, text.parse()?)?;
        let result = s.evaluate_segment(seg.id, &PageRequest::default())?;
        println!("  {:>5}  {name}", result.count);
        println!("         {}", seg.expression);
    }

    let rfm = s.rfm(Currency::EUR, Some(Window::days(365)))?;
    let mut table: BTreeMap<RfmSegment, (u64, Decimal)> = BTreeMap::new();
    for c in &rfm {
        let row = table.entry(c.segment).or_default();
        row.0 += 1;
        row.1 = row.1.checked_add(c.purchases.total).unwrap_or(row.1);
    }
    let total: Decimal = rfm.iter().map(|c| c.purchases.total).sum();
    println!(
        "\nRFM segments (EUR, last 365 days; {} customers with a win):",
        rfm.len()
    );
    println!(
        "  {:<20} {:>9} {:>15} {:>7}",
        "segment", "customers", "revenue EUR", "share"
    );
    for (seg, (n, revenue)) in &table {
        let share = if total.is_zero() {
            Decimal::ZERO
        } else {
            (revenue * Decimal::ONE_HUNDRED / total).round_dp(1)
        };
        println!("  {:<20} {n:>9} {revenue:>15} {share:>6}%", seg.as_str());
    }

    let abc = s.abc(
        Currency::EUR,
        Some(Window::days(365)),
        AbcCutoffs::default(),
    )?;
    println!("\nABC classes (EUR, last 365 days, cut-offs 80 % / 95 %):");
    for class in [AbcClass::A, AbcClass::B, AbcClass::C] {
        let members: Vec<_> = abc.iter().filter(|c| c.class == class).collect();
        let revenue: Decimal = members.iter().map(|c| c.revenue).sum();
        println!(
            "  {class:?}: {:>5} customers, {revenue:>14} EUR",
            members.len()
        );
    }
    Ok(())
}
