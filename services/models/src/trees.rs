//! Native evaluation of ONNX-ML tree ensembles from flat arrays.
//!
//! Nodes are renumbered depth-first per tree (true child right after its parent) and stored as
//! struct-of-arrays, so a row walks a few cache lines per tree and allocates nothing on the heap:
//! the score vector lives on the stack. Semantics follow onnxruntime (see `Finish` for the few
//! places where onnxruntime's output is not meaningful and we do what the exporter meant).

use crate::onnx::Refusal;
use crate::transform::{logistic, probit, PostTransform};
use crate::Scores;
use smallvec::smallvec;
use std::collections::HashMap;

const LEAF: u8 = 0;
const LEQ: u8 = 1;
const LT: u8 = 2;
const GTE: u8 = 3;
const GT: u8 = 4;
const EQ: u8 = 5;
const NEQ: u8 = 6;
/// Set on a branch mode when a NaN input follows the true child (`nodes_missing_value_tracks_true`).
const NAN_TRUE: u8 = 0x80;
const LEQ_NAN: u8 = LEQ | NAN_TRUE;
const LT_NAN: u8 = LT | NAN_TRUE;
const GTE_NAN: u8 = GTE | NAN_TRUE;
const GT_NAN: u8 = GT | NAN_TRUE;
const EQ_NAN: u8 = EQ | NAN_TRUE;

/// Parses an ONNX-ML node mode.
pub(crate) fn parse_mode(s: &str) -> Option<u8> {
    Some(match s {
        "LEAF" => LEAF,
        "BRANCH_LEQ" => LEQ,
        "BRANCH_LT" => LT,
        "BRANCH_GTE" => GTE,
        "BRANCH_GT" => GT,
        "BRANCH_EQ" => EQ,
        "BRANCH_NEQ" => NEQ,
        _ => return None,
    })
}

/// How regressors combine the leaves of all trees (`aggregate_function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

impl Aggregate {
    pub(crate) fn parse(s: &str) -> Option<Aggregate> {
        Some(match s {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            _ => return None,
        })
    }
}

/// Turns the summed leaf weights into the output vector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Finish {
    /// Binary classifier whose leaves carry one weight column, the positive class's score
    /// (sklearn GradientBoosting, LightGBM, XGBoost). Output `[negative, positive]`: with
    /// LOGISTIC `[σ(-s), σ(s)]`; with NONE `[1-s, s]` when every weight is ≥ 0 (probabilities,
    /// as onnxruntime) and `[-s, s]` otherwise. (onnxruntime skips LOGISTIC when every weight is
    /// positive, which is never what the exporter meant; we always apply it.)
    BinarySingle {
        base: f64,
        logistic: bool,
        all_positive: bool,
    },
    /// One column per class (RandomForest, multi-class boosting): `s[k] + base[k]`, then the transform.
    PerClass { base: Vec<f64>, transform: PostTransform },
    /// Single-target regressor.
    Regression {
        aggregate: Aggregate,
        origin: f64,
        probit: bool,
    },
}

/// The attributes of a TreeEnsembleClassifier/Regressor, read from the graph.
pub(crate) struct TreeAttrs {
    pub tree_ids: Vec<i64>,
    pub node_ids: Vec<i64>,
    pub feature_ids: Vec<i64>,
    pub modes: Vec<u8>,
    pub values: Vec<f64>,
    pub true_ids: Vec<i64>,
    pub false_ids: Vec<i64>,
    pub missing_tracks_true: Vec<i64>,
    pub weight_tree_ids: Vec<i64>,
    pub weight_node_ids: Vec<i64>,
    pub weight_columns: Vec<i64>,
    pub weights: Vec<f64>,
}

