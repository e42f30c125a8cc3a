//! Funnel stages (README.md, *Algorithms*: `funnel`): the score places the customer in the
//! highest stage whose `min_score` it reaches; each stage newly reached is a `stage_change`.

use crate::features::V;
use crate::model::{Customer, RefAction, Trigger};
use crate::spec::{UseCase, DAY_MS};

/// Days between two times, rounded to two decimals.
fn days(from: i64, to: i64) -> V {
    V::Double(((to - from) as f64 / DAY_MS as f64 * 100.0).round() / 100.0)
}

/// The customer moves up to the stage `score` reaches (never down); one `stage_change` per
/// stage newly reached, lowest first.
pub fn advance(
    uc: &UseCase,
    customer: &mut Customer,
    customer_id: &str,
    trigger: &Trigger,
    score: f64,
) -> Vec<RefAction> {
    let reached = uc.funnel.iter().filter(|(_, min)| score >= *min).count();
    let (from, since) = customer.stages.get(&uc.id).copied().unwrap_or((0, i64::MIN));
    if reached <= from {
        return Vec::new();
    }
    let now = trigger.now;
    // the customer's first event time (of those it still has), or now
    let first_seen = customer.events.iter().map(|e| e.ts).min().unwrap_or(now).min(now);
    let mut previous_since = if from == 0 { first_seen } else { since };
    let mut changes = Vec::new();
    for stage in from..reached {
        let previous = if stage == 0 {
            String::new()
        } else {
            uc.funnel[stage - 1].0.clone()
        };
        changes.push(RefAction {
            use_case_id: uc.id.clone(),
            customer_id: customer_id.to_string(),
            tier: uc.funnel[stage].0.clone(),
            action_type: "stage_change".into(),
            event_type: trigger.event_type.clone(),
            event_ts: now,
            score: Some(score),
            payload: vec![
                ("days_in_previous_stage".into(), days(previous_since, now)),
                ("days_since_first_seen".into(), days(first_seen, now)),
                ("previous_stage".into(), V::Str(previous)),
                ("stage".into(), V::Str(uc.funnel[stage].0.clone())),
            ],
        });
        previous_since = now;
    }
    customer.stages.insert(uc.id.clone(), (reached, now));
    changes
}
