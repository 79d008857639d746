//! Fitting and scoring the predictive models on synthetic customers.
//!
//! - `predict_cdnow/fit_bgnbd`, `predict_cdnow/fit_gamma_gamma`: the
//!   fits on the CDNOW sample (2 357 customers, weekly; the fixture in
//!   `crm-core/tests/fixtures/cdnow/`), the fitting figure (the
//!   Python reference takes about 0.06 s);
//!   `predict_cdnow/log_likelihood_once` is one likelihood pass over it.
//! - `predict_fit/bgnbd_weeks`: `predict::fit_bgnbd` on customers drawn
//!   from the BG/NBD process at the published CDNOW parameters (weekly,
//!   continuous times, so no two histories are grouped together).
//! - `predict_fit/bgnbd_whole_days`: the same customers with times rounded
//!   to whole days, as `PurchaseSummary` gives them (identical histories
//!   are grouped, so one likelihood pass touches fewer rows).
//! - `predict_fit/gamma_gamma`: `predict::fit_gamma_gamma` on the same
//!   customers' spend.
//! - `predict_fit/log_likelihood_once`: one BG/NBD log-likelihood
//!   evaluation over the weekly data (grouping included): the baseline a
//!   fit is a small multiple of.
//! - `predict_score/clv_12_months`: `Scorer::score` for every customer
//!   (P(alive), expected purchases over 12 months, expected spend, CLV in
//!   12 monthly steps, i.e. 12 evaluations of the ₂F₁ expectation), the
//!   scorer built inside the timed loop; `clv_12_months_series` is the
//!   same through the reference `predict::score` (one series summed term
//!   by term per expectation): the baseline of the speed-up.
//! - `predict_score/expected_purchases_39_weeks`: the conditional expected
//!   purchases in the next 39 weeks for every customer (one ₂F₁ each; the
//!   quantity `lifetimes` is usually timed on) with a `Scorer` (built
//!   inside the timed loop); `expected_purchases_39_weeks_series` through
//!   the reference `BgNbd::expected_purchases`.
//! - `predict_score/p_alive_floor`: P(alive) alone (one closed form per
//!   customer): the floor of any per-customer score.
//!
//! `cargo bench -p crm-benches --bench predict` fits on 100 000 simulated
//! customers and scores 1 000 000 (the scoring figure: the Python
//! reference takes about 0.67 s); `cargo test --benches` runs 2 000 once
//! as a smoke test. `CRM_PREDICT_BENCH_N` overrides both sizes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use crm_core::predict::score::score;
use crm_core::predict::simulate::simulate;
use crm_core::predict::{
    BgNbd, ClvOptions, Day, FitOptions, GammaGamma, Month, Rfm, Span, Week, fit_bgnbd,
    fit_gamma_gamma,
};

fn customers_n() -> usize {
    size(100_000)
}

fn scored_n() -> usize {
    size(1_000_000)
}

fn size(full: usize) -> usize {
    crm_benches::bench_size_from("CRM_PREDICT_BENCH_N", full, 2_000)
}

/// The CDNOW summary fixture (`ID,x,t_x,T,zbar`, weeks).
fn cdnow() -> Vec<Rfm<Week>> {
    const SUMMARY: &str = include_str!(
        "../../crm-core/tests/fixtures/cdnow/cdnow_customers_summary_with_transactions.csv"
    );
    SUMMARY
        .lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let num = |s: &str| s.parse::<f64>().expect("number");
            Rfm::new(
                f[1].parse().expect("frequency"),
                Span::new(num(f[2])).expect("recency"),
                Span::new(num(f[3])).expect("age"),
                f[4].parse().expect("monetary value"),
            )
            .expect("history")
        })
        .collect()
}

fn predict_cdnow(c: &mut Criterion) {
    let data = cdnow();
    assert_eq!(data.len(), 2_357);
    let opts = FitOptions::default();
    // The published fit, or the bench measures nonsense.
    let fit = fit_bgnbd(&data, &opts).expect("fit");
    assert!((fit.model.r() - 0.243).abs() < 0.005, "{fit:?}");
    let spend = fit_gamma_gamma(&data, 0.0).expect("spend fit");
    assert!((spend.model.p() - 6.25).abs() < 0.005, "{spend:?}");

    let mut g = group(c, "predict_cdnow", data.len());
    g.bench_function("fit_bgnbd", |b| {
        b.iter(|| black_box(fit_bgnbd(&data, &opts).expect("fit")))
    });
    g.bench_function("fit_gamma_gamma", |b| {
        b.iter(|| black_box(fit_gamma_gamma(&data, 0.0).expect("fit")))
    });
    g.bench_function("log_likelihood_once", |b| {
        b.iter(|| black_box(fit.model.log_likelihood(&data)))
    });
    g.finish();
}

