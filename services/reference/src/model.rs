//! The reference model: every event of every customer kept; at each event every feature and
//! every triggered use case's decision recomputed (README.md, *A use case* and *Statuses*).

use crate::features::{values, V};
use crate::policy::{Candidate, Gate};
use crate::spec::{Cond, Event, Feature, Num, PayloadExpr, Retrigger, Status, UseCase};
use std::collections::BTreeMap;

/// An action the README says the event yields.
#[derive(Debug, Clone, PartialEq)]
pub struct RefAction {
    pub use_case_id: String,
    pub tier: String,
    pub score: Option<f64>,
    pub payload: Vec<(String, V)>,
}

/// What one event yields: the customer's feature values after it, in catalog order, and the
/// actions of `live` use cases, ordered by use-case id.
#[derive(Debug, Clone)]
pub struct Step {
    pub features: Vec<V>,
    pub actions: Vec<RefAction>,
}

#[derive(Debug, Default)]
pub struct Reference {
    features: Vec<Feature>,
    use_cases: Vec<UseCase>,
    events: BTreeMap<String, Vec<Event>>,
    /// The re-trigger history: per customer, use case id and tier name, the times it acted.
    fired: BTreeMap<(String, String, String), Vec<i64>>,
    /// The contact policy every decision to act goes through, when the case has one.
    pub gate: Option<Gate>,
}

impl Reference {
    pub fn new(features: &[Feature], use_cases: &[UseCase]) -> Reference {
        let mut use_cases = use_cases.to_vec();
        use_cases.sort_by(|a, b| a.id.cmp(&b.id));
        Reference {
            features: features.to_vec(),
            use_cases,
            ..Reference::default()
        }
    }

    pub fn step(&mut self, event: &Event) -> Step {
        if let Some(gate) = &mut self.gate {
            gate.before(event);
        }
        let history = self.events.entry(event.customer.clone()).or_default();
        history.push(event.clone());
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
            // "tried in order; the first that matches and may act, acts"
            for (t, tier) in uc.tiers.iter().enumerate() {
                let s = score.unwrap_or(f64::NAN);
                let matches = tier.min_score.is_none_or(|m| s >= m)
                    && tier.max_score.is_none_or(|m| s < m)
                    && tier.when.as_ref().is_none_or(|w| cond(w, &read, score));
                if !matches {
                    continue;
                }
                let key = (event.customer.clone(), uc.id.clone(), tier.name.clone());
                let before = self.fired.get(&key).map_or(&[][..], Vec::as_slice);
                if !may_act(
                    tier.retrigger.or(uc.retrigger).unwrap_or(Retrigger::Once),
                    before,
                    event.ts,
                ) {
                    continue;
                }
                let payload = tier
                    .payload
                    .iter()
                    .map(|(k, e)| {
                        let v = match e {
                            PayloadExpr::Score => V::Double(s),
                            PayloadExpr::Feat(f) => read(f),
                        };
                        (k.clone(), v)
                    })
                    .collect();
                candidates.push(Candidate {
                    use_case: index,
                    tier: t,
                    score,
                    payload,
                });
                break;
            }
        }
        // the contact policy, when there is one: a suppressed decision has not acted
        let decided = match &mut self.gate {
            Some(gate) => gate.govern(event, clock, &features, candidates),
            None => candidates.into_iter().map(|c| (c, true)).collect(),
        };
        let mut actions = Vec::new();
        for (c, acted) in decided.into_iter().filter(|(_, acted)| *acted) {
            let uc = &self.use_cases[c.use_case];
            let tier = uc.tiers[c.tier].name.clone();
            let key = (event.customer.clone(), uc.id.clone(), tier.clone());
            self.fired.entry(key).or_default().push(event.ts);
            if self.gate.is_none() && acted {
                actions.push(RefAction {
                    use_case_id: uc.id.clone(),
                    tier,
                    score: c.score,
                    payload: c.payload,
                });
            }
        }
        Step { features, actions }
    }
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
