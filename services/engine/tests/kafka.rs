//! The engine against the real Kafka protocol: librdkafka's mock cluster, started in the test
//! process. RocksDB is real RocksDB in a temporary directory. Also: timers fire once, at their due
//! time, across a restart and a move to an empty disk; idle customers expire with a tombstone.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, Producer};
use revenue_engine::config::{EngineConfig, Guarantee};
use revenue_engine::http::HttpServer;
use revenue_engine::metrics::labels::{ReloadResult, UseCaseChannel};
use revenue_engine::{start, EngineHandle, Metrics, Status};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use revenue_engine::store::PartitionStore;
use revenue_testkit::{
    aborted_messages_hidden, bench_lines, decode_action, http_get, murmur2_partition, offline_run, produce_keyed,
    produce_lines, producer, read_all, repo, wait_for, Tansu, ACTION_TOPICS, DEAD_LETTERS, INPUT, PARTITIONS,
};
mod common;
use common::{benchmark_cluster, checkpoint_transaction, config, decode_actions, launch, line};

const GROUPS: [&str; 9] = [
    "bench",
    "dlq",
    "pair",
    "restart",
    "lost-disk",
    "mismatch",
    "eos",
    "reload",
    "timers",
];

fn cluster() -> MockCluster<'static, rdkafka::producer::DefaultProducerContext> {
    benchmark_cluster(&GROUPS)
}

#[test]
fn benchmark_20k_events_yield_exactly_the_reference_actions() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    let config = config(&bootstrap, state.path(), "bench");
    let set = Arc::new(revenue_usecases::load_dir(&config.use_cases.dir).expect("use cases load"));
    let (metrics, status) = (Arc::new(Metrics::new()), Arc::new(Status::default()));
    let http = HttpServer::start("127.0.0.1:0", metrics.clone(), status.clone()).expect("listener");
    assert!(
        http_get(&http.addr.to_string(), "/readyz")
            .unwrap_or_default()
            .starts_with("HTTP/1.1 503"),
        "not ready before joining"
    );
    let engine = start(config, set, metrics, status).expect("engine starts");
    let joined = || engine.status.joined.load(std::sync::atomic::Ordering::Relaxed);
    wait_for("group join", Duration::from_secs(30), joined);
    assert!(http_get(&http.addr.to_string(), "/readyz")
        .unwrap_or_default()
        .starts_with("HTTP/1.1 200"));
    assert!(http_get(&http.addr.to_string(), "/healthz")
        .unwrap_or_default()
        .starts_with("HTTP/1.1 200"));
    let lines = bench_lines(20_000, 2_000);
    produce_lines(&bootstrap, &lines);
    let consumed = || engine.status.events_in.load(std::sync::atomic::Ordering::Relaxed) >= 20_000;
    wait_for("all events consumed", Duration::from_secs(60), consumed);
    std::thread::sleep(Duration::from_millis(600)); // one commit interval: metrics are published
    let metrics_text = http_get(&http.addr.to_string(), "/metrics").unwrap_or_default();
    for expected in [
        "revenue_engine_input_events_total{topic=\"events\"} 20000",
        "revenue_engine_actions_total{channel=\"email\",use_case=\"funnel-benchmark\"} 1705",
        "revenue_engine_actions_total{channel=\"telemarketing\",use_case=\"funnel-benchmark\"} 277",
        "revenue_engine_use_case_evaluations_total{use_case=\"funnel-benchmark\"} 20000",
        "revenue_engine_evaluation_duration_seconds_bucket",
        "revenue_engine_partitions_assigned 8",
        "revenue_engine_state_bytes",
    ] {
        assert!(
            metrics_text.contains(expected),
            "/metrics lacks {expected}:\n{metrics_text}"
        );
    }
    // labels come from bounded sets: no customer id appears anywhere
    let customers: HashSet<String> = lines
        .iter()
        .filter_map(|l| l.split('"').nth(3).map(str::to_string))
        .collect();
    assert!(customers.len() > 1_000);
    assert!(
        !customers.iter().any(|c| metrics_text.contains(c.as_str())),
        "a customer id leaked into /metrics"
    );
    engine.stop();
    let report = engine.join().expect("engine stops cleanly");
    assert_eq!(report.counters.events, 20_000);

    let actions = decode_actions(&read_all(&bootstrap, &ACTION_TOPICS, 1_982));
    assert_eq!(actions.len(), 1_982);
    let count = |t: &str| actions.iter().filter(|a| a["action_type"] == t).count();
    assert_eq!(count("telemarketing_handoff"), 277);
    assert_eq!(count("warmup_email"), 1_705);
    let ids: HashSet<&str> = actions.iter().filter_map(|a| a["action_id"].as_str()).collect();
    assert_eq!(ids.len(), 1_982, "action ids are unique");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// An Avro record in the Confluent framing: magic 0, the schema id, the body.
