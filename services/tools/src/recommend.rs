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

use revenue_core::recommend::{
    HoldoutEvaluation, RecommendScratch, Recommender, RecommenderArtifact, RecommenderError, TrainingInfo,
    ARTIFACT_FORMAT, ARTIFACT_KIND,
};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::BufRead;

/// Products recommended per customer in the evaluation (hit-rate@10).
pub const EVALUATION_K: usize = 10;

/// How many malformed lines are kept with their line number for the report.
const KEEP_MALFORMED: usize = 5;
/// Distinct event types counted for the "no purchases found" hint; more are lumped together.
const MAX_EVENT_TYPES: usize = 64;

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

/// The report and the artifact to write.
#[derive(Debug, Clone)]
pub struct Trained {
    pub report: TrainReport,
    pub artifact: RecommenderArtifact,
}

/// Purchases read from an events file, customers and products interned.
#[derive(Debug, Default)]
struct PurchaseLog {
    products: Vec<String>,
    /// (customer, product, ts)
    purchases: Vec<(u32, u32, i64)>,
    customers: u32,
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

fn read_purchases(mut input: impl BufRead, options: &TrainOptions) -> Result<(PurchaseLog, InputStats), TrainError> {
    let mut stats = InputStats::default();
    let mut log = PurchaseLog::default();
    let mut customers: FxHashMap<String, u32> = FxHashMap::default();
    let mut products: FxHashMap<String, u32> = FxHashMap::default();
    let mut line = Vec::with_capacity(256);
    let mut number = 0u64;
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|source| TrainError::Io { line: number, source })?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        stats.lines += 1;
        let event = match parse_event(&line, &options.item_field) {
            Ok(event) => event,
            Err(reason) => {
                stats.malformed += 1;
                if stats.malformed_lines.len() < KEEP_MALFORMED {
                    stats.malformed_lines.push(MalformedLine { line: number, reason });
                }
                continue;
            }
        };
        stats.events += 1;
        let type_key = if stats.event_types.len() < MAX_EVENT_TYPES || stats.event_types.contains_key(&event.kind) {
            event.kind.clone()
        } else {
            "(other)".into()
        };
        *stats.event_types.entry(type_key).or_default() += 1;
        if event.kind != options.purchase_type {
            continue;
        }
        let Some(item) = event.item else {
            stats.purchases_without_item += 1;
            continue;
        };
        let next = customers.len() as u32;
        let customer = *customers.entry(event.customer_id).or_insert(next);
        let next = products.len() as u32;
        let product = *products.entry(item).or_insert(next);
        log.purchases.push((customer, product, event.ts));
    }
    log.customers = customers.len() as u32;
    log.products = vec![String::new(); products.len()];
    for (name, index) in products {
        log.products[index as usize] = name;
    }
    stats.purchases = log.purchases.len() as u64;
    stats.customers_with_purchases = u64::from(log.customers);
    stats.products = log.products.len() as u64;
    Ok((log, stats))
}

struct ParsedEvent {
    customer_id: String,
    kind: String,
    ts: i64,
    item: Option<String>,
}

fn parse_event(line: &[u8], item_field: &str) -> Result<ParsedEvent, String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err("not a JSON object".into());
    };
    let mut text = |key: &str| match object.remove(key) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let customer_id = text("customer_id").ok_or("missing or empty `customer_id`")?;
    let kind = text("type").ok_or("missing or empty `type`")?;
    let item = text(item_field);
    let ts = object
        .get("ts")
        .and_then(serde_json::Value::as_i64)
        .ok_or("missing `ts` (integer epoch milliseconds)")?;
    Ok(ParsedEvent {
        customer_id,
        kind,
        ts,
        item,
    })
}

