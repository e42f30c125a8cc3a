//! Reading the ONNX graph: load-time checks (input, output, ZipMap) and the plan of the native
//! backends, i.e. which tree-ensemble or linear op computes the score and which trivial ops
//! (Identity, Cast, Scaler, Normalizer, Mul by a constant, ...) surround it.

mod attrs;
mod native;
mod plan;
mod signature;

pub(crate) use plan::{native_plan, Core, PreOp};
pub(crate) use signature::{decode, graph, refuse_zipmap, score_output, single_input};

use crate::ModelError;
use tract_onnx::pb::tensor_proto::DataType;

/// The domain of the ONNX-ML operators (trees, linear models, Scaler, Normalizer, ZipMap).
const ML: &str = "ai.onnx.ml";

/// Why the native backends do not take a model.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The model is wrong for the use case (or malformed): refused, whatever the backend.
    Refuse(ModelError),
    /// Not understood natively: tract gets a try. The text says what was not understood.
    NotNative(String),
}

impl Refusal {
    pub(crate) fn invalid(msg: String) -> Refusal {
        Refusal::Refuse(ModelError::Invalid(msg))
    }
}

impl From<ModelError> for Refusal {
    fn from(e: ModelError) -> Self {
        Refusal::Refuse(e)
    }
}

/// An ONNX element type by name, for messages.
fn type_name(elem_type: i32) -> String {
    DataType::try_from(elem_type)
        .map(|t| format!("{t:?}").to_lowercase())
        .unwrap_or_else(|_| format!("type {elem_type}"))
}
