//! Item-to-item product recommendations (the distributor use case): "purchase probability per
//! product of the assortment" from what a customer recently bought and viewed.
//!
//! The model is an artifact written by `revenue-engine train-recommender`: for every product the
//! top-k products bought by the same customers with the conditional probability `P(j | i)`, plus
//! each product's popularity. Scoring is pure and allocation-free per call (a reused
//! [`RecommendScratch`]), so offline evaluation and the live engine run exactly this code.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The only artifact format this build reads and writes.
pub const ARTIFACT_FORMAT: u32 = 1;
/// The only model kind this build knows.
pub const ARTIFACT_KIND: &str = "item-cooccurrence";

/// The artifact as stored (JSON), written by `train-recommender`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommenderArtifact {
    /// [`ARTIFACT_FORMAT`].
    pub format: u32,
    /// [`ARTIFACT_KIND`].
    pub kind: String,
    pub trained: TrainingInfo,
    /// Product ids; a product's position is its index everywhere else in the artifact.
    pub items: Vec<String>,
    /// Per item: the share of (training) customers who bought it, in `0..=1`.
    pub popularity: Vec<f64>,
    /// Per item: at most `top_k` neighbours `(item index, P(j | i))`, best first.
    pub neighbours: Vec<Vec<(u32, f64)>>,
}

/// How and from what an artifact was trained; informational, scoring does not read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// File name of the events the model was trained on.
    pub events_file: String,
    /// The event `type` counted as a purchase.
    pub purchase_type: String,
    /// The event field holding the product id.
    pub item_field: String,
    /// Customers with at least one purchase in the training data.
    pub customers: u64,
    /// Purchase events in the training data.
    pub purchases: u64,
    /// Time range (epoch ms) of the training purchases; `None` when there were none.
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Training used only purchases before this time (epoch ms); `None`: every purchase.
    pub cutoff_ts: Option<i64>,
    pub top_k: u32,
    /// Added to a product's buyer count in `P(j | i) = co(i, j) / (buyers(i) + shrinkage)`,
    /// so products with few buyers do not get confident neighbours.
    pub shrinkage: f64,
    /// Co-occurrences below this many customers are dropped as noise.
    pub min_support: u32,
    /// The held-out evaluation run before this model was trained, if any.
    pub evaluation: Option<HoldoutEvaluation>,
}

/// Hit-rate@k on a held-out time split: the model trained on the purchases before `cutoff_ts`,
/// tested on the products each customer first bought after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldoutEvaluation {
    pub cutoff_ts: i64,
    /// Share of the purchase time range held out.
    pub test_share: f64,
    pub k: u32,
    /// Customers with a purchase before the cutoff and a new product after it.
    pub customers: u64,
    pub recommender_hit_rate: f64,
    pub popularity_hit_rate: f64,
}

/// Why an artifact was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecommenderError {
    #[error(
        "recommender artifact is not valid JSON (line {line}, column {column}): {message}; \
         write it with `revenue-engine train-recommender`"
    )]
    NotJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "recommender artifact does not have the expected structure (line {line}, column {column}): {message}; \
         retrain it with `revenue-engine train-recommender`"
    )]
    Structure {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "recommender artifact format {found} is not supported (this build reads format {ARTIFACT_FORMAT}); \
         retrain it with this version's `revenue-engine train-recommender`"
    )]
    UnsupportedFormat { found: String },
    #[error("recommender artifact kind `{found}` is not supported (expected `{ARTIFACT_KIND}`)")]
    UnknownKind { found: String },
    #[error(
        "recommender artifact lists {items} items but {what} has {found} entries; the lists must be parallel \
         (one entry per item)"
    )]
    LengthMismatch {
        what: &'static str,
        items: usize,
        found: usize,
    },
    #[error("recommender artifact item {index} has an empty product id")]
    EmptyItem { index: usize },
    #[error("recommender artifact lists item `{item}` twice (at {first} and {second}); item ids must be unique")]
    DuplicateItem { item: String, first: usize, second: usize },
    #[error(
        "recommender artifact item `{item}` has neighbour index {neighbour}, but there are only {items} items \
         (valid indexes 0..{items})"
    )]
    NeighbourOutOfRange { item: String, neighbour: u32, items: usize },
    #[error("recommender artifact item `{item}` lists itself as a neighbour")]
    SelfNeighbour { item: String },
    #[error(
        "recommender artifact item `{item}` has {what} {value}, which is not a probability; \
         expected a number in 0..=1"
    )]
    NotAProbability {
        item: String,
        what: &'static str,
        value: f64,
    },
    #[error("recommender artifact has {items} items; at most {max} are supported")]
    TooManyItems { items: usize, max: u32 },
}

