//! The broker unreachable for 30 s (`FAULTS_LONG=1`: 60 s) mid-run: Tansu behind a TCP proxy
//! that closes every connection and refuses new ones (cut) or lets nothing through (blackhole);
//! the mock cluster's broker down. The feed pauses during the outage (the test's producer goes
//! through the proxy too) and resumes after it.

use crate::suite::scenario::{BrokerKind, Scenario};
use crate::suite::Guarantee;
use crate::{lines, long, workload};
use revenue_testkit::Outage;
use std::time::{Duration, Instant};

fn outage(kind: BrokerKind, guarantee: Guarantee, group: &'static str, how: Outage) {
    let mut scenario = Scenario::start_on(kind, group, guarantee, lines(workload()));
    let length = Duration::from_secs(if long() { 60 } else { 30 });
    let mut engine = scenario.instance("engine-0");
    engine.spawn();
    engine.wait_ready();
    let feeder = scenario.feed(500);
    std::thread::sleep(scenario.dice.millis(2_000, 5_000));
    assert!(feeder.pause(), "the feed outlasts the moment of the outage");
    let before = scenario.committed_total();
    scenario.say(&format!(
        "fault schedule: feed paused ({before} offsets committed); broker unreachable ({how:?}) for {} s",
        length.as_secs()
    ));
    scenario.broker.fail(how);
    let cut = Instant::now();
    while cut.elapsed() < length {
        engine.revive_if_exited(); // a pod restarted while the broker is away
        std::thread::sleep(Duration::from_millis(250));
    }
    scenario.broker.restore();
    let restored = Instant::now();
    scenario.say(&format!(
        "broker reachable again; engine exited {} time(s) during the outage; feed resumed",
        engine.exits
    ));
    feeder.resume();
    while scenario.committed_total() <= before {
        engine.ready();
        assert!(
            restored.elapsed() < Duration::from_secs(180),
            "no progress 180 s after the outage\n{}",
            engine.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    scenario.say(&format!(
        "recovered: committed offsets moving again {:.1} s after the broker came back",
        restored.elapsed().as_secs_f64()
    ));
    // an outage is waited out: a connection error still queued after it is no reason to exit
    assert_eq!(
        engine.exits,
        0,
        "the engine exited around the outage\n{}",
        engine.log_tail()
    );
    scenario.finish(feeder, &mut [&mut engine], &[]);
}

#[test]
fn broker_unreachable_at_least_once_on_tansu() {
    outage(
        BrokerKind::TansuProxied,
        Guarantee::AtLeastOnce,
        "fault-outage-alo",
        Outage::Cut,
    );
}

#[test]
fn broker_unreachable_exactly_once_on_tansu() {
    outage(
        BrokerKind::TansuProxied,
        Guarantee::ExactlyOnce,
        "fault-outage-eos",
        Outage::Blackhole,
    );
}

#[test]
fn broker_down_at_least_once_on_the_mock_cluster() {
    outage(
        BrokerKind::Mock,
        Guarantee::AtLeastOnce,
        "fault-outage-mock",
        Outage::Cut,
    );
}
