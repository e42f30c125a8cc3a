//! Evaluation: one event against one customer's state and the use cases it triggers. The live
//! engine and offline `replay` both call [`Processor::process`], so their results are identical.

use crate::catalog::{split_var, NS_EVENT, NS_FEATURE};
use crate::event::Event;
use crate::expr::{EvalError, Val, VarRef, Vars};
use crate::spec::Status;
use crate::state::{event_field, CustomerState};
use crate::usecase::{Retrigger, Tier, UseCase, UseCaseSet};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::sync::Arc;

/// Which use cases are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The live engine: `shadow` and `live` use cases; only `live` ones emit.
    Engine,
    /// Back-testing: `draft`, `shadow` and `live` use cases, all reported.
    BackTest,
}

impl Mode {
    fn evaluates(self, status: Status) -> bool {
        match status {
            Status::Live | Status::Shadow => true,
            Status::Draft => self == Mode::BackTest,
            Status::Retired => false,
        }
    }
}

/// Where an event came from: Kafka coordinates, or a file and line for replay.
#[derive(Debug, Clone, Copy)]
pub struct Source<'s> {
    pub topic: &'s str,
    pub partition: i32,
    pub offset: i64,
}

/// One decision to act.
#[derive(Debug, Clone)]
pub struct Action {
    /// Deterministic: the same event and use case version always give the same id.
    pub action_id: String,
    pub use_case_id: Arc<str>,
    pub use_case_version: u32,
    pub status: Status,
    pub tier: Arc<str>,
    pub action_type: Arc<str>,
    pub channel: Arc<str>,
    pub topic: Arc<str>,
    pub customer_id: String,
    pub event_type: String,
    pub event_ts: i64,
    pub score: Option<f64>,
    pub payload: Vec<(Arc<str>, Val<'static>)>,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

impl Action {
    /// Whether the action goes to its topic (only `live` use cases act).
    pub fn emits(&self) -> bool {
        self.status == Status::Live
    }
}

/// Counters per use case, in the set's order.
#[derive(Debug, Clone, Default)]
pub struct UseCaseCounters {
    pub evaluations: u64,
    /// Actions by tier index.
    pub actions_by_tier: Vec<u64>,
    /// A tier's condition held but its re-trigger policy stopped it.
    pub retrigger_blocked: u64,
    /// Evaluations that failed at run time (e.g. integer overflow); no action was taken.
    pub errors: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub events: u64,
    /// Events whose type the catalog does not declare: they change nothing.
    pub unknown_type: u64,
    pub use_cases: Vec<UseCaseCounters>,
}

impl Counters {
    pub fn for_set(set: &UseCaseSet) -> Counters {
        Counters {
            events: 0,
            unknown_type: 0,
            use_cases: set
                .use_cases
                .iter()
                .map(|uc| UseCaseCounters {
                    actions_by_tier: vec![0; uc.tiers.len()],
                    ..Default::default()
                })
                .collect(),
        }
    }
}

pub struct Processor {
    set: Arc<UseCaseSet>,
    mode: Mode,
}

struct EvalVars<'x, 'a> {
    set: &'x UseCaseSet,
    state: &'x CustomerState,
    event: &'x Event<'a>,
    now: i64,
    score: f64,
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

impl Processor {
    pub fn new(set: Arc<UseCaseSet>, mode: Mode) -> Processor {
        Processor { set, mode }
    }

    pub fn set(&self) -> &Arc<UseCaseSet> {
        &self.set
    }

    /// Updates the customer's features with the event, then evaluates every use case the event
    /// triggers; each decision to act is handed to `act`. At most one action per use case.
    pub fn process(
        &self,
        state: &mut CustomerState,
        event: &Event<'_>,
        source: Source<'_>,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) {
        counters.events += 1;
        let catalog = &self.set.catalog;
        state.apply(catalog, event);
        let Some(type_index) = event.type_index else {
            counters.unknown_type += 1;
            return;
        };
        let now = event.ts();
        for (index, uc) in self.set.use_cases.iter().enumerate() {
            if uc.trigger_mask & (1 << type_index) == 0 || !self.mode.evaluates(uc.status) {
                continue;
            }
            let uc_counters = &mut counters.use_cases[index];
            uc_counters.evaluations += 1;
            let vars = EvalVars {
                set: &self.set,
                state,
                event,
                now,
                score: 0.0,
            };
            match decide(uc, &vars, state) {
                Ok(Decision::Act { tier, score }) => {
                    uc_counters.actions_by_tier[tier] += 1;
                    let vars = EvalVars {
                        score: score.unwrap_or(0.0),
                        ..vars
                    };
                    match build_action(uc, tier, score, &vars, source) {
                        Ok(action) => {
                            state.record_fired(uc.tiers[tier].history_key, now);
                            act(action);
                        }
                        Err(_) => {
                            uc_counters.actions_by_tier[tier] -= 1;
                            uc_counters.errors += 1;
                        }
                    }
                }
                Ok(Decision::Blocked) => uc_counters.retrigger_blocked += 1,
                Ok(Decision::None) => {}
                Err(_) => uc_counters.errors += 1,
            }
        }
    }
}

enum Decision {
    Act {
        tier: usize,
        score: Option<f64>,
    },
    /// A tier matched, but its re-trigger policy stopped it and no later tier acted.
    Blocked,
    None,
}

fn decide(uc: &UseCase, vars: &EvalVars<'_, '_>, state: &CustomerState) -> Result<Decision, EvalError> {
    if let Some(rule) = &uc.rule {
        if !rule.eval_bool(vars)? {
            return Ok(Decision::None);
        }
    }
    // the score is computed once, and only when a tier or the action needs it
    let mut score: Option<f64> = None;
    let compute_score = |score: &mut Option<f64>| -> Result<f64, EvalError> {
        if let Some(s) = *score {
            return Ok(s);
        }
        let s = match &uc.score {
            Some(expr) => expr.eval_f64(vars)?,
            None => 0.0,
        };
        *score = Some(s);
        Ok(s)
    };
    let mut blocked = false;
    for (index, tier) in uc.tiers.iter().enumerate() {
        if tier.needs_score {
            let s = compute_score(&mut score)?;
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
            let score = match &uc.score {
                Some(_) => Some(compute_score(&mut score)?),
                None => None,
            };
            return Ok(Decision::Act { tier: index, score });
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

fn build_action(
    uc: &UseCase,
    tier_index: usize,
    score: Option<f64>,
    vars: &EvalVars<'_, '_>,
    source: Source<'_>,
) -> Result<Action, EvalError> {
    let tier = &uc.tiers[tier_index];
    let mut payload = Vec::with_capacity(tier.payload.len());
    for (name, expr) in &tier.payload {
        payload.push((name.clone(), expr.eval(vars)?.into_owned()));
    }
    let customer_id = vars.event.customer_id();
    Ok(Action {
        action_id: action_id(&uc.id, uc.version, customer_id, source),
        use_case_id: uc.id.clone(),
        use_case_version: uc.version,
        status: uc.status,
        tier: tier.name.clone(),
        action_type: tier.action_type.clone(),
        channel: tier.channel.clone(),
        topic: tier.topic.clone(),
        customer_id: customer_id.to_string(),
        event_type: vars.event.event_type().to_string(),
        event_ts: vars.now,
        score,
        payload,
        source_topic: source.topic.to_string(),
        source_partition: source.partition,
        source_offset: source.offset,
    })
}

/// 128-bit hash of use case id, version, customer and source position, as 32 hex digits.
pub fn action_id(use_case_id: &str, version: u32, customer_id: &str, source: Source<'_>) -> String {
    let mut key = Vec::with_capacity(use_case_id.len() + customer_id.len() + source.topic.len() + 24);
    for part in [use_case_id.as_bytes(), customer_id.as_bytes(), source.topic.as_bytes()] {
        key.extend_from_slice(part);
        key.push(0);
    }
    key.extend_from_slice(&version.to_le_bytes());
    key.extend_from_slice(&source.partition.to_le_bytes());
    key.extend_from_slice(&source.offset.to_le_bytes());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key))
}

pub(crate) fn val_to_json(value: &Val<'_>) -> serde_json::Value {
    match value {
        Val::Bool(b) => serde_json::Value::Bool(*b),
        Val::Int(i) => serde_json::Value::from(*i),
        Val::Double(d) => serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Val::Str(s) => serde_json::Value::String(s.to_string()),
    }
}

#[derive(Serialize)]
struct SourceJson<'s> {
    topic: &'s str,
    partition: i32,
    offset: i64,
}

struct Payload<'p>(&'p [(Arc<str>, Val<'static>)]);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name.as_ref(), &val_to_json(value))?;
        }
        map.end()
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("action_id", &self.action_id)?;
        map.serialize_entry("use_case_id", self.use_case_id.as_ref())?;
        map.serialize_entry("use_case_version", &self.use_case_version)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("tier", self.tier.as_ref())?;
        map.serialize_entry("action_type", self.action_type.as_ref())?;
        map.serialize_entry("channel", self.channel.as_ref())?;
        map.serialize_entry("topic", self.topic.as_ref())?;
        map.serialize_entry("customer_id", &self.customer_id)?;
        map.serialize_entry("event_type", &self.event_type)?;
        map.serialize_entry("event_ts", &self.event_ts)?;
        map.serialize_entry("score", &self.score)?;
        map.serialize_entry("payload", &Payload(&self.payload))?;
        map.serialize_entry(
            "source",
            &SourceJson {
                topic: &self.source_topic,
                partition: self.source_partition,
                offset: self.source_offset,
            },
        )?;
        map.end()
    }
}
