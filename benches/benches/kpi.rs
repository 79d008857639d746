//! The KPI suite over a million deals, against a hand-written floor.
//!
//! - `kpi_suite/facade_memory_store`: `Session::kpi_report` over the memory
//!   store: every deal, activity and customer lifecycle event read through
//!   the facade in pages of 10 000, then every KPI of `crm_core::kpi`
//!   (win and close rate, per-owner win rate, funnel, deal size, cycle,
//!   velocity, forecast, monthly revenue, new customers, churn, repeat
//!   purchases, purchase summaries, CLV, rotting deals, activity metrics).
//! - `kpi_suite/pure_over_vec`: the same KPIs over records already in
//!   `Vec`s (`kpi::report::kpi_report`), i.e. without the reads.
//! - `kpi_suite/floor_single_pass`: a hand-written loop computing the same
//!   figures over the same `Vec`s in one pass per record type, with hash
//!   maps and no abstraction: the floor.
//! - `purchase_summary/*`: the per-customer purchase summary over 1 000 000
//!   won deals, through the facade, over a `Vec`, and as a hand-written
//!   sort-and-scan floor.
//!
//! Data: a deterministic generator (splitmix64). Customers and their
//! lifecycle changes are recorded through the facade (so churn reads real
//! audit events); deals and activities, generated valid by construction,
//! are inserted straight into the store in one write transaction, without
//! audit events, to keep setup time and memory bounded (a million deals
//! moved through the facade would also append about four million events).
//! The measured path, reading through the facade, is the real one.
//!
//! `cargo bench -p crm-benches --bench kpi` runs 1 000 000 deals;
//! `cargo test --benches` runs 3 000 once as a smoke test and checks that
//! the floor and the suite agree. `CRM_KPI_BENCH_N` overrides the size.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Span, NaiveDate, Offset, TimeZone, Utc};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use crm_core::kpi::KpiFilter;
use crm_core::kpi::customer::{LifecycleChange, PurchaseSummary, purchase_summaries};
use crm_core::kpi::report::{KpiData, KpiOptions, KpiReport, kpi_report};
use crm_core::{
    Activity, ActivityId, ActivityKind, Actor, Crm, Currency, CustomerId, CustomerPatch, Deal,
    DealId, DealStatus, EventQuery, Lifecycle, Money, NewCustomer, PageRequest, Pipeline,
    PipelineDef, StageChange, StageKey, StageKind, Store, UserId,
};
use crm_store_memory::MemoryStore;
use rust_decimal::Decimal;
use uuid::Uuid;

fn deals_n() -> usize {
    crm_benches::bench_size_from("CRM_KPI_BENCH_N", 1_000_000, 3_000)
}

/// splitmix64: deterministic test data without a `rand` dependency.
type Rng = crm_core::predict::simulate::SplitMix64;

const OWNERS: usize = 8;

fn owner(i: u64) -> UserId {
    UserId::from_uuid(Uuid::from_u128(0xA000 + u128::from(i)))
}

fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
}

fn year_end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date")
}

fn options() -> KpiOptions {
    KpiOptions {
        filter: KpiFilter::default()
            .window(year_start(), year_end())
            .expect("window"),
        ..KpiOptions::default()
    }
}

