//! Decaying lead points (issue 14, defect 1): the total is always read decayed to the
//! customer's clock — the latest event time seen — whatever the time of the event being
//! processed, so a late point-earning event adds its points decayed by its age relative to the
//! clock, and one state never reads two different values at one clock.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use revenue_core::duration::DAY_MS;
use revenue_core::expr::Val;
use revenue_core::spec::CatalogSpec;
use revenue_core::{decode_json, Catalog, CustomerState};

/// The reproduction's catalog, shared with replay's test of the same defect.
const CATALOG: &str = include_str!("fixtures/late_points_features.yaml");

const HALF_LIFE: i64 = 14 * DAY_MS;

fn catalog() -> Catalog {
    let spec: CatalogSpec = serde_yaml_ng::from_str(CATALOG).expect("test catalog parses");
    Catalog::compile("features.yaml", &spec).expect("test catalog compiles")
}

/// Applies the event and reads the points as the processor does when the event triggers a use
/// case: with `now` the event's own time.
fn apply_and_read(c: &Catalog, s: &mut CustomerState, json: &str) -> f64 {
    let event = decode_json(c, json.as_bytes(), None).expect("test event decodes");
    s.apply(c, &event);
    read(c, s, event.ts())
}

fn read(c: &Catalog, s: &CustomerState, now: i64) -> f64 {
    match s.read(c, c.feature("lead_points").expect("feature"), now) {
        Val::Double(x) => x,
        other => panic!("points read as {other:?}"),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[test]
fn issue_14_reproduction_reads_the_points_at_the_clock() {
    let c = catalog();
    let mut s = CustomerState::new(&c);
    let lines = [
        r#"{"customer_id":"L1","type":"webinar","ts":1741000000000,"topic":"x","minutes":45}"#,
        r#"{"customer_id":"L1","type":"support_ticket","ts":1743419200000,"severity":1}"#,
        r#"{"customer_id":"L1","type":"page_view","ts":1741086400000,"page":"pricing","product":"SKU-100","seconds":5}"#,
        r#"{"customer_id":"L1","type":"support_ticket","ts":1743419200000,"severity":1}"#,
    ];
    let read: Vec<f64> = lines.iter().map(|l| round2(apply_and_read(&c, &mut s, l))).collect();
    // 35; 35 × ¼ after 28 days; then + 11 earned a day after the webinar, read at the clock:
    // 35 × 2^(-28/14) + 11 × 2^(-27/14) = 11.64 — the same at line 3 and at line 4 (one clock)
    assert_eq!(read, [35.0, 8.75, 11.64, 11.64]);
}

/// A pricing page view (11 points), another page view (1 point) or a support ticket (none: it
/// only moves the clock).
fn event(ts: i64, kind: u8) -> (String, f64) {
    match kind {
        0 => (
            format!(r#"{{"customer_id":"c","type":"page_view","ts":{ts},"page":"pricing","product":"p","seconds":1}}"#),
            11.0,
        ),
        1 => (
            format!(r#"{{"customer_id":"c","type":"page_view","ts":{ts},"page":"home","product":"p","seconds":1}}"#),
            1.0,
        ),
        _ => (
            format!(r#"{{"customer_id":"c","type":"support_ticket","ts":{ts},"severity":1}}"#),
            0.0,
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Events in any order, many late: after each one the points read the same whatever `now`
    /// the reader passes (the triggering event's time, or the clock), and equal the points
    /// recomputed from scratch as of the clock.
    #[test]
    fn points_read_one_value_per_clock(
        steps in prop::collection::vec((0i64..3 * DAY_MS, -40 * DAY_MS..0i64, any::<bool>(), 0u8..3), 1..60)
    ) {
        let c = catalog();
        let mut s = CustomerState::new(&c);
        let mut latest = 1_741_000_000_000i64;
        let mut earned: Vec<(i64, f64)> = Vec::new();
        for (advance, back, late, kind) in steps {
            latest += advance;
            let ts = if late { latest + back } else { latest };
            let (json, points) = event(ts, kind);
            let at_event = apply_and_read(&c, &mut s, &json);
            if points > 0.0 {
                earned.push((ts, points));
            }
            let clock = s.clock;
            let at_clock = read(&c, &s, clock);
            let want: f64 = earned
                .iter()
                .map(|(t, x)| x * (-((clock - t) as f64) / HALF_LIFE as f64 * std::f64::consts::LN_2).exp())
                .sum();
            if earned.is_empty() {
                continue; // no points yet: the feature's default
            }
            prop_assert!((at_event - at_clock).abs() <= 1e-9 * want.max(1.0),
                "read at the event {} != read at the clock {}", at_event, at_clock);
            prop_assert!((at_clock - want).abs() <= 1e-9 * want.max(1.0),
                "read {} != recomputed at the clock {}", at_clock, want);
        }
    }
}
