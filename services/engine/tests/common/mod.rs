//! What the engine's tests on librdkafka's mock cluster share: the cluster with the benchmark's
//! topics, an engine configuration for it, starting an engine, reading its actions.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// each test binary uses a part of it
#![allow(dead_code)]

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use revenue_engine::changelog::{encode_offsets, CHECKPOINT_HEADER, INPUT_OFFSETS_KEY};
use revenue_engine::config::{CustomerIdSource, EngineConfig};
use revenue_engine::wire::{ActionEncoder, OutputFormat};
use revenue_engine::{start, EngineHandle, Metrics, Status};
use revenue_testkit::{repo, ACTION_TOPICS, DEAD_LETTERS, INPUT, PARTITIONS};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A one-broker mock cluster with the benchmark's topics and the changelogs of `groups` (the mock
/// cluster has no admin API).
pub fn benchmark_cluster(groups: &[&str]) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let outputs: Vec<(&str, i32)> = ACTION_TOPICS.iter().chain([&DEAD_LETTERS]).map(|t| (*t, 4)).collect();
    mock_cluster(&[INPUT], &outputs, groups)
}

/// A one-broker mock cluster: co-partitioned `inputs` ([`PARTITIONS`] each), `outputs` with
/// their partition counts, and the changelogs of `groups`, made here (the mock cluster has no
/// admin API).
pub fn mock_cluster(
    inputs: &[&str],
    outputs: &[(&str, i32)],
    groups: &[&str],
) -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    let cluster = MockCluster::new(1).expect("mock cluster starts");
    for topic in inputs {
        cluster.create_topic(topic, PARTITIONS, 1).expect("input topic");
    }
    for (topic, partitions) in outputs {
        cluster.create_topic(topic, *partitions, 1).expect("topic");
    }
    for group in groups {
        cluster
            .create_topic(&format!("{group}.state-changelog"), PARTITIONS, 1)
            .expect("changelog");
    }
    cluster
}

/// An engine on `bootstrap` with the benchmark use cases, reading keyed JSON from the input.
pub fn config(bootstrap: &str, state: &Path, group: &str) -> EngineConfig {
    let mut config = EngineConfig::default();
    config.kafka.bootstrap_servers = bootstrap.to_string();
    config.kafka.group_id = group.to_string();
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
    config.use_cases.dir = repo().join("usecases/benchmark");
    config.http.listen = String::new();
    config
}

pub fn launch(config: EngineConfig) -> EngineHandle {
    let set = Arc::new(revenue_usecases::load_dir(&config.use_cases.dir).expect("use cases load"));
    start(config, set, Arc::new(Metrics::new()), Arc::new(Status::default())).expect("engine starts")
}

/// Actions as JSON, decoded with the engine's Avro schema.
pub fn decode_actions(received: &[revenue_testkit::Received]) -> Vec<serde_json::Value> {
    let encoder = ActionEncoder::new(OutputFormat::Avro, 3);
    received
        .iter()
        .map(|r| {
            let value = encoder
                .decode_avro(&r.payload)
                .expect("every action decodes with schemas/avro/action.avsc");
            avro_to_json(value)
        })
        .collect()
}

pub fn avro_to_json(value: apache_avro::types::Value) -> serde_json::Value {
    serde_json::Value::try_from(value).expect("Avro value converts to JSON")
}

/// A JSON event line of the benchmark catalog.
pub fn line(customer: &str, kind: &str, ts: i64) -> String {
    format!(r#"{{"customer_id":"{customer}","type":"{kind}","ts":{ts},"amount":0.0,"product":"p1"}}"#)
}

/// A copy of the benchmark use cases with `edit(file name, text)` applied to each file.
pub fn benchmark_use_cases_edited(edit: impl Fn(&str, String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("use-case dir");
    for name in ["features.yaml", "funnel-benchmark.yaml"] {
        let text = std::fs::read_to_string(repo().join("usecases/benchmark").join(name)).expect("read");
        std::fs::write(dir.path().join(name), edit(name, text)).expect("write");
    }
    dir
}

/// Sends one checkpoint to partition 0 of `topic` without waiting: its state records, then its
/// offsets record (input offsets `from`, or none when negative, to `to`), all with the
/// checkpoint id header.
pub fn send_checkpoint(producer: &BaseProducer, topic: &str, id: u64, states: &[(&str, &str)], from: i64, to: i64) {
    let id = id.to_le_bytes();
    let header = || {
        OwnedHeaders::new().insert(Header {
            key: CHECKPOINT_HEADER,
            value: Some(&id),
        })
    };
    for (key, value) in states {
        let record = BaseRecord::<str, str>::to(topic)
            .partition(0)
            .key(key)
            .payload(value)
            .headers(header());
        producer.send(record).map_err(|(e, _)| e).expect("send");
    }
    let from: Vec<(&str, i64)> = if from < 0 { vec![] } else { vec![(INPUT, from)] };
    let offsets = encode_offsets(&from, &[(INPUT, to)]);
    let record = BaseRecord::<[u8], [u8]>::to(topic)
        .partition(0)
        .key(INPUT_OFFSETS_KEY)
        .payload(&offsets)
        .headers(header());
    producer.send(record).map_err(|(e, _)| e).expect("send");
}

/// One checkpoint written as a transaction ([`send_checkpoint`]), committed or aborted.
pub fn checkpoint_transaction(
    producer: &BaseProducer,
    topic: &str,
    id: u64,
    states: &[(&str, &str)],
    from: i64,
    to: i64,
    commit: bool,
) {
    producer.begin_transaction().expect("begin");
    send_checkpoint(producer, topic, id, states, from, to);
    producer.flush(Duration::from_secs(10)).expect("flush");
    if commit {
        producer.commit_transaction(Duration::from_secs(30)).expect("commit");
    } else {
        producer.abort_transaction(Duration::from_secs(30)).expect("abort");
    }
}
