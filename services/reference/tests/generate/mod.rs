//! Random cases: feature catalogs of every kind, use cases of every tier and re-trigger form,
//! event streams with late events, duplicate timestamps, absent, extra and extreme fields;
//! timers, funnels, models and `expire_after` ([`algo`]).

mod algo;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use revenue_reference::spec::*;
use serde_json::{Map, Value};

pub(crate) const H: i64 = 3_600_000;
const TYPES: [&str; 3] = ["view", "buy", "click"];
/// The first event's time (not aligned to any bucket).
pub const T0: i64 = 1_700_000_000_123;

pub(crate) fn types() -> impl Strategy<Value = Vec<String>> {
    subsequence(TYPES.to_vec(), 1..=3).prop_map(|v| v.into_iter().map(String::from).collect())
}

fn pred() -> impl Strategy<Value = Pred> {
    let leaf = prop_oneof![
        select(vec!["page", "product", "amount", "secs", "qty", "ok"]).prop_map(|f| Pred::Has(f.into())),
        (
            select(vec!["page", "product"]),
            select(vec!["pricing", "home", "A", ""])
        )
            .prop_map(|(f, s)| Pred::StrEq(f.into(), s.into())),
        select(vec![0.0, 5.0, 100.0]).prop_map(|c| Pred::DoubleGt("amount".into(), c)),
        (select(vec!["secs", "qty"]), select(vec![0i64, 10, 30])).prop_map(|(f, c)| Pred::IntGe(f.into(), c)),
        Just(Pred::Bool("ok".into())),
    ];
    leaf.prop_recursive(2, 4, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|p| Pred::Not(Box::new(p))),
            (inner.clone(), inner).prop_map(|(a, b)| Pred::And(Box::new(a), Box::new(b))),
        ]
    })
}

const WINDOWS: [i64; 6] = [45_000, H, 90 * 60_000, DAY_MS, 7 * DAY_MS, 30 * DAY_MS];
const BUCKETS: [i64; 8] = [1_000, 10_000, 60_000, 15 * 60_000, H, 6 * H, DAY_MS, 2 * DAY_MS];

fn feature() -> impl Strategy<Value = Feature> {
    let kinds = vec![
        Kind::Count,
        Kind::Sum,
        Kind::Min,
        Kind::Max,
        Kind::Last,
        Kind::FirstTs,
        Kind::LastTs,
        Kind::DistinctCount,
        Kind::DaysSince,
        Kind::Points,
        Kind::Recent,
    ];
    let rule = (
        proptest::option::of(types()),
        proptest::option::weighted(0.4, pred()),
        select(vec![1.0, 5.0, 10.0, -3.0, 0.5]),
    )
        .prop_map(|(events, filter, points)| PointsRule { events, filter, points });
    (
        select(kinds),
        proptest::option::of(types()),
        proptest::option::weighted(0.4, pred()),
        (0usize..6, 0usize..4),
        proptest::option::weighted(0.5, select(WINDOWS.to_vec())),
        proptest::option::weighted(0.3, select(BUCKETS.to_vec())),
        proptest::option::weighted(0.4, 1u32..5),
        proptest::option::weighted(0.6, select(vec![H, DAY_MS, 14 * DAY_MS])),
        proptest::collection::vec(rule, 1..4),
    )
        .prop_map(
            |(kind, events, filter, (fi, di), window, bucket, max_distinct, half_life, rules)| {
                let field = match kind {
                    Kind::Sum | Kind::Min | Kind::Max => Some(["amount", "secs", "qty"][fi % 3]),
                    Kind::Last => Some(["page", "product", "amount", "secs", "qty", "ok"][fi]),
                    Kind::DistinctCount => Some(["page", "product", "qty", "ok"][di]),
                    Kind::Recent => Some(["page", "product", "qty", "ok"][di]),
                    _ => None,
                };
                let bucket = match (window, bucket) {
                    (Some(w), Some(b)) if w % b == 0 && w / b <= 1024 => Some(b),
                    _ => None,
                };
                let mut f = Feature {
                    name: String::new(),
                    kind,
                    events,
                    filter,
                    field: field.map(String::from),
                    window,
                    bucket,
                    max_distinct: max_distinct.filter(|_| matches!(kind, Kind::DistinctCount | Kind::Recent)),
                    of: None,
                    half_life: None,
                    points: Vec::new(),
                };
                match kind {
                    Kind::Recent => (f.window, f.bucket) = (None, None),
                    Kind::DaysSince => {
                        (f.events, f.filter, f.window, f.bucket) = (None, None, None, None);
                    }
                    Kind::Points => {
                        (f.events, f.filter) = (None, None);
                        f.points = rules;
                        if half_life.is_some() {
                            (f.half_life, f.window, f.bucket) = (half_life, None, None);
                        }
                    }
                    _ => {}
                }
                f
            },
        )
}

