//! The held-out evaluation: hit-rate@10 of the recommender against the popularity baseline.

use super::input::PurchaseLog;
use super::train::train;
use super::{EvaluationReport, TrainError, TrainOptions, EVALUATION_K};
use revenue_core::recommend::{RecommendScratch, Recommender};

/// Hit-rate@10 on the split at `cutoff` for the recommender and the popularity baseline.
pub(super) fn evaluate(log: &PurchaseLog, cutoff: i64, options: &TrainOptions) -> Result<EvaluationReport, TrainError> {
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