/// One generated deal: created in 2025, walked along the sales template
/// (lead, qualified, proposal, negotiation) until won, lost or left open.
/// With `all_won` every deal ends won.
fn gen_deal(rng: &mut Rng, i: u64, customers: &[CustomerId], all_won: bool) -> Deal {
    const PATH: [&str; 4] = ["lead", "qualified", "proposal", "negotiation"];
    let span_ms = (year_end() - year_start()).num_milliseconds() as u64;
    let created = year_start() + Span::milliseconds((rng.below(span_ms * 9 / 10)) as i64);
    let mut at = created;
    let key = |k: &str| StageKey::new(k).expect("stage key");
    let mut history = vec![StageChange {
        from: None,
        to: key("lead"),
        at,
        by: Actor::System,
    }];
    let mut end = None; // Some(true) won, Some(false) lost
    for w in PATH.windows(2) {
        if !all_won && !rng.chance(75) {
            if rng.chance(60) {
                end = Some(false);
            }
            break;
        }
        at += Span::minutes(60 + rng.below(14 * 1440) as i64);
        history.push(StageChange {
            from: Some(key(w[0])),
            to: key(w[1]),
            at,
            by: Actor::System,
        });
    }
    if end.is_none() && (all_won || history.len() == PATH.len()) {
        end = Some(all_won || rng.chance(65));
    }
    if let Some(won) = end {
        at += Span::minutes(60 + rng.below(10 * 1440) as i64);
        let from = history.last().map(|h| h.to.clone());
        history.push(StageChange {
            from,
            to: key(if won { "won" } else { "lost" }),
            at,
            by: Actor::System,
        });
    }
    let last = history.last().expect("history").clone();
    let status = match end {
        Some(true) => DealStatus::Won,
        Some(false) => DealStatus::Lost,
        None => DealStatus::Open,
    };
    let currency = if rng.chance(20) {
        Currency::USD
    } else {
        Currency::EUR
    };
    let amount = Decimal::new((50_000 + rng.below(5_000_000)) as i64, 2);
    let close =
        (rng.chance(95)).then(|| (created + Span::days(30 + rng.below(90) as i64)).date_naive());
    Deal {
        id: DealId::from_uuid(Uuid::from_u128(0xD000_0000 + u128::from(i))),
        version: history.len() as u64,
        title: format!("Deal {i}"),
        customer: customers[rng.below(customers.len() as u64) as usize],
        pipeline: crm_core::PipelineId::from_uuid(Uuid::nil()), // set by the caller
        stage: last.to.clone(),
        status,
        amount: rng.chance(97).then_some(Money::new(amount, currency)),
        expected_close_date: close,
        owner: rng.chance(95).then(|| owner(rng.below(OWNERS as u64))),
        won_at: (status == DealStatus::Won).then_some(last.at),
        lost_at: (status == DealStatus::Lost).then_some(last.at),
        lost_reason: (status == DealStatus::Lost).then(|| "price".to_owned()),
        created_at: created,
        updated_at: last.at,
        history,
        custom: Default::default(),
    }
}

fn gen_activity(rng: &mut Rng, i: u64, deals: &[Deal]) -> Activity {
    let d = &deals[rng.below(deals.len() as u64) as usize];
    let at = d.created_at + Span::minutes(rng.below(40 * 1440) as i64);
    let kind = [
        ActivityKind::Call,
        ActivityKind::Email,
        ActivityKind::Meeting,
        ActivityKind::Task,
    ][rng.below(4) as usize];
    let task = kind == ActivityKind::Task;
    Activity {
        id: ActivityId::from_uuid(Uuid::from_u128(0xAC00_0000 + u128::from(i))),
        version: if task { 2 } else { 1 },
        kind,
        subject: "Follow up".into(),
        body: None,
        customer: Some(d.customer),
        deal: Some(d.id),
        owner: d.owner,
        direction: None,
        occurred_at: at,
        due_at: task.then(|| at + Span::days(7)),
        completed_at: (task && rng.chance(60)).then(|| at + Span::days(2)),
        created_at: at,
        updated_at: at,
        custom: Default::default(),
    }
}

struct World {
    crm: Crm<MemoryStore>,
    pipeline: Pipeline,
    deals: Vec<Deal>,
    activities: Vec<Activity>,
    lifecycle: Vec<LifecycleChange>,
}

