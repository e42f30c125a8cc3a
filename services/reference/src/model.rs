//! The reference model: every event of every customer kept; at each event every feature and
//! every triggered use case's decision recomputed (README.md, *A use case* and *Statuses*).
//! Timers and expiry: [`crate::timers`]; funnel stages: [`crate::funnel`].

use crate::features::{clock, values, values_at, V};
use crate::policy::{Candidate, Gate};
use crate::spec::{Cond, Event, Feature, Num, PayloadExpr, Retrigger, Status, Tier, UseCase};
use crate::{funnel, timers};
use std::collections::BTreeMap;

/// An action the README says the stream yields (`live` use cases only).
#[derive(Debug, Clone, PartialEq)]
pub struct RefAction {
    pub use_case_id: String,
    pub customer_id: String,
    pub tier: String,
    /// The tier's type (`crm_task` in generated cases) or `stage_change`.
    pub action_type: String,
    /// The triggering event's type, or `timer`.
    pub event_type: String,
    pub event_ts: i64,
    pub score: Option<f64>,
    /// Sorted by name.
    pub payload: Vec<(String, V)>,
}

/// What one event yields: the customer's feature values after it, in catalog order, and the
/// actions in the order they are emitted: those of timers that came due before it, then its
/// own (funnel stage changes first, then tier actions, each by use-case id).
#[derive(Debug, Clone)]
pub struct Step {
    pub features: Vec<V>,
    pub actions: Vec<RefAction>,
}

/// Everything kept about one customer: its state, which `expire_after` deletes whole.
#[derive(Debug, Default, Clone)]
pub struct Customer {
    pub events: Vec<Event>,
    /// The re-trigger history: per use case id and tier name, the times it acted.
    pub fired: BTreeMap<(String, String), Vec<i64>>,
    /// Running timers: use case id → due time.
    pub timers: BTreeMap<String, i64>,
    /// Funnel stage per use case: (stages reached, time the last was reached).
    pub stages: BTreeMap<String, (usize, i64)>,
}

/// What an evaluation answers: the event type (`timer` for a timer) and its time.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub event_type: String,
    pub now: i64,
}

/// A use case's decision to act for a customer, before the contact policy.
#[derive(Debug, Clone)]
pub struct Decision {
    pub use_case: usize,
    pub tier: usize,
    pub action: RefAction,
}

#[derive(Debug, Default)]
pub struct Reference {
    pub(crate) features: Vec<Feature>,
    pub(crate) use_cases: Vec<UseCase>,
    pub(crate) expire_after: Option<i64>,
    pub(crate) customers: BTreeMap<String, Customer>,
    /// The latest event time read so far.
    pub(crate) watermark: i64,
    /// The contact policy every decision to act goes through, when the case has one (cases
    /// without timers, funnels, models or expiry: `tests/policy_differential.rs`).
    pub gate: Option<Gate>,
}

impl Reference {
    pub fn new(features: &[Feature], use_cases: &[UseCase], expire_after: Option<i64>) -> Reference {
        let mut use_cases = use_cases.to_vec();
        use_cases.sort_by(|a, b| a.id.cmp(&b.id));
        Reference {
            features: features.to_vec(),
            use_cases,
            expire_after,
            watermark: i64::MIN,
            ..Reference::default()
        }
    }

    /// Whether a use case is evaluated at all (in the engine, not back-testing).
    pub(crate) fn evaluated(uc: &UseCase) -> bool {
        matches!(uc.status, Status::Live | Status::Shadow)
    }

    pub fn step(&mut self, event: &Event) -> Step {
        if self.gate.is_some() {
            return self.step_governed(event);
        }
        let mut actions = Vec::new();
        self.watermark = self.watermark.max(event.ts);
        timers::fire_due(self, self.watermark, &mut actions);
        let customer = self.customers.entry(event.customer.clone()).or_default();
        customer.events.push(event.clone());
        timers::on_event(&self.use_cases, customer, event);
        let trigger = Trigger {
            event_type: event.ty.clone(),
            now: event.ts,
        };
        let triggered: Vec<usize> = (0..self.use_cases.len())
            .filter(|&i| Self::evaluated(&self.use_cases[i]) && self.use_cases[i].triggers.contains(&event.ty))
            .collect();
        self.evaluate_all(&event.customer, &triggered, &trigger, &mut actions);
        let features = values(&self.features, &self.customers[&event.customer].events);
        Step { features, actions }
    }

