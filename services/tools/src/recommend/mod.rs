//! Training and evaluating the item-to-item product recommender
//! ([`revenue_core::recommend`]) from a JSON-lines event file.
//!
//! Training counts, over customers, which products were bought by the same customer:
//! `P(j | i) = co(i, j) / (buyers(i) + shrinkage)`, keeping the `top_k` best `j` per product.
//! Evaluation holds out the last `test_share` of the purchase time range: a model trained on the
//! purchases before the cutoff recommends 10 products per customer with exactly the scoring code
//! of the live engine ([`Recommender::recommend`]); a customer counts as a hit when one of the
//! products they bought for the first time after the cutoff is among them. The popularity
//! baseline recommends the 10 most bought products the customer does not own yet.
//!
//! The artifact returned is retrained on every purchase (the held-out split included), so the
//! model in production knows the most recent behaviour; its `trained.evaluation` records the
//! held-out result of the same procedure.

mod evaluate;
mod input;
mod report;
#[cfg(test)]
mod tests;
mod train;

use evaluate::evaluate;
use input::read_purchases;
use train::train;

pub use report::{EvaluationReport, InputStats, MalformedLine, ModelSummary, TrainReport};

use revenue_core::recommend::{HoldoutEvaluation, Recommender, RecommenderArtifact, RecommenderError};
use std::io::BufRead;

/// Products recommended per customer in the evaluation (hit-rate@10).
pub const EVALUATION_K: usize = 10;

#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The event `type` that is a purchase.
    pub purchase_type: String,
    /// The event field holding the product id.
    pub item_field: String,
    /// Neighbours kept per product.
    pub top_k: usize,
    /// Share of the purchase time range held out for evaluation, in `0..1`; 0 skips evaluation.
    pub test_share: f64,
    /// Added to a product's buyer count in `P(j | i)`: products with few buyers get weaker links.
    pub shrinkage: f64,
    /// Co-occurrences of fewer customers are dropped as noise.
    pub min_support: u32,
    /// Name of the events file, recorded in the artifact.
    pub source_name: String,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            purchase_type: "purchase".into(),
            item_field: "product".into(),
            top_k: 20,
            test_share: 0.2,
            shrinkage: 5.0,
            // purchase data is sparse: a pair bought by one customer is still evidence
            min_support: 1,
            source_name: "events".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("reading the events failed after line {line}: {source}")]
    Io {
        line: u64,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error(
        "no `{purchase_type}` events with a `{item_field}` field among {events} events ({malformed} malformed lines); \
         event types seen: {seen}. Use --purchase-type and --item-field to name the purchase events"
    )]
    NoPurchases {
        purchase_type: String,
        item_field: String,
        events: u64,
        malformed: u64,
        seen: String,
    },
    #[error("the trained model is inconsistent (a bug): {0}")]
    Model(#[from] RecommenderError),
}

/// The report and the artifact to write.
#[derive(Debug, Clone)]
pub struct Trained {
    pub report: TrainReport,
    pub artifact: RecommenderArtifact,
}

/// Reads the events, evaluates on the held-out split and trains the model on every purchase.
pub fn train_recommender(input: impl BufRead, options: &TrainOptions) -> Result<Trained, TrainError> {
    check_options(options)?;
    let (log, mut stats) = read_purchases(input, options)?;
    if log.purchases.is_empty() {
        let mut seen: Vec<(&String, &u64)> = stats.event_types.iter().collect();
        seen.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let seen: Vec<String> = seen.iter().take(8).map(|(t, n)| format!("{t} ({n})")).collect();
        return Err(TrainError::NoPurchases {
            purchase_type: options.purchase_type.clone(),
            item_field: options.item_field.clone(),
            events: stats.events,
            malformed: stats.malformed,
            seen: if seen.is_empty() {
                "none".into()
            } else {
                seen.join(", ")
            },
        });
    }
    let first_ts = log.purchases.iter().map(|p| p.2).min();
    let last_ts = log.purchases.iter().map(|p| p.2).max();
    stats.first_ts = first_ts;
    stats.last_ts = last_ts;

    let (evaluation, evaluation_skipped) = match (first_ts, last_ts) {
        _ if options.test_share == 0.0 => (None, Some("--test-share is 0".to_string())),
        (Some(first), Some(last)) if last > first => {
            let span = (last - first) as f64;
            let cutoff = first + (span * (1.0 - options.test_share)).round() as i64;
            let evaluation = evaluate(&log, cutoff, options)?;
            if evaluation.customers_evaluated == 0 {
                let reason = "no customer bought before the cutoff and a new product after it".to_string();
                (None, Some(reason))
            } else {
                (Some(evaluation), None)
            }
        }
        _ => (
            None,
            Some("every purchase has the same timestamp: no time split".to_string()),
        ),
    };

    let mut artifact = train(&log, None, options);
    artifact.trained.evaluation = evaluation.as_ref().map(|e| HoldoutEvaluation {
        cutoff_ts: e.cutoff_ts,
        test_share: e.test_share,
        k: e.k as u32,
        customers: e.customers_evaluated,
        recommender_hit_rate: e.recommender_hit_rate,
        popularity_hit_rate: e.popularity_hit_rate,
    });
    // refuse to hand out an artifact the engine would refuse
    Recommender::from_artifact(artifact.clone())?;
    let model = ModelSummary {
        trained_on: "all purchases",
        products: artifact.items.len(),
        customers: artifact.trained.customers,
        purchases: artifact.trained.purchases,
        top_k: options.top_k,
        neighbour_links: artifact.neighbours.iter().map(Vec::len).sum(),
        shrinkage: options.shrinkage,
        min_support: options.min_support,
    };
    Ok(Trained {
        report: TrainReport {
            input: stats,
            evaluation,
            evaluation_skipped,
            model,
        },
        artifact,
    })
}

fn check_options(options: &TrainOptions) -> Result<(), TrainError> {
    let invalid = |message: String| Err(TrainError::InvalidOption(message));
    if !(0.0..1.0).contains(&options.test_share) {
        return invalid(format!(
            "test share {} is not in 0..1 (e.g. 0.2 holds out the last fifth of the time range)",
            options.test_share
        ));
    }
    if options.top_k == 0 || u32::try_from(options.top_k).is_err() {
        return invalid(format!("top-k {} must be at least 1", options.top_k));
    }
    if !(options.shrinkage.is_finite() && options.shrinkage >= 0.0) {
        return invalid(format!("shrinkage {} must be a number ≥ 0", options.shrinkage));
    }
    if options.min_support == 0 {
        return invalid("min support must be at least 1".into());
    }
    if options.purchase_type.is_empty() || options.item_field.is_empty() {
        return invalid("the purchase type and the item field must not be empty".into());
    }
    Ok(())
}
