//! The worker: everything the processing loop and the rebalance callback share, behind the
//! consumer context's lock. Its behaviour is spread over the modules that follow the data
//! (`rebalance`, `task`, `timers`, `dead_letter`, `checkpoint`, `use_case_swap`).

use super::checkpoint::Transaction;
use super::outputs::Outputs;
use super::task::Task;
use super::{EngineError, EngineReport, Status};
use crate::changelog::RestoreContext;
use crate::config::{EngineConfig, Guarantee};
use crate::metrics::{Metrics, Published};
use crate::wire::InputDecoder;
use rdkafka::consumer::BaseConsumer;
use revenue_core::processor::Counters;
use revenue_core::{Mode, Processor, UseCaseSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Everything the processing loop and the rebalance callback share.
pub(super) struct Worker {
    pub(super) set: Arc<UseCaseSet>,
    pub(super) processor: Processor,
    pub(super) decoder: InputDecoder,
    /// Where actions, decision records, dead letters and changelog records are produced.
    pub(super) outputs: Outputs,
    pub(super) tasks: Vec<Task>,
    /// Assign-only consumer that reads the changelog during restores.
    pub(super) restorer: Option<BaseConsumer<RestoreContext>>,
    /// Exactly-once: everything between two checkpoints is one Kafka transaction.
    pub(super) transaction: Transaction,
    /// After a stall: until then (or the next rebalance) nothing is committed.
    pub(super) suspect_until: Option<Instant>,
    /// Id of the last checkpoint, sent with its changelog records (starts at a random value, so
    /// two runs of one instance never share ids).
    pub(super) checkpoint_id: u64,
    pub(super) changelog: Option<Arc<str>>,
    pub(super) counters: Counters,
    /// What the metrics show already (published at every checkpoint).
    pub(super) published: Published,
    pub(super) dead_letters: BTreeMap<&'static str, u64>,
    pub(super) events_by_topic: BTreeMap<String, u64>,
    pub(super) config: EngineConfig,
    pub(super) metrics: Arc<Metrics>,
    pub(super) status: Arc<Status>,
    /// Counts events, so one in 64 has its evaluation timed.
    pub(super) sample: u32,
    /// The latest event time accepted so far (see `task::latest_accepted`).
    pub(super) latest_event_time: i64,
    /// An error that must stop the engine, raised where it cannot be returned (a callback).
    pub(super) fatal: Option<EngineError>,
    /// Startup phases so far, until the first assignment is ready (logged then, once).
    pub(super) startup: Option<super::startup::Startup>,
}

/// The processor of a set, recording decisions when the audit topic is on.
pub(super) fn processor_for(set: &Arc<UseCaseSet>, config: &EngineConfig) -> Processor {
    let processor = Processor::new(set.clone(), Mode::Engine);
    match config.audit.enabled() {
        Some((_, sample)) => processor.with_decision_records(sample),
        None => processor,
    }
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

impl Worker {
    pub(super) fn new(
        set: Arc<UseCaseSet>,
        config: &EngineConfig,
        decoder: InputDecoder,
        outputs: Outputs,
        restorer: Option<BaseConsumer<RestoreContext>>,
        metrics: Arc<Metrics>,
        status: Arc<Status>,
    ) -> Worker {
        Worker {
            processor: processor_for(&set, config),
            counters: Counters::for_set(&set),
            published: Published::for_set(&set),
            set,
            decoder,
            outputs,
            tasks: Vec::new(),
            restorer,
            transaction: Transaction::new(config.kafka.guarantee == Guarantee::ExactlyOnce),
            checkpoint_id: random_start(),
            suspect_until: None,
            changelog: config.changelog_topic().as_deref().map(Arc::from),
            dead_letters: BTreeMap::new(),
            events_by_topic: BTreeMap::new(),
            config: config.clone(),
            metrics,
            status,
            sample: 0,
            latest_event_time: 0,
            fatal: None,
            startup: None,
        }
    }

    /// Whether enough customers changed that the interval should end early (memory bound).
    pub(super) fn over_capacity(&self) -> bool {
        self.tasks.iter().any(|t| t.store.over_capacity())
    }

    pub(super) fn report(&self) -> EngineReport {
        EngineReport {
            counters: self.counters.clone(),
            dead_letters: self.dead_letters.clone(),
            events_by_topic: self.events_by_topic.clone(),
        }
    }
}
