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
mod tests;
