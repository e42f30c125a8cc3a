// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Issue 14: the streaming engine held to the reference model. Random feature catalogs, use
//! cases and event streams — drawn by the reference model's own generator — go through the
//! engine on a real broker (librdkafka's mock cluster, and Tansu); every action it emits must be
//! one the reference model (written from the README) says the events yield, and none missing.
//! The input topic has one partition: the engine's clock is per partition, replay's one for all
//! (README, *Replay and the engine run the same evaluation*), and with one partition they are
//! the same. Wall-clock timers fire by the system clock in the engine and by event time in the
//! reference model, so cases with them are left to the model's own test.
//! `REFERENCE_ENGINE_SEED=<n>` draws other cases, `REFERENCE_ENGINE_CASES=<n>` more of them.

mod common;
// the generator only: its case runner is the differential tests'
#[allow(dead_code)]
#[path = "../../reference/tests/generate/mod.rs"]
mod generate;

use apache_avro::types::Value as Avro;
use common::{config, launch};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rdkafka::mocking::MockCluster;
use revenue_reference::features::V;
use revenue_reference::model::Reference;
use revenue_reference::spec::Case;
use revenue_testkit::{produce_lines, read_all, repo, wait_for, Tansu, DEAD_LETTERS, INPUT};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Every generated use case's tiers act on `actions.crm`, its funnels on `funnel.stages`.
const TOPICS: [&str; 2] = ["actions.crm", "funnel.stages"];

/// One action, as both sides describe it: customer, use case, tier, event time, score, payload.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    customer: String,
    use_case: String,
    tier: String,
    action_type: String,
    event_type: String,
    event_ts: i64,
    score: Option<f64>,
    payload: Vec<(String, V)>,
}

