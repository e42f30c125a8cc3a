//! Extracting the native models from their ONNX-ML nodes: tree ensembles (classifier and
//! regressor) and linear models, with every attribute checked against the use case.

use super::attrs::{floats_attr, int_attr, ints_attr, post_transform, required, string_attr, strings_attr};
use super::signature::width_mismatch;
use super::Refusal;
use crate::linear::{Linear, LinearFinish};
use crate::transform::PostTransform;
use crate::trees::{parse_mode, Aggregate, Finish, TreeAttrs, TreeEnsemble};
use std::collections::BTreeSet;
use tract_onnx::pb::NodeProto;

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

pub(super) fn tree_classifier(node: &NodeProto, labels: &[String], n_inputs: usize) -> Result<TreeEnsemble, Refusal> {
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

pub(super) fn tree_regressor(node: &NodeProto, n_inputs: usize) -> Result<TreeEnsemble, Refusal> {
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

pub(super) fn linear_classifier(
    node: &NodeProto,
    labels: &[String],
    n_inputs: usize,
    input: &str,
) -> Result<Linear, Refusal> {
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

pub(super) fn linear_regressor(node: &NodeProto, n_inputs: usize, input: &str) -> Result<Linear, Refusal> {
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
