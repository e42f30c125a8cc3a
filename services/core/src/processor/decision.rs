//! The decision record: one decision explained, for the audit topic and replay's decisions file.

use super::val_to_json;
use crate::policy::{Outcome, Reason};
use crate::spec::Status;
use revenue_expr::Val;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::sync::Arc;

/// One decision, explained: what was read, the score, the tier and what the policy made of it.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// The action id the decision has (or would have had).
    pub decision_id: String,
    pub use_case_id: Arc<str>,
    pub use_case_version: u32,
    pub status: Status,
    pub customer_id: String,
    pub event_type: String,
    pub ts: i64,
    pub tier: Arc<str>,
    pub channel: Arc<str>,
    pub score: Option<f64>,
    pub expected_value: Option<f64>,
    pub outcome: Outcome,
    /// `treatment` or `control`.
    pub group: &'static str,
    /// The use case's features as read for the decision.
    pub features: Vec<(String, Val<'static>)>,
}

struct Features<'f>(&'f [(String, Val<'static>)]);

impl Serialize for Features<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, &val_to_json(value))?;
        }
        map.end()
    }
}

impl Serialize for DecisionRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("decision_id", &self.decision_id)?;
        map.serialize_entry("use_case_id", self.use_case_id.as_ref())?;
        map.serialize_entry("use_case_version", &self.use_case_version)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("customer_id", &self.customer_id)?;
        map.serialize_entry("event_type", &self.event_type)?;
        map.serialize_entry("ts", &self.ts)?;
        map.serialize_entry("tier", self.tier.as_ref())?;
        map.serialize_entry("channel", self.channel.as_ref())?;
        map.serialize_entry("score", &self.score)?;
        map.serialize_entry("expected_value", &self.expected_value)?;
        map.serialize_entry("outcome", self.outcome.as_str())?;
        map.serialize_entry("reason", &self.outcome.reason().map(Reason::as_str))?;
        if let Outcome::Deferred(until) = self.outcome {
            map.serialize_entry("deferred_until", &until)?;
        }
        map.serialize_entry("group", self.group)?;
        map.serialize_entry("features", &Features(&self.features))?;
        map.end()
    }
}
