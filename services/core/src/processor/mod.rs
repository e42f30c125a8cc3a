//! Evaluation: one event against one customer's state and the use cases it triggers. The live
//! engine and offline `replay` both call [`Processor::process`], so their results are identical.

mod action;
mod counters;
mod decision;
mod evaluate;
mod funnel;
mod govern;
mod outputs;
mod scoring;
mod timers;

pub use action::{action_id, val_to_json, Action};
pub use counters::{Counters, UseCaseCounters};
pub use decision::DecisionRecord;
pub use funnel::{FUNNEL_CHANNEL, STAGE_CHANGE};
pub use outputs::{KeepDecisions, Outputs};
pub use timers::{DEFERRED_EVENT_TYPE, TIMER_EVENT_TYPE};

use crate::event::Event;
use crate::spec::Status;
use crate::state::CustomerState;
use crate::usecase::UseCaseSet;
use evaluate::Candidate;
use scoring::Scratch;
use smallvec::SmallVec;
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

/// Runs events (and timers coming due) of one customer at a time through a use-case set.
pub struct Processor {
    evaluator: Evaluator,
    /// Kept apart from the evaluator: a call borrows it mutably while the evaluator is read.
    scratch: Scratch,
}

/// What every evaluation reads: the use cases, which of them run, and whose decisions are
/// recorded.
struct Evaluator {
    set: Arc<UseCaseSet>,
    mode: Mode,
    /// Share of customers whose decisions are recorded (0: none); see
    /// [`Processor::with_decision_records`].
    audit_share: f64,
}

/// One call for one customer (`process` or `fire_due`): the state it changes, the counters it
/// counts into, where its actions and decision records go, and the buffers it reuses.
struct Turn<'t> {
    state: &'t mut CustomerState,
    counters: &'t mut Counters,
    out: &'t mut dyn Outputs,
    scratch: &'t mut Scratch,
}

/// What an evaluation answers: an event (the customer's own, or one the engine brings about
/// for a timer or a deferred action), its time and where it came from.
struct Trigger<'t, 'a> {
    event: &'t Event<'a>,
    now: i64,
    source: Source<'t>,
}

impl Processor {
    pub fn new(set: Arc<UseCaseSet>, mode: Mode) -> Processor {
        Processor {
            evaluator: Evaluator {
                set,
                mode,
                audit_share: 0.0,
            },
            scratch: Scratch::default(),
        }
    }

    /// Records the decisions of this share of customers (chosen by a hash of the customer id,
    /// so a sampled customer's whole history is kept); they go to [`Outputs::decision`].
    pub fn with_decision_records(mut self, share: f64) -> Processor {
        self.evaluator.audit_share = share.clamp(0.0, 1.0);
        self
    }

    /// Whether decisions are recorded at all.
    pub fn records_decisions(&self) -> bool {
        self.evaluator.audit_share > 0.0
    }

    pub fn set(&self) -> &Arc<UseCaseSet> {
        &self.evaluator.set
    }

    /// Updates the customer's features with the event, then evaluates every use case the event
    /// triggers; each decision to act is handed to `out` (and each sampled decision's record).
    /// At most one action per use case and trigger (plus one `stage_change` per funnel stage
    /// reached). Timers of this customer due by the event's time fire first, and an idle
    /// customer's expired state is dropped first.
    pub fn process(
        &mut self,
        state: &mut CustomerState,
        event: &Event<'_>,
        source: Source<'_>,
        counters: &mut Counters,
        out: &mut dyn Outputs,
    ) {
        let turn = &mut Turn {
            state,
            counters,
            out,
            scratch: &mut self.scratch,
        };
        self.evaluator.process(turn, event, source);
    }

    /// Fires this customer's timers that are due: event-time timers by `event_time`, wall-clock
    /// timers by `wall_clock` (replay passes event time for both). Then reports whether the
    /// customer has been idle past `expire_after` by `event_time`: the caller drops the state.
    pub fn fire_due(
        &mut self,
        state: &mut CustomerState,
        customer_id: &str,
        event_time: i64,
        wall_clock: i64,
        counters: &mut Counters,
        out: &mut dyn Outputs,
    ) -> bool {
        let turn = &mut Turn {
            state,
            counters,
            out,
            scratch: &mut self.scratch,
        };
        self.evaluator.fire_due(turn, customer_id, event_time, wall_clock)
    }