fn avro_event(id: u32, schema: &str, customer: &str, kind: &str, ts: i64, amount: Option<&str>) -> Vec<u8> {
    use apache_avro::types::Value;
    let schema = apache_avro::Schema::parse_str(&std::fs::read_to_string(repo().join(schema)).expect("schema file"))
        .expect("schema");
    let apache_avro::Schema::Record(record) = &schema else {
        panic!("a record schema")
    };
    let fields = record
        .fields
        .iter()
        .map(|f| {
            let value = match f.name.as_str() {
                "customer_id" => Value::String(customer.into()),
                "type" => Value::String(kind.into()),
                "ts" if matches!(f.schema, apache_avro::Schema::TimestampMillis) => Value::TimestampMillis(ts),
                "ts" => Value::Long(ts),
                "amount" if amount.is_some() => Value::String(amount.unwrap_or_default().into()),
                _ => Value::Union(0, Box::new(Value::Null)),
            };
            (f.name.clone(), value)
        })
        .collect();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&id.to_be_bytes());
    framed.extend(apache_avro::to_avro_datum(&schema, Value::Record(fields)).expect("encodes"));
    framed
}

/// Reads the action topics: exactly the benchmark's 1,982 actions (277 hand-offs, 1,705
/// warm-ups), each once.
fn assert_benchmark_actions_once(bootstrap: &str, context: &str) {
    let actions = decode_actions(&read_all(bootstrap, &ACTION_TOPICS, 1_982));
    assert_eq!(actions.len(), 1_982, "{context}: every action, once");
    let count = |t: &str| actions.iter().filter(|a| a["action_type"] == t).count();
    assert_eq!(
        (count("telemarketing_handoff"), count("warmup_email")),
        (277, 1_705),
        "{context}"
    );
    let ids: HashSet<&str> = actions.iter().filter_map(|a| a["action_id"].as_str()).collect();
    assert_eq!(ids.len(), 1_982, "{context}: no action repeated");
}

