//! The checks every run ends with: everything committed, every expected action and nothing else
//! (repeats byte-identical), state agreeing with a crash-free run, every poison message
//! dead-lettered.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use super::{Guarantee, Instance};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use revenue_engine::changelog::RestoreContext;
use revenue_engine::store::PartitionStore;
use revenue_testkit::{
    decode_action, murmur2_partition, read_all, repo, FeedItem, OfflineRun, ACTION_TOPICS, DEAD_LETTERS, INPUT,
    PARTITIONS,
};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

pub fn committed_offsets(bootstrap: &str, group: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(INPUT, p);
    }
    match consumer.committed_offsets(tpl, Duration::from_secs(10)) {
        Ok(committed) => committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// Waits until the group has committed every input event (high watermarks under-report on
/// Tansu, so the produced counts decide), reviving instances that exited by themselves.
pub fn wait_all_committed(bootstrap: &str, group: &str, offline: &OfflineRun, instances: &mut [&mut Instance]) {
    let started = Instant::now();
    loop {
        if committed_offsets(bootstrap, group) == offline.end_offsets {
            return;
        }
        for instance in instances.iter_mut() {
            if instance.child.is_some() {
                instance.ready();
            }
        }
        if started.elapsed() > Duration::from_secs(180) {
            let logs: Vec<String> = instances
                .iter()
                .map(|i| format!("--- {}\n{}", i.name, i.log_tail()))
                .collect();
            panic!(
                "not everything committed in 180 s: {:?} of {:?}\n{}",
                committed_offsets(bootstrap, group),
                offline.end_offsets,
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every expected action arrived, nothing else did, and every repeated `action_id` is
/// byte-identical to its first copy. Returns how many copies were repeats.
pub fn check_actions(bootstrap: &str, offline: &OfflineRun) -> usize {
    let expected = offline.action_ids.len();
    let received = read_all(bootstrap, &ACTION_TOPICS, expected);
    let mut first: HashMap<String, &[u8]> = HashMap::new();
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut repeats = 0;
    for message in &received {
        let action = decode_action(&message.payload);
        let id = action["action_id"].as_str().expect("action id").to_string();
        assert!(
            offline.action_ids.contains(&id),
            "an action no crash-free run produces: {action}"
        );
        match first.get(&id) {
            Some(bytes) => {
                assert_eq!(
                    *bytes,
                    message.payload.as_slice(),
                    "repeat of {id} differs from its first copy"
                );
                repeats += 1;
            }
            None => {
                *by_type
                    .entry(action["action_type"].as_str().unwrap_or("").into())
                    .or_default() += 1;
                first.insert(id, &message.payload);
            }
        }
    }
    assert_eq!(
        first.len(),
        expected,
        "every expected action id arrived ({} missing)",
        expected.saturating_sub(first.len())
    );
    assert_eq!(by_type, offline.action_types, "distinct actions per type");
    println!(
        "actions: {expected} expected, {} copies read (read_committed), {} distinct ids, {repeats} repeats (all byte-identical); per type {by_type:?}",
        received.len(),
        first.len()
    );
    repeats
}

/// Every poison message of `feed` is in the dead-letter topic, untouched (key, payload, a
/// tombstone still without a value; one too big for the dead-letter headers cut to fit and
/// marked `payload_truncated`, `original_size`), with the headers naming where it came from —
/// and nothing else is. Repeats (at-least-once, or aborted copies a broker shows) are counted by distinct
/// source offsets and must be identical. Returns the number of copies read.
pub fn check_dead_letters(bootstrap: &str, feed: &[FeedItem], offline: &OfflineRun) -> usize {
    let poison: Vec<_> = feed
        .iter()
        .filter_map(|item| match item {
            FeedItem::Poison(p) => Some(p),
            FeedItem::Line(_) => None,
        })
        .collect();
    let expected: HashMap<(i32, i64), _> = offline
        .poison_offsets
        .iter()
        .copied()
        .zip(poison.iter().copied())
        .collect();
    assert_eq!(expected.len(), poison.len());
    let letters = read_all(bootstrap, &[DEAD_LETTERS], poison.len());
    let mut seen: HashMap<(i32, i64), usize> = HashMap::new();
    let mut reasons: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut truncated = 0;
    for letter in &letters {
        assert_eq!(letter.headers["source_topic"], INPUT);
        let at: (i32, i64) = (
            letter.headers["source_partition"].parse().expect("source_partition"),
            letter.headers["source_offset"].parse().expect("source_offset"),
        );
        let bad = expected
            .get(&at)
            .unwrap_or_else(|| panic!("dead letter of {at:?} is no poison message: {:?}", letter.headers));
        assert_eq!(
            letter.key.as_deref(),
            bad.key.as_deref().map(str::as_bytes),
            "{}: key",
            bad.kind
        );
        assert_eq!(letter.tombstone, bad.payload.is_none(), "{}: tombstone", bad.kind);
        let original = bad.payload.as_deref().unwrap_or_default();
        if letter.headers.get("payload_truncated").is_some_and(|t| t == "true") {
            // too big for a message with the dead-letter headers: cut to fit, its size named
            assert_eq!(
                letter.headers["original_size"],
                original.len().to_string(),
                "{}",
                bad.kind
            );
            assert!(
                letter.payload.len() < original.len() && original.starts_with(&letter.payload),
                "{}: a truncated dead letter is a prefix of the original",
                bad.kind
            );
            truncated += 1;
        } else {
            assert_eq!(letter.payload.as_slice(), original, "{}: payload untouched", bad.kind);
        }
        assert!(!letter.headers["error"].is_empty());
        let reason = letter.headers["reason"].as_str();
        match bad.kind {
            "ts_max" | "ts_negative" => assert_eq!(reason, "timestamp_out_of_range", "{}", bad.kind),
            "oversized_1mb" => assert_eq!(reason, "invalid_json", "{}", bad.kind),
            "tombstone" => assert!(!reason.is_empty()),
            kind => assert_eq!(reason, kind),
        }
        let copies = seen.entry(at).or_default();
        if *copies == 0 {
            *reasons.entry((letter.headers["reason"].clone(), bad.kind)).or_default() += 1;
        }
        *copies += 1;
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|(at, _)| !seen.contains_key(at))
        .map(|(at, p)| format!("{} at {at:?}", p.kind))
        .collect();
    assert!(missing.is_empty(), "poison not dead-lettered: {missing:?}");
    println!(
        "dead letters: {} poison messages expected, {} copies read, {} distinct source offsets ({truncated} copies cut to fit); reason × kind {reasons:?}",
        poison.len(),
        letters.len(),
        seen.len()
    );
    letters.len()
}

/// Every customer of `partition` in `store` equals the crash-free run's state.
pub fn check_store(store: &mut PartitionStore, partition: i32, offline: &OfflineRun, context: &str) -> usize {
    let set = revenue_usecases::load_dir(&repo().join("usecases/benchmark")).expect("use cases");
    let mut compared = 0;
    for (customer, expected) in &offline.states {
        if murmur2_partition(customer.as_bytes(), PARTITIONS) != partition {
            continue;
        }
        let stored = store.customer(&set.catalog, customer).expect("read state");
        assert_eq!(
            &*stored, expected,
            "{context}: state of {customer} in partition {partition}"
        );
        compared += 1;
    }
    compared
}

/// Committed offsets, changelog and local state agree, and equal the crash-free run: the
/// changelog restored into an empty directory, and the last owner's local store of every
/// partition (the one whose stored offsets are the committed ones).
pub fn check_state(bootstrap: &str, group: &str, guarantee: Guarantee, offline: &OfflineRun, instances: &[&Instance]) {
    let committed = committed_offsets(bootstrap, group);
    assert_eq!(committed, offline.end_offsets, "committed input offsets");
    let restorer: BaseConsumer<RestoreContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "crash-check")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "20")
        .create_with_context(RestoreContext)
        .expect("restorer");
    let fresh = tempfile::tempdir().expect("dir");
    let changelog = format!("{group}.state-changelog");
    let set = revenue_usecases::load_dir(&repo().join("usecases/benchmark")).expect("use cases");
    let mut customers = 0;
    for partition in 0..PARTITIONS {
        let next = BTreeMap::from([(INPUT.to_string(), committed[&partition])]);
        let store = PartitionStore::open(fresh.path(), partition, 100_000).expect("store");
        let bound = (guarantee == Guarantee::ExactlyOnce).then_some(&next);
        let (mut store, _) =
            revenue_engine::changelog::restore(&restorer, &set.catalog, &changelog, partition, store, bound, |_| {})
                .expect("restore");
        assert_eq!(
            store.input_offsets().expect("offsets"),
            next,
            "changelog offsets, partition {partition}"
        );
        customers += check_store(&mut store, partition, offline, "changelog");
    }
    assert_eq!(customers, offline.states.len());
    let mut local = 0;
    for partition in 0..PARTITIONS {
        let next = BTreeMap::from([(INPUT.to_string(), committed[&partition])]);
        for instance in instances {
            let dir = instance.state_dir();
            if !revenue_engine::store::store_path(&dir, partition).exists() {
                continue;
            }
            let mut store = PartitionStore::open(&dir, partition, 100_000).expect("store");
            let stored = store.input_offsets().expect("offsets");
            if stored == next {
                check_store(
                    &mut store,
                    partition,
                    offline,
                    &format!("local store of {}", instance.name),
                );
                local += 1;
            }
        }
    }
    assert!(
        local >= PARTITIONS as usize,
        "every partition's last owner holds the final state locally"
    );
    println!(
        "state: {customers} customers restored from the changelog and {local} local partition stores equal the crash-free run; committed offsets = input ends"
    );
}
