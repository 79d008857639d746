//! Reference values, parameter recovery and invariants for the models.
//!
//! Reference values below were computed independently of this code, from
//! the closed forms in the module docs, with mpmath 1.3 at 40 digits
//! (`mpmath.hyp2f1`, `mpmath.beta`, `mpmath.gamma`), at the published
//! CDNOW parameters r = 0.243, α = 4.414, a = 0.793, b = 2.426 (Fader,
//! Hardie & Lee 2005, weekly data). Where the issue quotes a figure from
//! `lifetimes` for the same inputs, the test says so.

// Reference values are quoted with the digits mpmath printed.
#![allow(clippy::excessive_precision)]

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::score::score;
use super::simulate::simulate;
use super::*;

fn cdnow() -> BgNbd<Week> {
    BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap()
}

fn w(v: f64) -> Span<Week> {
    Span::new(v).unwrap()
}

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want} ± {tol}");
}

#[test]
fn conditional_expected_purchases_match_the_reference() {
    let c = Rfm::new(2, w(30.43), w(38.86), Decimal::ZERO).unwrap();
    // mpmath 1.2260281747671444; the issue's lifetimes figure is 1.226.
    close(
        cdnow().expected_purchases(&c, w(39.0)).unwrap(),
        1.226_028_174_767_144,
        1e-10,
    );
    // mpmath 0.7265785700806729
    close(cdnow().p_alive(&c), 0.726_578_570_080_672_9, 1e-13);
    // A heavy buyer: x = 50 (the Euler branch), mpmath 33.39119799906929.
    let heavy = Rfm::new(50, w(38.0), w(38.86), Decimal::ZERO).unwrap();
    close(
        cdnow().expected_purchases(&heavy, w(39.0)).unwrap(),
        33.391_197_999_069_29,
        1e-9,
    );
}

#[test]
fn log_likelihood_matches_the_reference() {
    // mpmath (loggamma, log, exp of the closed form): −26.22077141924995
    let d = vec![
        Rfm::new(0, w(0.0), w(30.0), Decimal::ZERO).unwrap(),
        Rfm::new(2, w(20.0), w(30.0), Decimal::ZERO).unwrap(),
        Rfm::new(5, w(29.0), w(31.0), Decimal::ZERO).unwrap(),
    ];
    close(cdnow().log_likelihood(&d), -26.220_771_419_249_95, 1e-10);
}

#[test]
fn new_customer_expectations_match_the_reference() {
    // mpmath at the rounded published parameters. (The issue's 0.0532,
    // 0.1506, 1.0437, 1.8576 come from the full-precision CDNOW fit.)
    for (t, want) in [
        (1.0, 0.053_267_891_171_658_28),
        (3.0, 0.150_865_230_893_046_7),
        (32.0, 1.045_243_328_374_443_8),
        (78.0, 1.860_519_057_942_768_5),
    ] {
        close(cdnow().expected_purchases_new(w(t)).unwrap(), want, 1e-11);
    }
    assert_eq!(cdnow().expected_purchases_new(w(0.0)).unwrap(), 0.0);
}

#[test]
fn probabilities_of_n_purchases_match_the_reference() {
    // The issue's figures: 1.07869e-07 and 0.5737864; mpmath agrees.
    close(
        cdnow().p_purchases(10, w(2.0)).unwrap(),
        1.078_689_640_369_147e-7,
        1e-18,
    );
    close(
        cdnow().p_purchases(0, w(39.0)).unwrap(),
        0.573_786_352_096_009_4,
        1e-12,
    );
    close(
        cdnow().p_purchases(3, w(39.0)).unwrap(),
        0.045_860_353_847_999_72,
        1e-12,
    );
    assert_eq!(cdnow().p_purchases(0, w(0.0)).unwrap(), 1.0);
    assert_eq!(cdnow().p_purchases(2, w(0.0)).unwrap(), 0.0);
}

