// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Issue 14's differential test: random catalogs, use cases and event streams through replay's
//! processing and through the reference model; at every event every feature value and every
//! action (use case, customer, tier, type, event type and time, score, payload; timers' and
//! funnel stages' included) must agree, in order, and so must replay's own output, line by
//! line. A mismatch is shrunk and printed as a ready-to-paste features.yaml, use-case files and
//! JSON lines. `REFERENCE_CASES=<n>` soaks.

mod generate;

use proptest::test_runner::TestCaseError;
use revenue_core::expr::Val;
use revenue_core::{decode_json, Action, Counters, Mode, Processor, Source, SourceFile, UseCaseSet};
use revenue_reference::features::V;
use revenue_reference::model::{RefAction, Reference};
use revenue_reference::spec::Case;
use revenue_replay::{replay, Customers, ReplayOptions};
use std::io::{BufReader, Cursor};
use std::sync::Arc;

/// Cases per run in CI: about 20 s in release on two shared cores (8 ms a case: timers, funnels
/// and expiry doubled the time of a case).
const CASES: u32 = 2_500;

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

fn from_engine(a: &Action) -> RefAction {
    let mut payload: Vec<(String, V)> = a.payload.iter().map(|(k, v)| (k.to_string(), val(v))).collect();
    payload.sort_by(|x, y| x.0.cmp(&y.0));
    RefAction {
        use_case_id: a.use_case_id.to_string(),
        customer_id: a.customer_id.clone(),
        tier: a.tier.to_string(),
        action_type: a.action_type.to_string(),
        event_type: a.event_type.clone(),
        event_ts: a.event_ts,
        score: a.score,
        payload,
    }
}

/// An action line of replay's output, as far as the reference model describes actions.
fn from_json(a: &serde_json::Value) -> RefAction {
    let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
    let mut payload: Vec<(String, V)> = a["payload"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::Bool(b) => V::Bool(*b),
                        serde_json::Value::String(s) => V::Str(s.clone()),
                        serde_json::Value::Number(n) if n.is_f64() => V::Double(n.as_f64().unwrap()),
                        serde_json::Value::Number(n) => V::Int(n.as_i64().unwrap()),
                        _ => V::Double(f64::NAN),
                    };
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default();
    payload.sort_by(|x, y| x.0.cmp(&y.0));
    RefAction {
        use_case_id: s("use_case_id"),
        customer_id: s("customer_id"),
        tier: s("tier"),
        action_type: s("action_type"),
        event_type: s("event_type"),
        event_ts: a["event_ts"].as_i64().unwrap_or_default(),
        score: a["score"].as_f64(),
        payload,
    }
}

/// As JSON writes it: a non-finite double is `null`.
fn as_json(mut a: RefAction) -> RefAction {
    a.score = a.score.filter(|s| s.is_finite());
    for (_, v) in &mut a.payload {
        if matches!(v, V::Double(x) if !x.is_finite()) {
            *v = V::Double(f64::NAN);
        }
    }
    a
}