/// A loaded, checked artifact ready for scoring.
#[derive(Debug, Clone)]
pub struct Recommender {
    items: Vec<String>,
    index: FxHashMap<String, u32>,
    popularity: Vec<f64>,
    /// Item `i`'s neighbours are `neighbour_items[offsets[i]..offsets[i + 1]]` (flat, one
    /// allocation instead of one per item).
    offsets: Vec<u32>,
    neighbour_items: Vec<u32>,
    neighbour_probabilities: Vec<f64>,
    /// Every item, most popular first (ties by index): the fill for short recommendation lists.
    by_popularity: Vec<u32>,
}

/// Reused between calls so scoring allocates nothing per event (after the first call).
#[derive(Debug, Default)]
pub struct RecommendScratch {
    /// Per item: the history weight of the item (deduplicated history); 0 when absent.
    history_weight: Vec<f64>,
    history: Vec<u32>,
    /// Per item: Π (1 − w·P(j | i)) over the history, 1.0 when untouched.
    miss: Vec<f64>,
    /// Per item: reached by the history in this call; `touched` lists them.
    reached: Vec<bool>,
    touched: Vec<u32>,
    /// Per item: already in the output (for the popularity fill).
    chosen: Vec<bool>,
}

impl RecommendScratch {
    fn prepare(&mut self, items: usize) {
        if self.miss.len() != items {
            self.history_weight.clear();
            self.history_weight.resize(items, 0.0);
            self.miss.clear();
            self.miss.resize(items, 1.0);
            self.reached.clear();
            self.reached.resize(items, false);
            self.chosen.clear();
            self.chosen.resize(items, false);
            self.history.clear();
            self.touched.clear();
        }
    }
}

/// Only the keys that decide whether the rest can be read at all.
#[derive(Deserialize)]
struct Header {
    format: Option<serde_json::Value>,
    kind: Option<serde_json::Value>,
}

