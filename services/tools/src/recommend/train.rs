//! Building the model: co-purchase counts per customer turned into `P(j | i)` neighbour lists
//! and popularity.

use super::input::PurchaseLog;
use super::TrainOptions;
use revenue_core::recommend::{RecommenderArtifact, TrainingInfo, ARTIFACT_FORMAT, ARTIFACT_KIND};
use rustc_hash::FxHashMap;

/// Trains on the purchases before `before` (all when `None`).
pub(super) fn train(log: &PurchaseLog, before: Option<i64>, options: &TrainOptions) -> RecommenderArtifact {
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
pub(super) fn significant(x: f64) -> f64 {
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