/// `n` deals, `n / 10` customers (recorded through the facade, a tenth of
/// them churning in 2025), `n / 5` activities.
fn world(n: usize, all_won: bool, with_activities: bool) -> World {
    let crm = Crm::new(MemoryStore::new());
    let s = crm.as_actor(Actor::System);
    let mut rng = Rng::new(0x00C0_FFEE);
    let pipeline = s
        .at(year_start() - Span::days(400))
        .create_pipeline(PipelineDef::sales_template("Sales"))
        .expect("pipeline");
    let customers: Vec<CustomerId> = s
        .batch(|b| {
            let mut ids = Vec::new();
            for i in 0..(n / 10).max(1) {
                b.set_time(Some(year_start() - Span::days(1 + (i % 300) as i64)));
                let c = b.create_customer(
                    NewCustomer::organisation(format!("Customer {i}"))
                        .lifecycle(Lifecycle::Customer),
                )?;
                if i % 10 == 0 {
                    b.set_time(Some(year_start() + Span::days((i % 360) as i64)));
                    b.update_customer(
                        c.id,
                        c.version,
                        CustomerPatch::default().lifecycle(Lifecycle::Churned),
                    )?;
                }
                ids.push(c.id);
            }
            Ok(ids)
        })
        .expect("customers");
    let mut deals: Vec<Deal> = (0..n as u64)
        .map(|i| {
            let mut d = gen_deal(&mut rng, i, &customers, all_won);
            d.pipeline = pipeline.id;
            d
        })
        .collect();
    deals.sort_by_key(|d| d.id);
    let activities: Vec<Activity> = if with_activities {
        (0..(n / 5) as u64)
            .map(|i| gen_activity(&mut rng, i, &deals))
            .collect()
    } else {
        Vec::new()
    };
    {
        let mut tx = crm.store().write().expect("write");
        for d in &deals {
            tx.insert_deal(d).expect("deal");
        }
        for a in &activities {
            tx.insert_activity(a).expect("activity");
        }
        tx.commit().expect("commit");
    }
    let mut lifecycle = Vec::new();
    let mut q = EventQuery::new().limit(PageRequest::MAX_LIMIT);
    loop {
        let page = s.events(&q).expect("events");
        lifecycle.extend(page.items.iter().filter_map(LifecycleChange::from_event));
        match page.next {
            Some(c) => q = q.after(Some(c)),
            None => break,
        }
    }
    World {
        crm,
        pipeline,
        deals,
        activities,
        lifecycle,
    }
}

// ----- the floor: the same figures, hand-written, one pass per record type -----

/// The floor's figures that the smoke test compares with the suite.
#[derive(Debug, Default, PartialEq)]
struct FloorOut {
    won: u64,
    lost: u64,
    created: u64,
    lead_entered: u64,
    won_totals: BTreeMap<Currency, Decimal>,
    median_cycle_ms: i64,
    weighted: BTreeMap<Currency, Decimal>,
    revenue_months: usize,
    new_customers: u64,
    repeat_customers: u64,
    summaries: usize,
    clv_sum: Decimal,
    rotting: usize,
    overdue: usize,
    churned: u64,
}

/// Commercial rounding, as the suite documents.
fn round(d: Decimal, dp: u32) -> Decimal {
    d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

fn median_ms(v: &mut [i64]) -> i64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn median_dec(v: &mut [Decimal]) -> Decimal {
    if v.is_empty() {
        return Decimal::ZERO;
    }
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / Decimal::TWO
    }
}

fn month(d: NaiveDate) -> u32 {
    d.year() as u32 * 12 + d.month0()
}

