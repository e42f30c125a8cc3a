//! The files users write, as parsed from YAML: the feature catalog (`features.yaml`) and one
//! file per use case. Unknown keys are refused; the JSON Schemas under `schemas/` are generated
//! from these types (`revenue-engine schema`), so editors check files as they are typed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The JSON Schemas of the two file kinds, as (file name, pretty JSON), generated from the types
/// the loader parses so they cannot drift; `schemas/` holds the committed copies.
pub fn json_schemas() -> Vec<(&'static str, String)> {
    let render = |schema: schemars::Schema| serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
    vec![
        ("usecase.schema.json", render(schemars::schema_for!(UseCaseSpec))),
        ("features.schema.json", render(schemars::schema_for!(CatalogSpec))),
        ("policy.schema.json", render(schemars::schema_for!(PolicySpec))),
    ]
}

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

/// One use case: Data > Algo > Action.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UseCaseSpec {
    /// Stable identifier, lowercase letters, digits and `-` (e.g. `telecom-cross-sell`).
    pub id: String,
    /// Increased on every approved change; part of every action id.
    pub version: u32,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Team or person accountable for the use case.
    pub owner: String,
    pub status: Status,
    /// Higher wins when use cases compete for a customer (0–1000).
    #[serde(default)]
    pub priority: u32,
    pub value_driver: ValueDriver,
    /// Channels this use case may act in; every tier's channel must be listed.
    pub channels: Vec<String>,
    /// Free labels, e.g. `region: DACH`, `business_unit: telecom`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub data: DataSpec,
    pub algo: AlgoSpec,
    pub action: ActionSpec,
    /// Control group: a share of customers that never get this use case's actions, so its
    /// effect can be measured. Defaults to `policy.yaml`'s `holdout.share` (none without it).
    #[serde(default)]
    pub holdout: Option<HoldoutSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldoutSpec {
    /// Share of customers in the control group, 0 to 0.5 (e.g. `0.1`).
    pub share: f64,
    /// Assignment is a hash of this salt and the customer id: stable across restarts and
    /// versions; a new salt draws a new control group. Defaults to the use case id.
    #[serde(default)]
    pub salt: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Validated, never evaluated by the engine (replay evaluates it).
    Draft,
    /// Evaluated and counted; emits nothing to action topics.
    Shadow,
    /// Evaluated; actions are emitted.
    Live,
    /// Kept for the record; never evaluated.
    Retired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Shadow => "shadow",
            Status::Live => "live",
            Status::Retired => "retired",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ValueDriver {
    TopLine,
    BottomLine,
    Strategic,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Event types that trigger an evaluation (may be empty when a `timer` triggers it).
    #[serde(default)]
    pub triggers: Vec<String>,
    /// Features of the catalog this use case reads; expressions may use only these.
    pub features: Vec<String>,
    /// A per-customer timer that triggers an evaluation when it comes due, e.g. "60 days
    /// after the last purchase" or "7 days after a warm-up e-mail unless clicked".
    #[serde(default)]
    pub timer: Option<TimerSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerSpec {
    /// Time from the starting event (its event time) to when the timer is due (`60d`).
    pub after: String,
    /// Event types that start the timer; a later one restarts it.
    #[serde(default)]
    pub start_on: Vec<String>,
    /// Actions that start the timer: `use-case-id` (any tier) or `use-case-id/tier`.
    #[serde(default)]
    pub start_on_actions: Vec<String>,
    /// Event types that cancel a running timer.
    #[serde(default)]
    pub cancel_on: Vec<String>,
    /// What the due time is compared with: the input's event time (default; deterministic,
    /// identical in replay) or the system clock (fires without new input; replay uses event time).
    #[serde(default)]
    pub clock: TimerClock,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimerClock {
    #[default]
    EventTime,
    WallClock,
}

/// The decision logic: a boolean `rule` gate, a numeric `score`, or both.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlgoSpec {
    /// CEL condition; when false, no tier is tried.
    #[serde(default)]
    pub rule: Option<String>,
    /// CEL number; available to tiers and payloads as `score`.
    #[serde(default)]
    pub score: Option<String>,
    /// A propensity model whose output is the `score` (instead of a `score` expression).
    #[serde(default)]
    pub model: Option<ModelSpec>,
    /// Product recommendations: the action carries the top products with their scores; the
    /// best product's score is the `score` unless `score` or `model` gives one.
    #[serde(default)]
    pub recommender: Option<RecommenderSpec>,
    /// Funnel stages as thresholds on the score (MQL, SAL, SQL): a lead moves up, never down, and
    /// every stage reached is emitted as a `stage_change` action to `topic`.
    #[serde(default)]
    pub funnel: Option<FunnelSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelType {
    /// `score = 1 / (1 + exp(-(intercept + Σ coefficient × feature)))`.
    Logistic,
    /// `score = intercept + Σ coefficient × feature`.
    Linear,
    /// An ONNX file in the use-case directory (scikit-learn, LightGBM, XGBoost exports).
    Onnx,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    #[serde(rename = "type")]
    pub model_type: ModelType,
    /// `logistic` / `linear`: the intercept.
    #[serde(default)]
    pub intercept: Option<f64>,
    /// `logistic` / `linear`: coefficient per feature (features of `data.features`).
    #[serde(default)]
    pub coefficients: BTreeMap<String, f64>,
    /// `onnx`: path of the model file, relative to the use-case directory (`models/x.onnx`).
    #[serde(default)]
    pub file: Option<String>,
    /// `onnx`: SHA-256 of the file (hex, as `sha256sum` prints it); a different file is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// `onnx`: one feature per model input column, in the model's column order.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// `onnx` classifiers: the class whose probability is the score (default 1, "buys").
    #[serde(default)]
    pub class: Option<usize>,
    /// `onnx`: `probability` (classifiers, default) or `value` (regressors).
    #[serde(default)]
    pub output: Option<ModelOutput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelOutput {
    Probability,
    Value,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommenderSpec {
    /// Artifact written by `revenue-engine train-recommender`, relative to the directory.
    pub file: String,
    /// SHA-256 of the artifact (hex); a different file is refused.
    pub sha256: String,
    /// `recent` feature of products the customer bought: history (weight 1) and never recommended.
    pub purchased: String,
    /// `recent` feature of products the customer viewed: history with `view_weight`.
    #[serde(default)]
    pub viewed: Option<String>,
    /// Weight of a viewed product in the history (default 0.5).
    #[serde(default)]
    pub view_weight: Option<f64>,
    /// Products per action (default 5, at most 50).
    #[serde(default)]
    pub top_k: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FunnelSpec {
    /// Topic of the `stage_change` actions.
    pub topic: String,
    /// Stages in ascending order of `min_score`.
    pub stages: Vec<StageSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub name: String,
    /// The stage is reached when the score is at least this.
    pub min_score: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Default re-trigger policy of the tiers.
    #[serde(default)]
    pub retrigger: Option<RetriggerSpec>,
    /// Tried in order; the first tier whose condition holds and whose re-trigger policy allows
    /// it acts. At most one action per use case and event.
    pub tiers: Vec<TierSpec>,
    /// CEL number over features and `score`: what one action is expected to earn (e.g.
    /// `score * 1200.0`). Arbitration compares it when `policy.yaml` says `by: expected_value`.
    #[serde(default)]
    pub expected_value: Option<String>,
}

/// `once` (per customer and tier), `always`, or `{cooldown: 14d}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum RetriggerSpec {
    Once,
    Always,
    Cooldown(String),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    pub name: String,
    /// CEL condition on features, `event` and `score`.
    #[serde(default)]
    pub when: Option<String>,
    /// Tier applies when `score >= min_score` …
    #[serde(default)]
    pub min_score: Option<f64>,
    /// … and `score < max_score`.
    #[serde(default)]
    pub max_score: Option<f64>,
    #[serde(default)]
    pub retrigger: Option<RetriggerSpec>,
    #[serde(rename = "type")]
    pub action_type: ActionType,
    /// Channel; defaults from the action type (email, crm, telemarketing, web).
    #[serde(default)]
    pub channel: Option<String>,
    /// Kafka topic the action is produced to.
    pub topic: String,
    /// Payload field → CEL expression over features, `event` and `score`.
    #[serde(default)]
    pub payload: BTreeMap<String, String>,
}

/// A standard action type, or `{custom: name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionType {
    Email,
    CrmTask,
    TelemarketingHandoff,
    WarmupCampaign,
    WebRecommendation,
    Custom(String),
}

impl ActionType {
    pub fn name(&self) -> &str {
        match self {
            ActionType::Email => "email",
            ActionType::CrmTask => "crm_task",
            ActionType::TelemarketingHandoff => "telemarketing_handoff",
            ActionType::WarmupCampaign => "warmup_campaign",
            ActionType::WebRecommendation => "web_recommendation",
            ActionType::Custom(name) => name,
        }
    }

    pub fn default_channel(&self) -> Option<&'static str> {
        match self {
            ActionType::Email | ActionType::WarmupCampaign => Some("email"),
            ActionType::CrmTask => Some("crm"),
            ActionType::TelemarketingHandoff => Some("telemarketing"),
            ActionType::WebRecommendation => Some("web"),
            ActionType::Custom(_) => None,
        }
    }
}

/// Reads a keyword (`once`) or a one-key map (`{cooldown: 14d}`), the YAML way of writing an
/// enum whose variants may carry a value.
fn keyword_or_map<'de, D, T>(
    deserializer: D,
    what: &'static str,
    keywords: &'static [&'static str],
    map_key: &'static str,
    from_keyword: fn(&str) -> Option<T>,
    from_value: fn(String) -> T,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{Error, MapAccess, Visitor};
    use std::fmt;

    struct KeywordOrMap<T> {
        what: &'static str,
        keywords: &'static [&'static str],
        map_key: &'static str,
        from_keyword: fn(&str) -> Option<T>,
        from_value: fn(String) -> T,
    }

    impl<'de, T> Visitor<'de> for KeywordOrMap<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(
                f,
                "{}: one of {} or {{{}: ...}}",
                self.what,
                self.keywords.join(", "),
                self.map_key
            )
        }

        fn visit_str<E: Error>(self, v: &str) -> Result<T, E> {
            (self.from_keyword)(v).ok_or_else(|| {
                E::custom(format_args!(
                    "unknown {} `{v}`, expected one of {} or {{{}: ...}}",
                    self.what,
                    self.keywords.join(", "),
                    self.map_key
                ))
            })
        }

        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<T, M::Error> {
            let key: String = map
                .next_key()?
                .ok_or_else(|| M::Error::custom(format_args!("empty map, expected {{{}: ...}}", self.map_key)))?;
            if key != self.map_key {
                return Err(M::Error::custom(format_args!(
                    "unknown key `{key}`, expected `{}`",
                    self.map_key
                )));
            }
            let value: String = map.next_value()?;
            if map.next_key::<String>()?.is_some() {
                return Err(M::Error::custom(format_args!("expected only `{}`", self.map_key)));
            }
            Ok((self.from_value)(value))
        }
    }

    deserializer.deserialize_any(KeywordOrMap {
        what,
        keywords,
        map_key,
        from_keyword,
        from_value,
    })
}