/// The catalog: names assigned; each `days_since` reads its own `last_ts` / `first_ts` feature.
fn catalog() -> impl Strategy<Value = Vec<Feature>> {
    proptest::collection::vec((feature(), any::<bool>(), proptest::option::of(types())), 1..6).prop_map(|fs| {
        let mut out = Vec::new();
        for (i, (mut f, first, events)) in fs.into_iter().enumerate() {
            f.name = format!("f{i}");
            if f.kind == Kind::DaysSince {
                let of = Feature::new(
                    format!("f{i}_ts"),
                    if first { Kind::FirstTs } else { Kind::LastTs },
                    events,
                );
                f.of = Some(of.name.clone());
                out.push(of);
            }
            out.push(f);
        }
        out
    })
}

fn num(names: Vec<String>) -> impl Strategy<Value = Num> {
    let leaf = prop_oneof![
        select(names).prop_map(Num::Feat),
        select(vec![0.0, 1.0, -2.0]).prop_map(Num::Const),
    ];
    leaf.prop_recursive(2, 4, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Num::Add(Box::new(a), Box::new(b))),
            (inner, select(vec![0.5, 2.0, -1.0])).prop_map(|(a, c)| Num::Scale(Box::new(a), c)),
        ]
    })
}

const THRESHOLDS: [f64; 6] = [8.0, 4.0, 2.0, 1.0, 0.5, 0.0];

