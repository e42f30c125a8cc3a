//! A use case file: Data (triggers, features, timer) > Algo (rule, score, model, recommender,
//! funnel) > Action (tiers, re-trigger policy, payload).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
