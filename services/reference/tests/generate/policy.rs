//! Random contact policies on top of [`super::case`]: channels with caps, cooldowns, consent
//! modes, quiet hours and `contact: false`; global caps, arbitration, holdouts, attribution;
//! per use case a priority, tier channels, an `expected_value` and a holdout; consent and
//! time-zone events mixed into the stream, which sometimes starts just before a DST change.

use proptest::prelude::*;
use proptest::sample::select;
use revenue_reference::policy_spec::*;
use revenue_reference::spec::{Event, Feature, Kind, Num, DAY_MS};
use serde_json::{Map, Value};

const H: i64 = 3_600_000;
/// Europe's spring and autumn changes of 2024 and the United States' spring one (UTC).
const DST: [i64; 3] = [1_711_846_800_000, 1_729_990_800_000, 1_710_054_000_000];
pub const TZ_FEATURE: &str = "tz_last";

fn cap() -> impl Strategy<Value = Cap> {
    (1u32..4, select(vec![H, DAY_MS, 7 * DAY_MS])).prop_map(|(max, window)| Cap { max, window })
}

fn channel(name: &'static str) -> impl Strategy<Value = ChannelPolicy> {
    (
        proptest::collection::vec(cap(), 0..3),
        proptest::option::weighted(0.4, select(vec![H, DAY_MS, 2 * DAY_MS])),
        proptest::bool::weighted(0.2),
        proptest::option::weighted(0.3, any::<bool>()),
        proptest::option::weighted(if name == "web" { 0.8 } else { 0.2 }, proptest::bool::weighted(0.3)),
    )
        .prop_map(move |(caps, cooldown, opt_in, quiet_hours, contact)| ChannelPolicy {
            name: name.into(),
            caps,
            cooldown,
            opt_in,
            quiet_hours,
            contact,
        })
}

const TIMES: [u32; 8] = [0, 60, 150, 180, 480, 720, 1200, 1350];
const ZONES: [&str; 5] = [
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "UTC",
    "Australia/Lord_Howe",
];

fn quiet_hours() -> impl Strategy<Value = QuietHours> {
    (
        select(TIMES.to_vec()),
        select(TIMES.to_vec()),
        any::<bool>(),
        proptest::option::of(select(ZONES.to_vec())),
    )
        .prop_map(|(start, end, feature, zone)| QuietHours {
            start,
            // start and end must differ
            end: if end == start { (end + 600) % 1440 } else { end },
            timezone_feature: feature.then(|| TZ_FEATURE.into()),
            default_timezone: zone.map(String::from),
        })
}

fn policy() -> impl Strategy<Value = Policy> {
    let channels = (
        channel("email"),
        channel("telemarketing"),
        channel("crm"),
        channel("web"),
    );
    let conversion = (select(vec!["buy", "click", "view"]), 0usize..3).prop_map(|(event, v)| Conversion {
        event: event.into(),
        value: [ConvValue::Amount, ConvValue::None, ConvValue::AmountTimes(2.0)][v],
    });
    (
        (channels, proptest::collection::vec(any::<bool>(), 4)),
        proptest::collection::vec(cap(), 0..2),
        proptest::option::weighted(
            0.6,
            (
                select(vec![H, DAY_MS, 7 * DAY_MS]),
                proptest::option::of(prop_oneof![Just(By::Priority), Just(By::ExpectedValue)]),
            )
                .prop_map(|(window, by)| Arbitration { window, by }),
        ),
        proptest::option::weighted(0.5, quiet_hours()),
        proptest::option::weighted(0.6, any::<bool>()),
        proptest::option::weighted(0.4, select(vec![0.0, 0.2, 0.5])),
        proptest::option::weighted(
            0.7,
            (
                select(vec![DAY_MS, 7 * DAY_MS, 30 * DAY_MS]),
                proptest::collection::vec(conversion, 1..3),
            )
                .prop_map(|(window, mut conversions)| {
                    conversions.sort_by(|a, b| a.event.cmp(&b.event));
                    conversions.dedup_by(|a, b| a.event == b.event);
                    Attribution { window, conversions }
                }),
        ),
    )
        .prop_map(
            |(((e, t, c, w), listed), global_caps, arbitration, quiet_hours, consent, holdout, attribution)| Policy {
                channels: [e, t, c, w]
                    .into_iter()
                    .zip(listed)
                    .filter(|(_, l)| *l)
                    .map(|(c, _)| c)
                    .collect(),
                global_caps,
                arbitration,
                quiet_hours,
                consent: consent.map(|field| Consent {
                    opt_out: "consent_out".into(),
                    opt_in: "consent_in".into(),
                    channel_field: field.then(|| "channel".into()),
                }),
                holdout,
                attribution,
            },
        )
}