impl Recommender {
    /// Parses and checks an artifact.
    pub fn from_json(bytes: &[u8]) -> Result<Recommender, RecommenderError> {
        // format and kind first: a newer artifact gets "unsupported format", not "unknown field"
        let header: Header = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        match &header.format {
            Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(ARTIFACT_FORMAT)) => {}
            Some(other) => {
                return Err(RecommenderError::UnsupportedFormat {
                    found: other.to_string(),
                })
            }
            None => {
                return Err(RecommenderError::UnsupportedFormat {
                    found: "(missing)".into(),
                })
            }
        }
        if let Some(serde_json::Value::String(kind)) = &header.kind {
            if kind != ARTIFACT_KIND {
                return Err(RecommenderError::UnknownKind { found: kind.clone() });
            }
        }
        let artifact: RecommenderArtifact = serde_json::from_slice(bytes).map_err(|e| json_error(&e))?;
        Recommender::from_artifact(artifact)
    }

    /// Checks an artifact and compiles it for scoring.
    pub fn from_artifact(a: RecommenderArtifact) -> Result<Recommender, RecommenderError> {
        if a.format != ARTIFACT_FORMAT {
            return Err(RecommenderError::UnsupportedFormat {
                found: a.format.to_string(),
            });
        }
        if a.kind != ARTIFACT_KIND {
            return Err(RecommenderError::UnknownKind { found: a.kind });
        }
        let n = a.items.len();
        if u32::try_from(n).is_err() {
            return Err(RecommenderError::TooManyItems {
                items: n,
                max: u32::MAX,
            });
        }
        for (what, found) in [("popularity", a.popularity.len()), ("neighbours", a.neighbours.len())] {
            if found != n {
                return Err(RecommenderError::LengthMismatch { what, items: n, found });
            }
        }
        let mut index = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for (i, item) in a.items.iter().enumerate() {
            if item.is_empty() {
                return Err(RecommenderError::EmptyItem { index: i });
            }
            if let Some(first) = index.insert(item.clone(), i as u32) {
                return Err(RecommenderError::DuplicateItem {
                    item: item.clone(),
                    first: first as usize,
                    second: i,
                });
            }
        }
        for (item, &share) in a.items.iter().zip(&a.popularity) {
            if !is_probability(share) {
                return Err(RecommenderError::NotAProbability {
                    item: item.clone(),
                    what: "popularity",
                    value: share,
                });
            }
        }
        let total: usize = a.neighbours.iter().map(Vec::len).sum();
        if u32::try_from(total).is_err() {
            return Err(RecommenderError::TooManyItems {
                items: total,
                max: u32::MAX,
            });
        }
        let mut offsets = Vec::with_capacity(n + 1);
        let mut neighbour_items = Vec::with_capacity(total);
        let mut neighbour_probabilities = Vec::with_capacity(total);
        offsets.push(0);
        for (i, list) in a.neighbours.iter().enumerate() {
            for &(j, p) in list {
                if j as usize >= n {
                    return Err(RecommenderError::NeighbourOutOfRange {
                        item: a.items[i].clone(),
                        neighbour: j,
                        items: n,
                    });
                }
                if j as usize == i {
                    return Err(RecommenderError::SelfNeighbour {
                        item: a.items[i].clone(),
                    });
                }
                if !is_probability(p) {
                    return Err(RecommenderError::NotAProbability {
                        item: a.items[i].clone(),
                        what: "a neighbour probability",
                        value: p,
                    });
                }
                neighbour_items.push(j);
                neighbour_probabilities.push(p);
            }
            offsets.push(neighbour_items.len() as u32);
        }
        let mut by_popularity: Vec<u32> = (0..n as u32).collect();
        by_popularity.sort_by(|&x, &y| {
            a.popularity[y as usize]
                .total_cmp(&a.popularity[x as usize])
                .then(x.cmp(&y))
        });
        Ok(Recommender {
            items: a.items,
            index,
            popularity: a.popularity,
            offsets,
            neighbour_items,
            neighbour_probabilities,
            by_popularity,
        })
    }

    /// Number of products in the assortment the model knows.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The product id of `index`.
    ///
    /// # Panics
    /// When `index` is not below [`Recommender::len`] (indexes come from this recommender).
    pub fn item(&self, index: u32) -> &str {
        &self.items[index as usize]
    }

    pub fn index_of(&self, item: &str) -> Option<u32> {
        self.index.get(item).copied()
    }

    /// The share of training customers who bought `index`.
    ///
    /// # Panics
    /// When `index` is not below [`Recommender::len`].
    pub fn popularity(&self, index: u32) -> f64 {
        self.popularity[index as usize]
    }

    /// Top `k` products for a customer into `out` (cleared): `history` = recently bought / viewed
    /// product ids with a weight in `0..=1` (e.g. 1.0 purchase, 0.5 view; an id listed twice
    /// counts once with its highest weight; unknown ids are ignored); products for which `owned`
    /// is true are excluded.
    ///
    /// Score = estimated purchase probability `1 − Π_i (1 − w_i·P(j|i))`. The products the history
    /// reaches come first, best first; then, so that `out` has `k` entries when the assortment
    /// allows, the most popular remaining products with their popularity share as score.
    /// Ties are broken by item index, and the result does not depend on the history's order.
    pub fn recommend<'h>(
        &self,
        history: impl IntoIterator<Item = (&'h str, f64)>,
        owned: impl Fn(&str) -> bool,
        k: usize,
        scratch: &mut RecommendScratch,
        out: &mut Vec<(u32, f64)>,
    ) {
        out.clear();
        if k == 0 || self.items.is_empty() {
            return;
        }
        scratch.prepare(self.items.len());

        for (item, weight) in history {
            let Some(i) = self.index_of(item) else { continue };
            // NaN and out-of-range weights are clamped rather than poisoning every score
            let weight = if weight.is_nan() { 0.0 } else { weight.clamp(0.0, 1.0) };
            let slot = &mut scratch.history_weight[i as usize];
            if *slot == 0.0 && weight > 0.0 {
                scratch.history.push(i);
            }
            *slot = slot.max(weight);
        }
        // a fixed order of multiplication: identical scores for any order of the same history
        scratch.history.sort_unstable();

        for &i in &scratch.history {
            let weight = scratch.history_weight[i as usize];
            let range = self.offsets[i as usize] as usize..self.offsets[i as usize + 1] as usize;
            for (&j, &p) in self.neighbour_items[range.clone()]
                .iter()
                .zip(&self.neighbour_probabilities[range])
            {
                if !scratch.reached[j as usize] {
                    scratch.reached[j as usize] = true;
                    scratch.touched.push(j);
                }
                scratch.miss[j as usize] *= 1.0 - weight * p;
            }
        }

        for &j in &scratch.touched {
            let score = 1.0 - scratch.miss[j as usize];
            // a touched product can still score 0 (P = 0 neighbours); leave it to the fill
            if score > 0.0 && !owned(&self.items[j as usize]) {
                out.push((j, score));
            }
        }
        out.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(k);

        if out.len() < k {
            for &(j, _) in out.iter() {
                scratch.chosen[j as usize] = true;
            }
            for &j in &self.by_popularity {
                if out.len() == k {
                    break;
                }
                if !scratch.chosen[j as usize] && !owned(&self.items[j as usize]) {
                    out.push((j, self.popularity[j as usize]));
                }
            }
            for &(j, _) in out.iter() {
                scratch.chosen[j as usize] = false;
            }
        }

        // leave the scratch clean for the next call: only what this call touched is reset
        for &j in &scratch.touched {
            scratch.miss[j as usize] = 1.0;
            scratch.reached[j as usize] = false;
        }
        scratch.touched.clear();
        for &i in &scratch.history {
            scratch.history_weight[i as usize] = 0.0;
        }
        scratch.history.clear();
    }
}

