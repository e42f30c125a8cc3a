//! The contact policy in the live engine, against librdkafka's mock cluster and real RocksDB:
//! quiet hours defer an action across a restart and a restore (sent once), consent from a
//! second input topic, holdout groups equal to `replay`'s and stable across restarts, decision
//! records on the audit topic, `GET /customers/{id}`, and the policy and attribution metrics.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rdkafka::mocking::MockCluster;
use revenue_core::policy::in_control;
use revenue_core::{Action, Mode, Processor, Source};
use revenue_engine::config::{CustomerIdSource, EngineConfig};
use revenue_engine::http::HttpServer;
use revenue_engine::store::PartitionStore;
use revenue_engine::wire::OutputFormat;
use revenue_engine::{start, EngineHandle, Metrics, Status};
use revenue_testkit::{
    http_get_with, http_parts, metric_value, murmur2_partition, producer, read_all, send_waiting, wait_for, INPUT,
    PARTITIONS,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::mock_cluster;

const CONSENT: &str = "consent";
const ACTIONS: &str = "actions.offer";
const AUDIT: &str = "audit";
const DEAD_LETTERS: &str = "dead-letters";
const GROUPS: [&str; 5] = ["quiet", "consent", "holdout", "api", "metrics"];
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-03-02 00:00 UTC.
const DAY0: i64 = 1_772_409_600_000;

fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    mock_cluster(
        &[INPUT, CONSENT],
        &[(ACTIONS, 2), (AUDIT, 2), (DEAD_LETTERS, 2)],
        &GROUPS,
    )
}

const CATALOG: &str = "event_types:
  page_view: {fields: {page: string}}
  purchase: {fields: {amount: double}}
  opt_out: {fields: {channel: string}}
  opt_in: {fields: {channel: string}}
features:
  pricing_views: {kind: count, events: [page_view], where: \"event.page == 'pricing'\"}
  purchases: {kind: count, events: [purchase]}
  revenue: {kind: sum, events: [purchase], field: amount}
";

/// Acts on every pricing page view, by e-mail.
fn offer(holdout: Option<f64>) -> String {
    let holdout = holdout.map_or(String::new(), |share| format!("holdout: {{share: {share}}}\n"));
    format!(
        "id: offer
version: 1
title: Offer after a pricing view
owner: tests
status: live
value_driver: top-line
channels: [email]
data:
  triggers: [page_view]
  features: [pricing_views, purchases]
algo: {{rule: pricing_views >= 1}}
action:
  retrigger: always
  tiers:
    - name: mail
      when: event.page == 'pricing'
      type: email
      topic: {ACTIONS}
      payload: {{views: pricing_views}}
{holdout}"
    )
}

/// A use-case directory: the catalog, `offer` and `policy.yaml`.
fn use_cases(policy: &str, holdout: Option<f64>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("use-case dir");
    std::fs::write(dir.path().join("features.yaml"), CATALOG).expect("catalog");
    std::fs::write(dir.path().join("offer.yaml"), offer(holdout)).expect("use case");
    std::fs::write(dir.path().join("policy.yaml"), policy).expect("policy");
    dir
}

fn config(bootstrap: &str, state: &Path, group: &str, use_cases: &Path) -> EngineConfig {
    let mut config = EngineConfig::default();
    config.kafka.bootstrap_servers = bootstrap.to_string();
    config.kafka.group_id = group.to_string();
    config.kafka.input_topics = vec![INPUT.to_string(), CONSENT.to_string()];
    config.kafka.dead_letter_topic = DEAD_LETTERS.to_string();
    config.kafka.customer_id = CustomerIdSource::Key;
    for (key, value) in [("session.timeout.ms", "6000"), ("heartbeat.interval.ms", "500")] {
        config.kafka.properties.insert(key.into(), value.into());
    }
    config.output.format = OutputFormat::Json;
    config.state.dir = state.to_path_buf();
    config.state.commit_interval_ms = 200;
    config.use_cases.dir = use_cases.to_path_buf();
    config.use_cases.reload_interval_ms = 0;
    config.http.listen = String::new();
    config.audit.topic = AUDIT.to_string();
    config
}

struct Running {
    engine: EngineHandle,
    metrics: Arc<Metrics>,
    status: Arc<Status>,
}

/// Starts an engine and waits until it has joined the group.
fn launch(config: EngineConfig) -> Running {
    let set = Arc::new(revenue_usecases::load_dir(&config.use_cases.dir).expect("use cases load"));
    let (metrics, status) = (Arc::new(Metrics::new()), Arc::new(Status::default()));
    let engine = start(config, set, metrics.clone(), status.clone()).expect("engine starts");
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(Ordering::Relaxed)
    });
    Running {
        engine,
        metrics,
        status,
    }
}

