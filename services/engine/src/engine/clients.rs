//! The engine's Kafka clients: their configuration, and the contexts librdkafka calls back
//! into — delivery reports on the producer, statistics and rebalances on the consumer (the
//! rebalance callback itself is in [`super::rebalance`]).

use super::worker::Worker;
use crate::changelog::RestoreContext;
use crate::config::EngineConfig;
use crate::metrics::labels::Topic;
use crate::metrics::Metrics;
use rdkafka::consumer::BaseConsumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::{DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The settings every client shares: the brokers, and `kafka.properties` as they are.
pub(super) fn kafka_config(config: &EngineConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.kafka.bootstrap_servers);
    for (key, value) in &config.kafka.properties {
        client.set(key, value);
    }
    client
}

/// Delivery outcomes, counted by the producer's background thread.
#[derive(Default)]
pub(super) struct DeliveryLog {
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The changelog topic, and the next offset after the last acknowledged record per partition.
    changelog: Option<String>,
    changelog_next: Mutex<FxHashMap<i32, i64>>,
}

impl DeliveryLog {
    pub(super) fn new(changelog: Option<String>) -> DeliveryLog {
        DeliveryLog {
            changelog,
            ..DeliveryLog::default()
        }
    }

    /// Counts a record that will never be acknowledged: the next checkpoint refuses to commit.
    pub(super) fn record_failure(&self, error: &KafkaError) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.to_string());
        }
    }

    /// How many records failed so far and the last error, if any failed.
    pub(super) fn failures(&self) -> Option<(u64, String)> {
        let failed = self.failed.load(Ordering::Relaxed);
        if failed == 0 {
            return None;
        }
        let last = self.last_error.lock().ok().and_then(|l| l.clone()).unwrap_or_default();
        Some((failed, last))
    }

    /// The next changelog offset after the last acknowledged record, per partition.
    pub(super) fn changelog_next(&self) -> FxHashMap<i32, i64> {
        self.changelog_next.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

pub(super) struct ProducerCtx {
    log: Arc<DeliveryLog>,
}

impl ClientContext for ProducerCtx {}

impl ProducerContext for ProducerCtx {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let (Ok(message), Some(changelog)) = (result, &self.log.changelog) {
            if message.topic() == changelog {
                if let Ok(mut next) = self.log.changelog_next.lock() {
                    let entry = next.entry(message.partition()).or_insert(0);
                    *entry = (*entry).max(message.offset() + 1);
                }
            }
        }
        if let Err((err, _)) = result {
            self.log.record_failure(err);
        }
    }
}

/// The one producer of actions, decision records, dead letters and changelog records
/// (exactly-once: transactional, and its transactions initialised).
pub(super) fn create_producer(
    config: &EngineConfig,
    delivery: &Arc<DeliveryLog>,
    transactional: bool,
) -> Result<ThreadedProducer<ProducerCtx>, KafkaError> {
    let mut producer_config = kafka_config(config);
    if transactional {
        producer_config
            .set("transactional.id", config.kafka.transactional_id())
            // must not be shorter than message.timeout.ms
            .set("transaction.timeout.ms", "120000");
    }
    let producer: ThreadedProducer<ProducerCtx> = producer_config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "120000")
        .create_with_context(ProducerCtx { log: delivery.clone() })?;
    if transactional {
        // fences any older producer with the same transactional.id (a zombie of this pod)
        producer.init_transactions(Duration::from_secs(60))?;
    }
    Ok(producer)
}

/// The assign-only consumer that reads the changelog during restores.
pub(super) fn create_restorer(config: &EngineConfig) -> Result<BaseConsumer<RestoreContext>, KafkaError> {
    crate::changelog::restorer(kafka_config(config), &format!("{}.restore", config.kafka.group_id))
}

/// The consumer-group member that reads the input topics; offsets are committed by the
/// checkpoint, never automatically.
pub(super) fn create_consumer(
    config: &EngineConfig,
    context: EngineContext,
) -> Result<BaseConsumer<EngineContext>, KafkaError> {
    kafka_config(config)
        .set("group.id", &config.kafka.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.queue.backoff.ms", "1")
        // co-partitioned input topics: partition n of every topic must go to the same member
        .set("partition.assignment.strategy", "range")
        .set(
            "statistics.interval.ms",
            config
                .kafka
                .properties
                .get("statistics.interval.ms")
                .map_or("5000", String::as_str),
        )
        .create_with_context(context)
}

/// The consumer's context: the worker, shared by the processing loop and the rebalance callback.
pub(super) struct EngineContext {
    worker: Mutex<Worker>,
    metrics: Arc<Metrics>,
}

impl EngineContext {
    pub(super) fn new(worker: Worker, metrics: Arc<Metrics>) -> EngineContext {
        EngineContext {
            worker: Mutex::new(worker),
            metrics,
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Worker> {
        // a panic while holding the lock cannot leave partial state we would trust: the store
        // writes whole batches, so continuing with the inner value is safe
        self.worker.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ClientContext for EngineContext {
    /// librdkafka statistics (every `statistics.interval.ms`): consumer lag per input topic.
    fn stats(&self, statistics: rdkafka::Statistics) {
        for (topic, stats) in &statistics.topics {
            let lag: i64 = stats
                .partitions
                .iter()
                .filter(|(partition, p)| **partition >= 0 && p.consumer_lag >= 0)
                .map(|(_, p)| p.consumer_lag)
                .sum();
            self.metrics.input_lag.with(&Topic { topic: topic.as_str() }).set(lag);
        }
    }
}
