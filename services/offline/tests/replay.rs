//! `replay` over recorded events: the benchmark's exact expected counts, malformed lines, and
//! the shipped reference use cases.

mod common;

use revenue_core::Mode;
use revenue_offline::{load_dir, replay, ReplayOptions};
use std::io::{BufReader, Cursor};
use std::sync::Arc;

fn run(dir: &str, input: &[u8], mode: Mode) -> (revenue_offline::ReplaySummary, Vec<serde_json::Value>) {
    let set = Arc::new(load_dir(&common::usecases(dir)).expect("loads"));
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
    let dir = tempfile::tempdir().expect("temp dir");
    let events = std::fs::read(common::bench_events(dir.path(), 20_000, 2_000)).expect("read");
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
    let dir = tempfile::tempdir().expect("temp dir");
    let events = std::fs::read(common::bench_events(dir.path(), 5_000, 500)).expect("read");
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
"#;
    let (summary, actions) = run("benchmark", input, Mode::Engine);
    assert_eq!(summary.malformed, 4);
    let lines: Vec<(u64, &str)> = summary.malformed_lines.iter().map(|m| (m.line, m.reason)).collect();
    assert_eq!(
        lines,
        [
            (2, "invalid_json"),
            (3, "wrong_field_type"),
            (4, "missing_customer_id"),
            (6, "missing_timestamp")
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
    let t0 = 1_700_006_400_000i64;
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
    // distributor: a buyer browsing many products
    push(serde_json::json!({"customer_id":"shop","type":"purchase","ts":t0,"product":"p1","amount":120.0}));
    for i in 0..8 {
        push(
            serde_json::json!({"customer_id":"shop","type":"page_view","ts":t0 + DAY + i,"page":"product","product":format!("p{}", i % 5)}),
        );
    }
    let input = lines.join("\n");
    let (summary, actions) = run("reference", input.as_bytes(), Mode::Engine);
    assert_eq!(summary.malformed, 0);
    let of = |uc: &str| actions.iter().filter(|a| a["use_case_id"] == uc).collect::<Vec<_>>();
    // readiness 0.2 (250 employees) + 0.1 (one service) + 0.15 per pricing view: the first view
    // reaches medium (0.45), the third high (0.75); the webinar (0.95) is inside the cooldown
    let telecom: Vec<(&str, &str)> = of("telecom-cross-sell")
        .iter()
        .map(|a| {
            (
                a["tier"].as_str().unwrap_or_default(),
                a["action_type"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        telecom,
        [("medium", "warmup_campaign"), ("high", "telemarketing_handoff")]
    );
    // score 0.5 per product view (7d) + 0.3 per distinct product (30d) + 1.0 (bought < 30 days
    // ago): views 1, 3 and 5 cross into web (1.8), email (3.4) and field sales (5.0)
    let recos = of("distributor-recommendations");
    let tiers: Vec<&str> = recos.iter().map(|a| a["tier"].as_str().unwrap_or_default()).collect();
    assert_eq!(tiers, ["web", "email", "field-sales"]);
    assert_eq!(recos[2]["payload"]["product"], "p4");
    assert_eq!(recos[2]["action_type"], "crm_task");
    let summary_of = |id: &str| summary.use_cases.iter().find(|u| u.id == id).expect("summary");
    assert_eq!(summary_of("distributor-recommendations").customers_reached, 1);
}
