//! The live engine: a Kafka consumer-group member that keeps per-partition RocksDB state,
//! evaluates the use cases on every event and produces actions.
//!
//! Delivery is at-least-once, designed for exactly-once: every commit interval the engine
//! (1) waits until the broker acknowledged every action and dead letter produced so far,
//! (2) writes the changed customers and the next input offset of each partition in one RocksDB
//! batch, (3) commits the offsets to the group. On assignment a partition resumes from the
//! offset stored with its state, so state and input position never disagree. All Kafka polling
//! and RocksDB work runs on the engine's own thread, never on an async runtime.

use crate::config::{CustomerIdSource, EngineConfig, Guarantee};
use crate::metrics::Metrics;
use crate::store::{PartitionStore, StoreError, EVENT_TIME, WALL_CLOCK};
use crate::wire::{ActionEncoder, InputDecoder, SchemaResolver, SchemaSource, WireError};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, ClientContext, Message, Offset, TopicPartitionList};
use revenue_core::measure::GroupTotals;
use revenue_core::policy::Reason;
use revenue_core::processor::{Counters, DecisionRecord, KeepDecisions};
use revenue_core::{Action, Mode, Processor, Source, UseCaseSet};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{error, info, warn};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Kafka client: {0}; check kafka.bootstrap_servers and kafka.properties")]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("actions could not be delivered: {0}; input offsets were not committed, a restart resumes from the last checkpoint")]
    Delivery(String),
    #[error("input schemas: {0}")]
    Schemas(#[from] WireError),
    #[error("{0}")]
    Topology(String),
    #[error(transparent)]
    Changelog(#[from] crate::changelog::ChangelogError),
}

/// What the engine is doing, shared with the HTTP listener and the demo.
#[derive(Debug, Default)]
pub struct Status {
    pub events_in: AtomicU64,
    pub actions_out: AtomicU64,
    pub dead_letters: AtomicU64,
    pub partitions: AtomicUsize,
    pub joined: AtomicBool,
    pub stopping: AtomicBool,
    /// Partitions restoring their state from the changelog right now.
    pub restoring: AtomicUsize,
    /// The running use cases, and a validated new set waiting to be swapped in.
    pub use_cases: crate::reload::UseCaseSlot,
    /// `GET /customers/{id}`: questions from the HTTP listener, answered by the engine loop.
    pub customers: crate::customers::CustomerQueries,
    heartbeat_ms: AtomicI64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A start for checkpoint ids that differs between runs (time and process id), shifted so a run's
/// ids never reach the next run's.
fn random_start() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ u64::from(std::process::id()).rotate_left(40)) << 20
}

impl Status {
    fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn heartbeat_age(&self) -> Duration {
        Duration::from_millis((now_ms() - self.heartbeat_ms.load(Ordering::Relaxed)).max(0) as u64)
    }

    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if self.stopping.load(Ordering::Relaxed) {
            Some("shutting down")
        } else if !self.joined.load(Ordering::Relaxed) {
            Some("not yet a member of the consumer group")
        } else if self.restoring.load(Ordering::Relaxed) > 0 {
            Some("restoring state from the changelog")
        } else {
            None
        }
    }
}

/// Counts at the end of a run (the demo prints them).
#[derive(Debug, Clone, Default)]
pub struct EngineReport {
    pub counters: Counters,
    pub dead_letters: BTreeMap<&'static str, u64>,
    pub events_by_topic: BTreeMap<String, u64>,
}

/// Progress in one assigned input topic-partition.
struct InputPosition {
    topic: Arc<str>,
    /// Next offset to process; `None` until the first message of a partition never stored.
    next_offset: Option<i64>,
    /// Events since the last checkpoint (published as metrics there).
    events: u64,
}

/// One partition number: its store, shared by the co-partitioned input topics, and the position
/// in each of them.
struct Task {
    partition: i32,
    store: PartitionStore,
    inputs: Vec<InputPosition>,
    /// Something changed since the last checkpoint.
    dirty: bool,
    /// Latest event time seen in this partition since it was assigned: event-time timers and
    /// expiry are due against it.
    watermark: i64,
    /// Earliest due time in the timer index, per clock kind (`i64::MAX`: none).
    next_due: [i64; 2],
}

/// Most customers one timer sweep handles per clock kind; the rest wait for the next one.
const SWEEP_LIMIT: usize = 10_000;

/// Delivery outcomes, counted by the producer's background thread.
#[derive(Default)]
struct DeliveryLog {
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The changelog topic, and the next offset after the last acknowledged record per partition.
    changelog: Option<String>,
    changelog_next: Mutex<rustc_hash::FxHashMap<i32, i64>>,
}

struct ProducerCtx {
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
            self.log.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.log.last_error.lock() {
                *last = Some(err.to_string());
            }
        }
    }
}

