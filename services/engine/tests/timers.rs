//! Timers and state expiry in the live engine, against librdkafka's mock cluster and real
//! RocksDB: a timer fires once, at its due time, across a restart and across a move to an
//! instance with an empty disk (restored from the changelog); an idle customer leaves RocksDB
//! and the changelog gets a tombstone.

use rdkafka::mocking::MockCluster;
use revenue_engine_kafka::config::{CustomerIdSource, EngineConfig};
use revenue_engine_kafka::store::PartitionStore;
use revenue_engine_kafka::{start, EngineHandle, Metrics, Status};
use revenue_testkit::{
    decode_action, murmur2_partition, produce_lines, read_all, wait_for, DEAD_LETTERS, INPUT, PARTITIONS,
};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_793_491_200_000;
const ACTIONS: &str = "actions.churn";
const GROUP: &str = "timers";

const CATALOG: &str = "expire_after: 100d
event_types:
  purchase: {fields: {product: string, amount: double}}
  page_view: {fields: {page: string}}
features:
  purchases: {kind: count, events: [purchase]}
  last_purchase_ts: {kind: last_ts, events: [purchase]}
  days_since_last_purchase: {kind: days_since, of: last_purchase_ts}
";

const CHURN: &str = "id: churn
version: 1
title: No purchase for 30 days
owner: tests
status: live
value_driver: top-line
channels: [email]
data:
  features: [purchases, days_since_last_purchase]
  timer: {after: 30d, start_on: [purchase]}
algo: {rule: purchases >= 1}
action:
  retrigger: always
  tiers:
    - name: win-back
      when: 'true'
      type: email
      topic: actions.churn
      payload: {days: days_since_last_purchase}
";

fn config(bootstrap: &str, state: &Path, use_cases: &Path) -> EngineConfig {
    let mut config = EngineConfig::default();
    config.kafka.bootstrap_servers = bootstrap.to_string();
    config.kafka.group_id = GROUP.to_string();
    config.kafka.input_topics = vec![INPUT.to_string()];
    config.kafka.dead_letter_topic = DEAD_LETTERS.to_string();
    config.kafka.customer_id = CustomerIdSource::Key;
    config
        .kafka
        .properties
        .insert("session.timeout.ms".into(), "6000".into());
    config
        .kafka
        .properties
        .insert("heartbeat.interval.ms".into(), "500".into());
    config.state.dir = state.to_path_buf();
    config.state.commit_interval_ms = 200;
    config.use_cases.dir = use_cases.to_path_buf();
    config.use_cases.reload_interval_ms = 0;
    config.http.listen = String::new();
    config
}

fn launch(config: EngineConfig) -> EngineHandle {
    let set = Arc::new(revenue_offline::load_dir(&config.use_cases.dir).expect("use cases load"));
    let engine = start(config, set, Arc::new(Metrics::new()), Arc::new(Status::default())).expect("engine starts");
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(Ordering::Relaxed)
    });
    engine
}

fn purchase(customer: &str, ts: i64) -> String {
    format!(r#"{{"customer_id":"{customer}","type":"purchase","ts":{ts},"product":"p1","amount":10.0}}"#)
}

/// One page view on every partition at `ts`, so every partition's event time reaches it.
fn ticks(ts: i64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for i in 0.. {
        let customer = format!("tick-{ts}-{i}");
        if covered.insert(murmur2_partition(customer.as_bytes(), PARTITIONS)) {
            lines.push(format!(
                r#"{{"customer_id":"{customer}","type":"page_view","ts":{ts},"page":"home"}}"#
            ));
        }
        if covered.len() == PARTITIONS as usize {
            break;
        }
    }
    lines
}

/// Produces `lines`, waits until the engine consumed them and one more checkpoint (and timer
/// sweep) ran.
fn feed(engine: &EngineHandle, bootstrap: &str, lines: &[String]) {
    let before = engine.status.events_in.load(Ordering::Relaxed);
    produce_lines(bootstrap, lines);
    let target = before + lines.len() as u64;
    wait_for("events consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(Ordering::Relaxed) >= target
    });
    std::thread::sleep(Duration::from_millis(1_000));
}

fn churn_actions(bootstrap: &str, expected: usize) -> Vec<serde_json::Value> {
    read_all(bootstrap, &[ACTIONS], expected)
        .iter()
        .map(|r| decode_action(&r.payload))
        .collect()
}