/// Trains on the purchases before `before` (all when `None`).
fn train(log: &PurchaseLog, before: Option<i64>, options: &TrainOptions) -> RecommenderArtifact {
    let kept = |ts: i64| before.is_none_or(|cutoff| ts < cutoff);
    let mut baskets: Vec<Vec<u32>> = vec![Vec::new(); log.customers as usize];
    let mut purchases = 0u64;
    let (mut first_ts, mut last_ts) = (None::<i64>, None::<i64>);
    for &(customer, product, ts) in &log.purchases {
        if kept(ts) {
            baskets[customer as usize].push(product);
            purchases += 1;
            first_ts = Some(first_ts.map_or(ts, |t| t.min(ts)));
            last_ts = Some(last_ts.map_or(ts, |t| t.max(ts)));
        }
    }
    // model indexes: the products bought in the training data, sorted by id for stable files
    let mut bought: Vec<u32> = baskets.iter().flatten().copied().collect();
    bought.sort_unstable_by(|a, b| log.products[*a as usize].cmp(&log.products[*b as usize]));
    bought.dedup();
    let mut model_index = vec![u32::MAX; log.products.len()];
    for (i, &product) in bought.iter().enumerate() {
        model_index[product as usize] = i as u32;
    }
    let n = bought.len();
    let mut buyers = vec![0u32; n];
    let mut co: Vec<FxHashMap<u32, u32>> = vec![FxHashMap::default(); n];
    let mut customers = 0u64;
    for basket in &mut baskets {
        if basket.is_empty() {
            continue;
        }
        customers += 1;
        for product in basket.iter_mut() {
            *product = model_index[*product as usize];
        }
        // a customer counts once per product, however often they reordered it
        basket.sort_unstable();
        basket.dedup();
        for &i in basket.iter() {
            buyers[i as usize] += 1;
            for &j in basket.iter() {
                if i != j {
                    *co[i as usize].entry(j).or_default() += 1;
                }
            }
        }
    }
    let neighbours: Vec<Vec<(u32, f64)>> = co
        .iter()
        .enumerate()
        .map(|(i, counts)| {
            let denominator = f64::from(buyers[i]) + options.shrinkage;
            let mut list: Vec<(u32, u32)> = counts
                .iter()
                .filter(|(_, &count)| count >= options.min_support)
                .map(|(&j, &count)| (j, count))
                .collect();
            // by count (the same order as by probability), ties by index: deterministic
            list.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            list.truncate(options.top_k);
            list.into_iter()
                .map(|(j, count)| (j, significant(f64::from(count) / denominator)))
                .collect()
        })
        .collect();
    let popularity = buyers
        .iter()
        .map(|&b| significant(f64::from(b) / customers.max(1) as f64))
        .collect();
    RecommenderArtifact {
        format: ARTIFACT_FORMAT,
        kind: ARTIFACT_KIND.into(),
        trained: TrainingInfo {
            events_file: options.source_name.clone(),
            purchase_type: options.purchase_type.clone(),
            item_field: options.item_field.clone(),
            customers,
            purchases,
            first_ts,
            last_ts,
            cutoff_ts: before,
            top_k: options.top_k as u32,
            shrinkage: options.shrinkage,
            min_support: options.min_support,
            evaluation: None,
        },
        items: bought.iter().map(|&p| log.products[p as usize].clone()).collect(),
        popularity,
        neighbours,
    }
}

/// Rounded to 5 significant digits: the artifact stays small, scores change by < 0.001 %.
fn significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let digits = 4 - x.abs().log10().floor() as i32;
    if !(0..=22).contains(&digits) {
        return x;
    }
    // dividing by an exact power of ten gives the double nearest the short decimal
    let scale = 10f64.powi(digits);
    ((x * scale).round() / scale).min(1.0)
}