fn uc_policy(numeric: Vec<String>) -> impl Strategy<Value = UcPolicy> {
    let value = if numeric.is_empty() {
        Just(None).boxed()
    } else {
        proptest::option::weighted(
            0.6,
            (select(numeric), select(vec![0.0, 1.0, -5.0]), any::<bool>()).prop_map(|(f, c, add)| {
                if add {
                    Num::Add(Box::new(Num::Feat(f)), Box::new(Num::Const(c)))
                } else {
                    Num::Const(c)
                }
            }),
        )
        .boxed()
    };
    (
        select(vec![0u32, 10, 50, 100]),
        proptest::collection::vec(0usize..4, 4),
        value,
        proptest::option::weighted(
            0.4,
            (
                select(vec![0.0, 0.2, 0.5]),
                proptest::option::of(select(vec!["s1", "s2"])),
            )
                .prop_map(|(share, salt)| Holdout {
                    share,
                    salt: salt.map(String::from),
                }),
        ),
    )
        .prop_map(|(priority, tier_channels, expected_value, holdout)| UcPolicy {
            priority,
            tier_channels,
            expected_value,
            holdout,
        })
}

/// An event the policy reads: consent withdrawn or given (for a channel, all, or none named),
/// or a time zone.
fn extra() -> impl Strategy<Value = (usize, usize, usize, usize, i64)> {
    (
        0usize..1000,
        0usize..3,
        0usize..3,
        0usize..8,
        select(vec![-H, 0, 1, 60_000, H, 6 * H]),
    )
}

fn extra_event((kind, pick): (usize, usize)) -> (String, Map<String, Value>) {
    let mut fields = Map::new();
    let ty = ["consent_out", "consent_in", "profile"][kind];
    if kind < 2 {
        let channels = ["email", "web", "all", "", "crm", "telemarketing", "sms"];
        if let Some(c) = channels.get(pick) {
            fields.insert("channel".into(), Value::from(*c));
        }
    } else {
        let zones = [
            "Europe/Berlin",
            "America/New_York",
            "Asia/Tokyo",
            "",
            "Mars/Olympus",
            "UTC",
        ];
        if let Some(z) = zones.get(pick) {
            fields.insert("tz".into(), Value::from(*z));
        }
    }
    (ty.into(), fields)
}

pub fn policy_case() -> impl Strategy<Value = PolicyCase> {
    crate::generate::case().prop_flat_map(|case| {
        let probe = case.clone();
        let numeric: Vec<String> = case
            .features
            .iter()
            .map(|f| f.name.clone())
            .filter(|n| matches!(probe.feature_type(n), "int" | "double"))
            .collect();
        let ucs = proptest::collection::vec(uc_policy(numeric), case.use_cases.len());
        (
            Just(case),
            proptest::option::weighted(0.9, policy()),
            ucs,
            proptest::collection::vec(extra(), 0..12),
            any::<bool>(),
            proptest::option::weighted(0.3, select(DST.to_vec())),
        )
            .prop_map(|(mut case, policy, ucs, extras, backtest, dst)| {
                // the policy model governs the first slice's use cases: no timers, funnels,
                // models or expiry (those are the other differential test's)
                case.expire_after = None;
                let probe = case.clone();
                let numeric = |f: &str| matches!(probe.feature_type(f), "int" | "double");
                for uc in &mut case.use_cases {
                    uc.timer = None;
                    if uc.triggers.is_empty() {
                        // a timer-only use case: triggered by events instead
                        uc.triggers = vec!["view".into(), "buy".into()];
                    }
                    // a model's linear part over numbers as the score, as a CEL expression
                    if let Some(m) = uc.model.take() {
                        let z = m
                            .coefficients
                            .iter()
                            .filter(|(f, _)| numeric(f))
                            .fold(Num::Const(m.intercept), |z, (f, w)| {
                                Num::Add(Box::new(z), Box::new(Num::Scale(Box::new(Num::Feat(f.clone())), *w)))
                            });
                        uc.score = Some(z);
                    }
                    uc.funnel.clear();
                }
                for (at, customer, kind, pick, step) in extras {
                    let i = at * (case.events.len() + 1) / 1000;
                    let near = case.events.get(i.min(case.events.len().saturating_sub(1)));
                    let ts = near.map_or(crate::generate::T0, |e| e.ts) + step;
                    let (ty, fields) = extra_event((kind, pick));
                    let event = Event {
                        customer: format!("c{customer}"),
                        ty,
                        ts,
                        fields,
                    };
                    case.events.insert(i.min(case.events.len()), event);
                }
                if let Some(at) = dst {
                    let shift = at - 5 * H - crate::generate::T0;
                    for e in &mut case.events {
                        e.ts += shift;
                    }
                }
                let zone = policy.as_ref().and_then(|p| p.quiet_hours.as_ref());
                if zone.is_some_and(|q| q.timezone_feature.is_some()) {
                    case.features.push(Feature {
                        field: Some("tz".into()),
                        ..Feature::new(TZ_FEATURE, Kind::Last, Some(vec!["profile".into()]))
                    });
                }
                PolicyCase {
                    case,
                    policy,
                    ucs,
                    backtest,
                }
            })
    })
}
