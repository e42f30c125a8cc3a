//! The rebalance callback: partitions assigned are opened (their store restored from the
//! changelog first) and resume from the offset stored with their state; partitions revoked are
//! checkpointed and closed; partitions lost to another member are dropped uncommitted.

use super::clients::EngineContext;
use super::task::{InputPosition, Task};
use super::worker::Worker;
use super::EngineError;
use crate::store::{PartitionStore, EVENT_TIME, WALL_CLOCK};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

impl ConsumerContext for EngineContext {
    fn rebalance(&self, consumer: &BaseConsumer<Self>, err: RDKafkaRespErr, tpl: &mut TopicPartitionList) {
        let cooperative = matches!(consumer.rebalance_protocol(), RebalanceProtocol::Cooperative);
        let mut worker = self.lock();
        // the group has spoken: whatever a stall made us doubt is settled now
        worker.suspect_until = None;
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                if let Some(startup) = worker.startup.as_mut() {
                    startup.mark("join");
                }
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
                if let Some(mut startup) = worker.startup.take() {
                    startup.mark("restore");
                    startup.log(tpl.count());
                }
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
        let committed = match self.transaction.enabled {
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
        self.abort_open_transaction()?;
        for task in &mut self.tasks {
            task.store.clear_cache();
            task.dirty = false;
        }
        self.remove_inputs(lost)
    }

    pub(super) fn release_partitions<C: ConsumerContext>(
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
}
