//! The engine thread: poll, handle, answer customer queries, checkpoint every interval — until
//! asked to stop, then release every partition with a last checkpoint.

use super::clients::EngineContext;
use super::worker::Worker;
use super::{EngineError, EngineReport, Status};
use crate::customers::{describe, CustomerQuery, CustomerReply};
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

pub(super) fn run_loop(
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
    receiver: Option<Receiver<CustomerQuery>>,
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
    /// Answers a `GET /customers/{id}` from the stores of the assigned partitions.
    fn answer(&self, query: CustomerQuery) {
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
}