impl Running {
    /// Produces `(topic, line)` pairs keyed by customer id, waits until the engine consumed them
    /// and two more checkpoints (and due sweeps) ran.
    fn feed(&self, bootstrap: &str, lines: &[(&str, String)]) {
        let before = self.engine.status.events_in.load(Ordering::Relaxed);
        let producer = producer(bootstrap);
        for (topic, line) in lines {
            send_waiting(&producer, topic, &revenue_testkit::customer_of(line), line);
        }
        rdkafka::producer::Producer::flush(&producer, Duration::from_secs(30)).expect("flush");
        let target = before + lines.len() as u64;
        wait_for("events consumed", Duration::from_secs(60), || {
            self.engine.status.events_in.load(Ordering::Relaxed) >= target
        });
        std::thread::sleep(Duration::from_millis(800));
    }

    fn stop(self) -> revenue_engine::EngineReport {
        self.engine.stop();
        self.engine.join().expect("stops cleanly")
    }
}

fn event(customer: &str, kind: &str, ts: i64, extra: &str) -> String {
    format!(r#"{{"customer_id":"{customer}","type":"{kind}","ts":{ts}{extra}}}"#)
}

fn pricing(customer: &str, ts: i64) -> String {
    event(customer, "page_view", ts, r#","page":"pricing""#)
}

fn home(customer: &str, ts: i64) -> String {
    event(customer, "page_view", ts, r#","page":"home""#)
}

fn json_of(received: &[revenue_testkit::Received]) -> Vec<serde_json::Value> {
    received
        .iter()
        .map(|r| serde_json::from_slice(&r.payload).expect("JSON"))
        .collect()
}

fn actions(bootstrap: &str, expected: usize) -> Vec<serde_json::Value> {
    json_of(&read_all(bootstrap, &[ACTIONS], expected))
}

fn audit(bootstrap: &str, expected: usize) -> Vec<serde_json::Value> {
    let received = read_all(bootstrap, &[AUDIT], expected);
    for r in &received {
        let record: serde_json::Value = serde_json::from_slice(&r.payload).expect("JSON");
        assert_eq!(
            r.key.as_deref(),
            record["customer_id"].as_str().map(str::as_bytes),
            "audit records are keyed by customer id"
        );
    }
    json_of(&received)
}

fn partition_of(id: &str) -> i32 {
    murmur2_partition(id.as_bytes(), PARTITIONS)
}

/// A customer id on `partition`, starting with `prefix`.
fn customer_on(partition: i32, prefix: &str) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|id| partition_of(id) == partition)
        .expect("some id lands on every partition")
}

fn str_of(value: &serde_json::Value) -> &str {
    value.as_str().unwrap_or_default()
}

const QUIET: &str = "quiet_hours: {start: '21:00', end: '08:00', default_timezone: UTC}\n";

#[test]
fn quiet_hours_defer_an_action_across_a_restart_and_a_restore_and_send_it_once() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let dir = use_cases(QUIET, None);
    let night = "night-owl";
    let partition = partition_of(night);
    let decided = DAY0 + 23 * HOUR;
    let morning = DAY0 + DAY + 8 * HOUR;

    // 1. a pricing view at 23:00 local time: the action is decided, deferred, not emitted
    let disk_a = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk_a.path(), "quiet", dir.path()));
    engine.feed(&bootstrap, &[(INPUT, pricing(night, decided))]);
    let metrics = engine.metrics.render();
    let report = engine.stop();
    assert_eq!(report.counters.use_cases[0].deferred, 1);
    assert!(actions(&bootstrap, 0).is_empty(), "nothing is sent in the quiet hours");
    let records = audit(&bootstrap, 1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "deferred");
    assert_eq!(records[0]["reason"], "quiet_hours");
    assert_eq!(records[0]["deferred_until"], morning);
    assert_eq!(records[0]["features"]["pricing_views"], 1);
    let labels = [("use_case", "offer")];
    assert_eq!(
        metric_value(&metrics, "revenue_engine_policy_deferred_total", &labels),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            &metrics,
            "revenue_engine_policy_suppressed_total",
            &[("use_case", "offer"), ("reason", "quiet_hours")]
        ),
        Some(1.0)
    );
    // the deferred action is on disk, committed with the state
    let set = revenue_usecases::load_dir(dir.path()).expect("loads");
    {
        let store = PartitionStore::open(disk_a.path(), partition, 100).expect("store opens");
        let state = store.peek(&set.catalog, night).expect("reads").expect("stored");
        let deferred = &state.policy.as_ref().expect("policy state").deferred;
        assert_eq!(deferred.len(), 1);
        assert_eq!(deferred[0].due, morning);
    }

    // 2. a new instance on the same disk; another customer of the same partition moves the
    // partition's event time past 08:00: the deferred action goes out, once
    let engine = launch(config(&bootstrap, disk_a.path(), "quiet", dir.path()));
    let other = customer_on(partition, "early-bird");
    engine.feed(&bootstrap, &[(INPUT, home(&other, morning + HOUR))]);
    std::thread::sleep(Duration::from_millis(500)); // the delivery's checkpoint
    let metrics = engine.metrics.render();
    let report = engine.stop();
    assert_eq!(report.counters.use_cases[0].deferred_delivered, 1);
    assert_eq!(
        metric_value(&metrics, "revenue_engine_policy_deferred_delivered_total", &labels),
        Some(1.0)
    );
    let sent = actions(&bootstrap, 1);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["customer_id"], night);
    assert_eq!(sent[0]["event_type"], "deferred");
    assert_eq!(sent[0]["event_ts"], morning, "sent when the quiet hours end");
    assert_eq!(sent[0]["payload"]["views"], 1);
    let records = audit(&bootstrap, 2);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1]["outcome"], "delivered");

    // 3. the partition moves to an instance with an empty disk: state from the changelog, and
    // the action is not sent again
    let disk_c = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk_c.path(), "quiet", dir.path()));
    let third = customer_on(partition, "late-riser");
    engine.feed(&bootstrap, &[(INPUT, home(&third, morning + 3 * HOUR))]);
    let restored = engine.metrics.restore_records.get();
    let report = engine.stop();
    assert!(restored >= 2, "state came from the changelog: {restored} records");
    assert_eq!(report.counters.use_cases[0].deferred_delivered, 0);
    assert_eq!(
        actions(&bootstrap, 1).len(),
        1,
        "the deferred action went out exactly once"
    );
    let store = PartitionStore::open(disk_c.path(), partition, 100).expect("store opens");
    let state = store.peek(&set.catalog, night).expect("reads").expect("restored");
    assert!(state.policy.as_ref().is_some_and(|p| p.deferred.is_empty()));
}

