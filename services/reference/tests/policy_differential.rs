// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Issue 14's differential test of the contact policy: random catalogs, use cases, policies
//! (consent, arbitration, cooldowns, caps, holdout, quiet hours, attribution) and event
//! streams through `replay_with_decisions` and through the reference model. Every decision
//! record, every action sent (deferred ones with `event_ts` and `decided_at`) and every use
//! case's policy and attribution counters must agree. A mismatch is shrunk and printed as a
//! ready-to-paste features.yaml, policy.yaml, use-case files and JSON lines.
//! `REFERENCE_CASES=<n>` soaks (also the budget of this test, divided by 4).

mod generate;
#[path = "generate/policy.rs"]
mod policy_gen;

use proptest::test_runner::TestCaseError;
use revenue_core::{Mode, SourceFile, UseCaseSet};
use revenue_reference::features::V;
use revenue_reference::model::Reference;
use revenue_reference::policy::{Counters, Decision, Gate, Outcome, Sent, Totals};
use revenue_reference::policy_spec::PolicyCase;
use revenue_reference::spec::Status;
use revenue_replay::{replay_with_decisions, ReplayOptions, ReplaySummary};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufReader, Cursor};
use std::sync::Arc;

/// Cases per run in CI: about 8 s in release on two shared cores (8 ms a case).
const CASES: u32 = 1_000;

fn compile(pc: &PolicyCase) -> Result<Arc<UseCaseSet>, String> {
    let case = &pc.case;
    let mut files = vec![SourceFile {
        path: "features.yaml".into(),
        text: case.features_yaml(),
    }];
    if let Some(p) = &pc.policy {
        files.push(SourceFile {
            path: "policy.yaml".into(),
            text: p.yaml(),
        });
    }
    for (i, uc) in case.use_cases.iter().enumerate() {
        files.push(SourceFile {
            path: format!("{}.yaml", uc.id),
            text: pc.use_case_yaml(i),
        });
    }
    UseCaseSet::compile(&files)
        .map(Arc::new)
        .map_err(|d| format!("generated case refused: {d:?}\n{}", pc.reproduction(None)))
}

fn close(x: f64, y: f64) -> bool {
    x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
}

fn same_num(a: &Value, b: Option<f64>) -> bool {
    match (a.as_f64(), b) {
        (None, None) => true,
        (Some(x), Some(y)) => close(x, y),
        _ => false,
    }
}

fn same_val(a: &Value, b: &V) -> bool {
    match b {
        V::Int(i) => a.as_i64() == Some(*i),
        V::Double(d) => a.as_f64().is_some_and(|x| close(x, *d)) || (a.is_null() && !d.is_finite()),
        V::Str(s) => a.as_str() == Some(s),
        V::Bool(x) => a.as_bool() == Some(*x),
    }
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Draft => "draft",
        Status::Shadow => "shadow",
        Status::Live => "live",
        Status::Retired => "retired",
    }
}

fn decision_agrees(got: &Value, want: &Decision) -> bool {
    let s = |k: &str| got[k].as_str().unwrap_or_default().to_string();
    let deferred_until = match want.outcome {
        Outcome::Deferred(due) => Some(due),
        _ => None,
    };
    s("use_case_id") == want.use_case_id
        && s("status") == status(want.status)
        && s("event_type") == want.event_type
        && got["ts"].as_i64() == Some(want.ts)
        && s("tier") == want.tier
        && s("channel") == want.channel
        && same_num(&got["score"], want.score)
        && same_num(&got["expected_value"], want.expected_value)
        && s("outcome") == want.outcome.name()
        && got["reason"].as_str() == want.outcome.reason()
        && got["deferred_until"].as_i64() == deferred_until
        && s("group")
            == if want.outcome == Outcome::HeldOut {
                "control"
            } else {
                "treatment"
            }
}

fn sent_agrees(got: &Value, want: &Sent) -> bool {
    let s = |k: &str| got[k].as_str().unwrap_or_default().to_string();
    let payload = got["payload"].as_object().cloned().unwrap_or_default();
    s("use_case_id") == want.use_case_id
        && s("tier") == want.tier
        && s("channel") == want.channel
        && s("event_type") == want.event_type
        && got["event_ts"].as_i64() == Some(want.event_ts)
        && got["decided_at"].as_i64() == want.decided_at
        && same_num(&got["score"], want.score)
        && payload.len() == want.payload.len()
        && want
            .payload
            .iter()
            .all(|(k, v)| payload.get(k).is_some_and(|g| same_val(g, v)))
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Value>(l).unwrap())
        .collect()
}

/// Per customer, in order: the policy is per customer, so only that order is specified.
fn by_customer<T: Clone>(items: &[T], customer: impl Fn(&T) -> String) -> BTreeMap<String, Vec<T>> {
    let mut map: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for item in items {
        map.entry(customer(item)).or_default().push(item.clone());
    }
    map
}