/// Hit-rate@10 on the split at `cutoff` for the recommender and the popularity baseline.
fn evaluate(log: &PurchaseLog, cutoff: i64, options: &TrainOptions) -> Result<EvaluationReport, TrainError> {
    let artifact = train(log, Some(cutoff), options);
    let (train_purchases, train_customers, train_products) = (
        artifact.trained.purchases,
        artifact.trained.customers,
        artifact.items.len() as u64,
    );
    let recommender = Recommender::from_artifact(artifact)?;

    // per customer: products bought before the cutoff, and those first bought after it
    let mut before: Vec<Vec<u32>> = vec![Vec::new(); log.customers as usize];
    let mut after: Vec<Vec<u32>> = vec![Vec::new(); log.customers as usize];
    for &(customer, product, ts) in &log.purchases {
        let side = if ts < cutoff { &mut before } else { &mut after };
        side[customer as usize].push(product);
    }

    let mut scratch = RecommendScratch::default();
    let mut recommended = Vec::with_capacity(EVALUATION_K);
    let mut owned = vec![false; recommender.len()];
    let (mut evaluated, mut recommender_hits, mut popularity_hits) = (0u64, 0u64, 0u64);
    for (bought, later) in before.iter_mut().zip(after.iter_mut()) {
        bought.sort_unstable();
        bought.dedup();
        later.retain(|p| bought.binary_search(p).is_err());
        if bought.is_empty() || later.is_empty() {
            continue;
        }
        evaluated += 1;
        let bought_indexes = bought
            .iter()
            .filter_map(|&p| recommender.index_of(&log.products[p as usize]));
        for i in bought_indexes.clone() {
            owned[i as usize] = true;
        }
        let is_owned = |item: &str| recommender.index_of(item).is_some_and(|i| owned[i as usize]);
        let is_hit = |list: &[(u32, f64)]| {
            list.iter().any(|&(j, _)| {
                let name = recommender.item(j);
                later.iter().any(|&p| log.products[p as usize] == name)
            })
        };

        let history = bought.iter().map(|&p| (log.products[p as usize].as_str(), 1.0));
        recommender.recommend(history, is_owned, EVALUATION_K, &mut scratch, &mut recommended);
        recommender_hits += u64::from(is_hit(&recommended));
        // no history: the core fills the list with the most popular products not owned
        recommender.recommend(
            std::iter::empty(),
            is_owned,
            EVALUATION_K,
            &mut scratch,
            &mut recommended,
        );
        popularity_hits += u64::from(is_hit(&recommended));

        for i in bought_indexes {
            owned[i as usize] = false;
        }
    }
    let rate = |hits: u64| {
        if evaluated == 0 {
            0.0
        } else {
            hits as f64 / evaluated as f64
        }
    };
    let (recommender_hit_rate, popularity_hit_rate) = (rate(recommender_hits), rate(popularity_hits));
    Ok(EvaluationReport {
        cutoff_ts: cutoff,
        test_share: options.test_share,
        k: EVALUATION_K,
        train_purchases,
        train_customers,
        train_products,
        customers_evaluated: evaluated,
        recommender_hits,
        popularity_hits,
        recommender_hit_rate,
        popularity_hit_rate,
        lift: (popularity_hits > 0).then(|| recommender_hit_rate / popularity_hit_rate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{Generator, SyntheticConfig};
    use std::io::Cursor;

    fn purchase(customer: &str, product: &str, ts: i64) -> String {
        format!("{{\"customer_id\":\"{customer}\",\"type\":\"purchase\",\"ts\":{ts},\"product\":\"{product}\",\"amount\":1.0}}\n")
    }

    fn run(input: &str, options: &TrainOptions) -> Result<Trained, TrainError> {
        train_recommender(Cursor::new(input.to_string()), options)
    }

    /// Two product families: customers who buy `a1` also buy `a2`, `a3`; `b*` likewise.
    fn families() -> String {
        let mut lines = String::new();
        for c in 0..12 {
            let family = if c % 2 == 0 { "a" } else { "b" };
            lines.push_str(&purchase(&format!("c{c}"), &format!("{family}1"), 10 + c));
            lines.push_str(&purchase(&format!("c{c}"), &format!("{family}2"), 20 + c));
            if c < 8 {
                lines.push_str(&purchase(&format!("c{c}"), &format!("{family}3"), 30 + c));
            }
        }
        lines
    }

    #[test]
    fn counts_co_purchases_per_customer_with_shrinkage() {
        let options = TrainOptions {
            test_share: 0.0,
            shrinkage: 2.0,
            min_support: 1,
            ..TrainOptions::default()
        };
        let trained = run(&families(), &options).expect("trains");
        let a = &trained.artifact;
        assert_eq!(a.items, ["a1", "a2", "a3", "b1", "b2", "b3"]);
        assert_eq!(a.trained.customers, 12);
        assert_eq!(a.trained.purchases, 32);
        assert_eq!(a.trained.cutoff_ts, None);
        // 6 customers bought a1, 4 of them a3: P(a3 | a1) = 4 / (6 + 2); a2: 6 / 8
        assert_eq!(a.neighbours[0], vec![(1, 0.75), (2, 0.5)]);
        // a3's 4 buyers all bought a1 and a2: 4 / 6 each, ties by index
        assert_eq!(a.neighbours[2], vec![(0, 0.66667), (1, 0.66667)]);
        assert_eq!(a.popularity, [0.5, 0.5, 0.33333, 0.5, 0.5, 0.33333]);
        assert_eq!(trained.report.model.trained_on, "all purchases");
        assert!(trained.report.evaluation.is_none());
        assert_eq!(trained.report.evaluation_skipped.as_deref(), Some("--test-share is 0"));
    }

    #[test]
    fn top_k_and_min_support_prune_neighbours() {
        let options = TrainOptions {
            test_share: 0.0,
            top_k: 1,
            min_support: 5,
            ..TrainOptions::default()
        };
        let a = run(&families(), &options).expect("trains").artifact;
        // a1–a2: 6 customers (kept, top 1); a1–a3: 4 (< 5, dropped)
        assert_eq!(a.neighbours[0].len(), 1);
        assert_eq!(a.neighbours[0][0].0, 1);
        assert!(a.neighbours[2].is_empty());
    }

    #[test]
    fn malformed_lines_are_counted_and_skipped() {
        let mut input = families();
        input.push_str("{broken\n\n[1,2]\n{\"customer_id\":\"c1\",\"type\":\"purchase\"}\n");
        input.push_str("{\"customer_id\":\"c1\",\"type\":\"purchase\",\"ts\":5}\n");
        input.push_str("{\"customer_id\":\"c1\",\"type\":\"page_view\",\"ts\":5,\"product\":\"a1\"}\n");
        input.push_str("\u{feff}\u{0}\n");
        let options = TrainOptions {
            test_share: 0.0,
            ..TrainOptions::default()
        };
        let report = run(&input, &options).expect("trains").report;
        assert_eq!(report.input.malformed, 4, "{:?}", report.input.malformed_lines);
        assert_eq!(report.input.purchases_without_item, 1);
        assert_eq!(report.input.purchases, 32);
        assert_eq!(report.input.event_types["page_view"], 1);
        let first = &report.input.malformed_lines[0];
        assert_eq!(first.line, 33);
        assert!(first.reason.starts_with("not JSON"), "{first:?}");
        assert!(report.input.malformed_lines[2].reason.contains("`ts`"));
    }

    #[test]
    fn no_purchases_says_which_event_types_there_are() {
        let input = "{\"customer_id\":\"c1\",\"type\":\"order\",\"ts\":5,\"sku\":\"a1\"}\nnot json\n";
        let msg = run(input, &TrainOptions::default()).expect_err("fails").to_string();
        assert!(
            msg.contains("no `purchase` events with a `product` field among 1 events"),
            "{msg}"
        );
        assert!(msg.contains("event types seen: order (1)"), "{msg}");
        assert!(msg.contains("--purchase-type"), "{msg}");
        let options = TrainOptions {
            purchase_type: "order".into(),
            item_field: "sku".into(),
            test_share: 0.0,
            ..TrainOptions::default()
        };
        assert_eq!(run(input, &options).expect("trains").artifact.items, ["a1"]);
    }

    #[test]
    fn bad_options_are_refused() {
        for options in [
            TrainOptions {
                test_share: 1.0,
                ..TrainOptions::default()
            },
            TrainOptions {
                test_share: f64::NAN,
                ..TrainOptions::default()
            },
            TrainOptions {
                top_k: 0,
                ..TrainOptions::default()
            },
            TrainOptions {
                shrinkage: -1.0,
                ..TrainOptions::default()
            },
        ] {
            let err = run(&families(), &options).expect_err("refused");
            assert!(err.to_string().starts_with("invalid option"), "{err}");
        }
    }

    #[test]
    fn evaluation_uses_the_time_split() {
        // before the split every customer bought x1 and their family's first product; after it,
        // the family's second: co-occurrence finds it, popularity recommends the other family
        let mut input = String::new();
        for c in 0..20 {
            let family = if c % 2 == 0 { "a" } else { "b" };
            let customer = format!("c{c}");
            input.push_str(&purchase(&customer, "x1", 100 + c));
            input.push_str(&purchase(&customer, &format!("{family}1"), 200 + c));
            if c < 16 {
                input.push_str(&purchase(&customer, &format!("{family}2"), 300 + c));
            } else {
                input.push_str(&purchase(&customer, &format!("{family}2"), 1000 + c));
            }
        }
        // popular products nobody in the test buys fill the baseline's list
        for c in 100..130 {
            for z in 0..12 {
                input.push_str(&purchase(&format!("c{c}"), &format!("z{z}"), 400 + c));
            }
        }
        let options = TrainOptions {
            min_support: 1,
            ..TrainOptions::default()
        };
        let trained = run(&input, &options).expect("trains");
        let e = trained.report.evaluation.expect("evaluated");
        assert_eq!(e.customers_evaluated, 4);
        assert!(e.cutoff_ts > 530 && e.cutoff_ts < 1000, "{e:?}");
        assert_eq!((e.recommender_hits, e.popularity_hits), (4, 0));
        assert_eq!(
            (e.recommender_hit_rate, e.popularity_hit_rate, e.lift),
            (1.0, 0.0, None)
        );
        let recorded = trained.artifact.trained.evaluation.expect("recorded in the artifact");
        assert_eq!(recorded.customers, 4);
        assert_eq!(trained.artifact.trained.cutoff_ts, None);
    }

    #[test]
    fn beats_popularity_on_synthetic_distributor_buyers() {
        let config = SyntheticConfig {
            companies: 2_000,
            events: 60_000,
            days: 90,
            ..SyntheticConfig::default()
        };
        let input: String = Generator::new(config).map(|e| e.json + "\n").collect();
        let trained = run(&input, &TrainOptions::default()).expect("trains");
        let e = trained.report.evaluation.expect("evaluated");
        println!("{e:?}");
        assert!(e.customers_evaluated >= 50, "{e:?}");
        assert!(e.recommender_hit_rate > e.popularity_hit_rate, "{e:?}");
        assert_eq!(trained.report.input.malformed, 0);
        let json = serde_json::to_vec(&trained.artifact).expect("serialises");
        assert!(json.len() < 400_000, "{} bytes", json.len());
        Recommender::from_json(&json).expect("the engine loads it");
    }

    #[test]
    fn significant_digits() {
        assert_eq!(significant(2.0 / 3.0), 0.66667);
        assert_eq!(significant(1.0 / 30_000.0), 0.000033333);
        assert_eq!(significant(1.0), 1.0);
        assert_eq!(significant(0.0), 0.0);
    }
}
