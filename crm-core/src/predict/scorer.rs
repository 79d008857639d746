//! Scoring many customers under one BG/NBD model, fast: a [`Scorer`] is
//! built once per model and gives the same scores as the per-customer
//! methods of [`BgNbd`] and [`score`](super::score::score) (within a
//! relative 1e-12, in practice a few units in the last place).
//!
//! # Why it is faster
//!
//! The expectation (FHL 2005 eq. 10) needs, per customer,
//! `G = (1−z)^e ₂F₁(p, q; c; z)` with `z = t/(α+T+t)`, where (see
//! [`special`](super::special)) either `p, q = a+b−1−r, a−1` and
//! `e = a−1` (Euler's transformation, when `a−1−r−x < 0`) or
//! `p, q = r+x, b+x` and `e = r+x`; in both `c = a+b+x−1`. The series
//! coefficients `c_k = (p)_k (q)_k / ((c)_k k!)` depend on the model and
//! the frequency `x` only, not on `T`, `t_x` or the horizon. The scorer
//! computes them once for every `x` below [`CACHED_FREQUENCIES`] (most
//! customers have a small `x`), [`CACHED_TERMS`] of them each, so a
//! customer costs a polynomial in `z` instead of a running product with a
//! division every two terms. The polynomial is summed in blocks of eight
//! terms, each by Estrin's scheme (`z`, `z²`, `z⁴`), so the blocks'
//! multiplications are independent of each other and overlap in the
//! processor instead of waiting for one another.
//!
//! # When the sum stops
//!
//! The ratio of successive coefficients is
//! `(p+k)(q+k) / ((c+k)(k+1))`; where `p+k ≥ 0` and `q+k ≥ 0` it is at
//! most 1 exactly when `(p+q−c−1) k + pq − c ≤ 0`, and `p+q−c−1 < 0` in
//! both forms above, so once that holds at some `k` it holds for every
//! later one. From such an `N` on the rest of the series is bounded by
//! `|c_N| z^N / (1 − z)`; the sum stops at the first block boundary where
//! that bound is below half a unit in the last place of the sum. When it
//! is not reached within the cached terms (`z` near 1: a new customer with
//! a long horizon), or `x` is not cached, or `a` is within 1e-6 of 1 (the
//! removable singularity averaged there), the customer is scored by the
//! reference series of [`special`](super::special), which keeps the
//! transformation fallback for large `x`.
//!
//! ```
//! use crm_core::predict::{BgNbd, Rfm, Span, Week};
//! use rust_decimal::Decimal;
//!
//! let bg = BgNbd::<Week>::new(0.243, 4.414, 0.793, 2.426)?;
//! let scorer = bg.scorer();
//! let w = |v: f64| Span::<Week>::new(v).unwrap();
//! let c = Rfm::new(2, w(30.43), w(38.86), Decimal::ZERO)?;
//! let fast = scorer.expected_purchases(&c, w(39.0))?;
//! assert!((fast - 1.226).abs() < 1e-3);
//! assert!((fast / bg.expected_purchases(&c, w(39.0))? - 1.0).abs() < 1e-12);
//! # Ok::<(), crm_core::predict::PredictError>(())
//! ```

use rust_decimal::prelude::ToPrimitive;

use super::PredictError;
use super::bgnbd::BgNbd;
use super::gamma_gamma::GammaGamma;
use super::score::{ClvOptions, NEAR, Scores, clv_and_purchases, conditional, p_alive, score_with};
use super::units::{Rfm, Span, TimeUnit};

/// Frequencies `x` below this have their series coefficients cached.
pub const CACHED_FREQUENCIES: u32 = 64;

/// Series terms cached per frequency (a multiple of the block of 8).
pub const CACHED_TERMS: usize = 96;

/// Terms per block.
const BLOCK: usize = 8;

/// The sum stops when the bound on the rest is below this fraction of it
/// (half a unit in the last place).
const TAIL: f64 = f64::EPSILON / 2.0;

/// The cached series of one frequency.
#[derive(Debug, Clone)]
struct Row {
    /// `c_0 … c_{CACHED_TERMS}` (one past the cached terms, for the bound).
    coef: [f64; CACHED_TERMS + 1],
    /// The first `k` from which the coefficient ratio is at most 1.
    bounded_from: usize,
    /// The exponent `e` of `(1−z)`.
    power: f64,
    /// `(a+b+x−1)/(a−1)`.
    scale: f64,
}

