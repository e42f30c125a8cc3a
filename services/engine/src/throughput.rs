//! Throughput measurement on the embedded broker: a plain consume → produce pass-through (the
//! Kafka limit of the machine) and the engine, fed the same events concurrently, in one run.
//!
//! The mock cluster keeps only ~5 MiB per partition, so the feeder produces while the measured
//! side consumes and never runs more than `max_lag` events ahead; every count is checked.

use crate::config::{CustomerIdSource, EngineConfig};
use crate::produce::send_when_queued;
use crate::wire::OutputFormat;
use crate::{start, Metrics, Status};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message};
use revenue_core::UseCaseSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const PARTITIONS: i32 = 8;
const MAX_LAG: u64 = 200_000;

/// One measured run.
#[derive(Debug, Clone)]
pub struct Measured {
    pub name: &'static str,
    pub events: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    pub actions: u64,
}

/// Settings shared by the pass-through and the engine, so the comparison is fair.
fn client(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

fn consumer_settings(config: &mut ClientConfig, group: &str) {
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.queue.backoff.ms", "1");
}

fn producer_settings(config: &mut ClientConfig) {
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5");
}

/// Produces `lines` (JSON events keyed by customer id) to `topic`, staying at most `MAX_LAG`
/// events ahead of `consumed`.
fn feed(bootstrap: &str, topic: &str, lines: &[Vec<u8>], keys: &[Vec<u8>], consumed: &AtomicU64) -> anyhow::Result<()> {
    let producer: ThreadedProducer<DefaultProducerContext> = client(bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()?;
    for (i, (line, key)) in lines.iter().zip(keys).enumerate() {
        while i as u64 > consumed.load(Ordering::Relaxed) + MAX_LAG {
            std::thread::sleep(Duration::from_millis(1));
        }
        send_when_queued(
            &producer,
            BaseRecord::to(topic).key(key.as_slice()).payload(line.as_slice()),
        )?;
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(())
}

/// Feeds the `events` topic from another thread, following the measured side's progress.
fn spawn_feeder(
    bootstrap: &str,
    payloads: Vec<Vec<u8>>,
    keys: Vec<Vec<u8>>,
    consumed: &Arc<AtomicU64>,
) -> std::thread::JoinHandle<anyhow::Result<()>> {
    let consumed = consumed.clone();
    let bootstrap = bootstrap.to_string();
    std::thread::spawn(move || feed(&bootstrap, "events", &payloads, &keys, &consumed))
}

/// Splits JSON lines into payloads and their `customer_id` keys.
pub fn keyed(lines: &[String]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let keys = lines
        .iter()
        .map(|l| {
            let start = l.find("\"customer_id\":\"").map(|i| i + 15).unwrap_or(0);
            let end = l[start..].find('"').map(|i| start + i).unwrap_or(start);
            l.as_bytes()[start..end].to_vec()
        })
        .collect();
    (lines.iter().map(|l| l.as_bytes().to_vec()).collect(), keys)
}

/// Consume → produce with no decoding, no state, no rules.
pub fn passthrough(lines: &[String]) -> anyhow::Result<Measured> {
    let cluster = MockCluster::new(1)?;
    let bootstrap = cluster.bootstrap_servers();
    cluster.create_topic("events", PARTITIONS, 1)?;
    cluster.create_topic("passthrough-out", PARTITIONS, 1)?;
    let (payloads, keys) = keyed(lines);
    let consumed = Arc::new(AtomicU64::new(0));
    let mut consumer_config = client(&bootstrap);
    consumer_settings(&mut consumer_config, "passthrough");
    let consumer: BaseConsumer = consumer_config.create()?;
    consumer.subscribe(&["events"])?;
    let mut producer_config = client(&bootstrap);
    producer_settings(&mut producer_config);
    let producer: ThreadedProducer<DefaultProducerContext> = producer_config.create()?;
    // join the group before feeding, as the engine does
    let joined = Instant::now();
    while consumer.assignment().map(|a| a.count()).unwrap_or(0) == 0 && joined.elapsed() < Duration::from_secs(30) {
        let _ = consumer.poll(Duration::from_millis(50));
    }
    let feeder = spawn_feeder(&bootstrap, payloads, keys, &consumed);
    let total = lines.len() as u64;
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut count = 0u64;
    while count < total && Instant::now() < deadline {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        started.get_or_insert_with(Instant::now);
        let mut record = BaseRecord::to("passthrough-out").payload(message.payload().unwrap_or_default());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        send_when_queued(&producer, record)?;
        count += 1;
        consumed.store(count, Ordering::Relaxed);
    }
    producer.flush(Duration::from_secs(60))?;
    let seconds = started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
    feeder.join().map_err(|_| anyhow::anyhow!("feeder panicked"))??;
    anyhow::ensure!(
        count == total,
        "pass-through consumed {count} of {total} events: the broker dropped data"
    );
    Ok(Measured {
        name: "pass-through",
        events: count,
        seconds,
        events_per_second: count as f64 / seconds,
        actions: 0,
    })
}

/// The engine (at-least-once) with `set` on the same workload.
pub fn engine(lines: &[String], set: Arc<UseCaseSet>, state_dir: &std::path::Path) -> anyhow::Result<Measured> {
    let cluster = MockCluster::new(1)?;
    let bootstrap = cluster.bootstrap_servers();
    cluster.create_topic("events", PARTITIONS, 1)?;
    let topics = set.action_topics();
    for topic in topics {
        cluster.create_topic(topic, PARTITIONS, 1)?;
    }
    cluster.create_topic("dead-letters", 1, 1)?;
    let mut config = EngineConfig::default();
    config.kafka.bootstrap_servers = bootstrap.clone();
    config.kafka.group_id = "engine-bench".into();
    config.kafka.input_topics = vec!["events".into()];
    config.kafka.dead_letter_topic = "dead-letters".into();
    config.kafka.customer_id = CustomerIdSource::Key;
    config.output.format = OutputFormat::Avro;
    config.state.dir = state_dir.to_path_buf();
    let status = Arc::new(Status::default());
    let handle = start(config, set, Arc::new(Metrics::new()), status.clone())?;
    let joined = Instant::now();
    while !status.joined.load(Ordering::Relaxed) && joined.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (payloads, keys) = keyed(lines);
    let consumed = Arc::new(AtomicU64::new(0));
    let feeder = spawn_feeder(&bootstrap, payloads, keys, &consumed);
    let total = lines.len() as u64;
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let n = status.events_in.load(Ordering::Relaxed);
        consumed.store(n, Ordering::Relaxed);
        if n > 0 {
            started.get_or_insert_with(Instant::now);
        }
        if n >= total || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    handle.stop();
    let report = handle.join()?;
    // the stop includes the last checkpoint: every action acknowledged, state written
    let seconds = started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
    feeder.join().map_err(|_| anyhow::anyhow!("feeder panicked"))??;
    let events = report.counters.events;
    anyhow::ensure!(
        events == total,
        "engine consumed {events} of {total} events: the broker dropped data"
    );
    let actions = report
        .counters
        .use_cases
        .iter()
        .map(|u| u.actions_by_tier.iter().sum::<u64>())
        .sum();
    Ok(Measured {
        name: "engine at-least-once",
        events,
        seconds,
        events_per_second: events as f64 / seconds,
        actions,
    })
}
