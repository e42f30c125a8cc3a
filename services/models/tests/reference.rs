//! Every model in `testdata/` (written by `scripts/make-test-models.py`) against the exporting
//! library's own predictions, plus the load-time refusals.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

use revenue_models::{Backend, Model, ModelError, OutputSpec};
use serde::Deserialize;
use std::path::{Path, PathBuf};

const TOLERANCE: f64 = 1e-5;

#[derive(Deserialize)]
struct Case {
    n_inputs: usize,
    output: String,
    class: usize,
    /// `null` stands for NaN (a missing value).
    inputs: Vec<Vec<Option<f64>>>,
    expected: Vec<f64>,
    /// Model path relative to `testdata/` when it is not `<name>.onnx`.
    model: Option<String>,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn case(name: &str) -> (Case, Vec<u8>) {
    let dir = testdata();
    let json = read(&dir.join(format!("{name}.json")));
    let case: Case = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("{name}.json: {e}"));
    let model = match &case.model {
        Some(p) => dir.join(p),
        None => dir.join(format!("{name}.onnx")),
    };
    (case, read(&model))
}

fn spec(case: &Case) -> OutputSpec {
    match case.output.as_str() {
        "probability" => OutputSpec::Probability { class: case.class },
        "value" => OutputSpec::Value,
        other => panic!("unknown output {other}"),
    }
}

fn rows(case: &Case) -> Vec<Vec<f32>> {
    case.inputs
        .iter()
        .map(|r| r.iter().map(|v| v.map_or(f32::NAN, |v| v as f32)).collect())
        .collect()
}

/// Largest |prediction - expected| over the case's rows.
fn max_diff(model: &Model, case: &Case) -> f64 {
    assert_eq!(case.inputs.len(), case.expected.len());
    rows(case)
        .iter()
        .zip(&case.expected)
        .map(|(row, want)| {
            let got = model.predict(row).expect("predict");
            assert!(got.is_finite(), "prediction {got} for {row:?}");
            (got - want).abs()
        })
        .fold(0.0, f64::max)
}

/// The backend each test model must get.
fn expected_backend(name: &str) -> Backend {
    match name {
        "mlp" => Backend::Tract,
        "logistic" | "scaler_logistic" | "logistic_3class" | "linear_reg" | "handmade_linear_single_row" => {
            Backend::NativeLinear
        }
        "gbdt_100"
        | "lgbm_100"
        | "xgb_100"
        | "rf_clf"
        | "rf_reg"
        | "lgbm_reg"
        | "telecom_cross_sell"
        | "handmade_reg_average"
        | "handmade_reg_min"
        | "handmade_reg_max"
        | "handmade_clf_softmax" => Backend::NativeTrees,
        other => panic!("testdata/{other}.json: add the model's expected backend to this test"),
    }
}

