//! Restoring a partition's state from its changelog against real brokers: Tansu (which
//! under-reports high watermarks, answers a read beyond the end with silence and returns aborted
//! transactions to `read_committed` readers) and librdkafka's mock cluster (which reports a
//! read beyond the end as out of range).

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use revenue_engine::changelog::{restore, restorer, RestoreContext, Restored};
use revenue_engine::store::PartitionStore;
use revenue_testkit::{aborted_messages_hidden, repo, Tansu, INPUT};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

mod common;
use common::{checkpoint_transaction, send_checkpoint};

const CHANGELOG: &str = "changelog";

fn catalog() -> revenue_core::Catalog {
    revenue_usecases::load_dir(&repo().join("usecases/benchmark"))
        .expect("use cases load")
        .catalog
}

fn offsets(next: i64) -> BTreeMap<String, i64> {
    BTreeMap::from([(INPUT.to_string(), next)])
}

/// `count` chained checkpoints of 2 customers each (3 records), input offsets 10 apart, sent in
/// as few batches as the producer makes (at-least-once: no transaction).
fn write_checkpoints(bootstrap: &str, count: u64) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "200")
        .create()
        .expect("producer");
    for id in 0..count {
        let to = (id as i64 + 1) * 10;
        let from = if id == 0 { -1 } else { to - 10 };
        send_checkpoint(
            &producer,
            CHANGELOG,
            id + 1,
            &[
                (&format!("c{}", id % 7), &format!("v{id}")),
                ("last", &format!("v{id}")),
            ],
            from,
            to,
        );
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

fn new_restorer(bootstrap: &str) -> BaseConsumer<RestoreContext> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    restorer(config, "restore-test").expect("restorer")
}

/// A store that says it holds the changelog up to `changelog_next` (input offsets `input`),
/// with one customer the changelog does not have.
fn local_store(dir: &Path, changelog_next: i64, input: i64) -> PartitionStore {
    let mut store = PartitionStore::open(dir, 0, 1_000).expect("store");
    let local_only = (b"local-only".to_vec(), Some(b"kept".to_vec()));
    store
        .restore(&catalog(), &[local_only], &offsets(input), changelog_next)
        .expect("local state");
    store
}

fn restore_into(
    restorer: &BaseConsumer<RestoreContext>,
    store: PartitionStore,
    committed: Option<&BTreeMap<String, i64>>,
) -> (PartitionStore, Restored) {
    restore(restorer, &catalog(), CHANGELOG, 0, store, committed, |_| {}).expect("restore")
}

#[test]
fn a_store_within_the_changelog_is_not_rebuilt_when_the_broker_under_reports_its_end() {
    let tansu = Tansu::start();
    tansu.create_topics(&[(CHANGELOG, 1)]);
    // 100 checkpoints, records 0..=299
    write_checkpoints(&tansu.bootstrap, 100);
    let restorer = new_restorer(&tansu.bootstrap);
    let (_, reported) = restorer
        .fetch_watermarks(CHANGELOG, 0, Duration::from_secs(10))
        .expect("watermarks");
    println!("Tansu reports a high watermark of {reported} for 300 records");
    let dir = tempfile::tempdir().expect("dir");
    // the store holds the first 50 checkpoints (records 0..150)
    let store = local_store(dir.path(), 150, 500);
    let (store, restored) = restore_into(&restorer, store, None);
    println!("from 150: {restored:?}");
    assert!(!restored.rebuilt, "a store within the changelog is not wiped");
    assert_eq!(
        restored.records, 150,
        "only the records after the local position are read"
    );
    assert_eq!(
        store.stored_bytes("local-only").expect("read").as_deref(),
        Some(b"kept".as_slice())
    );
    assert_eq!(store.input_offsets().expect("offsets"), offsets(1_000));
    assert_eq!(
        store.stored_bytes("last").expect("read").as_deref(),
        Some(b"v99".as_slice())
    );
    // a restart with nothing new: the local position is exactly the end
    let (store, restored) = restore_into(&restorer, store, None);
    println!("from the end (300): {restored:?}");
    assert!(!restored.rebuilt, "a store at the end of the changelog is not wiped");
    assert_eq!(restored.records, 0);
    assert_eq!(store.changelog_next().expect("position"), Some(300));
    assert_eq!(
        store.stored_bytes("local-only").expect("read").as_deref(),
        Some(b"kept".as_slice())
    );
}

