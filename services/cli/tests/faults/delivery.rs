//! Produce failures at random: the `produce` failpoint fails one record in ~1,000 handed to the
//! producer (actions, dead letters, changelog records), as a record librdkafka refuses or cannot
//! deliver. The checkpoint must not commit past it: the engine exits and resumes from its last
//! checkpoint.

use crate::suite::scenario::BrokerKind;
use crate::suite::Guarantee;
use crate::under_failpoint;

const PRODUCE: &str = "produce:0.001";

#[test]
fn produce_failures_at_least_once_on_tansu() {
    under_failpoint(BrokerKind::Tansu, Guarantee::AtLeastOnce, "fault-produce-alo", PRODUCE);
}

#[test]
fn produce_failures_exactly_once_on_tansu() {
    under_failpoint(BrokerKind::Tansu, Guarantee::ExactlyOnce, "fault-produce-eos", PRODUCE);
}

#[test]
fn produce_failures_at_least_once_on_the_mock_cluster() {
    under_failpoint(BrokerKind::Mock, Guarantee::AtLeastOnce, "fault-produce-mock", PRODUCE);
}
