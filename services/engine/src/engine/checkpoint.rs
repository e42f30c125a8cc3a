//! The checkpoint protocol: what makes an interval's work durable, in this order.
//!
//! 1. Each changed partition's customers go to the changelog — not restorable yet: a restore
//!    applies a checkpoint only once its offsets record (step 3) has arrived.
//! 2. Every action, dead letter, decision record and customer record produced since the last
//!    checkpoint is acknowledged by the broker (at-least-once). A failed delivery stops here:
//!    nothing of this interval becomes restorable, so a restart processes it again.
//! 3. Per changed partition, one record with the input offsets its customers start from and
//!    reach: the record that makes the checkpoint restorable.
//! 4. It is acknowledged too (exactly-once: a record that failed to be sent is not in the
//!    transaction, so it is aborted; otherwise everything and the input offsets commit as one
//!    transaction).
//! 5. Local state, input offsets and changelog position are written in one RocksDB batch per
//!    partition — only after step 4, so the store never holds what Kafka may lose.
//! 6. The input offsets are committed to the group (at-least-once; exactly-once committed them
//!    with the transaction).
//! 7. What the checkpoint covered is published as metrics.
//!
//! A failed transaction is aborted and everything since the last checkpoint is discarded: the
//! cached state dropped, every partition rewound to the offsets stored with its state.

use super::outputs::Outputs;
use super::task::{next_offsets, Task};
use super::worker::Worker;
use super::EngineError;
use crate::changelog::{encode_offsets, CHECKPOINT_HEADER, INPUT_OFFSETS_KEY};
use crate::failpoint::{self, AFTER_COMMIT, BEFORE_COMMIT, BEFORE_OFFSET_COMMIT};
use crate::metrics::labels::Topic;
use crate::store::{Change, StoreError};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use revenue_core::processor::Counters;
use std::time::{Duration, Instant};
use tracing::warn;

/// Exactly-once: everything between two checkpoints is one Kafka transaction.
pub(super) struct Transaction {
    /// The guarantee is exactly-once.
    pub(super) enabled: bool,
    /// Records were produced since the last checkpoint, in the transaction now open.
    pub(super) open: bool,
    /// Counters when the open transaction began (restored when it aborts).
    pub(super) counters_at_begin: Counters,
}

impl Transaction {
    pub(super) fn new(enabled: bool) -> Transaction {
        Transaction {
            enabled,
            open: false,
            counters_at_begin: Counters::default(),
        }
    }
}

/// A partition's changes, sent to the changelog at step 1 and written to its store at step 5.
struct PendingWrite {
    task: usize,
    changes: Vec<Change>,
}

/// What one checkpoint writes: its id (the changelog header) and each changed partition's changes.
struct Checkpoint {
    id: [u8; 8],
    pending: Vec<PendingWrite>,
}