/// Everything the processing loop and the rebalance callback share.
struct Worker {
    set: Arc<UseCaseSet>,
    processor: Processor,
    decoder: InputDecoder,
    encoder: ActionEncoder,
    producer: ThreadedProducer<ProducerCtx>,
    delivery: Arc<DeliveryLog>,
    tasks: Vec<Task>,
    /// Assign-only consumer that reads the changelog during restores.
    restorer: Option<BaseConsumer<crate::changelog::RestoreContext>>,
    /// Exactly-once: everything between two checkpoints is one Kafka transaction.
    transactional: bool,
    in_transaction: bool,
    /// After a stall: until then (or the next rebalance) nothing is committed.
    suspect_until: Option<Instant>,
    /// Id of the last checkpoint, sent with its changelog records (starts at a random value, so
    /// two runs of one instance never share ids).
    checkpoint_id: u64,
    /// Counters when the open transaction began (restored when it aborts).
    counters_at_begin: Counters,
    changelog: Option<Arc<str>>,
    counters: Counters,
    published: Counters,
    dead_letters: BTreeMap<&'static str, u64>,
    events_by_topic: BTreeMap<String, u64>,
    config: EngineConfig,
    metrics: Arc<Metrics>,
    status: Arc<Status>,
    buffer: Vec<u8>,
    /// `audit.topic` when decision records are on.
    audit_topic: Option<Arc<str>>,
    audit_buffer: Vec<u8>,
    /// Decision records produced since the last checkpoint (published as a metric there).
    audit_records: u64,
    /// Attribution totals (treatment, control) since this process started, per use case id:
    /// what the lift gauges are computed from (they survive use-case reloads).
    attribution: BTreeMap<Arc<str>, (GroupTotals, GroupTotals)>,
    sample: u32,
    fatal: Option<EngineError>,
}

/// The processor of a set, recording decisions when the audit topic is on.
fn processor_for(set: &Arc<UseCaseSet>, config: &EngineConfig) -> Processor {
    let processor = Processor::new(set.clone(), Mode::Engine);
    match config.audit.enabled() {
        Some((_, sample)) => processor.with_decision_records(sample),
        None => processor,
    }
}

struct EngineContext {
    worker: Mutex<Worker>,
    metrics: Arc<Metrics>,
}

impl EngineContext {
    fn lock(&self) -> MutexGuard<'_, Worker> {
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
            self.metrics.input_lag.with_label_values(&[topic.as_str()]).set(lag);
        }
    }
}

impl ConsumerContext for EngineContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let mut worker = self.lock();
        // the group has spoken: whatever a stall made us doubt is settled now
        worker.suspect_until = None;
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let Err(e) = worker.open_partitions(consumer, tpl) {
                    error!(error = %e, "cannot open partition state; partitions not taken");
                    worker.fatal = Some(e);
                    return;
                }
                let result = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = result {
                    error!(error = %e, "assign failed");
                }
                worker.status.joined.store(true, Ordering::Relaxed);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let revoked: Vec<(String, i32)> = tpl
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                let result = if consumer.assignment_lost() {
                    // another member owns these partitions already: nothing of ours may commit
                    worker.drop_partitions(&revoked)
                } else {
                    worker.release_partitions(consumer, &revoked)
                };
                if let Err(e) = result {
                    error!(error = %e, "checkpoint before revoke failed");
                    worker.fatal = Some(e);
                }
                let result = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = result {
                    warn!(error = %e, "unassign failed");
                }
            }
            other => {
                error!(error = ?other, "rebalance error");
                let _ = consumer.unassign();
            }
        }
        let assigned: usize = worker.tasks.iter().map(|t| t.inputs.len()).sum();
        worker.status.partitions.store(assigned, Ordering::Relaxed);
        worker.metrics.partitions_assigned.set(assigned as i64);
    }
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

    pub fn join(self) -> Result<EngineReport, EngineError> {
        self.thread
            .join()
            .unwrap_or_else(|_| Err(EngineError::Delivery("engine thread panicked".into())))
    }
}

fn kafka_config(config: &EngineConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client.set("bootstrap.servers", &config.kafka.bootstrap_servers);
    for (key, value) in &config.kafka.properties {
        client.set(key, value);
    }
    client
}

/// Starts the engine on its own thread. Use cases are compiled already (see `revenue_offline::load_dir`).
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

    let changelog = config
        .state
        .changelog
        .then(|| config.state.changelog_topic_for(&config.kafka.group_id));
    let delivery = Arc::new(DeliveryLog {
        changelog: changelog.clone(),
        ..DeliveryLog::default()
    });
    let transactional = config.kafka.guarantee == Guarantee::ExactlyOnce;
    let mut producer_config = kafka_config(&config);
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

    let restorer: Option<BaseConsumer<crate::changelog::RestoreContext>> = match &changelog {
        Some(_) => Some(
            kafka_config(&config)
                .set("group.id", format!("{}.restore", config.kafka.group_id))
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", "true")
                .set("isolation.level", "read_committed")
                .set("fetch.queue.backoff.ms", "1")
                // an empty fetch at the end of a partition returns after this long
                .set("fetch.wait.max.ms", "20")
                .create_with_context(crate::changelog::RestoreContext)?,
        ),
        None => None,
    };
    let consumer: BaseConsumer<EngineContext> = kafka_config(&config)
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
        .create_with_context(EngineContext {
            metrics: metrics.clone(),
            worker: Mutex::new(Worker {
                processor: processor_for(&set, &config),
                counters: Counters::for_set(&set),
                published: Counters::for_set(&set),
                set,
                decoder,
                encoder,
                producer,
                delivery,
                tasks: Vec::new(),
                restorer,
                transactional,
                in_transaction: false,
                checkpoint_id: random_start(),
                suspect_until: None,
                counters_at_begin: Counters::default(),
                changelog: changelog.as_deref().map(Arc::from),
                dead_letters: BTreeMap::new(),
                events_by_topic: BTreeMap::new(),
                config: config.clone(),
                metrics: metrics.clone(),
                status: status.clone(),
                buffer: Vec::with_capacity(512),
                audit_topic: config.audit.enabled().map(|(topic, _)| Arc::from(topic)),
                audit_buffer: Vec::with_capacity(512),
                audit_records: 0,
                attribution: BTreeMap::new(),
                sample: 0,
                fatal: None,
            }),
        })?;
    let topics: Vec<&str> = config.kafka.input_topics.iter().map(String::as_str).collect();
    let partitions = check_co_partitioned(&consumer, &topics)?;
    if let Some(topic) = &changelog {
        let replication = config.state.changelog_replication;
        crate::changelog::ensure_topic(&consumer, &kafka_config(&config), topic, partitions, replication)?;
    }
    consumer.subscribe(&topics)?;
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
                revenue_offline::read_dir_all(&config.use_cases.dir)
                    .map(|(_, _, checksum)| checksum)
                    .unwrap_or_else(|_| use_cases.checksum.clone()),
                status.clone(),
                metrics.clone(),
            )
            .map_err(|e| EngineError::Delivery(format!("cannot start the use-case watcher: {e}")))?,
        ),
    };

    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let thread_status = status.clone();
    let interval = Duration::from_millis(config.state.commit_interval_ms);
    let thread = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let result = run_loop(consumer, thread_stop, thread_status, interval);
            drop(watcher);
            result
        })
        .map_err(|e| EngineError::Delivery(format!("cannot start the engine thread: {e}")))?;
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

