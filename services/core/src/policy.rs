//! The contact policy (`policy.yaml`): frequency caps, cooldowns, quiet hours, consent,
//! arbitration between use cases, holdout groups and attribution. Compiled once per use-case
//! set; its per-customer memory ([`PolicyState`]) travels with the customer's state.

use crate::catalog::{suggest, Catalog, EventScope};
use crate::diagnostic::Diagnostic;
use crate::duration::Span;
use crate::event::Event;
use crate::expr::{self, CompiledExpr, Expect, Type, Val};
use crate::spec::{ArbitrateBy, CapSpec, ConsentMode, FeatureKind, PolicySpec};
use crate::state::EventVars;
use chrono::{NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use smallvec::SmallVec;

/// The optional policy file of a use-case directory.
pub const POLICY_FILE: &str = "policy.yaml";

/// Why a decision to act was not emitted (now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Reason {
    Consent = 0,
    Cap = 1,
    Cooldown = 2,
    /// Deferred until the quiet hours end (sent then, unless consent is withdrawn meanwhile).
    QuietHours = 3,
    Arbitration = 4,
    Holdout = 5,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::Consent,
        Reason::Cap,
        Reason::Cooldown,
        Reason::QuietHours,
        Reason::Arbitration,
        Reason::Holdout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Consent => "consent",
            Reason::Cap => "cap",
            Reason::Cooldown => "cooldown",
            Reason::QuietHours => "quiet_hours",
            Reason::Arbitration => "arbitration",
            Reason::Holdout => "holdout",
        }
    }

    pub fn from_u8(code: u8) -> Option<Reason> {
        Reason::ALL.get(code as usize).copied()
    }
}

