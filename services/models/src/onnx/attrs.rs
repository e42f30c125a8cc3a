//! Reading node attributes and constant tensors, as the native backends need them.

use super::{type_name, Refusal};
use crate::transform::PostTransform;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{AttributeProto, NodeProto, TensorProto};

pub(super) fn attr<'n>(node: &'n NodeProto, name: &str) -> Option<&'n AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

pub(super) fn int_attr(node: &NodeProto, name: &str) -> Option<i64> {
    attr(node, name).map(|a| a.i)
}

pub(super) fn string_attr(node: &NodeProto, name: &str) -> Option<String> {
    attr(node, name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

pub(super) fn ints_attr(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    attr(node, name).map(|a| a.ints.clone())
}

pub(super) fn strings_attr(node: &NodeProto, name: &str) -> Option<Vec<String>> {
    attr(node, name).map(|a| {
        a.strings
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    })
}

/// A float list attribute, or its `<name>_as_tensor` form (ai.onnx.ml opset 3, e.g. double thresholds).
pub(super) fn floats_attr(node: &NodeProto, name: &str) -> Result<Option<Vec<f64>>, Refusal> {
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

pub(super) fn required<T>(node: &NodeProto, name: &str, v: Option<T>) -> Result<T, Refusal> {
    v.ok_or_else(|| {
        Refusal::invalid(format!(
            "{} is malformed: attribute `{name}` is missing; export the model again",
            node.op_type
        ))
    })
}

pub(super) fn tensor_f64(t: &TensorProto) -> Result<Vec<f64>, Refusal> {
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

pub(super) fn class_labels(node: &NodeProto) -> Result<Vec<String>, Refusal> {
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

pub(super) fn post_transform(node: &NodeProto) -> Result<PostTransform, Refusal> {
    let s = string_attr(node, "post_transform").unwrap_or_else(|| "NONE".into());
    PostTransform::parse(&s).ok_or_else(|| Refusal::NotNative(format!("post_transform {s}")))
}
