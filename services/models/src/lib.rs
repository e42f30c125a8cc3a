//! Propensity models loaded from ONNX bytes (no I/O here: the caller reads the file).
//! API contract used by `revenue-core`; the implementation is being written.

/// Which part of the model's output is the score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputSpec {
    /// Classifiers: the probability of class `class` (index into the model's class labels).
    /// Regressors: refused (use `Value`).
    Probability { class: usize },
    /// Regressors: the single predicted value.
    Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Native evaluation of ONNX-ML TreeEnsembleClassifier / TreeEnsembleRegressor.
    NativeTrees,
    /// Native evaluation of ONNX-ML LinearClassifier / LinearRegressor.
    NativeLinear,
    /// tract-onnx, for every other graph.
    Tract,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    Invalid(String),
}

pub struct Model {
    _private: (),
}

impl Model {
    pub fn from_onnx(_bytes: &[u8], _n_inputs: usize, _output: OutputSpec) -> Result<Model, ModelError> {
        Err(ModelError::Invalid("not implemented yet".into()))
    }
    pub fn backend(&self) -> Backend {
        Backend::Tract
    }
    pub fn n_inputs(&self) -> usize {
        0
    }
    pub fn predict(&self, _row: &[f32]) -> Result<f64, ModelError> {
        Err(ModelError::Invalid("not implemented yet".into()))
    }
}