    /// The end of the input: what is due by the latest event time fires; nothing later does.
    pub fn finish(&mut self) -> Vec<RefAction> {
        if let Some(gate) = &mut self.gate {
            gate.finish();
        }
        let mut actions = Vec::new();
        timers::fire_due(self, self.watermark, &mut actions);
        actions
    }

    /// Evaluates `use_cases` (indices, in id order) for the customer at `trigger`: stage
    /// changes are emitted as each is evaluated, then the decisions to act in order.
    pub(crate) fn evaluate_all(
        &mut self,
        customer: &str,
        use_cases: &[usize],
        trigger: &Trigger,
        actions: &mut Vec<RefAction>,
    ) {
        let mut decisions = Vec::new();
        for &index in use_cases {
            decisions.extend(self.evaluate(index, customer, trigger, actions));
        }
        for decision in decisions {
            self.act(customer, decision, trigger.now, actions);
        }
    }

    /// Use case `index` for `customer` at `trigger`: its rule, score, funnel and the first tier
    /// that matches and may act. Windows end at the later of the customer's clock and the
    /// trigger's time (a due timer reads them as of its due time), `days_since` is to it.
    pub(crate) fn evaluate(
        &mut self,
        index: usize,
        customer_id: &str,
        trigger: &Trigger,
        actions: &mut Vec<RefAction>,
    ) -> Option<Decision> {
        let uc = &self.use_cases[index];
        let customer = self.customers.get_mut(customer_id)?;
        let now = trigger.now;
        let at = clock(&customer.events).map_or(now, |c| c.max(now));
        let features = values_at(&self.features, &customer.events, now, at);
        let read = |name: &str| -> V {
            let i = self.features.iter().position(|f| f.name == name);
            i.and_then(|i| features.get(i).cloned()).unwrap_or(V::Double(0.0))
        };
        let score = match (&uc.model, &uc.score) {
            (Some(m), _) => {
                let z = m.intercept + m.coefficients.iter().map(|(f, w)| w * read(f).as_f64()).sum::<f64>();
                Some(if m.logistic { 1.0 / (1.0 + (-z).exp()) } else { z })
            }
            (None, Some(s)) => Some(num(s, &read)),
            (None, None) => None,
        };
        // the funnel follows the score whatever the rule and the tiers say
        if let (false, Some(s)) = (uc.funnel.is_empty(), score) {
            let changes = funnel::advance(uc, customer, customer_id, trigger, s);
            if uc.status == Status::Live {
                actions.extend(changes);
            }
        }
        if let Some(rule) = &uc.rule {
            if !cond(rule, &read, None) {
                return None;
            }
        }
        let t = first_tier(uc, score, &read, &customer.fired, now)?;
        let tier = &uc.tiers[t];
        let mut payload = payload_of(tier, score.unwrap_or(f64::NAN), &read);
        payload.sort_by(|a, b| a.0.cmp(&b.0));
        let action = RefAction {
            use_case_id: uc.id.clone(),
            customer_id: customer_id.to_string(),
            tier: tier.name.clone(),
            action_type: "crm_task".into(),
            event_type: trigger.event_type.clone(),
            event_ts: now,
            score,
            payload,
        };
        Some(Decision {
            use_case: index,
            tier: t,
            action,
        })
    }

    /// A decision acts: it enters the re-trigger history, is emitted (`live` use cases only)
    /// and starts the timers linked to its actions.
    fn act(&mut self, customer_id: &str, decision: Decision, now: i64, actions: &mut Vec<RefAction>) {
        let Some(customer) = self.customers.get_mut(customer_id) else {
            return;
        };
        let uc = &self.use_cases[decision.use_case];
        let tier = &uc.tiers[decision.tier];
        let key = (uc.id.clone(), tier.name.clone());
        customer.fired.entry(key).or_default().push(now);
        timers::on_action(&self.use_cases, customer, decision.use_case, decision.tier, now);
        if uc.status == Status::Live {
            actions.push(decision.action);
        }
    }

