//! Changelog topics: every checkpoint's state changes also go to a compacted topic (one per
//! engine group, partitioned like the input), so a partition's state can be rebuilt on any
//! instance — a new pod, a lost disk, a stale directory from an old assignment.
//!
//! A checkpoint writes, per partition, the changed customers (key = customer id, value = the
//! encoded state) and then one record with the input offsets they reflect (key
//! [`INPUT_OFFSETS_KEY`]); RocksDB keeps the changelog offset it has reached.

use crate::store::{PartitionStore, StoreError};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Context of the consumer that reads changelogs: the end-of-partition events it asks for are
/// how a restore knows it is done, not errors worth a log line.
pub struct RestoreContext;

impl rdkafka::ClientContext for RestoreContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let end_of_partition = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        );
        if !end_of_partition {
            tracing::error!(error = %error, reason, "changelog reader");
        }
    }
}

impl ConsumerContext for RestoreContext {}

/// Key of the record holding a checkpoint's input offsets (customer ids never start with NUL).
pub const INPUT_OFFSETS_KEY: &[u8] = b"\0input-offsets";
const RESTORE_BATCH: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error("changelog topic `{topic}` has {found} partitions, the input topics {expected}; delete it or give the engine another `state.changelog_topic`")]
    PartitionMismatch {
        topic: String,
        found: usize,
        expected: usize,
    },
    #[error("cannot create changelog topic `{topic}`: {source}; create it yourself with cleanup.policy=compact and {partitions} partitions")]
    Create {
        topic: String,
        partitions: usize,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("restoring partition {partition} from `{topic}`: {source}")]
    Restore {
        topic: String,
        partition: i32,
        #[source]
        source: KafkaError,
    },
    #[error("restoring partition {partition} from `{topic}`: no records for 60 s at offset {next}")]
    RestoreStalled { topic: String, partition: i32, next: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes sure the changelog exists with `partitions` partitions and `cleanup.policy=compact`.
pub fn ensure_topic<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    bootstrap_config: &ClientConfig,
    topic: &str,
    partitions: usize,
    replication: i32,
) -> Result<(), ChangelogError> {
    let create_error = |source: Box<dyn std::error::Error + Send + Sync>| ChangelogError::Create {
        topic: topic.into(),
        partitions,
        source,
    };
    let existing = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(15))
        .ok()
        .and_then(|m| {
            m.topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map(|t| t.partitions().len())
        })
        .filter(|n| *n > 0);
    match existing {
        Some(found) if found == partitions => return Ok(()),
        Some(found) => {
            return Err(ChangelogError::PartitionMismatch {
                topic: topic.into(),
                found,
                expected: partitions,
            })
        }
        None => {}
    }
    let admin: AdminClient<DefaultClientContext> = bootstrap_config.create().map_err(|e| create_error(e.into()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| create_error(e.into()))?;
    let new =
        NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(replication)).set("cleanup.policy", "compact");
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let results = runtime
        .block_on(admin.create_topics([&new], &options))
        .map_err(|e| create_error(e.into()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(create_error(code.into())),
        }
    }
    Ok(())
}

/// What a restore did, for logs and metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct Restored {
    pub records: u64,
    pub seconds: f64,
}

/// Header naming the checkpoint a changelog record belongs to (8 bytes, little endian).
pub const CHECKPOINT_HEADER: &str = "checkpoint";

/// The offsets record of one checkpoint: the input offsets its state changes start from and
/// reach. `from` chains checkpoints, so a restore can tell the committed line of checkpoints
/// from a transaction that was aborted and retried from the same point.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointOffsets {
    pub from: BTreeMap<String, i64>,
    pub to: BTreeMap<String, i64>,
}

/// Encodes a checkpoint's offsets record.
pub fn encode_offsets(from: &[(&str, i64)], to: &[(&str, i64)]) -> Vec<u8> {
    let record = CheckpointOffsets {
        from: from.iter().map(|(t, o)| (t.to_string(), *o)).collect(),
        to: to.iter().map(|(t, o)| (t.to_string(), *o)).collect(),
    };
    serde_json::to_vec(&record).unwrap_or_default()
}

