//! The tract-onnx backend for graphs the native backends do not understand.
//!
//! The graph is pruned to the score output (label branches often use ops tract lacks, e.g.
//! ArrayFeatureExtractor), typed for one row, optimised and planned once at load. Each call only
//! builds the input tensor; run states are pooled so a call does not re-allocate the plan's state.

use crate::onnx::Refusal;
use crate::{ModelError, OutputSpec};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tract_onnx::pb::{GraphProto, ModelProto};
use tract_onnx::prelude::*;

type Plan = Arc<TypedSimplePlan>;

pub(crate) struct TractModel {
    plan: Plan,
    shape: Vec<usize>,
    column: usize,
    states: Mutex<Vec<TypedSimpleState>>,
}

impl TractModel {
    /// Loads the graph for rows of `n_inputs` values. `NotNative` holds tract's reason for failing,
    /// `Refuse` an output that does not fit the `OutputSpec`.
    pub(crate) fn load(
        proto: &ModelProto,
        output: &str,
        n_inputs: usize,
        rank1: bool,
        spec: OutputSpec,
    ) -> Result<TractModel, Refusal> {
        let mut proto = proto.clone();
        if let Some(graph) = proto.graph.as_mut() {
            prune(graph, output);
            widen_binary_base_values(graph);
        }
        let shape = if rank1 { vec![n_inputs] } else { vec![1, n_inputs] };
        let plan = (|| -> TractResult<Plan> {
            tract_onnx::onnx()
                .model_for_proto_model(&proto)?
                .with_input_fact(0, InferenceFact::dt_shape(f32::datum_type(), &shape[..]))?
                .into_optimized()?
                .into_runnable()
        })()
        .map_err(|e| Refusal::NotNative(format!("{e:#}")))?;
        let mut model = TractModel {
            plan,
            shape,
            column: 0,
            states: Mutex::new(Vec::new()),
        };
        let columns = model
            .run(&vec![0.0; n_inputs])
            .map_err(|e| Refusal::NotNative(e.to_string()))?
            .len();
        model.column = match spec {
            OutputSpec::Probability { class } if class < columns && columns >= 2 => class,
            OutputSpec::Probability { class } => {
                return Err(Refusal::invalid(format!(
                    "the use case asks for the probability of class {class} (algo.model.class) but model output \
                     `{output}` has {columns} column(s) per row; use a class index below {columns}{}",
                    if columns == 1 {
                        ", or `output: value` for a single score"
                    } else {
                        ""
                    }
                )))
            }
            OutputSpec::Value if columns == 1 => 0,
            OutputSpec::Value => {
                return Err(Refusal::invalid(format!(
                    "model output `{output}` has {columns} columns per row (class probabilities?) but the use case \
                     asks for a single value (algo.model.output: value); set `output: probability` and `class`"
                )))
            }
        };
        Ok(model)
    }

    pub(crate) fn predict(&self, row: &[f32]) -> Result<f64, ModelError> {
        let out = self.run(row)?;
        out.get(self.column)
            .copied()
            .ok_or_else(|| ModelError::Eval(format!("output has no column {}", self.column)))
    }

    /// Runs one row and returns the first output's values as f64.
    fn run(&self, row: &[f32]) -> Result<Vec<f64>, ModelError> {
        let eval = |e: TractError| ModelError::Eval(format!("{e:#}"));
        let input = Tensor::from_shape(&self.shape, row).map_err(eval)?;
        let pooled = self.states.lock().ok().and_then(|mut s| s.pop());
        let mut state = match pooled {
            Some(s) => s,
            None => self.plan.spawn().map_err(eval)?,
        };
        let outputs = state.run(tvec!(input.into_tvalue())).map_err(eval)?;
        if let Ok(mut states) = self.states.lock() {
            states.push(state);
        }
        let first = outputs
            .first()
            .ok_or_else(|| ModelError::Eval("the model produced no output".into()))?;
        let values = first.cast_to::<f64>().map_err(eval)?;
        let values = values
            .try_as_plain_ram()
            .map_err(eval)?
            .as_slice::<f64>()
            .map_err(eval)?
            .to_vec();
        Ok(values)
    }
}

/// Keeps only the nodes the score output needs, so unrelated branches cannot fail the load.
/// Graphs with sub-graphs (If, Loop) are left whole: their inner nodes read outer names.
fn prune(graph: &mut GraphProto, output: &str) {
    graph.output.retain(|o| o.name == output);
    if graph
        .node
        .iter()
        .any(|n| n.attribute.iter().any(|a| a.g.is_some() || !a.graphs.is_empty()))
    {
        return;
    }
    let mut needed: HashSet<String> = HashSet::from([output.to_string()]);
    let mut keep = vec![false; graph.node.len()];
    for (i, node) in graph.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(node.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let mut keep = keep.into_iter();
    graph.node.retain(|_| keep.next().unwrap_or(true));
}

/// tract wants one base value per class; sklearn GBDT and XGBoost write one for a binary model,
/// which onnxruntime adds to class 0. Writing `[b, 0]` means the same to tract.
fn widen_binary_base_values(graph: &mut GraphProto) {
    for node in graph.node.iter_mut().filter(|n| n.op_type == "TreeEnsembleClassifier") {
        let two_classes = node.attribute.iter().any(|a| {
            (a.name == "classlabels_int64s" && a.ints.len() == 2)
                || (a.name == "classlabels_strings" && a.strings.len() == 2)
        });
        if let Some(base) = node.attribute.iter_mut().find(|a| a.name == "base_values") {
            if two_classes && base.floats.len() == 1 {
                base.floats.push(0.0);
            }
        }
    }
}