/// What the policy made of one decision to act.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Emitted,
    /// Sent when the customer's quiet hours end, at this time.
    Deferred(i64),
    /// A control-group customer: no action, a "would have acted" record.
    HeldOut,
    Suppressed(Reason),
    /// A deferred action sent now.
    Delivered,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Emitted => "emitted",
            Outcome::Deferred(_) => "deferred",
            Outcome::HeldOut => "held_out",
            Outcome::Suppressed(_) => "suppressed",
            Outcome::Delivered => "delivered",
        }
    }

    pub fn reason(self) -> Option<Reason> {
        match self {
            Outcome::Suppressed(r) => Some(r),
            Outcome::Deferred(_) => Some(Reason::QuietHours),
            Outcome::HeldOut => Some(Reason::Holdout),
            _ => None,
        }
    }

    /// The name of a [`Outcome::code`] (`unknown` for codes this build does not know).
    pub fn name_of_code(code: u8) -> &'static str {
        match code {
            0 => "emitted",
            1 => "deferred",
            2 => "held_out",
            3 => "suppressed",
            4 => "delivered",
            _ => "unknown",
        }
    }

    /// Compact code for the state's decision log.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Emitted => 0,
            Outcome::Deferred(_) => 1,
            Outcome::HeldOut => 2,
            Outcome::Suppressed(_) => 3,
            Outcome::Delivered => 4,
        }
    }
}

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
    fn unlisted(name: &str) -> ChannelPolicy {
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
    pub arbitration_window: i64,
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

/// Default attribution window without a `policy.yaml`.
pub const DEFAULT_ATTRIBUTION_WINDOW: i64 = 30 * crate::duration::DAY_MS;
/// Decisions a customer's state remembers for explanation (`GET /customers/{id}`).
pub const KEEP_DECISIONS: usize = 8;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            channels: Vec::new(),
            global_caps: Vec::new(),
            arbitration_window: 0,
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

/// Stable 64-bit key of a channel or use case name, as stored in customer state.
pub fn name_key(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

/// Consent entries under this key apply to every channel.
pub const ALL_CHANNELS: u64 = 0;

/// Whether `customer_id` is in the control group of a use case: a hash of salt and customer,
/// so the assignment is the same on every instance, after every restart and in replay.
pub fn in_control(share: f64, salt: &str, customer_id: &str) -> bool {
    if share <= 0.0 {
        return false;
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(salt.as_bytes());
    hasher.update(&[0]);
    hasher.update(customer_id.as_bytes());
    // the top 53 bits as a uniform number in [0, 1)
    ((hasher.digest() >> 11) as f64 / (1u64 << 53) as f64) < share
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

    /// Compiles `policy.yaml`; every problem is reported with its key.
    pub fn compile(catalog: &Catalog, file: &str, spec: &PolicySpec) -> Result<Policy, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut span = |key: String, text: &str, problems: &mut Vec<Diagnostic>| match Span::parse(text) {
            Ok(s) => s.millis(),
            Err(e) => {
                problems.push(Diagnostic::new(file, key, e));
                0
            }
        };
        let caps = |key: &str,
                    specs: &[CapSpec],
                    problems: &mut Vec<Diagnostic>,
                    span: &mut dyn FnMut(String, &str, &mut Vec<Diagnostic>) -> i64| {
            specs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if c.max == 0 {
                        problems.push(
                            Diagnostic::new(file, format!("{key}[{i}].max"), "a cap of 0 allows no action at all")
                                .hint("use consent (`opt_in`) to close a channel, or a cap of 1 or more"),
                        );
                    }
                    Cap {
                        max: c.max,
                        window: span(format!("{key}[{i}].window"), &c.window, problems),
                    }
                })
                .collect::<Vec<_>>()
        };
        let mut channels = Vec::new();
        for (name, c) in &spec.channels {
            let key = format!("channels.{name}");
            let channel_caps = caps(&format!("{key}.caps"), &c.caps, &mut problems, &mut span);
            let cooldown = c
                .cooldown
                .as_ref()
                .map(|t| span(format!("{key}.cooldown"), t, &mut problems));
            if let Some(cost) = c.cost {
                if !(cost.is_finite() && cost >= 0.0) {
                    problems.push(
                        Diagnostic::new(
                            file,
                            format!("{key}.cost"),
                            format!("cost {cost} is not a non-negative number"),
                        )
                        .hint("the cost of one action, e.g. `0.05`"),
                    );
                }
            }
            channels.push(ChannelPolicy {
                name: name.clone(),
                key: name_key(name),
                caps: channel_caps,
                cooldown,
                consent: c.consent.unwrap_or(ConsentMode::OptOut),
                quiet_hours: c.quiet_hours.unwrap_or(true),
                contact: c.contact.unwrap_or(true),
                cost: c.cost.unwrap_or(0.0),
            });
        }
        let global_caps = caps("global_caps", &spec.global_caps, &mut problems, &mut span);
        let (arbitration_window, arbitrate_by) = match &spec.arbitration {
            None => (0, ArbitrateBy::Priority),
            Some(a) => (
                span("arbitration.window".into(), &a.window, &mut problems),
                a.by.unwrap_or(ArbitrateBy::Priority),
            ),
        };
        let quiet_hours = spec.quiet_hours.as_ref().and_then(|q| {
            let time = |key: &str, text: &str, problems: &mut Vec<Diagnostic>| match NaiveTime::parse_from_str(
                text, "%H:%M",
            ) {
                Ok(t) => Some(t.hour() * 60 + t.minute()),
                Err(_) => {
                    problems.push(
                        Diagnostic::new(file, format!("quiet_hours.{key}"), format!("bad time `{text}`"))
                            .hint("write local time as HH:MM, e.g. `21:00`"),
                    );
                    None
                }
            };
            let start = time("start", &q.start, &mut problems);
            let end = time("end", &q.end, &mut problems);
            if start.is_some() && start == end {
                problems.push(
                    Diagnostic::new(file, "quiet_hours.end", "quiet hours start and end at the same time")
                        .hint("give a range such as 21:00 to 08:00, or remove `quiet_hours`"),
                );
            }
            let default_timezone = parse_zone(
                file,
                "quiet_hours.default_timezone",
                q.default_timezone.as_deref().unwrap_or("UTC"),
                &mut problems,
            );
            let timezone_feature = q
                .timezone_feature
                .as_ref()
                .and_then(|name| match catalog.feature(name) {
                    Some(index)
                        if catalog.features[index].kind == FeatureKind::Last
                            && catalog.features[index].ty == Type::String =>
                    {
                        Some(index)
                    }
                    Some(_) => {
                        problems.push(
                            Diagnostic::new(
                                file,
                                "quiet_hours.timezone_feature",
                                format!("feature `{name}` is not a `last` string feature"),
                            )
                            .hint("declare e.g. `timezone: {kind: last, field: timezone}` on a string field"),
                        );
                        None
                    }
                    None => {
                        problems.push(
                            Diagnostic::new(
                                file,
                                "quiet_hours.timezone_feature",
                                format!("unknown feature `{name}`"),
                            )
                            .hint(suggest(
                                name,
                                catalog.features.iter().map(|f| f.name.as_str()),
                                "features",
                                "declare it in features.yaml",
                            )),
                        );
                        None
                    }
                });
            Some(QuietHours {
                start: start?,
                end: end?,
                timezone_feature,
                default_timezone: default_timezone?,
            })
        });
        let event_type = |key: String, name: &str, problems: &mut Vec<Diagnostic>| {
            let found = catalog.event_type(name);
            if found.is_none() {
                problems.push(
                    Diagnostic::new(file, key, format!("unknown event type `{name}`")).hint(suggest(
                        name,
                        catalog.event_types.iter().map(String::as_str),
                        "event types",
                        "declare it in features.yaml under `event_types`",
                    )),
                );
            }
            found
        };
        let consent = spec.consent.as_ref().and_then(|c| {
            let opt_out = event_type("consent.opt_out".into(), &c.opt_out, &mut problems);
            let opt_in = event_type("consent.opt_in".into(), &c.opt_in, &mut problems);
            let channel_field = c.channel_field.as_ref().and_then(|name| match catalog.field(name) {
                Some(slot) if catalog.fields[slot].ty == Type::String => Some(slot),
                _ => {
                    problems.push(
                        Diagnostic::new(
                            file,
                            "consent.channel_field",
                            format!("`{name}` is not a string event field"),
                        )
                        .hint("declare it as `string` on the consent event types in features.yaml"),
                    );
                    None
                }
            });
            Some(ConsentEvents {
                opt_out: opt_out?,
                opt_in: opt_in?,
                channel_field,
            })
        });
        let default_holdout = spec.holdout.as_ref().map_or(0.0, |h| h.share);
        check_share(file, "holdout.share", default_holdout, &mut problems);
        let (attribution_window, conversions) = match &spec.attribution {
            None => (DEFAULT_ATTRIBUTION_WINDOW, Vec::new()),
            Some(a) => {
                let window = span("attribution.window".into(), &a.window, &mut problems);
                let mut conversions = Vec::new();
                for (i, c) in a.conversions.iter().enumerate() {
                    let Some(event_type) =
                        event_type(format!("attribution.conversions[{i}].event"), &c.event, &mut problems)
                    else {
                        continue;
                    };
                    let value = c.value.as_ref().and_then(|source| {
                        match expr::compile(source, &EventScope { catalog }, Expect::Number) {
                            Ok(compiled) => Some(compiled),
                            Err(err) => {
                                problems.push(
                                    Diagnostic::new(file, format!("attribution.conversions[{i}].value"), err.message)
                                        .hint_opt(err.hint),
                                );
                                None
                            }
                        }
                    });
                    conversions.push(Conversion { event_type, value });
                }
                (window, conversions)
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let windows = channels
            .iter()
            .flat_map(|c| c.caps.iter().map(|cap| cap.window).chain(c.cooldown))
            .chain(global_caps.iter().map(|c| c.window))
            .chain([arbitration_window]);
        Ok(Policy {
            horizon: windows.max().unwrap_or(0),
            conversion_mask: conversions.iter().fold(0, |m, c| m | 1u64 << c.event_type),
            channels,
            global_caps,
            arbitration_window,
            arbitrate_by,
            quiet_hours,
            consent,
            default_holdout,
            attribution_window,
            conversions,
            configured: true,
        })
    }

    /// The revenue of a conversion event (0 when the value is not given or fails).
    pub fn conversion_value(&self, catalog: &Catalog, event: &Event<'_>) -> Option<f64> {
        let type_index = event.type_index?;
        let conversion = self.conversions.iter().find(|c| c.event_type == type_index)?;
        Some(match &conversion.value {
            None => 0.0,
            Some(value) => value
                .eval_f64(&EventVars { catalog, event })
                .ok()
                .filter(|v| v.is_finite())
                // revenue totals only grow (they are Prometheus counters too): refunds are not
                // negative conversions
                .map_or(0.0, |v| v.max(0.0)),
        })
    }

    /// When `now` falls into the customer's quiet hours: the time they end.
    pub fn quiet_until(&self, zone: Option<&str>, now: i64) -> Option<i64> {
        let q = self.quiet_hours.as_ref()?;
        let tz = zone.and_then(|z| z.parse::<Tz>().ok()).unwrap_or(q.default_timezone);
        let local = tz.timestamp_millis_opt(now).single()?;
        let minute = local.hour() * 60 + local.minute();
        let quiet = if q.start < q.end {
            (q.start..q.end).contains(&minute)
        } else {
            minute >= q.start || minute < q.end
        };
        if !quiet {
            return None;
        }
        // the next local `end` after now; a time a DST change skips moves to the next valid one
        let end = NaiveTime::from_hms_opt(q.end / 60, q.end % 60, 0)?;
        let mut date = local.date_naive();
        if minute >= q.end {
            date = date.succ_opt()?;
        }
        let naive = date.and_time(end);
        let at = tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())?;
        Some(at.timestamp_millis().max(now))
    }

    /// Applies a consent event to the customer's state; false (and nothing touched) when the
    /// event is none.
    pub fn apply_consent(&self, catalog: &Catalog, event: &Event<'_>, state: &mut crate::state::CustomerState) -> bool {
        let (Some(consent), Some(type_index)) = (self.consent, event.type_index) else {
            return false;
        };
        let granted = match type_index {
            t if t == consent.opt_out => false,
            t if t == consent.opt_in => true,
            _ => return false,
        };
        let channel = consent
            .channel_field
            .and_then(|slot| match crate::state::event_field(catalog, event, slot) {
                Val::Str(s) if !s.is_empty() && s != "all" => Some(name_key(&s)),
                _ => None,
            })
            .unwrap_or(ALL_CHANNELS);
        state.policy_mut().set_consent(channel, granted, event.ts());
        true
    }
}

fn parse_zone(file: &str, key: &str, name: &str, problems: &mut Vec<Diagnostic>) -> Option<Tz> {
    match name.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            problems.push(
                Diagnostic::new(file, key, format!("unknown time zone `{name}`"))
                    .hint("use an IANA name such as `Europe/Berlin` or `UTC`"),
            );
            None
        }
    }
}