fn compare<G: Clone + std::fmt::Debug, W: Clone + std::fmt::Debug>(
    what: &str,
    got: &[G],
    want: &[W],
    got_customer: impl Fn(&G) -> String,
    want_customer: impl Fn(&W) -> String,
    agrees: impl Fn(&G, &W) -> bool,
) -> Result<(), String> {
    let got = by_customer(got, got_customer);
    let want = by_customer(want, want_customer);
    let customers: std::collections::BTreeSet<&String> = got.keys().chain(want.keys()).collect();
    for c in customers {
        let (g, w) = (
            got.get(c).cloned().unwrap_or_default(),
            want.get(c).cloned().unwrap_or_default(),
        );
        let first = (0..g.len().max(w.len())).find(|&i| match (g.get(i), w.get(i)) {
            (Some(g), Some(w)) => !agrees(g, w),
            _ => true,
        });
        if let Some(i) = first {
            return Err(format!(
                "{what} of customer {c}, #{}: replay {:#?}\nreference {:#?}\n(replay has {}, reference {})",
                i + 1,
                g.get(i),
                w.get(i),
                g.len(),
                w.len()
            ));
        }
    }
    Ok(())
}

fn totals_agree(got: &Value, want: &Totals) -> bool {
    got["exposed"].as_u64() == Some(want.exposed)
        && got["converted"].as_u64() == Some(want.converted)
        && got["conversions"].as_u64() == Some(want.conversions)
        && got["revenue"].as_f64().is_some_and(|r| close(r, want.revenue))
}

fn summary_agrees(summary: &ReplaySummary, counters: &BTreeMap<String, Counters>) -> Result<(), String> {
    let none = Counters::default();
    for uc in &summary.use_cases {
        let want = counters.get(&uc.id).unwrap_or(&none);
        let suppressed: BTreeMap<String, u64> = want.suppressed.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let measurement = serde_json::to_value(&uc.measurement).unwrap();
        let empty = serde_json::json!({"exposed": 0, "converted": 0, "conversions": 0, "revenue": 0.0});
        let (treatment, control) = if measurement.is_null() {
            (empty.clone(), empty)
        } else {
            (measurement["treatment"].clone(), measurement["control"].clone())
        };
        let agree = uc.policy.suppressed == suppressed
            && uc.policy.deferred == want.deferred
            && uc.policy.deferred_delivered == want.delivered
            && totals_agree(&treatment, &want.treatment)
            && totals_agree(&control, &want.control);
        if !agree {
            return Err(format!(
                "summary of {}: replay {:?} {}\nreference {want:#?}",
                uc.id,
                uc.policy,
                serde_json::to_string(&uc.measurement).unwrap()
            ));
        }
    }
    Ok(())
}

fn check(pc: &PolicyCase) -> Result<(), TestCaseError> {
    let set = compile(pc).map_err(TestCaseError::fail)?;
    let case = &pc.case;
    let options = ReplayOptions {
        mode: if pc.backtest { Mode::BackTest } else { Mode::Engine },
        source_name: "case".into(),
        ..ReplayOptions::default()
    };
    let (mut out, mut records) = (Vec::new(), Vec::new());
    let summary = replay_with_decisions(
        set,
        BufReader::new(Cursor::new(case.json_lines(case.events.len()))),
        &mut out,
        Some(&mut records),
        &options,
        |_| {},
    )
    .map_err(|e| TestCaseError::fail(format!("replay failed: {e}")))?;
    let mut reference = Reference::new(&case.features, &case.use_cases, case.expire_after);
    reference.gate = Some(Gate::new(
        pc.policy.clone(),
        &case.use_cases,
        &pc.ucs,
        &case.features,
        pc.backtest,
    ));
    for event in &case.events {
        reference.step(event);
    }
    reference.finish();
    let gate = reference.gate.as_ref().unwrap();
    let customer = |v: &Value| v["customer_id"].as_str().unwrap_or_default().to_string();
    let fail = |what: String| TestCaseError::fail(format!("{what}\nreproduction:\n{}", pc.reproduction(None)));
    compare(
        "decisions",
        &lines(&records),
        &gate.decisions,
        customer,
        |d: &Decision| d.customer.clone(),
        decision_agrees,
    )
    .map_err(fail)?;
    compare(
        "actions",
        &lines(&out),
        &gate.sent,
        customer,
        |s: &Sent| s.customer.clone(),
        sent_agrees,
    )
    .map_err(fail)?;
    summary_agrees(&summary, &gate.counters).map_err(fail)?;
    Ok(())
}

#[test]
fn replay_obeys_the_reference_contact_policy() {
    // `REFERENCE_CASES` soaks a quarter as many policy cases: they take twice as long
    generate::run_cases(policy_gen::policy_case(), (CASES, 4), |pc| check(&pc));
}