    /// [`Reference::step`] through the contact policy ([`Gate`]): the first slice's use cases
    /// (rule, score, tiers, re-triggers), every decision to act governed by the gate, which
    /// records what is sent, deferred and delivered.
    fn step_governed(&mut self, event: &Event) -> Step {
        if let Some(gate) = &mut self.gate {
            gate.before(event);
        }
        let customer = self.customers.entry(event.customer.clone()).or_default();
        customer.events.push(event.clone());
        let history = &customer.events;
        let clock = history.iter().map(|e| e.ts).max().unwrap_or(event.ts);
        let features = values(&self.features, history);
        if let Some(gate) = &mut self.gate {
            gate.observe(event, clock);
        }
        let mut candidates = Vec::new();
        for (index, uc) in self.use_cases.iter().enumerate() {
            // `draft` only in back-testing, `retired` never, `shadow` emits nothing
            let evaluated = self
                .gate
                .as_ref()
                .map_or(uc.status == Status::Live, |g| g.evaluates(uc.status));
            if !evaluated || !uc.triggers.contains(&event.ty) {
                continue;
            }
            let read = |name: &str| -> V {
                let i = self.features.iter().position(|f| f.name == name);
                i.and_then(|i| features.get(i).cloned()).unwrap_or(V::Double(0.0))
            };
            if let Some(rule) = &uc.rule {
                if !cond(rule, &read, None) {
                    continue;
                }
            }
            let score = uc.score.as_ref().map(|s| num(s, &read));
            let fired = &self.customers[&event.customer].fired;
            if let Some(t) = first_tier(uc, score, &read, fired, event.ts) {
                candidates.push(Candidate {
                    use_case: index,
                    tier: t,
                    score,
                    payload: payload_of(&uc.tiers[t], score.unwrap_or(f64::NAN), &read),
                });
            }
        }
        // the contact policy, when there is one: a suppressed decision has not acted
        let decided = match &mut self.gate {
            Some(gate) => gate.govern(event, clock, &features, candidates),
            None => candidates.into_iter().map(|c| (c, true)).collect(),
        };
        // what is sent, deferred and delivered, the gate records itself
        for (c, _) in decided.into_iter().filter(|(_, acted)| *acted) {
            let uc = &self.use_cases[c.use_case];
            let key = (uc.id.clone(), uc.tiers[c.tier].name.clone());
            if let Some(customer) = self.customers.get_mut(&event.customer) {
                customer.fired.entry(key).or_default().push(event.ts);
            }
        }
        Step {
            features,
            actions: Vec::new(),
        }
    }
}

/// "Tried in order; the first that matches and may act, acts": the index of that tier, with
/// `fired` the customer's re-trigger history (use case id, tier name → times it acted).
fn first_tier(
    uc: &UseCase,
    score: Option<f64>,
    read: &dyn Fn(&str) -> V,
    fired: &BTreeMap<(String, String), Vec<i64>>,
    now: i64,
) -> Option<usize> {
    let s = score.unwrap_or(f64::NAN);
    uc.tiers.iter().position(|tier| {
        let matches = tier.min_score.is_none_or(|m| s >= m)
            && tier.max_score.is_none_or(|m| s < m)
            && tier.when.as_ref().is_none_or(|w| cond(w, read, score));
        let key = (uc.id.clone(), tier.name.clone());
        let before = fired.get(&key).map_or(&[][..], Vec::as_slice);
        matches && may_act(tier.retrigger.or(uc.retrigger).unwrap_or(Retrigger::Once), before, now)
    })
}

/// A tier's payload (in its order): `score` or a feature's value.
fn payload_of(tier: &Tier, score: f64, read: &dyn Fn(&str) -> V) -> Vec<(String, V)> {
    tier.payload
        .iter()
        .map(|(k, e)| {
            let v = match e {
                PayloadExpr::Score => V::Double(score),
                PayloadExpr::Feat(f) => read(f),
            };
            (k.clone(), v)
        })
        .collect()
}

/// `once`: never again; `always`; `{cooldown}`: again once the last action is at least the
/// cooldown older than the event ("exactly one window later is outside").
fn may_act(rule: Retrigger, before: &[i64], ts: i64) -> bool {
    match rule {
        Retrigger::Always => true,
        Retrigger::Once => before.is_empty(),
        Retrigger::Cooldown(c) => before.iter().all(|t| ts - t >= c),
    }
}

pub fn num(n: &Num, read: &dyn Fn(&str) -> V) -> f64 {
    match n {
        Num::Feat(f) => read(f).as_f64(),
        Num::Const(c) => *c,
        Num::Add(a, b) => num(a, read) + num(b, read),
        Num::Scale(a, c) => num(a, read) * c,
    }
}

fn cond(c: &Cond, read: &dyn Fn(&str) -> V, score: Option<f64>) -> bool {
    match c {
        Cond::Ge(n, x) => num(n, read) >= *x,
        Cond::Lt(n, x) => num(n, read) < *x,
        Cond::ScoreGe(x) => score.is_some_and(|s| s >= *x),
        Cond::StrEq(f, s) => read(f) == V::Str(s.clone()),
        Cond::Bool(f) => read(f) == V::Bool(true),
        Cond::Not(c) => !cond(c, read, score),
        Cond::Or(a, b) => cond(a, read, score) || cond(b, read, score),
    }
}
