//! The live engine: a Kafka consumer-group member that keeps per-partition RocksDB state,
//! evaluates the use cases on every event and produces actions.
//!
//! Delivery is at-least-once, designed for exactly-once: every commit interval the checkpoint
//! ([`checkpoint`], its protocol as numbered steps) writes the changed customers to the
//! changelog, waits until the broker acknowledged them and every action and dead letter, then
//! writes the records that make the checkpoint restorable and waits for those too (or commits
//! everything as one transaction), then writes state and next input offsets in one RocksDB batch per partition and
//! commits the offsets to the group. On assignment a partition resumes from the offset stored
//! with its state, so state and input position never disagree. All Kafka polling and RocksDB
//! work runs on the engine's own thread, never on an async runtime.
//!
//! The modules follow the data: [`clients`] builds the Kafka clients, [`rebalance`] opens and
//! releases partitions, [`event_loop`] polls, [`task`] handles one message, [`timers`] fires what
//! came due, everything produced leaves through [`outputs`] (or [`dead_letter`]), and
//! [`checkpoint`] makes it durable.

mod checkpoint;
mod clients;
mod dead_letter;
mod event_loop;
mod outputs;
mod rebalance;
mod startup;
mod task;
mod timers;
mod use_case_swap;
mod worker;

pub use crate::status::Status;

