//! Timers, funnels, linear and logistic models and `expire_after`, drawn apart from the use
//! cases and then fitted to them ([`assemble`]), so that every generated directory validates.

use super::{types, H};
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use revenue_reference::spec::*;

/// `expire_after` choices: a few gaps of the event streams (1 h … 45 d) exceed them.
pub const EXPIRE_AFTER: [i64; 4] = [2 * DAY_MS, 3 * DAY_MS, 10 * DAY_MS, 60 * DAY_MS];
/// Timer `after` choices; those not shorter than `expire_after` are shortened (validate refuses
/// a timer that could never fire).
// no shorter: a timer its own actions restart fires once per `after` through a 45-day gap
const AFTER: [i64; 5] = [H, 6 * H, DAY_MS, 3 * DAY_MS, 7 * DAY_MS];
const FUNNEL: [f64; 6] = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0];

/// (after, start_on, start_on_actions as (use case, tier or any), cancel_on, wall clock).
type RawTimer = (
    i64,
    Option<Vec<String>>,
    Vec<(usize, Option<usize>)>,
    Option<Vec<String>>,
    bool,
);
/// (logistic, intercept, (feature pick, weight)).
type RawModel = (bool, f64, Vec<(usize, f64)>);

#[derive(Debug, Clone)]
pub struct Extras {
    timer: Option<RawTimer>,
    no_triggers: bool,
    model: Option<RawModel>,
    funnel: Option<Vec<f64>>,
}

pub fn extras() -> impl Strategy<Value = Extras> {
    let timer = (
        select(AFTER.to_vec()),
        proptest::option::weighted(0.7, types()),
        proptest::collection::vec((0usize..3, proptest::option::weighted(0.6, 0usize..3)), 0..3),
        proptest::option::weighted(0.4, types()),
        proptest::bool::weighted(0.3),
    );
    let model = (
        any::<bool>(),
        select(vec![-2.0, 0.0, 1.0, 0.25]),
        proptest::collection::vec((0usize..8, select(vec![0.5, -1.0, 2.0, 0.1, 1e-3])), 1..4),
    );
    (
        proptest::option::weighted(0.45, timer),
        proptest::bool::weighted(0.3),
        proptest::option::weighted(0.3, model),
        proptest::option::weighted(0.35, subsequence(FUNNEL.to_vec(), 1..=4)),
    )
        .prop_map(|(timer, no_triggers, model, funnel)| Extras {
            timer,
            no_triggers,
            model,
            funnel,
        })
}

/// Fits the extras to the case's use cases: timers shorter than `expire_after` and started by
/// something, action links only to tiers that exist (a live timer only on live use cases'
/// actions), model terms over numeric features, funnels only with a score.
pub fn assemble(case: &mut Case, extras: Vec<Extras>) {
    let numeric: Vec<String> = case
        .features
        .iter()
        .map(|f| f.name.clone())
        .filter(|n| matches!(case.feature_type(n), "int" | "double" | "bool"))
        .collect();
    let shape: Vec<(String, Status, Vec<String>)> = case
        .use_cases
        .iter()
        .map(|u| (u.id.clone(), u.status, u.tiers.iter().map(|t| t.name.clone()).collect()))
        .collect();
    for (uc, extra) in case.use_cases.iter_mut().zip(extras) {
        if let (Some((logistic, intercept, terms)), false) = (extra.model, numeric.is_empty()) {
            let mut coefficients: Vec<(String, f64)> = Vec::new();
            for (pick, w) in terms {
                let name = &numeric[pick % numeric.len()];
                if !coefficients.iter().any(|(n, _)| n == name) {
                    coefficients.push((name.clone(), w));
                }
            }
            coefficients.sort_by(|a, b| a.0.cmp(&b.0));
            uc.score = None;
            uc.model = Some(Model {
                logistic,
                intercept,
                coefficients,
            });
        }
        if let (Some(stages), true) = (extra.funnel, uc.score.is_some() || uc.model.is_some()) {
            uc.funnel = stages
                .into_iter()
                .enumerate()
                .map(|(i, m)| (format!("s{i}"), m))
                .collect();
        }
        let Some((after, start_on, actions, cancel_on, wall_clock)) = extra.timer else {
            continue;
        };
        let after = case.expire_after.map_or(after, |ttl| after.min(ttl / 2));
        let mut start_on_actions = Vec::new();
        for (source, tier) in actions {
            let Some((id, status, tiers)) = shape.get(source) else {
                continue;
            };
            if uc.status == Status::Live && *status != Status::Live {
                continue;
            }
            let tier = tier.and_then(|t| tiers.get(t).cloned());
            if !start_on_actions.contains(&(id.clone(), tier.clone())) {
                start_on_actions.push((id.clone(), tier));
            }
        }
        let mut start_on = start_on.unwrap_or_default();
        if start_on.is_empty() && start_on_actions.is_empty() {
            start_on.push("view".into());
        }
        uc.timer = Some(Timer {
            after,
            start_on,
            start_on_actions,
            cancel_on: cancel_on.unwrap_or_default(),
            wall_clock,
        });
        if extra.no_triggers {
            uc.triggers.clear();
        }
    }
}
