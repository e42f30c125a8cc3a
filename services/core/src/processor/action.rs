//! The action: one decision to act, as the engine produces it and replay writes it (JSON), and
//! its deterministic id.

use super::Source;
use crate::spec::Status;
use revenue_expr::Val;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::sync::Arc;

/// One decision to act.
#[derive(Debug, Clone)]
pub struct Action {
    /// Deterministic: the same event and use case version always give the same id.
    pub action_id: String,
    pub use_case_id: Arc<str>,
    pub use_case_version: u32,
    pub status: Status,
    pub tier: Arc<str>,
    pub action_type: Arc<str>,
    pub channel: Arc<str>,
    pub topic: Arc<str>,
    pub customer_id: String,
    pub event_type: String,
    pub event_ts: i64,
    pub score: Option<f64>,
    pub payload: Vec<(Arc<str>, Val<'static>)>,
    /// Recommended products with their scores, best first (use cases with a recommender).
    pub recommendations: Vec<(String, f64)>,
    /// When a deferred action was decided (it is sent, as decided, when quiet hours end);
    /// `None` for an action sent when decided.
    pub decided_at: Option<i64>,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

impl Action {
    /// Whether the action goes to its topic (only `live` use cases act).
    pub fn emits(&self) -> bool {
        self.status == Status::Live
    }
}

/// 128-bit hash of use case id, version, customer and source position, as 32 hex digits;
/// `discriminator` tells apart several actions of one use case on one event (funnel stages).
pub fn action_id(
    use_case_id: &str,
    version: u32,
    customer_id: &str,
    source: Source<'_>,
    discriminator: &str,
) -> String {
    let mut key = Vec::with_capacity(use_case_id.len() + customer_id.len() + source.topic.len() + 24);
    for part in [use_case_id.as_bytes(), customer_id.as_bytes(), source.topic.as_bytes()] {
        key.extend_from_slice(part);
        key.push(0);
    }
    if !discriminator.is_empty() {
        key.extend_from_slice(discriminator.as_bytes());
        key.push(0);
    }
    key.extend_from_slice(&version.to_le_bytes());
    key.extend_from_slice(&source.partition.to_le_bytes());
    key.extend_from_slice(&source.offset.to_le_bytes());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key))
}

/// A CEL value as JSON (a non-finite double as `null`).
pub fn val_to_json(value: &Val<'_>) -> serde_json::Value {
    match value {
        Val::Bool(b) => serde_json::Value::Bool(*b),
        Val::Int(i) => serde_json::Value::from(*i),
        Val::Double(d) => serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Val::Str(s) => serde_json::Value::String(s.to_string()),
    }
}

#[derive(Serialize)]
struct SourceJson<'s> {
    topic: &'s str,
    partition: i32,
    offset: i64,
}

struct Payload<'p>(&'p [(Arc<str>, Val<'static>)]);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name.as_ref(), &val_to_json(value))?;
        }
        map.end()
    }
}

struct Recommendations<'r>(&'r [(String, f64)]);

impl Serialize for Recommendations<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (product, score) in self.0 {
            seq.serialize_element(&RecommendationJson { product, score: *score })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct RecommendationJson<'p> {
    product: &'p str,
    score: f64,
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("action_id", &self.action_id)?;
        map.serialize_entry("use_case_id", self.use_case_id.as_ref())?;
        map.serialize_entry("use_case_version", &self.use_case_version)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("tier", self.tier.as_ref())?;
        map.serialize_entry("action_type", self.action_type.as_ref())?;
        map.serialize_entry("channel", self.channel.as_ref())?;
        map.serialize_entry("topic", self.topic.as_ref())?;
        map.serialize_entry("customer_id", &self.customer_id)?;
        map.serialize_entry("event_type", &self.event_type)?;
        map.serialize_entry("event_ts", &self.event_ts)?;
        if let Some(decided_at) = self.decided_at {
            map.serialize_entry("decided_at", &decided_at)?;
        }
        map.serialize_entry("score", &self.score)?;
        map.serialize_entry("payload", &Payload(&self.payload))?;
        if !self.recommendations.is_empty() {
            map.serialize_entry("recommendations", &Recommendations(&self.recommendations))?;
        }
        map.serialize_entry(
            "source",
            &SourceJson {
                topic: &self.source_topic,
                partition: self.source_partition,
                offset: self.source_offset,
            },
        )?;
        map.end()
    }
}
