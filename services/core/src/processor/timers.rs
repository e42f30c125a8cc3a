//! Timers and deferred actions coming due: evaluations and deliveries the engine itself brings
//! about, each with an internal event whose source is the same in the engine and in replay.

use super::evaluate::{build_action, new_action};
use super::govern::Verdict;
use super::scoring::EvalVars;
use super::{Action, Evaluator, Source, Trigger, Turn};
use crate::catalog::{FIELD_CUSTOMER_ID, FIELD_TS, FIELD_TYPE};
use crate::event::{Event, FieldValues};
use crate::policy::{Decided, Deferred, Outcome, Reason};
use crate::state::{CustomerState, Timer};
use crate::usecase::UseCase;
use revenue_expr::EvalError;
use revenue_expr::Val;
use smallvec::SmallVec;
use std::borrow::Cow;

/// The event type of the evaluation a timer triggers.
pub const TIMER_EVENT_TYPE: &str = "timer";
/// The event type (and source topic) of an action sent when quiet hours end.
pub const DEFERRED_EVENT_TYPE: &str = "deferred";

impl Evaluator {
    pub(super) fn fire_timers(&self, turn: &mut Turn<'_>, customer_id: &str, event_time: i64, wall_clock: i64) {
        let is_due = |t: &Timer| t.due <= if t.wall_clock { wall_clock } else { event_time };
        // an idle customer leaves the state when it expires, and its later timers with it
        let expires_at = match turn.state.expires_at(&self.set.catalog) {
            Some(at) if turn.state.clock != i64::MIN => at,
            _ => i64::MAX,
        };
        let owner = |key: u64| {
            self.set
                .use_cases
                .iter()
                .position(|uc| uc.timer.as_ref().is_some_and(|t| t.key == key) && self.mode.evaluates(uc.status))
        };
        // one at a time, earliest first, of equal due times in the set's order: a firing may
        // start another timer
        while let Some((timer, found)) = turn
            .state
            .timers
            .iter()
            .filter(|t| is_due(t) && t.due <= expires_at)
            .map(|t| (*t, owner(t.key)))
            .min_by_key(|(t, index)| (t.due, index.unwrap_or(usize::MAX)))
        {
            turn.state.cancel_timer(timer.key);
            // a timer of a use case no longer in the set is dropped
            let Some(index) = found else { continue };
            // read as of the due time, but a timer is no event: the customer's clock (and so
            // its expiry) stays at its latest event time
            let clock = turn.state.clock;
            turn.state.clock = clock.max(timer.due);
            // the same source in the engine and in replay, so action ids agree
            let (event, source) = self.internal_event(customer_id, TIMER_EVENT_TYPE, timer.due, timer.due);
            turn.counters.use_cases[index].timers_fired += 1;
            let trigger = Trigger {
                event: &event,
                now: timer.due,
                source,
            };
            if let Some(candidate) = self.evaluate(index, turn, &trigger) {
                self.govern(smallvec::smallvec![candidate], turn, timer.due);
            }
            turn.state.clock = clock;
        }
        if turn.state.policy.as_ref().is_some_and(|p| !p.deferred.is_empty()) {
            self.deliver_deferred(turn, customer_id, event_time);
        }
    }

