//! Score transforms of ONNX-ML (`post_transform`) and the element-wise ops exporters append
//! after a classifier or regressor (Normalizer, Mul by a constant, ...), in f64.

/// ONNX-ML `post_transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

impl PostTransform {
    pub(crate) fn parse(s: &str) -> Option<PostTransform> {
        Some(match s {
            "NONE" => PostTransform::None,
            "LOGISTIC" => PostTransform::Logistic,
            "SOFTMAX" => PostTransform::Softmax,
            "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
            "PROBIT" => PostTransform::Probit,
            _ => return None,
        })
    }

    /// Applies the transform to a score vector with one value per class (or target).
    pub(crate) fn apply(self, v: &mut [f64]) {
        match self {
            PostTransform::None => {}
            PostTransform::Logistic => v.iter_mut().for_each(|x| *x = logistic(*x)),
            PostTransform::Probit => v.iter_mut().for_each(|x| *x = probit(*x)),
            PostTransform::Softmax => softmax(v, false),
            PostTransform::SoftmaxZero => softmax(v, true),
        }
    }
}

/// Numerically stable logistic function.
pub(crate) fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Softmax; with `skip_zero` scores that are exactly zero stay zero (SOFTMAX_ZERO, as onnxruntime).
fn softmax(v: &mut [f64], skip_zero: bool) {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for x in v.iter_mut() {
        if skip_zero && x.abs() <= 1e-7 {
            *x = 0.0;
        } else {
            *x = (*x - max).exp();
            sum += *x;
        }
    }
    if sum > 0.0 {
        v.iter_mut().for_each(|x| *x /= sum);
    }
}

/// PROBIT as onnxruntime and the ONNX reference implementation compute it:
/// `sqrt(2) * erfinv(2x - 1)` with Winitzki's approximation of erfinv.
pub(crate) fn probit(x: f64) -> f64 {
    std::f64::consts::SQRT_2 * erf_inv(2.0 * x - 1.0)
}

fn erf_inv(x: f64) -> f64 {
    const A: f64 = 0.147;
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let ln = ((1.0 - x) * (1.0 + x)).ln();
    let v = 2.0 / (std::f64::consts::PI * A) + 0.5 * ln;
    sign * ((v * v - ln / A).sqrt() - v).sqrt()
}

/// ONNX-ML `Normalizer` norms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Norm {
    Max,
    L1,
    L2,
}

/// An element-wise op on the score vector between the model op and the graph output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PostOp {
    /// `x * c`
    Mul(f64),
    /// `x + c` (also `x - c`)
    Add(f64),
    /// `c - x`
    SubFrom(f64),
    /// `x / c`
    Div(f64),
    /// `c / x`
    DivInto(f64),
    Normalize(Norm),
}

impl PostOp {
    pub(crate) fn apply(&self, v: &mut [f64]) {
        match *self {
            PostOp::Mul(c) => v.iter_mut().for_each(|x| *x *= c),
            PostOp::Add(c) => v.iter_mut().for_each(|x| *x += c),
            PostOp::SubFrom(c) => v.iter_mut().for_each(|x| *x = c - *x),
            PostOp::Div(c) => v.iter_mut().for_each(|x| *x /= c),
            PostOp::DivInto(c) => v.iter_mut().for_each(|x| *x = c / *x),
            PostOp::Normalize(norm) => {
                let d = match norm {
                    Norm::Max => v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    Norm::L1 => v.iter().map(|x| x.abs()).sum(),
                    Norm::L2 => v.iter().map(|x| x * x).sum::<f64>().sqrt(),
                };
                if d != 0.0 && d.is_finite() {
                    v.iter_mut().for_each(|x| *x /= d);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_is_symmetric_and_stable() {
        assert!((logistic(0.0) - 0.5).abs() < 1e-15);
        assert!((logistic(2.0) + logistic(-2.0) - 1.0).abs() < 1e-15);
        assert_eq!(logistic(-1000.0), 0.0);
        assert_eq!(logistic(1000.0), 1.0);
    }

    #[test]
    fn softmax_zero_keeps_zeros() {
        let mut v = [0.0, 1.0, 2.0];
        PostTransform::SoftmaxZero.apply(&mut v);
        assert_eq!(v[0], 0.0);
        assert!((v[1] + v[2] - 1.0).abs() < 1e-12);
        let mut w = [0.0, 1.0, 2.0];
        PostTransform::Softmax.apply(&mut w);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(w[0] > 0.0);
    }

    #[test]
    fn probit_inverts_the_normal_cdf() {
        assert!(probit(0.5).abs() < 1e-12);
        // Winitzki's approximation is good to ~1e-3 relative.
        assert!((probit(0.975) - 1.959964).abs() < 5e-3);
        assert!((probit(0.025) + 1.959964).abs() < 5e-3);
    }

    #[test]
    fn normalizer_l1() {
        let mut v = [1.0, 3.0];
        PostOp::Normalize(Norm::L1).apply(&mut v);
        assert_eq!(v, [0.25, 0.75]);
    }
}