impl Row {
    /// The row of frequency `x`, or `None` when this `x` is left to the
    /// reference evaluation (undefined expectation, `a` near 1, or
    /// coefficients beyond the range of `f64`).
    fn new(r: f64, a: f64, b: f64, x: f64) -> Option<Row> {
        let c = a + b + x - 1.0;
        if c <= 0.0 || (a - 1.0).abs() < NEAR {
            return None;
        }
        let (p, q, power) = if a - 1.0 - r - x < 0.0 {
            (a + b - 1.0 - r, a - 1.0, a - 1.0)
        } else {
            (r + x, b + x, r + x)
        };
        let slope = p + q - c - 1.0;
        if slope >= 0.0 {
            return None;
        }
        let mut coef = [0.0; CACHED_TERMS + 1];
        coef[0] = 1.0;
        let mut bounded_from = usize::MAX;
        for k in 0..=CACHED_TERMS {
            let kf = k as f64;
            if bounded_from == usize::MAX
                && p + kf >= 0.0
                && q + kf >= 0.0
                && slope * kf + p * q - c <= 0.0
            {
                bounded_from = k;
            }
            if k < CACHED_TERMS {
                coef[k + 1] = coef[k] * ((p + kf) * (q + kf)) / ((c + kf) * (kf + 1.0));
            }
        }
        if !coef.iter().all(|v| v.is_finite()) {
            return None;
        }
        Some(Row {
            coef,
            bounded_from,
            power,
            scale: c / (a - 1.0),
        })
    }

    /// `Σ c_k z^k` for `0 ≤ z < 1`, or `None` when the cached terms do not
    /// reach the precision.
    #[inline]
    fn sum(&self, z: f64, one_minus_z: f64) -> Option<f64> {
        let z2 = z * z;
        let z4 = z2 * z2;
        let z8 = z4 * z4;
        let mut sum = 0.0;
        let mut zn = 1.0;
        let mut next = 0;
        for block in self.coef[..CACHED_TERMS].chunks_exact(BLOCK) {
            let lo = (block[0] + block[1] * z) + (block[2] + block[3] * z) * z2;
            let hi = (block[4] + block[5] * z) + (block[6] + block[7] * z) * z2;
            sum += zn * (lo + hi * z4);
            zn *= z8;
            next += BLOCK;
            if next >= self.bounded_from
                && (self.coef[next] * zn).abs() <= TAIL * sum.abs() * one_minus_z
            {
                return Some(sum);
            }
        }
        None
    }
}

/// A BG/NBD model with its series coefficients cached per frequency, for
/// scoring many customers (see the [module docs](self)). Build it once
/// with [`BgNbd::scorer`]; it is immutable and can be shared.
#[derive(Debug, Clone)]
pub struct Scorer<U: TimeUnit> {
    model: BgNbd<U>,
    rows: Vec<Option<Row>>,
}

impl<U: TimeUnit> BgNbd<U> {
    /// A [`Scorer`] for this model: the series coefficients of every
    /// frequency below [`CACHED_FREQUENCIES`] computed once (about 6 000
    /// multiplications and divisions).
    pub fn scorer(&self) -> Scorer<U> {
        Scorer::new(*self)
    }
}

impl<U: TimeUnit> Scorer<U> {
    /// A scorer for `model` (as [`BgNbd::scorer`]).
    pub fn new(model: BgNbd<U>) -> Self {
        let rows = (0..CACHED_FREQUENCIES)
            .map(|x| Row::new(model.r(), model.a(), model.b(), f64::from(x)))
            .collect();
        Scorer { model, rows }
    }

    /// The model.
    pub fn model(&self) -> &BgNbd<U> {
        &self.model
    }

    /// P(alive | x, t_x, T), as [`BgNbd::p_alive`].
    pub fn p_alive(&self, c: &Rfm<U>) -> f64 {
        p_alive(
            &self.model,
            f64::from(c.frequency()),
            c.recency().value(),
            c.age().value(),
        )
    }

    /// Expected purchases of this customer in the next `t`, as
    /// [`BgNbd::expected_purchases`].
    pub fn expected_purchases(&self, c: &Rfm<U>, t: Span<U>) -> Result<f64, PredictError> {
        let x = f64::from(c.frequency());
        let age = c.age().value();
        let alive = p_alive(&self.model, x, c.recency().value(), age);
        self.conditional(x, age, t.value(), alive)
    }