#[test]
fn bad_events_go_to_the_dead_letter_topic_and_the_partition_goes_on() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    let mut dlq_config = config(&bootstrap, state.path(), "dlq");
    dlq_config
        .input
        .schemas
        .insert(1, repo().join("schemas/avro/behavioural-event.avsc"));
    dlq_config.input.schemas.insert(9, fixture("mismatched-event.avsc"));
    let engine = launch(dlq_config);
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(std::sync::atomic::Ordering::Relaxed)
    });
    // one customer, so every event is on one partition, bad ones between good ones
    let key = "c-dlq";
    let bad: Vec<(&str, String)> = vec![
        ("invalid_json", "{\"customer_id\":\"c-dlq\",\"type\":".to_string()),
        (
            "wrong_field_type",
            r#"{"customer_id":"c-dlq","type":"page_view","ts":5,"amount":"lots"}"#.to_string(),
        ),
        ("missing_type", r#"{"customer_id":"c-dlq","ts":6}"#.to_string()),
        (
            "missing_timestamp",
            r#"{"customer_id":"c-dlq","type":"page_view"}"#.to_string(),
        ),
        // Confluent framing, schema id 1 (configured), a body that is not that record
        ("undecodable", "\u{0}\u{0}\u{0}\u{0}\u{1}garbage".to_string()),
        ("unknown_schema_id", "\u{0}\u{0}\u{0}\u{3}\u{e7}\u{2}abc".to_string()),
        // a valid event at the end of time, and one before 1970: neither may move the clock
        (
            "timestamp_out_of_range",
            r#"{"customer_id":"c-dlq","type":"page_view","ts":9223372036854775807}"#.to_string(),
        ),
        (
            "timestamp_out_of_range",
            r#"{"customer_id":"c-dlq","type":"page_view","ts":-5}"#.to_string(),
        ),
    ];
    // the second page view comes as Avro (Confluent framing, schema id 1): both formats mix
    let avro_view = avro_event(1, "schemas/avro/behavioural-event.avsc", key, "page_view", 2, None);
    let mut lines = vec![line(key, "page_view", 1)];
    lines.extend(bad.iter().map(|(_, l)| l.clone()));
    produce_keyed(&bootstrap, &lines, |_| key.to_string());
    // binary payloads: the Avro page view and an Avro event whose schema mismatches the catalog
    let mismatched = avro_event(
        9,
        "services/engine/tests/fixtures/mismatched-event.avsc",
        key,
        "purchase",
        3,
        Some("12.50"),
    );
    let producer = producer(&bootstrap);
    for payload in [&avro_view, &mismatched] {
        producer
            .send(BaseRecord::<str, [u8]>::to(INPUT).key(key).payload(payload.as_slice()))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    produce_keyed(
        &bootstrap,
        &[line(key, "email_click", 3), line(key, "page_view", 4)],
        |_| key.to_string(),
    );
    // an event without any customer id: no key and no field
    let orphan = r#"{"type":"page_view","ts":7}"#;
    producer
        .send(BaseRecord::<(), str>::to(INPUT).payload(orphan))
        .map_err(|(e, _)| e)
        .expect("send");
    // a tombstone (a key and no value at all): dead-lettered untouched, still without a value
    producer
        .send(BaseRecord::<str, ()>::to(INPUT).key(key))
        .map_err(|(e, _)| e)
        .expect("send");
    producer.flush(Duration::from_secs(10)).expect("flush");

    let expected_in = lines.len() as u64 + 2 + 2 + 1 + 1;
    wait_for("all events consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(std::sync::atomic::Ordering::Relaxed) >= expected_in
    });
    engine.stop();
    let report = engine.join().expect("engine stops cleanly");

    let dead = read_all(&bootstrap, &[DEAD_LETTERS], bad.len() + 3);
    assert_eq!(dead.len(), bad.len() + 3);
    let tombstones: Vec<_> = dead.iter().filter(|d| d.tombstone).collect();
    assert_eq!(tombstones.len(), 1, "the tombstone's dead letter has no value either");
    assert_eq!(tombstones[0].key.as_deref(), Some(key.as_bytes()));
    assert!(!tombstones[0].headers["reason"].is_empty());
    let mismatch = dead
        .iter()
        .find(|d| d.payload == mismatched)
        .expect("schema mismatch dead-lettered");
    assert_eq!(mismatch.headers["reason"], "schema_mismatch");
    assert!(
        mismatch.headers["error"].contains("amount"),
        "{}",
        mismatch.headers["error"]
    );
    for (reason, payload) in &bad {
        let letter = dead
            .iter()
            .find(|d| !d.tombstone && d.payload == payload.as_bytes())
            .unwrap_or_else(|| panic!("{reason} not dead-lettered"));
        assert_eq!(letter.headers["reason"], *reason, "{payload}");
        assert_eq!(letter.headers["source_topic"], INPUT);
        assert!(letter.headers["source_offset"].parse::<i64>().is_ok());
        assert!(letter.headers["source_partition"].parse::<i32>().is_ok());
        assert!(!letter.headers["error"].is_empty());
        assert_eq!(letter.key.as_deref(), Some(key.as_bytes()));
    }
    let orphan_letter = dead
        .iter()
        .find(|d| d.payload == orphan.as_bytes())
        .expect("orphan dead-lettered");
    assert_eq!(orphan_letter.headers["reason"], "missing_customer_id");
    assert_eq!(report.dead_letters.values().sum::<u64>(), bad.len() as u64 + 3);

    // the good events behind the bad ones, JSON and Avro, were processed: the third page view
    // after a click triggers the warm-up
    let actions = decode_actions(&read_all(&bootstrap, &ACTION_TOPICS, 1));
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["customer_id"], key);
    assert_eq!(actions[0]["action_type"], "warmup_email");
}

