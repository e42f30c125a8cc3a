//! `policy.yaml`: channels, caps, cooldowns, quiet hours, consent, arbitration, holdout and
//! attribution.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