fn run_loop(
    consumer: BaseConsumer<EngineContext>,
    stop: Arc<AtomicBool>,
    status: Arc<Status>,
    interval: Duration,
) -> Result<EngineReport, EngineError> {
    info!("engine started");
    // `GET /customers/{id}` questions, answered between two polls (RocksDB stays on this thread);
    // the receiver goes back to the status however the loop ends
    let queries = QueryReceiver {
        receiver: status.customers.take_receiver(),
        status: status.clone(),
    };
    process_until_stopped(&consumer, &stop, &status, interval, &queries)?;
    status.stopping.store(true, Ordering::Relaxed);
    info!("stopping: finishing in-flight work");
    let report = {
        let mut worker = consumer.context().lock();
        let all: Vec<(String, i32)> = worker
            .tasks
            .iter()
            .flat_map(|t| t.inputs.iter().map(|i| (i.topic.to_string(), t.partition)))
            .collect();
        worker.release_partitions(&consumer, &all)?;
        worker.report()
    };
    consumer.unsubscribe();
    drop(consumer);
    info!("engine stopped cleanly");
    Ok(report)
}

/// The engine loop's end of the customer queries; handed back to the status when dropped.
struct QueryReceiver {
    receiver: Option<std::sync::mpsc::Receiver<crate::customers::CustomerQuery>>,
    status: Arc<Status>,
}

impl Drop for QueryReceiver {
    fn drop(&mut self) {
        if let Some(receiver) = self.receiver.take() {
            self.status.customers.return_receiver(receiver);
        }
    }
}

fn process_until_stopped(
    consumer: &BaseConsumer<EngineContext>,
    stop: &AtomicBool,
    status: &Status,
    interval: Duration,
    queries: &QueryReceiver,
) -> Result<(), EngineError> {
    let mut last_checkpoint = Instant::now();
    let stall_limit = consumer.context().lock().config.kafka.session_timeout();
    let mut alive = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        status.beat();
        let message = consumer.poll(Duration::from_millis(100));
        // a gap longer than the session timeout (the process was frozen, or starved): the group
        // has probably given our partitions to another member, which processes them from the
        // last commit — so nothing of ours may commit until the group has told us where we stand
        let stalled = alive.elapsed();
        alive = Instant::now();
        let mut worker = consumer.context().lock();
        if let Some(e) = worker.fatal.take() {
            return Err(e);
        }
        if stalled > stall_limit {
            warn!(
                stalled_ms = stalled.as_millis() as u64,
                "engine stalled past the session timeout; dropping uncommitted work until the group rebalances"
            );
            worker.suspect_until = Some(Instant::now() + stall_limit);
            worker.discard_uncommitted(consumer)?;
        }
        match message {
            None => {}
            Some(Ok(message)) => worker.handle(&message),
            Some(Err(e)) => warn!(error = %e, "consumer error"),
        }
        if let Some(receiver) = &queries.receiver {
            // one non-blocking check per loop iteration
            while let Ok(query) = receiver.try_recv() {
                worker.answer(query);
            }
        }
        if last_checkpoint.elapsed() >= interval || worker.over_capacity() {
            worker.checkpoint(consumer, false)?;
            worker.fire_due_timers()?;
            worker.swap_in_new_use_cases();
            last_checkpoint = Instant::now();
        }
    }
    Ok(())
}