#[test]
fn two_instances_split_the_partitions_and_together_act_as_one() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let state_a = tempfile::tempdir().expect("state dir");
    let state_b = tempfile::tempdir().expect("state dir");
    let a = launch(config(&bootstrap, state_a.path(), "pair"));
    let b = launch(config(&bootstrap, state_b.path(), "pair"));
    let assigned = |e: &EngineHandle| e.status.partitions.load(std::sync::atomic::Ordering::Relaxed);
    wait_for("both instances assigned", Duration::from_secs(60), || {
        assigned(&a) > 0 && assigned(&b) > 0 && assigned(&a) + assigned(&b) == PARTITIONS as usize
    });
    let lines = bench_lines(20_000, 2_000);
    produce_lines(&bootstrap, &lines);
    let consumed = |e: &EngineHandle| e.status.events_in.load(std::sync::atomic::Ordering::Relaxed);
    wait_for("all events consumed", Duration::from_secs(90), || {
        consumed(&a) + consumed(&b) >= 20_000
    });
    assert!(
        consumed(&a) > 0 && consumed(&b) > 0,
        "both instances worked: {} + {}",
        consumed(&a),
        consumed(&b)
    );
    a.stop();
    b.stop();
    a.join().expect("a stops");
    b.join().expect("b stops");

    let actions = decode_actions(&read_all(&bootstrap, &ACTION_TOPICS, 1_982));
    assert_eq!(actions.len(), 1_982, "no action lost or repeated");
    // exactly the actions one instance computes: the ids hash use case, customer and the
    // event's topic/partition/offset, so equal sets mean the same decisions on the same events
    let got: HashSet<String> = actions
        .iter()
        .filter_map(|a| a["action_id"].as_str().map(str::to_string))
        .collect();
    let want = offline_run(&lines).action_ids;
    assert_eq!(got, want);
}

#[test]
fn a_restart_on_the_same_state_directory_loses_and_repeats_nothing() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    let lines = bench_lines(20_000, 2_000);
    let (first, second) = lines.split_at(10_000);

    let engine = launch(config(&bootstrap, state.path(), "restart"));
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(std::sync::atomic::Ordering::Relaxed)
    });
    produce_lines(&bootstrap, first);
    wait_for("first half consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(std::sync::atomic::Ordering::Relaxed) >= 10_000
    });
    engine.stop();
    let before = engine.join().expect("stops cleanly");
    assert_eq!(before.counters.events, 10_000);

    produce_lines(&bootstrap, second);
    let engine = launch(config(&bootstrap, state.path(), "restart"));
    wait_for("second half consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(std::sync::atomic::Ordering::Relaxed) >= 10_000
    });
    std::thread::sleep(Duration::from_millis(500));
    engine.stop();
    let after = engine.join().expect("stops cleanly");
    assert_eq!(
        after.counters.events, 10_000,
        "the restarted engine read only what it had not processed"
    );

    assert_benchmark_actions_once(&bootstrap, "after a restart on the same state directory");
}

#[test]
fn a_new_instance_with_an_empty_disk_restores_state_from_the_changelog() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let lines = bench_lines(20_000, 2_000);
    let (first, second) = lines.split_at(10_000);
    let consumed = |e: &EngineHandle| e.status.events_in.load(std::sync::atomic::Ordering::Relaxed);

    let disk_a = tempfile::tempdir().expect("state dir");
    let engine = launch(config(&bootstrap, disk_a.path(), "lost-disk"));
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(std::sync::atomic::Ordering::Relaxed)
    });
    produce_lines(&bootstrap, first);
    wait_for("first half consumed", Duration::from_secs(60), || {
        consumed(&engine) >= 10_000
    });
    engine.stop();
    engine.join().expect("stops cleanly");
    drop(disk_a); // the pod and its disk are gone

    produce_lines(&bootstrap, second);
    let disk_b = tempfile::tempdir().expect("state dir");
    let config_b = config(&bootstrap, disk_b.path(), "lost-disk");
    let set = Arc::new(revenue_usecases::load_dir(&config_b.use_cases.dir).expect("use cases load"));
    let metrics = Arc::new(Metrics::new());
    let engine = start(config_b, set, metrics.clone(), Arc::new(Status::default())).expect("engine starts");
    wait_for("second half consumed", Duration::from_secs(60), || {
        consumed(&engine) >= 10_000
    });
    std::thread::sleep(Duration::from_millis(500));
    engine.stop();
    let after = engine.join().expect("stops cleanly");
    assert_eq!(
        after.counters.events, 10_000,
        "the new instance resumed from the offsets in the changelog"
    );
    assert!(
        metrics.restore_records.get() >= 1_000,
        "state came from the changelog: {} records",
        metrics.restore_records.get()
    );

    assert_benchmark_actions_once(&bootstrap, "after a restore from the changelog");
}