pub(crate) fn check_share(file: &str, key: &str, share: f64, problems: &mut Vec<Diagnostic>) {
    if !(0.0..=0.5).contains(&share) {
        problems.push(
            Diagnostic::new(file, key, format!("holdout share {share} out of range"))
                .hint("use 0 (no control group) to 0.5, e.g. `0.1` for a tenth of the customers"),
        );
    }
}

/// The customer's consent for one channel (latest event time wins).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Consent {
    pub channel: u64,
    pub granted: bool,
    pub ts: i64,
}

/// One action (or held-out decision) in the customer's contact history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    pub ts: i64,
    pub channel: u64,
    pub use_case: u64,
    pub priority: u32,
    /// Expected value, when the use case states one.
    pub value: Option<f64>,
    /// A control-group decision: counts like a contact, so both groups meet the same policy.
    pub held_out: bool,
}

/// An action waiting for the end of the customer's quiet hours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deferred {
    pub use_case: u64,
    /// The tier's history key.
    pub tier: u64,
    pub due: i64,
    pub decided_at: i64,
    pub score: Option<f64>,
}

/// An attribution window opened by a decision of one use case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    pub use_case: u64,
    pub control: bool,
    pub start: i64,
    pub converted: bool,
    pub revenue: f64,
}

/// One decision, remembered for explanation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionEntry {
    pub use_case: u64,
    pub tier: u64,
    pub ts: i64,
    /// [`Outcome::code`].
    pub outcome: u8,
    /// [`Reason`] as u8, 255 for none.
    pub reason: u8,
    pub score: Option<f64>,
}