fn floor(
    p: &Pipeline,
    deals: &[Deal],
    activities: &[Activity],
    lc: &[LifecycleChange],
) -> FloorOut {
    let (from, to) = (year_start(), year_end());
    let now = year_end();
    let inw = |t: DateTime<Utc>| t >= from && t < to;
    let mut o = FloorOut::default();
    let stage_ix: HashMap<&StageKey, (usize, StageKind, u8)> = p
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| (&s.key, (i, s.kind, s.probability)))
        .collect();
    let ns = p.stages.len();
    let mut per_owner: HashMap<Option<UserId>, (u64, u64)> = HashMap::new();
    let mut funnel = vec![(0u64, 0u64, 0u64, 0u64); ns];
    let mut visits: Vec<Vec<i64>> = vec![Vec::new(); ns];
    let mut amounts: HashMap<Currency, Vec<Decimal>> = HashMap::new();
    let mut cycles = Vec::new();
    let mut velocity: HashMap<Currency, (u64, u64, u64, Decimal, i128)> = HashMap::new();
    let mut forecast: HashMap<(Currency, u32), (Decimal, Decimal)> = HashMap::new();
    let mut undated = Vec::new();
    let mut revenue: HashMap<(Currency, u32), Decimal> = HashMap::new();
    let mut first_win: HashMap<CustomerId, DateTime<Utc>> = HashMap::new();
    let mut days: HashMap<CustomerId, (NaiveDate, bool)> = HashMap::new();
    let mut rows: Vec<(CustomerId, Currency, NaiveDate, Decimal)> = Vec::new();
    let mut last_touch: HashMap<DealId, DateTime<Utc>> = HashMap::new();
    let mut by_owner_kind: HashMap<(Option<UserId>, ActivityKind), u64> = HashMap::new();
    let mut overdue = Vec::new();
    for a in activities {
        if inw(a.occurred_at) {
            *by_owner_kind.entry((a.owner, a.kind)).or_default() += 1;
        }
        if a.kind == ActivityKind::Task
            && a.completed_at.is_none()
            && a.due_at.is_some_and(|d| d < now)
        {
            overdue.push((a.due_at, a.id));
        }
        if let Some(d) = a.deal {
            let t = a
                .completed_at
                .map_or(a.occurred_at, |c| c.max(a.occurred_at));
            let t = if t > now { a.occurred_at } else { t };
            if t <= now {
                let e = last_touch.entry(d).or_insert(t);
                *e = (*e).max(t);
            }
        }
    }
    overdue.sort_unstable();
    let mut rotting = Vec::new();
    let mut seen = vec![false; ns];
    let mut left = vec![false; ns];
    let mut adv = vec![false; ns];
    for d in deals {
        let won_w = d.status == DealStatus::Won && d.won_at.is_some_and(inw);
        let lost_w = d.status == DealStatus::Lost && d.lost_at.is_some_and(inw);
        if won_w || lost_w {
            let e = per_owner.entry(d.owner).or_default();
            if won_w {
                o.won += 1;
                e.0 += 1
            } else {
                o.lost += 1;
                e.1 += 1
            }
        }
        if inw(d.created_at) {
            o.created += 1;
            // Funnel.
            seen.fill(false);
            left.fill(false);
            adv.fill(false);
            let mut furthest: Option<usize> = None;
            for j in (0..d.history.len()).rev() {
                if let Some(&(s, kind, _)) = stage_ix.get(&d.history[j].to) {
                    seen[s] = true;
                    if furthest.is_some_and(|f| f > s) {
                        adv[s] = true;
                    }
                    if j + 1 < d.history.len() {
                        left[s] = true;
                        visits[s].push((d.history[j + 1].at - d.history[j].at).num_milliseconds());
                    }
                    if kind != StageKind::Lost {
                        furthest = Some(furthest.map_or(s, |f| f.max(s)));
                    }
                }
            }
            for s in 0..ns {
                if seen[s] {
                    let f = &mut funnel[s];
                    f.0 += 1;
                    f.1 += u64::from(left[s]);
                    f.2 += u64::from(adv[s]);
                    f.3 += u64::from(d.status == DealStatus::Won);
                }
            }
        }
        if let (DealStatus::Won, Some(w)) = (d.status, d.won_at) {
            let e = first_win.entry(d.customer).or_insert(w);
            *e = (*e).min(w);
        }
        if won_w {
            let w = d.won_at.unwrap_or(now);
            cycles.push((w - d.created_at).num_milliseconds());
            let day = w.date_naive();
            days.entry(d.customer)
                .and_modify(|(f, r)| *r |= *f != day)
                .or_insert((day, false));
            if let Some(m) = &d.amount {
                amounts.entry(m.currency).or_default().push(m.amount);
                *revenue.entry((m.currency, month(day))).or_default() += m.amount;
                if w < now {
                    rows.push((d.customer, m.currency, day, m.amount));
                }
            }
        }
        if let Some(m) = &d.amount {
            let v = velocity.entry(m.currency).or_default();
            match d.status {
                DealStatus::Open => v.0 += 1,
                DealStatus::Won if won_w => {
                    v.1 += 1;
                    v.3 += m.amount;
                    v.4 += i128::from((d.won_at.unwrap_or(now) - d.created_at).num_milliseconds());
                }
                DealStatus::Lost if lost_w => v.2 += 1,
                _ => {}
            }
        }
        if d.status == DealStatus::Open {
            match d.expected_close_date {
                None => undated.push(d.id),
                Some(c) if inw(c.and_time(chrono::NaiveTime::MIN).and_utc()) => {
                    if let Some(m) = &d.amount {
                        let p = stage_ix.get(&d.stage).map_or(0, |s| s.2);
                        let b = forecast.entry((m.currency, month(c))).or_default();
                        b.0 += m.amount;
                        b.1 += m.amount * Decimal::from(p) / Decimal::ONE_HUNDRED;
                    }
                }
                Some(_) => {}
            }
            let entered = d.history.last().map_or(d.created_at, |h| h.at);
            let last = last_touch.get(&d.id).map_or(entered, |t| (*t).max(entered));
            if (now - last).num_milliseconds() > 30 * 86_400_000 {
                rotting.push((last, d.id));
            }
        }
    }
    rotting.sort_unstable();
    // Stats that need the whole pass.
    for v in &mut visits {
        black_box(median_ms(v));
    }
    for (c, v) in &mut amounts {
        o.won_totals.insert(*c, v.iter().copied().sum());
        black_box(median_dec(v));
    }
    o.median_cycle_ms = median_ms(&mut cycles);
    for (c, (open, won, lost, total, cyc)) in &velocity {
        if *won > 0 && *cyc > 0 {
            let days = Decimal::from_i128_with_scale(*cyc, 0) / Decimal::from(86_400_000);
            black_box(
                (Decimal::from(*open) * total * Decimal::from(*won))
                    / (Decimal::from(won + lost) * days),
            );
        }
        black_box(c);
    }
    for ((c, _), (_, w)) in &forecast {
        *o.weighted.entry(*c).or_default() += round(*w, c.minor_units());
    }
    o.revenue_months = revenue.len();
    o.new_customers = first_win.values().filter(|t| inw(**t)).count() as u64;
    o.repeat_customers = days.values().filter(|(_, r)| *r).count() as u64;
    o.lead_entered = funnel[0].0;
    // Purchase summaries and CLV: sort, then one scan.
    rows.sort_unstable_by_key(|r| (r.0, r.1, r.2));
    let end_day = now.date_naive();
    let mut i = 0;
    while i < rows.len() {
        let (cust, cur, first, _) = rows[i];
        let (mut total, mut repeat, mut freq, mut last) =
            (Decimal::ZERO, Decimal::ZERO, 0u32, first);
        while i < rows.len() && rows[i].0 == cust && rows[i].1 == cur {
            let (_, _, day, a) = rows[i];
            total += a;
            if day != first {
                repeat += a;
                if day != last {
                    freq += 1;
                }
            }
            last = day;
            i += 1;
        }
        let t = (end_day - first).num_days().max(365);
        let clv = total * Decimal::from(3) / (Decimal::from(t) / Decimal::from(365));
        let clv = round(clv, cur.minor_units());
        o.clv_sum += clv;
        black_box((freq, repeat, last));
        o.summaries += 1;
    }
    // Churn.
    type Last = Option<(DateTime<Utc>, u64, Lifecycle)>;
    let mut state: HashMap<CustomerId, (Last, Last)> = HashMap::new();
    for c in lc {
        let e = state.entry(c.customer).or_default();
        if c.at < from && e.0.is_none_or(|(t, s, _)| (c.at, c.seq) > (t, s)) {
            e.0 = Some((c.at, c.seq, c.to));
        }
        if c.at < to && e.1.is_none_or(|(t, s, _)| (c.at, c.seq) > (t, s)) {
            e.1 = Some((c.at, c.seq, c.to));
        }
    }
    for (s, e) in state.values() {
        if s.is_some_and(|x| x.2 == Lifecycle::Customer)
            && !e.is_some_and(|x| x.2 == Lifecycle::Customer)
        {
            o.churned += 1;
        }
    }
    black_box((per_owner, undated, by_owner_kind));
    o.rotting = rotting.len();
    o.overdue = overdue.len();
    o
}

