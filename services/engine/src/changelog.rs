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
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

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
    #[error("cannot create changelog topic `{topic}`: {message}; create it yourself with cleanup.policy=compact and {partitions} partitions")]
    Create {
        topic: String,
        partitions: usize,
        message: String,
    },
    #[error("restoring partition {partition} from `{topic}`: {message}")]
    Restore {
        topic: String,
        partition: i32,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Encodes a checkpoint's input offsets.
pub fn encode_offsets(offsets: &[(&str, i64)]) -> Vec<u8> {
    let map: BTreeMap<&str, i64> = offsets.iter().copied().collect();
    serde_json::to_vec(&map).unwrap_or_default()
}

fn decode_offsets(bytes: &[u8]) -> Vec<(String, i64)> {
    serde_json::from_slice::<BTreeMap<String, i64>>(bytes)
        .map(|m| m.into_iter().collect())
        .unwrap_or_default()
}

/// Makes sure the changelog exists with `partitions` partitions and `cleanup.policy=compact`.
pub fn ensure_topic<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    bootstrap_config: &ClientConfig,
    topic: &str,
    partitions: usize,
    replication: i32,
) -> Result<(), ChangelogError> {
    let create_error = |message: String| ChangelogError::Create {
        topic: topic.into(),
        partitions,
        message,
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
    let admin: AdminClient<DefaultClientContext> =
        bootstrap_config.create().map_err(|e| create_error(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| create_error(e.to_string()))?;
    let new =
        NewTopic::new(topic, partitions as i32, TopicReplication::Fixed(replication)).set("cleanup.policy", "compact");
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let results = runtime
        .block_on(admin.create_topics([&new], &options))
        .map_err(|e| create_error(e.to_string()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(create_error(code.to_string())),
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

/// Brings the store of `partition` up to the changelog's end: nothing when it is current,
/// the missing tail when it is behind, everything (after wiping) when it is ahead of the
/// changelog (a changelog recreated under it).
pub fn restore<C: ConsumerContext>(
    restorer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    store: PartitionStore,
    root: &Path,
    mut progress: impl FnMut(u64),
) -> Result<(PartitionStore, Restored), ChangelogError> {
    let fail = |message: String| ChangelogError::Restore {
        topic: topic.into(),
        partition,
        message,
    };
    let started = Instant::now();
    let (low, high) = restorer
        .fetch_watermarks(topic, partition, Duration::from_secs(15))
        .map_err(|e| fail(e.to_string()))?;
    let mut store = store;
    let mut local = store.changelog_next()?;
    if local.is_some_and(|l| l > high) {
        tracing::warn!(topic, partition, local = ?local, high, "local state is ahead of the changelog; rebuilding it");
        store = store.wipe(root, partition)?;
        local = None;
    }
    let start = local.unwrap_or(low).max(low);
    if start >= high {
        return Ok((store, Restored::default()));
    }
    tracing::info!(
        topic,
        partition,
        from = start,
        to = high,
        "restoring state from the changelog"
    );
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(start))
        .map_err(|e| fail(e.to_string()))?;
    restorer.assign(&tpl).map_err(|e| fail(e.to_string()))?;
    let mut states = Vec::with_capacity(RESTORE_BATCH);
    let mut offsets: Vec<(String, i64)> = Vec::new();
    let mut next = start;
    let mut records = 0u64;
    let mut idle = Instant::now();
    while next < high {
        match restorer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                idle = Instant::now();
                next = m.offset() + 1;
                records += 1;
                let key = m.key().unwrap_or_default();
                if key == INPUT_OFFSETS_KEY {
                    offsets = decode_offsets(m.payload().unwrap_or_default());
                } else {
                    states.push((key.to_vec(), m.payload().map(<[u8]>::to_vec)));
                }
                if states.len() >= RESTORE_BATCH {
                    store.restore(&states, &offsets, next)?;
                    states.clear();
                    progress(records);
                }
            }
            Some(Err(e)) => return Err(fail(e.to_string())),
            None if idle.elapsed() > Duration::from_secs(60) => {
                return Err(fail(format!("no records for 60 s at offset {next} of {high}")));
            }
            None => {}
        }
    }
    store.restore(&states, &offsets, next)?;
    progress(records);
    restorer.unassign().map_err(|e| fail(e.to_string()))?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(topic, partition, records, seconds, "state restored");
    Ok((store, Restored { records, seconds }))
}