fn is_probability(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

fn json_error(e: &serde_json::Error) -> RecommenderError {
    let (line, column, message) = (e.line(), e.column(), e.to_string());
    match e.classify() {
        serde_json::error::Category::Data => RecommenderError::Structure { line, column, message },
        _ => RecommenderError::NotJson { line, column, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> TrainingInfo {
        TrainingInfo {
            events_file: "test.jsonl".into(),
            purchase_type: "purchase".into(),
            item_field: "product".into(),
            customers: 10,
            purchases: 20,
            first_ts: Some(0),
            last_ts: Some(1),
            cutoff_ts: None,
            top_k: 3,
            shrinkage: 0.0,
            min_support: 1,
            evaluation: None,
        }
    }

    /// a, b, c, d, e: a → b 0.5, c 0.2; b → c 0.4; popularity e > d > a = b > c.
    fn artifact() -> RecommenderArtifact {
        RecommenderArtifact {
            format: ARTIFACT_FORMAT,
            kind: ARTIFACT_KIND.into(),
            trained: info(),
            items: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
            popularity: vec![0.3, 0.3, 0.1, 0.4, 0.6],
            neighbours: vec![vec![(1, 0.5), (2, 0.2)], vec![(2, 0.4)], vec![], vec![], vec![]],
        }
    }

    fn model() -> Recommender {
        Recommender::from_artifact(artifact()).expect("valid artifact")
    }

    fn run(r: &Recommender, history: &[(&str, f64)], owned: &[&str], k: usize) -> Vec<(String, f64)> {
        let mut scratch = RecommendScratch::default();
        let mut out = Vec::new();
        r.recommend(
            history.iter().copied(),
            |p| owned.contains(&p),
            k,
            &mut scratch,
            &mut out,
        );
        out.into_iter().map(|(j, s)| (r.item(j).to_string(), s)).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn scores_are_noisy_or_of_weighted_neighbour_probabilities() {
        let r = model();
        let out = run(&r, &[("a", 1.0), ("b", 0.5)], &[], 2);
        assert_eq!(out.len(), 2);
        // c: 1 − (1 − 0.2)(1 − 0.5·0.4) = 0.36; b: 1 − (1 − 0.5) = 0.5
        assert_eq!(out[0].0, "b");
        assert!(close(out[0].1, 0.5), "{out:?}");
        assert_eq!(out[1].0, "c");
        assert!(close(out[1].1, 0.36), "{out:?}");
    }

    #[test]
    fn owned_products_are_never_recommended() {
        let r = model();
        let out = run(&r, &[("a", 1.0)], &["a", "b", "e"], 5);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["c", "d"]);
    }

    #[test]
    fn short_lists_are_filled_by_popularity_after_the_personal_ones() {
        let r = model();
        let out = run(&r, &[("a", 1.0)], &["a"], 4);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b", "c", "e", "d"]);
        assert!(close(out[2].1, 0.6) && close(out[3].1, 0.4), "{out:?}");
        // nothing known in the history: pure popularity, ties by index (a before b)
        let out = run(&r, &[("unknown", 1.0)], &[], 5);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["e", "d", "a", "b", "c"]);
        // k larger than the assortment: everything not owned, once
        assert_eq!(run(&r, &[], &["e"], 50).len(), 4);
        assert!(run(&r, &[("a", 1.0)], &[], 0).is_empty());
    }

    #[test]
    fn duplicates_count_once_with_the_highest_weight_and_weights_are_clamped() {
        let r = model();
        let once = run(&r, &[("a", 1.0)], &["a"], 2);
        let twice = run(&r, &[("a", 0.5), ("a", 1.0), ("a", 0.2)], &["a"], 2);
        assert_eq!(once, twice);
        assert_eq!(run(&r, &[("a", 7.0)], &["a"], 2), once);
        // zero and NaN weights reach nothing: popularity only
        let names: Vec<String> = run(&r, &[("a", 0.0), ("b", f64::NAN)], &[], 2)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["e", "d"]);
    }

    #[test]
    fn deterministic_for_any_history_order_and_with_a_reused_scratch() {
        let r = model();
        let mut scratch = RecommendScratch::default();
        let mut first = Vec::new();
        let mut again = Vec::new();
        r.recommend([("a", 1.0), ("b", 0.5)], |_| false, 3, &mut scratch, &mut first);
        for _ in 0..3 {
            r.recommend([("e", 1.0)], |p| p == "e", 3, &mut scratch, &mut again);
            r.recommend([("b", 0.5), ("a", 1.0)], |_| false, 3, &mut scratch, &mut again);
            assert_eq!(first, again);
        }
        // equal scores: lower index first
        let mut tie = artifact();
        tie.neighbours[3] = vec![(2, 0.3), (1, 0.3), (0, 0.3)];
        let tie = Recommender::from_artifact(tie).expect("valid");
        let names: Vec<String> = run(&tie, &[("d", 1.0)], &[], 3).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn zero_probability_neighbours_score_nothing_and_appear_once() {
        let mut a = artifact();
        a.neighbours[3] = vec![(2, 0.0)];
        a.neighbours[4] = vec![(2, 0.0)];
        let r = Recommender::from_artifact(a).expect("valid");
        let names: Vec<String> = run(&r, &[("d", 1.0), ("e", 1.0)], &["d", "e"], 5)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn lookups() {
        let r = model();
        assert_eq!(r.len(), 5);
        assert!(!r.is_empty());
        assert_eq!(r.index_of("c"), Some(2));
        assert_eq!(r.index_of("z"), None);
        assert_eq!(r.item(4), "e");
        assert!(close(r.popularity(4), 0.6));
    }

    #[test]
    fn json_round_trip() {
        let json = serde_json::to_vec(&artifact()).expect("serialises");
        let r = Recommender::from_json(&json).expect("loads");
        assert_eq!(run(&r, &[("a", 1.0)], &[], 3), run(&model(), &[("a", 1.0)], &[], 3));
    }

    fn refused(a: RecommenderArtifact) -> String {
        Recommender::from_artifact(a).expect_err("refused").to_string()
    }

    #[test]
    fn bad_artifacts_are_refused_with_what_is_wrong() {
        let mut a = artifact();
        a.neighbours[1] = vec![(9, 0.1)];
        let msg = refused(a);
        assert!(
            msg.contains("item `b` has neighbour index 9, but there are only 5 items"),
            "{msg}"
        );

        let mut a = artifact();
        a.format = 2;
        let msg = refused(a);
        assert!(
            msg.contains("format 2 is not supported (this build reads format 1)"),
            "{msg}"
        );

        let mut a = artifact();
        a.kind = "matrix-factorisation".into();
        assert!(refused(a).contains("kind `matrix-factorisation` is not supported"));

        let mut a = artifact();
        a.popularity.pop();
        let msg = refused(a);
        assert!(msg.contains("5 items but popularity has 4 entries"), "{msg}");

        let mut a = artifact();
        a.items[3] = "a".into();
        assert!(refused(a).contains("lists item `a` twice (at 0 and 3)"));

        let mut a = artifact();
        a.neighbours[0][1].1 = 1.5;
        let msg = refused(a);
        assert!(
            msg.contains("item `a` has a neighbour probability 1.5, which is not a probability"),
            "{msg}"
        );

        let mut a = artifact();
        a.popularity[2] = f64::NAN;
        assert!(refused(a).contains("item `c` has popularity NaN"));

        let mut a = artifact();
        a.neighbours[2] = vec![(2, 0.1)];
        assert!(refused(a).contains("item `c` lists itself"));

        let mut a = artifact();
        a.items[1] = String::new();
        assert!(refused(a).contains("item 1 has an empty product id"));
    }

    #[test]
    fn bad_json_is_refused_with_line_and_column() {
        let msg = Recommender::from_json(b"{\n  \"format\": 1,\n  oops\n}")
            .expect_err("refused")
            .to_string();
        assert!(msg.contains("not valid JSON (line 3, column 3)"), "{msg}");

        let mut value = serde_json::to_value(artifact()).expect("serialises");
        value["format"] = 7.into();
        value["future_field"] = true.into();
        let msg = Recommender::from_json(&serde_json::to_vec(&value).expect("JSON"))
            .expect_err("refused")
            .to_string();
        assert!(msg.contains("format 7 is not supported"), "{msg}");

        let mut value = serde_json::to_value(artifact()).expect("serialises");
        value["surprise"] = true.into();
        let msg = Recommender::from_json(&serde_json::to_vec(&value).expect("JSON"))
            .expect_err("refused")
            .to_string();
        assert!(msg.contains("unknown field `surprise`"), "{msg}");

        let msg = Recommender::from_json(b"{\"kind\": \"item-cooccurrence\"}")
            .expect_err("refused")
            .to_string();
        assert!(msg.contains("format (missing) is not supported"), "{msg}");

        let msg = Recommender::from_json(b"[1, 2]").expect_err("refused").to_string();
        assert!(msg.contains("expected structure"), "{msg}");
    }

    #[test]
    fn an_empty_model_recommends_nothing() {
        let mut a = artifact();
        a.items.clear();
        a.popularity.clear();
        a.neighbours.clear();
        let r = Recommender::from_artifact(a).expect("valid");
        assert!(r.is_empty());
        assert!(run(&r, &[("a", 1.0)], &[], 3).is_empty());
    }
}