#[test]
fn a_changelog_with_another_partition_count_is_a_clear_startup_error() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    let mut config = config(&bootstrap, state.path(), "mismatch");
    config.state.changelog_topic = "wrong-size-changelog".into();
    cluster.create_topic("wrong-size-changelog", 3, 1).expect("topic");
    let set = Arc::new(revenue_usecases::load_dir(&config.use_cases.dir).expect("use cases load"));
    let err = start(config, set, Arc::new(Metrics::new()), Arc::new(Status::default()))
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("wrong-size-changelog") && text.contains("3 partitions") && text.contains("8"),
        "{text}"
    );
}

#[test]
fn exactly_once_mode_commits_each_interval_as_a_transaction() {
    // Broker: librdkafka's mock cluster. It accepts the transaction API and enforces none of it
    // (no read_committed isolation, offsets sent in a transaction are not stored), so this test
    // checks the transactional path end to end — init, begin, send_offsets, commit per interval,
    // state written after the commit — not isolation; that needs a broker with transactions.
    println!("broker: librdkafka mock cluster (transactions accepted, not enforced)");
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    let mut config = config(&bootstrap, state.path(), "eos");
    config.kafka.guarantee = Guarantee::ExactlyOnce;
    config.kafka.transactional_id = "eos-test".into();
    let engine = launch(config.clone());
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(std::sync::atomic::Ordering::Relaxed)
    });
    let lines = bench_lines(20_000, 2_000);
    let (first, second) = lines.split_at(10_000);
    produce_lines(&bootstrap, first);
    let consumed = |e: &EngineHandle| e.status.events_in.load(std::sync::atomic::Ordering::Relaxed);
    wait_for("first half consumed", Duration::from_secs(60), || {
        consumed(&engine) >= 10_000
    });
    engine.stop();
    assert_eq!(engine.join().expect("stops cleanly").counters.events, 10_000);
    // a restart (same transactional id: the old producer is fenced) resumes from the state's offsets
    produce_lines(&bootstrap, second);
    let engine = launch(config);
    wait_for("second half consumed", Duration::from_secs(60), || {
        consumed(&engine) >= 10_000
    });
    std::thread::sleep(Duration::from_millis(500));
    engine.stop();
    assert_eq!(engine.join().expect("stops cleanly").counters.events, 10_000);
    assert_benchmark_actions_once(&bootstrap, "exactly-once with a restart");
}

#[test]
fn benchmark_on_tansu_an_independent_broker_yields_the_reference_actions() {
    let tansu = Tansu::start();
    println!(
        "broker: Tansu 0.6.0 at {} (independent Kafka-compatible broker)",
        tansu.bootstrap
    );
    tansu.create_benchmark_topics();
    let state = tempfile::tempdir().expect("state dir");
    // the engine creates its compacted changelog itself through the admin API here
    run_benchmark_20k(&tansu.bootstrap, config(&tansu.bootstrap, state.path(), "tansu"));
    assert_benchmark_actions_once(&tansu.bootstrap, "on Tansu");
}

/// One engine with `config` over the 20k benchmark workload, produced once it has joined.
fn run_benchmark_20k(bootstrap: &str, config: EngineConfig) {
    let engine = launch(config);
    wait_for("group join", Duration::from_secs(60), || {
        engine.status.joined.load(std::sync::atomic::Ordering::Relaxed)
    });
    produce_lines(bootstrap, &bench_lines(20_000, 2_000));
    // Tansu's high watermarks under-report: completion is decided by the engine's own count
    wait_for("all events consumed", Duration::from_secs(120), || {
        engine.status.events_in.load(std::sync::atomic::Ordering::Relaxed) >= 20_000
    });
    engine.stop();
    assert_eq!(engine.join().expect("stops cleanly").counters.events, 20_000);
}

#[test]
fn exactly_once_on_tansu_delivers_every_action_once_to_read_committed_readers() {
    let tansu = Tansu::start();
    tansu.create_benchmark_topics();
    let hides_aborted = aborted_messages_hidden(&tansu.bootstrap, "probe");
    println!(
        "broker: Tansu 0.6.0 at {}; probe: aborted transactional messages {} to read_committed readers",
        tansu.bootstrap,
        if hides_aborted { "hidden" } else { "VISIBLE" }
    );
    let state = tempfile::tempdir().expect("state dir");
    let mut config = config(&tansu.bootstrap, state.path(), "tansu-eos");
    config.kafka.guarantee = Guarantee::ExactlyOnce;
    config.kafka.transactional_id = "tansu-eos-engine".into();
    run_benchmark_20k(&tansu.bootstrap, config);
    // read_committed (librdkafka's default) sees committed transactions only; no transaction
    // aborted in this run, so even a broker that leaks aborted data shows no action twice
    assert_benchmark_actions_once(&tansu.bootstrap, "exactly-once on Tansu, read_committed");
}