    /// Fires this customer's event-time dues up to `until` one due time at a time, earliest
    /// first, as replay's one clock does: a timer started by a timer that fired (a chain, e.g.
    /// `start_on_actions` of its own use case) fires too if it is due by then, and expiry comes
    /// after every timer due before it. Returns what [`Processor::fire_due`] returns at the
    /// last due time: whether the caller drops the state.
    pub fn fire_due_by(
        &mut self,
        state: &mut CustomerState,
        customer_id: &str,
        until: i64,
        wall_clock: i64,
        counters: &mut Counters,
        out: &mut dyn Outputs,
    ) -> bool {
        let mut last = i64::MIN;
        // a due that firing left in place (none should) ends the loop instead of spinning
        while let Some(at) = state
            .next_event_time_due(&self.evaluator.set.catalog)
            .filter(|at| *at <= until && *at > last)
        {
            last = at;
            if self.fire_due(state, customer_id, at, wall_clock, counters, out) {
                return true;
            }
        }
        false
    }
}

impl Evaluator {
    fn process(&self, turn: &mut Turn<'_>, event: &Event<'_>, source: Source<'_>) {
        turn.counters.events += 1;
        let catalog = &self.set.catalog;
        let now = event.ts();
        if !turn.state.timers.is_empty() || turn.state.policy.as_ref().is_some_and(|p| !p.deferred.is_empty()) {
            // the customer's own event proves the time has come, whatever the timer's clock
            self.fire_timers(turn, event.customer_id(), now, now);
        }
        if turn.state.expires_at(catalog).is_some_and(|at| at <= now) && turn.state.clock != i64::MIN {
            turn.state.expire(catalog);
            turn.counters.expired += 1;
        }
        turn.state.apply(catalog, event);
        let Some(type_index) = event.type_index else {
            turn.counters.unknown_type += 1;
            return;
        };
        let bit = 1u64 << type_index;
        let policy = &self.set.policy;
        if policy.consent.is_some() {
            policy.apply_consent(catalog, event, turn.state);
        }
        if policy.conversion_mask & bit != 0 {
            self.attribute(turn, event);
        }
        let timer_events = if self.set.timer_event_mask & bit != 0 {
            self.set.use_cases.as_slice()
        } else {
            &[]
        };
        for uc in timer_events {
            let Some(timer) = &uc.timer else { continue };
            if !self.mode.evaluates(uc.status) {
                continue;
            }
            if timer.cancel_mask & bit != 0 {
                turn.state.cancel_timer(timer.key);
            }
            if timer.start_mask & bit != 0 {
                turn.state.set_timer(timer.started_at(now));
            }
        }
        let trigger = Trigger { event, now, source };
        let mut candidates: SmallVec<[Candidate; 2]> = SmallVec::new();
        for (index, uc) in self.set.use_cases.iter().enumerate() {
            if uc.trigger_mask & bit == 0 || !self.mode.evaluates(uc.status) {
                continue;
            }
            candidates.extend(self.evaluate(index, turn, &trigger));
        }
        if !candidates.is_empty() {
            self.govern(candidates, turn, now);
        }
    }

    fn fire_due(&self, turn: &mut Turn<'_>, customer_id: &str, event_time: i64, wall_clock: i64) -> bool {
        self.fire_timers(turn, customer_id, event_time, wall_clock.max(event_time));
        let catalog = &self.set.catalog;
        let expired = turn.state.expires_at(catalog).is_some_and(|at| at <= event_time) && turn.state.clock != i64::MIN;
        if !expired {
            return false;
        }
        turn.counters.expired += 1;
        // withdrawn consent outlives the rest: then the state is reset here, not dropped
        !turn.state.expire(catalog)
    }
}