fn decode_offsets(bytes: &[u8]) -> Option<CheckpointOffsets> {
    serde_json::from_slice(bytes).ok()
}

/// Whether `from` (a checkpoint's start) is exactly the position `at`, over the checkpoint's topics.
fn starts_at(offsets: &CheckpointOffsets, at: &BTreeMap<String, i64>) -> bool {
    offsets.to.keys().all(|topic| offsets.from.get(topic) == at.get(topic))
}

/// Whether the checkpoint reaches exactly `position` in every one of its topics.
fn reaches(offsets: &CheckpointOffsets, position: &BTreeMap<String, i64>) -> bool {
    offsets.to.iter().all(|(topic, next)| position.get(topic) == Some(next))
}

type Record = (Vec<u8>, Option<Vec<u8>>);

/// One checkpoint read back from the changelog: its offsets and its state records.
struct Checkpoint {
    offsets: CheckpointOffsets,
    records: Vec<Record>,
}

/// Rebuilds the line of committed checkpoints from changelog records as they are read.
///
/// Records of a checkpoint whose offsets record never arrived (a crash in the middle of writing
/// it) are dropped. A checkpoint is applied once the next one starts where it ended; one that is
/// followed by a checkpoint starting from the same point as itself was aborted and retried (the
/// engine rewinds to the last commit after an abort or a crash), so it is dropped. That matters
/// on brokers that return aborted transactional records to `read_committed` readers.
struct Chain {
    /// Input offsets of the last applied checkpoint.
    tip: BTreeMap<String, i64>,
    /// Records whose checkpoint has not ended yet, with their checkpoint id.
    open: Vec<(u64, Vec<u8>, Option<Vec<u8>>)>,
    /// The last complete checkpoint, not yet known to be committed.
    pending: Option<Checkpoint>,
    /// Confirmed records waiting to be written.
    confirmed: Vec<Record>,
    dropped: u64,
}

impl Chain {
    fn new(tip: BTreeMap<String, i64>) -> Chain {
        Chain {
            tip,
            open: Vec::new(),
            pending: None,
            confirmed: Vec::with_capacity(RESTORE_BATCH),
            dropped: 0,
        }
    }

    fn state(&mut self, checkpoint: u64, key: &[u8], value: Option<&[u8]>) {
        self.open.push((checkpoint, key.to_vec(), value.map(<[u8]>::to_vec)));
    }

    fn end_of_checkpoint(&mut self, checkpoint: u64, offsets: CheckpointOffsets) {
        let before = self.open.len();
        let records: Vec<Record> = self
            .open
            .drain(..)
            .filter(|(id, _, _)| *id == checkpoint)
            .map(|(_, key, value)| (key, value))
            .collect();
        self.dropped += (before - records.len()) as u64;
        let next = Checkpoint { offsets, records };
        match self.pending.take() {
            Some(last) if starts_at(&next.offsets, &last.offsets.to) => self.confirm(last),
            Some(last) if starts_at(&next.offsets, &self.tip) => self.dropped += last.records.len() as u64 + 1,
            // not chained (written by an older version, or a gap): keep the log's order
            Some(last) => self.confirm(last),
            None => {}
        }
        self.pending = Some(next);
    }

    fn confirm(&mut self, checkpoint: Checkpoint) {
        self.confirmed.extend(checkpoint.records);
        self.tip.extend(checkpoint.offsets.to);
    }

    /// At the end of the changelog: the last checkpoint counts if it reaches the committed input
    /// offsets (exactly-once), or always (at-least-once, where nothing is ever aborted).
    fn finish(&mut self, committed: Option<&BTreeMap<String, i64>>) {
        self.dropped += self.open.len() as u64;
        self.open.clear();
        if let Some(last) = self.pending.take() {
            match committed {
                Some(committed) if !reaches(&last.offsets, committed) => self.dropped += last.records.len() as u64 + 1,
                _ => self.confirm(last),
            }
        }
    }
}

