//! Predictive customer value on the CDNOW sample: 6 919 purchases of
//! 2 357 customers of the CD retailer CDNOW (Fader & Hardie's sample,
//! shipped in the `lifetimes` 0.11.3 wheel; see
//! `crm-core/tests/fixtures/cdnow/README.md`) imported as won deals in one
//! batch, the BG/NBD and Gamma-Gamma models fitted on the first 39 weeks
//! (to 1997-09-30, as in Fader, Hardie & Lee 2005) and every customer's
//! scores written back to custom fields in one call with one event.
//!
//! It prints the fitted parameters next to the published ones, the ten
//! customers with the highest 12-month CLV, and the size of the "valuable
//! but probably gone" segment, a saved-segment expression over the written
//! fields.
//!
//! Run it with `cargo run --example clv` (SQLite in memory; a few seconds
//! in a debug build).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use crm_core::custom_field::CustomValue;
use crm_core::predict::{ClvOptions, Month, Observation, ScoreRun, Span, Week};
use crm_core::query::CustomerQuery;
use crm_core::segment::Expr;
use crm_core::{
    Actor, Crm, Currency, Customer, CustomerId, ManualClock, Money, NewCustomer, NewDeal,
    PageRequest, PipelineDef,
};
use crm_store_sqlite::SqliteStore;
use rust_decimal::Decimal;

/// The transaction log: `master id, sample id (1..=2357), YYYYMMDD, CDs,
/// amount in US dollars`, whitespace-separated, CRLF line ends.
const SAMPLE: &str = include_str!("../crm-core/tests/fixtures/cdnow/CDNOW_sample.txt");

/// One purchase.
struct Purchase {
    customer: u32,
    day: NaiveDate,
    amount: Decimal,
}

fn parse(text: &str) -> Result<Vec<Purchase>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let bad = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
        if f.len() != 5 {
            return Err(bad("expected 5 columns"));
        }
        out.push(Purchase {
            customer: f[1].parse().map_err(|_| bad("sample id"))?,
            day: NaiveDate::parse_from_str(f[2], "%Y%m%d").map_err(|_| bad("date"))?,
            amount: f[4].parse().map_err(|_| bad("amount"))?,
        });
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let purchases = parse(SAMPLE)?;
    // The calibration period of the paper ends on 1997-09-30: T counts
    // to that day, and the purchases of that day are in.
    let end: DateTime<Utc> = Utc.with_ymd_and_hms(1997, 9, 30, 23, 59, 59).unwrap();
    let crm = Crm::new(SqliteStore::open_in_memory()?)
        .with_clock(ManualClock::new(end + Duration::days(1)));
    let s = crm.as_actor(Actor::System);
    let pipeline = s.create_pipeline(PipelineDef::sales_template("CD orders"))?;

    // One batch: every customer and every purchase as a won deal dated at
    // noon UTC of its day.
    let noon = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap_or_default());
    let customers: BTreeMap<u32, CustomerId> = s.batch(|b| {
        let mut ids = BTreeMap::new();
        for p in &purchases {
            b.set_time(Some(noon(p.day)));
            let id = match ids.get(&p.customer) {
                Some(id) => *id,
                None => {
                    let c =
                        b.create_customer(NewCustomer::person(format!("CDNOW {:04}", p.customer)))?;
                    ids.insert(p.customer, c.id);
                    c.id
                }
            };
            let d = b.create_deal(
                NewDeal::new(id, pipeline.id, "CDs").amount(Money::new(p.amount, Currency::USD)),
            )?;
            b.win_deal(d.id, d.version)?;
        }
        b.set_time(None);
        Ok(ids)
    })?;
    println!(
        "imported {} purchases of {} customers as won deals (1997-01-01 to 1998-06-30)\n",
        purchases.len(),
        customers.len()
    );

    // Fit on the first 39 weeks, in weeks; score 12 months ahead in
    // monthly steps at 1 % a month (months are converted to weeks inside),
    // and write the scores to the customers: one transaction, one event.
    let obs = Observation::new(end, Currency::USD);
    let year = ClvOptions::new(Span::<Month>::new(12.0)?, Span::<Month>::new(1.0)?, 0.01)?;
    let run = s.write_scores::<Week, Month>(&obs, &ScoreRun::new(year))?;

    let fit = &run.purchases;
    let (m, se) = (&fit.model, fit.standard_errors);
    let pm = |v: f64, e: Option<f64>| match e {
        Some(e) => format!("{v:.3} ± {e:.3}"),
        None => format!("{v:.3}"),
    };
    println!(
        "BG/NBD on {} customers (weeks), log-likelihood {:.1} (published -9582.4):",
        fit.customers, fit.log_likelihood
    );
    println!(
        "  r = {}   alpha = {} weeks   (published 0.243, 4.414)",
        pm(m.r(), se.map(|e| e.r)),
        pm(m.alpha(), se.map(|e| e.alpha))
    );
    println!(
        "  a = {}   b = {}   (published 0.793, 2.426)",
        pm(m.a(), se.map(|e| e.a)),
        pm(m.b(), se.map(|e| e.b))
    );
    let g = &run.spend.model;
    println!(
        "Gamma-Gamma on {} repeat buyers ({} left out without a repeat purchase):",
        run.spend.customers, run.spend.left_out.no_repeat_purchase
    );
    println!(
        "  p = {:.2}   q = {:.2}   v = {:.2}   (published 6.25, 3.74, 15.44)",
        g.p(),
        g.q(),
        g.v()
    );
    println!(
        "wrote {} to {} customers (event #{})\n",
        run.fields.keys().join(", "),
        run.written,
        run.event_seq
    );

    // The ten highest 12-month CLVs, read back from the custom fields.
    // (2 357 customers fit in one page of at most 10 000.)
    let all: Vec<Customer> = s
        .customers(&CustomerQuery::new().limit(PageRequest::MAX_LIMIT))?
        .items;
    let field = |c: &Customer, key: &str| match c.custom.get(key) {
        Some(CustomValue::Decimal(d)) => *d,
        _ => Decimal::ZERO,
    };
    let mut ranked: Vec<&Customer> = all.iter().collect();
    ranked.sort_by(|x, y| {
        field(y, &run.fields.clv)
            .cmp(&field(x, &run.fields.clv))
            .then(x.id.cmp(&y.id))
    });
    println!(
        "{:<12} {:>8} {:>10} {:>10} {:>14}",
        "top 10", "P(alive)", "purchases", "avg spend", "12-month CLV"
    );
    for c in ranked.iter().take(10) {
        println!(
            "{:<12} {:>8} {:>10} {:>10} {:>10} USD",
            c.name,
            field(c, &run.fields.p_alive).round_dp(3),
            field(c, &run.fields.expected_purchases).round_dp(2),
            field(c, &run.fields.expected_spend),
            field(c, &run.fields.clv),
        );
    }

    // Valuable but probably gone: a high average spend, P(alive) < 0.3.
    let expr = "field.p_alive < 0.3 and field.expected_spend > 50";
    let e: Expr = expr.parse()?;
    let page = PageRequest {
        limit: 10,
        after: None,
    };
    let gone = s.evaluate_expr(&e, &page)?;
    let valuable = s.evaluate_expr(&"field.expected_spend > 50".parse()?, &page)?;
    println!(
        "\n{} customers are expected to spend more than 50 USD a purchase; \
         {} of them have probably gone ({expr}): a win-back list.",
        valuable.count, gone.count
    );
    Ok(())
}