/// For large frequencies ₂F₁(r+x, b+x; a+b+x−1; z) itself overflows
/// (about (1−z)^{−x}), but the expectation does not: the Euler form keeps
/// every factor bounded.
#[test]
fn expected_purchases_for_very_frequent_buyers_do_not_overflow() {
    // mpmath: ₂F₁ here is about e^{1830}, beyond f64: a typed error.
    assert!(matches!(
        special::hyp2f1(20_000.243, 20_002.426, 20_002.219, 10.0 / 114.414),
        Err(PredictError::Undefined { .. })
    ));
    let c = Rfm::new(20_000, w(100.0), w(100.0), Decimal::ZERO).unwrap();
    // mpmath: 1846.574402557478806
    close(
        cdnow().expected_purchases(&c, w(10.0)).unwrap(),
        1_846.574_402_557_479,
        1e-8,
    );
    // mpmath: 5.555993366969369e-37 (almost surely gone)
    let c = Rfm::new(5_000, w(38.0), w(38.86), Decimal::ZERO).unwrap();
    let e = cdnow().expected_purchases(&c, w(39.0)).unwrap();
    assert!((e / 5.555_993_366_969_369e-37 - 1.0).abs() < 1e-9, "{e:e}");
}

#[test]
fn p_alive_extremes() {
    let none = Rfm::new(0, w(0.0), w(50.0), Decimal::ZERO).unwrap();
    assert_eq!(cdnow().p_alive(&none), 1.0);
    // mpmath: 8.3e-858, i.e. 0 in f64, without overflow or NaN.
    let gone = Rfm::new(1000, w(10.0), w(100.0), Decimal::ZERO).unwrap();
    assert_eq!(cdnow().p_alive(&gone), 0.0);
    assert_eq!(cdnow().expected_purchases(&gone, w(39.0)).unwrap(), 0.0);
}

#[test]
fn expected_spend_matches_the_closed_form() {
    let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    // p (v + x m) / (p x + q − 1) = 6.25 · 65.44 / 15.24 = 26.837270341207…
    close(
        gg.expected_spend(2, 25.0).unwrap(),
        26.837_270_341_207_35,
        1e-12,
    );
    // p v / (q − 1) = 96.5 / 2.74 = 35.218978102189…
    close(
        gg.expected_spend(0, 0.0).unwrap(),
        35.218_978_102_189_78,
        1e-12,
    );
    let heavy_tail = GammaGamma::new(6.25, 0.9, 15.44).unwrap();
    assert!(matches!(
        heavy_tail.expected_spend(2, 25.0),
        Err(PredictError::Undefined { .. })
    ));
}

/// The `lifetimes` pitfall: its CLV helper takes the data's unit as a
/// string defaulting to days, so a weekly model asked for 12 months
/// silently reads 30-day steps as 30 weeks. Here the months are converted
/// to weeks by the type: 12 steps of 365.25/12/7 = 4.348 weeks.
#[test]
fn weekly_model_clv_over_twelve_months_converts_units() {
    let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let c = Rfm::new(2, w(30.43), w(38.86), Decimal::from(25)).unwrap();
    let year = ClvOptions::new(
        Span::<Month>::new(12.0).unwrap(),
        Span::<Month>::new(1.0).unwrap(),
        0.01,
    )
    .unwrap();
    let clv = cdnow().clv(&gg, &c, &year).unwrap();
    // mpmath, steps of 4.348 weeks: 39.51128487328415.
    close(clv, 39.511_284_873_284_15, 1e-9);
    // mpmath with 30-"week" steps (the pitfall) would be 152.474…
    assert!((clv - 152.474).abs() > 100.0);
    // The same horizon in days or weeks gives the same CLV.
    let in_days = ClvOptions::new(
        Span::<Day>::new(365.25).unwrap(),
        Span::<Day>::new(30.4375).unwrap(),
        0.01,
    )
    .unwrap();
    close(cdnow().clv(&gg, &c, &in_days).unwrap(), clv, 1e-9);
    // And a daily model (α in days) gives it too.
    let daily: BgNbd<Day> = cdnow().to_unit();
    let c_days = Rfm::new(2, w(30.43).to(), w(38.86).to(), Decimal::from(25)).unwrap();
    close(daily.clv(&gg, &c_days, &year).unwrap(), clv, 1e-9);
    // A horizon that is not a whole number of periods is refused.
    assert!(
        ClvOptions::new(
            Span::<Month>::new(12.5).unwrap(),
            Span::<Month>::new(1.0).unwrap(),
            0.01
        )
        .is_err()
    );
}

