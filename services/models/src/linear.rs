//! Native evaluation of ONNX-ML LinearClassifier / LinearRegressor: one dot product per output
//! row of coefficients, in f64 (the exporting library computes in f64 too).

use crate::transform::{logistic, probit, PostTransform};
use crate::Scores;
use smallvec::smallvec;

/// Turns the raw scores `x·c_k + b_k` into the output vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinearFinish {
    /// Binary classifier with one coefficient row: output `[1-s, s]` with NONE (as onnxruntime),
    /// `[σ(-s), σ(s)]` with LOGISTIC (onnxruntime leaves the score raw there; no exporter means that).
    BinarySingle { logistic: bool },
    /// One coefficient row per class, then the transform (what skl2onnx writes for LogisticRegression).
    PerClass(PostTransform),
    /// Single-target regressor.
    Regression { probit: bool },
}

#[derive(Debug)]
pub(crate) struct Linear {
    /// Row-major, `rows × n_inputs`.
    coefficients: Vec<f64>,
    intercepts: Vec<f64>,
    n_inputs: usize,
    finish: LinearFinish,
}

impl Linear {
    /// `coefficients.len() == intercepts.len() * n_inputs` is checked by the caller.
    pub(crate) fn new(coefficients: Vec<f64>, intercepts: Vec<f64>, n_inputs: usize, finish: LinearFinish) -> Linear {
        Linear {
            coefficients,
            intercepts,
            n_inputs,
            finish,
        }
    }

    pub(crate) fn scores(&self, row: &[f32]) -> Scores {
        let mut s: Scores = self
            .coefficients
            .chunks_exact(self.n_inputs)
            .zip(&self.intercepts)
            .map(|(c, b)| c.iter().zip(row).map(|(c, &x)| c * x as f64).sum::<f64>() + b)
            .collect();
        match self.finish {
            LinearFinish::BinarySingle { logistic: true } => {
                let v = s[0];
                smallvec![logistic(-v), logistic(v)]
            }
            LinearFinish::BinarySingle { logistic: false } => {
                let v = s[0];
                smallvec![1.0 - v, v]
            }
            LinearFinish::PerClass(t) => {
                t.apply(&mut s);
                s
            }
            LinearFinish::Regression { probit: p } => {
                if p {
                    s[0] = probit(s[0]);
                }
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_logistic_two_rows() {
        let l = Linear::new(
            vec![-1.0, -2.0, 1.0, 2.0],
            vec![-0.5, 0.5],
            2,
            LinearFinish::PerClass(PostTransform::Logistic),
        );
        let s = l.scores(&[1.0, 0.5]);
        assert!((s[1] - logistic(2.5)).abs() < 1e-15);
        assert!((s[0] - logistic(-2.5)).abs() < 1e-15);
    }

    #[test]
    fn regression() {
        let l = Linear::new(vec![2.0, 3.0], vec![1.0], 2, LinearFinish::Regression { probit: false });
        assert_eq!(l.scores(&[1.0, 1.0])[0], 6.0);
    }
}