    /// Expected purchases of a new customer in its first `t`, as
    /// [`BgNbd::expected_purchases_new`].
    pub fn expected_purchases_new(&self, t: Span<U>) -> Result<f64, PredictError> {
        self.conditional(0.0, 0.0, t.value(), 1.0)
    }

    /// Customer lifetime value over the horizon of `options`, as
    /// [`BgNbd::clv`].
    pub fn clv<C: TimeUnit>(
        &self,
        spend: &GammaGamma,
        c: &Rfm<U>,
        options: &ClvOptions<C>,
    ) -> Result<f64, PredictError> {
        let m = c.monetary().to_f64().unwrap_or(0.0);
        let per_purchase = spend.expected_spend(c.frequency(), m)?;
        let (clv, _) = clv_and_purchases(&self.model, per_purchase, c, options, |x, age, t, p| {
            self.conditional(x, age, t, p)
        })?;
        Ok(clv)
    }

    /// All scores of one customer, as [`score`](super::score::score).
    pub fn score<C: TimeUnit>(
        &self,
        spend: Option<&GammaGamma>,
        c: &Rfm<U>,
        options: &ClvOptions<C>,
    ) -> Result<Scores, PredictError> {
        score_with(&self.model, spend, c, options, |x, age, t, p| {
            self.conditional(x, age, t, p)
        })
    }

