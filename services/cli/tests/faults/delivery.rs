//! Produce failures at random, as records librdkafka refuses or cannot deliver: the
//! `produce_output` failpoint fails one action, decision record or dead letter in 100 handed
//! to the producer; `produce` fails any record, changelog records included. The checkpoint must
//! not make anything restorable past a failed record: the engine exits and resumes from its last
//! checkpoint.

use crate::suite::scenario::BrokerKind;
use crate::suite::Guarantee;
use crate::under_failpoint;

const OUTPUT: &str = "produce_output:0.01";
const ANY: &str = "produce:0.001";

#[test]
fn output_produce_failures_at_least_once_on_tansu() {
    under_failpoint(BrokerKind::Tansu, Guarantee::AtLeastOnce, "fault-output-alo", OUTPUT);
}

#[test]
fn output_produce_failures_exactly_once_on_tansu() {
    under_failpoint(BrokerKind::Tansu, Guarantee::ExactlyOnce, "fault-output-eos", OUTPUT);
}

#[test]
fn output_produce_failures_at_least_once_on_the_mock_cluster() {
    under_failpoint(BrokerKind::Mock, Guarantee::AtLeastOnce, "fault-output-mock", OUTPUT);
}

#[test]
fn produce_failures_with_changelog_records_at_least_once_on_tansu() {
    under_failpoint(BrokerKind::Tansu, Guarantee::AtLeastOnce, "fault-produce-alo", ANY);
}

#[test]
fn produce_failures_with_changelog_records_exactly_once_on_tansu() {
    under_failpoint(BrokerKind::Tansu, Guarantee::ExactlyOnce, "fault-produce-eos", ANY);
}
