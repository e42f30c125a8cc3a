//! The compiled `policy.yaml`: channels with their caps, cooldowns and consent mode, quiet
//! hours, consent events, attribution; and the policy of channels it does not list.

use super::{name_key, DEFAULT_ATTRIBUTION_WINDOW};
use crate::spec::{ArbitrateBy, ConsentMode};
use chrono_tz::Tz;
use revenue_expr::CompiledExpr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub max: u32,
    pub window: i64,
}

#[derive(Debug, Clone)]
pub struct ChannelPolicy {
    /// Empty for a channel `policy.yaml` does not list (no allocation per decision).
    pub name: String,
    /// Hash of the name: how contacts and consent are stored.
    pub key: u64,
    pub caps: Vec<Cap>,
    pub cooldown: Option<i64>,
    pub consent: ConsentMode,
    pub quiet_hours: bool,
    pub contact: bool,
    pub cost: f64,
}

impl ChannelPolicy {
    pub(super) fn unlisted(name: &str) -> ChannelPolicy {
        ChannelPolicy {
            name: String::new(),
            key: name_key(name),
            caps: Vec::new(),
            cooldown: None,
            consent: ConsentMode::OptOut,
            quiet_hours: true,
            contact: true,
            cost: 0.0,
        }
    }
}

#[derive(Debug, Clone)]
pub struct QuietHours {
    /// Minutes after local midnight.
    pub start: u32,
    pub end: u32,
    pub timezone_feature: Option<usize>,
    pub default_timezone: Tz,
}

#[derive(Debug, Clone, Copy)]
pub struct ConsentEvents {
    pub opt_out: u16,
    pub opt_in: u16,
    pub channel_field: Option<usize>,
}

#[derive(Debug)]
pub struct Conversion {
    pub event_type: u16,
    pub value: Option<CompiledExpr>,
}

/// The compiled `policy.yaml` (an empty policy when the directory has none).
#[derive(Debug)]
pub struct Policy {
    pub channels: Vec<ChannelPolicy>,
    pub global_caps: Vec<Cap>,
    /// `arbitration.window`; `None` (no arbitration) unless `policy.yaml` configures one.
    pub arbitration_window: Option<i64>,
    pub arbitrate_by: ArbitrateBy,
    pub quiet_hours: Option<QuietHours>,
    pub consent: Option<ConsentEvents>,
    pub default_holdout: f64,
    pub attribution_window: i64,
    pub conversions: Vec<Conversion>,
    /// Bit i set: event type i is a conversion.
    pub conversion_mask: u64,
    /// Contacts older than this matter to no cap, cooldown or arbitration: they are dropped.
    pub horizon: i64,
    /// Whether a `policy.yaml` was given.
    pub configured: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            channels: Vec::new(),
            global_caps: Vec::new(),
            arbitration_window: None,
            arbitrate_by: ArbitrateBy::Priority,
            quiet_hours: None,
            consent: None,
            default_holdout: 0.0,
            attribution_window: DEFAULT_ATTRIBUTION_WINDOW,
            conversions: Vec::new(),
            conversion_mask: 0,
            horizon: 0,
            configured: false,
        }
    }
}

impl Policy {
    pub fn channel(&self, name: &str) -> Option<&ChannelPolicy> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// The policy of a channel, a default one for channels `policy.yaml` does not list.
    pub fn channel_or_default(&self, name: &str) -> std::borrow::Cow<'_, ChannelPolicy> {
        match self.channel(name) {
            Some(c) => std::borrow::Cow::Borrowed(c),
            None => std::borrow::Cow::Owned(ChannelPolicy::unlisted(name)),
        }
    }
}
