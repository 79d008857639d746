//! Special functions: `lnΓ` and digamma (from `statrs`), `ln B`, and the
//! Gauss hypergeometric function ₂F₁, written here because no well-kept
//! crate has a reliable one.
//!
//! ₂F₁(a, b; c; z) = Σₙ (a)ₙ (b)ₙ / ((c)ₙ n!) zⁿ (Abramowitz & Stegun 15.1.1)
//! for `z < 1`, evaluated as follows:
//!
//! - `z < 0`: Pfaff's transformation (A&S 15.3.4)
//!   `₂F₁(a,b;c;z) = (1−z)^{−a} ₂F₁(a, c−b; c; z/(z−1))` maps to `[0, 1)`.
//! - `0 ≤ z < 1` and `c − a − b < 0`: the plain series has terms that grow
//!   like `n^{a+b−c−1}` before `zⁿ` wins, and in the BG/NBD expectation
//!   `c − a − b = a − 1 − r − x` goes to −∞ with the frequency `x`, so the
//!   series overflows. Euler's transformation (A&S 15.3.3)
//!   `₂F₁(a,b;c;z) = (1−z)^{c−a−b} ₂F₁(c−a, c−b; c; z)` gives a series with
//!   `c' − a' − b' = a + b − c > 0`, whose terms are bounded.
//! - otherwise the plain series.
//!
//! The series is summed until a term no longer changes the sum (relative
//! 1e-16) and stops with an error after [`MAX_TERMS`] terms (near `z = 1`
//! it needs about `40 / (1 − z)` terms).

use super::PredictError;

/// `ln Γ(x)` for `x > 0` (statrs).
pub fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// The digamma function ψ(x) = d/dx ln Γ(x) (statrs).
pub fn digamma(x: f64) -> f64 {
    statrs::function::gamma::digamma(x)
}

/// `ln B(a, b) = lnΓ(a) + lnΓ(b) − lnΓ(a+b)`.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// The most series terms summed before giving up.
pub const MAX_TERMS: usize = 10_000_000;

/// The plain power series of ₂F₁ for `0 ≤ z < 1`.
///
/// Two terms per step with one division: `tₖ₊₁ = tₖ pₖ/qₖ` and
/// `tₖ₊₂ = tₖ pₖ pₖ₊₁/(qₖ qₖ₊₁)` with `pₖ = (a+k)(b+k) z` and
/// `qₖ = (c+k)(k+1)`: the division is the slowest operation of the loop,
/// and the ratios are computed apart from the running term so that it is
/// off the chain of dependent operations.
pub(crate) fn series(a: f64, b: f64, c: f64, z: f64) -> Result<f64, PredictError> {
    let mut term = 1.0_f64;
    let mut sum = 1.0_f64;
    let mut k = 0.0_f64;
    for _ in 0..MAX_TERMS / 2 {
        let p0 = (a + k) * (b + k) * z;
        let q0 = (c + k) * (k + 1.0);
        let p1 = (a + k + 1.0) * (b + k + 1.0) * z;
        let q1 = (c + k + 1.0) * (k + 2.0);
        // The ratios do not depend on the running term, so the division
        // overlaps the previous step; the chain from term to term is one
        // multiplication.
        let inv = 1.0 / (q0 * q1);
        let (r1, r2) = (p0 * q1 * inv, p0 * p1 * inv);
        let t1 = term * r1;
        let t2 = term * r2;
        sum += t1 + t2;
        term = t2;
        k += 2.0;
        if !sum.is_finite() {
            return Err(PredictError::Undefined {
                what: "the hypergeometric function 2F1",
                reason: format!("its series for a={a}, b={b}, c={c}, z={z} overflows"),
            });
        }
        // Past the point where the term ratio is below one in magnitude the
        // terms only shrink, so negligible terms end the sum.
        if (t1.abs() + t2.abs()) <= 1e-17 * sum.abs() && ratio_small(a, b, c, k, z) {
            return Ok(sum);
        }
        if term == 0.0 {
            return Ok(sum);
        }
    }
    Err(PredictError::Undefined {
        what: "the hypergeometric function 2F1",
        reason: format!(
            "its series for a={a}, b={b}, c={c}, z={z} did not converge in {MAX_TERMS} terms"
        ),
    })
}

/// Whether the term ratio at index `n` is below one in magnitude (terms decrease from here on).
fn ratio_small(a: f64, b: f64, c: f64, n: f64, z: f64) -> bool {
    ((a + n) * (b + n) * z).abs() < ((c + n) * (n + 1.0)).abs()
}

