//! KPI report: a year of generated sales activity and the dashboard a
//! sales manager would see for it.
//!
//! The data comes from a small deterministic generator (splitmix64 with a
//! fixed seed, so every run prints the same report): four reps work 2025
//! on a customer base in EUR and USD, deals move through the sales
//! template's stages (or stall, or are lost), reps log calls, e-mails,
//! meetings and tasks, and customers become customers, churn and come
//! back. Everything is recorded through the facade with `Session::at`, so
//! the audit log carries the historical dates; the report then reads the
//! KPIs back through the facade, as of 1 January 2026. New leads get a
//! first outbound reply, most within a few business hours of an office in
//! Berlin (Monday to Friday 09:00-17:00, public holidays closed), which
//! the report measures against a 4-business-hour response SLA.
//!
//! Run it with `cargo run --example kpi_report`.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use crm_core::calendar::{BusinessCalendar, WeeklyHours};
use crm_core::kpi::RateTable;
use crm_core::kpi::customer::Churn;
use crm_core::kpi::forecast::Forecast;
use crm_core::kpi::report::{KpiOptions, KpiReport};
use crm_core::kpi::response::{FirstResponse, ResponseOptions, SlaStatus};
use crm_core::kpi::revenue::revenue_in;
use crm_core::kpi::rotting::RottingThresholds;
use crm_core::kpi::{KpiFilter, Period, ReportZone};
use crm_core::{
    ActivityKind, Actor, Crm, Currency, CustomerId, CustomerPatch, DealId, Direction, Lifecycle,
    ManualClock, Money, NewActivity, NewCustomer, NewDeal, NewUser, PipelineDef, SequentialIds,
    Session, StageKey, Store, UserId,
};
use crm_store_memory::MemoryStore;
use rust_decimal::Decimal;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// splitmix64 (Steele, Lea & Flood): tiny, fast, and good enough to make
/// plausible test data; not for anything that needs real randomness.
type Rng = crm_core::predict::simulate::SplitMix64;

/// Random durations for the simulated history.
trait Days {
    /// A duration of `lo..=hi` days plus some working hours.
    fn days(&mut self, lo: i64, hi: i64) -> Duration;
}

impl Days for Rng {
    fn days(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::days(lo + self.below((hi - lo + 1) as u64) as i64)
            + Duration::minutes(self.below(8 * 60) as i64)
    }
}

const NAMES: [&str; 20] = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
    "Monarch",
    "Nakatomi",
    "Dunder",
    "Pied Piper",
    "Massive",
];
const SUFFIXES: [&str; 8] = ["GmbH", "Ltd", "Inc", "AG", "SA", "BV", "Oy", "LLC"];
const REPS: [&str; 4] = ["Alice", "Bob", "Chen", "Dana"];
const LOST_REASONS: [&str; 4] = [
    "price",
    "went with a competitor",
    "no budget",
    "no decision",
];

/// The sales reps, stored as users (an owner must be a stored, active
/// user), in the order of [`REPS`].
struct Reps(Vec<UserId>);

impl Reps {
    fn create<S: Store>(s: &Session<'_, S>) -> Res<Self> {
        let mut ids = Vec::new();
        for name in REPS {
            let email = format!("{}@example.com", name.to_lowercase());
            ids.push(s.create_user(NewUser::new(name, email))?.id);
        }
        Ok(Reps(ids))
    }

    fn id(&self, i: usize) -> UserId {
        self.0[i % self.0.len()]
    }

    fn name(&self, u: Option<UserId>) -> String {
        self.0
            .iter()
            .position(|id| Some(*id) == u)
            .map_or_else(|| "(nobody)".to_owned(), |i| REPS[i].to_owned())
    }
}

fn utc(y: i32, m: u32, d: u32) -> Res<DateTime<Utc>> {
    Ok(Utc
        .with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .ok_or("bad date")?)
}

