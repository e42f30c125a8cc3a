//! Propensity models loaded from ONNX bytes (no I/O here: the caller reads the file).
//!
//! Tree ensembles and linear models (ONNX-ML `TreeEnsembleClassifier`/`TreeEnsembleRegressor`,
//! `LinearClassifier`/`LinearRegressor`, as scikit-learn, LightGBM and XGBoost export them) are
//! read from the graph and evaluated natively: a 100-tree ensemble costs about a microsecond per
//! row instead of milliseconds in a general runtime, and exports tract rejects (one-element
//! `base_values`, regressors) work. Every other graph runs on tract-onnx, optimised once at load.
//!
//! Everything that can be checked is checked at load (input width and type, class index, output
//! kind, ZipMap), so a use case with a wrong model is refused by `validate`, not at 3 a.m.

mod linear;
mod onnx;
mod tract_backend;
mod transform;
mod trees;

use smallvec::SmallVec;
use tract_onnx::pb::ModelProto;

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
    /// The model was refused at load; the message says what is wrong and how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The bytes are no ONNX model at all.
    #[error("not an ONNX model: {0}; point the use case at the `.onnx` file written by skl2onnx or onnxmltools")]
    NotOnnx(String),
    /// `predict` got a row of the wrong length (a caller bug: rows follow `algo.model.inputs`).
    #[error(
        "row has {got} values but the model takes {expected} inputs; pass one value per model input column, in the model's order"
    )]
    RowLength { expected: usize, got: usize },
    /// The runtime failed on a row (tract backend only; the native backends cannot fail on a row).
    #[error("model evaluation failed: {0}")]
    Eval(String),
}

/// A loaded model, ready to score rows; cheap to share (`Arc<Model>`) across threads.
pub struct Model {
    n_inputs: usize,
    input_name: String,
    class_labels: Option<Vec<String>>,
    pre: Vec<onnx::PreOp>,
    post: Vec<transform::PostOp>,
    column: usize,
    engine: Engine,
}

enum Engine {
    Trees(Box<trees::TreeEnsemble>),
    Linear(linear::Linear),
    Tract(tract_backend::TractModel),
}

/// Score vectors hold one value per class; classifiers rarely have more than eight.
pub(crate) type Scores = SmallVec<[f64; 8]>;

/// Rows are copied only when a pre-processing op (Scaler) rewrites them; up to 64 columns stay on the stack.
type RowBuf = SmallVec<[f32; 64]>;

impl Model {
    /// Loads a model: native backend when the graph is a tree ensemble or linear model (plus the
    /// trivial ops exporters add around them), tract otherwise. `n_inputs` is the number of
    /// features the use case maps; the model's input width must equal it.
    pub fn from_onnx(bytes: &[u8], n_inputs: usize, output: OutputSpec) -> Result<Model, ModelError> {
        Self::load(bytes, n_inputs, output, false)
    }

    /// Like [`Model::from_onnx`] but always on tract, e.g. to compare speed or results with the
    /// native backends.
    pub fn from_onnx_with_tract(bytes: &[u8], n_inputs: usize, output: OutputSpec) -> Result<Model, ModelError> {
        Self::load(bytes, n_inputs, output, true)
    }

    pub fn backend(&self) -> Backend {
        match self.engine {
            Engine::Trees(_) => Backend::NativeTrees,
            Engine::Linear(_) => Backend::NativeLinear,
            Engine::Tract(_) => Backend::Tract,
        }
    }

    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// The name of the model's input tensor (for messages).
    pub fn input_name(&self) -> &str {
        &self.input_name
    }

    /// The class labels of a classifier read natively (`None` for regressors and tract graphs).
    pub fn class_labels(&self) -> Option<&[String]> {
        self.class_labels.as_deref()
    }

    /// The score of one row: the requested class probability, or the regression value.
    pub fn predict(&self, row: &[f32]) -> Result<f64, ModelError> {
        if row.len() != self.n_inputs {
            return Err(ModelError::RowLength {
                expected: self.n_inputs,
                got: row.len(),
            });
        }
        let mut buf = RowBuf::new();
        let row = if self.pre.is_empty() {
            row
        } else {
            buf.extend_from_slice(row);
            for op in &self.pre {
                op.apply(&mut buf);
            }
            &buf[..]
        };
        let mut scores = match &self.engine {
            Engine::Trees(t) => t.scores(row),
            Engine::Linear(l) => l.scores(row),
            Engine::Tract(t) => return t.predict(row),
        };
        for op in &self.post {
            op.apply(&mut scores);
        }
        Ok(scores.get(self.column).copied().unwrap_or(f64::NAN))
    }

    fn load(bytes: &[u8], n_inputs: usize, output: OutputSpec, force_tract: bool) -> Result<Model, ModelError> {
        if n_inputs == 0 {
            return Err(ModelError::Invalid(
                "the use case maps no features (algo.model.inputs); list one feature per model input column".into(),
            ));
        }
        let proto: ModelProto = onnx::decode(bytes)?;
        let graph = onnx::graph(&proto)?;
        onnx::refuse_zipmap(graph)?;
        let input = onnx::single_input(graph, n_inputs)?;
        let output_name = onnx::score_output(graph, output)?;
        let why_not_native = if force_tract {
            "tract was requested".to_string()
        } else {
            match onnx::native_plan(graph, &input.name, &output_name, n_inputs, output)? {
                Ok(native) => {
                    return Ok(Model {
                        n_inputs,
                        input_name: input.name,
                        class_labels: native.class_labels,
                        pre: native.pre,
                        post: native.post,
                        column: native.column,
                        engine: match native.core {
                            onnx::Core::Trees(t) => Engine::Trees(t),
                            onnx::Core::Linear(l) => Engine::Linear(l),
                        },
                    });
                }
                Err(reason) => reason,
            }
        };
        let tract = tract_backend::TractModel::load(&proto, &output_name, n_inputs, input.rank1, output).map_err(
            |e| match e {
                onnx::Refusal::Refuse(e) => e,
                onnx::Refusal::NotNative(e) => ModelError::Invalid(format!(
                    "model cannot be run: not evaluated natively ({why_not_native}) and tract-onnx fails on it ({e}); \
                     export a scikit-learn, LightGBM or XGBoost model with skl2onnx or onnxmltools (zipmap=False)"
                )),
            },
        )?;
        Ok(Model {
            n_inputs,
            input_name: input.name,
            class_labels: None,
            pre: Vec::new(),
            post: Vec::new(),
            column: 0,
            engine: Engine::Tract(tract),
        })
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("backend", &self.backend())
            .field("n_inputs", &self.n_inputs)
            .field("input_name", &self.input_name)
            .field("class_labels", &self.class_labels)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Model>();
    }
}