impl Seen {
    fn key(&self) -> (String, String, String, i64) {
        (
            self.customer.clone(),
            self.use_case.clone(),
            self.tier.clone(),
            self.event_ts,
        )
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `count` cases that make at least one live action, drawn from the generator with `seed`.
fn cases(seed: u64, count: usize) -> Vec<(Case, Vec<Seen>)> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let mut out = Vec::new();
    for _ in 0..count * 20 {
        let case = generate::case().new_tree(&mut runner).expect("a case").current();
        let wall_clock = case
            .use_cases
            .iter()
            .any(|uc| uc.timer.as_ref().is_some_and(|t| t.wall_clock));
        let expected = expected(&case);
        if !expected.is_empty() && !wall_clock {
            out.push((case, expected));
        }
        if out.len() == count {
            break;
        }
    }
    assert_eq!(out.len(), count, "the generator yields cases that act");
    out
}

fn expected(case: &Case) -> Vec<Seen> {
    let mut reference = Reference::new(&case.features, &case.use_cases, case.expire_after);
    let mut actions = Vec::new();
    for event in &case.events {
        actions.extend(reference.step(event).actions);
    }
    actions.extend(reference.finish());
    actions
        .into_iter()
        .map(|a| Seen {
            customer: a.customer_id,
            use_case: a.use_case_id,
            tier: a.tier,
            action_type: a.action_type,
            event_type: a.event_type,
            event_ts: a.event_ts,
            score: a.score,
            payload: a.payload,
        })
        .collect()
}

/// A payload value or score; `None` for null.
fn avro_v(v: &Avro) -> Option<V> {
    Some(match v {
        Avro::Null => return None,
        Avro::Union(_, inner) => return avro_v(inner),
        Avro::Boolean(b) => V::Bool(*b),
        Avro::Long(i) => V::Int(*i),
        Avro::Int(i) => V::Int(i64::from(*i)),
        Avro::Double(d) => V::Double(*d),
        Avro::String(s) => V::Str(s.clone()),
        other => panic!("unexpected payload value {other:?}"),
    })
}

/// Decodes an action with `schemas/avro/action.avsc` (Confluent framing), doubles kept as they
/// are (a payload may hold NaN, which JSON cannot).
fn decode(payload: &[u8]) -> Seen {
    let text = std::fs::read_to_string(repo().join("schemas/avro/action.avsc")).expect("action schema");
    let schema = apache_avro::Schema::parse_str(&text).expect("schema parses");
    assert!(payload.len() > 5 && payload[0] == 0, "Confluent framing");
    let Avro::Record(fields) = apache_avro::from_avro_datum(&schema, &mut &payload[5..], None).expect("decodes") else {
        panic!("an action is a record")
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect(name)
    };
    let string = |name: &str| match field(name) {
        Avro::String(s) => s,
        other => panic!("{name}: {other:?}"),
    };
    let event_ts = match field("event_ts") {
        Avro::TimestampMillis(t) | Avro::Long(t) => t,
        other => panic!("event_ts: {other:?}"),
    };
    let score = match avro_v(&field("score")) {
        Some(V::Double(d)) => Some(d),
        None => None,
        Some(other) => panic!("score {other:?}"),
    };
    let Avro::Map(map) = field("payload") else {
        panic!("payload is a map")
    };
    // the reference model has no null: a null value shows as a string that agrees with nothing
    let mut payload: Vec<(String, V)> = map
        .iter()
        .map(|(k, v)| (k.clone(), avro_v(v).unwrap_or_else(|| V::Str("<null>".into()))))
        .collect();
    payload.sort_by(|a, b| a.0.cmp(&b.0));
    Seen {
        customer: string("customer_id"),
        use_case: string("use_case_id"),
        tier: string("tier"),
        action_type: string("action_type"),
        event_type: string("event_type"),
        event_ts,
        score,
        payload,
    }
}

fn same(a: &V, b: &V) -> bool {
    match (a, b) {
        (V::Double(x), V::Double(y)) => {
            (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        _ => a == b,
    }
}

fn agree(got: &Seen, want: &Seen) -> bool {
    let score = match (got.score, want.score) {
        (Some(x), Some(y)) => same(&V::Double(x), &V::Double(y)),
        (None, None) => true,
        _ => false,
    };
    got.key() == want.key()
        && score
        && got.payload.len() == want.payload.len()
        && got
            .payload
            .iter()
            .zip(&want.payload)
            .all(|(x, y)| x.0 == y.0 && same(&x.1, &y.1))
}

/// Runs `case` through an engine on `bootstrap` and checks its actions against `want`.
fn check_case(bootstrap: &str, group: &str, case: &Case, want: &[Seen]) {
    let dir = tempfile::tempdir().expect("use-case dir");
    std::fs::write(dir.path().join("features.yaml"), case.features_yaml()).expect("write");
    for uc in &case.use_cases {
        std::fs::write(dir.path().join(format!("{}.yaml", uc.id)), case.use_case_yaml(uc)).expect("write");
    }
    let state = tempfile::tempdir().expect("state dir");
    let mut config = config(bootstrap, state.path(), group);
    config.use_cases.dir = dir.path().to_path_buf();
    let engine = launch(config);
    wait_for("group join", Duration::from_secs(60), || {
        engine.status.joined.load(Ordering::Relaxed)
    });
    let lines: Vec<String> = case.events.iter().map(Case::json_line).collect();
    produce_lines(bootstrap, &lines);
    wait_for("all events consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(Ordering::Relaxed) >= lines.len() as u64
    });
    // read while the engine runs: timers and expiry fire in the sweep after a checkpoint
    let mut got: Vec<Seen> = read_all(bootstrap, &TOPICS, want.len())
        .iter()
        .map(|r| decode(&r.payload))
        .collect();
    engine.stop();
    let report = engine.join().expect("stops cleanly");
    let reproduction = case.reproduction(case.events.len(), None);
    assert_eq!(
        report.counters.events,
        lines.len() as u64,
        "every event evaluated\n{reproduction}"
    );
    let dead = read_all(bootstrap, &[DEAD_LETTERS], 0);
    assert!(dead.is_empty(), "no event is dead-lettered\n{reproduction}");
    let mut want = want.to_vec();
    // partitions interleave customers: compare in one order, each customer's own kept
    got.sort_by_key(Seen::key);
    want.sort_by_key(Seen::key);
    let same_actions = got.len() == want.len() && got.iter().zip(&want).all(|(g, w)| agree(g, w));
    assert!(
        same_actions,
        "engine on {group} and the reference model disagree\nengine: {got:#?}\nreference: {want:#?}\nreproduction:\n{reproduction}"
    );
}

#[test]
fn engine_on_the_mock_cluster_agrees_with_the_reference_model() {
    let seed = env_or("REFERENCE_ENGINE_SEED", 14);
    let cases = cases(seed, env_or("REFERENCE_ENGINE_CASES", 8) as usize);
    let mut actions = 0;
    for (i, (case, want)) in cases.iter().enumerate() {
        let group = format!("reference-{i}");
        let cluster = MockCluster::new(1).expect("mock cluster starts");
        for topic in TOPICS.iter().chain([&DEAD_LETTERS]) {
            cluster.create_topic(topic, 4, 1).expect("topic");
        }
        // one partition, and its changelog (the mock cluster has no admin API)
        cluster.create_topic(INPUT, 1, 1).expect("input topic");
        cluster
            .create_topic(&format!("{group}.state-changelog"), 1, 1)
            .expect("changelog");
        check_case(&cluster.bootstrap_servers(), &group, case, want);
        actions += want.len();
    }
    println!(
        "{} cases (seed {seed}), {actions} actions: the engine agrees",
        cases.len()
    );
}

#[test]
fn engine_on_tansu_agrees_with_the_reference_model() {
    let seed = env_or("REFERENCE_ENGINE_SEED", 14) + 1;
    for (i, (case, want)) in cases(seed, 2).iter().enumerate() {
        // a broker per case: each case's input and actions alone on their topics
        let tansu = Tansu::start();
        tansu.create_topics(&[(INPUT, 1), (TOPICS[0], 4), (TOPICS[1], 4), (DEAD_LETTERS, 1)]);
        check_case(&tansu.bootstrap, &format!("reference-tansu-{i}"), case, want);
    }
}