struct Customer {
    id: CustomerId,
    name: String,
    version: u64,
    created: DateTime<Utc>,
    currency: &'static str,
    lifecycle: Lifecycle,
    purchases: Vec<DateTime<Utc>>,
}

fn main() -> Res<()> {
    let start = utc(2025, 1, 1)?;
    let end = utc(2026, 1, 1)?;
    let crm = Crm::new(MemoryStore::new())
        .with_clock(Arc::new(ManualClock::new(end)))
        .with_ids(SequentialIds::new(2025));
    let s = crm.as_actor(Actor::System);
    let mut rng = Rng::new(0x5EED_2025);
    let pipeline = s
        .at(utc(2024, 1, 1)?)
        .create_pipeline(PipelineDef::sales_template("Sales"))?;
    let reps = Reps::create(&s.at(utc(2024, 1, 1)?))?;

    // The office's business hours, for response times.
    let office = office_calendar()?;
    // A separate generator for replies, so the rest of the data stays as it was.
    let mut replies = Rng::new(0x02E9_11E5);

    // The customer base: 60 from 2024 (40 already buying), 100 new leads in 2025.
    let mut customers: Vec<Customer> = Vec::new();
    for i in 0..160 {
        let created = if i < 60 {
            utc(2024, 6, 1)? + rng.days(0, 200)
        } else {
            start + rng.days(0, 330)
        };
        let lifecycle = if i < 40 {
            Lifecycle::Customer
        } else {
            Lifecycle::Lead
        };
        let currency = if rng.chance(25) { "USD" } else { "EUR" };
        let name = format!(
            "{} {}",
            NAMES[i % NAMES.len()],
            SUFFIXES[i / NAMES.len() % SUFFIXES.len()]
        );
        let c = s.at(created).create_customer(
            NewCustomer::organisation(name.clone())
                .lifecycle(lifecycle)
                .owner(reps.id(i)),
        )?;
        if lifecycle == Lifecycle::Lead && created >= start {
            reply_to_lead(&s, &mut replies, &office, c.id, reps.id(i), created, end)?;
        }
        customers.push(Customer {
            id: c.id,
            name,
            version: c.version,
            created,
            currency,
            lifecycle,
            purchases: Vec::new(),
        });
    }
    customers.sort_by_key(|c| c.created);

    // About two new deals a day, each walking the funnel until it is won,
    // lost, stalls, or the year ends.
    let mut day = start;
    let mut deals = 0;
    while day < end {
        for _ in 0..rng.below(5) {
            let at = day + Duration::minutes(8 * 60 + rng.below(9 * 60) as i64);
            let known = customers.partition_point(|c| c.created <= at);
            if known == 0 {
                continue;
            }
            let ci = rng.below(known as u64) as usize;
            deals += 1;
            simulate_deal(
                &s,
                &reps,
                &mut rng,
                pipeline.id,
                &mut customers[ci],
                deals,
                at,
                end,
            )?;
        }
        day += Duration::days(1);
    }

    // Lifecycle: a customer buys (lead -> customer), churns 180 days after
    // its last purchase, and is won back by a new one.
    let churn_after = Duration::days(180);
    for c in &mut customers {
        let mut purchases = c.purchases.clone();
        purchases.sort();
        let mut last = (c.lifecycle == Lifecycle::Customer).then_some(c.created);
        for p in purchases {
            if let Some(l) = last
                && c.lifecycle == Lifecycle::Customer
                && p - l > churn_after
            {
                set_lifecycle(&s, c, l + churn_after, Lifecycle::Churned)?;
            }
            if c.lifecycle != Lifecycle::Customer {
                set_lifecycle(&s, c, p, Lifecycle::Customer)?;
            }
            last = Some(p);
        }
        if let Some(l) = last
            && c.lifecycle == Lifecycle::Customer
            && l + churn_after < end
        {
            set_lifecycle(&s, c, l + churn_after, Lifecycle::Churned)?;
        }
    }

    let year = KpiFilter::default().window(start, end)?;
    let options = KpiOptions {
        filter: year.clone(),
        period: Period::Quarter,
        zone: ReportZone::named("Europe/Berlin")?,
        rotting: RottingThresholds::days(21)
            .stage(StageKey::new("negotiation")?, 14)
            .stage(StageKey::new("lead")?, 30),
        response: Some(ResponseOptions::new(office).sla(Duration::hours(4))),
        ..KpiOptions::default()
    };
    let report = s.kpi_report(&options)?;
    let h2 = KpiFilter::default().window(utc(2025, 7, 1)?, end)?;
    let h2_churn = s.churn(&h2)?;
    let next_half = KpiFilter::default().window(end, utc(2026, 7, 1)?)?;
    let mut deal_titles = BTreeMap::new();
    for d in &report.rotting {
        deal_titles.insert(d.deal, s.deal(d.deal)?.title);
    }
    let extras = Extras {
        monthly_new: s.new_customers(&year, Period::Month, options.zone)?,
        h2_churn,
        forecast: s.forecast(&next_half)?,
        customer_names: customers.iter().map(|c| (c.id, c.name.clone())).collect(),
        deal_titles,
        deals,
        customers: customers.len(),
        reps,
    };
    print_report(&report, &extras)
}

