//! Where a [`Processor`](super::Processor) hands what it decides: actions and, for sampled
//! customers, the records that explain the decisions.

use super::{Action, DecisionRecord};

/// The receiver of a processor's results, in the order they are decided.
pub trait Outputs {
    /// One action to send (only `live` use cases' actions go to their topic; see
    /// [`Action::emits`]).
    fn action(&mut self, action: Action);

    /// One decision explained (only for the customers sampled by
    /// [`with_decision_records`](super::Processor::with_decision_records)); dropped by default.
    fn decision(&mut self, record: DecisionRecord) {
        let _ = record;
    }
}

/// A closure takes the actions; decision records are dropped.
impl<F: FnMut(Action)> Outputs for F {
    fn action(&mut self, action: Action) {
        self(action)
    }
}

/// Actions to a closure, decision records kept until taken: for callers that write an event's
/// decisions once the event is processed (replay's decisions file, the engine's audit topic).
pub struct KeepDecisions<F> {
    act: F,
    decisions: Vec<DecisionRecord>,
}

impl<F: FnMut(Action)> KeepDecisions<F> {
    pub fn new(act: F) -> KeepDecisions<F> {
        KeepDecisions {
            act,
            decisions: Vec::new(),
        }
    }

    /// The decision records since the last call, in the order they were decided.
    pub fn take_decisions(&mut self) -> Vec<DecisionRecord> {
        std::mem::take(&mut self.decisions)
    }
}

impl<F: FnMut(Action)> Outputs for KeepDecisions<F> {
    fn action(&mut self, action: Action) {
        (self.act)(action)
    }

    fn decision(&mut self, record: DecisionRecord) {
        self.decisions.push(record);
    }
}