    /// E[Y(t) | x, T] given P(alive): the cached series where it reaches
    /// full precision, the reference evaluation otherwise.
    #[inline]
    fn conditional(&self, x: f64, age: f64, t: f64, alive: f64) -> Result<f64, PredictError> {
        if t == 0.0 || alive == 0.0 {
            return Ok(0.0);
        }
        // `x` is a whole frequency (from a u32), so the cast is exact.
        if let Some(Some(row)) = self.rows.get(x as usize) {
            let d = self.model.alpha() + age;
            let inv = 1.0 / (d + t);
            let (z, one_minus_z) = (t * inv, d * inv);
            if let Some(s) = row.sum(z, one_minus_z) {
                let g = one_minus_z.powf(row.power) * s;
                return Ok(row.scale * (1.0 - g) * alive);
            }
        }
        conditional(&self.model, x, age, t, alive)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::*;
    use crate::predict::cdnow::histories as cdnow_summary;
    use crate::predict::score::score;
    use crate::predict::special::series;
    use crate::predict::{Month, Week};

    fn w(v: f64) -> Span<Week> {
        Span::new(v).unwrap()
    }

    fn rel(got: f64, want: f64) -> f64 {
        if got == want {
            0.0
        } else {
            ((got - want) / want).abs()
        }
    }

    /// splitmix64, for reproducible inputs.
    struct Draws(crate::predict::simulate::SplitMix64);
    impl Draws {
        fn range(&mut self, lo: f64, hi: f64) -> f64 {
            lo + (hi - lo) * self.0.unit()
        }
    }

    /// The cached sum against the reference series (term by term, with
    /// its own stopping rule) on 20 000 random models, frequencies and
    /// `z`: relative error at most 1e-12 wherever the cached terms suffice,
    /// and they suffice for every `z ≤ 0.6`.
    #[test]
    fn cached_sum_matches_the_reference_series() {
        let mut d = Draws(crate::predict::simulate::SplitMix64::new(11));
        let (mut worst, mut cached) = (0.0_f64, 0);
        for _ in 0..20_000 {
            let bg = BgNbd::<Week>::new(
                d.range(0.01, 10.0),
                d.range(0.01, 100.0),
                d.range(0.05, 10.0),
                d.range(1.0, 10.0),
            )
            .unwrap();
            let scorer = bg.scorer();
            let x = (d.0.unit() * f64::from(CACHED_FREQUENCIES)) as u32;
            let z = d.range(0.0, 0.95);
            let row = scorer.rows[x as usize].as_ref().unwrap();
            let (p, q, c) = row_parameters(&bg, x);
            let want = series(p, q, c, z).unwrap();
            match row.sum(z, 1.0 - z) {
                Some(got) => {
                    cached += 1;
                    let e = rel(got, want);
                    worst = worst.max(e);
                    assert!(e <= 1e-12, "{bg:?} x={x} z={z}: {got:e} vs {want:e}");
                }
                None => assert!(z > 0.6, "{bg:?} x={x} z={z}: not cached"),
            }
        }
        // Most draws are summed from the cache, and closely.
        assert!(cached > 12_000, "{cached}");
        assert!(worst < 1e-13, "{worst:e}");
    }

    fn row_parameters(bg: &BgNbd<Week>, x: u32) -> (f64, f64, f64) {
        let (r, a, b, x) = (bg.r(), bg.a(), bg.b(), f64::from(x));
        if a - 1.0 - r - x < 0.0 {
            (a + b - 1.0 - r, a - 1.0, a + b + x - 1.0)
        } else {
            (r + x, b + x, a + b + x - 1.0)
        }
    }

    /// Hand-computed coefficients: at r, a, b = 0.5, 0.75, 2 and x = 1 the
    /// Euler form has p = a+b−1−r = 1.25, q = a−1 = −0.25, c = a+b+x−1 =
    /// 2.75: c₁ = pq/c = −0.3125/2.75 = −0.11363636…, c₂ = c₁ · (2.25 ·
    /// 0.75)/(3.75 · 2) = c₁ · 0.225 = −0.025568181…; and at a = 5 the
    /// plain form (a−1−r−x = 2.5 ≥ 0): p = 1.5, q = 3, c = 7, c₁ = 4.5/7.
    #[test]
    fn coefficients_by_hand() {
        let m = BgNbd::<Week>::new(0.5, 1.0, 0.75, 2.0).unwrap().scorer();
        let row = m.rows[1].as_ref().unwrap();
        assert_eq!(row.coef[0], 1.0);
        assert!(rel(row.coef[1], -0.113_636_363_636_363_64) < 1e-15);
        assert!(rel(row.coef[2], -0.025_568_181_818_181_82) < 1e-15);
        assert_eq!(row.power, -0.25);
        assert!(rel(row.scale, 2.75 / -0.25) < 1e-15);
        // q + 0 = −0.25 < 0, so the bound is taken from k = 1 on, where
        // (p+1)(q+1) = 1.6875 ≤ (c+1) · 2 = 7.5.
        assert_eq!(row.bounded_from, 1);
        let plain = BgNbd::<Week>::new(0.5, 1.0, 5.0, 2.0).unwrap().scorer();
        let row = plain.rows[1].as_ref().unwrap();
        assert!(rel(row.coef[1], 4.5 / 7.0) < 1e-15);
        assert_eq!(row.power, 1.5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The scorer's expectation equals the reference one (relative
        /// 1e-12) for any model and history, cached or not; both fail
        /// alike where the expectation is undefined.
        #[test]
        fn expectation_matches_the_reference(
            r in 0.01f64..10.0, alpha in 0.01f64..100.0, a in 0.05f64..10.0, b in 0.2f64..10.0,
            x in prop_oneof![0u32..80, 0u32..3000], age in 0.0f64..500.0, frac in 0.0f64..=1.0,
            t in 0.0f64..300.0,
        ) {
            let bg = BgNbd::<Week>::new(r, alpha, a, b).unwrap();
            let tx = if x == 0 { 0.0 } else { age * frac };
            let c = Rfm::new(x, w(tx), w(age), Decimal::ZERO).unwrap();
            let scorer = bg.scorer();
            match (scorer.expected_purchases(&c, w(t)), bg.expected_purchases(&c, w(t))) {
                (Ok(got), Ok(want)) => {
                    // E = scale (1 − G) P(alive): where 1 − G cancels
                    // (t ≪ α + T, or a near 1) a rounding of G is
                    // amplified by |scale P(alive) / E| in both
                    // evaluations alike, so the tolerance follows it.
                    let scale = (a + b + f64::from(x) - 1.0) / (a - 1.0);
                    let cond = (scale * bg.p_alive(&c) / want).abs();
                    let tol = 1e-12f64.max(4e-15 * cond);
                    prop_assert!(got.is_finite());
                    prop_assert!(rel(got, want) <= tol, "{} vs {} (cond {})", got, want, cond);
                }
                (Err(_), Err(_)) => {}
                (got, want) => prop_assert!(false, "{:?} vs {:?}", got, want),
            }
            prop_assert_eq!(scorer.p_alive(&c), bg.p_alive(&c));
        }
    }

    /// Every CDNOW customer (2 357, weekly) scored both ways at the
    /// published parameters: P(alive) identical, expected purchases over
    /// 39 weeks and 12-month CLV within a relative 1e-12.
    #[test]
    fn cdnow_customers_score_as_the_reference() {
        let bg = BgNbd::<Week>::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
        let year = ClvOptions::new(
            Span::<Month>::new(12.0).unwrap(),
            Span::<Month>::new(1.0).unwrap(),
            0.01,
        )
        .unwrap();
        let scorer = bg.scorer();
        let data = cdnow_summary();
        assert_eq!(data.len(), 2_357);
        for c in &data {
            let e = scorer.expected_purchases(c, w(39.0)).unwrap();
            let want = bg.expected_purchases(c, w(39.0)).unwrap();
            assert!(rel(e, want) <= 1e-12, "{c:?}: {e} vs {want}");
            let fast = scorer.score(Some(&gg), c, &year).unwrap();
            let slow = score(&bg, Some(&gg), c, &year).unwrap();
            assert_eq!(fast.p_alive, slow.p_alive);
            assert_eq!(fast.expected_spend, slow.expected_spend);
            assert!(rel(fast.expected_purchases, slow.expected_purchases) <= 1e-12);
            let (f, s) = (fast.clv.unwrap(), slow.clv.unwrap());
            assert!(rel(f, s) <= 1e-12, "{c:?}: {f} vs {s}");
            assert!(rel(scorer.clv(&gg, c, &year).unwrap(), s) <= 1e-12);
        }
        // Without a spend model: expected purchases over the horizon only.
        let c = &data[0];
        let fast = scorer.score(None, c, &year).unwrap();
        let slow = score(&bg, None, c, &year).unwrap();
        assert!(rel(fast.expected_purchases, slow.expected_purchases) <= 1e-12);
        assert_eq!((fast.clv, fast.expected_spend), (None, None));
    }

    /// The issue's figures through the scorer (mpmath values as in the
    /// reference tests in `tests.rs`).
    #[test]
    fn published_figures() {
        let bg = BgNbd::<Week>::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let s = bg.scorer();
        let c = Rfm::new(2, w(30.43), w(38.86), Decimal::ZERO).unwrap();
        assert!((s.expected_purchases(&c, w(39.0)).unwrap() - 1.226_028_174_767_144).abs() < 1e-10);
        // mpmath at the rounded published parameters (the issue's 0.0532,
        // 0.1506, 1.0437, 1.8576 come from the full-precision fit).
        for (t, want) in [
            (1.0, 0.053_267_891_171_658_28),
            (3.0, 0.150_865_230_893_046_7),
            (32.0, 1.045_243_328_374_443_8),
            (78.0, 1.860_519_057_942_768_5),
        ] {
            let got = s.expected_purchases_new(w(t)).unwrap();
            assert!((got - want).abs() < 1e-11, "t={t}: {got}");
        }
    }

    /// The reference takes over where the cache does not reach: large
    /// frequencies, `z` near 1, `a` near 1, and an undefined expectation.
    #[test]
    fn falls_back_to_the_reference() {
        let bg = BgNbd::<Week>::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let s = bg.scorer();
        // mpmath: 1846.574402557478806 (x = 20 000, beyond the cache).
        let c = Rfm::new(20_000, w(100.0), w(100.0), Decimal::ZERO).unwrap();
        assert!(
            rel(
                s.expected_purchases(&c, w(10.0)).unwrap(),
                1_846.574_402_557_479
            ) < 1e-10
        );
        // A new customer over 1000 weeks: z = 0.9956, beyond the cached terms.
        let new = Rfm::new(0, w(0.0), w(0.0), Decimal::ZERO).unwrap();
        assert!(s.rows[0].as_ref().unwrap().sum(0.9956, 0.0044).is_none());
        assert_eq!(
            s.expected_purchases(&new, w(1000.0)).unwrap(),
            bg.expected_purchases(&new, w(1000.0)).unwrap()
        );
        // a = 1: the removable singularity, averaged by the reference.
        let one = BgNbd::<Week>::new(0.243, 4.414, 1.0, 2.426).unwrap();
        assert!(one.scorer().rows.iter().all(Option::is_none));
        let c = Rfm::new(2, w(30.43), w(38.86), Decimal::ZERO).unwrap();
        assert_eq!(
            one.scorer().expected_purchases(&c, w(39.0)).unwrap(),
            one.expected_purchases(&c, w(39.0)).unwrap()
        );
        // a + b ≤ 1: undefined for a customer without repeat purchases.
        let low = BgNbd::<Week>::new(0.243, 4.414, 0.3, 0.5).unwrap();
        assert!(matches!(
            low.scorer().expected_purchases(&new, w(39.0)),
            Err(PredictError::Undefined { .. })
        ));
    }
}
