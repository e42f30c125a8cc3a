//! Issue 14, defect 1: lead points are read decayed to the customer's clock (the latest event
//! time seen), so a late point-earning event adds its points decayed by its age relative to the
//! clock and cannot make earlier points count again.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use revenue_core::{Mode, SourceFile, UseCaseSet};
use revenue_replay::{replay_with_decisions, ReplayOptions};
use std::io::{BufReader, Cursor};
use std::sync::Arc;

/// The reproduction's catalog, shared with the core's test of the same defect.
const FEATURES: &str = include_str!("../../core/tests/fixtures/late_points_features.yaml");

const LEAD_SCORING: &str = r#"
id: lead-scoring
version: 1
title: MQL to sales
owner: marketing
status: live
priority: 50
value_driver: top-line
channels: [crm]
data: {triggers: [page_view, webinar, support_ticket], features: [lead_points]}
algo:
  score: lead_points
  funnel: {topic: funnel.stages, stages: [{name: MQL, min_score: 40.0}]}
action:
  retrigger: {cooldown: 30d}
  tiers:
    - {name: mql, min_score: 40.0, type: crm_task, topic: actions.crm, payload: {lead_score: 'score'}}
"#;

/// The reproduction of issue 14: a webinar (35 points), a support ticket 28 days later (the
/// clock), then a pricing page view from the day after the webinar arriving late, and another
/// ticket at the same clock.
const EVENTS: &str = r#"{"customer_id":"L1","type":"webinar","ts":1741000000000,"topic":"x","minutes":45}
{"customer_id":"L1","type":"support_ticket","ts":1743419200000,"severity":1}
{"customer_id":"L1","type":"page_view","ts":1741086400000,"page":"pricing","product":"SKU-100","seconds":5}
{"customer_id":"L1","type":"support_ticket","ts":1743419200000,"severity":1}
"#;

#[test]
fn a_late_point_earning_event_is_read_at_the_customers_clock() {
    let files = [
        SourceFile {
            path: "features.yaml".into(),
            text: FEATURES.into(),
        },
        SourceFile {
            path: "lead-scoring.yaml".into(),
            text: LEAD_SCORING.into(),
        },
    ];
    let set = Arc::new(UseCaseSet::compile(&files).expect("compiles"));
    let options = ReplayOptions {
        mode: Mode::Engine,
        source_name: "late".into(),
        ..ReplayOptions::default()
    };
    let mut out = Vec::new();
    let mut decisions = Vec::new();
    let summary = replay_with_decisions(
        set,
        BufReader::new(Cursor::new(EVENTS.as_bytes())),
        &mut out,
        Some(&mut decisions),
        &options,
        |_| {},
    )
    .expect("replays");
    assert_eq!(summary.events, 4);
    assert_eq!(summary.malformed, 0);
    // at the clock (28 days after the webinar) the points are 35 × ¼ + 11 × 2^(-27/14) ≈ 11.64:
    // below the MQL threshold of 40, so no stage change and no CRM task
    assert!(
        out.is_empty(),
        "nothing may fire at the clock, got: {}",
        String::from_utf8_lossy(&out)
    );
}