impl Worker {
    /// Acknowledged actions, then state with offsets in one batch per partition, then the commit.
    pub(super) fn checkpoint<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        sync: bool,
    ) -> Result<(), EngineError> {
        // after a stall nothing may commit until the group has told us where we stand
        if self.suspect_until.is_some_and(|until| Instant::now() < until) {
            return self.discard_uncommitted(consumer);
        }
        self.suspect_until = None;
        let started = Instant::now();
        // 1. the changed customers go to the changelog, not restorable yet …
        let checkpoint = self.send_changes_to_changelog();
        // 2. … everything produced so far is acknowledged before anything makes it restorable:
        // a checkpoint whose dead letter, action or customer record was lost would be restored
        // past it …
        if !self.transaction.enabled {
            self.await_acknowledgements()?;
        }
        // 3. … then the offsets records make it restorable …
        self.send_offsets_records(&checkpoint)?;
        let wrote = !checkpoint.pending.is_empty();
        if wrote {
            failpoint::hit(BEFORE_COMMIT);
        }
        // 4. … and are acknowledged (exactly-once: everything and the input offsets commit as one
        // transaction; local state is written only after) …
        if self.transaction.enabled {
            if !self.transaction.open {
                return Ok(()); // nothing was processed since the last checkpoint
            }
            // a record refused at send is not in the transaction: committing would lose it
            if let Some((failed, last)) = self.outputs.delivery.failures() {
                self.abort_open_transaction()?;
                return Err(EngineError::Delivery { failed, last });
            }
            let offsets = self.input_positions()?;
            if let Err(e) = self.commit_transaction(consumer, &offsets) {
                return self.abort(consumer, e);
            }
        }
        self.await_acknowledgements()?;
        if wrote {
            failpoint::hit(AFTER_COMMIT);
        }
        // 5. … then local state, input offsets and changelog position in one batch per partition …
        self.write_local_state(checkpoint.pending)?;
        if wrote {
            failpoint::hit(BEFORE_OFFSET_COMMIT);
        }
        // 6. … and last the offsets are committed to the group
        let offsets = self.input_positions()?;
        if !self.transaction.enabled {
            commit_offsets(consumer, &offsets, sync);
        }
        // 7. what the checkpoint covered is published
        self.publish_metrics();
        self.metrics.checkpoint_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.commits.inc();
        Ok(())
    }

    /// Step 1: takes the changed customers of every changed partition (they count as clean from
    /// now on) and, with a changelog, sends them there under a new checkpoint id.
    fn send_changes_to_changelog(&mut self) -> Checkpoint {
        self.checkpoint_id = self.checkpoint_id.wrapping_add(1);
        let id = self.checkpoint_id.to_le_bytes();
        let mut pending = Vec::new();
        for (index, task) in self.tasks.iter_mut().enumerate().filter(|(_, t)| t.dirty) {
            let changes = task.store.take_changes(&self.set.catalog);
            if let Some(changelog) = &self.changelog {
                send_customers(&self.outputs, changelog, &id, task.partition, &changes);
            }
            task.dirty = false;
            pending.push(PendingWrite { task: index, changes });
        }
        Checkpoint { id, pending }
    }

    /// Step 3: with a changelog, each changed partition's offsets record.
    fn send_offsets_records(&self, checkpoint: &Checkpoint) -> Result<(), EngineError> {
        let Some(changelog) = &self.changelog else {
            return Ok(());
        };
        for write in &checkpoint.pending {
            send_offsets_record(&self.outputs, changelog, &checkpoint.id, &self.tasks[write.task])?;
        }
        Ok(())
    }

    /// Steps 2 and 4: waits until the broker acknowledged every record produced so far; refuses
    /// to go on when any failed.
    fn await_acknowledgements(&self) -> Result<(), EngineError> {
        self.outputs.producer.flush(Timeout::After(Duration::from_secs(120)))?;
        match self.outputs.delivery.failures() {
            Some((failed, last)) => Err(EngineError::Delivery { failed, last }),
            None => Ok(()),
        }
    }

    /// Step 5: one batch per partition with its changes, its input offsets and the changelog
    /// position they reflect; the partition's earliest due times move to the timers just set.
    fn write_local_state(&mut self, pending: Vec<PendingWrite>) -> Result<(), EngineError> {
        let changelog_next = self.outputs.delivery.changelog_next();
        for PendingWrite { task: index, changes } in pending {
            let task = &mut self.tasks[index];
            let offsets = next_offsets(&task.inputs);
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
        Ok(())
    }

    /// The next offset of every assigned input partition that has one, as the group stores it.
    fn input_positions(&self) -> Result<TopicPartitionList, KafkaError> {
        let mut tpl = TopicPartitionList::new();
        for task in &self.tasks {
            for input in &task.inputs {
                if let Some(next) = input.next_offset {
                    tpl.add_partition_offset(&input.topic, task.partition, Offset::Offset(next))?;
                }
            }
        }
        Ok(tpl)
    }

    /// Step 7: state size, counter deltas, decision records and events per topic.
    fn publish_metrics(&mut self) {
        let (mut bytes, mut cached, mut corrupt) = (0u64, 0usize, 0u64);
        for task in &self.tasks {
            bytes += task.store.approximate_bytes();
            cached += task.store.cached_customers();
            corrupt += task.store.corrupt_values;
        }
        self.count_action_dead_letters();
        let m = &self.metrics;
        m.publish_state(bytes, cached, corrupt);
        m.publish_counters(&self.set, &self.counters, &mut self.published);
        m.audit_records.inc_by(self.outputs.take_audit_records());
        for input in self.tasks.iter_mut().flat_map(|t| t.inputs.iter_mut()) {
            m.events_in
                .with(&Topic {
                    topic: input.topic.as_ref(),
                })
                .inc_by(input.events);
            *self.events_by_topic.entry(input.topic.to_string()).or_default() += input.events;
            input.events = 0;
        }
    }

    /// Exactly-once: opens the transaction the next records belong to.
    pub(super) fn begin_transaction(&mut self) -> Result<(), KafkaError> {
        if self.transaction.enabled && !self.transaction.open {
            self.outputs.producer.begin_transaction()?;
            self.transaction.open = true;
            self.transaction.counters_at_begin = self.counters.clone();
        }
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
            self.outputs
                .producer
                .send_offsets_to_transaction(offsets, &group, timeout)?;
        }
        self.outputs.producer.commit_transaction(timeout)?;
        self.transaction.open = false;
        Ok(())
    }

    /// Aborts the open transaction, if any: the counters go back to where it began.
    pub(super) fn abort_open_transaction(&mut self) -> Result<(), KafkaError> {
        if self.transaction.open {
            self.outputs.producer.abort_transaction(Duration::from_secs(60))?;
            self.transaction.open = false;
            self.counters = self.transaction.counters_at_begin.clone();
        }
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
    pub(super) fn discard_uncommitted<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<(), EngineError> {
        self.abort_open_transaction()?;
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
}

fn checkpoint_header(id: &[u8; 8]) -> OwnedHeaders {
    OwnedHeaders::new_with_capacity(1).insert(Header {
        key: CHECKPOINT_HEADER,
        value: Some(id),
    })
}

/// Step 1 for one partition: its changed customers, an expired one as a tombstone.
fn send_customers(outputs: &Outputs, changelog: &str, id: &[u8; 8], partition: i32, changes: &[Change]) {
    for change in changes {
        // an expired customer is a tombstone: compaction forgets it
        let mut record = BaseRecord::to(changelog)
            .partition(partition)
            .key(change.id.as_bytes())
            .headers(checkpoint_header(id));
        if let Some(bytes) = &change.value {
            record = record.payload(bytes.as_slice());
        }
        outputs.send(record);
    }
}

/// Step 3 for one partition: the offsets record naming the input offsets the stored state starts
/// from and the ones these changes reach (the restore chains checkpoints by them).
fn send_offsets_record(outputs: &Outputs, changelog: &str, id: &[u8; 8], task: &Task) -> Result<(), StoreError> {
    let mut from = Vec::with_capacity(task.inputs.len());
    for input in &task.inputs {
        if let Some(stored) = task.store.next_offset(&input.topic)? {
            from.push((input.topic.as_ref(), stored));
        }
    }
    let encoded = encode_offsets(&from, &next_offsets(&task.inputs));
    let record = BaseRecord::to(changelog)
        .partition(task.partition)
        .key(INPUT_OFFSETS_KEY)
        .payload(encoded.as_slice())
        .headers(checkpoint_header(id));
    outputs.send(record);
    Ok(())
}

/// Step 6 (at-least-once): a failed commit is only logged — the offsets stored with the state
/// decide where a partition resumes.
fn commit_offsets<C: ConsumerContext>(consumer: &BaseConsumer<C>, offsets: &TopicPartitionList, sync: bool) {
    if offsets.count() == 0 {
        return;
    }
    let mode = if sync { CommitMode::Sync } else { CommitMode::Async };
    match consumer.commit(offsets, mode) {
        Ok(()) => {}
        // nothing new to commit, or a commit racing a rebalance: the stored offsets rule
        Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => {}
        Err(e) => {
            warn!(error = %e, "offset commit failed; the offsets stored with the state are used on restart")
        }
    }
}