/// A store written against another changelog (the topic was deleted and recreated, or the
/// broker is new): its position is beyond the end, so it is wiped and rebuilt.
fn a_store_beyond_the_end_is_rebuilt(bootstrap: &str) {
    write_checkpoints(bootstrap, 10);
    let restorer = new_restorer(bootstrap);
    let dir = tempfile::tempdir().expect("dir");
    let store = local_store(dir.path(), 1_000, 99_999);
    let (store, restored) = restore_into(&restorer, store, None);
    println!("from 1000 with 30 records: {restored:?}");
    assert!(restored.rebuilt);
    assert_eq!(restored.records, 30);
    assert_eq!(store.stored_bytes("local-only").expect("read"), None);
    assert_eq!(store.input_offsets().expect("offsets"), offsets(100));
    assert_eq!(store.changelog_next().expect("position"), Some(30));
    assert_eq!(
        store.stored_bytes("last").expect("read").as_deref(),
        Some(b"v9".as_slice())
    );
}

#[test]
fn a_store_beyond_the_changelog_end_is_rebuilt_on_tansu_which_answers_with_silence() {
    let tansu = Tansu::start();
    tansu.create_topics(&[(CHANGELOG, 1)]);
    a_store_beyond_the_end_is_rebuilt(&tansu.bootstrap);
}

#[test]
fn a_store_beyond_the_changelog_end_is_rebuilt_on_a_broker_that_reports_out_of_range() {
    let cluster = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    cluster.create_topic(CHANGELOG, 1, 1).expect("topic");
    a_store_beyond_the_end_is_rebuilt(&cluster.bootstrap_servers());
}

/// Issue 15: a zombie's aborted transactions, each starting where the last ended, were applied
/// because they chain; the restored offsets went past the group's committed ones.
#[test]
fn exactly_once_restore_never_applies_a_chain_of_aborted_checkpoints_beyond_the_committed_offsets() {
    let tansu = Tansu::start();
    tansu.create_topics(&[(CHANGELOG, 1), ("probe", 1)]);
    let hides_aborted = aborted_messages_hidden(&tansu.bootstrap, "probe");
    println!(
        "Tansu: aborted transactional messages {} to read_committed readers",
        if hides_aborted { "hidden" } else { "VISIBLE" }
    );
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &tansu.bootstrap)
        .set("transactional.id", "changelog-writer")
        .create()
        .expect("producer");
    producer.init_transactions(Duration::from_secs(30)).expect("init");
    checkpoint_transaction(&producer, CHANGELOG, 1, &[("c1", "committed-1")], -1, 10, true);
    // a zombie's transactions, aborted: 10 → 30 → 50
    checkpoint_transaction(&producer, CHANGELOG, 2, &[("c2", "zombie-2")], 10, 30, false);
    checkpoint_transaction(&producer, CHANGELOG, 3, &[("c3", "zombie-3")], 30, 50, false);
    let restorer = new_restorer(&tansu.bootstrap);
    let restored = |committed: i64| {
        let dir = tempfile::tempdir().expect("dir");
        let store = PartitionStore::open(dir.path(), 0, 1_000).expect("store");
        let (store, _) = restore_into(&restorer, store, Some(&offsets(committed)));
        let read = |id: &str| {
            store
                .stored_bytes(id)
                .expect("read")
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        (
            store.input_offsets().expect("offsets")[INPUT],
            read("c1"),
            read("c2"),
            read("c3"),
        )
    };
    let (at, c1, c2, c3) = restored(10);
    assert_eq!(at, 10, "restored offsets never pass the committed ones");
    assert_eq!((c1.as_deref(), c2, c3), (Some("committed-1"), None, None));
    // the new owner's committed retry of the zombie's first checkpoint
    checkpoint_transaction(&producer, CHANGELOG, 4, &[("c1", "committed-2")], 10, 20, true);
    let (at, c1, c2, c3) = restored(20);
    assert_eq!(at, 20);
    assert_eq!(
        (c1.as_deref(), c2, c3),
        (Some("committed-2"), None, None),
        "nothing of the aborted checkpoints"
    );
}
