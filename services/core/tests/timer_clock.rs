//! Issue 14 (reference model): a timer is no event. Its evaluation reads the features as of its
//! due time, but it leaves the customer's clock at its latest event time, so a shadow use case's
//! timer changes nothing a live use case reads and a timer cannot keep an idle customer in the
//! state; timers due after the customer expires leave with it; timers of equal due times fire
//! in the set's order.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use revenue_core::duration::DAY_MS;
use revenue_core::processor::Counters;
use revenue_core::{decode_json, Action, CustomerState, Mode, Processor, Source, SourceFile, UseCaseSet};
use std::sync::Arc;

const T0: i64 = 1_700_006_400_000;

const CATALOG: &str = r#"
expire_after: 10d
event_types:
  view: {fields: {page: string}}
  buy: {fields: {amount: double}}
features:
  buys_7d: {kind: count, events: [buy], window: 7d}
"#;

/// A use case whose tier acts when `when` holds, whatever tier name and type.
fn use_case(id: &str, status: &str, data: &str) -> (String, String) {
    acting(id, status, data, "buys_7d >= 1")
}

fn acting(id: &str, status: &str, data: &str, when: &str) -> (String, String) {
    let text = format!(
        "id: {id}\nversion: 1\ntitle: t\nowner: o\nstatus: {status}\nvalue_driver: top-line\nchannels: [crm]\ndata: {data}\nalgo: {{rule: 'true'}}\naction: {{retrigger: always, tiers: [{{name: t, when: '{when}', type: crm_task, topic: a}}]}}\n"
    );
    (format!("{id}.yaml"), text)
}

struct Run {
    processor: Processor,
    state: CustomerState,
    counters: Counters,
}

impl Run {
    fn new(use_cases: &[(String, String)]) -> Run {
        let mut files = vec![SourceFile {
            path: "features.yaml".into(),
            text: CATALOG.into(),
        }];
        files.extend(use_cases.iter().map(|(path, text)| SourceFile {
            path: path.clone(),
            text: text.clone(),
        }));
        let set = Arc::new(UseCaseSet::compile(&files).unwrap_or_else(|e| panic!("compiles: {e:?}")));
        Run {
            processor: Processor::new(set.clone(), Mode::Engine),
            state: CustomerState::new(&set.catalog),
            counters: Counters::for_set(&set),
        }
    }

    fn event(&mut self, kind: &str, ts: i64) -> Vec<String> {
        let json = format!(r#"{{"customer_id":"c1","type":"{kind}","ts":{ts}}}"#);
        let set = self.processor.set().clone();
        let event = decode_json(&set.catalog, json.as_bytes(), None).unwrap();
        let source = Source {
            topic: "t",
            partition: 0,
            offset: 0,
        };
        let mut actions = Vec::new();
        self.processor
            .process(&mut self.state, &event, source, &mut self.counters, &mut |a: Action| {
                actions.push(format!("{}@{}", a.use_case_id, (a.event_ts - T0) / DAY_MS));
            });
        actions
    }

    /// Fires what is due by `now`: the actions (use case @ day) and whether the customer expired.
    fn sweep(&mut self, now: i64) -> (Vec<String>, bool) {
        let mut actions = Vec::new();
        let expired = self
            .processor
            .fire_due(&mut self.state, "c1", now, now, &mut self.counters, &mut |a: Action| {
                actions.push(format!("{}@{}", a.use_case_id, (a.event_ts - T0) / DAY_MS));
            });
        (actions, expired)
    }
}

#[test]
fn a_shadow_timer_changes_nothing_a_live_use_case_reads() {
    let mut run = Run::new(&[
        use_case("offer", "live", "{triggers: [view], features: [buys_7d]}"),
        use_case(
            "probe",
            "shadow",
            "{features: [buys_7d], timer: {after: 9d, start_on: [buy]}}",
        ),
    ]);
    run.event("buy", T0);
    // the probe's timer fires at day 9 and reads the window as of then: the purchase has left it
    assert!(run.sweep(T0 + 9 * DAY_MS).0.is_empty());
    assert_eq!(run.counters.use_cases[1].timers_fired, 1);
    assert_eq!(
        run.state.clock, T0,
        "a timer is no event: the clock stays at the purchase"
    );
    // a view from day 2 still sees the purchase in its window
    assert_eq!(run.event("view", T0 + 2 * DAY_MS), ["offer@2"]);
}

#[test]
fn a_timer_does_not_keep_an_idle_customer_in_the_state() {
    // a timer that its own action restarts: every 6 days, as long as the customer is kept
    let mut run = Run::new(&[acting(
        "loop",
        "live",
        "{features: [buys_7d], timer: {after: 6d, start_on: [buy], start_on_actions: [loop]}}",
        "true",
    )]);
    run.event("buy", T0);
    // day 6 fires; the restart at day 12 is after the customer expired (day 10): it leaves with it
    let (actions, expired) = run.sweep(T0 + 30 * DAY_MS);
    assert_eq!((actions, expired), (vec!["loop@6".to_string()], true));
}

#[test]
fn timers_of_equal_due_times_fire_in_the_sets_order() {
    for (first, second) in [("a", "b"), ("b", "a"), ("x1", "x2"), ("x2", "x1")] {
        let timer = "{features: [buys_7d], timer: {after: 1d, start_on: [buy]}}";
        let mut run = Run::new(&[use_case(first, "live", timer), use_case(second, "live", timer)]);
        run.event("buy", T0);
        let mut ids = [first, second];
        ids.sort_unstable();
        assert_eq!(
            run.sweep(T0 + DAY_MS).0,
            [format!("{}@1", ids[0]), format!("{}@1", ids[1])]
        );
    }
}