/// What the policy remembers about one customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyState {
    pub consent: SmallVec<[Consent; 1]>,
    pub contacts: SmallVec<[Contact; 2]>,
    pub deferred: SmallVec<[Deferred; 1]>,
    pub exposures: SmallVec<[Exposure; 1]>,
    pub decisions: SmallVec<[DecisionEntry; 2]>,
}

impl PolicyState {
    pub fn is_empty(&self) -> bool {
        self.consent.is_empty()
            && self.contacts.is_empty()
            && self.deferred.is_empty()
            && self.exposures.is_empty()
            && self.decisions.is_empty()
    }

    pub fn set_consent(&mut self, channel: u64, granted: bool, ts: i64) {
        match self.consent.iter_mut().find(|c| c.channel == channel) {
            Some(c) if ts >= c.ts => {
                c.granted = granted;
                c.ts = ts;
            }
            Some(_) => {} // an older event does not overrule a newer one
            None => self.consent.push(Consent { channel, granted, ts }),
        }
        // an all-channel event at least as new replaces the per-channel ones it overrules
        if channel == ALL_CHANNELS {
            self.consent.retain(|c| c.channel == ALL_CHANNELS || c.ts > ts);
        }
    }

    /// Whether the customer may be contacted in `channel` (the newest applicable event wins).
    pub fn consents(&self, channel: &ChannelPolicy) -> bool {
        let newest = self
            .consent
            .iter()
            .filter(|c| c.channel == channel.key || c.channel == ALL_CHANNELS)
            .max_by_key(|c| (c.ts, c.channel != ALL_CHANNELS));
        match newest {
            Some(c) => c.granted,
            None => channel.consent == ConsentMode::OptOut,
        }
    }