impl Worker {
    fn open_partitions<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        tpl: &mut TopicPartitionList,
    ) -> Result<(), EngineError> {
        let wanted: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        for (topic, partition) in wanted {
            let index = match self.tasks.iter().position(|t| t.partition == partition) {
                Some(index) => index,
                None => {
                    let store = self.open_store(consumer, partition)?;
                    let next_due = [EVENT_TIME, WALL_CLOCK]
                        .map(|kind| store.next_due(kind, i64::MIN).ok().flatten().unwrap_or(i64::MAX));
                    self.tasks.push(Task {
                        partition,
                        store,
                        inputs: Vec::new(),
                        dirty: false,
                        watermark: i64::MIN,
                        next_due,
                    });
                    self.tasks.len() - 1
                }
            };
            let task = &mut self.tasks[index];
            if task.inputs.iter().any(|i| *i.topic == *topic) {
                continue;
            }
            let stored = task.store.next_offset(&topic)?;
            if let Some(offset) = stored {
                // the state reflects everything before `offset`: resume exactly there
                tpl.set_partition_offset(&topic, partition, Offset::Offset(offset))?;
            }
            info!(topic = %topic, partition, resume_offset = ?stored, "partition assigned");
            task.inputs.push(InputPosition {
                topic: Arc::from(topic.as_str()),
                next_offset: stored,
                events: 0,
            });
        }
        Ok(())
    }

    /// Opens a partition's store and, with a changelog, brings it up to date from it first.
    fn open_store<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        partition: i32,
    ) -> Result<PartitionStore, EngineError> {
        let store = PartitionStore::open(&self.config.state.dir, partition, self.config.state.cache_customers)?;
        let (Some(restorer), Some(topic)) = (&self.restorer, &self.changelog) else {
            return Ok(store);
        };
        // exactly-once: the broker stores input offsets only when a transaction commits, so
        // they tell which checkpoints in the changelog were committed
        let committed = match self.transactional {
            true => Some(self.committed_offsets(consumer, partition)?),
            false => None,
        };
        self.status.restoring.fetch_add(1, Ordering::Relaxed);
        self.metrics.restore_partitions.inc();
        let metrics = self.metrics.clone();
        let status = self.status.clone();
        let mut reported = 0u64;
        let result = crate::changelog::restore(
            restorer,
            &self.set.catalog,
            topic,
            partition,
            store,
            committed.as_ref(),
            |records| {
                metrics.restore_records.inc_by(records - reported);
                reported = records;
                // a long restore is progress, not a stuck loop: /healthz stays alive
                status.beat();
            },
        );
        self.metrics.restore_partitions.dec();
        self.status.restoring.fetch_sub(1, Ordering::Relaxed);
        let (store, restored) = result?;
        if restored.records > 0 {
            self.metrics.restore_seconds.observe(restored.seconds);
        }
        Ok(store)
    }

    /// The group's committed offsets of every input topic's `partition` (none when never committed).
    fn committed_offsets<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partition: i32,
    ) -> Result<BTreeMap<String, i64>, EngineError> {
        let mut tpl = TopicPartitionList::new();
        for topic in &self.config.kafka.input_topics {
            tpl.add_partition(topic, partition);
        }
        let committed = consumer.committed_offsets(tpl, Duration::from_secs(30))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(next) => Some((e.topic().to_string(), next)),
                _ => None,
            })
            .collect())
    }

    /// Partitions lost to another member (this one was too slow and left the group): the open
    /// transaction is aborted (exactly-once) and nothing since the last checkpoint is written or
    /// committed — the new owner processes it from there.
    fn drop_partitions(&mut self, lost: &[(String, i32)]) -> Result<(), EngineError> {
        warn!(
            partitions = lost.len(),
            "partitions lost to another member; dropping uncommitted work"
        );
        if self.in_transaction {
            self.producer.abort_transaction(Duration::from_secs(60))?;
            self.in_transaction = false;
            self.counters = self.counters_at_begin.clone();
        }
        for task in &mut self.tasks {
            task.store.clear_cache();
            task.dirty = false;
        }
        self.remove_inputs(lost)
    }

    fn release_partitions<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        revoked: &[(String, i32)],
    ) -> Result<(), EngineError> {
        self.checkpoint(consumer, true)?;
        self.remove_inputs(revoked)
    }

    /// Forgets the given input partitions and closes the stores none of whose inputs remain.
    fn remove_inputs(&mut self, revoked: &[(String, i32)]) -> Result<(), EngineError> {
        for (topic, partition) in revoked {
            if let Some(task) = self.tasks.iter_mut().find(|t| t.partition == *partition) {
                task.inputs.retain(|i| *i.topic != **topic);
                info!(topic = %topic, partition, "partition released");
            }
        }
        // a store closes when none of its topics' partitions is assigned any more
        let (released, kept): (Vec<Task>, Vec<Task>) = self.tasks.drain(..).partition(|t| t.inputs.is_empty());
        self.tasks = kept;
        for task in released {
            task.store.close()?;
        }
        Ok(())
    }

    /// Answers a `GET /customers/{id}` from the stores of the assigned partitions.
    fn answer(&self, query: crate::customers::CustomerQuery) {
        use crate::customers::{describe, CustomerReply};
        let mut reply = CustomerReply::NotHere;
        for task in &self.tasks {
            match task.store.peek(&self.set.catalog, &query.customer_id) {
                Ok(None) => continue,
                Ok(Some(state)) => {
                    reply = CustomerReply::Found(describe(&self.set, task.partition, &query.customer_id, &state));
                }
                Err(e) => reply = CustomerReply::Failed(e.to_string()),
            }
            break;
        }
        // the asker may have given up waiting: nothing to do then
        let _ = query.reply.send(reply);
    }

    fn over_capacity(&self) -> bool {
        self.tasks.iter().any(|t| t.store.over_capacity())
    }

    fn handle(&mut self, message: &BorrowedMessage<'_>) {
        let topic = message.topic();
        let partition = message.partition();
        let offset = message.offset();
        let Some(index) = self.tasks.iter().position(|t| t.partition == partition) else {
            return; // not (or no longer) ours: a rebalance is under way
        };
        let Some(input) = self.tasks[index].inputs.iter().position(|i| *i.topic == *topic) else {
            return;
        };
        let key = message
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .filter(|k| !k.is_empty());
        let key = match self.config.kafka.customer_id {
            CustomerIdSource::Key => key,
            CustomerIdSource::Field => None,
        };
        let payload = message.payload().unwrap_or_default();
        if let Err(e) = self.begin_transaction() {
            self.fatal = Some(e.into());
            return;
        }
        let sampled = self.sample & 63 == 0;
        self.sample = self.sample.wrapping_add(1);
        let started = sampled.then(Instant::now);
        self.status.events_in.fetch_add(1, Ordering::Relaxed);
        {
            let task = &mut self.tasks[index];
            task.dirty = true;
            let position = &mut task.inputs[input];
            position.events += 1;
            position.next_offset = Some(offset + 1);
        }
        let event = match self.decoder.decode(&self.set.catalog, payload, key) {
            Ok(event) => event,
            Err(err) if err.is_transient() => {
                // the schema registry is unreachable: the event is not bad, so it must not be
                // dead-lettered; stop without committing it and let the restart retry
                error!(error = %err, "schema registry unavailable; stopping without committing this event");
                self.fatal = Some(err.into());
                self.tasks[index].inputs[input].next_offset = Some(offset);
                return;
            }
            Err(err) => {
                self.dead_letter(message, &err);
                return;
            }
        };
        let Worker {
            set,
            processor,
            encoder,
            producer,
            tasks,
            counters,
            buffer,
            status,
            audit_topic,
            audit_buffer,
            audit_records,
            ..
        } = self;
        let task = &mut tasks[index];
        task.watermark = task.watermark.max(event.ts());
        let state = match task.store.customer(&set.catalog, event.customer_id()) {
            Ok(state) => state,
            Err(e) => {
                self.fatal = Some(e.into());
                return;
            }
        };
        let source = Source {
            topic,
            partition,
            offset,
        };
        let mut outputs = KeepDecisions::new(|action: Action| emit(encoder, producer, buffer, status, &action));
        processor.process(state, &event, source, counters, &mut outputs);
        if let Some(topic) = audit_topic {
            *audit_records += send_decisions(outputs.take_decisions(), producer, topic, audit_buffer);
        }
        if let Some(started) = started {
            self.metrics.evaluation_seconds.observe(started.elapsed().as_secs_f64());
        }
    }

    /// Exactly-once: opens the transaction the next records belong to.
    fn begin_transaction(&mut self) -> Result<(), KafkaError> {
        if self.transactional && !self.in_transaction {
            self.producer.begin_transaction()?;
            self.in_transaction = true;
            self.counters_at_begin = self.counters.clone();
        }
        Ok(())
    }

    /// Fires the timers that came due and removes expired customers, per partition: only the
    /// index entries due by the partition's watermark (event time) or the system clock are
    /// read. Runs after a checkpoint, so the index holds every timer set before it; what fires
    /// is committed with the next checkpoint.
    fn fire_due_timers(&mut self) -> Result<(), EngineError> {
        let wall = now_ms();
        for index in 0..self.tasks.len() {
            let task = &self.tasks[index];
            let bounds = [task.watermark, wall.max(task.watermark)];
            if task.next_due[0] > bounds[0] && task.next_due[1] > bounds[1] {
                continue;
            }
            self.begin_transaction()?;
            let Worker {
                set,
                processor,
                encoder,
                producer,
                tasks,
                counters,
                buffer,
                status,
                audit_topic,
                audit_buffer,
                audit_records,
                ..
            } = self;
            let task = &mut tasks[index];
            for kind in [EVENT_TIME, WALL_CLOCK] {
                let bound = bounds[kind as usize];
                if task.next_due[kind as usize] > bound {
                    continue;
                }
                for id in task.store.due_customers(&set.catalog, kind, bound, SWEEP_LIMIT)? {
                    let Some(state) = task.store.existing_customer(&set.catalog, &id)? else {
                        continue;
                    };
                    let mut outputs =
                        KeepDecisions::new(|action: Action| emit(encoder, producer, buffer, status, &action));
                    let expired = processor.fire_due(state, &id, bounds[0], wall, counters, &mut outputs);
                    if let Some(topic) = audit_topic.as_deref() {
                        *audit_records += send_decisions(outputs.take_decisions(), producer, topic, audit_buffer);
                    }
                    // something was due, so something changed: a timer fired or was dropped, a
                    // deferred action went out, the customer expired or was reset (withdrawn
                    // consent outlives expiry). Written at the next checkpoint, where the
                    // customer's due-time index entries move to what its state has due then.
                    if expired {
                        task.store.remove(&id);
                    } else {
                        task.store.mark_changed(&id);
                    }
                    task.dirty = true;
                }
                task.next_due[kind as usize] = task.store.next_due(kind, bound)?.unwrap_or(i64::MAX);
            }
        }
        Ok(())
    }

    /// Sends a bad event, untouched, to the dead-letter topic with headers naming why and where
    /// it came from; the partition goes on with the next event.
    fn dead_letter(&mut self, message: &BorrowedMessage<'_>, err: &WireError) {
        let reason = err.reason();
        *self.dead_letters.entry(reason).or_default() += 1;
        self.status.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.metrics.dead_letters.with_label_values(&[reason]).inc();
        let detail = err.to_string();
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let headers = OwnedHeaders::new_with_capacity(5)
            .insert(Header {
                key: "reason",
                value: Some(reason),
            })
            .insert(Header {
                key: "error",
                value: Some(&detail),
            })
            .insert(Header {
                key: "source_topic",
                value: Some(message.topic()),
            })
            .insert(Header {
                key: "source_partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "source_offset",
                value: Some(&offset),
            });
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.config.kafka.dead_letter_topic)
            .payload(message.payload().unwrap_or_default())
            .headers(headers);
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        send(&self.producer, record);
    }

    /// Acknowledged actions, then state with offsets in one batch per partition, then the commit.
    fn checkpoint<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, sync: bool) -> Result<(), EngineError> {
        if self.suspect_until.is_some_and(|until| Instant::now() < until) {
            return self.discard_uncommitted(consumer);
        }
        self.suspect_until = None;
        let started = Instant::now();
        // 1. the changed state goes to the changelog (with the offsets it starts from and reaches) …
        self.checkpoint_id = self.checkpoint_id.wrapping_add(1);
        let id = self.checkpoint_id.to_le_bytes();
        let mut pending = Vec::new();
        for (index, task) in self.tasks.iter_mut().enumerate().filter(|(_, t)| t.dirty) {
            let offsets: Vec<(&str, i64)> = task
                .inputs
                .iter()
                .filter_map(|i| i.next_offset.map(|next| (i.topic.as_ref(), next)))
                .collect();
            let changes = task.store.take_changes(&self.set.catalog);
            if let Some(changelog) = &self.changelog {
                let header = || {
                    OwnedHeaders::new_with_capacity(1).insert(Header {
                        key: crate::changelog::CHECKPOINT_HEADER,
                        value: Some(&id),
                    })
                };
                for change in &changes {
                    // an expired customer is a tombstone: compaction forgets it
                    let mut record = BaseRecord::to(changelog)
                        .partition(task.partition)
                        .key(change.id.as_bytes())
                        .headers(header());
                    if let Some(bytes) = &change.value {
                        record = record.payload(bytes.as_slice());
                    }
                    send(&self.producer, record);
                }
                let mut from = Vec::with_capacity(task.inputs.len());
                for input in &task.inputs {
                    if let Some(stored) = task.store.next_offset(&input.topic)? {
                        from.push((input.topic.as_ref(), stored));
                    }
                }
                let encoded = crate::changelog::encode_offsets(&from, &offsets);
                let record = BaseRecord::to(changelog)
                    .partition(task.partition)
                    .key(crate::changelog::INPUT_OFFSETS_KEY)
                    .payload(encoded.as_slice())
                    .headers(header());
                send(&self.producer, record);
            }
            task.dirty = false;
            pending.push((index, changes));
        }
        // 2. … every action, dead letter and changelog record is acknowledged (exactly-once: they
        // and the input offsets commit as one transaction; local state is written only after) …
        let wrote = !pending.is_empty();
        if wrote {
            crate::failpoint::hit(crate::failpoint::BEFORE_COMMIT);
        }
        if self.transactional {
            if !self.in_transaction {
                return Ok(()); // nothing was processed since the last checkpoint
            }
            let mut offsets = TopicPartitionList::new();
            for task in &self.tasks {
                for input in &task.inputs {
                    if let Some(next) = input.next_offset {
                        offsets.add_partition_offset(&input.topic, task.partition, Offset::Offset(next))?;
                    }
                }
            }
            if let Err(e) = self.commit_transaction(consumer, &offsets) {
                return self.abort(consumer, e);
            }
        }
        self.producer.flush(Timeout::After(Duration::from_secs(120)))?;
        let failed = self.delivery.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let last = self
                .delivery
                .last_error
                .lock()
                .ok()
                .and_then(|l| l.clone())
                .unwrap_or_default();
            return Err(EngineError::Delivery(format!(
                "{failed} message(s) failed, last: {last}"
            )));
        }
        if wrote {
            crate::failpoint::hit(crate::failpoint::AFTER_COMMIT);
        }
        // 3. … then local state, input offsets and changelog position in one batch per partition …
        let changelog_next = self
            .delivery
            .changelog_next
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        for (index, changes) in pending {
            let task = &mut self.tasks[index];
            let offsets: Vec<(&str, i64)> = task
                .inputs
                .iter()
                .filter_map(|i| i.next_offset.map(|next| (i.topic.as_ref(), next)))
                .collect();
            let position = self
                .changelog
                .as_ref()
                .and_then(|_| changelog_next.get(&task.partition).copied());
            task.store.write(&changes, &offsets, position)?;
            for (kind, due) in changes.iter().flat_map(|c| c.added_dues()) {
                let next = &mut task.next_due[kind as usize];
                *next = (*next).min(due);
            }
        }
        if wrote {
            crate::failpoint::hit(crate::failpoint::BEFORE_OFFSET_COMMIT);
        }
        // 4. … and last the offsets are committed to the group
        let mut tpl = TopicPartitionList::new();
        let mut bytes = 0u64;
        let mut cached = 0usize;
        for task in &self.tasks {
            for input in &task.inputs {
                if let Some(next) = input.next_offset {
                    tpl.add_partition_offset(&input.topic, task.partition, Offset::Offset(next))?;
                }
            }
            bytes += task.store.approximate_bytes();
            cached += task.store.cached_customers();
        }
        if tpl.count() > 0 && !self.transactional {
            let mode = if sync {
                rdkafka::consumer::CommitMode::Sync
            } else {
                rdkafka::consumer::CommitMode::Async
            };
            match consumer.commit(&tpl, mode) {
                Ok(()) => {}
                // nothing new to commit, or a commit racing a rebalance: the stored offsets rule
                Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => {
                    warn!(error = %e, "offset commit failed; the offsets stored with the state are used on restart")
                }
            }
        }
        self.publish_metrics(bytes, cached);
        self.metrics.checkpoint_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.commits.inc();
        Ok(())
    }

    fn commit_transaction<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        offsets: &TopicPartitionList,
    ) -> Result<(), KafkaError> {
        let timeout = Duration::from_secs(60);
        if offsets.count() > 0 {
            let group = consumer.group_metadata().ok_or(KafkaError::NoMessageReceived)?;
            self.producer.send_offsets_to_transaction(offsets, &group, timeout)?;
        }
        self.producer.commit_transaction(timeout)?;
        self.in_transaction = false;
        Ok(())
    }

    /// A transaction failed: abort it, forget the state changes it made (the cache is dropped,
    /// RocksDB was not written) and rewind every partition to the offsets stored with the state.
    fn abort<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>, cause: KafkaError) -> Result<(), EngineError> {
        let fatal = matches!(&cause, KafkaError::Transaction(e) if e.is_fatal());
        if fatal {
            return Err(EngineError::Kafka(cause));
        }
        warn!(error = %cause, "transaction failed; aborting and reprocessing from the last checkpoint");
        self.discard_uncommitted(consumer)
    }

    /// Forgets everything since the last checkpoint: the open transaction is aborted, cached
    /// state dropped (RocksDB was not written) and every partition rewound to its stored offsets.
    fn discard_uncommitted<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<(), EngineError> {
        if self.in_transaction {
            self.producer.abort_transaction(Duration::from_secs(60))?;
            self.in_transaction = false;
            self.counters = self.counters_at_begin.clone();
        }
        let mut never_stored = TopicPartitionList::new();
        for task in &mut self.tasks {
            task.store.clear_cache();
            task.dirty = false;
            for input in &mut task.inputs {
                input.next_offset = task.store.next_offset(&input.topic)?;
                match input.next_offset {
                    Some(next) => consumer.seek(
                        &input.topic,
                        task.partition,
                        Offset::Offset(next),
                        Duration::from_secs(10),
                    )?,
                    None => {
                        never_stored.add_partition(&input.topic, task.partition);
                    }
                }
            }
        }
        if never_stored.count() > 0 {
            // nothing stored yet: back to the group's committed offset, or the beginning
            let committed = consumer.committed_offsets(never_stored, Duration::from_secs(30))?;
            for element in committed.elements() {
                let offset = match element.offset() {
                    Offset::Offset(next) => Offset::Offset(next),
                    _ => Offset::Beginning,
                };
                consumer.seek(element.topic(), element.partition(), offset, Duration::from_secs(10))?;
            }
        }
        Ok(())
    }

    /// Between two checkpoints — everything of the old set committed — a validated new set
    /// replaces the old one. Cached state is dropped (it was decoded for the old catalog; the
    /// stored bytes carry per-feature fingerprints, so changed features start empty).
    fn swap_in_new_use_cases(&mut self) {
        if self.in_transaction || self.tasks.iter().any(|t| t.dirty) {
            return; // the checkpoint did not complete: try after the next one
        }
        let Some(set) = self.status.use_cases.take_pending() else {
            return;
        };
        self.processor = processor_for(&set, &self.config);
        self.counters = Counters::for_set(&set);
        self.published = Counters::for_set(&set);
        self.counters_at_begin = Counters::for_set(&set);
        for task in &mut self.tasks {
            task.store.clear_cache();
        }
        self.metrics.set_use_cases(&set);
        self.metrics.usecase_reloads.with_label_values(&["applied"]).inc();
        self.status.use_cases.applied(&set);
        info!(checksum = %set.checksum, use_cases = set.use_cases.len(), "new use-case set running");
        self.set = set;
    }

    fn publish_metrics(&mut self, state_bytes: u64, cached: usize) {
        let m = &self.metrics;
        m.state_bytes.set(state_bytes as i64);
        m.state_cached_customers.set(cached as i64);
        let corrupt: u64 = self.tasks.iter().map(|t| t.store.corrupt_values).sum();
        m.state_corrupt_values
            .inc_by(corrupt.saturating_sub(m.state_corrupt_values.get()));
        m.unknown_event_types
            .inc_by(self.counters.unknown_type - self.published.unknown_type);
        m.state_expired
            .inc_by(self.counters.expired.saturating_sub(self.published.expired));
        for ((uc, now), before) in self
            .set
            .use_cases
            .iter()
            .zip(&self.counters.use_cases)
            .zip(&self.published.use_cases)
        {
            let id = uc.id.as_ref();
            m.evaluations
                .with_label_values(&[id])
                .inc_by(now.evaluations - before.evaluations);
            m.evaluation_errors
                .with_label_values(&[id])
                .inc_by(now.errors - before.errors);
            m.retrigger_blocked
                .with_label_values(&[id])
                .inc_by(now.retrigger_blocked - before.retrigger_blocked);
            m.timers_fired
                .with_label_values(&[id])
                .inc_by(now.timers_fired - before.timers_fired);
            if let Some(funnel) = &uc.funnel {
                for (((stage, _), n), b) in funnel
                    .stages
                    .iter()
                    .zip(&now.stages_reached)
                    .zip(&before.stages_reached)
                {
                    m.stage_changes.with_label_values(&[id, stage.as_ref()]).inc_by(n - b);
                }
            }
            for ((tier, n), b) in uc.tiers.iter().zip(&now.actions_by_tier).zip(&before.actions_by_tier) {
                let target = if uc.status == revenue_core::spec::Status::Live {
                    &m.actions
                } else {
                    &m.shadow_actions
                };
                target.with_label_values(&[id, tier.channel.as_ref()]).inc_by(n - b);
            }
            // every (use case, reason) series exists from the start, so rate() sees the first one
            for reason in Reason::ALL {
                let (n, b) = (now.suppressed[reason as usize], before.suppressed[reason as usize]);
                m.policy_suppressed
                    .with_label_values(&[id, reason.as_str()])
                    .inc_by(n.saturating_sub(b));
            }
            m.policy_deferred
                .with_label_values(&[id])
                .inc_by(now.deferred.saturating_sub(before.deferred));
            m.policy_deferred_delivered
                .with_label_values(&[id])
                .inc_by(now.deferred_delivered.saturating_sub(before.deferred_delivered));
            let cumulative = self
                .attribution
                .entry(uc.id.clone())
                .or_insert_with(|| (GroupTotals::default(), GroupTotals::default()));
            for (group, now, before, total) in [
                ("treatment", &now.treatment, &before.treatment, &mut cumulative.0),
                ("control", &now.control, &before.control, &mut cumulative.1),
            ] {
                let delta = now.since(before);
                publish_attribution(m, id, group, &delta);
                total.merge(&delta);
            }
            if let Some(lift) = revenue_core::measure::lift(&cumulative.0, &cumulative.1) {
                let bounds = |gauge: &prometheus::GaugeVec, interval: &revenue_core::measure::Interval| {
                    for (bound, value) in [
                        ("estimate", interval.estimate),
                        ("lower", interval.lower),
                        ("upper", interval.upper),
                    ] {
                        gauge.with_label_values(&[id, bound]).set(value);
                    }
                };
                bounds(&m.lift_rate_difference, &lift.rate_difference);
                if let Some(revenue) = &lift.incremental_revenue {
                    bounds(&m.lift_incremental_revenue, revenue);
                }
            }
        }
        m.audit_records.inc_by(std::mem::take(&mut self.audit_records));
        self.published = self.counters.clone();
        for input in self.tasks.iter_mut().flat_map(|t| t.inputs.iter_mut()) {
            m.events_in
                .with_label_values(&[input.topic.as_ref()])
                .inc_by(input.events);
            *self.events_by_topic.entry(input.topic.to_string()).or_default() += input.events;
            input.events = 0;
        }
    }

    fn report(&self) -> EngineReport {
        EngineReport {
            counters: self.counters.clone(),
            dead_letters: self.dead_letters.clone(),
            events_by_topic: self.events_by_topic.clone(),
        }
    }
}

