//! A timer sweep that expires most of a partition's customers at once is reported (WARN and
//! `revenue_engine_state_mass_expiries_total`); routine expiry of a few is not. On librdkafka's
//! mock cluster with real RocksDB.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{benchmark_cluster, benchmark_use_cases_edited, config, launch, line};
use revenue_testkit::{murmur2_partition, produce_lines, wait_for, PARTITIONS};
use std::sync::atomic::Ordering;
use std::time::Duration;

const DAY: i64 = 86_400_000;
/// 2023-11-14, well within any wall-clock bound.
const T0: i64 = 1_700_000_000_000;

#[test]
fn a_sweep_that_expires_most_of_a_partition_is_reported_and_routine_expiry_is_not() {
    let cluster = benchmark_cluster(&["expiry"]);
    let bootstrap = cluster.bootstrap_servers();
    let state = tempfile::tempdir().expect("state dir");
    let use_cases = benchmark_use_cases_edited(|name, text| match name {
        "features.yaml" => format!("expire_after: 30d\n{text}"),
        _ => text,
    });
    let mut config = config(&bootstrap, state.path(), "expiry");
    config.use_cases.dir = use_cases.path().to_path_buf();
    let engine = launch(config);
    wait_for("group join", Duration::from_secs(30), || {
        engine.status.joined.load(Ordering::Relaxed)
    });
    // customers of one partition: its clock is the latest event time any of them brought
    let keys: Vec<String> = (0..)
        .map(|i| format!("c-{i}"))
        .filter(|k| murmur2_partition(k.as_bytes(), PARTITIONS) == 0)
        .take(14)
        .collect();
    let metrics = engine.metrics.clone();
    let mass = || metrics.state_mass_expiries.get();
    let consumed = |n: u64| {
        wait_for("events consumed and checkpointed", Duration::from_secs(60), || {
            engine.status.events_in.load(Ordering::Relaxed) >= n
        });
        // a checkpoint writes the due-time index, the sweep after the next one reads it
        std::thread::sleep(Duration::from_millis(1_000));
    };
    // one customer at T0, twelve twenty days later
    produce_lines(&bootstrap, &[line(&keys[0], "page_view", T0)]);
    consumed(1);
    let later: Vec<String> = keys[1..13]
        .iter()
        .map(|k| line(k, "page_view", T0 + 20 * DAY))
        .collect();
    produce_lines(&bootstrap, &later);
    consumed(13);
    // T0 + 31 days: the first customer expires alone, 1 of 13 — routine
    produce_lines(&bootstrap, &[line(&keys[13], "page_view", T0 + 31 * DAY)]);
    consumed(14);
    assert_eq!(metrics.state_expired.get(), 1, "the idle customer expired");
    assert_eq!(mass(), 0, "one expiry of thirteen customers is routine");
    // T0 + 51 days: twelve of thirteen expire in one sweep
    produce_lines(&bootstrap, &[line(&keys[13], "page_view", T0 + 51 * DAY)]);
    consumed(15);
    engine.stop();
    engine.join().expect("stops cleanly");
    assert_eq!(metrics.state_expired.get(), 13);
    assert_eq!(mass(), 1, "twelve of thirteen customers in one sweep is reported once");
}
