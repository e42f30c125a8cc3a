//! `synthetic` → `train-recommender`: the artifact loads in the engine's core and beats the
//! popularity baseline on the held-out split.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use revenue_core::recommend::Recommender;
use std::path::Path;
use std::process::{Command, Output};

fn engine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_revenue-engine"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .output()
        .expect("binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[test]
fn trains_on_synthetic_events_and_beats_popularity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let out = engine(&[
        "synthetic",
        "--out",
        path(&events),
        "--companies",
        "2000",
        "--events",
        "60000",
        "--days",
        "90",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("wrote 60000 synthetic events"),
        "{}",
        text(&out.stdout)
    );

    let artifact = dir.path().join("recommender.json");
    let out = engine(&[
        "train-recommender",
        "--events",
        path(&events),
        "--out",
        path(&artifact),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let evaluation = &report["evaluation"];
    let rate = |key: &str| evaluation[key].as_f64().unwrap_or_else(|| panic!("{key}: {report}"));
    let (recommender, popularity) = (rate("recommender_hit_rate"), rate("popularity_hit_rate"));
    println!(
        "hit-rate@10: recommender {recommender:.3}, popularity {popularity:.3}, {} customers",
        evaluation["customers_evaluated"]
    );
    assert!(
        evaluation["customers_evaluated"].as_u64().is_some_and(|n| n >= 30),
        "{report}"
    );
    assert!(recommender > popularity, "{report}");
    assert_eq!(report["model"]["trained_on"], "all purchases");

    let bytes = std::fs::read(&artifact).expect("artifact written");
    let model = Recommender::from_json(&bytes).expect("the engine's core loads the artifact");
    assert!(model.len() >= 100, "{} products", model.len());
    assert!(model.index_of("p-0001").is_some());

    // the human report names both hit-rates
    let out = engine(&["train-recommender", "--events", path(&events), "--out", path(&artifact)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("hit-rate@10  recommender"), "{stdout}");
    assert!(stdout.contains("hit-rate@10  popularity"), "{stdout}");
    assert!(stdout.contains("retrained on all purchases"), "{stdout}");
}

#[test]
fn a_missing_events_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let artifact = dir.path().join("recommender.json");
    let out = engine(&[
        "train-recommender",
        "--events",
        "no/such/events.jsonl",
        "--out",
        path(&artifact),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot open events file no/such/events.jsonl"),
        "{stderr}"
    );
    assert!(!artifact.exists());
}

#[test]
fn events_without_purchases_say_how_to_name_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = dir.path().join("orders.jsonl");
    std::fs::write(
        &events,
        "{\"customer_id\":\"c1\",\"type\":\"order\",\"ts\":1,\"sku\":\"a\"}\n{broken\n",
    )
    .expect("write");
    let artifact = dir.path().join("recommender.json");
    let out = engine(&["train-recommender", "--events", path(&events), "--out", path(&artifact)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot train a recommender from"), "{stderr}");
    assert!(stderr.contains("event types seen: order (1)"), "{stderr}");
    assert!(stderr.contains("--purchase-type"), "{stderr}");
}