fn agree(got: &[RefAction], want: &[RefAction], scale: f64) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            (
                &g.use_case_id,
                &g.customer_id,
                &g.tier,
                &g.action_type,
                &g.event_type,
                g.event_ts,
            ) == (
                &w.use_case_id,
                &w.customer_id,
                &w.tier,
                &w.action_type,
                &w.event_type,
                w.event_ts,
            ) && same_score(g.score, w.score, scale)
                && g.payload.len() == w.payload.len()
                && g.payload
                    .iter()
                    .zip(&w.payload)
                    .all(|(x, y)| x.0 == y.0 && same(&x.1, &y.1, scale))
        })
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let set = compile(case).map_err(TestCaseError::fail)?;
    let catalog = &set.catalog;
    let mut processor = Processor::new(set.clone(), Mode::Engine);
    let mut counters = Counters::for_set(&set);
    // the engine's side: the calls `replay` makes, event by event
    let mut customers = Customers::default();
    let mut watermark = i64::MIN;
    let mut reference = Reference::new(&case.features, &case.use_cases, case.expire_after);
    let scale = case
        .events
        .iter()
        .flat_map(|e| e.fields.values())
        .filter_map(serde_json::Value::as_f64)
        .map(f64::abs)
        .filter(|x| *x > 9.0e15)
        .fold(0.0, f64::max)
        * 40.0;
    let mut expected_all = Vec::new();
    let mut emitted = Vec::new();
    for (line, event) in case.events.iter().enumerate() {
        let text = Case::json_line(event);
        let decoded =
            decode_json(catalog, text.as_bytes(), None).map_err(|e| TestCaseError::fail(format!("{e:?}: {text}")))?;
        let source = Source {
            topic: "case",
            partition: 0,
            offset: line as i64,
        };
        let mut actions: Vec<Action> = Vec::new();
        let mut out = |a: Action| {
            if a.emits() {
                actions.push(a)
            }
        };
        watermark = watermark.max(event.ts);
        customers.fire_due_by(&mut processor, watermark, &mut counters, &mut out);
        let state = customers.state(catalog, &event.customer);
        processor.process(state, &decoded, source, &mut counters, &mut out);
        customers.reschedule(catalog, &event.customer);
        let expected = reference.step(event);
        let fail = |what: String| {
            TestCaseError::fail(format!(
                "at event {} ({text}): {what}\nreproduction:\n{}",
                line + 1,
                case.reproduction(line + 1, None)
            ))
        };
        let state = customers.get(&event.customer).ok_or_else(|| fail("no state".into()))?;
        for (f, want) in case.features.iter().zip(&expected.features) {
            let index = catalog.feature(&f.name).ok_or_else(|| fail(format!("no {}", f.name)))?;
            let got = val(&state.read(catalog, index, decoded.ts()));
            if !same(&got, want, scale) {
                return Err(fail(format!(
                    "feature {} ({}): replay {got:?}, reference {want:?}",
                    f.name,
                    f.kind.name()
                )));
            }
        }
        let got: Vec<RefAction> = actions.iter().map(from_engine).collect();
        if !agree(&got, &expected.actions, scale) {
            return Err(fail(format!(
                "actions: replay {got:#?}, reference {:#?}",
                expected.actions
            )));
        }
        emitted.extend(got);
        expected_all.extend(expected.actions);
    }
    // the end of the input: what is due by the latest event time fires
    let mut actions: Vec<Action> = Vec::new();
    customers.fire_due_by(&mut processor, watermark, &mut counters, &mut |a: Action| {
        if a.emits() {
            actions.push(a)
        }
    });
    let got: Vec<RefAction> = actions.iter().map(from_engine).collect();
    let expected = reference.finish();
    let all = case.reproduction(case.events.len(), None);
    if !agree(&got, &expected, scale) {
        return Err(TestCaseError::fail(format!(
            "at the end of the input: replay {got:#?}, reference {expected:#?}\nreproduction:\n{all}"
        )));
    }
    emitted.extend(got);
    expected_all.extend(expected);
    // replay itself, line by line against the reference model
    let mut out = Vec::new();
    let options = ReplayOptions {
        mode: Mode::Engine,
        source_name: "case".into(),
        ..ReplayOptions::default()
    };
    let lines = case.json_lines(case.events.len());
    replay(
        set.clone(),
        BufReader::new(Cursor::new(lines)),
        &mut out,
        &options,
        |_| {},
    )
    .map_err(|e| TestCaseError::fail(format!("replay failed: {e}")))?;
    // replay's output also holds `shadow` use cases' actions, marked by their status
    let replayed: Vec<RefAction> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
        .filter(|a| a["status"] == "live")
        .map(|a| from_json(&a))
        .collect();
    let expected_json: Vec<RefAction> = expected_all.into_iter().map(as_json).collect();
    if !agree(&replayed, &expected_json, scale) {
        let first = replayed
            .iter()
            .zip(&expected_json)
            .position(|(g, w)| !agree(std::slice::from_ref(g), std::slice::from_ref(w), scale))
            .unwrap_or(replayed.len().min(expected_json.len()));
        return Err(TestCaseError::fail(format!(
            "replay's output differs at action {first}: replay {:#?}, reference {:#?} (the processor driven like replay agreed: {})\nreproduction:\n{all}",
            replayed.get(first),
            expected_json.get(first),
            emitted.len()
        )));
    }
    Ok(())
}

#[test]
fn replay_agrees_with_the_reference_model() {
    generate::run_cases(generate::case(), (CASES, 1), |case| check(&case));
}