/// What the report prints besides the suite.
struct Extras {
    monthly_new: BTreeMap<NaiveDate, u64>,
    h2_churn: Churn,
    forecast: Forecast,
    customer_names: BTreeMap<CustomerId, String>,
    deal_titles: BTreeMap<DealId, String>,
    deals: usize,
    customers: usize,
    reps: Reps,
}

#[allow(clippy::too_many_arguments)]
fn simulate_deal<S: Store>(
    s: &Session<'_, S>,
    reps: &Reps,
    rng: &mut Rng,
    pipeline: crm_core::PipelineId,
    c: &mut Customer,
    n: usize,
    created: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Res<()> {
    let owner = reps.id(rng.below(REPS.len() as u64) as usize);
    let amount = 500 + 10 * rng.below(100) * (1 + rng.below(40));
    let close = (created + rng.days(25, 90)).date_naive();
    let deal = s.at(created).create_deal(
        NewDeal::new(c.id, pipeline, format!("Deal {n:04}"))
            .amount(Money::parse(&amount.to_string(), c.currency)?)
            .expected_close_date(close)
            .owner(owner),
    )?;
    let mut deal = deal;
    let mut at = created;
    let task = s.at(created).log_activity(
        NewActivity::task("Qualify the need", created + Duration::days(7))
            .deal(deal.id)
            .owner(owner),
    )?;
    // Pass rates out of lead, qualified, proposal; then the close.
    let steps = [("qualified", 80), ("proposal", 75), ("negotiation", 80)];
    let mut open = true;
    for (i, (stage, pass)) in steps.iter().enumerate() {
        let next = at + rng.days(2, 18);
        log_touches(s, rng, deal.id, owner, at, next.min(end))?;
        if i == 0 && rng.chance(85) && created + Duration::days(7) < end {
            s.at(next.min(created + Duration::days(7)).max(created))
                .complete_task(task.id, task.version)?;
        }
        if next >= end || rng.chance(3) {
            return Ok(()); // the year ends, or the deal stalls
        }
        at = next;
        if !rng.chance(*pass) {
            let reason = LOST_REASONS[rng.below(LOST_REASONS.len() as u64) as usize];
            s.at(at).lose_deal(deal.id, deal.version, reason)?;
            open = false;
            break;
        }
        deal = s.at(at).move_deal(deal.id, deal.version, stage)?;
    }
    if open {
        let next = at + rng.days(3, 20);
        log_touches(s, rng, deal.id, owner, at, next.min(end))?;
        if next < end {
            if rng.chance(70) {
                s.at(next).win_deal(deal.id, deal.version)?;
                c.purchases.push(next);
            } else {
                s.at(next).lose_deal(deal.id, deal.version, "price")?;
            }
        }
    }
    Ok(())
}

fn log_touches<S: Store>(
    s: &Session<'_, S>,
    rng: &mut Rng,
    deal: crm_core::DealId,
    owner: UserId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Res<()> {
    let span = (to - from).num_minutes();
    if span <= 0 {
        return Ok(());
    }
    for _ in 0..rng.below(3) {
        let at = from + Duration::minutes(rng.below(span as u64) as i64);
        let (kind, subject) = match rng.below(3) {
            0 => (ActivityKind::Call, "Call"),
            1 => (ActivityKind::Email, "E-mail"),
            _ => (ActivityKind::Meeting, "Meeting"),
        };
        s.at(at)
            .log_activity(NewActivity::new(kind, subject).deal(deal).owner(owner))?;
    }
    Ok(())
}

/// Monday to Friday 09:00-17:00 in Berlin, closed on the 2025 public holidays.
fn office_calendar() -> Res<BusinessCalendar> {
    let holidays = [
        (1, 1),
        (4, 18),
        (4, 21),
        (5, 1),
        (5, 29),
        (6, 9),
        (10, 3),
        (12, 25),
        (12, 26),
    ];
    let mut cal = BusinessCalendar::new("Europe/Berlin", WeeklyHours::weekdays("09:00-17:00")?)?;
    for (m, d) in holidays {
        cal = cal.with_holiday(NaiveDate::from_ymd_opt(2025, m, d).ok_or("bad holiday")?);
    }
    Ok(cal)
}

/// The lead's owner replies to 9 leads in 10: three in four within four
/// business hours, the rest within a few business days.
fn reply_to_lead<S: Store>(
    s: &Session<'_, S>,
    rng: &mut Rng,
    office: &BusinessCalendar,
    customer: CustomerId,
    owner: UserId,
    created: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Res<()> {
    if !rng.chance(90) {
        return Ok(());
    }
    let minutes = if rng.chance(75) {
        5 + rng.below(235)
    } else {
        240 + rng.below(20 * 60)
    };
    let at = office.add_business_time(created, Duration::minutes(minutes as i64))?;
    if at >= end {
        return Ok(());
    }
    let (kind, subject) = if rng.chance(60) {
        (ActivityKind::Email, "Thanks for your enquiry")
    } else {
        (ActivityKind::Call, "Intro call")
    };
    s.at(at).log_activity(
        NewActivity::new(kind, subject)
            .customer(customer)
            .owner(owner)
            .direction(Direction::Outbound),
    )?;
    Ok(())
}

fn set_lifecycle<S: Store>(
    s: &Session<'_, S>,
    c: &mut Customer,
    at: DateTime<Utc>,
    to: Lifecycle,
) -> Res<()> {
    let updated =
        s.at(at)
            .update_customer(c.id, c.version, CustomerPatch::default().lifecycle(to))?;
    c.version = updated.version;
    c.lifecycle = to;
    Ok(())
}

// ----- printing -----

/// Prints a table: text columns left-aligned, the others right-aligned.
fn table(headers: &[&str], rows: &[Vec<String>], left: usize) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i < left {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        println!("  {}", parts.join("  "));
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    println!(
        "  {}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for r in rows {
        line(r.clone());
    }
    println!();
}

fn opt<T: Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// A rate as a percentage with one decimal, rounded half away from zero.
fn pct(v: &Option<Decimal>) -> String {
    v.map_or_else(
        || "-".to_owned(),
        |r| {
            let p = (r * Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            format!("{p:.1} %")
        },
    )
}

/// An amount with its currency, at least to the minor unit (`1250.50 EUR`).
fn money(amount: &Decimal, c: &Currency) -> String {
    Money::new(*amount, *c).to_string()
}

fn print_report(r: &KpiReport, x: &Extras) -> Res<()> {
    println!("KPI report for 2025, as of {}", r.now.format("%Y-%m-%d"));
    println!(
        "{} deals, {} customers, 4 reps; calendar dates in Europe/Berlin (summer time included)\n",
        x.deals, x.customers
    );

    println!("Win rate (deals closed in 2025)");
    let mut rows: Vec<Vec<String>> = r
        .win_rate_by_owner
        .iter()
        .map(|(o, w)| {
            vec![
                x.reps.name(*o),
                w.won.to_string(),
                w.lost.to_string(),
                pct(&w.rate),
            ]
        })
        .collect();
    rows.push(vec![
        "all".into(),
        r.win_rate.won.to_string(),
        r.win_rate.lost.to_string(),
        pct(&r.win_rate.rate),
    ]);
    table(&["Owner", "Won", "Lost", "Win rate"], &rows, 1);
    println!(
        "Close rate: {} of {} deals created in 2025 are won ({})\n",
        r.close_rate.won,
        r.close_rate.created,
        pct(&r.close_rate.rate)
    );

    for f in &r.funnels {
        println!("Stage funnel (deals created in 2025: {})", f.deals);
        let rows: Vec<Vec<String>> = f
            .stages
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.entered.to_string(),
                    s.moved_on.to_string(),
                    s.advanced.to_string(),
                    s.won.to_string(),
                    // Nothing follows a won or lost stage.
                    if s.kind.is_closed() {
                        "-".to_owned()
                    } else {
                        pct(&s.conversion_to_next)
                    },
                    pct(&s.conversion_to_won),
                    opt(&s.time_in_stage.mean_days),
                    opt(&s.time_in_stage.median_days),
                ]
            })
            .collect();
        table(
            &[
                "Stage",
                "Entered",
                "Left",
                "Advanced",
                "Won",
                "-> next",
                "-> won",
                "Avg days",
                "Median days",
            ],
            &rows,
            1,
        );
    }

    println!("Deal size, sales cycle and velocity (won in 2025)");
    let rows: Vec<Vec<String>> = r
        .deal_size
        .per_currency
        .iter()
        .map(|(c, s)| {
            let v = r.velocity.get(c);
            vec![
                c.to_string(),
                s.count.to_string(),
                money(&s.total, c),
                money(&s.mean, c),
                money(&s.median, c),
                v.map_or("-".into(), |v| v.open_deals.to_string()),
                v.and_then(|v| v.per_day)
                    .map_or("-".into(), |d| money(&d, c)),
            ]
        })
        .collect();
    table(
        &[
            "Currency",
            "Won",
            "Total",
            "Average",
            "Median",
            "Open now",
            "Velocity / day",
        ],
        &rows,
        1,
    );
    println!(
        "Sales cycle (created -> won): average {} days, median {} days over {} deals\n",
        opt(&r.sales_cycle.mean_days),
        opt(&r.sales_cycle.median_days),
        r.sales_cycle.count
    );

    println!("Forecast: open deals expected to close in 2026 H1, weighted by stage probability");
    let mut rows = Vec::new();
    for (c, months) in &x.forecast.by_month {
        for (m, b) in months {
            rows.push(vec![
                m.format("%Y-%m").to_string(),
                c.to_string(),
                b.deals.to_string(),
                money(&b.amount, c),
                money(&b.weighted, c),
            ]);
        }
    }
    table(
        &["Month", "Currency", "Deals", "Amount", "Weighted"],
        &rows,
        2,
    );
    let slipped: Vec<String> = r
        .forecast
        .by_month
        .iter()
        .map(|(c, months)| {
            let n: u64 = months.values().map(|b| b.deals).sum();
            let amount: Decimal = months.values().map(|b| b.amount).sum();
            format!("{n} deals, {}", money(&amount, c))
        })
        .collect();
    println!(
        "Open deals whose expected close date passed in 2025: {}",
        slipped.join("; ")
    );
    println!(
        "Open deals without an expected close date: {}\n",
        x.forecast.undated.len()
    );

    println!("Revenue by quarter (won deals, Europe/Berlin), and in EUR at 0.92 EUR/USD");
    let rates = RateTable::new(Currency::EUR).with_rate(Currency::USD, "0.92".parse()?)?;
    let in_eur = revenue_in(&r.revenue, &rates)?;
    let rows: Vec<Vec<String>> = in_eur
        .iter()
        .map(|(q, total)| {
            let per = |c: Currency| {
                r.revenue
                    .get(&c)
                    .and_then(|m| m.get(q))
                    .map_or("-".into(), |a| money(a, &c))
            };
            vec![
                q.format("%Y-%m-%d").to_string(),
                per(Currency::EUR),
                per(Currency::USD),
                total.to_string(),
            ]
        })
        .collect();
    table(&["Quarter from", "EUR", "USD", "Total in EUR"], &rows, 1);

    println!("New customers per month (first purchase)");
    let rows: Vec<Vec<String>> = x
        .monthly_new
        .iter()
        .map(|(m, n)| vec![m.format("%Y-%m").to_string(), n.to_string()])
        .collect();
    table(&["Month", "New"], &rows, 1);
    let churn_rows: Vec<Vec<String>> = [("2025", r.churn.as_ref()), ("2025 H2", Some(&x.h2_churn))]
        .iter()
        .filter_map(|(label, c)| {
            c.map(|c| {
                vec![
                    label.to_string(),
                    c.at_start.to_string(),
                    c.churned.to_string(),
                    c.retained.to_string(),
                    pct(&c.churn_rate),
                    pct(&c.retention_rate),
                ]
            })
        })
        .collect();
    println!("Churn and retention (lifecycle history)");
    table(
        &[
            "Window",
            "Customers at start",
            "Churned",
            "Retained",
            "Churn",
            "Retention",
        ],
        &churn_rows,
        1,
    );
    println!(
        "Repeat purchase rate: {} of {} buying customers bought on two or more days ({})\n",
        r.repeat_purchase.repeat_customers,
        r.repeat_purchase.customers,
        pct(&r.repeat_purchase.rate)
    );

    println!("Top customers by historical CLV (3-year lifetime) with their purchase summary");
    let mut clv = r.clv.customers.clone();
    clv.sort_by(|a, b| b.clv.cmp(&a.clv).then(a.customer.cmp(&b.customer)));
    let rows: Vec<Vec<String>> = clv
        .iter()
        .take(8)
        .filter_map(|c| {
            let s = r
                .purchase_summaries
                .iter()
                .find(|s| s.customer == c.customer && s.currency == c.currency)?;
            Some(vec![
                x.customer_names
                    .get(&c.customer)
                    .cloned()
                    .unwrap_or_default(),
                s.frequency.to_string(),
                s.recency.to_string(),
                s.t.to_string(),
                money(&s.monetary_value, &s.currency),
                money(&c.clv, &c.currency),
            ])
        })
        .collect();
    table(
        &[
            "Customer",
            "Frequency",
            "Recency",
            "T",
            "Monetary value",
            "CLV",
        ],
        &rows,
        1,
    );
    for (c, avg) in &r.clv.average {
        println!("Average historical CLV in {c}: {}", money(avg, c));
    }
    println!();

    println!(
        "Rotting deals on {} (idle longer than their stage allows)",
        r.now.format("%Y-%m-%d")
    );
    let rows: Vec<Vec<String>> = r
        .rotting
        .iter()
        .take(10)
        .map(|d| {
            vec![
                x.deal_titles.get(&d.deal).cloned().unwrap_or_default(),
                x.reps.name(d.owner),
                d.stage.to_string(),
                d.last_touch.format("%Y-%m-%d").to_string(),
                d.idle_days.to_string(),
                d.threshold_days.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "Deal",
            "Owner",
            "Stage",
            "Last touch",
            "Idle days",
            "Allowed",
        ],
        &rows,
        3,
    );
    println!("{} rotting deals in all\n", r.rotting.len());

    println!("Activities in 2025 per owner");
    let kinds = [
        ActivityKind::Call,
        ActivityKind::Email,
        ActivityKind::Meeting,
        ActivityKind::Task,
    ];
    let mut rows: Vec<Vec<String>> = r
        .activities
        .by_owner
        .iter()
        .map(|(o, k)| {
            let mut row = vec![x.reps.name(*o)];
            row.extend(
                kinds
                    .iter()
                    .map(|kind| k.get(kind).copied().unwrap_or(0).to_string()),
            );
            let overdue = r
                .activities
                .overdue_tasks
                .iter()
                .filter(|t| t.owner == *o)
                .count();
            row.push(overdue.to_string());
            row
        })
        .collect();
    let mut all = vec!["all".to_owned()];
    all.extend(kinds.iter().map(|k| {
        r.activities
            .by_kind
            .get(k)
            .copied()
            .unwrap_or(0)
            .to_string()
    }));
    all.push(r.activities.overdue_tasks.len().to_string());
    rows.push(all);
    table(
        &[
            "Owner",
            "Calls",
            "E-mails",
            "Meetings",
            "Tasks",
            "Overdue tasks",
        ],
        &rows,
        1,
    );
    if let Some(fr) = &r.first_response {
        print_first_response(fr, &x.reps);
    }
    Ok(())
}

/// Minutes as hours, two places (`3.52 h`).
fn hours(minutes: &Option<Decimal>) -> String {
    minutes.map_or_else(
        || "-".to_owned(),
        |m| {
            let h = (m / Decimal::from(60))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
            format!("{h:.2} h")
        },
    )
}

fn print_first_response(fr: &FirstResponse, reps: &Reps) {
    println!(
        "First response to the {} leads of 2025 (first outbound call, e-mail or meeting)",
        fr.leads
    );
    println!(
        "Business hours: Mon-Fri 09:00-17:00 Europe/Berlin, public holidays closed; {} answered, {} unanswered",
        fr.answered, fr.unanswered
    );
    let row = |name: &str, s: &crm_core::kpi::response::ResponseTimeStats| {
        vec![
            name.to_owned(),
            s.count.to_string(),
            hours(&s.mean_minutes),
            hours(&s.median_minutes),
            hours(&s.p90_minutes),
        ]
    };
    table(
        &["Response time", "Answered", "Mean", "Median", "90th pct"],
        &[
            row("business hours", &fr.business),
            row("wall clock", &fr.wall_clock),
        ],
        1,
    );
    let Some(sla) = &fr.sla else {
        return;
    };
    println!(
        "SLA: answered within {} business hours: {} met, {} breached, {} still open; attainment {}",
        (sla.target_minutes / Decimal::from(60)).normalize(),
        sla.met,
        sla.breached,
        sla.pending,
        pct(&sla.attainment)
    );
    let mut per_rep: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for l in &fr.per_lead {
        let e = per_rep.entry(reps.name(l.owner)).or_default();
        e.0 += 1;
        match l.sla {
            Some(SlaStatus::Met) => e.1 += 1,
            Some(SlaStatus::Breached) => e.2 += 1,
            _ => {}
        }
    }
    let rows: Vec<Vec<String>> = per_rep
        .iter()
        .map(|(rep, &(leads, met, breached))| {
            vec![
                rep.clone(),
                leads.to_string(),
                met.to_string(),
                breached.to_string(),
                pct(&crm_core::kpi::rate(met, met + breached)),
            ]
        })
        .collect();
    table(
        &["Owner", "Leads", "Met", "Breached", "Attainment"],
        &rows,
        1,
    );
}
