//! Predictive customer value: a year of purchases recorded through the
//! facade, the BG/NBD and Gamma-Gamma models fitted on them, and each
//! customer's probability of being alive and 12-month CLV.
//!
//! The purchases come from the BG/NBD story itself (deterministic seed):
//! 1 000 customers make a first purchase in the first half of 2025; while
//! alive each buys at their own rate (Gamma-distributed across customers)
//! and after every repeat purchase drops out with their own probability
//! (Beta-distributed); purchase values are Gamma-distributed around each
//! customer's own mean. The models are fitted in weeks, the CLV horizon is
//! given in months (converted explicitly), and the program prints the
//! parameters, the ten most valuable customers, and how many valuable
//! customers have probably gone.
//!
//! Run it with `cargo run --example clv`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use crm_core::predict::simulate::SplitMix64;
use crm_core::predict::{ClvOptions, FitOptions, Month, Observation, Span, Week};
use crm_core::{Actor, Crm, Currency, ManualClock, Money, NewCustomer, NewDeal, PipelineDef};
use crm_store_memory::MemoryStore;
use rust_decimal::Decimal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start: DateTime<Utc> = Utc.with_ymd_and_hms(2025, 1, 1, 9, 0, 0).unwrap();
    let end = start + Duration::days(365);
    let crm = Crm::new(MemoryStore::new()).with_clock(ManualClock::new(end));
    let s = crm.as_actor(Actor::System);
    let pipeline = s.create_pipeline(PipelineDef::sales_template("Shop"))?;

    // r = 0.5, α = 40 days (one purchase every 80 days on average),
    // a = 1, b = 3 (a quarter drop out after each purchase);
    // spend p = 4, q = 4, v = 150 (mean 200 EUR).
    let mut rng = SplitMix64::new(2025);
    let mut names = Vec::new();
    let mut deals = 0;
    for i in 0..1_000 {
        let c = s.create_customer(NewCustomer::person(format!("Customer {i:04}")))?;
        names.push((c.id, c.name.clone()));
        let rate = rng.gamma(0.5) / 40.0;
        let drop = rng.beta(1.0, 3.0);
        let nu = rng.gamma(4.0) / 150.0;
        let mut day = 182.0 * rng.uniform();
        let mut first = true;
        while day < 365.0 {
            let at = s.at(start + Duration::seconds((day * 86_400.0) as i64));
            let amount = format!("{:.2}", rng.gamma(4.0) / nu);
            let d = at.create_deal(
                NewDeal::new(c.id, pipeline.id, "order").amount(Money::parse(&amount, "EUR")?),
            )?;
            at.win_deal(d.id, d.version)?;
            deals += 1;
            if !first && rng.uniform() < drop {
                break;
            }
            first = false;
            day += -rng.uniform().ln() / rate;
        }
    }
    println!("recorded {deals} won deals of 1000 customers in 2025\n");

    let obs = Observation::new(end, Currency::EUR);
    let purchases = s.fit_bgnbd::<Week>(&obs, &FitOptions::default())?;
    let m = &purchases.model;
    let se = purchases.standard_errors;
    let pm = |v: f64, e: Option<f64>| match e {
        Some(e) => format!("{v:.3} ± {e:.3}"),
        None => format!("{v:.3}"),
    };
    println!(
        "BG/NBD (weeks), log-likelihood {:.1}:",
        purchases.log_likelihood
    );
    println!(
        "  r = {}   alpha = {} weeks",
        pm(m.r(), se.map(|e| e.r)),
        pm(m.alpha(), se.map(|e| e.alpha))
    );
    println!(
        "  a = {}   b = {}",
        pm(m.a(), se.map(|e| e.a)),
        pm(m.b(), se.map(|e| e.b))
    );
    println!("  (generated with r = 0.5, alpha = 40 days = 5.71 weeks, a = 1, b = 3)");

    let spend = s.fit_gamma_gamma(&obs, 0.0)?;
    let g = &spend.model;
    println!(
        "Gamma-Gamma on {} repeat buyers ({} left out without a repeat purchase):",
        spend.customers, spend.left_out.no_repeat_purchase
    );
    println!(
        "  p = {:.2}   q = {:.2}   v = {:.1}   (generated with 4, 4, 150)\n",
        g.p(),
        g.q(),
        g.v()
    );

    let year = ClvOptions::new(Span::<Month>::new(12.0)?, Span::<Month>::new(1.0)?, 0.01)?;
    let mut scores = s.predict_scores(&obs, m, Some(g), &year)?;
    let clv = |c: &crm_core::predict::CustomerScores| c.clv.map_or(Decimal::ZERO, |m| m.amount);
    scores.sort_by(|x, y| clv(y).cmp(&clv(x)).then(x.customer.cmp(&y.customer)));
    println!(
        "{:<15} {:>8} {:>12} {:>12}",
        "top 10", "P(alive)", "purchases", "12-month CLV"
    );
    for c in scores.iter().take(10) {
        let name = names
            .iter()
            .find(|(id, _)| *id == c.customer)
            .map_or("?", |(_, n)| n);
        println!(
            "{:<15} {:>8.3} {:>12.2} {:>12}",
            name,
            c.p_alive,
            c.expected_purchases,
            c.clv
                .map_or_else(String::new, |m| format!("{} EUR", m.amount))
        );
    }
    let valuable_gone = scores
        .iter()
        .filter(|c| c.p_alive < 0.3 && clv(c) > Decimal::from(100))
        .count();
    let valuable = scores
        .iter()
        .filter(|c| clv(c) > Decimal::from(100))
        .count();
    println!(
        "\n{valuable} customers are worth more than 100 EUR over the next 12 months; \
         {valuable_gone} of them have probably gone (P(alive) < 0.3): a win-back list."
    );
    Ok(())
}
