//! `replay` over recorded events: the benchmark's exact expected counts, malformed lines, and
//! the shipped reference use cases.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use revenue_core::Mode;
use revenue_replay::{replay, ReplayOptions};
use revenue_testkit::{bench_bytes, usecases};
use revenue_usecases::load_dir;
use std::io::{BufReader, Cursor};
use std::sync::Arc;

fn run(dir: &str, input: &[u8], mode: Mode) -> (revenue_replay::ReplaySummary, Vec<serde_json::Value>) {
    let set = Arc::new(load_dir(&usecases(dir)).expect("loads"));
    let mut out = Vec::new();
    let options = ReplayOptions {
        mode,
        source_name: "test".into(),
        ..ReplayOptions::default()
    };
    let summary = replay(set, BufReader::new(Cursor::new(input)), &mut out, &options, |_| {}).expect("replays");
    let actions = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("each output line is JSON"))
        .collect();
    (summary, actions)
}

#[test]
fn benchmark_20k_gives_exactly_the_reference_result() {
    let events = bench_bytes(20_000, 2_000);
    let (summary, actions) = run("benchmark", &events, Mode::Engine);
    assert_eq!(summary.events, 20_000);
    assert_eq!(summary.malformed, 0);
    assert_eq!(actions.len(), 1_982);
    let count = |t: &str| actions.iter().filter(|a| a["action_type"] == t).count();
    assert_eq!(count("telemarketing_handoff"), 277);
    assert_eq!(count("warmup_email"), 1_705);
    let score_sum: f64 = actions.iter().map(|a| a["score"].as_f64().expect("score")).sum();
    assert!(
        (score_sum - 21_628.50).abs() < 0.01,
        "score sum {score_sum}: round() must match the reference exactly"
    );
    // the contract fields of every action
    for a in &actions {
        for key in [
            "action_id",
            "use_case_id",
            "use_case_version",
            "action_type",
            "customer_id",
            "tier",
            "payload",
        ] {
            assert!(!a[key].is_null(), "{key} missing in {a}");
        }
    }
    let ids: std::collections::HashSet<&str> = actions.iter().map(|a| a["action_id"].as_str().expect("id")).collect();
    assert_eq!(ids.len(), actions.len(), "action ids are unique");
    let uc = &summary.use_cases[0];
    assert_eq!((uc.evaluations, uc.actions), (20_000, 1_982));
    assert_eq!(uc.actions_by_channel["email"], 1_705);
    assert_eq!(uc.actions_by_channel["telemarketing"], 277);
    // each customer gets each action at most once
    let mut pairs = std::collections::HashSet::new();
    for a in &actions {
        assert!(
            pairs.insert((a["customer_id"].to_string(), a["tier"].to_string())),
            "repeated {a}"
        );
    }
}

#[test]
fn replay_is_deterministic() {
    let events = bench_bytes(5_000, 500);
    let (_, first) = run("benchmark", &events, Mode::Engine);
    let (_, second) = run("benchmark", &events, Mode::Engine);
    assert_eq!(first, second);
}

#[test]
fn malformed_lines_are_reported_with_their_numbers_and_replay_goes_on() {
    let input = br#"{"customer_id":"c1","type":"page_view","ts":1,"amount":0.0,"product":"p1"}
not json at all
{"customer_id":"c1","type":"page_view","ts":2,"amount":"lots","product":"p1"}
{"type":"page_view","ts":3}
{"customer_id":"c1","type":"page_view","ts":4,"amount":0.0,"product":"p1"}
{"customer_id":"c1","type":"page_view","amount":0.0}

{"customer_id":"c1","type":"email_click","ts":5,"amount":0.0,"product":"p1"}
{"customer_id":"c1","type":"unknown_kind","ts":6}
{"customer_id":"c1","type":"page_view","ts":7,"amount":0.0,"product":"p1"}
{"customer_id":"c1","type":"page_view","ts":9223372036854775807,"amount":0.0,"product":"p1"}
{"customer_id":"c1","type":"page_view","ts":-5,"amount":0.0,"product":"p1"}
"#;
    let (summary, actions) = run("benchmark", input, Mode::Engine);
    assert_eq!(summary.malformed, 6);
    let lines: Vec<(u64, &str)> = summary
        .malformed_lines
        .iter()
        .map(|m| (m.line, m.reason.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (2, "invalid_json"),
            (3, "wrong_field_type"),
            (4, "missing_customer_id"),
            (6, "missing_timestamp"),
            (11, "timestamp_out_of_range"),
            (12, "timestamp_out_of_range")
        ]
    );
    assert!(
        summary.malformed_lines[1].detail.contains("`amount`"),
        "{}",
        summary.malformed_lines[1].detail
    );
    assert_eq!(
        summary.events, 5,
        "the good lines after the bad ones were all processed"
    );
    assert_eq!(summary.unknown_event_type, 1);
    // 3 page views and a click: the warm-up fires on the third page view (line 10)
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["action_type"], "warmup_email");
    assert_eq!(actions[0]["source"]["offset"], 10);
}