#[test]
fn bgnbd_recovers_simulated_parameters() {
    let truth = cdnow();
    let data = simulate(&truth, None, 20_000, w(78.0), 7);
    let fit = fit_bgnbd(&data, &FitOptions::default()).unwrap();
    let se = fit.standard_errors.expect("standard errors");
    let m = fit.model;
    // Each estimate within 4 standard errors of the truth, and the
    // standard errors small enough for that to mean something.
    for (name, est, want, s) in [
        ("r", m.r(), truth.r(), se.r),
        ("alpha", m.alpha(), truth.alpha(), se.alpha),
        ("a", m.a(), truth.a(), se.a),
        ("b", m.b(), truth.b(), se.b),
    ] {
        assert!(
            (est - want).abs() < 4.0 * s,
            "{name}: {est} vs {want}, se {s}"
        );
        assert!(s < 0.25 * want, "{name}: se {s} too large for {want}");
    }
    // The maximum is at least as likely as the truth.
    assert!(fit.log_likelihood >= truth.log_likelihood(&data));
    assert_eq!(fit.customers, 20_000);
}

/// The same histories in days and in weeks give the same model: r, a, b
/// equal and α seven times larger in days.
#[test]
fn fits_do_not_depend_on_the_time_unit() {
    let weeks = simulate(&cdnow(), None, 3_000, w(52.0), 5);
    let days: Vec<Rfm<Day>> = weeks
        .iter()
        .map(|c| Rfm::new(c.frequency(), c.recency().to(), c.age().to(), c.monetary()).unwrap())
        .collect();
    let fw = fit_bgnbd(&weeks, &FitOptions::default()).unwrap().model;
    let fd = fit_bgnbd(&days, &FitOptions::default()).unwrap().model;
    close(fd.alpha() / fw.alpha(), 7.0, 1e-4);
    let back: BgNbd<Week> = fd.to_unit();
    for (x, y) in [
        (back.r(), fw.r()),
        (back.alpha(), fw.alpha()),
        (back.a(), fw.a()),
        (back.b(), fw.b()),
    ] {
        assert!((x / y - 1.0).abs() < 1e-4, "{back:?} vs {fw:?}");
    }
}

#[test]
fn l2_penalty_shrinks_the_parameters() {
    let data = simulate(&cdnow(), None, 3_000, w(39.0), 11);
    let plain = fit_bgnbd(&data, &FitOptions::default()).unwrap().model;
    let opts = FitOptions {
        l2_penalty: 0.1,
        ..FitOptions::default()
    };
    let pen = fit_bgnbd(&data, &opts).unwrap().model;
    let sq = |m: &BgNbd<Week>| m.r().powi(2) + m.alpha().powi(2) + m.a().powi(2) + m.b().powi(2);
    assert!(sq(&pen) < sq(&plain), "{pen:?} vs {plain:?}");
}

#[test]
fn unidentifiable_data_are_typed_errors() {
    let none: Vec<Rfm<Week>> = Vec::new();
    assert!(matches!(
        fit_bgnbd(&none, &FitOptions::default()),
        Err(PredictError::NoCustomers { .. })
    ));
    let once = vec![Rfm::new(0, w(0.0), w(10.0), Decimal::ZERO).unwrap(); 5];
    assert_eq!(
        fit_bgnbd(&once, &FitOptions::default()).unwrap_err(),
        PredictError::NoRepeatBuyers {
            model: "BG/NBD",
            customers: 5
        }
    );
    assert!(matches!(
        fit_gamma_gamma(&once, 0.0),
        Err(PredictError::NoRepeatBuyers { .. })
    ));
    let bad = FitOptions {
        l2_penalty: -1.0,
        ..FitOptions::default()
    };
    assert!(matches!(
        fit_bgnbd(&once, &bad),
        Err(PredictError::InvalidInput {
            field: "l2_penalty",
            ..
        })
    ));
    // Everyone bought again at the very end: nobody seems to drop out, so
    // the dropout parameters are not determined.
    let loyal = vec![Rfm::new(3, w(10.0), w(10.0), Decimal::ONE).unwrap(); 50];
    let e = fit_bgnbd(&loyal, &FitOptions::default()).unwrap_err();
    assert!(matches!(e, PredictError::Unidentifiable { .. }), "{e:?}");
}

