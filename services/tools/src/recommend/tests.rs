//! Training on small hand-made and synthetic purchase files: counts, shrinkage, evaluation,
//! refusals.

use super::train::significant;
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