const CONSENT_POLICY: &str = "consent: {opt_out: opt_out, opt_in: opt_in, channel_field: channel}\n";

#[test]
fn consent_from_a_second_topic_suppresses_until_the_customer_opts_in_again() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let dir = use_cases(CONSENT_POLICY, None);
    let disk = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk.path(), "consent", dir.path()));
    let noon = DAY0 + 12 * HOUR;
    let c = "careful";
    let email = r#","channel":"email""#;
    engine.feed(&bootstrap, &[(CONSENT, event(c, "opt_out", noon, email))]);
    engine.feed(&bootstrap, &[(INPUT, pricing(c, noon + HOUR))]);
    assert!(actions(&bootstrap, 0).is_empty(), "opted out: no action");
    let records = audit(&bootstrap, 1);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        (str_of(&records[0]["outcome"]), str_of(&records[0]["reason"])),
        ("suppressed", "consent")
    );
    engine.feed(&bootstrap, &[(CONSENT, event(c, "opt_in", noon + 2 * HOUR, email))]);
    engine.feed(&bootstrap, &[(INPUT, pricing(c, noon + 3 * HOUR))]);
    let sent = actions(&bootstrap, 1);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["customer_id"], c);
    assert_eq!(sent[0]["event_ts"], noon + 3 * HOUR);
    let records = audit(&bootstrap, 2);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1]["outcome"], "emitted");
    assert!(records[1]["reason"].is_null());
    let metrics = engine.metrics.render();
    let report = engine.stop();
    assert_eq!(report.events_by_topic.get(CONSENT), Some(&2));
    assert_eq!(
        metric_value(
            &metrics,
            "revenue_engine_policy_suppressed_total",
            &[("use_case", "offer"), ("reason", "consent")]
        ),
        Some(1.0)
    );
    assert_eq!(
        metric_value(&metrics, "revenue_engine_input_events_total", &[("topic", CONSENT)]),
        Some(2.0)
    );
}

