//! The plan of the native backends: which tree-ensemble or linear op computes the score, and
//! which trivial ops (Identity, Cast, Scaler, Normalizer, a scalar Mul, ...) surround it.

use super::attrs::{attr, class_labels, floats_attr, int_attr, string_attr, tensor_f64};
use super::native::{linear_classifier, linear_regressor, tree_classifier, tree_regressor};
use super::{type_name, Refusal, ML};
use crate::linear::Linear;
use crate::transform::{Norm, PostOp};
use crate::trees::TreeEnsemble;
use crate::{ModelError, OutputSpec};
use std::collections::HashMap;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{GraphProto, NodeProto};

/// A row rewrite before the model op.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PreOp {
    /// ONNX-ML Scaler: `(x - offset) * scale` per column (one value broadcasts), in f32 as onnxruntime.
    Scaler { offset: Vec<f32>, scale: Vec<f32> },
}

impl PreOp {
    pub(crate) fn apply(&self, row: &mut [f32]) {
        match self {
            PreOp::Scaler { offset, scale } => {
                let pick = |v: &[f32], j: usize| if v.len() == 1 { v[0] } else { v[j] };
                for (j, x) in row.iter_mut().enumerate() {
                    *x = (*x - pick(offset, j)) * pick(scale, j);
                }
            }
        }
    }
}

pub(crate) enum Core {
    Trees(Box<TreeEnsemble>),
    Linear(Linear),
}

pub(crate) struct NativePlan {
    pub core: Core,
    pub pre: Vec<PreOp>,
    pub post: Vec<PostOp>,
    pub column: usize,
    pub class_labels: Option<Vec<String>>,
}

/// The native plan, `Ok(Err(reason))` when the graph is for tract, `Err` when the model is refused.
pub(crate) fn native_plan(
    graph: &GraphProto,
    input: &str,
    output: &str,
    n_inputs: usize,
    spec: OutputSpec,
) -> Result<Result<NativePlan, String>, ModelError> {
    match plan(graph, input, output, n_inputs, spec) {
        Ok(p) => Ok(Ok(p)),
        Err(Refusal::NotNative(why)) => Ok(Err(why)),
        Err(Refusal::Refuse(e)) => Err(e),
    }
}

fn is_standard(node: &NodeProto) -> bool {
    node.domain.is_empty() || node.domain == "ai.onnx"
}

fn plan(
    graph: &GraphProto,
    input: &str,
    output: &str,
    n_inputs: usize,
    spec: OutputSpec,
) -> Result<NativePlan, Refusal> {
    let producers: HashMap<&str, &NodeProto> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let producer = |name: &str| {
        producers
            .get(name)
            .copied()
            .ok_or_else(|| Refusal::NotNative(format!("`{name}` is not computed by any node")))
    };

    // From the score output back to the model op.
    let mut post = Vec::new();
    let mut cur = output;
    let (core, core_output) = loop {
        let node = producer(cur)?;
        let op = node.op_type.as_str();
        match op {
            "Identity" if is_standard(node) => cur = first_input(node)?,
            "Cast" if is_standard(node) => {
                float_cast(node)?;
                cur = first_input(node)?;
            }
            "Mul" | "Add" | "Sub" | "Div" if is_standard(node) => {
                let (data, op) = scalar_op(graph, &producers, node)?;
                post.push(op);
                cur = data;
            }
            "Normalizer" if node.domain == ML => {
                let norm = match string_attr(node, "norm").as_deref() {
                    Some("MAX") => Norm::Max,
                    Some("L1") => Norm::L1,
                    Some("L2") => Norm::L2,
                    other => return Err(Refusal::NotNative(format!("Normalizer with norm {other:?}"))),
                };
                post.push(PostOp::Normalize(norm));
                cur = first_input(node)?;
            }
            "TreeEnsembleClassifier" | "TreeEnsembleRegressor" | "LinearClassifier" | "LinearRegressor"
                if node.domain == ML =>
            {
                let index = node.output.iter().position(|o| o == cur).unwrap_or(0);
                break (node, index);
            }
            _ => {
                return Err(Refusal::NotNative(format!(
                    "the score comes from a `{op}` node, which the native backends do not evaluate"
                )))
            }
        }
    };
    post.reverse();

    // From the model op back to the graph input.
    let mut pre = Vec::new();
    let mut cur = first_input(core)?;
    while cur != input {
        let node = producer(cur)?;
        match node.op_type.as_str() {
            "Identity" if is_standard(node) => {}
            "Cast" if is_standard(node) => float_cast(node)?,
            "Scaler" if node.domain == ML => {
                let offset = floats_attr(node, "offset")?.unwrap_or_else(|| vec![0.0]);
                let scale = floats_attr(node, "scale")?.unwrap_or_else(|| vec![1.0]);
                let fits = |v: &[f64]| v.len() == 1 || v.len() == n_inputs;
                if !fits(&offset) || !fits(&scale) {
                    return Err(Refusal::NotNative(format!(
                        "Scaler with {} offsets and {} scales for {n_inputs} columns",
                        offset.len(),
                        scale.len()
                    )));
                }
                let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
                pre.push(PreOp::Scaler {
                    offset: f32s(offset),
                    scale: f32s(scale),
                });
            }
            op => {
                return Err(Refusal::NotNative(format!(
                    "the model input goes through a `{op}` node, which the native backends do not evaluate"
                )))
            }
        }
        cur = first_input(node)?;
    }
    pre.reverse();

    let op = core.op_type.as_str();
    let classifier = op.ends_with("Classifier");
    let wanted_output = if classifier { 1 } else { 0 };
    if core_output != wanted_output {
        return Err(Refusal::NotNative(format!("the score is output {core_output} of {op}")));
    }
    let labels = if classifier { Some(class_labels(core)?) } else { None };
    let column = match (&labels, spec) {
        (Some(labels), spec) => check_class(op, labels, spec)?,
        (None, OutputSpec::Probability { .. }) => {
            return Err(Refusal::invalid(format!(
                "model is a regressor ({op}): it predicts a value, not class probabilities; \
                 set `output: value` (algo.model.output)"
            )))
        }
        (None, OutputSpec::Value) => 0,
    };
    let core = match op {
        "TreeEnsembleClassifier" => Core::Trees(Box::new(tree_classifier(
            core,
            labels.as_deref().unwrap_or(&[]),
            n_inputs,
        )?)),
        "TreeEnsembleRegressor" => Core::Trees(Box::new(tree_regressor(core, n_inputs)?)),
        "LinearClassifier" => Core::Linear(linear_classifier(
            core,
            labels.as_deref().unwrap_or(&[]),
            n_inputs,
            input,
        )?),
        _ => Core::Linear(linear_regressor(core, n_inputs, input)?),
    };
    Ok(NativePlan {
        core,
        pre,
        post,
        column,
        class_labels: labels,
    })
}

