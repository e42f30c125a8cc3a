//! Reading the ONNX graph: load-time checks (input, output, ZipMap) and the plan of the native
//! backends, i.e. which tree-ensemble or linear op computes the score and which trivial ops
//! (Identity, Cast, Scaler, Normalizer, Mul by a constant, ...) surround it.

use crate::linear::{Linear, LinearFinish};
use crate::transform::{Norm, PostOp, PostTransform};
use crate::trees::{parse_mode, Aggregate, Finish, TreeAttrs, TreeEnsemble};
use crate::{ModelError, OutputSpec};
use std::collections::{BTreeSet, HashMap, HashSet};
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::dimension;
use tract_onnx::pb::type_proto;
use tract_onnx::pb::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};
use tract_onnx::prelude::Framework;

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

fn type_name(elem_type: i32) -> String {
    DataType::try_from(elem_type)
        .map(|t| format!("{t:?}").to_lowercase())
        .unwrap_or_else(|_| format!("type {elem_type}"))
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

fn width_mismatch(name: &str, width: usize, n_inputs: usize) -> ModelError {
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

fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn int_attr(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

fn string_attr(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

fn ints_attr(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

fn strings_attr(node: &NodeProto, name: &str) -> Option<Vec<String>> {
    attr(node, name).map(|a| {
        a.strings
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    })
}

/// A float list attribute, or its `<name>_as_tensor` form (ai.onnx.ml opset 3, e.g. double thresholds).
fn floats_attr(node: &NodeProto, name: &str) -> Result<Option<Vec<f64>>, Refusal> {
    if let Some(a) = attr(node, name) {
        if a.r#type == AttributeType::Tensor as i32 {
            return a.t.as_ref().map(tensor_f64).transpose();
        }
        return Ok(Some(a.floats.iter().map(|&f| f as f64).collect()));
    }
    match attr(node, &format!("{name}_as_tensor")) {
        Some(a) => match &a.t {
            Some(t) => tensor_f64(t).map(Some),
            None => Err(Refusal::NotNative(format!("`{name}_as_tensor` without a tensor"))),
        },
        None => Ok(None),
    }
}

fn required<T>(node: &NodeProto, name: &str, v: Option<T>) -> Result<T, Refusal> {
    v.ok_or_else(|| {
        Refusal::invalid(format!(
            "{} is malformed: attribute `{name}` is missing; export the model again",
            node.op_type
        ))
    })
}

fn tensor_f64(t: &TensorProto) -> Result<Vec<f64>, Refusal> {
    if t.data_location == Some(1) {
        return Err(Refusal::NotNative(format!(
            "tensor `{}` keeps its data in an external file",
            t.name
        )));
    }
    if t.data_type == DataType::Float as i32 {
        if !t.float_data.is_empty() {
            return Ok(t.float_data.iter().map(|&f| f as f64).collect());
        }
        return Ok(t
            .raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect());
    }
    if t.data_type == DataType::Double as i32 {
        if !t.double_data.is_empty() {
            return Ok(t.double_data.clone());
        }
        return Ok(t
            .raw_data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect());
    }
    Err(Refusal::NotNative(format!(
        "tensor `{}` holds {}, not float or double",
        t.name,
        type_name(t.data_type)
    )))
}

fn class_labels(node: &NodeProto) -> Result<Vec<String>, Refusal> {
    let ints = ints_attr(node, "classlabels_int64s").or_else(|| ints_attr(node, "classlabels_ints"));
    match (ints, strings_attr(node, "classlabels_strings")) {
        (Some(i), _) if !i.is_empty() => Ok(i.iter().map(|v| v.to_string()).collect()),
        (_, Some(s)) if !s.is_empty() => Ok(s),
        _ => Err(Refusal::invalid(format!(
            "{} is malformed: it lists no class labels; export the model again",
            node.op_type
        ))),
    }
}

fn post_transform(node: &NodeProto) -> Result<PostTransform, Refusal> {
    let s = string_attr(node, "post_transform").unwrap_or_else(|| "NONE".into());
    PostTransform::parse(&s).ok_or_else(|| Refusal::NotNative(format!("post_transform {s}")))
}

fn tree_attrs(node: &NodeProto, prefix: &str) -> Result<TreeAttrs, Refusal> {
    let ints = |name: &str| required(node, name, ints_attr(node, name));
    let modes = required(node, "nodes_modes", strings_attr(node, "nodes_modes"))?
        .iter()
        .map(|m| parse_mode(m).ok_or_else(|| Refusal::NotNative(format!("node mode {m}"))))
        .collect::<Result<_, _>>()?;
    Ok(TreeAttrs {
        tree_ids: ints("nodes_treeids")?,
        node_ids: ints("nodes_nodeids")?,
        feature_ids: ints("nodes_featureids")?,
        modes,
        values: required(node, "nodes_values", floats_attr(node, "nodes_values")?)?,
        true_ids: ints("nodes_truenodeids")?,
        false_ids: ints("nodes_falsenodeids")?,
        missing_tracks_true: ints_attr(node, "nodes_missing_value_tracks_true").unwrap_or_default(),
        weight_tree_ids: ints(&format!("{prefix}_treeids"))?,
        weight_node_ids: ints(&format!("{prefix}_nodeids"))?,
        weight_columns: ints(&format!("{prefix}_ids"))?,
        weights: required(node, "weights", floats_attr(node, &format!("{prefix}_weights"))?)?,
    })
}

fn tree_classifier(node: &NodeProto, labels: &[String], n_inputs: usize) -> Result<TreeEnsemble, Refusal> {
    let op = "TreeEnsembleClassifier";
    let attrs = tree_attrs(node, "class")?;
    let base = floats_attr(node, "base_values")?.unwrap_or_default();
    let transform = post_transform(node)?;
    let k = labels.len();
    if k < 2 {
        return Err(Refusal::NotNative(format!("{op} with {k} class label")));
    }
    let columns: BTreeSet<i64> = attrs.weight_columns.iter().copied().collect();
    let all_positive = attrs.weights.iter().all(|&w| w >= 0.0);
    let (n_columns, finish) = if k == 2 && columns.len() == 1 && columns.contains(&0) {
        // One weight column: the positive class's score (sklearn GBDT, LightGBM, XGBoost).
        let base = match base[..] {
            [] => 0.0,
            [b] => b,
            _ => {
                return Err(Refusal::NotNative(format!(
                    "binary {op} with one weight column and {} base_values",
                    base.len()
                )))
            }
        };
        let logistic = match transform {
            PostTransform::None => false,
            PostTransform::Logistic => true,
            t => {
                return Err(Refusal::NotNative(format!(
                    "binary {op} with one weight column and {t:?}"
                )))
            }
        };
        (
            1,
            Finish::BinarySingle {
                base,
                logistic,
                all_positive,
            },
        )
    } else {
        let base = match base.len() {
            0 => vec![0.0; k],
            n if n == k => base,
            // onnxruntime adds a single base value to class 0 of a binary model.
            1 if k == 2 => vec![base[0], 0.0],
            n => return Err(Refusal::NotNative(format!("{op} with {n} base_values for {k} classes"))),
        };
        (k, Finish::PerClass { base, transform })
    };
    TreeEnsemble::build(op, attrs, n_columns, n_inputs, finish)
}

fn tree_regressor(node: &NodeProto, n_inputs: usize) -> Result<TreeEnsemble, Refusal> {
    let op = "TreeEnsembleRegressor";
    single_target(op, int_attr(node, "n_targets").unwrap_or(1))?;
    let attrs = tree_attrs(node, "target")?;
    let aggregate_name = string_attr(node, "aggregate_function").unwrap_or_else(|| "SUM".into());
    let aggregate = Aggregate::parse(&aggregate_name)
        .ok_or_else(|| Refusal::NotNative(format!("aggregate_function {aggregate_name}")))?;
    let base = floats_attr(node, "base_values")?.unwrap_or_default();
    let origin = match base[..] {
        [] => 0.0,
        [b] => b,
        _ => {
            return Err(Refusal::NotNative(format!(
                "{op} with {} base_values for one target",
                base.len()
            )))
        }
    };
    let probit = regression_probit(op, post_transform(node)?)?;
    TreeEnsemble::build(
        op,
        attrs,
        1,
        n_inputs,
        Finish::Regression {
            aggregate,
            origin,
            probit,
        },
    )
}

fn single_target(op: &str, n: i64) -> Result<(), Refusal> {
    if n != 1 {
        return Err(Refusal::invalid(format!(
            "model is a {op} with {n} targets; a use-case score needs a model that predicts one value"
        )));
    }
    Ok(())
}

/// onnxruntime applies only PROBIT to a single regression target; anything else is ambiguous.
fn regression_probit(op: &str, t: PostTransform) -> Result<bool, Refusal> {
    match t {
        PostTransform::None => Ok(false),
        PostTransform::Probit => Ok(true),
        t => Err(Refusal::NotNative(format!("{op} with post_transform {t:?}"))),
    }
}

/// Coefficients are `rows × n_inputs`; a different multiple means the model has another width.
fn check_coefficients(
    node: &NodeProto,
    coefficients: usize,
    rows: usize,
    n_inputs: usize,
    input: &str,
) -> Result<(), Refusal> {
    if rows == 0 || coefficients == rows * n_inputs {
        return Ok(());
    }
    if coefficients.is_multiple_of(rows) {
        return Err(Refusal::Refuse(width_mismatch(input, coefficients / rows, n_inputs)));
    }
    Err(Refusal::invalid(format!(
        "{} is malformed: {coefficients} coefficients for {rows} outputs; export the model again",
        node.op_type
    )))
}

fn linear_classifier(node: &NodeProto, labels: &[String], n_inputs: usize, input: &str) -> Result<Linear, Refusal> {
    let op = "LinearClassifier";
    let coefficients = required(node, "coefficients", floats_attr(node, "coefficients")?)?;
    let intercepts = floats_attr(node, "intercepts")?.unwrap_or_default();
    let rows = intercepts.len();
    if rows == 0 {
        return Err(Refusal::NotNative(format!("{op} without intercepts")));
    }
    check_coefficients(node, coefficients.len(), rows, n_inputs, input)?;
    let transform = post_transform(node)?;
    let finish = match (rows, labels.len()) {
        (r, k) if r >= 2 && r == k => LinearFinish::PerClass(transform),
        (1, 2) => match transform {
            PostTransform::None => LinearFinish::BinarySingle { logistic: false },
            PostTransform::Logistic => LinearFinish::BinarySingle { logistic: true },
            t => {
                return Err(Refusal::NotNative(format!(
                    "binary {op} with one coefficient row and {t:?}"
                )))
            }
        },
        (r, k) => {
            return Err(Refusal::NotNative(format!(
                "{op} with {r} coefficient rows for {k} classes"
            )))
        }
    };
    Ok(Linear::new(coefficients, intercepts, n_inputs, finish))
}

fn linear_regressor(node: &NodeProto, n_inputs: usize, input: &str) -> Result<Linear, Refusal> {
    let op = "LinearRegressor";
    single_target(op, int_attr(node, "targets").unwrap_or(1))?;
    let coefficients = required(node, "coefficients", floats_attr(node, "coefficients")?)?;
    let intercepts = match floats_attr(node, "intercepts")?.unwrap_or_default() {
        v if v.is_empty() => vec![0.0],
        v if v.len() == 1 => v,
        v => {
            return Err(Refusal::invalid(format!(
                "{op} is malformed: {} intercepts for one target",
                v.len()
            )))
        }
    };
    check_coefficients(node, coefficients.len(), 1, n_inputs, input)?;
    let probit = regression_probit(op, post_transform(node)?)?;
    Ok(Linear::new(
        coefficients,
        intercepts,
        n_inputs,
        LinearFinish::Regression { probit },
    ))
}