fn suite_figures(r: &KpiReport) -> FloorOut {
    FloorOut {
        won: r.win_rate.won,
        lost: r.win_rate.lost,
        created: r.close_rate.created,
        lead_entered: r.funnels[0].stages[0].entered,
        won_totals: r
            .deal_size
            .per_currency
            .iter()
            .map(|(c, s)| (*c, s.total))
            .collect(),
        median_cycle_ms: 0,
        weighted: r.forecast.weighted_total.clone(),
        revenue_months: r.revenue.values().map(|m| m.len()).sum(),
        new_customers: r.new_customers.values().sum(),
        repeat_customers: r.repeat_purchase.repeat_customers,
        summaries: r.purchase_summaries.len(),
        clv_sum: r.clv.customers.iter().map(|c| c.clv).sum(),
        rotting: r.rotting.len(),
        overdue: r.activities.overdue_tasks.len(),
        churned: r.churn.as_ref().map_or(0, |c| c.churned),
    }
}

/// The floor for the purchase summary: collect, sort, scan.
fn floor_summaries(deals: &[Deal], end: DateTime<Utc>) -> usize {
    let mut rows: Vec<(CustomerId, Currency, NaiveDate, Decimal)> = deals
        .iter()
        .filter(|d| d.status == DealStatus::Won)
        .filter_map(|d| match (&d.amount, d.won_at) {
            (Some(m), Some(w)) if w >= year_start() && w < end => {
                Some((d.customer, m.currency, w.date_naive(), m.amount))
            }
            _ => None,
        })
        .collect();
    rows.sort_unstable_by_key(|r| (r.0, r.1, r.2));
    let end_day = end.date_naive();
    let mut out = 0;
    let mut i = 0;
    while i < rows.len() {
        let (cust, cur, first, _) = rows[i];
        let (mut total, mut repeat, mut freq, mut last) =
            (Decimal::ZERO, Decimal::ZERO, 0u32, first);
        while i < rows.len() && rows[i].0 == cust && rows[i].1 == cur {
            let (_, _, day, a) = rows[i];
            total += a;
            if day != first {
                repeat += a;
                if day != last {
                    freq += 1;
                }
            }
            last = day;
            i += 1;
        }
        let mv = if freq == 0 {
            Decimal::ZERO
        } else {
            round(repeat / Decimal::from(freq), cur.minor_units())
        };
        black_box((
            total,
            mv,
            (last - first).num_days(),
            (end_day - first).num_days(),
        ));
        out += 1;
    }
    out
}