/// The Gauss hypergeometric function ₂F₁(a, b; c; z) for real `z < 1`
/// (see the module docs for the method). An error, never NaN or infinity,
/// when the arguments are outside that domain, the series does not
/// converge, or the value is beyond the range of `f64`.
///
/// ```
/// use crm_core::predict::special::hyp2f1;
/// // ₂F₁(1, 1; 2; z) = −ln(1−z)/z
/// let v = hyp2f1(1.0, 1.0, 2.0, 0.5)?;
/// assert!((v - 2.0 * 2f64.ln()).abs() < 1e-14);
/// # Ok::<(), crm_core::predict::PredictError>(())
/// ```
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, PredictError> {
    let undefined = |reason: &str| PredictError::Undefined {
        what: "the hypergeometric function 2F1",
        reason: format!("a={a}, b={b}, c={c}, z={z}: {reason}"),
    };
    if ![a, b, c, z].iter().all(|v| v.is_finite()) {
        return Err(undefined("arguments must be finite"));
    }
    if z >= 1.0 {
        return Err(undefined("only z < 1 is supported"));
    }
    if c <= 0.0 && c.fract() == 0.0 {
        return Err(undefined("c must not be zero or a negative integer"));
    }
    let v = if z < 0.0 {
        let w = z / (z - 1.0);
        (1.0 - z).powf(-a) * hyp2f1_unit(a, c - b, c, w)?
    } else {
        hyp2f1_unit(a, b, c, z)?
    };
    if !v.is_finite() {
        return Err(undefined("the value is beyond the range of f64"));
    }
    Ok(v)
}

/// ₂F₁ for `0 ≤ z < 1`.
fn hyp2f1_unit(a: f64, b: f64, c: f64, z: f64) -> Result<f64, PredictError> {
    if c - a - b < 0.0 {
        let v = series(c - a, c - b, c, z)?;
        Ok((1.0 - z).powf(c - a - b) * v)
    } else {
        series(a, b, c, z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got:e}, want {want:e} (rel {:e})",
            ((got - want) / want).abs()
        );
    }

    // Closed forms (A&S 15.1.3, 15.1.6, 15.1.8) and values computed with
    // mpmath 1.3 (`mpmath.hyp2f1`, 30 digits), not with this code.
    #[test]
    fn closed_forms() {
        // −ln(1−z)/z at 0.5: 2 ln 2
        close(
            hyp2f1(1.0, 1.0, 2.0, 0.5).unwrap(),
            1.386_294_361_119_890_6,
            1e-14,
        );
        // at 0.99: ln(100)/0.99 (slow series, ~4000 terms)
        close(
            hyp2f1(1.0, 1.0, 2.0, 0.99).unwrap(),
            4.651_687_056_553_627,
            1e-12,
        );
        // at −0.5 (Pfaff): ln(1.5)/0.5
        close(
            hyp2f1(1.0, 1.0, 2.0, -0.5).unwrap(),
            0.810_930_216_216_328_8,
            1e-14,
        );
        // ₂F₁(½, ½; 3/2; z²) = arcsin(z)/z at z = ½: π/3
        close(
            hyp2f1(0.5, 0.5, 1.5, 0.25).unwrap(),
            std::f64::consts::FRAC_PI_3,
            1e-14,
        );
        // ₂F₁(a, b; b; z) = (1−z)^{−a}: 10^30 at a = 30, z = 0.9 (Euler branch)
        close(hyp2f1(30.0, 2.0, 2.0, 0.9).unwrap(), 1e30, 1e-12);
    }

    #[test]
    fn large_parameters_use_the_transformation() {
        // The BG/NBD shape with x = 1000: r+x, b+x; a+b+x−1 at the CDNOW
        // parameters; mpmath: hyp2f1(1000.243, 1002.426, 1002.219, 0.3)
        // = 9.36726208810213e+154 (c−a−b = −1000.45, so the plain series
        // would need huge intermediate terms).
        close(
            hyp2f1(1000.243, 1002.426, 1002.219, 0.3).unwrap(),
            9.367_262_088_102_133e154,
            1e-10,
        );
        // mpmath: hyp2f1(2.243, 4.426, 4.219, 0.5) = 5.16169390138361
        close(
            hyp2f1(2.243, 4.426, 4.219, 0.5).unwrap(),
            5.161_693_901_383_613,
            1e-12,
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Never NaN or infinity; and where both the plain series and the
        /// transformed one are usable they agree.
        #[test]
        fn finite_or_error_and_transformations_agree(
            a in -5.0f64..50.0, b in -5.0f64..50.0, c in 0.1f64..60.0, z in -5.0f64..0.95,
        ) {
            if let Ok(v) = hyp2f1(a, b, c, z) {
                proptest::prop_assert!(v.is_finite());
                if (0.0..0.8).contains(&z)
                    && a.abs() < 10.0
                    && b.abs() < 10.0
                    && let Ok(plain) = series(a, b, c, z)
                {
                    let scale = plain.abs().max(1.0);
                    proptest::prop_assert!((v - plain).abs() <= 1e-9 * scale, "{} vs {}", v, plain);
                }
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors_not_nan() {
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_err());
        assert!(hyp2f1(1.0, 1.0, -2.0, 0.5).is_err());
        assert!(hyp2f1(1.0, f64::NAN, 2.0, 0.5).is_err());
    }
}
