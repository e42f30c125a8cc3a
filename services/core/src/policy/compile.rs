//! Compiling `policy.yaml` against the feature catalog; every problem is reported with its key.

use super::{name_key, Cap, ChannelPolicy, ConsentEvents, Conversion, Policy, QuietHours, DEFAULT_ATTRIBUTION_WINDOW};
use crate::catalog::{suggest, Catalog, EventScope};
use crate::diagnostic::Diagnostic;
use crate::duration::Span;
use crate::spec::{ArbitrateBy, CapSpec, ConsentMode, FeatureKind, PolicySpec};
use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;
use revenue_expr::{self, Expect, Type};

impl Policy {
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
            None => (None, ArbitrateBy::Priority),
            Some(a) => (
                Some(span("arbitration.window".into(), &a.window, &mut problems)),
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
                        match revenue_expr::compile(source, &EventScope { catalog }, Expect::Number) {
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
            .chain(arbitration_window);
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
