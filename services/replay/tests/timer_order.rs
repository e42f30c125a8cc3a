//! Issue 14 (reference model): replay's one event-time clock. Before each event and at the end
//! of the input, everything due by the latest event time read so far fires, earliest first
//! across customers (of equal times by customer id) — also what a late event started.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use revenue_core::{Mode, SourceFile, UseCaseSet};
use revenue_replay::{replay, ReplayOptions};
use std::io::{BufReader, Cursor};
use std::sync::Arc;

const T0: i64 = 1_700_006_400_000;
const H: i64 = 3_600_000;

const FEATURES: &str = "event_types:\n  view: {fields: {page: string}}\n  buy: {fields: {amount: double}}\nfeatures:\n  buys: {kind: count, events: [buy]}\n";

fn use_case(id: &str, after: &str) -> SourceFile {
    SourceFile {
        path: format!("{id}.yaml"),
        text: format!(
            "id: {id}\nversion: 1\ntitle: t\nowner: o\nstatus: live\nvalue_driver: top-line\nchannels: [crm]\ndata: {{features: [buys], timer: {{after: {after}, start_on: [buy]}}}}\nalgo: {{rule: 'true'}}\naction: {{tiers: [{{name: t, when: 'true', type: crm_task, topic: a}}]}}\n"
        ),
    }
}

/// The timer actions replay writes for `events` (customer, type, hours after T0): (customer,
/// use case, hours after T0).
fn timer_actions(events: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    let files = vec![
        SourceFile {
            path: "features.yaml".into(),
            text: FEATURES.into(),
        },
        use_case("soon", "24h"),
        use_case("later", "72h"),
    ];
    let set = Arc::new(UseCaseSet::compile(&files).unwrap_or_else(|e| panic!("{e:?}")));
    let lines: String = events
        .iter()
        .map(|(c, t, h)| format!("{{\"customer_id\":\"{c}\",\"type\":\"{t}\",\"ts\":{}}}\n", T0 + h * H))
        .collect();
    let mut out = Vec::new();
    let options = ReplayOptions {
        mode: Mode::Engine,
        ..ReplayOptions::default()
    };
    replay(set, BufReader::new(Cursor::new(lines)), &mut out, &options, |_| {}).unwrap();
    out.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap().to_string();
            (
                s("customer_id"),
                s("use_case_id"),
                (a["event_ts"].as_i64().unwrap() - T0) / H,
            )
        })
        .collect()
}

fn expect(list: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    list.iter()
        .map(|(c, u, h)| (c.to_string(), u.to_string(), *h))
        .collect()
}

#[test]
fn timers_fire_earliest_first_across_customers() {
    let got = timer_actions(&[("A", "buy", 0), ("B", "buy", 1), ("C", "view", 240)]);
    let want = expect(&[
        ("A", "soon", 24),
        ("B", "soon", 25),
        ("A", "later", 72),
        ("B", "later", 73),
    ]);
    assert_eq!(got, want);
}

#[test]
fn what_a_late_event_started_fires_by_the_latest_event_time() {
    // B's purchase arrives late: its timers are due (24 h, 72 h) before the latest event time
    // (240 h); they fire before the next event, though it moves no clock, and at the end
    let got = timer_actions(&[("A", "view", 240), ("B", "buy", 0), ("C", "view", 100)]);
    assert_eq!(got, expect(&[("B", "soon", 24), ("B", "later", 72)]));
    let got = timer_actions(&[("A", "view", 240), ("B", "buy", 0)]);
    assert_eq!(got, expect(&[("B", "soon", 24), ("B", "later", 72)]));
    // due after the latest event time: never fires in replay
    let got = timer_actions(&[("B", "buy", 0), ("A", "view", 30)]);
    assert_eq!(got, expect(&[("B", "soon", 24)]));
}
