//! The model's signature, checked at load whatever the backend: a protobuf with a graph, one
//! float input as wide as the use case's features, one score output, no ZipMap.

use super::type_name;
use crate::{ModelError, OutputSpec};
use std::collections::HashSet;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension;
use tract_onnx::pb::type_proto;
use tract_onnx::pb::{GraphProto, ModelProto};
use tract_onnx::prelude::Framework;

pub(crate) fn decode(bytes: &[u8]) -> Result<ModelProto, ModelError> {
    if bytes.is_empty() {
        return Err(ModelError::NotOnnx("the file is empty".into()));
    }
    tract_onnx::onnx().proto_model_for_read(&mut &bytes[..]).map_err(|e| {
        ModelError::NotOnnx(format!(
            "{} bytes that do not decode as an ONNX protobuf ({e})",
            bytes.len()
        ))
    })
}

pub(crate) fn graph(proto: &ModelProto) -> Result<&GraphProto, ModelError> {
    match &proto.graph {
        Some(g) if !g.node.is_empty() && !g.output.is_empty() => Ok(g),
        Some(_) => Err(ModelError::NotOnnx("the graph has no nodes or no outputs".into())),
        None => Err(ModelError::NotOnnx("no graph in the protobuf".into())),
    }
}

/// ZipMap turns probabilities into a list of {class: probability} maps, which no backend scores.
pub(crate) fn refuse_zipmap(graph: &GraphProto) -> Result<(), ModelError> {
    match graph.node.iter().find(|n| n.op_type == "ZipMap") {
        Some(n) => Err(ModelError::Invalid(format!(
            "model output `{}` is a ZipMap (a list of {{class: probability}} maps), not a probability tensor; \
             export with zipmap=False (skl2onnx: options={{'zipmap': False}}; onnxmltools: zipmap=False)",
            n.output.first().map(String::as_str).unwrap_or("?")
        ))),
        None => Ok(()),
    }
}

/// The model's single data input.
pub(crate) struct InputInfo {
    pub name: String,
    /// `[n_inputs]` instead of `[N, n_inputs]`.
    pub rank1: bool,
}

/// Checks that the model has one float input whose width is the number of features the use case maps.
pub(crate) fn single_input(graph: &GraphProto, n_inputs: usize) -> Result<InputInfo, ModelError> {
    let initializers: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .collect();
    let [input] = inputs[..] else {
        let names: Vec<_> = inputs.iter().map(|i| format!("`{}`", i.name)).collect();
        return Err(ModelError::Invalid(format!(
            "model has {} inputs ({}) but Revenue Engine feeds one float tensor with one column per feature; \
             export with a single input, e.g. initial_types=[('input', FloatTensorType([None, {n_inputs}]))]",
            inputs.len(),
            names.join(", ")
        )));
    };
    let name = &input.name;
    let tensor = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => t,
        _ => {
            return Err(ModelError::Invalid(format!(
                "model input `{name}` is not a tensor; export with FloatTensorType([None, {n_inputs}])"
            )))
        }
    };
    if tensor.elem_type != DataType::Float as i32 {
        return Err(ModelError::Invalid(format!(
            "model input `{name}` holds {} but Revenue Engine feeds float32; export with FloatTensorType([None, {n_inputs}])",
            type_name(tensor.elem_type)
        )));
    }
    let dims: Vec<Option<i64>> = tensor
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(dimension::Value::DimValue(v)) if v > 0 => Some(v),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let (width, rank1) = match dims[..] {
        // No declared shape: the width is checked against the model op's columns below.
        [] if tensor.shape.is_none() => (None, false),
        [w] => (w, true),
        [batch, w] => {
            if let Some(b) = batch.filter(|&b| b != 1) {
                return Err(ModelError::Invalid(format!(
                    "model input `{name}` has a fixed batch size of {b}; export with a free batch dimension \
                     (FloatTensorType([None, {n_inputs}]))"
                )));
            }
            (w, false)
        }
        _ => {
            return Err(ModelError::Invalid(format!(
                "model input `{name}` has {} dimensions; Revenue Engine feeds [N, {n_inputs}] (one row of features)",
                dims.len()
            )))
        }
    };
    if let Some(w) = width {
        if w as usize != n_inputs {
            return Err(width_mismatch(name, w as usize, n_inputs));
        }
    }
    Ok(InputInfo {
        name: name.clone(),
        rank1,
    })
}

pub(super) fn width_mismatch(name: &str, width: usize, n_inputs: usize) -> ModelError {
    ModelError::Invalid(format!(
        "model input `{name}` has {width} columns but the use case maps {n_inputs} features (algo.model.inputs); \
         list one feature per model input column, in the model's order"
    ))
}

/// The graph output that carries the score: the only float output, or the one whose name says so.
pub(crate) fn score_output(graph: &GraphProto, spec: OutputSpec) -> Result<String, ModelError> {
    let floats: Vec<&str> = graph
        .output
        .iter()
        .filter(|o| {
            matches!(o.r#type.as_ref().and_then(|t| t.value.as_ref()),
                Some(type_proto::Value::TensorType(t))
                    if t.elem_type == DataType::Float as i32 || t.elem_type == DataType::Double as i32)
        })
        .map(|o| o.name.as_str())
        .collect();
    let all: Vec<String> = graph.output.iter().map(|o| format!("`{}`", o.name)).collect();
    match floats[..] {
        [one] => Ok(one.to_string()),
        [] => Err(ModelError::Invalid(format!(
            "model has no float tensor output (outputs: {}); a propensity model outputs class probabilities or a value \
             (export classifiers with zipmap=False)",
            all.join(", ")
        ))),
        _ => {
            let wanted: &[&str] = match spec {
                OutputSpec::Probability { .. } => &["prob"],
                OutputSpec::Value => &["variable", "value", "predict", "score"],
            };
            let named: Vec<&str> = floats
                .iter()
                .copied()
                .filter(|n| wanted.iter().any(|w| n.to_lowercase().contains(w)))
                .collect();
            match named[..] {
                [one] => Ok(one.to_string()),
                _ => Err(ModelError::Invalid(format!(
                    "model has several float outputs ({}) and none is clearly the score; export a model with one \
                     float output (probabilities or value)",
                    all.join(", ")
                ))),
            }
        }
    }
}
