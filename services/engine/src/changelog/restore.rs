//! Reading a partition's changelog into its store.

use super::chain::Chain;
use super::{decode_offsets, ChangelogError, Restored, CHECKPOINT_HEADER, INPUT_OFFSETS_KEY, RESTORE_BATCH};
use crate::store::PartitionStore;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a broker may stay silent at a store's position before the restore asks where the
/// log ends.
const SILENCE: Duration = Duration::from_millis(1_000);

/// The broker's first answer to reading at a store's local changelog position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A record, or the end of the partition: the position is within the changelog.
    Data,
    /// The position is out of range (Kafka, and `auto.offset.reset=error` reports it).
    OutOfRange,
    /// Nothing (Tansu's answer beyond the end); `end` is where reading showed the log ends, once
    /// the silence lasted long enough to ask.
    Silence { end: Option<i64> },
}

/// Whether a store's local changelog position is beyond the changelog's end, so the store was
/// written against another topic (deleted and recreated, or a fresh broker) and must be rebuilt.
/// A high watermark the broker reports on request is no evidence (Tansu under-reports it), so
/// only what reading shows counts.
fn beyond_end(local: i64, answer: Answer) -> bool {
    match answer {
        Answer::Data => false,
        Answer::OutOfRange => true,
        Answer::Silence { end } => end.is_some_and(|end| local > end),
    }
}

fn answer(polled: &Option<Result<BorrowedMessage<'_>, KafkaError>>) -> Answer {
    match polled {
        Some(Err(KafkaError::MessageConsumption(
            RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange,
        ))) => Answer::OutOfRange,
        Some(Err(e)) if transient(e) => Answer::Silence { end: None },
        Some(_) => Answer::Data,
        None => Answer::Silence { end: None },
    }
}

/// An error about the connection, not the changelog: librdkafka reconnects by itself, and one
/// may still be queued from an outage that is over. A broker that stays away is a stalled
/// restore (no record for 60 s), not a failed one.
fn transient(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::NotLeaderForPartition
                | RDKafkaErrorCode::LeaderNotAvailable
        )
    )
}

/// Where the log of `partition` really ends: read from the reported high watermark (which may
/// under-report, never over-report) to the end-of-partition event.
fn log_end<C: ConsumerContext>(restorer: &BaseConsumer<C>, topic: &str, partition: i32) -> Result<i64, KafkaError> {
    let (_, reported) = restorer.fetch_watermarks(topic, partition, Duration::from_secs(15))?;
    assign(restorer, topic, partition, Offset::Offset(reported))?;
    let mut end = reported;
    let asked = Instant::now();
    while asked.elapsed() < Duration::from_secs(30) {
        match restorer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => end = end.max(m.offset() + 1),
            Some(Err(KafkaError::PartitionEOF(p))) if p == partition => break,
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) if transient(&e) => {}
            Some(Err(e)) => return Err(e),
        }
    }
    Ok(end)
}

fn assign<C: ConsumerContext>(
    restorer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    start: Offset,
) -> Result<(), KafkaError> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, start)?;
    restorer.assign(&tpl)
}

/// Brings the store of `partition` up to the changelog's end, applying only whole checkpoints
/// (see [`Chain`]). With `committed` (exactly-once: the group's committed input offsets, which
/// the broker stores only when a transaction commits) no checkpoint beyond them is applied. A
/// store beyond the changelog's end (recreated under it) is rebuilt; the end is where the broker
/// says so when read, never a high watermark asked for beforehand.
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
    let mut store = store;
    let local = store.changelog_next()?;
    assign(
        restorer,
        topic,
        partition,
        local.map_or(Offset::Beginning, Offset::Offset),
    )
    .map_err(fail)?;
    // until the broker answered at the local position, it may turn out to be beyond the end
    let mut unsettled = local;
    let mut asked = Instant::now();
    let mut rebuilt = false;
    let mut chain = Chain::new(store.input_offsets()?, committed);
    let mut next = local.unwrap_or(0);
    let mut records = 0u64;
    let mut idle = Instant::now();
    // the end is the broker's end-of-partition event: high watermarks can under-report
    loop {
        let polled = restorer.poll(Duration::from_millis(200));
        if let Some(at) = unsettled {
            let mut answer = answer(&polled);
            if answer == (Answer::Silence { end: None }) && asked.elapsed() >= SILENCE {
                answer = Answer::Silence {
                    end: Some(log_end(restorer, topic, partition).map_err(fail)?),
                };
                // within the log after all (a slow answer): read on from the local position
                assign(restorer, topic, partition, Offset::Offset(at)).map_err(fail)?;
                asked = Instant::now();
            }
            if beyond_end(at, answer) {
                tracing::warn!(topic, partition, local = at, answer = ?answer,
                    "local state is beyond the changelog's end (the topic was recreated, or the broker is new); rebuilding it");
                store = store.wipe()?;
                chain = Chain::new(BTreeMap::new(), committed);
                next = 0;
                rebuilt = true;
                unsettled = None;
                assign(restorer, topic, partition, Offset::Beginning).map_err(fail)?;
                idle = Instant::now();
                continue;
            }
            if !matches!(answer, Answer::Silence { .. }) {
                unsettled = None;
            }
        }
        match polled {
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
            Some(Err(e)) if transient(&e) => {}
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
    chain.finish();
    store.restore(catalog, &chain.confirmed, &chain.tip, next)?;
    progress(records);
    restorer.unassign().map_err(fail)?;
    if let Some(committed) = committed {
        let beyond = chain.beyond;
        if beyond.checkpoints > 0 {
            tracing::warn!(topic, partition, dropped_checkpoints = beyond.checkpoints,
                dropped_records = beyond.records, restored = ?chain.tip, ?committed,
                "changelog checkpoints beyond the committed input offsets were dropped (aborted transactions the broker returned to read_committed readers)");
        } else if committed
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
            rebuilt,
            seconds,
            "state restored"
        );
    }
    Ok((
        store,
        Restored {
            records,
            seconds,
            rebuilt,
        },
    ))
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

    #[test]
    fn a_position_the_broker_answers_at_is_within_the_changelog() {
        // issue 15: local=3485 while Tansu reported high=3410; reading at 3485 found the end
        assert!(!beyond_end(3485, Answer::Data));
        assert!(!beyond_end(3485, Answer::Silence { end: None }), "no evidence yet");
        assert!(
            !beyond_end(3485, Answer::Silence { end: Some(3485) }),
            "exactly at the end"
        );
        assert!(
            !beyond_end(3485, Answer::Silence { end: Some(3600) }),
            "records to come"
        );
    }

    #[test]
    fn a_position_the_broker_refuses_or_ends_before_is_beyond_it() {
        assert!(beyond_end(3485, Answer::OutOfRange));
        assert!(beyond_end(3485, Answer::Silence { end: Some(3410) }));
        assert!(
            beyond_end(1, Answer::Silence { end: Some(0) }),
            "an empty, recreated topic"
        );
    }
}