const ATTRIBUTION: &str = "attribution:
  window: 30d
  conversions: [{event: purchase, value: event.amount}]
";

/// The customers `replay` acts on for `lines`, with the engine's evaluation (`Mode::Engine`).
fn replay_customers(dir: &Path, lines: &[String]) -> BTreeSet<String> {
    let set = Arc::new(revenue_usecases::load_dir(dir).expect("loads"));
    let input = lines.join("\n");
    let mut out = Vec::new();
    let options = revenue_replay::ReplayOptions {
        mode: Mode::Engine,
        ..Default::default()
    };
    revenue_replay::replay(set, input.as_bytes(), &mut out, &options, |_| {}).expect("replays");
    String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(|l| {
            let action: serde_json::Value = serde_json::from_str(l).expect("JSON");
            str_of(&action["customer_id"]).to_string()
        })
        .collect()
}

fn customers_of(values: &[serde_json::Value]) -> BTreeSet<String> {
    values.iter().map(|v| str_of(&v["customer_id"]).to_string()).collect()
}

#[test]
fn holdout_customers_match_replay_get_held_out_records_and_stay_in_control_after_a_restart() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let dir = use_cases(ATTRIBUTION, Some(0.5));
    let customers: Vec<String> = (0..40).map(|i| format!("h{i:02}")).collect();
    let round = |ts: i64| -> Vec<String> { customers.iter().map(|c| pricing(c, ts)).collect() };
    let first = round(DAY0 + 12 * HOUR);
    let with_topic = |lines: &[String]| -> Vec<(&str, String)> { lines.iter().map(|l| (INPUT, l.clone())).collect() };

    let disk = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk.path(), "holdout", dir.path()));
    engine.feed(&bootstrap, &with_topic(&first));
    engine.stop();
    let acted = customers_of(&actions(&bootstrap, 1));
    assert_eq!(
        acted,
        replay_customers(dir.path(), &first),
        "the engine acts on replay's customers"
    );
    let control: BTreeSet<String> = customers
        .iter()
        .filter(|c| in_control(0.5, "offer", c))
        .cloned()
        .collect();
    assert!(!control.is_empty() && control.len() < customers.len(), "{control:?}");
    assert_eq!(
        acted,
        customers.iter().filter(|c| !control.contains(*c)).cloned().collect()
    );
    let records = audit(&bootstrap, customers.len());
    assert_eq!(records.len(), customers.len(), "one decision record per customer");
    let held_out: BTreeSet<String> = records
        .iter()
        .filter(|r| r["outcome"] == "held_out")
        .map(|r| str_of(&r["customer_id"]).to_string())
        .collect();
    assert_eq!(held_out, control);
    assert!(records
        .iter()
        .all(|r| (r["outcome"] == "held_out") == (r["group"] == "control")));
    assert!(records
        .iter()
        .filter(|r| r["outcome"] == "held_out")
        .all(|r| r["reason"] == "holdout"));

    // a restart on the same disk: the second round reaches the same customers, holds out the same
    let second = round(DAY0 + DAY + 12 * HOUR);
    let engine = launch(config(&bootstrap, disk.path(), "holdout", dir.path()));
    engine.feed(&bootstrap, &with_topic(&second));
    engine.stop();
    let all = actions(&bootstrap, 2 * acted.len());
    assert_eq!(all.len(), 2 * acted.len(), "every treated customer once per round");
    let second_round: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|a| a["event_ts"] == DAY0 + DAY + 12 * HOUR)
        .collect();
    assert_eq!(customers_of(&second_round), acted);
    let records = audit(&bootstrap, 2 * customers.len());
    let held_out_again: BTreeSet<String> = records
        .iter()
        .filter(|r| r["outcome"] == "held_out" && r["ts"] == DAY0 + DAY + 12 * HOUR)
        .map(|r| str_of(&r["customer_id"]).to_string())
        .collect();
    assert_eq!(held_out_again, control, "the same customers stay in control");
}

