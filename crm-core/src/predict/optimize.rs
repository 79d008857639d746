//! A small BFGS minimiser (Nocedal & Wright, *Numerical Optimization*,
//! 2nd ed., algorithm 6.1) with a backtracking Armijo line search, for
//! smooth objectives of a few variables with analytic gradients, plus a
//! central-difference Hessian and a symmetric positive-definite inverse
//! for standard errors.
//!
//! The models minimise over the logarithms of their positive parameters,
//! so every point the line search tries is a valid parameter vector.

// Small dense matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

/// Options for [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Stop when every gradient component is below this in magnitude.
    pub gradient_tolerance: f64,
    /// Give up after this many iterations.
    pub max_iterations: u32,
    /// The largest change of any coordinate in one step.
    pub max_step: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            gradient_tolerance: 1e-7,
            max_iterations: 500,
            max_step: 3.0,
        }
    }
}

/// Where the minimiser stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Minimum<const N: usize> {
    /// The point.
    pub x: [f64; N],
    /// The objective there.
    pub value: f64,
    /// The largest gradient component there (in magnitude).
    pub gradient_norm: f64,
    /// Iterations done.
    pub iterations: u32,
    /// Whether the gradient tolerance was met.
    pub converged: bool,
}

fn dot<const N: usize>(u: &[f64; N], v: &[f64; N]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

fn inf_norm<const N: usize>(v: &[f64; N]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Minimises `f` from `x0`. `f(x, g)` returns the objective and writes
/// its gradient into `g`; a non-finite value marks a point to avoid.
pub fn minimize<const N: usize>(
    mut f: impl FnMut(&[f64; N], &mut [f64; N]) -> f64,
    x0: [f64; N],
    opts: &Options,
) -> Minimum<N> {
    let identity = || {
        let mut h = [[0.0; N]; N];
        for (i, row) in h.iter_mut().enumerate() {
            row[i] = 1.0;
        }
        h
    };
    let mut x = x0;
    let mut g = [0.0; N];
    let mut fx = f(&x, &mut g);
    let mut h = identity();
    let mut fresh = true;
    let mut iterations = 0;
    while iterations < opts.max_iterations {
        if fx.is_finite() && inf_norm(&g) < opts.gradient_tolerance {
            break;
        }
        iterations += 1;
        let mut d = [0.0; N];
        for i in 0..N {
            d[i] = -(0..N).map(|j| h[i][j] * g[j]).sum::<f64>();
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 || slope.is_nan() {
            h = identity();
            fresh = true;
            d = g.map(|v| -v);
            slope = dot(&g, &d);
        }
        let longest = inf_norm(&d);
        let mut step = if longest > opts.max_step {
            opts.max_step / longest
        } else {
            1.0
        };
        let mut accepted = None;
        let mut g_new = [0.0; N];
        for _ in 0..60 {
            let mut x_new = x;
            for i in 0..N {
                x_new[i] += step * d[i];
            }
            let f_new = f(&x_new, &mut g_new);
            if f_new.is_finite() && f_new <= fx + 1e-4 * step * slope {
                accepted = Some((x_new, f_new));
                break;
            }
            step *= 0.5;
        }
        let Some((x_new, f_new)) = accepted else {
            if fresh {
                // Even steepest descent cannot decrease the objective:
                // this is as close as floating point gets.
                break;
            }
            h = identity();
            fresh = true;
            continue;
        };
        let s: [f64; N] = std::array::from_fn(|i| x_new[i] - x[i]);
        let y: [f64; N] = std::array::from_fn(|i| g_new[i] - g[i]);
        let sy = dot(&s, &y);
        if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
            if fresh {
                // Scale the first approximation (Nocedal & Wright eq. 6.20).
                let scale = sy / dot(&y, &y);
                h = identity();
                for (i, row) in h.iter_mut().enumerate() {
                    row[i] = scale;
                }
            }
            let rho = 1.0 / sy;
            let hy: [f64; N] = std::array::from_fn(|i| (0..N).map(|j| h[i][j] * y[j]).sum());
            let yhy = dot(&y, &hy);
            for i in 0..N {
                for j in 0..N {
                    h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j])
                        + (rho * rho * yhy + rho) * s[i] * s[j];
                }
            }
            fresh = false;
        }
        x = x_new;
        fx = f_new;
        g = g_new;
    }
    let gradient_norm = inf_norm(&g);
    Minimum {
        x,
        value: fx,
        gradient_norm,
        iterations,
        converged: fx.is_finite() && gradient_norm < opts.gradient_tolerance,
    }
}

/// The Hessian of a function from its gradient `grad`, by central
/// differences with relative steps, symmetrised.
pub fn hessian<const N: usize>(
    mut grad: impl FnMut(&[f64; N]) -> [f64; N],
    x: &[f64; N],
) -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for j in 0..N {
        let step = 1e-5 * x[j].abs().max(1e-3);
        let (mut up, mut down) = (*x, *x);
        up[j] += step;
        down[j] -= step;
        let (gu, gd) = (grad(&up), grad(&down));
        for i in 0..N {
            h[i][j] = (gu[i] - gd[i]) / (2.0 * step);
        }
    }
    for i in 0..N {
        for j in 0..i {
            let m = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = m;
            h[j][i] = m;
        }
    }
    h
}

/// The inverse of a symmetric positive-definite matrix (by Cholesky), or
/// `None` when it is not positive definite.
pub fn spd_inverse<const N: usize>(m: &[[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let s: f64 = m[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // Solve L Lᵀ X = I column by column.
    let mut inv = [[0.0; N]; N];
    for c in 0..N {
        let mut y = [0.0; N];
        for i in 0..N {
            let e = if i == c { 1.0 } else { 0.0 };
            y[i] = (e - (0..i).map(|k| l[i][k] * y[k]).sum::<f64>()) / l[i][i];
        }
        let mut xs = [0.0; N];
        for i in (0..N).rev() {
            xs[i] = (y[i] - (i + 1..N).map(|k| l[k][i] * xs[k]).sum::<f64>()) / l[i][i];
        }
        for i in 0..N {
            inv[i][c] = xs[i];
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_the_rosenbrock_function() {
        // Minimum at (1, 1), value 0.
        let m = minimize(
            |p: &[f64; 2], g: &mut [f64; 2]| {
                let (x, y) = (p[0], p[1]);
                g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
                g[1] = 200.0 * (y - x * x);
                (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
            },
            [-1.2, 1.0],
            &Options::default(),
        );
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{m:?}"
        );
    }

    #[test]
    fn inverse_and_hessian_of_a_quadratic() {
        // f = x² + xy + 2y²: Hessian [[2, 1], [1, 4]], inverse [[4, −1], [−1, 2]] / 7.
        let h = hessian(
            |p: &[f64; 2]| [2.0 * p[0] + p[1], p[0] + 4.0 * p[1]],
            &[0.3, -0.7],
        );
        assert!((h[0][0] - 2.0).abs() < 1e-8 && (h[0][1] - 1.0).abs() < 1e-8);
        assert!((h[1][1] - 4.0).abs() < 1e-8);
        let inv = spd_inverse(&h).unwrap();
        assert!((inv[0][0] - 4.0 / 7.0).abs() < 1e-8 && (inv[0][1] + 1.0 / 7.0).abs() < 1e-8);
        assert!((inv[1][1] - 2.0 / 7.0).abs() < 1e-8);
        assert!(spd_inverse(&[[1.0, 2.0], [2.0, 1.0]]).is_none());
    }
}