/// Brings the store of `partition` up to the changelog's end, applying only whole checkpoints
/// (see [`Chain`]). With `committed` (exactly-once: the group's committed input offsets, which
/// the broker stores only when a transaction commits) a trailing checkpoint that does not reach
/// them is treated as aborted. A store ahead of the changelog (recreated under it) is rebuilt.
pub fn restore<C: ConsumerContext>(
    restorer: &BaseConsumer<C>,
    catalog: &revenue_core::Catalog,
    topic: &str,
    partition: i32,
    store: PartitionStore,
    committed: Option<&BTreeMap<String, i64>>,
    mut progress: impl FnMut(u64),
) -> Result<(PartitionStore, Restored), ChangelogError> {
    let fail = |source: KafkaError| ChangelogError::Restore {
        topic: topic.into(),
        partition,
        source,
    };
    let started = Instant::now();
    let (_, high) = restorer
        .fetch_watermarks(topic, partition, Duration::from_secs(15))
        .map_err(fail)?;
    let mut store = store;
    let mut local = store.changelog_next()?;
    if local.is_some_and(|l| l > high) {
        tracing::warn!(topic, partition, local = ?local, high, "local state is ahead of the changelog; rebuilding it");
        store = store.wipe()?;
        local = None;
    }
    let start = local.map_or(Offset::Beginning, Offset::Offset);
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, start).map_err(fail)?;
    restorer.assign(&tpl).map_err(fail)?;
    let mut chain = Chain::new(store.input_offsets()?);
    let mut next = local.unwrap_or(0);
    let mut records = 0u64;
    let mut idle = Instant::now();
    // the end is the broker's end-of-partition event: high watermarks can under-report
    loop {
        match restorer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                idle = Instant::now();
                next = m.offset() + 1;
                records += 1;
                let checkpoint = checkpoint_id(&m);
                let key = m.key().unwrap_or_default();
                if key == INPUT_OFFSETS_KEY {
                    match m.payload().and_then(decode_offsets) {
                        Some(offsets) => chain.end_of_checkpoint(checkpoint, offsets),
                        None => chain.dropped += 1,
                    }
                } else {
                    chain.state(checkpoint, key, m.payload());
                }
                if chain.confirmed.len() >= RESTORE_BATCH {
                    store.restore(catalog, &chain.confirmed, &chain.tip, next)?;
                    chain.confirmed.clear();
                    progress(records);
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition => break,
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => return Err(fail(e)),
            None if idle.elapsed() > Duration::from_secs(60) => {
                return Err(ChangelogError::RestoreStalled {
                    topic: topic.into(),
                    partition,
                    next,
                });
            }
            None => {}
        }
    }
    chain.finish(committed);
    store.restore(catalog, &chain.confirmed, &chain.tip, next)?;
    progress(records);
    restorer.unassign().map_err(fail)?;
    if let Some(committed) = committed {
        if committed
            .iter()
            .any(|(t, o)| chain.tip.get(t).is_some_and(|at| at != o))
        {
            tracing::warn!(topic, partition, restored = ?chain.tip, ?committed,
                "the changelog does not reach the committed input offsets; the difference is processed again");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if records > 0 {
        tracing::info!(
            topic,
            partition,
            records,
            dropped = chain.dropped,
            seconds,
            "state restored"
        );
    }
    Ok((store, Restored { records, seconds }))
}

fn checkpoint_id<M: Message>(message: &M) -> u64 {
    message
        .headers()
        .and_then(|headers| headers.iter().find(|h| h.key == CHECKPOINT_HEADER))
        .and_then(|h| h.value)
        .and_then(|v| <[u8; 8]>::try_from(v).ok())
        .map_or(0, u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(from: i64, to: i64) -> CheckpointOffsets {
        let at = |o: i64| [("events".to_string(), o)].into_iter().filter(|_| o >= 0).collect();
        CheckpointOffsets {
            from: at(from),
            to: at(to),
        }
    }

    fn keys(chain: &Chain) -> Vec<&[u8]> {
        chain.confirmed.iter().map(|(k, _)| k.as_slice()).collect()
    }

    #[test]
    fn chained_checkpoints_are_applied_in_order() {
        let mut chain = Chain::new(BTreeMap::new());
        chain.state(1, b"a", Some(b"1"));
        chain.end_of_checkpoint(1, offsets(-1, 10));
        chain.state(2, b"b", Some(b"2"));
        chain.end_of_checkpoint(2, offsets(10, 20));
        assert_eq!(keys(&chain), [b"a"], "the last one waits for its successor");
        chain.finish(None);
        assert_eq!(keys(&chain), [b"a".as_slice(), b"b"]);
        assert_eq!(chain.tip.get("events"), Some(&20));
    }

    #[test]
    fn a_checkpoint_retried_from_its_own_start_was_aborted() {
        let mut chain = Chain::new(BTreeMap::from([("events".to_string(), 10)]));
        chain.state(7, b"aborted", Some(b"x"));
        chain.end_of_checkpoint(7, offsets(10, 30));
        chain.state(8, b"retried", Some(b"y"));
        chain.end_of_checkpoint(8, offsets(10, 20));
        chain.state(9, b"next", Some(b"z"));
        chain.end_of_checkpoint(9, offsets(20, 25));
        chain.finish(Some(&BTreeMap::from([("events".to_string(), 25)])));
        assert_eq!(keys(&chain), [b"retried".as_slice(), b"next"]);
        assert_eq!(chain.tip.get("events"), Some(&25));
    }

    #[test]
    fn records_of_an_unfinished_checkpoint_are_dropped() {
        let mut chain = Chain::new(BTreeMap::new());
        chain.state(1, b"crashed-before-its-offsets", Some(b"x"));
        chain.state(2, b"complete", Some(b"y"));
        chain.end_of_checkpoint(2, offsets(-1, 5));
        chain.state(3, b"tail", Some(b"z"));
        chain.finish(None);
        assert_eq!(keys(&chain), [b"complete"]);
        assert_eq!(chain.dropped, 2);
    }

    #[test]
    fn exactly_once_drops_a_last_checkpoint_beyond_the_committed_offsets() {
        let committed = BTreeMap::from([("events".to_string(), 10)]);
        let mut chain = Chain::new(BTreeMap::new());
        chain.state(1, b"committed", Some(b"1"));
        chain.end_of_checkpoint(1, offsets(-1, 10));
        chain.state(2, b"aborted", Some(b"2"));
        chain.end_of_checkpoint(2, offsets(10, 20));
        let mut at_least_once = Chain {
            tip: chain.tip.clone(),
            open: Vec::new(),
            pending: None,
            confirmed: chain.confirmed.clone(),
            dropped: 0,
        };
        at_least_once.pending = chain.pending.as_ref().map(|p| Checkpoint {
            offsets: p.offsets.clone(),
            records: p.records.clone(),
        });
        chain.finish(Some(&committed));
        assert_eq!(keys(&chain), [b"committed"]);
        assert_eq!(chain.tip.get("events"), Some(&10));
        at_least_once.finish(None);
        assert_eq!(keys(&at_least_once), [b"committed".as_slice(), b"aborted"]);
    }

    #[test]
    fn offsets_records_round_trip() {
        let bytes = encode_offsets(&[("a", 1)], &[("a", 5), ("b", 2)]);
        let decoded = decode_offsets(&bytes).expect("decodes");
        assert_eq!(decoded.from.get("a"), Some(&1));
        assert_eq!(decoded.to.get("b"), Some(&2));
        assert!(decode_offsets(b"not json").is_none());
    }
}