#[test]
fn reference_use_cases_act_on_realistic_events() {
    const DAY: i64 = 86_400_000;
    // 10:00 UTC: business hours in Berlin, outside the reference policy's quiet hours
    let t0 = 1_700_006_400_000i64 + 10 * 3_600_000;
    let mut lines = Vec::new();
    let mut push = |v: serde_json::Value| lines.push(v.to_string());
    // telecom: a company with one service, engaged on pricing and webinars
    push(
        serde_json::json!({"customer_id":"acme","type":"company_profile","ts":t0,"industry":"logistics","employees":250,"revenue_meur":40.0,"region":"DACH"}),
    );
    push(
        serde_json::json!({"customer_id":"acme","type":"contract","ts":t0 + 1,"service":"mobile","monthly_value":900.0}),
    );
    for i in 0..3 {
        push(serde_json::json!({"customer_id":"acme","type":"page_view","ts":t0 + DAY + i,"page":"pricing"}));
    }
    push(serde_json::json!({"customer_id":"acme","type":"webinar","ts":t0 + 2 * DAY,"topic":"5G"}));
    for i in 0..2 {
        push(serde_json::json!({"customer_id":"acme","type":"page_view","ts":t0 + 3 * DAY + i,"page":"pricing"}));
    }
    push(serde_json::json!({"customer_id":"acme","type":"email_click","ts":t0 + 4 * DAY,"campaign":"5g"}));
    // distributor: a buyer of one product who then browses many
    push(serde_json::json!({"customer_id":"shop","type":"purchase","ts":t0,"product":"p-0001","amount":120.0}));
    for i in 0..12 {
        push(
            serde_json::json!({"customer_id":"shop","type":"page_view","ts":t0 + DAY + i,"page":"product","product":format!("p-000{}", i % 5 + 2)}),
        );
    }
    let input = lines.join("\n");
    let (summary, actions) = run("reference", input.as_bytes(), Mode::Engine);
    assert_eq!(summary.malformed, 0);
    let of = |uc: &str| actions.iter().filter(|a| a["use_case_id"] == uc).collect::<Vec<_>>();
    // the ONNX propensity model (onnxruntime's outputs for the same rows): 3 pricing views and a
    // webinar → 0.5727, medium; two more pricing views (0.588, 0.673) are held back by the
    // medium tier's cooldown; then an e-mail click → 0.7075, high
    let telecom: Vec<(&str, &str, f64)> = of("telecom-cross-sell")
        .iter()
        .map(|a| {
            (
                a["tier"].as_str().unwrap_or_default(),
                a["action_type"].as_str().unwrap_or_default(),
                a["score"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(telecom.len(), 2, "{telecom:?}");
    assert_eq!((telecom[0].0, telecom[0].1), ("medium", "warmup_campaign"));
    assert!((telecom[0].2 - 0.57273).abs() < 1e-4, "{telecom:?}");
    assert_eq!((telecom[1].0, telecom[1].1), ("high", "telemarketing_handoff"));
    assert!((telecom[1].2 - 0.70750).abs() < 1e-4, "{telecom:?}");
    // recommendations: every action carries five products, best first, never the one bought;
    // the tier follows the best product's score (email from 0.5, web below); the tenth product
    // view in a week hands the buyer to field sales
    let recos = of("distributor-recommendations");
    assert!(!recos.is_empty());
    for action in &recos {
        let products = action["recommendations"].as_array().expect("recommendations");
        assert_eq!(products.len(), 5, "{action}");
        let scores: Vec<f64> = products
            .iter()
            .map(|p| p["score"].as_f64().unwrap_or_default())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");
        assert!(
            products.iter().all(|p| p["product"] != "p-0001"),
            "never what was bought"
        );
        assert_eq!(action["score"].as_f64(), Some(scores[0]));
        let expected_tier = if action["tier"] == "field-sales" {
            "field-sales"
        } else if scores[0] >= 0.5 {
            "email"
        } else {
            "web"
        };
        assert_eq!(action["tier"], expected_tier, "{action}");
    }
    assert_eq!(recos.last().map(|a| a["tier"].clone()), Some("field-sales".into()));
    assert_eq!(recos.last().map(|a| a["action_type"].clone()), Some("crm_task".into()));
    let summary_of = |id: &str| summary.use_cases.iter().find(|u| u.id == id).expect("summary");
    assert_eq!(summary_of("distributor-recommendations").customers_reached, 1);
}
