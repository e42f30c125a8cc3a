// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Issue 14's differential test: random catalogs, use cases and event streams through replay's
//! processing and through the reference model; at every event every feature value and every
//! action (use case, tier, score, payload) must agree. A mismatch is shrunk and printed as a
//! ready-to-paste features.yaml, use-case files and JSON lines. `REFERENCE_CASES=<n>` soaks.

mod generate;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use revenue_core::expr::Val;
use revenue_core::{decode_json, Action, Counters, CustomerState, Mode, Processor, Source, SourceFile, UseCaseSet};
use revenue_reference::features::V;
use revenue_reference::model::{RefAction, Reference};
use revenue_reference::spec::Case;
use revenue_replay::{replay, ReplayOptions};
use std::collections::HashMap;
use std::io::{BufReader, Cursor};
use std::sync::Arc;

/// Cases per run in CI: about 20 s in release on two shared cores (4 ms a case).
const CASES: u32 = 5_000;

fn val(v: &Val<'_>) -> V {
    match v {
        Val::Bool(b) => V::Bool(*b),
        Val::Int(i) => V::Int(*i),
        Val::Double(d) => V::Double(*d),
        Val::Str(s) => V::Str(s.to_string()),
    }
}

/// Equal, doubles up to rounding: sums in another order, decay computed another way. `scale`:
/// the largest magnitude beyond 2^53 in the stream, whose sums are not exact in any order.
fn same(a: &V, b: &V, scale: f64) -> bool {
    match (a, b) {
        (V::Double(x), V::Double(y)) => {
            (x.is_nan() && y.is_nan())
                || x == y
                || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0) + scale * 1e-12
        }
        _ => a == b,
    }
}

fn same_score(a: Option<f64>, b: Option<f64>, scale: f64) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => same(&V::Double(x), &V::Double(y), scale),
        (None, None) => true,
        _ => false,
    }
}

/// The engine's side: the same `Processor::process` calls `replay` makes (partition 0, the line
/// as offset), then every feature read at the event as a use case reads it.
struct Engine {
    set: Arc<UseCaseSet>,
    processor: Processor,
    counters: Counters,
    states: HashMap<String, CustomerState>,
}

fn compile(case: &Case) -> Result<Arc<UseCaseSet>, String> {
    let mut files = vec![SourceFile {
        path: "features.yaml".into(),
        text: case.features_yaml(),
    }];
    for uc in &case.use_cases {
        files.push(SourceFile {
            path: format!("{}.yaml", uc.id),
            text: case.use_case_yaml(uc),
        });
    }
    UseCaseSet::compile(&files)
        .map(Arc::new)
        .map_err(|d| format!("generated case refused: {d:?}\n{}", case.reproduction(0, None)))
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let set = compile(case).map_err(TestCaseError::fail)?;
    let mut engine = Engine {
        processor: Processor::new(set.clone(), Mode::Engine),
        counters: Counters::for_set(&set),
        states: HashMap::new(),
        set,
    };
    let mut reference = Reference::new(&case.features, &case.use_cases);
    let scale = case
        .events
        .iter()
        .flat_map(|e| e.fields.values())
        .filter_map(serde_json::Value::as_f64)
        .map(f64::abs)
        .filter(|x| *x > 9.0e15)
        .fold(0.0, f64::max)
        * 40.0;
    let mut all_actions = Vec::new();
    for (line, event) in case.events.iter().enumerate() {
        let text = Case::json_line(event);
        let decoded = decode_json(&engine.set.catalog, text.as_bytes(), None)
            .map_err(|e| TestCaseError::fail(format!("{e:?}: {text}")))?;
        let state = engine
            .states
            .entry(event.customer.clone())
            .or_insert_with(|| CustomerState::new(&engine.set.catalog));
        let source = Source {
            topic: "case",
            partition: 0,
            offset: line as i64,
        };
        let mut actions: Vec<Action> = Vec::new();
        engine
            .processor
            .process(state, &decoded, source, &mut engine.counters, &mut |a: Action| {
                if a.emits() {
                    actions.push(a)
                }
            });
        let expected = reference.step(event);
        let fail = |what: String| {
            TestCaseError::fail(format!(
                "at event {} ({text}): {what}\nreproduction:\n{}",
                line + 1,
                case.reproduction(line + 1, Some(&event.customer))
            ))
        };
        for (f, want) in case.features.iter().zip(&expected.features) {
            let index = engine
                .set
                .catalog
                .feature(&f.name)
                .ok_or_else(|| fail(format!("no {}", f.name)))?;
            let got = val(&state.read(&engine.set.catalog, index, decoded.ts()));
            if !same(&got, want, scale) {
                return Err(fail(format!(
                    "feature {} ({}): replay {got:?}, reference {want:?}",
                    f.name,
                    f.kind.name()
                )));
            }
        }
        actions.sort_by(|a, b| a.use_case_id.cmp(&b.use_case_id));
        let got: Vec<RefAction> = actions
            .iter()
            .map(|a| {
                let mut payload: Vec<(String, V)> = a.payload.iter().map(|(k, v)| (k.to_string(), val(v))).collect();
                payload.sort_by(|x, y| x.0.cmp(&y.0));
                RefAction {
                    use_case_id: a.use_case_id.to_string(),
                    tier: a.tier.to_string(),
                    score: a.score,
                    payload,
                }
            })
            .collect();
        let agree = got.len() == expected.actions.len()
            && got.iter().zip(&expected.actions).all(|(g, w)| {
                g.use_case_id == w.use_case_id
                    && g.tier == w.tier
                    && same_score(g.score, w.score, scale)
                    && g.payload.len() == w.payload.len()
                    && g.payload
                        .iter()
                        .zip(&w.payload)
                        .all(|(x, y)| x.0 == y.0 && same(&x.1, &y.1, scale))
            });
        if !agree {
            return Err(fail(format!(
                "actions: replay {got:#?}, reference {:#?}",
                expected.actions
            )));
        }
        all_actions.extend(
            actions
                .into_iter()
                .map(|a| (a.customer_id, a.use_case_id.to_string(), a.tier.to_string())),
        );
    }
    // the driver above is replay's processing: replay itself emits the same actions
    let mut out = Vec::new();
    let options = ReplayOptions {
        mode: Mode::Engine,
        source_name: "case".into(),
        ..ReplayOptions::default()
    };
    let lines = case.json_lines(case.events.len());
    replay(
        engine.set.clone(),
        BufReader::new(Cursor::new(lines)),
        &mut out,
        &options,
        |_| {},
    )
    .map_err(|e| TestCaseError::fail(format!("replay failed: {e}")))?;
    // replay's output also holds `shadow` use cases' actions, marked by their status
    let replayed: Vec<(String, String, String)> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
        .filter(|a| a["status"] == "live")
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("customer_id"), s("use_case_id"), s("tier"))
        })
        .collect();
    prop_assert_eq!(replayed, all_actions, "replay differs from its own processor");
    Ok(())
}

#[test]
fn replay_agrees_with_the_reference_model() {
    generate::run_cases(generate::case(), (CASES, 1), |case| check(&case));
}
