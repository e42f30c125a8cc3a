//! The command-line contract: exit codes, files written, and what users read.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{engine, text};

#[test]
fn validate_passes_the_shipped_directories() {
    for dir in ["usecases/reference", "usecases/benchmark"] {
        let out = engine(&["validate", dir]);
        assert!(out.status.success(), "{dir}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("ok: "));
    }
}

#[test]
fn validate_lists_every_planted_mistake_and_fails() {
    let out = engine(&["validate", "services/usecases/tests/fixtures/planted"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("14 problem(s) found"), "{stderr}");
    assert!(stderr.contains("bad-usecase.yaml:12: algo.score:"), "{stderr}");
    assert!(stderr.contains("hint: did you mean `views`?"), "{stderr}");
}

#[test]
fn validate_of_a_missing_directory_says_so() {
    let out = engine(&["validate", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read use-case directory no/such/dir"));
}

#[test]
fn replay_writes_actions_and_a_summary() {
    let dir = tempfile::tempdir().expect("temp dir");
    let events = dir.path().join("events.jsonl");
    let mut lines = String::new();
    for (i, t) in ["page_view", "page_view", "email_click", "page_view"]
        .iter()
        .enumerate()
    {
        lines.push_str(&format!(
            "{{\"customer_id\":\"c7\",\"type\":\"{t}\",\"ts\":{i},\"amount\":0.0,\"product\":\"p1\"}}\n"
        ));
    }
    lines.push_str("{broken\n");
    std::fs::write(&events, lines).expect("write");
    let out_file = dir.path().join("actions.jsonl");
    let summary_file = dir.path().join("summary.json");
    let out = engine(&[
        "replay",
        "--use-cases",
        "usecases/benchmark",
        "--events",
        events.to_str().expect("utf-8"),
        "--out",
        out_file.to_str().expect("utf-8"),
        "--summary-json",
        summary_file.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("replayed 4 events (1 customers)"), "{stdout}");
    assert!(stdout.contains("warmup→warmup_email/email: 1"), "{stdout}");
    assert!(
        text(&out.stderr).contains("line 5:"),
        "the malformed line is named: {}",
        text(&out.stderr)
    );
    let actions = std::fs::read_to_string(&out_file).expect("actions written");
    let action: serde_json::Value = serde_json::from_str(actions.trim()).expect("one JSON action");
    assert_eq!(action["customer_id"], "c7");
    assert_eq!(action["action_type"], "warmup_email");
    assert_eq!(action["payload"]["page_views"], 3);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_file).expect("summary")).expect("JSON");
    assert_eq!(summary["malformed"], 1);
    assert_eq!(summary["use_cases"][0]["customers_reached"], 1);
}
