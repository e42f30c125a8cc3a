//! `features.yaml`: event types and the features computed from them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `features.yaml`: the event types a directory understands and the features computed from them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogSpec {
    /// Event types by name (the `type` field of an event). Every event carries `customer_id`
    /// (string), `type` (string) and `ts` (int, epoch milliseconds); list the other fields here.
    pub event_types: BTreeMap<String, EventTypeSpec>,
    /// Per-customer features by name, computed incrementally from events.
    pub features: BTreeMap<String, FeatureSpec>,
    /// Customers without an event for this long (event time, e.g. `400d`) leave the state, with
    /// a tombstone in the changelog, so disk stays bounded. Never, when omitted.
    #[serde(default)]
    pub expire_after: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTypeSpec {
    #[serde(default)]
    pub description: Option<String>,
    /// Field name → type. A field absent from an event reads as its type's zero value
    /// (`0`, `0.0`, `''`, `false`); `has(event.field)` tells whether it was present.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Int,
    Double,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Number of matching events (int).
    Count,
    /// Sum of a numeric `field` (double).
    Sum,
    /// Smallest value of a numeric `field` (double).
    Min,
    /// Largest value of a numeric `field` (double).
    Max,
    /// Value of `field` on the most recent matching event (by event time).
    Last,
    /// Event time of the first matching event (int, epoch ms).
    FirstTs,
    /// Event time of the most recent matching event (int, epoch ms).
    LastTs,
    /// Number of distinct values of `field`, saturating at `max_distinct` (int).
    DistinctCount,
    /// Days between the triggering event and the timestamp feature named in `of` (double).
    DaysSince,
    /// Lead-scoring points (double): each event adds the `points` of every rule it matches;
    /// the total decays with `half_life`, or counts only the `window` when one is given.
    Points,
    /// The most recent distinct values of `field` (e.g. products bought), at most
    /// `max_distinct` (default 20); reads as how many it holds (int). A recommender's history.
    Recent,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    pub kind: FeatureKind,
    #[serde(default)]
    pub description: Option<String>,
    /// Event types that update this feature; all declared types when omitted.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// CEL predicate on the event (`event.page == 'pricing'`); only events where it is true count.
    #[serde(default, rename = "where")]
    pub filter: Option<String>,
    /// Event field aggregated by `sum`, `min`, `max`, `last` and `distinct_count`.
    #[serde(default)]
    pub field: Option<String>,
    /// Sliding event-time window (`7d`, `30d`, `12h`); all time when omitted.
    #[serde(default)]
    pub window: Option<String>,
    /// Step in which the window slides; defaults to `1d`, `1h`, `1m` or `1s`, the largest that
    /// divides the window. At most 1024 steps per window.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Bound of `distinct_count` (default 64, at most 1024): memory stays bounded.
    #[serde(default)]
    pub max_distinct: Option<u32>,
    /// For `days_since`: the `first_ts` or `last_ts` feature it measures from.
    #[serde(default)]
    pub of: Option<String>,
    /// Value read while the feature has no data (default: 0, '' or false; `days_since`: 36500).
    #[serde(default)]
    pub default: Option<serde_json::Value>,
    /// For `points`: the half-life of a point (`14d`): a point earned that long ago counts 0.5.
    #[serde(default)]
    pub half_life: Option<String>,
    /// For `points`: the scoring rules; an event earns the points of every rule it matches.
    #[serde(default)]
    pub points: Option<Vec<PointsRuleSpec>>,
}

/// One lead-scoring rule: `{events: [page_view], where: "event.page == 'pricing'", points: 10}`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsRuleSpec {
    /// Event types the rule applies to; all declared types when omitted.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// CEL predicate on the event.
    #[serde(default, rename = "where")]
    pub filter: Option<String>,
    /// Points earned (negative to deduct, e.g. for an unsubscribe).
    pub points: f64,
}