#[test]
fn the_customer_api_is_off_by_default_needs_the_token_and_explains_the_state() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let dir = use_cases(&format!("{CONSENT_POLICY}{QUIET}"), None);
    let noon = DAY0 + 12 * HOUR;
    let c = "curious";

    // off (the default): 404, whatever the token
    let disk = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk.path(), "api", dir.path()));
    let http = HttpServer::start("127.0.0.1:0", engine.metrics.clone(), engine.status.clone()).expect("listener");
    let addr = http.addr.to_string();
    engine.feed(&bootstrap, &[(INPUT, pricing("first-visit", noon))]);
    let (code, body) = http_parts_owned(http_get_with(
        &addr,
        "/customers/curious",
        &[("Authorization", "Bearer t0ken")],
    ));
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("disabled"), "{body}");
    drop(http);
    engine.stop();

    // on: 401 without or with a wrong token, 200 with it
    let token = "t0ken-with-enough-entropy";
    let mut enabled = config(&bootstrap, disk.path(), "api", dir.path());
    enabled.http.customer_api.enabled = true;
    enabled.http.customer_api.token = revenue_engine::config::Secret(token.to_string());
    let engine = launch(enabled);
    let http = HttpServer::start("127.0.0.1:0", engine.metrics.clone(), engine.status.clone()).expect("listener");
    let addr = http.addr.to_string();
    let email = r#","channel":"email""#;
    engine.feed(&bootstrap, &[(CONSENT, event(c, "opt_out", noon + HOUR, email))]);
    engine.feed(
        &bootstrap,
        &[
            (INPUT, pricing(c, noon + 2 * HOUR)),
            (INPUT, event(c, "purchase", noon + 3 * HOUR, r#","amount":12.5"#)),
        ],
    );
    engine.feed(&bootstrap, &[(CONSENT, event(c, "opt_in", noon + 4 * HOUR, email))]);
    // 22:00: quiet hours, deferred to 08:00
    engine.feed(&bootstrap, &[(INPUT, pricing(c, noon + 10 * HOUR))]);
    let get = |headers: &[(&str, &str)], path: &str| http_parts_owned(http_get_with(&addr, path, headers));
    let (code, _) = get(&[], "/customers/curious");
    assert_eq!(code, 401);
    let (code, _) = get(&[("Authorization", "Bearer wrong")], "/customers/curious");
    assert_eq!(code, 401);
    let (code, _) = get(&[("Authorization", &format!("Basic {token}"))], "/customers/curious");
    assert_eq!(code, 401, "only a bearer token");
    let bearer = format!("Bearer {token}");
    let (code, body) = get(&[("Authorization", &bearer)], "/customers/nobody");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("customer not on this instance"), "{body}");
    let (code, body) = get(&[("Authorization", &bearer)], "/customers/curious");
    assert_eq!(code, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(state["customer_id"], c);
    assert_eq!(state["partition"], partition_of(c));
    assert_eq!(state["clock"], noon + 10 * HOUR);
    assert_eq!(state["features"]["pricing_views"], 2);
    assert_eq!(state["features"]["purchases"], 1);
    assert_eq!(state["features"]["revenue"], 12.5);
    assert_eq!(state["consent"]["email"]["granted"], true);
    assert_eq!(state["consent"]["email"]["ts"], noon + 4 * HOUR);
    let decisions = state["decisions"].as_array().expect("decisions");
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    // latest first
    assert_eq!(decisions[0]["use_case_id"], "offer");
    assert_eq!(decisions[0]["tier"], "mail");
    assert_eq!(decisions[0]["outcome"], "deferred");
    assert_eq!(decisions[0]["reason"], "quiet_hours");
    assert_eq!(decisions[1]["outcome"], "suppressed");
    assert_eq!(decisions[1]["reason"], "consent");
    assert_eq!(decisions[1]["ts"], noon + 2 * HOUR);
    let deferred = state["deferred"].as_array().expect("deferred");
    assert_eq!(deferred.len(), 1);
    assert_eq!(deferred[0]["tier"], "mail");
    assert_eq!(deferred[0]["due"], DAY0 + DAY + 8 * HOUR);
    assert_eq!(state["contacts"][0]["channel"], "email");
    assert_eq!(state["exposures"][0]["group"], "treatment");
    for key in ["timers", "funnel_stages"] {
        assert!(state[key].is_array(), "{key} in {state}");
    }
    drop(http);
    engine.stop();
}

fn http_parts_owned(response: Option<String>) -> (u16, String) {
    let response = response.expect("the listener answers");
    let (code, body) = http_parts(&response);
    (code, body.to_string())
}

#[test]
fn policy_and_attribution_metrics_count_what_the_processor_counts() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let dir = use_cases(&format!("{CONSENT_POLICY}{ATTRIBUTION}"), Some(0.5));
    let noon = DAY0 + 12 * HOUR;
    let customers: Vec<String> = (0..30).map(|i| format!("m{i:02}")).collect();
    let mut lines = vec![event("m00", "opt_out", noon - HOUR, "")];
    for (i, c) in customers.iter().enumerate() {
        lines.push(pricing(c, noon));
        // two in three buy, some twice
        if i % 3 != 0 {
            lines.push(event(
                c,
                "purchase",
                noon + DAY,
                &format!(r#","amount":{}.0"#, 10 * (i + 1)),
            ));
        }
        if i % 5 == 1 {
            lines.push(event(c, "purchase", noon + 2 * DAY, r#","amount":7.5"#));
        }
    }
    // what the same events do to the processor, customer by customer (order per customer kept)
    let set = Arc::new(revenue_usecases::load_dir(dir.path()).expect("loads"));
    let mut processor = Processor::new(set.clone(), Mode::Engine);
    let mut expected = revenue_core::Counters::for_set(&set);
    let mut states: BTreeMap<String, revenue_core::CustomerState> = BTreeMap::new();
    for (offset, line) in lines.iter().enumerate() {
        let event = revenue_core::decode_json(&set.catalog, line.as_bytes(), None).expect("decodes");
        let state = states
            .entry(event.customer_id().to_string())
            .or_insert_with(|| revenue_core::CustomerState::new(&set.catalog));
        let source = Source {
            topic: INPUT,
            partition: 0,
            offset: offset as i64,
        };
        processor.process(state, &event, source, &mut expected, &mut |_: Action| {});
    }
    let want = &expected.use_cases[0];
    assert!(want.control.exposed >= 2 && want.treatment.exposed >= 2, "{want:?}");
    assert!(want.control.converted > 0 && want.treatment.converted > 0, "{want:?}");

    let disk = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk.path(), "metrics", dir.path()));
    let input: Vec<(&str, String)> = lines.iter().map(|l| (INPUT, l.clone())).collect();
    engine.feed(&bootstrap, &input);
    let text = engine.metrics.render();
    let status = engine.status.clone();
    let report = engine.stop();
    assert_eq!(status.events_in.load(Ordering::Relaxed), lines.len() as u64);
    let got = &report.counters.use_cases[0];
    assert_eq!(got.suppressed, want.suppressed);
    assert_eq!((got.treatment, got.control), (want.treatment, want.control));

    let uc = [("use_case", "offer")];
    let value = |name: &str, labels: &[(&str, &str)]| {
        let all: Vec<(&str, &str)> = uc.iter().chain(labels).copied().collect();
        metric_value(&text, name, &all).unwrap_or_else(|| panic!("/metrics lacks {name}{labels:?}:\n{text}"))
    };
    assert_eq!(
        value("revenue_engine_policy_suppressed_total", &[("reason", "consent")]),
        1.0,
        "m00 opted out"
    );
    assert_eq!(
        value("revenue_engine_policy_suppressed_total", &[("reason", "holdout")]),
        want.suppressed[revenue_core::policy::Reason::Holdout as usize] as f64
    );
    for (group, totals) in [("treatment", &want.treatment), ("control", &want.control)] {
        let g = [("group", group)];
        assert_eq!(
            value("revenue_engine_attribution_exposures_total", &g),
            totals.exposed as f64
        );
        assert_eq!(
            value("revenue_engine_attribution_converted_total", &g),
            totals.converted as f64
        );
        assert_eq!(
            value("revenue_engine_attribution_conversions_total", &g),
            totals.conversions as f64
        );
        assert!((value("revenue_engine_attribution_revenue_total", &g) - totals.revenue).abs() < 1e-6);
        assert!((value("revenue_engine_attribution_revenue_squared_total", &g) - totals.revenue_squared).abs() < 1e-3);
    }
    let lift = revenue_core::measure::lift(&want.treatment, &want.control).expect("both groups exposed");
    let revenue = lift.incremental_revenue.expect("two exposures per group");
    for (bound, rate, added) in [
        ("estimate", lift.rate_difference.estimate, revenue.estimate),
        ("lower", lift.rate_difference.lower, revenue.lower),
        ("upper", lift.rate_difference.upper, revenue.upper),
    ] {
        let b = [("bound", bound)];
        assert!((value("revenue_engine_lift_conversion_rate_difference_ratio", &b) - rate).abs() < 1e-9);
        assert!((value("revenue_engine_lift_incremental_revenue", &b) - added).abs() < 1e-6);
    }
    assert_eq!(
        metric_value(&text, "revenue_engine_audit_records_total", &[]),
        Some(customers.len() as f64),
        "one decision record per decision"
    );
    // labels from bounded sets only: no customer id
    assert!(!customers.iter().any(|c| text.contains(c.as_str())));
}