/// Publishes one group's attribution deltas (conversion values are never negative, so
/// neither are the deltas).
fn publish_attribution(m: &Metrics, id: &str, group: &str, delta: &GroupTotals) {
    let labels = [id, group];
    let counts = [
        (&m.attribution_exposures, delta.exposed),
        (&m.attribution_converted, delta.converted),
        (&m.attribution_conversions, delta.conversions),
    ];
    // the series exist from the start (zero), so rate() and sums see every group
    for (counter, n) in counts {
        counter.with_label_values(&labels).inc_by(n);
    }
    for (counter, x) in [
        (&m.attribution_revenue, delta.revenue),
        (&m.attribution_revenue_squared, delta.revenue_squared),
    ] {
        counter.with_label_values(&labels).inc_by(x.max(0.0));
    }
}

/// Produces decision records to the audit topic (JSON, keyed by customer id) through [`send`],
/// so a failed delivery blocks the checkpoint as a failed action does; in exactly-once mode
/// they belong to the open transaction. Returns how many were produced.
fn send_decisions(
    records: Vec<DecisionRecord>,
    producer: &ThreadedProducer<ProducerCtx>,
    topic: &str,
    buffer: &mut Vec<u8>,
) -> u64 {
    let mut sent = 0;
    for record in &records {
        buffer.clear();
        if let Err(e) = serde_json::to_writer(&mut *buffer, record) {
            warn!(error = %e, use_case = %record.use_case_id, "decision record could not be encoded");
            continue;
        }
        let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
            key: "use_case_id",
            value: Some(record.use_case_id.as_bytes()),
        });
        let message = BaseRecord::to(topic)
            .key(record.customer_id.as_bytes())
            .payload(buffer.as_slice())
            .headers(headers);
        send(producer, message);
        sent += 1;
    }
    sent
}