impl<'de> Deserialize<'de> for RetriggerSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        keyword_or_map(
            deserializer,
            "re-trigger policy",
            &["once", "always"],
            "cooldown",
            |k| match k {
                "once" => Some(RetriggerSpec::Once),
                "always" => Some(RetriggerSpec::Always),
                _ => None,
            },
            RetriggerSpec::Cooldown,
        )
    }
}

impl<'de> Deserialize<'de> for ActionType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        keyword_or_map(
            deserializer,
            "action type",
            &[
                "email",
                "crm_task",
                "telemarketing_handoff",
                "warmup_campaign",
                "web_recommendation",
            ],
            "custom",
            |k| match k {
                "email" => Some(ActionType::Email),
                "crm_task" => Some(ActionType::CrmTask),
                "telemarketing_handoff" => Some(ActionType::TelemarketingHandoff),
                "warmup_campaign" => Some(ActionType::WarmupCampaign),
                "web_recommendation" => Some(ActionType::WebRecommendation),
                _ => None,
            },
            ActionType::Custom,
        )
    }
}

/// `policy.yaml`: the contact policy every use case of the directory obeys, and how results
/// are measured. Optional: without it actions are only bounded by their re-trigger policies.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Per channel (`email`, `telemarketing`, `crm`, `web`, …): caps, cooldown, consent, cost.
    /// A channel not listed has no cap or cooldown of its own, needs no opt-in and costs 0.
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelPolicySpec>,
    /// At most this many contacts per customer across all contact channels.
    #[serde(default)]
    pub global_caps: Vec<CapSpec>,
    /// When several use cases want the same customer within `window`, one wins.
    #[serde(default)]
    pub arbitration: Option<ArbitrationSpec>,
    /// No contact in these local hours of the customer: the action is deferred, not dropped.
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursSpec>,
    /// Event types that withdraw or give consent (e.g. from a consent topic).
    #[serde(default)]
    pub consent: Option<ConsentSpec>,
    /// Default control-group share of every use case (a use case's `holdout` overrides it).
    #[serde(default)]
    pub holdout: Option<HoldoutDefaultSpec>,
    /// Conversions attributed to the use cases that acted on (or held out) a customer.
    #[serde(default)]
    pub attribution: Option<AttributionSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelPolicySpec {
    /// Frequency caps: at most `max` actions in this channel per rolling `window`.
    #[serde(default)]
    pub caps: Vec<CapSpec>,
    /// Minimum time between two actions in this channel (`2d`).
    #[serde(default)]
    pub cooldown: Option<String>,
    /// `opt_out` (default: allowed until the customer opts out) or `opt_in` (allowed only after
    /// an opt-in).
    #[serde(default)]
    pub consent: Option<ConsentMode>,
    /// Whether quiet hours apply (default true).
    #[serde(default)]
    pub quiet_hours: Option<bool>,
    /// `false` for channels that do not contact the customer (website recommendations): no caps,
    /// cooldown, quiet hours or arbitration; consent still applies. Default true.
    #[serde(default)]
    pub contact: Option<bool>,
    /// Cost of one action (any currency, the same as conversion values), for cost and ROI.
    #[serde(default)]
    pub cost: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    OptOut,
    OptIn,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapSpec {
    pub max: u32,
    /// Rolling window (`7d`).
    pub window: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArbitrationSpec {
    /// After a use case contacts a customer, others of lower rank wait this long (`1d`).
    pub window: String,
    /// `priority` (default; the expected value breaks ties) or `expected_value` (use cases that
    /// state one rank by it, above those that do not).
    #[serde(default)]
    pub by: Option<ArbitrateBy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArbitrateBy {
    Priority,
    ExpectedValue,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSpec {
    /// Local time the quiet hours start (`21:00`).
    pub start: String,
    /// Local time they end (`08:00`); may be earlier than `start` (over midnight).
    pub end: String,
    /// A `last` feature holding the customer's IANA time zone (`Europe/Berlin`).
    #[serde(default)]
    pub timezone_feature: Option<String>,
    /// Time zone of customers without one (default `UTC`).
    #[serde(default)]
    pub default_timezone: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentSpec {
    /// Event type withdrawing consent.
    pub opt_out: String,
    /// Event type giving consent.
    pub opt_in: String,
    /// String field naming the channel; absent, empty or `all` means every channel.
    #[serde(default)]
    pub channel_field: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldoutDefaultSpec {
    pub share: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributionSpec {
    /// A conversion counts for a use case within this time after its decision (`30d`).
    pub window: String,
    pub conversions: Vec<ConversionSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversionSpec {
    /// Event type of the conversion (`purchase`, `contract`).
    pub event: String,
    /// CEL number over `event.*`: the revenue (e.g. `event.amount`); 0 when omitted.
    #[serde(default)]
    pub value: Option<String>,
}