#[test]
fn timers_fire_once_on_time_across_restarts_and_idle_customers_expire_with_a_tombstone() {
    let cluster = MockCluster::new(1).expect("mock cluster starts");
    let bootstrap = cluster.bootstrap_servers();
    cluster.create_topic(INPUT, PARTITIONS, 1).expect("input");
    cluster.create_topic(ACTIONS, 1, 1).expect("actions");
    cluster.create_topic(DEAD_LETTERS, 1, 1).expect("dead letters");
    let changelog = format!("{GROUP}.state-changelog");
    cluster.create_topic(&changelog, PARTITIONS, 1).expect("changelog");
    let use_cases = tempfile::tempdir().expect("use-case dir");
    std::fs::write(use_cases.path().join("features.yaml"), CATALOG).expect("catalog");
    std::fs::write(use_cases.path().join("churn.yaml"), CHURN).expect("use case");

    // A: purchases start the timers (c1 due day 30, c2 due day 50); c3 only browses
    let disk_a = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk_a.path(), use_cases.path()));
    feed(
        &engine,
        &bootstrap,
        &[
            purchase("c1", T0),
            purchase("c2", T0 + 20 * DAY),
            format!(r#"{{"customer_id":"c3","type":"page_view","ts":{T0},"page":"home"}}"#),
        ],
    );
    engine.stop();
    engine.join().expect("stops cleanly");
    assert!(churn_actions(&bootstrap, 0).is_empty(), "nothing is due yet");

    // B: a restart on the same disk; event time reaches day 31: c1's timer fires, c2's not yet
    let engine = launch(config(&bootstrap, disk_a.path(), use_cases.path()));
    feed(&engine, &bootstrap, &ticks(T0 + 29 * DAY));
    assert!(churn_actions(&bootstrap, 0).is_empty(), "not due on day 29");
    feed(&engine, &bootstrap, &ticks(T0 + 31 * DAY));
    engine.stop();
    let report = engine.join().expect("stops cleanly");
    assert_eq!(report.counters.use_cases[0].timers_fired, 1);
    let actions = churn_actions(&bootstrap, 1);
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["customer_id"], "c1");
    assert_eq!(actions[0]["event_type"], "timer");
    assert_eq!(
        actions[0]["event_ts"],
        T0 + 30 * DAY,
        "fires at its due time, not at the tick"
    );

    // C: another instance with an empty disk (a partition moved): state and timers come from
    // the changelog; c2 fires on day 51, c1 does not fire again
    let disk_c = tempfile::tempdir().expect("state");
    let engine = launch(config(&bootstrap, disk_c.path(), use_cases.path()));
    feed(&engine, &bootstrap, &ticks(T0 + 51 * DAY));
    let actions = churn_actions(&bootstrap, 2);
    let fired: Vec<(String, i64)> = actions
        .iter()
        .map(|a| {
            (
                a["customer_id"].as_str().unwrap_or_default().to_string(),
                a["event_ts"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        fired,
        [("c1".to_string(), T0 + 30 * DAY), ("c2".to_string(), T0 + 50 * DAY)]
    );

    // D: day 101: c3 (idle since day 0) expires; c1 and c2 (clock moved to their timers) stay
    feed(&engine, &bootstrap, &ticks(T0 + 101 * DAY));
    engine.stop();
    let report = engine.join().expect("stops cleanly");
    assert_eq!(report.counters.expired, 1, "only c3 expired");
    let partition_of = |id: &str| murmur2_partition(id.as_bytes(), PARTITIONS);
    let stored = |id: &str| {
        let store = PartitionStore::open(disk_c.path(), partition_of(id), 1_000).expect("store opens");
        store.stored_bytes(id).expect("read")
    };
    assert!(stored("c3").is_none(), "c3's state left RocksDB");
    assert!(stored("c1").is_some() && stored("c2").is_some());
    let records = read_all(&bootstrap, &[&changelog], 1);
    let last_of = |id: &str| records.iter().rev().find(|r| r.key.as_deref() == Some(id.as_bytes()));
    assert!(
        last_of("c3").expect("c3 in the changelog").payload.is_empty(),
        "tombstone for c3"
    );
    assert!(!last_of("c1").expect("c1 in the changelog").payload.is_empty());
    assert_eq!(churn_actions(&bootstrap, 2).len(), 2, "no timer fired twice");
}
