//! Per-row latency of the native backends against tract-onnx on the test models.
//! `cargo bench -p revenue-models --bench latency` (run `scripts/make-test-models.py` first if
//! `testdata/` is missing).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::disallowed_methods
)] // a bench binary: it reports on stdout and stops on a broken setup

use revenue_models::{Model, OutputSpec};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// Test rows of a `testdata/<name>.json` case (NaN for `null`) and the model's bytes.
fn load(name: &str) -> (Vec<Vec<f32>>, Vec<u8>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).expect("json")).expect("parse");
    let rows = json["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|v| v.as_f64().map_or(f32::NAN, |v| v as f32))
                .collect()
        })
        .collect();
    (rows, std::fs::read(dir.join(format!("{name}.onnx"))).expect("onnx"))
}

/// Mean µs per `predict`, cycling over the rows for about half a second.
fn micros_per_row(model: &Model, rows: &[Vec<f32>]) -> f64 {
    for row in rows {
        black_box(model.predict(row).expect("predict"));
    }
    let budget = Duration::from_millis(500);
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < budget {
        for row in rows {
            black_box(model.predict(black_box(row)).expect("predict"));
        }
        n += rows.len() as u64;
    }
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let proba = OutputSpec::Probability { class: 1 };
    println!("{:<12} {:<12} {:>10}", "model", "backend", "µs/row");
    for name in ["gbdt_100", "lgbm_100", "xgb_100", "rf_clf", "logistic", "mlp"] {
        let (rows, bytes) = load(name);
        let n = rows[0].len();
        let mut runs = vec![];
        let default = Model::from_onnx(&bytes, n, proba).expect("load");
        runs.push((format!("{:?}", default.backend()), micros_per_row(&default, &rows)));
        if default.backend() != revenue_models::Backend::Tract {
            let tract = Model::from_onnx_with_tract(&bytes, n, proba).expect("load on tract");
            runs.push(("Tract".into(), micros_per_row(&tract, &rows)));
        }
        let native = runs[0].1;
        for (i, (backend, us)) in runs.iter().enumerate() {
            let ratio = if i > 0 {
                format!("  ({:.0}x native)", us / native)
            } else {
                String::new()
            };
            println!("{name:<12} {backend:<12} {us:>10.2}{ratio}");
        }
    }
}