#[test]
fn gamma_gamma_recovers_simulated_parameters_and_counts_left_out() {
    let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let data = simulate(&cdnow(), Some(&gg), 20_000, w(78.0), 3);
    let zero = data.iter().filter(|c| c.frequency() == 0).count();
    let fit = fit_gamma_gamma(&data, 0.0).unwrap();
    assert_eq!(fit.left_out.no_repeat_purchase, zero);
    assert_eq!(fit.left_out.zero_spend, 0);
    assert_eq!(fit.customers, data.len() - zero);
    // p, q, v are strongly correlated (v/q sets the scale), so check p and
    // the population mean spend p v / (q − 1) tightly and q, v loosely.
    let m = fit.model;
    let se = fit.standard_errors.expect("standard errors");
    assert!((m.p() - 6.25).abs() < 4.0 * se.p, "{m:?} {se:?}");
    assert!((m.q() - 3.74).abs() < 4.0 * se.q, "{m:?} {se:?}");
    assert!((m.v() - 15.44).abs() < 4.0 * se.v, "{m:?} {se:?}");
    let mean = |g: &GammaGamma| g.expected_spend(0, 0.0).unwrap();
    assert!((mean(&m) / mean(&gg) - 1.0).abs() < 0.05, "{}", mean(&m));
    // A repeat buyer with zero spend is left out and counted.
    let mut more = data.clone();
    more.push(Rfm::new(2, w(3.0), w(9.0), Decimal::ZERO).unwrap());
    assert_eq!(fit_gamma_gamma(&more, 0.0).unwrap().left_out.zero_spend, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No valid input yields NaN or infinity.
    #[test]
    fn scores_are_finite(
        r in 0.01f64..10.0, alpha in 0.01f64..100.0, a in 0.05f64..10.0, b in 1.0f64..10.0,
        x in 0u32..3000, age in 0.0f64..500.0, frac in 0.0f64..=1.0, t in 0.0f64..300.0,
        n in 0u32..200, m in 0.0f64..1e6,
    ) {
        let bg = BgNbd::<Week>::new(r, alpha, a, b).unwrap();
        let tx = if x == 0 { 0.0 } else { age * frac };
        let c = Rfm::new(x, w(tx), w(age), Decimal::from_f64_retain(m).unwrap().round_dp(2)).unwrap();
        let p = bg.p_alive(&c);
        prop_assert!((0.0..=1.0).contains(&p), "p_alive {}", p);
        let e = bg.expected_purchases(&c, w(t)).unwrap();
        prop_assert!(e.is_finite() && e >= -1e-9, "expected purchases {}", e);
        let e0 = bg.expected_purchases_new(w(t)).unwrap();
        prop_assert!(e0.is_finite() && e0 >= -1e-9, "new {}", e0);
        let pn = bg.p_purchases(n, w(t)).unwrap();
        prop_assert!((0.0..=1.0).contains(&pn), "P(N = n) {}", pn);
        prop_assert!(bg.log_likelihood(std::slice::from_ref(&c)).is_finite());
        let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let year = ClvOptions::new(Span::<Month>::new(12.0).unwrap(), Span::<Month>::new(1.0).unwrap(), 0.01).unwrap();
        let s = score(&bg, Some(&gg), &c, &year).unwrap();
        prop_assert!(s.clv.is_some_and(f64::is_finite) && s.expected_purchases.is_finite());
    }
}

/// P(Y(t) = n | history) against a two-dimensional quadrature of the
/// individual-level model (mpmath 1.3, 30 digits: the posterior of λ and
/// p from the likelihood `(1−p)^x λ^x e^{−λT} + p(1−p)^{x−1} λ^x e^{−λ t_x}`
/// times the Gamma and Beta priors, and the count of a living customer
/// `(1−p)^{n−1} Pois(n; λt) + p(1−p)^{n−1} P(Pois(λt) > n)`), so
/// independent of the closed form.
#[test]
fn conditional_pmf_matches_the_quadrature() {
    let c = Rfm::new(2, w(30.43), w(38.86), Decimal::ZERO).unwrap();
    for (n, want) in [
        (0, 0.445_372_862_082_995_567_7),
        (1, 0.239_318_937_435_027_762_8),
        (2, 0.144_183_221_864_584_686_7),
        (5, 0.022_863_812_898_119_036_6),
    ] {
        close(
            cdnow().p_purchases_given(&c, n, w(39.0)).unwrap(),
            want,
            1e-10,
        );
    }
    // By hand (n = 0): 1 − P(alive) + P(alive) ((α+T)/(α+T+t))^{r+x}
    // = 1 − 0.7265786 + 0.7265786 · (43.274/82.274)^2.243 = 0.4453729.
    close(
        cdnow().p_purchases_given(&c, 0, w(39.0)).unwrap(),
        0.445_372_9,
        1e-7,
    );
    // Nothing happens in no time; a new customer is eq. 8 itself.
    assert_eq!(cdnow().p_purchases_given(&c, 0, w(0.0)).unwrap(), 1.0);
    assert_eq!(cdnow().p_purchases_given(&c, 3, w(0.0)).unwrap(), 0.0);
    let new = Rfm::new(0, w(0.0), w(0.0), Decimal::ZERO).unwrap();
    close(
        cdnow().p_purchases_given(&new, 3, w(39.0)).unwrap(),
        cdnow().p_purchases(3, w(39.0)).unwrap(),
        1e-15,
    );
    // A customer who is surely gone buys nothing.
    let gone = Rfm::new(1000, w(10.0), w(100.0), Decimal::ZERO).unwrap();
    assert_eq!(cdnow().p_purchases_given(&gone, 0, w(39.0)).unwrap(), 1.0);
    assert_eq!(cdnow().p_purchases_given(&gone, 1, w(39.0)).unwrap(), 0.0);
}

/// P(Y(t) = n | history) against a simulation of the process itself:
/// (λ, p) drawn from the Gamma and Beta priors, each draw weighted by the
/// likelihood of the history, its state at T drawn (alive with the
/// posterior odds of the two terms of the likelihood), and the next `t`
/// simulated purchase by purchase (Poisson arrivals, dropout with
/// probability p after each).
#[test]
fn conditional_pmf_agrees_with_simulation() {
    use super::simulate::SplitMix64;
    let m = cdnow();
    let (x, tx, age, t) = (2.0f64, 30.43, 38.86, 39.0);
    let c = Rfm::new(2, w(tx), w(age), Decimal::ZERO).unwrap();
    let mut rng = SplitMix64::new(42);
    const DRAWS: usize = 200_000;
    const MAX_N: usize = 6;
    let mut mass = [0.0f64; MAX_N];
    let (mut total, mut total_sq) = (0.0f64, 0.0f64);
    for _ in 0..DRAWS {
        let lambda = rng.gamma(m.r()) / m.alpha();
        let p = rng.beta(m.a(), m.b());
        let alive_w = (1.0 - p).powf(x) * lambda.powf(x) * (-lambda * age).exp();
        let dead_w = p * (1.0 - p).powf(x - 1.0) * lambda.powf(x) * (-lambda * tx).exp();
        let weight = alive_w + dead_w;
        total += weight;
        total_sq += weight * weight;
        let mut count = 0usize;
        if rng.uniform() * weight < alive_w {
            let mut clock = 0.0;
            loop {
                clock += -rng.uniform().ln() / lambda;
                if clock > t {
                    break;
                }
                count += 1;
                if rng.uniform() < p {
                    break;
                }
            }
        }
        if count < MAX_N {
            mass[count] += weight;
        }
    }
    // Effective sample size of the weighted draws bounds the error.
    let ess = total * total / total_sq;
    assert!(ess > 5_000.0, "effective sample size {ess}");
    for (n, got) in mass.iter().enumerate() {
        let sim = got / total;
        let exact = m.p_purchases_given(&c, n as u32, w(t)).unwrap();
        let se = (sim * (1.0 - sim) / ess).sqrt();
        assert!(
            (sim - exact).abs() < 4.0 * se + 1e-3,
            "n = {n}: simulated {sim}, formula {exact}, se {se}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The conditional PMF sums to 1 over n and its mean is the
    /// conditional expectation (FHL eq. 10), a separate closed form.
    #[test]
    fn conditional_pmf_sums_to_one_with_the_right_mean(
        r in 0.1f64..5.0, alpha in 1.0f64..50.0, a in 0.1f64..5.0, b in 0.5f64..10.0,
        x in 0u32..30, age in 1.0f64..100.0, frac in 0.0f64..=1.0, t in 0.0f64..52.0,
    ) {
        let bg = BgNbd::<Week>::new(r, alpha, a, b).unwrap();
        let tx = if x == 0 { 0.0 } else { age * frac };
        let c = Rfm::new(x, w(tx), w(age), Decimal::ZERO).unwrap();
        // The count's tail decays like (t/(α+T+t))^n ≤ (52/54)^n.
        let (mut sum, mut mean) = (0.0, 0.0);
        for n in 0..1_500u32 {
            let p = bg.p_purchases_given(&c, n, w(t)).unwrap();
            prop_assert!((0.0..=1.0).contains(&p));
            sum += p;
            mean += f64::from(n) * p;
        }
        prop_assert!((sum - 1.0).abs() < 1e-8, "sum {}", sum);
        let e = bg.expected_purchases(&c, w(t)).unwrap();
        prop_assert!((mean - e).abs() < 1e-6 * e.max(1.0), "mean {} vs E {}", mean, e);
    }
}

/// Reading options and histories from JSON checks them as their
/// constructors do: a derived `Deserialize` used to fill the private
/// fields directly (a CLV run of 4 294 967 295 periods, a negative span,
/// a last purchase after the end of observation).
#[test]
fn json_forms_are_checked_like_the_constructors() {
    let opts =
        ClvOptions::<Month>::new(Span::new(12.0).unwrap(), Span::new(1.0).unwrap(), 0.01).unwrap();
    let text = serde_json::to_string(&opts).unwrap();
    assert_eq!(
        text,
        r#"{"horizon":12.0,"discount_period":1.0,"discount_rate":0.01,"periods":12}"#
    );
    assert_eq!(
        serde_json::from_str::<ClvOptions<Month>>(&text).unwrap(),
        opts
    );
    let without_periods = r#"{"horizon":12.0,"discount_period":1.0,"discount_rate":0.01}"#;
    assert_eq!(
        serde_json::from_str::<ClvOptions<Month>>(without_periods).unwrap(),
        opts
    );
    for (bad, says) in [
        (
            r#"{"horizon":12.0,"discount_period":1.0,"discount_rate":0.01,"periods":4294967295}"#,
            "periods",
        ),
        (
            r#"{"horizon":1e9,"discount_period":1.0,"discount_rate":0.01}"#,
            "from 1 to 10000",
        ),
        (
            r#"{"horizon":12.0,"discount_period":0.0,"discount_rate":0.01}"#,
            "positive",
        ),
        (
            r#"{"horizon":12.0,"discount_period":1.0,"discount_rate":-2.0}"#,
            "greater than -1",
        ),
        (
            r#"{"horizon":-12.0,"discount_period":1.0,"discount_rate":0.01}"#,
            "not negative",
        ),
    ] {
        let err = serde_json::from_str::<ClvOptions<Month>>(bad).unwrap_err();
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
    let rfm = Rfm::<Day>::new(
        2,
        Span::new(10.0).unwrap(),
        Span::new(30.0).unwrap(),
        Decimal::TEN,
    )
    .unwrap();
    let text = serde_json::to_string(&rfm).unwrap();
    assert_eq!(serde_json::from_str::<Rfm<Day>>(&text).unwrap(), rfm);
    let after_end = r#"{"frequency":2,"recency":40.0,"age":30.0,"monetary":"10"}"#;
    let err = serde_json::from_str::<Rfm<Day>>(after_end).unwrap_err();
    assert!(
        err.to_string().contains("after the end of observation"),
        "{err}"
    );
    assert!(serde_json::from_str::<Span<Day>>("-1.0").is_err());
    // Fitted models: parameters finite and positive.
    let m = BgNbd::<Day>::new(0.24, 4.41, 0.79, 2.43).unwrap();
    let text = serde_json::to_string(&m).unwrap();
    assert_eq!(text, r#"{"r":0.24,"alpha":4.41,"a":0.79,"b":2.43}"#);
    assert_eq!(serde_json::from_str::<BgNbd<Day>>(&text).unwrap(), m);
    let err = serde_json::from_str::<BgNbd<Day>>(r#"{"r":0.24,"alpha":-1,"a":0.79,"b":2.43}"#)
        .unwrap_err();
    assert!(err.to_string().contains("finite and positive"), "{err}");
    let g = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let text = serde_json::to_string(&g).unwrap();
    assert_eq!(serde_json::from_str::<GammaGamma>(&text).unwrap(), g);
    let err = serde_json::from_str::<GammaGamma>(r#"{"p":0,"q":3.74,"v":15.44}"#).unwrap_err();
    assert!(err.to_string().contains("finite and positive"), "{err}");
}
