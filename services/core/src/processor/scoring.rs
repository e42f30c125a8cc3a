//! The use case's score: an expression, a linear or logistic model, an ONNX model or the
//! recommender's best product; computed at most once per evaluation, into reused buffers.

use super::Trigger;
use crate::algo::{self, RecommenderUse, Scorer};
use crate::catalog::{split_var, NS_EVENT, NS_FEATURE};
use crate::event::Event;
use crate::recommend::RecommendScratch;
use crate::state::{event_field, CustomerState, FeatureState};
use crate::usecase::{UseCase, UseCaseSet};
use revenue_expr::{EvalError, Val, VarRef, Vars};

/// Buffers reused between evaluations, so models and recommendations allocate nothing per event.
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) row: Vec<f32>,
    pub(super) recommend: RecommendScratch,
    pub(super) recommended: Vec<(u32, f64)>,
    /// `recommended` holds this evaluation's customer (computed only when needed).
    pub(super) recommended_fresh: bool,
}

/// What an expression reads during an evaluation: features, event fields and the score.
pub(super) struct EvalVars<'x, 'a> {
    pub(super) set: &'x UseCaseSet,
    pub(super) state: &'x CustomerState,
    pub(super) event: &'x Event<'a>,
    pub(super) now: i64,
    pub(super) score: f64,
}

impl<'x, 'a> EvalVars<'x, 'a> {
    /// The variables of an evaluation before any score is known.
    pub(super) fn unscored(set: &'x UseCaseSet, state: &'x CustomerState, trigger: &Trigger<'x, 'a>) -> Self {
        EvalVars {
            set,
            state,
            event: trigger.event,
            now: trigger.now,
            score: 0.0,
        }
    }
}

impl Vars for EvalVars<'_, '_> {
    fn get(&self, var: VarRef) -> Val<'_> {
        let (ns, index) = split_var(var);
        match ns {
            NS_FEATURE => self.state.read(&self.set.catalog, index, self.now),
            NS_EVENT => event_field(&self.set.catalog, self.event, index),
            _ => Val::Double(self.score),
        }
    }

    fn has(&self, var: VarRef) -> bool {
        let (ns, index) = split_var(var);
        ns != NS_EVENT || matches!(self.event.fields.get(index), Some(Some(_)))
    }
}

/// The customer's recommendations into `scratch.recommended`.
pub(super) fn recommend(recommender: &RecommenderUse, state: &CustomerState, scratch: &mut Scratch) {
    if scratch.recommended_fresh {
        return;
    }
    scratch.recommended_fresh = true;
    let recent = |index: usize| match &state.features[index] {
        FeatureState::Recent(recent) => Some(recent),
        _ => None,
    };
    let purchased = recent(recommender.purchased);
    let viewed = recommender.viewed.and_then(recent);
    let history = purchased.into_iter().flat_map(|r| r.values().map(|v| (v, 1.0))).chain(
        viewed
            .into_iter()
            .flat_map(|r| r.values().map(|v| (v, recommender.view_weight))),
    );
    let owned = |item: &str| purchased.is_some_and(|r| r.contains(item));
    recommender.model.recommend(
        history,
        owned,
        recommender.top_k,
        &mut scratch.recommend,
        &mut scratch.recommended,
    );
}

/// The use case's score, computed once per evaluation and only when something needs it.
pub(super) fn score_once(
    uc: &UseCase,
    vars: &EvalVars<'_, '_>,
    score: &mut Option<f64>,
    scratch: &mut Scratch,
) -> Result<f64, EvalError> {
    if let Some(s) = *score {
        return Ok(s);
    }
    let feature = |index: usize| match vars.state.read(&vars.set.catalog, index, vars.now) {
        Val::Bool(b) => f64::from(u8::from(b)),
        value => value.as_f64().unwrap_or(0.0),
    };
    let s = match &uc.scorer {
        None => 0.0,
        Some(Scorer::Expr(expr)) => expr.eval_f64(vars)?,
        Some(Scorer::Linear {
            intercept,
            terms,
            logistic,
        }) => {
            let linear = terms
                .iter()
                .fold(*intercept, |sum, (index, w)| sum + w * feature(*index));
            if *logistic {
                algo::logistic(linear)
            } else {
                linear
            }
        }
        Some(Scorer::Onnx { model, inputs }) => {
            scratch.row.clear();
            scratch.row.extend(inputs.iter().map(|index| feature(*index) as f32));
            model
                .predict(&scratch.row)
                .map_err(|e| EvalError::Model(e.to_string()))?
        }
        Some(Scorer::Recommender) => {
            if let Some(recommender) = &uc.recommender {
                recommend(recommender, vars.state, scratch);
            }
            scratch.recommended.first().map_or(0.0, |(_, s)| *s)
        }
    };
    *score = Some(s);
    Ok(s)
}