/// A tree ensemble in flat arrays, indexed by node.
#[derive(Debug)]
pub(crate) struct TreeEnsemble {
    feature: Vec<u32>,
    threshold: Vec<f64>,
    mode: Vec<u8>,
    true_child: Vec<u32>,
    false_child: Vec<u32>,
    leaf_start: Vec<u32>,
    leaf_len: Vec<u32>,
    roots: Vec<u32>,
    weight_column: Vec<u32>,
    weight_value: Vec<f64>,
    n_columns: usize,
    finish: Finish,
}

impl TreeEnsemble {
    /// Validates and flattens the attributes. `n_columns` is the number of weight columns
    /// (classes, or 1 for a single-column binary classifier or a regressor).
    pub(crate) fn build(
        op: &str,
        a: TreeAttrs,
        n_columns: usize,
        n_inputs: usize,
        finish: Finish,
    ) -> Result<TreeEnsemble, Refusal> {
        let n = a.node_ids.len();
        let invalid = |what: String| Refusal::invalid(format!("{op} is malformed: {what}; export the model again"));
        for (name, len) in [
            ("nodes_treeids", a.tree_ids.len()),
            ("nodes_featureids", a.feature_ids.len()),
            ("nodes_modes", a.modes.len()),
            ("nodes_values", a.values.len()),
            ("nodes_truenodeids", a.true_ids.len()),
            ("nodes_falsenodeids", a.false_ids.len()),
        ] {
            if len != n {
                return Err(invalid(format!("{name} has {len} entries, nodes_nodeids {n}")));
            }
        }
        let m = a.weights.len();
        for (name, len) in [
            ("treeids", a.weight_tree_ids.len()),
            ("nodeids", a.weight_node_ids.len()),
            ("ids", a.weight_columns.len()),
        ] {
            if len != m {
                return Err(invalid(format!("leaf {name} has {len} entries, leaf weights {m}")));
            }
        }
        if n == 0 || m == 0 {
            return Err(invalid("no nodes or no leaf weights".into()));
        }
        if n >= u32::MAX as usize || m >= u32::MAX as usize {
            return Err(Refusal::NotNative(format!("{op} has too many nodes ({n})")));
        }

        // (tree, node) -> position in the attribute arrays; roots are each tree's first node.
        let mut index: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
        let mut roots = Vec::new();
        let mut seen_trees: HashMap<i64, ()> = HashMap::new();
        for i in 0..n {
            if index.insert((a.tree_ids[i], a.node_ids[i]), i).is_some() {
                return Err(invalid(format!(
                    "node {} of tree {} is listed twice",
                    a.node_ids[i], a.tree_ids[i]
                )));
            }
            if seen_trees.insert(a.tree_ids[i], ()).is_none() {
                roots.push(i);
            }
            if a.modes[i] & !NAN_TRUE != LEAF {
                let f = a.feature_ids[i];
                if f < 0 || f as usize >= n_inputs {
                    return Err(Refusal::invalid(format!(
                        "the model reads input column {f} (0-based) but the use case maps {n_inputs} features \
                         (algo.model.inputs); list one feature per model input column, in the model's order"
                    )));
                }
                if a.values[i].is_nan() {
                    return Err(invalid(format!(
                        "node {} of tree {} has a NaN threshold",
                        a.node_ids[i], a.tree_ids[i]
                    )));
                }
            }
        }
        let child = |i: usize, id: i64, side: &str| {
            index.get(&(a.tree_ids[i], id)).copied().ok_or_else(|| {
                invalid(format!(
                    "node {} of tree {} has {side} child {id}, which does not exist",
                    a.node_ids[i], a.tree_ids[i]
                ))
            })
        };

        // Leaf weights per node.
        let mut leaf_weights: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
        for j in 0..m {
            let Some(&i) = index.get(&(a.weight_tree_ids[j], a.weight_node_ids[j])) else {
                return Err(invalid(format!(
                    "a leaf weight refers to node {} of tree {}, which does not exist",
                    a.weight_node_ids[j], a.weight_tree_ids[j]
                )));
            };
            let c = a.weight_columns[j];
            if c < 0 || c as usize >= n_columns {
                return Err(invalid(format!(
                    "a leaf weight is for class/target {c}, the model has {n_columns}"
                )));
            }
            leaf_weights[i].push((c as u32, a.weights[j]));
        }

        // Depth-first renumbering; a node met again while still on the path is a cycle.
        const NEW: u8 = 0;
        const ON_PATH: u8 = 1;
        const DONE: u8 = 2;
        let mut state = vec![NEW; n];
        let mut new_index = vec![u32::MAX; n];
        let mut order = Vec::with_capacity(n);
        let mut stack: Vec<(usize, bool)> = Vec::new();
        for &root in &roots {
            stack.push((root, false));
            while let Some((i, finished)) = stack.pop() {
                if finished {
                    state[i] = DONE;
                    continue;
                }
                match state[i] {
                    DONE => continue,
                    ON_PATH => {
                        return Err(invalid(format!(
                            "tree {} has a cycle through node {}",
                            a.tree_ids[i], a.node_ids[i]
                        )))
                    }
                    _ => {}
                }
                state[i] = ON_PATH;
                new_index[i] = order.len() as u32;
                order.push(i);
                stack.push((i, true));
                if a.modes[i] & !NAN_TRUE != LEAF {
                    let t = child(i, a.true_ids[i], "true")?;
                    let f = child(i, a.false_ids[i], "false")?;
                    for c in [f, t] {
                        match state[c] {
                            ON_PATH => {
                                return Err(invalid(format!(
                                    "tree {} has a cycle through node {}",
                                    a.tree_ids[i], a.node_ids[c]
                                )))
                            }
                            NEW => stack.push((c, false)),
                            _ => {}
                        }
                    }
                }
            }
        }

        let len = order.len();
        let mut e = TreeEnsemble {
            feature: Vec::with_capacity(len),
            threshold: Vec::with_capacity(len),
            mode: Vec::with_capacity(len),
            true_child: Vec::with_capacity(len),
            false_child: Vec::with_capacity(len),
            leaf_start: Vec::with_capacity(len),
            leaf_len: Vec::with_capacity(len),
            roots: roots.iter().map(|&r| new_index[r]).collect(),
            weight_column: Vec::with_capacity(m),
            weight_value: Vec::with_capacity(m),
            n_columns,
            finish,
        };
        for &i in &order {
            let mode = a.modes[i];
            let leaf = mode & !NAN_TRUE == LEAF;
            let tracks_true = a.missing_tracks_true.get(i).is_some_and(|&v| v == 1);
            e.mode.push(if leaf {
                LEAF
            } else if tracks_true {
                mode | NAN_TRUE
            } else {
                mode
            });
            e.threshold.push(a.values[i]);
            if leaf {
                e.feature.push(0);
                e.true_child.push(0);
                e.false_child.push(0);
                e.leaf_start.push(e.weight_value.len() as u32);
                e.leaf_len.push(leaf_weights[i].len() as u32);
                for &(c, w) in &leaf_weights[i] {
                    e.weight_column.push(c);
                    e.weight_value.push(w);
                }
            } else {
                // Children exist: checked during the walk above.
                e.feature.push(a.feature_ids[i] as u32);
                e.true_child.push(new_index[child(i, a.true_ids[i], "true")?]);
                e.false_child.push(new_index[child(i, a.false_ids[i], "false")?]);
                e.leaf_start.push(0);
                e.leaf_len.push(0);
            }
        }
        Ok(e)
    }