#[test]
fn exactly_once_restore_skips_aborted_checkpoints_even_when_the_broker_returns_them() {
    use revenue_engine::changelog::{restore, RestoreContext};
    use revenue_engine::store::PartitionStore;
    let tansu = Tansu::start();
    tansu.create_topics(&[("changelog", 1), ("probe", 1)]);
    let hides_aborted = aborted_messages_hidden(&tansu.bootstrap, "probe");
    println!(
        "broker: Tansu 0.6.0 at {}; probe: aborted transactional messages {} to read_committed readers",
        tansu.bootstrap,
        if hides_aborted { "hidden" } else { "VISIBLE" }
    );
    let producer: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &tansu.bootstrap)
        .set("transactional.id", "changelog-writer")
        .create()
        .expect("producer");
    producer.init_transactions(Duration::from_secs(30)).expect("init");
    // committed up to input offset 10; a checkpoint to 20 aborted (a crash inside the commit)
    checkpoint_transaction(&producer, "changelog", 1, &[("c1", "v1")], -1, 10, true);
    checkpoint_transaction(&producer, "changelog", 2, &[("c1", "v2"), ("c2", "v3")], 10, 20, false);
    let restorer: rdkafka::consumer::BaseConsumer<RestoreContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &tansu.bootstrap)
        .set("group.id", "restore-test")
        .set("enable.partition.eof", "true")
        .create_with_context(RestoreContext)
        .expect("restorer");
    let restored = |committed: Option<&std::collections::BTreeMap<String, i64>>| {
        let dir = tempfile::tempdir().expect("dir");
        let store = PartitionStore::open(dir.path(), 0, 1_000).expect("store");
        let catalog = revenue_usecases::load_dir(&repo().join("usecases/benchmark"))
            .expect("loads")
            .catalog;
        let (store, _) = restore(&restorer, &catalog, "changelog", 0, store, committed, |_| {}).expect("restore");
        let offsets = store.input_offsets().expect("offsets")[INPUT];
        let c1 = store.stored_bytes("c1").expect("read");
        let c2 = store.stored_bytes("c2").expect("read");
        (offsets, c1, c2)
    };
    let committed = std::collections::BTreeMap::from([(INPUT.to_string(), 10)]);
    let (offsets, c1, c2) = restored(Some(&committed));
    assert_eq!(offsets, 10, "restored up to the committed input offsets");
    assert_eq!(
        c1.as_deref(),
        Some(b"v1".as_slice()),
        "the aborted checkpoint left no trace"
    );
    assert_eq!(c2, None);
    // without the bound (at-least-once reading), what the broker returns decides
    let (offsets, _, c2) = restored(None);
    if hides_aborted {
        assert_eq!((offsets, c2), (10, None));
    } else {
        assert_eq!(offsets, 20, "this broker returned the aborted checkpoint");
        assert!(c2.is_some());
    }
}

/// A use-case directory the way Kubernetes mounts a ConfigMap: the files are links into
/// `..data`, itself a link to a timestamped directory; an update writes a new directory and
/// swaps `..data` atomically.
struct ConfigMapDir {
    dir: tempfile::TempDir,
    generation: u32,
}

impl ConfigMapDir {
    fn new(files: &[(&str, String)]) -> ConfigMapDir {
        let mut mount = ConfigMapDir {
            dir: tempfile::tempdir().expect("dir"),
            generation: 0,
        };
        mount.publish(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(format!("..data/{name}"), mount.dir.path().join(name)).expect("link");
        }
        mount
    }

    fn publish(&mut self, files: &[(&str, String)]) {
        self.generation += 1;
        let version = format!("..2026_11_23_{}", self.generation);
        let target = self.dir.path().join(&version);
        std::fs::create_dir(&target).expect("version dir");
        for (name, text) in files {
            std::fs::write(target.join(name), text).expect("write");
        }
        let tmp = self.dir.path().join("..data_tmp");
        std::os::unix::fs::symlink(&version, &tmp).expect("link");
        std::fs::rename(&tmp, self.dir.path().join("..data")).expect("swap");
    }
}

