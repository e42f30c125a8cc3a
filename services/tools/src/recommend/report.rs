//! What training reports: the input read, the held-out evaluation and the model written.

use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct MalformedLine {
    pub line: u64,
    pub reason: String,
}

/// What was read from the events file.
#[derive(Debug, Clone, Serialize, Default)]
pub struct InputStats {
    /// Non-empty lines.
    pub lines: u64,
    /// Lines that are events (a JSON object with `customer_id`, `type` and `ts`).
    pub events: u64,
    /// Lines skipped because they are not such an event.
    pub malformed: u64,
    /// The first malformed lines with their numbers.
    pub malformed_lines: Vec<MalformedLine>,
    /// Purchase events used.
    pub purchases: u64,
    /// Purchase events without a (string) item field, skipped.
    pub purchases_without_item: u64,
    pub customers_with_purchases: u64,
    pub products: u64,
    /// Time range (epoch ms) of the purchases used.
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Events per type (at most 64 types; the rest counted under `(other)`).
    pub event_types: BTreeMap<String, u64>,
}

/// Hit-rate@10 of the recommender and the popularity baseline on the held-out split.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationReport {
    /// Purchases at or after this time (epoch ms) are held out.
    pub cutoff_ts: i64,
    pub test_share: f64,
    pub k: usize,
    pub train_purchases: u64,
    pub train_customers: u64,
    pub train_products: u64,
    /// Customers with a purchase before the cutoff and a product after it they had not bought.
    pub customers_evaluated: u64,
    pub recommender_hits: u64,
    pub popularity_hits: u64,
    pub recommender_hit_rate: f64,
    pub popularity_hit_rate: f64,
    /// `recommender_hit_rate / popularity_hit_rate`; `None` when the baseline never hits.
    pub lift: Option<f64>,
}

/// The model written: what it was trained on.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    /// Always "all purchases": the held-out split is added back for the model written.
    pub trained_on: &'static str,
    pub products: usize,
    pub customers: u64,
    pub purchases: u64,
    pub top_k: usize,
    /// Product pairs kept (sum of neighbour list lengths).
    pub neighbour_links: usize,
    pub shrinkage: f64,
    pub min_support: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub input: InputStats,
    /// `None` when evaluation was skipped; see `evaluation_skipped`.
    pub evaluation: Option<EvaluationReport>,
    pub evaluation_skipped: Option<String>,
    pub model: ModelSummary,
}
