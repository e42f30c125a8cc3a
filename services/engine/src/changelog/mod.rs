//! Changelog topics: every checkpoint's state changes also go to a compacted topic (one per
//! engine group, partitioned like the input), so a partition's state can be rebuilt on any
//! instance — a new pod, a lost disk, a stale directory from an old assignment.
//!
//! A checkpoint writes, per partition, the changed customers (key = customer id, value = the
//! encoded state) and then one record with the input offsets they reflect (key
//! [`INPUT_OFFSETS_KEY`]); RocksDB keeps the changelog offset it has reached.

mod chain;
mod restore;

pub use restore::restore;

use crate::store::StoreError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;
use std::collections::BTreeMap;
use std::time::Duration;

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

/// The assign-only consumer that reads changelogs, from the shared client settings
/// (`bootstrap.servers` and the user's properties): `read_committed`, end-of-partition events,
/// and an error (not a silent reset) when a store's position is beyond the end.
pub fn restorer(mut config: ClientConfig, group_id: &str) -> Result<BaseConsumer<RestoreContext>, KafkaError> {
    config
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "error")
        .set("fetch.queue.backoff.ms", "1")
        // an empty fetch at the end of a partition returns after this long
        .set("fetch.wait.max.ms", "20")
        .create_with_context(RestoreContext)
}

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
    /// Changelog records read.
    pub records: u64,
    pub seconds: f64,
    /// The local store was beyond the changelog's end, so it was wiped and rebuilt.
    pub rebuilt: bool,
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

pub(crate) fn decode_offsets(bytes: &[u8]) -> Option<CheckpointOffsets> {
    serde_json::from_slice(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_records_round_trip() {
        let bytes = encode_offsets(&[("a", 1)], &[("a", 5), ("b", 2)]);
        let decoded = decode_offsets(&bytes).expect("decodes");
        assert_eq!(decoded.from.get("a"), Some(&1));
        assert_eq!(decoded.to.get("b"), Some(&2));
        assert!(decode_offsets(b"not json").is_none());
    }
}
