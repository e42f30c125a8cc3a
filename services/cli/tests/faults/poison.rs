//! Poison inputs of every kind (invalid JSON, a wrong field type, no type, no timestamp, `ts` at
//! i64::MAX and negative, an unknown schema id, a tombstone, no customer id, ~1 MB of invalid
//! JSON) mixed into the steady workload: the actions are the workload's without them, and each
//! is in the dead-letter topic, untouched.

use crate::suite::scenario::{BrokerKind, Scenario};
use crate::suite::Guarantee;
use crate::workload;
use revenue_testkit::poison_feed;

fn poison(kind: BrokerKind, guarantee: Guarantee, group: &'static str) {
    let feed = poison_feed(workload(), 3, 1);
    let mut scenario = Scenario::start_on(kind, group, guarantee, feed);
    println!("fault schedule: 3 rounds of every bad-event kind, one ~1 MB, spread evenly through the feed");
    let mut engine = scenario.instance("engine-0");
    engine.spawn();
    engine.wait_ready();
    let feeder = scenario.feed(500);
    crate::keep_alive_while(&feeder, &mut [&mut engine]);
    scenario.finish(feeder, &mut [&mut engine], &[]);
}

#[test]
fn poison_inputs_at_least_once_on_tansu() {
    poison(BrokerKind::Tansu, Guarantee::AtLeastOnce, "fault-poison-alo");
}

#[test]
fn poison_inputs_exactly_once_on_tansu() {
    poison(BrokerKind::Tansu, Guarantee::ExactlyOnce, "fault-poison-eos");
}

#[test]
fn poison_inputs_at_least_once_on_the_mock_cluster() {
    poison(BrokerKind::Mock, Guarantee::AtLeastOnce, "fault-poison-mock");
}