fn case_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(testdata())
        .expect("testdata")
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "json" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_model_matches_the_exporters_predictions() {
    let names = case_names();
    assert!(
        names.len() >= 10,
        "testdata has {} cases; run scripts/make-test-models.py",
        names.len()
    );
    let mut failures = Vec::new();
    for name in &names {
        let (case, bytes) = case(name);
        let model = Model::from_onnx(&bytes, case.n_inputs, spec(&case)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(model.backend(), expected_backend(name), "{name}");
        assert_eq!(model.n_inputs(), case.n_inputs);
        let diff = max_diff(&model, &case);
        println!("{name:28} {:?} max diff {diff:.2e}", model.backend());
        if diff > TOLERANCE {
            failures.push(format!("{name}: max diff {diff:e}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// tract on the same classifiers (forced): the fallback path and the benchmark's reference.
#[test]
fn tract_agrees_where_it_runs() {
    for name in ["logistic", "gbdt_100", "lgbm_100", "xgb_100", "rf_clf", "mlp"] {
        let (case, bytes) = case(name);
        let model = Model::from_onnx_with_tract(&bytes, case.n_inputs, spec(&case))
            .unwrap_or_else(|e| panic!("{name} on tract: {e}"));
        assert_eq!(model.backend(), Backend::Tract);
        let diff = max_diff(&model, &case);
        assert!(diff <= TOLERANCE, "{name} on tract: max diff {diff:e}");
    }
}

#[test]
fn telecom_reference_model_has_six_inputs_and_spreads_over_the_tiers() {
    let (case, bytes) = case("telecom_cross_sell");
    assert_eq!(
        case.model.as_deref(),
        Some("../../../usecases/reference/models/telecom-cross-sell.onnx")
    );
    let model = Model::from_onnx(&bytes, 6, OutputSpec::Probability { class: 1 }).expect("load");
    assert_eq!(model.backend(), Backend::NativeTrees);
    assert_eq!(model.class_labels(), Some(&["0".to_string(), "1".to_string()][..]));
    // active_services, monthly_contract_value, employees, pricing_views_30d, email_clicks_30d, webinars_90d
    let cold = model.predict(&[3.0, 1200.0, 20.0, 0.0, 0.0, 0.0]).expect("cold");
    let engaged = model.predict(&[1.0, 300.0, 250.0, 6.0, 4.0, 2.0]).expect("engaged");
    assert!(cold < 0.3, "cold customer {cold}");
    assert!(engaged >= 0.7, "engaged customer {engaged}");
    let medium = case.expected.iter().filter(|&&p| (0.4..0.7).contains(&p)).count();
    let high = case.expected.iter().filter(|&&p| p >= 0.7).count();
    assert!(
        medium >= 10 && high >= 5,
        "medium {medium}, high {high} of {}",
        case.expected.len()
    );
}

fn refusal(result: Result<Model, ModelError>) -> String {
    match result {
        Ok(m) => panic!("loaded, expected a refusal: {m:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn wrong_input_width_is_refused_naming_both_counts() {
    for name in ["gbdt_100", "logistic", "mlp", "lgbm_reg"] {
        let (case, bytes) = case(name);
        for n in [case.n_inputs - 1, case.n_inputs + 1] {
            let msg = refusal(Model::from_onnx(&bytes, n, spec(&case)));
            assert!(
                msg.contains(&format!("has {} columns", case.n_inputs))
                    && msg.contains(&format!("maps {n} features"))
                    && msg.contains("algo.model.inputs"),
                "{name}: {msg}"
            );
        }
    }
    let msg = refusal(Model::from_onnx(
        &case("logistic").1,
        0,
        OutputSpec::Probability { class: 1 },
    ));
    assert!(msg.contains("no features"), "{msg}");
}

#[test]
fn garbage_is_not_an_onnx_model() {
    for bytes in [
        &b""[..],
        b"\x00\x01\x02 definitely not a protobuf \xff\xff\xff\xff",
        b"{\"n_inputs\": 6}",
    ] {
        let err = Model::from_onnx(bytes, 6, OutputSpec::Probability { class: 1 }).expect_err("garbage");
        assert!(matches!(err, ModelError::NotOnnx(_)), "{err:?}");
        assert!(err.to_string().starts_with("not an ONNX model: "), "{err}");
    }
}

#[test]
fn output_spec_must_fit_the_model() {
    let (_, clf) = case("gbdt_100");
    let msg = refusal(Model::from_onnx(&clf, 6, OutputSpec::Probability { class: 2 }));
    assert!(
        msg.contains("class 2") && msg.contains("2 classes") && msg.contains("algo.model.class"),
        "{msg}"
    );
    let msg = refusal(Model::from_onnx(&clf, 6, OutputSpec::Value));
    assert!(
        msg.contains("classifier") && msg.contains("output: probability"),
        "{msg}"
    );

    let (_, reg) = case("rf_reg");
    let msg = refusal(Model::from_onnx(&reg, 6, OutputSpec::Probability { class: 1 }));
    assert!(msg.contains("regressor") && msg.contains("output: value"), "{msg}");
    let (_, reg) = case("linear_reg");
    let msg = refusal(Model::from_onnx(&reg, 6, OutputSpec::Probability { class: 0 }));
    assert!(msg.contains("regressor"), "{msg}");

    // tract graphs are checked against the output's shape.
    let (_, mlp) = case("mlp");
    let msg = refusal(Model::from_onnx(&mlp, 6, OutputSpec::Probability { class: 2 }));
    assert!(msg.contains("class 2") && msg.contains("2 column"), "{msg}");
    let msg = refusal(Model::from_onnx(&mlp, 6, OutputSpec::Value));
    assert!(msg.contains("2 columns"), "{msg}");
}

#[test]
fn zipmap_output_is_refused_with_a_hint() {
    let bytes = read(&testdata().join("zipmap.onnx"));
    let msg = refusal(Model::from_onnx(&bytes, 6, OutputSpec::Probability { class: 1 }));
    assert!(msg.contains("ZipMap") && msg.contains("zipmap=False"), "{msg}");
}

#[test]
fn wrong_row_length_is_an_error_not_a_panic() {
    for name in ["gbdt_100", "logistic", "mlp", "scaler_logistic"] {
        let (case, bytes) = case(name);
        let model = Model::from_onnx(&bytes, case.n_inputs, spec(&case)).expect("load");
        for len in [0, case.n_inputs - 1, case.n_inputs + 1] {
            let err = model.predict(&vec![0.5; len]).expect_err("wrong length");
            assert!(
                matches!(err, ModelError::RowLength { expected, got } if expected == case.n_inputs && got == len),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn models_are_shared_across_threads() {
    let (case, bytes) = case("mlp");
    let model = std::sync::Arc::new(Model::from_onnx(&bytes, case.n_inputs, spec(&case)).expect("load"));
    let rows = rows(&case);
    std::thread::scope(|s| {
        for t in 0..4 {
            let model = &model;
            let rows = &rows;
            let expected = &case.expected;
            s.spawn(move || {
                for (row, want) in rows.iter().zip(expected).skip(t).step_by(4) {
                    let got = model.predict(row).expect("predict");
                    assert!((got - want).abs() <= TOLERANCE);
                }
            });
        }
    });
}
