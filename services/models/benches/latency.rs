//! Per-row latency of the native backends against tract-onnx on the test models.
//! `cargo bench -p revenue-models --bench latency` (run `scripts/make-test-models.py` first if
//! `testdata/` is missing); `cargo test --benches` runs every case once as a check.

// A bench binary: it reports on stdout and stops on a broken setup
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)]

use criterion::{criterion_group, criterion_main, Criterion};
use revenue_models::{Backend, Model, OutputSpec};
use std::hint::black_box;
use std::path::Path;

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

/// One `predict` per iteration, cycling over the test rows.
fn bench_rows(c: &mut Criterion, id: &str, model: &Model, rows: &[Vec<f32>]) {
    c.bench_function(id, |b| {
        let mut next = rows.iter().cycle();
        b.iter(|| {
            let row = next.next().expect("the test rows are not empty");
            black_box(model.predict(black_box(row)).expect("predict"))
        })
    });
}

fn predict(c: &mut Criterion) {
    let proba = OutputSpec::Probability { class: 1 };
    for name in ["gbdt_100", "lgbm_100", "xgb_100", "rf_clf", "logistic", "mlp"] {
        let (rows, bytes) = load(name);
        let n = rows[0].len();
        let default = Model::from_onnx(&bytes, n, proba).expect("load");
        let backend = format!("{:?}", default.backend());
        bench_rows(c, &format!("{name}/{backend}"), &default, &rows);
        // the general runtime on the same model, for the native backends' speed-up
        if default.backend() != Backend::Tract {
            let tract = Model::from_onnx_with_tract(&bytes, n, proba).expect("load on tract");
            bench_rows(c, &format!("{name}/Tract"), &tract, &rows);
        }
    }
}

criterion_group!(benches, predict);
criterion_main!(benches);