    /// Whether the customer has ever withdrawn consent (kept even when the rest expires).
    pub fn has_withdrawal(&self) -> bool {
        self.consent.iter().any(|c| !c.granted)
    }

    pub fn forget_before(&mut self, horizon_start: i64, attribution_start: i64) {
        self.contacts.retain(|c| c.ts >= horizon_start);
        self.exposures.retain(|e| e.start >= attribution_start);
    }

    pub fn remember(&mut self, entry: DecisionEntry) {
        if self.decisions.len() >= KEEP_DECISIONS {
            self.decisions.remove(0);
        }
        self.decisions.push(entry);
    }
}

/// How `a` ranks against `b` in arbitration, each (priority, expected value; NaN: none stated):
/// by priority then expected value, or the reverse.
pub fn rank_order(by: ArbitrateBy, a: (u32, f64), b: (u32, f64)) -> std::cmp::Ordering {
    let value = |v: f64| if v.is_nan() { f64::NEG_INFINITY } else { v };
    let (a_value, b_value) = (value(a.1), value(b.1));
    match by {
        ArbitrateBy::Priority => a.0.cmp(&b.0).then(a_value.total_cmp(&b_value)),
        ArbitrateBy::ExpectedValue => a_value.total_cmp(&b_value).then(a.0.cmp(&b.0)),
    }
}