fn first_input(node: &NodeProto) -> Result<&str, Refusal> {
    node.input
        .first()
        .map(String::as_str)
        .ok_or_else(|| Refusal::NotNative(format!("`{}` has no input", node.op_type)))
}

fn check_class(op: &str, labels: &[String], spec: OutputSpec) -> Result<usize, Refusal> {
    let k = labels.len();
    match spec {
        OutputSpec::Value => Err(Refusal::invalid(format!(
            "model is a classifier ({op}, classes {}): its score is a class probability; \
             set `output: probability` and `class` (algo.model)",
            labels.join(", ")
        ))),
        OutputSpec::Probability { class } if class >= k => Err(Refusal::invalid(format!(
            "the use case asks for the probability of class {class} (algo.model.class) but the model has {k} classes \
             ({}), indices 0..{}; use a class index, e.g. 1 for the positive class of a binary model",
            labels.join(", "),
            k.saturating_sub(1)
        ))),
        OutputSpec::Probability { class } => Ok(class),
    }
}

/// Cast to float or double is a no-op for the native backends (they compute in f64).
fn float_cast(node: &NodeProto) -> Result<(), Refusal> {
    match int_attr(node, "to") {
        Some(t) if t == DataType::Float as i64 || t == DataType::Double as i64 => Ok(()),
        t => Err(Refusal::NotNative(format!(
            "Cast to {}",
            t.map(|t| type_name(t as i32)).unwrap_or_else(|| "?".into())
        ))),
    }
}

/// `x ∘ c` or `c ∘ x` with a scalar constant `c` (LightGBM exports multiply probabilities by 1).
fn scalar_op<'g>(
    graph: &'g GraphProto,
    producers: &HashMap<&str, &'g NodeProto>,
    node: &'g NodeProto,
) -> Result<(&'g str, PostOp), Refusal> {
    let [a, b] = &node.input[..] else {
        return Err(Refusal::NotNative(format!(
            "`{}` with {} inputs",
            node.op_type,
            node.input.len()
        )));
    };
    let (data, c, const_first) = match (
        scalar_constant(graph, producers, a),
        scalar_constant(graph, producers, b),
    ) {
        (None, Some(c)) => (a.as_str(), c, false),
        (Some(c), None) => (b.as_str(), c, true),
        _ => {
            return Err(Refusal::NotNative(format!(
                "`{}` whose operands are not one tensor and one scalar constant",
                node.op_type
            )))
        }
    };
    let op = match (node.op_type.as_str(), const_first) {
        ("Mul", _) => PostOp::Mul(c),
        ("Add", _) => PostOp::Add(c),
        ("Sub", false) => PostOp::Add(-c),
        ("Sub", true) => PostOp::SubFrom(c),
        ("Div", false) => PostOp::Div(c),
        _ => PostOp::DivInto(c),
    };
    Ok((data, op))
}

fn scalar_constant(graph: &GraphProto, producers: &HashMap<&str, &NodeProto>, name: &str) -> Option<f64> {
    let single = |v: Vec<f64>| if v.len() == 1 { Some(v[0]) } else { None };
    if let Some(t) = graph.initializer.iter().find(|t| t.name == name) {
        return tensor_f64(t).ok().and_then(single);
    }
    let node = producers.get(name)?;
    if node.op_type != "Constant" || !is_standard(node) {
        return None;
    }
    let a = attr(node, "value_float").or_else(|| attr(node, "value"))?;
    match &a.t {
        Some(t) => tensor_f64(t).ok().and_then(single),
        None => Some(a.f as f64),
    }
}
