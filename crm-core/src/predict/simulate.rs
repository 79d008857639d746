//! Synthetic purchase histories drawn from the BG/NBD and Gamma-Gamma
//! processes with a small deterministic generator (splitmix64), for tests,
//! benchmarks and what-if studies. The same seed gives the same data on
//! every platform.
//!
//! A customer's first purchase is at time 0 and their observation lasts
//! `T`, drawn uniformly from `[T_max / 2, T_max]` (a cohort acquired over
//! half the window). While alive they buy at rate λ ~ Gamma(r, scale 1/α);
//! after every repeat purchase they drop out with probability
//! p ~ Beta(a, b). With a spend model, each repeat purchase is worth
//! z ~ Gamma(p, rate ν) with ν ~ Gamma(q, rate v), and the monetary value
//! is the mean of the repeat purchases, rounded to cents.

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

use super::bgnbd::BgNbd;
use super::gamma_gamma::GammaGamma;
use super::units::{Rfm, Span, TimeUnit};

/// splitmix64 (Steele, Lea & Flood 2014): a tiny, good-enough generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`next_u64() % n`: the slight bias toward small
    /// values does not matter for test data). `n` must not be 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with `percent` % probability (`below(100) < percent`).
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// Uniform on the half-open interval [0, 1), from the top 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform on the open interval (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    /// Gamma with `shape` and scale 1 (Marsaglia & Tsang 2000; for
    /// `shape < 1` boosted by `U^{1/shape}`).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            return self.gamma(shape + 1.0) * self.uniform().powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
    /// Beta(a, b) from two gammas.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        x / (x + y)
    }
}

/// `n` customers drawn from `purchases` (and `spend`, when given; else
/// monetary values are zero), observed for up to `max_age`.
pub fn simulate<U: TimeUnit>(
    purchases: &BgNbd<U>,
    spend: Option<&GammaGamma>,
    n: usize,
    max_age: Span<U>,
    seed: u64,
) -> Vec<Rfm<U>> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let age = max_age.value() * (0.5 + 0.5 * rng.uniform());
        let rate = rng.gamma(purchases.r()) / purchases.alpha();
        let drop = rng.beta(purchases.a(), purchases.b());
        let nu = spend.map(|s| rng.gamma(s.q()) / s.v());
        let (mut t, mut x, mut tx, mut total) = (0.0, 0u32, 0.0, 0.0);
        loop {
            t += -rng.uniform().ln() / rate;
            if t > age {
                break;
            }
            x += 1;
            tx = t;
            if let (Some(s), Some(nu)) = (spend, nu) {
                total += rng.gamma(s.p()) / nu;
            }
            if rng.uniform() < drop {
                break;
            }
        }
        let monetary = if x == 0 {
            Decimal::ZERO
        } else {
            Decimal::from_f64(total / f64::from(x))
                .map(|d| d.round_dp(2))
                .unwrap_or(Decimal::ZERO)
        };
        // Valid by construction: 0 ≤ tx ≤ age, tx = 0 when x = 0.
        if let Ok(c) = Rfm::new(x, Span::raw(tx), Span::raw(age), monetary) {
            out.push(c);
        }
    }
    out
}