fn kpi_suite(c: &mut Criterion) {
    let n = deals_n();
    let w = world(n, false, true);
    let s = w.crm.as_actor(Actor::System).at(year_end());
    let opts = options();
    let pipelines = [w.pipeline.clone()];
    let data = KpiData {
        deals: &w.deals,
        pipelines: &pipelines,
        activities: &w.activities,
        lifecycle: &w.lifecycle,
        customers: &[],
    };
    // The floor must compute what the suite computes.
    let report = s.kpi_report(&opts).expect("report");
    let mut floor_out = floor(&w.pipeline, &w.deals, &w.activities, &w.lifecycle);
    floor_out.median_cycle_ms = 0;
    assert_eq!(
        floor_out,
        suite_figures(&report),
        "the floor and the suite disagree"
    );
    assert_eq!(report, kpi_report(data, &opts, year_end()).expect("pure"));

    let mut g = c.benchmark_group("kpi_suite");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("facade_memory_store", |b| {
        b.iter(|| black_box(s.kpi_report(&opts).expect("report")))
    });
    g.bench_function("pure_over_vec", |b| {
        b.iter(|| black_box(kpi_report(data, &opts, year_end()).expect("report")))
    });
    g.bench_function("floor_single_pass", |b| {
        b.iter(|| black_box(floor(&w.pipeline, &w.deals, &w.activities, &w.lifecycle)))
    });
    g.finish();
}

fn purchase_summary(c: &mut Criterion) {
    let n = deals_n();
    let w = world(n, true, false);
    let s = w.crm.as_actor(Actor::System);
    let filter = KpiFilter::default()
        .window(year_start(), year_end())
        .expect("window");
    let utc = Utc.fix();
    let end = year_end();
    let via_facade: Vec<PurchaseSummary> =
        s.purchase_summaries(&filter, end, utc).expect("summaries");
    assert_eq!(via_facade.len(), floor_summaries(&w.deals, end));

    let mut g = c.benchmark_group("purchase_summary");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("facade_memory_store", |b| {
        b.iter(|| black_box(s.purchase_summaries(&filter, end, utc).expect("summaries")))
    });
    g.bench_function("pure_over_vec", |b| {
        b.iter(|| black_box(purchase_summaries(&w.deals, &filter, end, utc).expect("summaries")))
    });
    g.bench_function("floor_sort_and_scan", |b| {
        b.iter(|| black_box(floor_summaries(&w.deals, end)))
    });
    g.finish();
}

criterion_group!(benches, kpi_suite, purchase_summary);
criterion_main!(benches);
