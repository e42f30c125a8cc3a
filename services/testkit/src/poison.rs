//! Poison inputs: every kind of bad event the engine must dead-letter (README, "Bad events"),
//! mixed into a workload. Each takes an offset in its partition and changes no state, so the
//! expected actions are the workload's without them (see [`crate::offline_run_feed`]).

use crate::{customer_of, murmur2_partition, PARTITIONS};

/// One message to produce to the input topic: a workload line (keyed by its customer) or poison.
#[derive(Clone, Debug)]
pub enum FeedItem {
    Line(String),
    Poison(Poison),
}

/// A bad input message, produced to an explicit partition (a message without a key has none).
#[derive(Clone, Debug)]
pub struct Poison {
    /// What is wrong with it (for the test's report).
    pub kind: &'static str,
    pub key: Option<String>,
    /// `None`: a tombstone.
    pub payload: Option<Vec<u8>>,
    pub partition: i32,
}

/// Size of the oversized poison's payload: with its key it fits librdkafka's and Kafka's default
/// `message.max.bytes` (1,000,000), with the dead-letter headers (`reason`, `error`, source
/// topic, partition and offset: ~150 bytes) its dead-letter copy does not.
pub const BIG_PAYLOAD: usize = 999_950;

/// A bad event's kind, key (none: no customer id) and payload (none: a tombstone).
type BadEvent<'a> = (&'static str, Option<&'a str>, Option<Vec<u8>>);

fn bad_events(customer: &str, big: bool) -> Vec<BadEvent<'_>> {
    let c = customer;
    let text = |s: String| Some(s.into_bytes());
    let mut out = vec![
        (
            "invalid_json",
            Some(c),
            text(format!("{{\"customer_id\":\"{c}\",\"type\":")),
        ),
        (
            "wrong_field_type",
            Some(c),
            text(format!(
                r#"{{"customer_id":"{c}","type":"page_view","ts":5,"amount":"lots"}}"#
            )),
        ),
        (
            "missing_type",
            Some(c),
            text(format!(r#"{{"customer_id":"{c}","ts":6}}"#)),
        ),
        (
            "missing_timestamp",
            Some(c),
            text(format!(r#"{{"customer_id":"{c}","type":"page_view"}}"#)),
        ),
        (
            "ts_max",
            Some(c),
            text(format!(
                r#"{{"customer_id":"{c}","type":"page_view","ts":9223372036854775807}}"#
            )),
        ),
        (
            "ts_negative",
            Some(c),
            text(format!(r#"{{"customer_id":"{c}","type":"page_view","ts":-5}}"#)),
        ),
        // Confluent framing with a schema id nobody registered
        (
            "unknown_schema_id",
            Some(c),
            Some(b"\x00\x00\x00\x03\xe7\x02abc".to_vec()),
        ),
        ("tombstone", Some(c), None),
        (
            "missing_customer_id",
            None,
            text(r#"{"type":"page_view","ts":7}"#.to_string()),
        ),
    ];
    if big {
        let mut payload = format!("{{\"customer_id\":\"{c}\",\"type\":\"page_view\",\"pad\":\"").into_bytes();
        payload.resize(BIG_PAYLOAD, b'x'); // never closed: invalid JSON
        out.push(("oversized_1mb", Some(c), Some(payload)));
    }
    out
}

/// `lines` with `rounds` rounds of every kind of bad event spread evenly through them (keyed by
/// the customer of the line they follow; the one without a key to partition `round % 8`);
/// the first `big` rounds add a ~1 MB one.
pub fn poison_feed(lines: Vec<String>, rounds: usize, big: usize) -> Vec<FeedItem> {
    let kinds = |round: usize| bad_events("", round < big).len();
    let total: usize = (0..rounds).map(kinds).sum();
    let mut slots = (0..rounds).flat_map(|round| (0..kinds(round)).map(move |kind| (round, kind)));
    let every = (lines.len() / (total + 1)).max(1);
    let mut feed = Vec::with_capacity(lines.len() + total);
    for (i, line) in lines.into_iter().enumerate() {
        let customer = customer_of(&line);
        feed.push(FeedItem::Line(line));
        if (i + 1) % every != 0 {
            continue;
        }
        let Some((round, kind)) = slots.next() else { continue };
        let (kind, key, payload) = bad_events(&customer, round < big).swap_remove(kind);
        let key = key.map(str::to_string);
        let partition = match &key {
            Some(k) => murmur2_partition(k.as_bytes(), PARTITIONS),
            None => (round as i32) % PARTITIONS,
        };
        feed.push(FeedItem::Poison(Poison {
            kind,
            key,
            payload,
            partition,
        }));
    }
    assert!(slots.next().is_none(), "every poison message placed");
    feed
}
