//! Fault suite (issue 15): `revenue-engine run` processes against Tansu and librdkafka's mock
//! cluster while faults are injected — produce failures at random, the broker unreachable for
//! 30–60 s, RocksDB write failures and a full state disk, poison inputs of every kind (one of
//! ~1 MB) mixed into the steady workload. A fault stops the engine (it exits non-zero and the
//! test restarts it, like a pod restart) or stalls it; it never skips input. Each test checks the
//! crash suite's invariants: every expected action id, nothing else, repeats byte-identical,
//! committed offsets, changelog and local state equal to a crash-free run — and every poison
//! message in the dead-letter topic, untouched.
//!
//! Each test prints its broker, fault schedule and seed (`CRASH_SEED=<seed>` repeats it), actions
//! expected / distinct / repeats and the time to recover. `FAULTS_LONG=1` runs the long
//! variants: 60 s outages and the 20k-event workload.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

// each test binary uses part of the shared helpers
#[allow(dead_code)]
mod suite;
mod faults {
    pub mod delivery;
    pub mod disk;
    pub mod outage;
    pub mod poison;
}

use revenue_testkit::{bench_lines, FeedItem};
use std::time::Duration;
use suite::scenario::{BrokerKind, Scenario};
use suite::{Guarantee, Instance};

/// `FAULTS_LONG=1`: the long variants.
fn long() -> bool {
    std::env::var("FAULTS_LONG").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The steady workload: 5k events over 500 customers (long: 20k over 2k).
fn workload() -> Vec<String> {
    if long() {
        bench_lines(20_000, 2_000)
    } else {
        bench_lines(5_000, 500)
    }
}

fn lines(lines: Vec<String>) -> Vec<FeedItem> {
    lines.into_iter().map(FeedItem::Line).collect()
}

/// One instance with `failpoint` set on every start while the feed flows at a steady pace;
/// restarted whenever the injected fault makes it exit; restarted without the failpoint once the
/// feed is done. Checks everything at the end.
fn under_failpoint(kind: BrokerKind, guarantee: Guarantee, group: &'static str, failpoint: &str) {
    let mut scenario = Scenario::start_on(kind, group, guarantee, lines(workload()));
    println!("fault schedule: REVENUE_ENGINE_FAILPOINT={failpoint} on every start of engine-0");
    let mut engine = scenario.instance("engine-0");
    engine.failpoint = Some(failpoint.to_string());
    engine.spawn();
    engine.wait_ready();
    let feeder = scenario.feed(500);
    keep_alive_while(&feeder, &mut [&mut engine]);
    scenario.say("feed done: the fault window closes");
    engine.restart_without_failpoint();
    scenario.finish(feeder, &mut [&mut engine], &[]);
    assert!(
        engine.log().contains("failpoint: injecting a failure"),
        "the failpoint fired at least once"
    );
}

/// Restarts instances that exit (and notes when they are ready again) while the feed flows.
fn keep_alive_while(feeder: &suite::scenario::Feeder, instances: &mut [&mut Instance]) {
    while feeder.running() {
        for instance in instances.iter_mut() {
            instance.ready();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