fn truth() -> (BgNbd<Week>, GammaGamma) {
    (
        BgNbd::new(0.243, 4.414, 0.793, 2.426).expect("parameters"),
        GammaGamma::new(6.25, 3.74, 15.44).expect("parameters"),
    )
}

fn whole_days(data: &[Rfm<Week>]) -> Vec<Rfm<Day>> {
    data.iter()
        .map(|c| {
            let d = |s: Span<Week>| Span::<Day>::new(s.to::<Day>().value().round()).expect("span");
            Rfm::new(c.frequency(), d(c.recency()), d(c.age()), c.monetary()).expect("history")
        })
        .collect()
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
    n: usize,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(n as u64));
    g
}

fn predict_fit(c: &mut Criterion) {
    let n = customers_n();
    let (bg, gg) = truth();
    let weeks = simulate(&bg, Some(&gg), n, Span::new(78.0).expect("span"), 42);
    let days = whole_days(&weeks);
    let opts = FitOptions::default();
    // The fit must recover the truth roughly, or the bench measures nonsense.
    let fit = fit_bgnbd(&weeks, &opts).expect("fit");
    assert!((fit.model.r() / bg.r() - 1.0).abs() < 0.5, "{fit:?}");
    fit_bgnbd(&days, &opts).expect("fit on days");
    fit_gamma_gamma(&weeks, 0.0).expect("spend fit");

    let mut g = group(c, "predict_fit", n);
    g.bench_function("bgnbd_weeks", |b| {
        b.iter(|| black_box(fit_bgnbd(&weeks, &opts).expect("fit")))
    });
    g.bench_function("bgnbd_whole_days", |b| {
        b.iter(|| black_box(fit_bgnbd(&days, &opts).expect("fit")))
    });
    g.bench_function("gamma_gamma", |b| {
        b.iter(|| black_box(fit_gamma_gamma(&weeks, 0.0).expect("fit")))
    });
    g.bench_function("log_likelihood_once", |b| {
        b.iter(|| black_box(bg.log_likelihood(&weeks)))
    });
    g.finish();
}

fn predict_score(c: &mut Criterion) {
    let n = scored_n();
    let (bg, gg) = truth();
    let data = simulate(&bg, Some(&gg), n, Span::new(78.0).expect("span"), 43);
    let year = ClvOptions::new(
        Span::<Month>::new(12.0).expect("span"),
        Span::<Month>::new(1.0).expect("span"),
        0.01,
    )
    .expect("options");
    let all_series = |d: &[Rfm<Week>]| -> f64 {
        d.iter()
            .map(|c| {
                score(&bg, Some(&gg), c, &year)
                    .expect("score")
                    .clv
                    .unwrap_or(0.0)
            })
            .sum()
    };
    let all = |d: &[Rfm<Week>]| -> f64 {
        let scorer = bg.scorer();
        d.iter()
            .map(|c| {
                scorer
                    .score(Some(&gg), c, &year)
                    .expect("score")
                    .clv
                    .unwrap_or(0.0)
            })
            .sum()
    };
    let horizon = Span::<Week>::new(39.0).expect("span");
    let expected_series = |d: &[Rfm<Week>]| -> f64 {
        d.iter()
            .map(|c| bg.expected_purchases(c, horizon).expect("expectation"))
            .sum()
    };
    let expected = |d: &[Rfm<Week>]| -> f64 {
        let scorer = bg.scorer();
        d.iter()
            .map(|c| scorer.expected_purchases(c, horizon).expect("expectation"))
            .sum()
    };
    // Both ways give the same totals, or the bench compares nonsense.
    let (fast, slow) = (all(&data), all_series(&data));
    assert!(
        fast.is_finite() && (fast / slow - 1.0).abs() < 1e-10,
        "{fast} vs {slow}"
    );
    let (fast, slow) = (expected(&data), expected_series(&data));
    assert!(
        fast.is_finite() && (fast / slow - 1.0).abs() < 1e-10,
        "{fast} vs {slow}"
    );

    let mut g = group(c, "predict_score", n);
    g.bench_function("clv_12_months", |b| b.iter(|| black_box(all(&data))));
    g.bench_function("clv_12_months_series", |b| {
        b.iter(|| black_box(all_series(&data)))
    });
    g.bench_function("expected_purchases_39_weeks", |b| {
        b.iter(|| black_box(expected(&data)))
    });
    g.bench_function("expected_purchases_39_weeks_series", |b| {
        b.iter(|| black_box(expected_series(&data)))
    });
    g.bench_function("p_alive_floor", |b| {
        b.iter(|| black_box(data.iter().map(|c| bg.p_alive(c)).sum::<f64>()))
    });
    g.finish();
}

criterion_group!(benches, predict_cdnow, predict_fit, predict_score);
criterion_main!(benches);