    /// The evaluation event of something the engine itself brings about (a timer coming due, a
    /// deferred action sent): type `kind`, time `ts`; its source is `kind` at offset `offset` in
    /// the engine and in replay alike, so action ids agree.
    fn internal_event<'c>(
        &self,
        customer_id: &'c str,
        kind: &'static str,
        ts: i64,
        offset: i64,
    ) -> (Event<'c>, Source<'static>) {
        let mut fields: FieldValues<'_> = SmallVec::from_elem(None, self.set.catalog.fields.len());
        fields[FIELD_CUSTOMER_ID] = Some(Val::Str(Cow::Borrowed(customer_id)));
        fields[FIELD_TYPE] = Some(Val::Str(Cow::Borrowed(kind)));
        fields[FIELD_TS] = Some(Val::Int(ts));
        let event = Event {
            fields,
            type_index: None,
        };
        let source = Source {
            topic: kind,
            partition: 0,
            offset,
        };
        (event, source)
    }

    /// Sends the deferred actions whose quiet hours have ended, earliest first; consent is
    /// checked again (it may have been withdrawn meanwhile).
    fn deliver_deferred(&self, turn: &mut Turn<'_>, customer_id: &str, event_time: i64) {
        loop {
            let next = turn.state.policy.as_ref().and_then(|p| {
                p.deferred
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.due <= event_time)
                    // of equal due times, in the order decided (the order kept)
                    .min_by_key(|(i, d)| (d.due, *i))
                    .map(|(i, _)| i)
            });
            let Some(position) = next else { return };
            let deferred = turn.state.policy_mut().deferred.remove(position);
            let found = self
                .set
                .use_cases
                .iter()
                .enumerate()
                .find(|(_, uc)| uc.key == deferred.use_case && self.mode.evaluates(uc.status));
            // a use case (or tier) no longer in the set sends nothing
            let Some((index, uc)) = found else { continue };
            let Some(tier_index) = uc.tiers.iter().position(|t| t.history_key == deferred.tier) else {
                continue;
            };
            let due = deferred.due;
            let built = self.deferred_action(uc, tier_index, deferred, turn.state, customer_id);
            let channel = self.set.policy.channel_or_default(&uc.tiers[tier_index].channel);
            let consents = turn.state.policy.as_deref().is_none_or(|p| p.consents(&channel));
            let c = &mut turn.counters.use_cases[index];
            let Ok(action) = built else {
                c.errors += 1;
                continue;
            };
            let outcome = if consents {
                Outcome::Delivered
            } else {
                Outcome::Suppressed(Reason::Consent)
            };
            if let Some(reason) = outcome.reason() {
                c.suppressed[reason as usize] += 1;
            }
            let tier_key = uc.tiers[tier_index].history_key;
            self.record(
                Verdict {
                    uc,
                    tier_key,
                    action: &action,
                    value: f64::NAN,
                    outcome,
                    now: due,
                },
                turn,
            );
            if consents {
                let c = &mut turn.counters.use_cases[index];
                c.actions_by_tier[tier_index] += 1;
                c.deferred_delivered += 1;
                turn.out.action(action);
                self.start_action_timers(index, tier_index, turn.state, due);
            }
        }
    }

    /// A deferred action as it was decided — payload, score and recommendations — with the time
    /// it was decided, sent now as type `deferred` at its due time. State written before format
    /// 4 kept no payload: then it is computed at delivery, as that version did.
    fn deferred_action(
        &self,
        uc: &UseCase,
        tier_index: usize,
        deferred: Deferred,
        state: &CustomerState,
        customer_id: &str,
    ) -> Result<Action, EvalError> {
        let (event, source) = self.internal_event(customer_id, DEFERRED_EVENT_TYPE, deferred.due, deferred.decided_at);
        let score = deferred.score;
        let mut action = match deferred.decided {
            Some(decided) => {
                let Decided {
                    payload,
                    recommendations,
                } = *decided;
                let trigger = (customer_id, DEFERRED_EVENT_TYPE, deferred.due);
                let mut action = new_action(uc, tier_index, score, trigger, source, "", payload);
                action.recommendations = recommendations;
                action
            }
            None => {
                let vars = EvalVars {
                    set: &self.set,
                    state,
                    event: &event,
                    now: deferred.due,
                    score: score.unwrap_or(0.0),
                };
                build_action(uc, tier_index, score, &vars, source, "")?
            }
        };
        action.decided_at = Some(deferred.decided_at);
        Ok(action)
    }

    /// Starts the timers that use cases link to this use case's (and tier's) actions. A shadow
    /// use case's actions are never sent: they start only other shadow use cases' timers.
    pub(super) fn start_action_timers(&self, source: usize, tier: usize, state: &mut CustomerState, now: i64) {
        let shadow_source = !Self::visible_to_others(&self.set.use_cases[source]);
        for link in &self.set.action_timers {
            if link.source != source || link.tier.is_some_and(|t| t != tier) {
                continue;
            }
            let uc = &self.set.use_cases[link.timer];
            if shadow_source && Self::visible_to_others(uc) {
                continue;
            }
            if let (Some(timer), true) = (&uc.timer, self.mode.evaluates(uc.status)) {
                state.set_timer(timer.started_at(now));
            }
        }
    }
}
