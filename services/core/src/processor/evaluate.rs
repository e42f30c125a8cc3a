//! One use case evaluated for one customer: its rule, the first tier that matches and may act
//! again, and the action that tier builds.

use super::scoring::{recommend, score_once, EvalVars, Scratch};
use super::{action_id, Action, Evaluator, Source, Trigger, Turn};
use crate::state::CustomerState;
use crate::usecase::{Retrigger, Tier, UseCase};
use revenue_expr::EvalError;

/// A use case's decision to act, before the contact policy has spoken.
pub(super) struct Candidate {
    pub(super) index: usize,
    pub(super) tier: usize,
    pub(super) action: Action,
    /// Expected value (NaN when the use case states none).
    pub(super) value: f64,
}

impl Evaluator {
    /// Evaluates use case `index` for the customer; returns its decision to act (funnel stage
    /// changes are measurements, not contacts: they are emitted here).
    pub(super) fn evaluate(&self, index: usize, turn: &mut Turn<'_>, trigger: &Trigger<'_, '_>) -> Option<Candidate> {
        let uc = &self.set.use_cases[index];
        let uc_counters = &mut turn.counters.use_cases[index];
        uc_counters.evaluations += 1;
        let scratch = &mut *turn.scratch;
        scratch.recommended_fresh = false;
        let vars = EvalVars::unscored(&self.set, turn.state, trigger);
        let mut score = None;
        let mut acted = None;
        // one error per evaluation, however many of its expressions fail
        let mut failed = false;
        match decide(uc, &vars, turn.state, &mut score, scratch) {
            Ok(Decision::Act { tier }) => {
                let vars = EvalVars {
                    score: score.unwrap_or(0.0),
                    ..vars
                };
                let value = match &uc.expected_value {
                    None => Ok(f64::NAN),
                    Some(expr) => expr.eval_f64(&vars),
                };
                match (build_action(uc, tier, score, &vars, trigger.source, ""), value) {
                    (Ok(mut action), Ok(value)) => {
                        if let Some(recommender) = &uc.recommender {
                            action.recommendations = scratch
                                .recommended
                                .iter()
                                .map(|(item, s)| (recommender.model.item(*item).to_string(), *s))
                                .collect();
                        }
                        acted = Some(Candidate {
                            index,
                            tier,
                            action,
                            value,
                        });
                    }
                    _ => failed = true,
                }
            }
            Ok(Decision::Blocked) => uc_counters.retrigger_blocked += 1,
            Ok(Decision::None) => {}
            Err(_) => failed = true,
        }
        if let Some(funnel) = &uc.funnel {
            let vars = EvalVars::unscored(&self.set, turn.state, trigger);
            match score_once(uc, &vars, &mut score, scratch) {
                Ok(s) => self.advance_funnel(index, funnel, s, turn, trigger),
                Err(_) => failed = true,
            }
        }
        if failed {
            turn.counters.use_cases[index].errors += 1;
        }
        acted
    }
}

enum Decision {
    Act {
        tier: usize,
    },
    /// A tier matched, but its re-trigger policy stopped it and no later tier acted.
    Blocked,
    None,
}

fn decide(
    uc: &UseCase,
    vars: &EvalVars<'_, '_>,
    state: &CustomerState,
    score: &mut Option<f64>,
    scratch: &mut Scratch,
) -> Result<Decision, EvalError> {
    if let Some(rule) = &uc.rule {
        if !rule.eval_bool(vars)? {
            return Ok(Decision::None);
        }
    }
    if let Some(recommender) = &uc.recommender {
        recommend(recommender, state, scratch);
        if scratch.recommended.is_empty() {
            return Ok(Decision::None); // nothing to recommend
        }
    }
    let mut blocked = false;
    for (index, tier) in uc.tiers.iter().enumerate() {
        if tier.needs_score {
            let s = score_once(uc, vars, score, scratch)?;
            if tier.min_score.is_some_and(|lo| s < lo) || tier.max_score.is_some_and(|hi| s >= hi) {
                continue;
            }
        }
        if let Some(condition) = &tier.when {
            let matched = if tier.needs_score {
                condition.eval_bool(&EvalVars {
                    score: score.unwrap_or(0.0),
                    ..*vars
                })?
            } else {
                condition.eval_bool(vars)?
            };
            if !matched {
                continue;
            }
        }
        if allowed(tier, state, vars.now) {
            if uc.scorer.is_some() {
                score_once(uc, vars, score, scratch)?;
            }
            return Ok(Decision::Act { tier: index });
        }
        blocked = true;
    }
    Ok(if blocked { Decision::Blocked } else { Decision::None })
}

fn allowed(tier: &Tier, state: &CustomerState, now: i64) -> bool {
    match tier.retrigger {
        Retrigger::Always => true,
        Retrigger::Once => state.last_fired(tier.history_key).is_none(),
        Retrigger::Cooldown(ms) => state.last_fired(tier.history_key).is_none_or(|last| now - last >= ms),
    }
}

pub(super) fn build_action(
    uc: &UseCase,
    tier_index: usize,
    score: Option<f64>,
    vars: &EvalVars<'_, '_>,
    source: Source<'_>,
    discriminator: &str,
) -> Result<Action, EvalError> {
    let tier = &uc.tiers[tier_index];
    let mut payload = Vec::with_capacity(tier.payload.len());
    for (name, expr) in &tier.payload {
        payload.push((name.clone(), expr.eval(vars)?.into_owned()));
    }
    let event = vars.event;
    let trigger = (event.customer_id(), event.event_type(), vars.now);
    Ok(new_action(
        uc,
        tier_index,
        score,
        trigger,
        source,
        discriminator,
        payload,
    ))
}

/// The action of a use case's tier with its payload given: for (customer, event type, time)
/// from `source`.
pub(super) fn new_action(
    uc: &UseCase,
    tier_index: usize,
    score: Option<f64>,
    (customer_id, event_type, now): (&str, &str, i64),
    source: Source<'_>,
    discriminator: &str,
    payload: Vec<(std::sync::Arc<str>, revenue_expr::Val<'static>)>,
) -> Action {
    let tier = &uc.tiers[tier_index];
    Action {
        action_id: action_id(&uc.id, uc.version, customer_id, source, discriminator),
        use_case_id: uc.id.clone(),
        use_case_version: uc.version,
        status: uc.status,
        tier: tier.name.clone(),
        action_type: tier.action_type.clone(),
        channel: tier.channel.clone(),
        topic: tier.topic.clone(),
        customer_id: customer_id.to_string(),
        event_type: event_type.to_string(),
        event_ts: now,
        score,
        payload,
        recommendations: Vec::new(),
        decided_at: None,
        source_topic: source.topic.to_string(),
        source_partition: source.partition,
        source_offset: source.offset,
    }
}
