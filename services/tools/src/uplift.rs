//! A synthetic scenario with a known answer: runs an event stream through the use cases and,
//! for every decision to act, plants a conversion with probability `base_rate` for held-out
//! customers and `base_rate + uplift` for treated ones. Replaying the result must measure the
//! planted uplift (within its interval), and an uplift of zero must not look significant.

use compact_str::CompactString;
use revenue_core::processor::{Counters, KeepDecisions};
use revenue_core::rng::Rng;
use revenue_core::{decode_json, Action, CustomerState, Mode, Processor, Source, UseCaseSet};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct UpliftConfig {
    /// Conversion probability of a held-out customer within the window.
    pub base_rate: f64,
    /// Added for a treated customer (the planted effect).
    pub uplift: f64,
    /// Mean revenue of a planted conversion (uniform in ±50 %).
    pub value: f64,
    /// Conversions land within this time after the decision (keep it ≤ the attribution window).
    pub window_ms: i64,
    /// Event type and revenue field of the planted conversions.
    pub conversion_event: String,
    pub value_field: String,
    pub seed: u64,
}

impl Default for UpliftConfig {
    fn default() -> Self {
        UpliftConfig {
            base_rate: 0.05,
            uplift: 0.03,
            value: 500.0,
            window_ms: 20 * revenue_core::duration::DAY_MS,
            conversion_event: "purchase".into(),
            value_field: "amount".into(),
            seed: 11,
        }
    }
}

/// What was planted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planted {
    /// Decisions that opened a window: treated and held out.
    pub treated: u64,
    pub control: u64,
    pub conversions_treated: u64,
    pub conversions_control: u64,
    pub revenue_treated: f64,
    pub revenue_control: f64,
}

/// Merges planted conversions into `events` (JSON lines in time order); returns the merged
/// stream in time order. Lines that do not decode are passed through untouched.
pub fn plant_uplift(
    set: Arc<UseCaseSet>,
    events: impl IntoIterator<Item = String>,
    config: &UpliftConfig,
) -> (Vec<String>, Planted) {
    let mut processor = Processor::new(set.clone(), Mode::Engine).with_decision_records(1.0);
    let catalog = &set.catalog;
    let mut counters = Counters::for_set(&set);
    let mut states: FxHashMap<CompactString, CustomerState> = FxHashMap::default();
    // (customer, use case) → start of the window the last planting covered
    let mut windows: FxHashMap<(CompactString, Arc<str>), i64> = FxHashMap::default();
    // planted events waiting for their time: (ts, sequence) → line
    let mut pending: BinaryHeap<Reverse<(i64, u64, String)>> = BinaryHeap::new();
    let mut rng = Rng::new(config.seed ^ 0x5DEE_CE66_D1CE_4E5B);
    let mut planted = Planted::default();
    let mut out = Vec::new();
    let mut sequence = 0u64;
    let mut feed = |line: String, out: &mut Vec<String>, pending: &mut BinaryHeap<Reverse<(i64, u64, String)>>| {
        let Ok(event) = decode_json(catalog, line.as_bytes(), None) else {
            out.push(line);
            return;
        };
        let customer = CompactString::from(event.customer_id());
        let state = states
            .entry(customer.clone())
            .or_insert_with(|| CustomerState::new(catalog));
        let source = Source {
            topic: "plant",
            partition: 0,
            offset: out.len() as i64,
        };
        let mut decided = KeepDecisions::new(|_: Action| {});
        processor.process(state, &event, source, &mut counters, &mut decided);
        drop(event); // it borrows `line`, which goes to `out` below
        for decision in decided.take_decisions() {
            let control = match decision.outcome.as_str() {
                "held_out" => true,
                "emitted" | "deferred" => false,
                _ => continue,
            };
            let key = (customer.clone(), decision.use_case_id.clone());
            if windows
                .get(&key)
                .is_some_and(|start| decision.ts - start <= config.window_ms)
            {
                continue; // one planting per window, as attribution counts one exposure
            }
            windows.insert(key, decision.ts);
            let p = config.base_rate + if control { 0.0 } else { config.uplift };
            if control {
                planted.control += 1;
            } else {
                planted.treated += 1;
            }
            if rng.f64() >= p {
                continue;
            }
            let at = decision.ts + 1 + (rng.f64() * (config.window_ms - 2).max(0) as f64) as i64;
            let value = (config.value * (0.5 + rng.f64()) * 100.0).round() / 100.0;
            if control {
                planted.conversions_control += 1;
                planted.revenue_control += value;
            } else {
                planted.conversions_treated += 1;
                planted.revenue_treated += value;
            }
            let line = format!(
                r#"{{"customer_id":{},"type":"{}","ts":{at},"{}":{value}}}"#,
                serde_json::Value::String(customer.to_string()),
                config.conversion_event,
                config.value_field
            );
            sequence += 1;
            pending.push(Reverse((at, sequence, line)));
        }
        out.push(line);
    };
    for line in events {
        let ts = event_ts(&line);
        while pending
            .peek()
            .is_some_and(|Reverse((at, _, _))| ts.is_some_and(|ts| *at <= ts))
        {
            let Some(Reverse((_, _, planted_line))) = pending.pop() else {
                break;
            };
            feed(planted_line, &mut out, &mut pending);
        }
        feed(line, &mut out, &mut pending);
    }
    while let Some(Reverse((_, _, line))) = pending.pop() {
        feed(line, &mut out, &mut pending);
    }
    (out, planted)
}

fn event_ts(line: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    value.get("ts")?.as_i64()
}
