//! The acceptance scenario of measurement: a generator plants a known conversion uplift for
//! treated customers; replay (the engine's evaluation) must measure it within its interval, and
//! an uplift of zero must not be reported as significant.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use revenue_core::{SourceFile, UseCaseSet};
use revenue_replay::{replay, ReplayOptions, ReplaySummary};
use revenue_tools::uplift::{plant_uplift, UpliftConfig};
use std::sync::Arc;

const T0: i64 = 1_767_571_200_000;
const DAY: i64 = 86_400_000;

fn set() -> Arc<UseCaseSet> {
    let files = [
        ("features.yaml", "event_types:\n  visit: {fields: {page: string}}\n  order: {fields: {amount: double}}\nfeatures:\n  visits: {kind: count, events: [visit]}\n"),
        ("policy.yaml", "attribution: {window: 30d, conversions: [{event: order, value: event.amount}]}\nchannels: {email: {cost: 0.5}}\n"),
        ("offer.yaml", "id: offer\nversion: 1\ntitle: t\nowner: o\nstatus: live\nvalue_driver: top-line\nchannels: [email]\ndata: {triggers: [visit], features: [visits]}\nalgo: {rule: visits >= 1}\naction: {tiers: [{name: mail, when: 'true', type: email, topic: out}]}\nholdout: {share: 0.5, salt: uplift-test}\n"),
    ];
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, text)| SourceFile {
            path: path.to_string(),
            text: text.to_string(),
        })
        .collect();
    Arc::new(UseCaseSet::compile(&files).expect("scenario compiles"))
}

fn scenario(uplift: f64, seed: u64) -> (ReplaySummary, revenue_tools::uplift::Planted, UpliftConfig) {
    let set = set();
    let visits = (0..6_000).map(|i| {
        format!(
            r#"{{"customer_id":"c{i}","type":"visit","ts":{},"page":"home"}}"#,
            T0 + i * 60_000
        )
    });
    let config = UpliftConfig {
        base_rate: 0.05,
        uplift,
        value: 400.0,
        window_ms: 20 * DAY,
        conversion_event: "order".into(),
        value_field: "amount".into(),
        seed,
    };
    let (events, planted) = plant_uplift(set.clone(), visits, &config);
    let input = events.join("\n");
    let summary = replay(
        set,
        input.as_bytes(),
        std::io::sink(),
        &ReplayOptions::default(),
        |_| {},
    )
    .expect("replay");
    (summary, planted, config)
}

#[test]
fn a_planted_uplift_is_measured_within_its_interval() {
    let mut covered = 0;
    let mut revenue_covered = 0;
    for seed in 1..=5 {
        let (summary, planted, config) = scenario(0.03, seed);
        let m = summary.use_cases[0].measurement.as_ref().expect("measured");
        // the generator's groups are the replay's exposures, one per customer
        assert_eq!(m.treatment.exposed, planted.treated);
        assert_eq!(m.control.exposed, planted.control);
        assert_eq!(m.treatment.exposed + m.control.exposed, 6_000);
        assert_eq!(m.treatment.converted, planted.conversions_treated);
        assert!((m.control.revenue - planted.revenue_control).abs() < 1e-6);
        let lift = m.lift.expect("both groups exposed");
        println!(
            "seed {seed}: difference {:.4} [{:.4}, {:.4}], incremental revenue {:.0} [{:.0}, {:.0}]",
            lift.rate_difference.estimate,
            lift.rate_difference.lower,
            lift.rate_difference.upper,
            lift.incremental_revenue.map_or(0.0, |i| i.estimate),
            lift.incremental_revenue.map_or(0.0, |i| i.lower),
            lift.incremental_revenue.map_or(0.0, |i| i.upper),
        );
        assert!(lift.significant, "a 3-point uplift on 3,000 per group is detectable");
        covered += u32::from(lift.rate_difference.contains(config.uplift));
        let planted_revenue = config.uplift * config.value * m.treatment.exposed as f64;
        revenue_covered += u32::from(lift.incremental_revenue.expect("revenue").contains(planted_revenue));
        // cost and ROI: every emitted e-mail costs 0.5
        let uc = &summary.use_cases[0];
        assert_eq!(uc.cost, 0.5 * m.treatment.exposed as f64);
        assert!(uc.roi.is_some());
    }
    // 95 % intervals: all five, or four by bad luck
    assert!(
        covered >= 4,
        "the planted uplift was inside the interval {covered} of 5 times"
    );
    assert!(
        revenue_covered >= 4,
        "the planted revenue was inside the interval {revenue_covered} of 5 times"
    );
}

#[test]
fn zero_uplift_is_not_reported_as_significant() {
    let mut significant = 0;
    for seed in 1..=5 {
        let (summary, _, _) = scenario(0.0, seed);
        let lift = summary.use_cases[0]
            .measurement
            .as_ref()
            .and_then(|m| m.lift)
            .expect("lift");
        assert!(lift.rate_difference.contains(0.0) || lift.significant);
        significant += u32::from(lift.significant);
    }
    assert!(
        significant <= 1,
        "zero uplift looked significant {significant} of 5 times"
    );
}