fn cond(case_features: &[Feature], score: bool) -> BoxedStrategy<Cond> {
    let probe = Case {
        expire_after: None,
        features: case_features.to_vec(),
        use_cases: Vec::new(),
        events: Vec::new(),
    };
    let typed = |t: &str| -> Vec<String> {
        let names = case_features.iter().map(|f| f.name.clone());
        names.filter(|n| probe.feature_type(n) == t).collect()
    };
    let numeric: Vec<String> = case_features
        .iter()
        .map(|f| f.name.clone())
        .filter(|n| matches!(probe.feature_type(n), "int" | "double"))
        .collect();
    let mut leaves: Vec<BoxedStrategy<Cond>> = Vec::new();
    if !numeric.is_empty() {
        leaves.push(
            (num(numeric.clone()), select(THRESHOLDS.to_vec()))
                .prop_map(|(n, c)| Cond::Ge(n, c))
                .boxed(),
        );
        leaves.push(
            (num(numeric), select(THRESHOLDS.to_vec()))
                .prop_map(|(n, c)| Cond::Lt(n, c))
                .boxed(),
        );
    }
    let strings = typed("string");
    if !strings.is_empty() {
        leaves.push(
            (select(strings), select(vec!["pricing", "A", ""]))
                .prop_map(|(f, s)| Cond::StrEq(f, s.into()))
                .boxed(),
        );
    }
    let bools = typed("bool");
    if !bools.is_empty() {
        leaves.push(select(bools).prop_map(Cond::Bool).boxed());
    }
    if score {
        leaves.push(select(THRESHOLDS.to_vec()).prop_map(Cond::ScoreGe).boxed());
    }
    if leaves.is_empty() {
        leaves.push(Just(Cond::Ge(Num::Const(1.0), 0.0)).boxed());
    }
    let leaf = proptest::strategy::Union::new(leaves);
    leaf.prop_recursive(2, 4, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| Cond::Not(Box::new(c))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
    .boxed()
}

fn retrigger() -> impl Strategy<Value = Retrigger> {
    prop_oneof![
        Just(Retrigger::Once),
        Just(Retrigger::Always),
        select(vec![60_000, H, DAY_MS, 7 * DAY_MS]).prop_map(Retrigger::Cooldown),
    ]
}

fn use_case(features: Vec<Feature>, index: usize) -> impl Strategy<Value = UseCase> {
    let names: Vec<String> = features.iter().map(|f| f.name.clone()).collect();
    let probe = Case {
        expire_after: None,
        features: features.clone(),
        use_cases: Vec::new(),
        events: Vec::new(),
    };
    let numeric: Vec<String> = names
        .iter()
        .filter(|n| matches!(probe.feature_type(n), "int" | "double"))
        .cloned()
        .collect();
    let score = if numeric.is_empty() {
        Just(None).boxed()
    } else {
        proptest::option::weighted(0.8, num(numeric)).boxed()
    };
    let status = prop_oneof![
        6 => Just(Status::Live),
        1 => Just(Status::Shadow),
        1 => Just(Status::Draft),
        1 => Just(Status::Retired),
    ];
    (
        status,
        types(),
        proptest::option::weighted(0.3, cond(&features, false)),
        score,
    )
        .prop_flat_map(move |(status, triggers, rule, score)| {
            let has_score = score.is_some();
            let tier = (
                0usize..4,
                proptest::option::weighted(0.5, cond(&features, has_score)),
                proptest::option::weighted(0.3, retrigger()),
                proptest::collection::vec(
                    prop_oneof![
                        Just(PayloadExpr::Score),
                        select(names.clone()).prop_map(PayloadExpr::Feat)
                    ],
                    0..3,
                ),
                any::<bool>(),
            );
            (
                Just((status, triggers, rule, score, names.clone())),
                proptest::option::weighted(0.7, retrigger()),
                proptest::collection::vec(tier, 1..4),
                0usize..3,
            )
        })
        .prop_map(move |((status, triggers, rule, score, names), retrigger, tiers, t0)| {
            let has_score = score.is_some();
            let mut next = t0;
            let tiers = tiers
                .into_iter()
                .enumerate()
                .map(|(i, (form, when, retrigger, payload, open))| {
                    // threshold tiers take disjoint ranges, highest first
                    let threshold = has_score && form != 2;
                    let (min_score, max_score) = if threshold && next < THRESHOLDS.len() {
                        let min = THRESHOLDS[next];
                        let max = if next == t0 && open {
                            None
                        } else {
                            Some(THRESHOLDS[next.saturating_sub(1)])
                        };
                        next += 1;
                        (Some(min), max.filter(|m| *m > min))
                    } else {
                        (None, None)
                    };
                    let when = if min_score.is_none() || form == 3 {
                        when.or(Some(Cond::Ge(Num::Const(1.0), 0.0)))
                    } else {
                        None
                    };
                    let payload = payload
                        .into_iter()
                        .filter(|e| has_score || !matches!(e, PayloadExpr::Score))
                        .enumerate()
                        .map(|(k, e)| (format!("p{k}"), e))
                        .collect();
                    Tier {
                        name: format!("t{i}"),
                        min_score,
                        max_score,
                        when,
                        retrigger,
                        payload,
                    }
                })
                .collect();
            // `algo` needs a `rule` or a `score`
            let rule = if rule.is_none() && score.is_none() {
                Some(Cond::Ge(Num::Const(1.0), 0.0))
            } else {
                rule
            };
            UseCase {
                id: format!("uc{index}"),
                status,
                triggers,
                features: names,
                rule,
                score,
                model: None,
                funnel: Vec::new(),
                timer: None,
                retrigger,
                tiers,
            }
        })
}

/// Forward steps of the stream's cursor and, negative, how late an event arrives.
const STEPS: [i64; 19] = [
    0,
    1,
    999,
    1_000,
    60_000,
    H,
    DAY_MS,
    7 * DAY_MS,
    30 * DAY_MS,
    45 * DAY_MS,
    -1,
    -60_000,
    -H,
    -DAY_MS,
    -7 * DAY_MS,
    -30 * DAY_MS,
    -90 * DAY_MS,
    -400 * DAY_MS,
    0,
];

fn value(field: &str, pick: usize) -> Value {
    match field {
        "page" => Value::from(["pricing", "home", "A", ""][pick % 4]),
        "product" => Value::from(["A", "B", "C", "pricing"][pick % 4]),
        "amount" => Value::from([0.0, 1.0, 2.5, 10.0, 100.0, -3.0, 1e15, 0.5][pick % 8]),
        "secs" => Value::from([0i64, 5, 30, 120, 7, 45, i64::MAX, 1][pick % 8]),
        "qty" => Value::from([0i64, 1, 3, -2, 1_000_000_000_000, 2, 4, i64::MIN][pick % 8]),
        _ => Value::from(pick.is_multiple_of(2)),
    }
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let event = (
        0usize..3,
        0usize..3,
        select(STEPS.to_vec()),
        proptest::collection::vec(proptest::option::weighted(0.8, 0usize..8), 3),
        any::<bool>(),
    );
    proptest::collection::vec(event, 1..40).prop_map(|raw| {
        let mut cursor = T0;
        raw.into_iter()
            .map(|(customer, ty, step, picks, extra)| {
                let ts = if step >= 0 {
                    cursor += step;
                    cursor
                } else {
                    cursor + step
                };
                let (name, fields) = EVENT_TYPES[ty];
                let mut map = Map::new();
                for ((field, _), pick) in fields.iter().zip(picks) {
                    if let Some(pick) = pick {
                        map.insert((*field).into(), value(field, pick));
                    }
                }
                if extra {
                    map.insert("junk".into(), Value::from(1));
                }
                Event {
                    customer: format!("c{customer}"),
                    ty: name.into(),
                    ts,
                    fields: map,
                }
            })
            .collect()
    })
}

pub fn case() -> impl Strategy<Value = Case> {
    catalog().prop_flat_map(|features| {
        let ucs = (0..3).map(|i| use_case(features.clone(), i)).collect::<Vec<_>>();
        let extras = proptest::collection::vec(algo::extras(), 3);
        (
            Just(features),
            ucs,
            1usize..=3,
            events(),
            proptest::option::weighted(0.4, select(algo::EXPIRE_AFTER.to_vec())),
            extras,
        )
            .prop_map(|(features, mut ucs, n, events, expire_after, extras)| {
                ucs.truncate(n);
                let mut case = Case {
                    expire_after,
                    features,
                    use_cases: ucs,
                    events,
                };
                algo::assemble(&mut case, extras);
                case
            })
    })
}

/// Runs `check` on `cases` generated values (`REFERENCE_CASES` overrides it, scaled by
/// `share`), shrinking a failure to a minimal one and panicking with its message.
pub fn run_cases<T: std::fmt::Debug>(
    strategy: impl Strategy<Value = T>,
    (cases, share): (u32, u32),
    check: impl Fn(T) -> Result<(), proptest::test_runner::TestCaseError>,
) {
    let soak = std::env::var("REFERENCE_CASES")
        .ok()
        .and_then(|n| n.parse::<u32>().ok());
    let config = proptest::test_runner::Config {
        cases: soak.map_or(cases, |n| (n / share).max(1)),
        failure_persistence: None,
        max_shrink_iters: 4_000,
        max_shrink_time: 60_000,
        ..proptest::test_runner::Config::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    match runner.run(&strategy, check) {
        Ok(()) => {}
        Err(proptest::test_runner::TestError::Fail(reason, _)) => panic!("minimal mismatch: {reason}"),
        Err(e) => panic!("{e}"),
    }
}