/// Produces an action to its topic (`live` use cases only; shadow ones are counted, not sent).
fn emit(
    encoder: &ActionEncoder,
    producer: &ThreadedProducer<ProducerCtx>,
    buffer: &mut Vec<u8>,
    status: &Status,
    action: &Action,
) {
    if !action.emits() {
        return;
    }
    if let Err(e) = encoder.encode(action, buffer) {
        warn!(error = %e, use_case = %action.use_case_id, "action could not be encoded");
        return;
    }
    let headers = OwnedHeaders::new_with_capacity(2)
        .insert(Header {
            key: "use_case_id",
            value: Some(action.use_case_id.as_bytes()),
        })
        .insert(Header {
            key: "action_id",
            value: Some(action.action_id.as_bytes()),
        });
    let record = BaseRecord::to(&action.topic)
        .key(action.customer_id.as_bytes())
        .payload(buffer.as_slice())
        .headers(headers);
    send(producer, record);
    status.actions_out.fetch_add(1, Ordering::Relaxed);
}

/// Produces, waiting while the local queue is full; other errors are counted as failed
/// deliveries, so the next checkpoint refuses to commit past them.
fn send<K: rdkafka::message::ToBytes + ?Sized, P: rdkafka::message::ToBytes + ?Sized>(
    producer: &ThreadedProducer<ProducerCtx>,
    record: BaseRecord<'_, K, P>,
) {
    if let Err(e) = crate::produce::send_when_queued(producer, record) {
        let log = &producer.context().log;
        log.failed.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = log.last_error.lock() {
            *last = Some(e.to_string());
        }
    }
}