    /// Walks one tree to its leaf.
    #[inline]
    fn leaf(&self, root: u32, row: &[f32]) -> usize {
        let mut i = root as usize;
        loop {
            let mode = self.mode[i];
            if mode == LEAF {
                return i;
            }
            let x = row[self.feature[i] as usize] as f64;
            let t = self.threshold[i];
            let go_true = match mode {
                LEQ => x <= t,
                LT => x < t,
                GTE => x >= t,
                GT => x > t,
                EQ => x == t,
                NEQ => x != t,
                LEQ_NAN => x <= t || x.is_nan(),
                LT_NAN => x < t || x.is_nan(),
                GTE_NAN => x >= t || x.is_nan(),
                GT_NAN => x > t || x.is_nan(),
                EQ_NAN => x == t || x.is_nan(),
                // NEQ, with or without NAN_TRUE: NaN != t holds anyway
                _ => x != t,
            };
            i = if go_true {
                self.true_child[i]
            } else {
                self.false_child[i]
            } as usize;
        }
    }

    #[inline]
    fn weights(&self, leaf: usize) -> std::ops::Range<usize> {
        let start = self.leaf_start[leaf] as usize;
        start..start + self.leaf_len[leaf] as usize
    }

    /// The output vector for one row (`row.len()` is the model's input width, checked by the caller).
    pub(crate) fn scores(&self, row: &[f32]) -> Scores {
        match &self.finish {
            Finish::Regression {
                aggregate,
                origin,
                probit: use_probit,
            } => {
                let mut acc: Option<f64> = None;
                for &root in &self.roots {
                    let leaf = self.leaf(root, row);
                    for w in self.weights(leaf) {
                        let v = self.weight_value[w];
                        acc = Some(match (acc, aggregate) {
                            (None, _) => v,
                            (Some(a), Aggregate::Sum | Aggregate::Average) => a + v,
                            (Some(a), Aggregate::Min) => a.min(v),
                            (Some(a), Aggregate::Max) => a.max(v),
                        });
                    }
                }
                let mut s = acc.unwrap_or(0.0);
                if *aggregate == Aggregate::Average {
                    s /= self.roots.len() as f64;
                }
                s += origin;
                smallvec![if *use_probit { probit(s) } else { s }]
            }
            Finish::BinarySingle {
                base,
                logistic: use_logistic,
                all_positive,
            } => {
                let mut s = *base;
                for &root in &self.roots {
                    let leaf = self.leaf(root, row);
                    for w in self.weights(leaf) {
                        s += self.weight_value[w];
                    }
                }
                if *use_logistic {
                    smallvec![logistic(-s), logistic(s)]
                } else if *all_positive {
                    smallvec![1.0 - s, s]
                } else {
                    smallvec![-s, s]
                }
            }
            Finish::PerClass { base, transform } => {
                let mut s: Scores = smallvec![0.0; self.n_columns];
                for &root in &self.roots {
                    let leaf = self.leaf(root, row);
                    for w in self.weights(leaf) {
                        s[self.weight_column[w] as usize] += self.weight_value[w];
                    }
                }
                for (x, b) in s.iter_mut().zip(base) {
                    *x += b;
                }
                transform.apply(&mut s);
                s
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two stumps on a 2-column input:
    /// tree 0: x0 <= 1.0 ? 1.0 : 3.0 (NaN -> true); tree 1: x1 < 0.5 ? -1.0 : 2.0 (NaN -> false).
    fn stumps(mode1: &str) -> TreeAttrs {
        let m = |s| parse_mode(s).expect("mode");
        TreeAttrs {
            tree_ids: vec![0, 0, 0, 1, 1, 1],
            node_ids: vec![0, 1, 2, 0, 1, 2],
            feature_ids: vec![0, 0, 0, 1, 0, 0],
            modes: vec![m("BRANCH_LEQ"), m("LEAF"), m("LEAF"), m(mode1), m("LEAF"), m("LEAF")],
            values: vec![1.0, 0.0, 0.0, 0.5, 0.0, 0.0],
            true_ids: vec![1, 0, 0, 1, 0, 0],
            false_ids: vec![2, 0, 0, 2, 0, 0],
            missing_tracks_true: vec![1, 0, 0, 0, 0, 0],
            weight_tree_ids: vec![0, 0, 1, 1],
            weight_node_ids: vec![1, 2, 1, 2],
            weight_columns: vec![0, 0, 0, 0],
            weights: vec![1.0, 3.0, -1.0, 2.0],
        }
    }

    fn regressor(aggregate: Aggregate, mode1: &str) -> TreeEnsemble {
        let finish = Finish::Regression {
            aggregate,
            origin: 0.5,
            probit: false,
        };
        TreeEnsemble::build("TreeEnsembleRegressor", stumps(mode1), 1, 2, finish).expect("valid")
    }

    #[test]
    fn aggregates() {
        let row = [0.0, 1.0]; // tree 0 -> 1.0, tree 1 -> 2.0
        assert_eq!(regressor(Aggregate::Sum, "BRANCH_LT").scores(&row)[0], 3.5);
        assert_eq!(regressor(Aggregate::Average, "BRANCH_LT").scores(&row)[0], 2.0);
        assert_eq!(regressor(Aggregate::Min, "BRANCH_LT").scores(&row)[0], 1.5);
        assert_eq!(regressor(Aggregate::Max, "BRANCH_LT").scores(&row)[0], 2.5);
    }

    #[test]
    fn modes_and_missing_values() {
        let sum = |mode: &str, row: [f32; 2]| regressor(Aggregate::Sum, mode).scores(&row)[0] - 0.5;
        // tree 0: NaN tracks true -> 1.0; tree 1: NaN never satisfies the comparison -> false child 2.0
        assert_eq!(sum("BRANCH_LT", [f32::NAN, f32::NAN]), 3.0);
        assert_eq!(sum("BRANCH_LT", [2.0, 0.5]), 5.0);
        assert_eq!(sum("BRANCH_LEQ", [2.0, 0.5]), 2.0);
        assert_eq!(sum("BRANCH_GT", [2.0, 0.5]), 5.0);
        assert_eq!(sum("BRANCH_GTE", [2.0, 0.5]), 2.0);
        assert_eq!(sum("BRANCH_EQ", [2.0, 0.5]), 2.0);
        assert_eq!(sum("BRANCH_EQ", [2.0, 0.6]), 5.0);
        assert_eq!(sum("BRANCH_NEQ", [2.0, 0.6]), 2.0);
        // NaN != t is true, as in onnxruntime
        assert_eq!(sum("BRANCH_NEQ", [1.0, f32::NAN]), 0.0);
    }

    #[test]
    fn binary_single_column() {
        let finish = Finish::BinarySingle {
            base: -0.5,
            logistic: true,
            all_positive: false,
        };
        let e = TreeEnsemble::build("TreeEnsembleClassifier", stumps("BRANCH_LT"), 1, 2, finish).expect("valid");
        let s = e.scores(&[0.0, 0.0]); // 1.0 - 1.0 - 0.5
        assert!((s[1] - logistic(-0.5)).abs() < 1e-15);
        assert!((s[0] + s[1] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn refuses_bad_structure() {
        let mut a = stumps("BRANCH_LT");
        a.true_ids[0] = 7;
        let finish = Finish::Regression {
            aggregate: Aggregate::Sum,
            origin: 0.0,
            probit: false,
        };
        let err = TreeEnsemble::build("T", a, 1, 2, finish.clone()).expect_err("missing child");
        assert!(format!("{err:?}").contains("does not exist"), "{err:?}");

        let mut a = stumps("BRANCH_LT");
        a.true_ids[0] = 0; // points to itself
        let err = TreeEnsemble::build("T", a, 1, 2, finish.clone()).expect_err("cycle");
        assert!(format!("{err:?}").contains("cycle"), "{err:?}");

        let err = TreeEnsemble::build("T", stumps("BRANCH_LT"), 1, 1, finish).expect_err("column 1 of 1");
        assert!(format!("{err:?}").contains("input column 1"), "{err:?}");
    }
}
