//! The committed JSON Schemas under `schemas/` are the ones the loader's types generate, and
//! the shipped use-case files satisfy them.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use std::path::Path;

#[test]
fn committed_schemas_match_the_loader() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    for (name, generated) in revenue_core::spec::json_schemas() {
        let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/{name} is stale: run `cargo run --release -- schema`"
        );
    }
}

#[test]
fn schemas_describe_the_use_case_format() {
    let schemas = revenue_core::spec::json_schemas();
    let usecase: serde_json::Value = serde_json::from_str(&schemas[0].1).expect("JSON");
    let required: Vec<&str> = usecase["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for key in [
        "id",
        "version",
        "title",
        "owner",
        "status",
        "value_driver",
        "channels",
        "data",
        "algo",
        "action",
    ] {
        assert!(required.contains(&key), "{key} is required");
    }
    assert_eq!(usecase["additionalProperties"], false, "unknown keys are refused");
}