use crate::config::{EngineConfig, Guarantee};
use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::wire::{ActionEncoder, InputDecoder, SchemaResolver, SchemaSource, WireError};
use clients::{DeliveryLog, EngineContext};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use revenue_core::processor::Counters;
use revenue_core::UseCaseSet;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use worker::Worker;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Kafka client: {0}; check kafka.bootstrap_servers and kafka.properties")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("actions could not be delivered: {failed} message(s) failed, last: {last}; input offsets were not committed, a restart resumes from the last checkpoint")]
    Delivery { failed: u64, last: String },
    #[error(
        "engine thread panicked; input offsets since the last checkpoint were not committed, a restart resumes from it"
    )]
    Panicked,
    #[error("cannot start the {what}: {source}; check the process's limits on threads and memory")]
    Startup {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("input schemas: {0}")]
    Schemas(#[from] WireError),
    #[error("{0}")]
    Topology(String),
    #[error(transparent)]
    Changelog(#[from] crate::changelog::ChangelogError),
}

/// Counts at the end of a run (the demo prints them).
#[derive(Debug, Clone, Default)]
pub struct EngineReport {
    pub counters: Counters,
    pub dead_letters: BTreeMap<&'static str, u64>,
    pub events_by_topic: BTreeMap<String, u64>,
}

/// A running engine: stop it, wait for it, read its status.
pub struct EngineHandle {
    pub status: Arc<Status>,
    pub metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<EngineReport, EngineError>>,
}

impl EngineHandle {
    /// Asks the engine to stop: no more fetching, in-flight work finished and committed.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Whether the engine has stopped (asked to, or on an error that [`join`](Self::join) returns).
    pub fn is_finished(&self) -> bool {
        self.thread.is_finished()
    }

    pub fn join(self) -> Result<EngineReport, EngineError> {
        self.thread.join().unwrap_or(Err(EngineError::Panicked))
    }
}

/// Starts the engine on its own thread. Use cases are compiled already (see `revenue_usecases::load_dir`).
pub fn start(
    config: EngineConfig,
    set: Arc<UseCaseSet>,
    metrics: Arc<Metrics>,
    status: Arc<Status>,
) -> Result<EngineHandle, EngineError> {
    let source = match &config.input.schema_registry_url {
        Some(url) => SchemaSource::Registry { url: url.clone() },
        None => SchemaSource::Local(config.input.schemas.clone()),
    };
    let resolver = SchemaResolver::new(source)?;
    let decoder = InputDecoder::new(config.input.format, Some(resolver));
    let encoder = ActionEncoder::new(config.output.format, config.output.action_schema_id);

    let mut startup = startup::Startup::begin();
    let changelog = config.changelog_topic();
    let delivery = Arc::new(DeliveryLog::new(changelog.clone()));
    let transactional = config.kafka.guarantee == Guarantee::ExactlyOnce;
    let producer = clients::create_producer(&config, &delivery, transactional)?;
    let restorer = match &changelog {
        Some(_) => Some(clients::create_restorer(&config)?),
        None => None,
    };
    let outputs = outputs::Outputs::new(producer, delivery, encoder, status.clone(), &config);
    let worker = Worker::new(
        set,
        &config,
        decoder,
        outputs,
        restorer,
        metrics.clone(),
        status.clone(),
    );
    let consumer = clients::create_consumer(&config, EngineContext::new(worker, metrics.clone()))?;
    startup.mark("clients");
    let topics: Vec<&str> = config.kafka.input_topics.iter().map(String::as_str).collect();
    let partitions = check_co_partitioned(&consumer, &topics)?;
    startup.mark("topics");
    if let Some(topic) = &changelog {
        let replication = config.state.changelog_replication;
        crate::changelog::ensure_topic(
            &consumer,
            &clients::kafka_config(&config),
            topic,
            partitions,
            replication,
        )?;
        startup.mark("changelog");
    }
    consumer.subscribe(&topics)?;
    // the rebalance callback (on the engine thread) adds the join and restore and logs it
    consumer.context().lock().startup = Some(startup);
    if let Some(token) = config.http.customer_api.enabled_token() {
        status.customers.enable(token);
    }
    status.beat();
    let use_cases = consumer.context().lock().set.clone();
    status.use_cases.started_with(&config.use_cases.dir, &use_cases);
    metrics.set_use_cases(&use_cases);
    let watcher = match config.use_cases.reload_interval_ms {
        0 => None,
        ms => Some(
            crate::reload::Watcher::start(
                config.use_cases.dir.clone(),
                Duration::from_millis(ms),
                // what is on disk now: the set may have been handed in from elsewhere (bench)
                revenue_usecases::read_dir_all(&config.use_cases.dir)
                    .map(|(_, _, checksum)| checksum)
                    .unwrap_or_else(|_| use_cases.checksum.clone()),
                status.use_cases.clone(),
                metrics.clone(),
            )
            .map_err(|source| EngineError::Startup {
                what: "use-case watcher",
                source,
            })?,
        ),
    };

    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let thread_status = status.clone();
    let interval = Duration::from_millis(config.state.commit_interval_ms);
    let thread = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let result = event_loop::run_loop(consumer, thread_stop, thread_status, interval);
            drop(watcher);
            result
        })
        .map_err(|source| EngineError::Startup {
            what: "engine thread",
            source,
        })?;
    Ok(EngineHandle {
        status,
        metrics,
        stop,
        thread,
    })
}

/// Input topics share one store per partition number, so they must have the same partition
/// count (and the producers the same key partitioner): refuse to start otherwise.
fn check_co_partitioned<C: ConsumerContext>(consumer: &BaseConsumer<C>, topics: &[&str]) -> Result<usize, EngineError> {
    let mut counts = Vec::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(15))?;
        let found = metadata
            .topics()
            .iter()
            .find(|t| t.name() == *topic)
            .filter(|t| t.error().is_none());
        match found {
            Some(t) if !t.partitions().is_empty() => counts.push((*topic, t.partitions().len())),
            _ => {
                return Err(EngineError::Topology(format!(
                    "input topic `{topic}` does not exist; create it first"
                )))
            }
        }
    }
    if counts.windows(2).any(|w| w[0].1 != w[1].1) {
        let listed: Vec<String> = counts.iter().map(|(t, n)| format!("{t}: {n}")).collect();
        return Err(EngineError::Topology(format!(
            "input topics must be co-partitioned by customer id (same partition count): {}",
            listed.join(", ")
        )));
    }
    Ok(counts.first().map(|(_, n)| *n).unwrap_or(0))
}
