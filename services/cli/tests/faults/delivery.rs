//! Produce failures at random, as records librdkafka refuses or cannot deliver: the
//! `produce_output` failpoint fails one action, decision record or dead letter in 50 handed to
//! the producer; `produce` fails one record in 500, changelog records included. (With about 500
//! actions and 5,000 records per run, the failpoint fires with near certainty: at 1 in 100 and 1
//! in 1,000 one run in about 150 saw no failure at all.) The checkpoint must
//! not make anything restorable past a failed record: the engine exits and resumes from its last
//! checkpoint.

use crate::suite::scenario::BrokerKind;
use crate::suite::Guarantee;
use crate::under_failpoint;

const OUTPUT: &str = "produce_output:0.02";
const ANY: &str = "produce:0.002";

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
