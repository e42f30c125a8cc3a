//! A case's contact policy (`policy.yaml`) and each use case's part in it (priority, tier
//! channels, `expected_value`, `holdout`), rendered as the YAML the engine reads.

use crate::spec::{double, span, Case, Num};
use std::fmt::Write as _;

/// The channels of generated use cases: name, action type, topic.
pub const CHANNELS: [(&str, &str, &str); 4] = [
    ("email", "email", "actions.email"),
    ("telemarketing", "telemarketing_handoff", "actions.telemarketing"),
    ("crm", "crm_task", "actions.crm"),
    ("web", "web_recommendation", "actions.web"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Priority,
    ExpectedValue,
}

#[derive(Debug, Clone, Copy)]
pub struct Cap {
    pub max: u32,
    /// Milliseconds.
    pub window: i64,
}

#[derive(Debug, Clone)]
pub struct ChannelPolicy {
    pub name: String,
    pub caps: Vec<Cap>,
    pub cooldown: Option<i64>,
    pub opt_in: bool,
    pub quiet_hours: Option<bool>,
    pub contact: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct QuietHours {
    /// Minutes after local midnight.
    pub start: u32,
    pub end: u32,
    pub timezone_feature: Option<String>,
    pub default_timezone: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Consent {
    pub opt_out: String,
    pub opt_in: String,
    pub channel_field: Option<String>,
}

/// A conversion's CEL `value`: none (0), `event.amount` or `event.amount * k`.
#[derive(Debug, Clone, Copy)]
pub enum ConvValue {
    None,
    Amount,
    AmountTimes(f64),
}

#[derive(Debug, Clone)]
pub struct Conversion {
    pub event: String,
    pub value: ConvValue,
}

#[derive(Debug, Clone)]
pub struct Arbitration {
    pub window: i64,
    pub by: Option<By>,
}

#[derive(Debug, Clone)]
pub struct Attribution {
    pub window: i64,
    pub conversions: Vec<Conversion>,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub channels: Vec<ChannelPolicy>,
    pub global_caps: Vec<Cap>,
    pub arbitration: Option<Arbitration>,
    pub quiet_hours: Option<QuietHours>,
    pub consent: Option<Consent>,
    pub holdout: Option<f64>,
    pub attribution: Option<Attribution>,
}

#[derive(Debug, Clone)]
pub struct Holdout {
    pub share: f64,
    pub salt: Option<String>,
}

/// One use case's part in the policy (the use case of the same index in `Case::use_cases`).
#[derive(Debug, Clone)]
pub struct UcPolicy {
    pub priority: u32,
    /// Per tier, an index into [`CHANNELS`].
    pub tier_channels: Vec<usize>,
    pub expected_value: Option<Num>,
    pub holdout: Option<Holdout>,
}

/// A case with a contact policy; `backtest`: replay evaluates drafts too (not `--live-only`).
#[derive(Debug, Clone)]
pub struct PolicyCase {
    pub case: Case,
    pub policy: Option<Policy>,
    pub ucs: Vec<UcPolicy>,
    pub backtest: bool,
}

fn caps(caps: &[Cap]) -> String {
    let items: Vec<String> = caps
        .iter()
        .map(|c| format!("{{max: {}, window: {}}}", c.max, span(c.window)))
        .collect();
    format!("[{}]", items.join(", "))
}

fn hhmm(minutes: u32) -> String {
    format!("\"{:02}:{:02}\"", minutes / 60, minutes % 60)
}

impl Policy {
    pub fn yaml(&self) -> String {
        let mut y = String::new();
        if !self.channels.is_empty() {
            y.push_str("channels:\n");
        }
        for c in &self.channels {
            let mut parts = Vec::new();
            if !c.caps.is_empty() {
                parts.push(format!("caps: {}", caps(&c.caps)));
            }
            if let Some(cd) = c.cooldown {
                parts.push(format!("cooldown: {}", span(cd)));
            }
            if c.opt_in {
                parts.push("consent: opt_in".into());
            }
            if let Some(q) = c.quiet_hours {
                parts.push(format!("quiet_hours: {q}"));
            }
            if let Some(k) = c.contact {
                parts.push(format!("contact: {k}"));
            }
            let _ = writeln!(y, "  {}: {{{}}}", c.name, parts.join(", "));
        }
        if !self.global_caps.is_empty() {
            let _ = writeln!(y, "global_caps: {}", caps(&self.global_caps));
        }
        if let Some(a) = &self.arbitration {
            let by = match a.by {
                None => String::new(),
                Some(By::Priority) => ", by: priority".into(),
                Some(By::ExpectedValue) => ", by: expected_value".into(),
            };
            let _ = writeln!(y, "arbitration: {{window: {}{by}}}", span(a.window));
        }
        if let Some(q) = &self.quiet_hours {
            let mut parts = vec![format!("start: {}", hhmm(q.start)), format!("end: {}", hhmm(q.end))];
            if let Some(f) = &q.timezone_feature {
                parts.push(format!("timezone_feature: {f}"));
            }
            if let Some(z) = &q.default_timezone {
                parts.push(format!("default_timezone: {z}"));
            }
            let _ = writeln!(y, "quiet_hours: {{{}}}", parts.join(", "));
        }
        if let Some(c) = &self.consent {
            let field = c
                .channel_field
                .as_ref()
                .map_or(String::new(), |f| format!(", channel_field: {f}"));
            let _ = writeln!(y, "consent: {{opt_out: {}, opt_in: {}{field}}}", c.opt_out, c.opt_in);
        }
        if let Some(share) = self.holdout {
            let _ = writeln!(y, "holdout: {{share: {}}}", double(share));
        }
        if let Some(a) = &self.attribution {
            let conversions: Vec<String> = a
                .conversions
                .iter()
                .map(|c| match c.value {
                    ConvValue::None => format!("{{event: {}}}", c.event),
                    ConvValue::Amount => format!("{{event: {}, value: \"event.amount\"}}", c.event),
                    ConvValue::AmountTimes(k) => {
                        format!("{{event: {}, value: \"event.amount * {}\"}}", c.event, double(k))
                    }
                })
                .collect();
            let _ = writeln!(
                y,
                "attribution: {{window: {}, conversions: [{}]}}",
                span(a.window),
                conversions.join(", ")
            );
        }
        if y.is_empty() {
            y.push_str("{}\n");
        }
        y
    }
}

impl PolicyCase {
    /// The use case's YAML of [`Case::use_case_yaml`] with its priority, every channel, each
    /// tier's action type and topic, `expected_value` and `holdout`.
    pub fn use_case_yaml(&self, index: usize) -> String {
        let case = &self.case;
        let uc = &case.use_cases[index];
        let p = &self.ucs[index];
        let base = case.use_case_yaml(uc);
        let names: Vec<&str> = CHANNELS.iter().map(|c| c.0).collect();
        let mut y = String::new();
        let mut tier = 0;
        let mut lines = base.lines();
        while let Some(line) = lines.next() {
            match line {
                "priority: 50" => {
                    let _ = writeln!(y, "priority: {}", p.priority);
                }
                "channels: [crm]" => {
                    let _ = writeln!(y, "channels: [{}]", names.join(", "));
                }
                "action:" => {
                    y.push_str("action:\n");
                    if let Some(e) = &p.expected_value {
                        let ty = |f: &str| case.feature_type(f);
                        let _ = writeln!(y, "  expected_value: \"{}\"", e.cel(&ty));
                    }
                }
                "      type: crm_task" => {
                    let (_, ty, topic) = CHANNELS[p.tier_channels.get(tier).copied().unwrap_or(2)];
                    tier += 1;
                    // the next line is the topic
                    lines.next();
                    let _ = writeln!(y, "      type: {ty}\n      topic: {topic}");
                }
                _ => {
                    y.push_str(line);
                    y.push('\n');
                }
            }
        }
        if let Some(h) = &p.holdout {
            let salt = h.salt.as_ref().map_or(String::new(), |s| format!(", salt: {s}"));
            let _ = writeln!(y, "holdout: {{share: {}{salt}}}", double(h.share));
        }
        y
    }

    /// A ready-to-paste reproduction: features.yaml, policy.yaml, the use cases, the events.
    pub fn reproduction(&self, customer: Option<&str>) -> String {
        let case = &self.case;
        let mut s = format!("--- features.yaml\n{}", case.features_yaml());
        if let Some(p) = &self.policy {
            let _ = write!(s, "--- policy.yaml\n{}", p.yaml());
        }
        for (i, uc) in case.use_cases.iter().enumerate() {
            let _ = write!(s, "--- {}.yaml\n{}", uc.id, self.use_case_yaml(i));
        }
        let mode = if self.backtest { "" } else { " (replay --live-only)" };
        let _ = write!(
            s,
            "--- events.jsonl{mode}\n{}",
            case.json_lines_of(case.events.len(), customer)
        );
        s
    }
}
