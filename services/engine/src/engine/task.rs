//! One assigned partition number (a task) and the handling of one input message in it: decode,
//! update the customer's state, evaluate the use cases, produce what they decide.

use super::worker::Worker;
use crate::config::CustomerIdSource;
use crate::status::now_ms;
use crate::store::PartitionStore;
use crate::wire::WireError;
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use revenue_core::event::check_timestamp;
use revenue_core::Source;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tracing::error;

/// Progress in one assigned input topic-partition.
pub(super) struct InputPosition {
    pub(super) topic: Arc<str>,
    /// Next offset to process; `None` until the first message of a partition never stored.
    pub(super) next_offset: Option<i64>,
    /// Events since the last checkpoint (published as metrics there).
    pub(super) events: u64,
}

/// One partition number: its store, shared by the co-partitioned input topics, and the position
/// in each of them.
pub(super) struct Task {
    pub(super) partition: i32,
    pub(super) store: PartitionStore,
    pub(super) inputs: Vec<InputPosition>,
    /// Something changed since the last checkpoint.
    pub(super) dirty: bool,
    /// Latest event time seen in this partition since it was assigned: event-time timers and
    /// expiry are due against it.
    pub(super) watermark: i64,
    /// Earliest due time in the timer index, per clock kind (`i64::MAX`: none).
    pub(super) next_due: [i64; 2],
}

/// The next offset of every input topic that has one.
pub(super) fn next_offsets(inputs: &[InputPosition]) -> Vec<(&str, i64)> {
    inputs
        .iter()
        .filter_map(|i| i.next_offset.map(|next| (i.topic.as_ref(), next)))
        .collect()
}

/// The latest event time accepted: the wall clock plus the allowed future skew. The clock is read
/// again only when an event claims a later time than the last bound, so events that arrive in
/// real time read no clock at all; the decision is the same as with a fresh reading.
fn latest_accepted(bound: &mut i64, ts: i64, skew_ms: u64) -> i64 {
    if ts > *bound {
        *bound = now_ms().saturating_add(i64::try_from(skew_ms).unwrap_or(i64::MAX));
    }
    *bound
}

impl Worker {
    pub(super) fn handle(&mut self, message: &BorrowedMessage<'_>) {
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
        let skew_ms = self.config.input.max_future_skew_ms;
        let bound = &mut self.latest_event_time;
        let event = match self.decoder.decode(&self.set.catalog, payload, key).and_then(|event| {
            check_timestamp(event.ts(), latest_accepted(bound, event.ts(), skew_ms))
                .map(|()| event)
                .map_err(WireError::Decode)
        }) {
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
        let task = &mut self.tasks[index];
        task.watermark = task.watermark.max(event.ts());
        let state = match task.store.customer(&self.set.catalog, event.customer_id()) {
            Ok(state) => state,
            Err(e) => {
                self.fatal = Some(e.into());
                return;
            }
        };
        // what the partition's event time has made due fires before the customer's own event,
        // also a late one (README: replay's one clock, here the partition's)
        if state
            .next_event_time_due(&self.set.catalog)
            .is_some_and(|due| due <= task.watermark)
        {
            self.processor.fire_due_by(
                state,
                event.customer_id(),
                task.watermark,
                now_ms(),
                &mut self.counters,
                &mut self.outputs,
            );
        }
        let source = Source {
            topic,
            partition,
            offset,
        };
        self.processor
            .process(state, &event, source, &mut self.counters, &mut self.outputs);
        self.outputs.send_decisions();
        if let Some(started) = started {
            self.metrics.evaluation_seconds.observe(started.elapsed().as_secs_f64());
        }
    }
}