/// `a` ranks at least as high as `b`: it wins arbitration against `b`.
pub fn outranks(by: ArbitrateBy, a: (u32, f64), b: (u32, f64)) -> bool {
    rank_order(by, a, b).is_ge()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn catalog() -> Catalog {
        let spec: crate::spec::CatalogSpec = serde_yaml_ng::from_str(
            "event_types: {purchase: {fields: {amount: double}}, opt_out: {fields: {channel: string}}, opt_in: {fields: {channel: string}}}\nfeatures: {purchases: {kind: count, events: [purchase]}}",
        )
        .unwrap();
        Catalog::compile("features.yaml", &spec).unwrap()
    }

    fn policy(yaml: &str) -> Policy {
        let catalog = catalog();
        let spec: PolicySpec = serde_yaml_ng::from_str(yaml).unwrap();
        Policy::compile(&catalog, "policy.yaml", &spec).unwrap()
    }

    fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis()
    }

    #[test]
    fn quiet_hours_in_the_customers_zone() {
        let p = policy("quiet_hours: {start: '21:00', end: '08:00', default_timezone: Europe/Berlin}");
        // 22:30 UTC in January is 23:30 in Berlin: quiet until 08:00 Berlin = 07:00 UTC
        assert_eq!(
            p.quiet_until(None, ms(2026, 1, 10, 22, 30)),
            Some(ms(2026, 1, 11, 7, 0))
        );
        // 01:00 Berlin: same night, same end
        assert_eq!(p.quiet_until(None, ms(2026, 1, 11, 0, 0)), Some(ms(2026, 1, 11, 7, 0)));
        assert_eq!(p.quiet_until(None, ms(2026, 1, 11, 12, 0)), None);
        // the customer's own zone wins: 22:30 UTC is 17:30 in New York, not quiet
        assert_eq!(p.quiet_until(Some("America/New_York"), ms(2026, 1, 10, 22, 30)), None);
        // an unknown zone falls back to the default
        assert!(p.quiet_until(Some("Mars/Olympus"), ms(2026, 1, 10, 22, 30)).is_some());
        // summer time: 08:00 Berlin is 06:00 UTC
        assert_eq!(p.quiet_until(None, ms(2026, 7, 1, 3, 0)), Some(ms(2026, 7, 1, 6, 0)));
    }

    #[test]
    fn daytime_quiet_hours() {
        let p = policy("quiet_hours: {start: '12:00', end: '13:30'}");
        assert_eq!(
            p.quiet_until(None, ms(2026, 3, 2, 12, 15)),
            Some(ms(2026, 3, 2, 13, 30))
        );
        assert_eq!(p.quiet_until(None, ms(2026, 3, 2, 13, 30)), None);
    }

    #[test]
    fn consent_newest_event_wins() {
        let email = ChannelPolicy::unlisted("email");
        let mut opt_in = ChannelPolicy::unlisted("telemarketing");
        opt_in.consent = ConsentMode::OptIn;
        let mut s = PolicyState::default();
        assert!(s.consents(&email));
        assert!(!s.consents(&opt_in), "opt-in channels need an opt-in");
        s.set_consent(ALL_CHANNELS, false, 10);
        assert!(!s.consents(&email));
        s.set_consent(email.key, true, 20);
        assert!(s.consents(&email), "a newer per-channel opt-in");
        assert!(!s.consents(&opt_in));
        s.set_consent(email.key, false, 5);
        assert!(s.consents(&email), "an older event does not overrule");
        s.set_consent(ALL_CHANNELS, true, 30);
        assert!(s.consents(&opt_in));
        assert_eq!(s.consent.len(), 1);
    }

    #[test]
    fn holdout_is_deterministic_and_near_its_share() {
        let n = 20_000;
        let control = (0..n).filter(|i| in_control(0.1, "uc", &format!("c{i}"))).count();
        assert!((1_800..2_200).contains(&control), "{control} of {n}");
        assert!((0..100).all(|i| in_control(0.1, "uc", &format!("c{i}")) == in_control(0.1, "uc", &format!("c{i}"))));
        let moved = (0..n)
            .filter(|i| in_control(0.1, "uc", &format!("c{i}")) != in_control(0.1, "other", &format!("c{i}")))
            .count();
        assert!(moved > 2_000, "a new salt draws a new group");
        assert!(!in_control(0.0, "uc", "c1"));
    }

    #[test]
    fn bad_policy_is_refused_with_keys() {
        let catalog = catalog();
        let spec: PolicySpec = serde_yaml_ng::from_str(
            "channels: {email: {caps: [{max: 0, window: 7x}], cost: -1}}\nquiet_hours: {start: '25:00', end: '08:00', default_timezone: Moon/Base}\nholdout: {share: 0.9}\nconsent: {opt_out: nope, opt_in: purchase}",
        )
        .unwrap();
        let problems = Policy::compile(&catalog, "policy.yaml", &spec).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|d| d.key_path.as_str()).collect();
        for key in [
            "channels.email.caps[0].max",
            "channels.email.caps[0].window",
            "channels.email.cost",
            "quiet_hours.start",
            "quiet_hours.default_timezone",
            "holdout.share",
            "consent.opt_out",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }
}