#[test]
fn use_cases_hot_reload_applies_a_valid_change_and_refuses_an_invalid_one() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let benchmark = repo().join("usecases/benchmark");
    let read = |name: &str| std::fs::read_to_string(benchmark.join(name)).expect("read");
    let features = read("features.yaml");
    let use_case = read("funnel-benchmark.yaml");
    let mut mount = ConfigMapDir::new(&[
        ("features.yaml", features.clone()),
        ("funnel-benchmark.yaml", use_case.clone()),
    ]);
    let state = tempfile::tempdir().expect("state dir");
    let mut config = config(&bootstrap, state.path(), "reload");
    config.use_cases.dir = mount.dir.path().to_path_buf();
    config.use_cases.reload_interval_ms = 100;
    let set = Arc::new(revenue_usecases::load_dir(&config.use_cases.dir).expect("use cases load"));
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(Status::default());
    let http = HttpServer::start("127.0.0.1:0", metrics.clone(), status.clone()).expect("http");
    let addr = http.addr.to_string();
    let loaded = || -> serde_json::Value {
        let response = http_get(&addr, "/usecases").unwrap_or_default();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        serde_json::from_str(body).unwrap_or_default()
    };
    let engine = start(config, set, metrics.clone(), status.clone()).expect("engine starts");
    let consumed = || status.events_in.load(std::sync::atomic::Ordering::Relaxed);
    let actions = || {
        metrics
            .actions
            .with(&UseCaseChannel {
                use_case: "funnel-benchmark",
                channel: "telemarketing",
            })
            .get()
            + metrics
                .actions
                .with(&UseCaseChannel {
                    use_case: "funnel-benchmark",
                    channel: "email",
                })
                .get()
    };
    wait_for("group join", Duration::from_secs(30), || {
        status.joined.load(std::sync::atomic::Ordering::Relaxed)
    });
    let first = loaded();
    assert_eq!(first["use_cases"][0]["id"], "funnel-benchmark");
    assert_eq!(first["use_cases"][0]["version"], 1);
    assert_eq!(first["use_cases"][0]["status"], "live");
    assert!(
        first["use_cases"][0]["checksum"]
            .as_str()
            .is_some_and(|c| c.len() == 16),
        "{first}"
    );
    let lines = bench_lines(20_000, 2_000);
    produce_lines(&bootstrap, &lines[..8_000]);
    wait_for("first part consumed", Duration::from_secs(60), || consumed() >= 8_000);

    // a valid change: version 2 of the use case
    let version_2 = use_case.replacen("version: 1", "version: 2", 1);
    mount.publish(&[
        ("features.yaml", features.clone()),
        ("funnel-benchmark.yaml", version_2),
    ]);
    wait_for("version 2 running", Duration::from_secs(30), || {
        loaded()["use_cases"][0]["version"] == 2
    });
    assert_eq!(
        metrics.use_case_reloads.with(&ReloadResult { result: "applied" }).get(),
        1
    );
    assert!(metrics
        .render()
        .contains(r#"revenue_engine_use_case_info{status="live",use_case="funnel-benchmark",version="2"} 1"#));
    produce_lines(&bootstrap, &lines[8_000..16_000]);
    wait_for("second part consumed", Duration::from_secs(60), || consumed() >= 16_000);

    // an invalid change: refused with its problem, version 2 keeps running
    let broken = use_case
        .replacen("version: 1", "version: 3", 1)
        .replace("page_views >=", "page_viewz >=");
    assert_ne!(
        broken,
        use_case.replacen("version: 1", "version: 3", 1),
        "the fixture still has the rule to break"
    );
    mount.publish(&[("features.yaml", features), ("funnel-benchmark.yaml", broken)]);
    wait_for("change refused", Duration::from_secs(30), || {
        metrics.use_case_reloads.with(&ReloadResult { result: "refused" }).get() == 1
    });
    let after_refusal = loaded();
    assert_eq!(after_refusal["use_cases"][0]["version"], 2, "{after_refusal}");
    let problems = after_refusal["last_refused"]["problems"].to_string();
    assert!(
        problems.contains("page_viewz") && problems.contains("funnel-benchmark.yaml"),
        "{problems}"
    );
    let actions_before = actions();
    produce_lines(&bootstrap, &lines[16_000..]);
    wait_for("last part consumed", Duration::from_secs(60), || consumed() >= 20_000);
    std::thread::sleep(Duration::from_millis(500));
    engine.stop();
    engine.join().expect("stops cleanly");
    assert!(
        actions() > actions_before,
        "the old set kept acting after the refused change"
    );

    // the same decisions as without reloads: the rule did not change, only the version
    let decoded = decode_actions(&read_all(&bootstrap, &ACTION_TOPICS, 1_982));
    assert_eq!(decoded.len(), 1_982);
    let version = |v: i64| decoded.iter().filter(|a| a["use_case_version"] == v).count();
    assert!(version(1) > 0 && version(2) > 0, "v1 {} v2 {}", version(1), version(2));
    assert_eq!(version(1) + version(2), 1_982);
}

// timers and expiry
const DAY: i64 = 86_400_000;
const T0: i64 = 1_793_491_200_000;
const CHURN_ACTIONS: &str = "actions.churn";

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

/// An engine of group `timers` on the use cases in `use_cases`, once it has joined.
fn launch_timers(bootstrap: &str, state: &Path, use_cases: &Path) -> EngineHandle {
    let mut config = config(bootstrap, state, "timers");
    // this test's calendar (from 2026-11-01, over 100 days) runs ahead of the wall clock
    config.input.max_future_skew_ms = 10 * 365 * 86_400_000;
    config.use_cases.dir = use_cases.to_path_buf();
    config.use_cases.reload_interval_ms = 0;
    let engine = launch(config);
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(std::sync::atomic::Ordering::Relaxed)
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
    let before = engine.status.events_in.load(std::sync::atomic::Ordering::Relaxed);
    produce_lines(bootstrap, lines);
    let target = before + lines.len() as u64;
    wait_for("events consumed", Duration::from_secs(60), || {
        engine.status.events_in.load(std::sync::atomic::Ordering::Relaxed) >= target
    });
    std::thread::sleep(Duration::from_millis(1_000));
}

fn churn_actions(bootstrap: &str, expected: usize) -> Vec<serde_json::Value> {
    read_all(bootstrap, &[CHURN_ACTIONS], expected)
        .iter()
        .map(|r| decode_action(&r.payload))
        .collect()
}

#[test]
fn timers_fire_once_on_time_across_restarts_and_idle_customers_expire_with_a_tombstone() {
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    cluster.create_topic(CHURN_ACTIONS, 1, 1).expect("actions");
    let changelog = "timers.state-changelog";
    let use_cases = tempfile::tempdir().expect("use-case dir");
    std::fs::write(use_cases.path().join("features.yaml"), CATALOG).expect("catalog");
    std::fs::write(use_cases.path().join("churn.yaml"), CHURN).expect("use case");

    // A: purchases start the timers (c1 due day 30, c2 due day 50); c3 only browses
    let disk_a = tempfile::tempdir().expect("state");
    let engine = launch_timers(&bootstrap, disk_a.path(), use_cases.path());
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
    let engine = launch_timers(&bootstrap, disk_a.path(), use_cases.path());
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
    let engine = launch_timers(&bootstrap, disk_c.path(), use_cases.path());
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

    // D: day 101: c3 and c1 (idle since day 0: a timer is no event, it leaves the clock where
    // it was) expire; c2 (last event on day 20) stays
    feed(&engine, &bootstrap, &ticks(T0 + 101 * DAY));
    engine.stop();
    let report = engine.join().expect("stops cleanly");
    assert_eq!(report.counters.expired, 2, "c3 and c1 expired");
    let partition_of = |id: &str| murmur2_partition(id.as_bytes(), PARTITIONS);
    let stored = |id: &str| {
        let store = PartitionStore::open(disk_c.path(), partition_of(id), 1_000).expect("store opens");
        store.stored_bytes(id).expect("read")
    };
    assert!(stored("c3").is_none(), "c3's state left RocksDB");
    assert!(stored("c1").is_none(), "c1's state left RocksDB");
    assert!(stored("c2").is_some());
    let records = read_all(&bootstrap, &[changelog], 1);
    let last_of = |id: &str| records.iter().rev().find(|r| r.key.as_deref() == Some(id.as_bytes()));
    assert!(
        last_of("c3").expect("c3 in the changelog").payload.is_empty(),
        "tombstone for c3"
    );
    assert!(
        last_of("c1").expect("c1 in the changelog").payload.is_empty(),
        "tombstone for c1"
    );
    assert!(!last_of("c2").expect("c2 in the changelog").payload.is_empty());
    assert_eq!(churn_actions(&bootstrap, 2).len(), 2, "no timer fired twice");
}
