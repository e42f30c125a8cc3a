//! The customers replay keeps: their states and what they have due (timers, expiry, deferred
//! actions), on one event-time clock.

use compact_str::CompactString;
use revenue_core::processor::{Counters, Outputs};
use revenue_core::schedule::{DueSchedule, InMemorySchedule};
use revenue_core::state::{Dues, EVENT_TIME};
use revenue_core::{Catalog, CustomerState, Processor};
use rustc_hash::FxHashMap;

/// Every customer's state, and the customers ordered by what they have due next.
#[derive(Debug)]
pub struct Customers {
    states: FxHashMap<CompactString, CustomerState>,
    /// Wall-clock timers run on event time here: replay has no other clock.
    schedule: InMemorySchedule,
}

impl Default for Customers {
    fn default() -> Self {
        Customers {
            states: FxHashMap::default(),
            schedule: InMemorySchedule::event_time_only(),
        }
    }
}

impl Customers {
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    pub fn get(&self, customer: &str) -> Option<&CustomerState> {
        self.states.get(customer)
    }

    /// The customer's state; a new one for a customer not (or no longer) kept.
    pub fn state(&mut self, catalog: &Catalog, customer: &str) -> &mut CustomerState {
        // keys up to 24 bytes are stored inline: no allocation, no pointer to chase per lookup
        self.states
            .entry(CompactString::from(customer))
            .or_insert_with(|| CustomerState::new(catalog))
    }

    /// After the customer's state changed: schedules what it has due now.
    pub fn reschedule(&mut self, catalog: &Catalog, customer: &str) {
        let dues = self.states.get(customer).map_or_else(Dues::new, |s| s.dues(catalog));
        let Ok(()) = self.schedule.reschedule(customer, &dues);
    }

    /// Fires everything due by `until`, earliest first (of equal times, by customer id): each
    /// customer at the time of its earliest due, so its timers due later wait their turn and a
    /// customer who expires meanwhile takes them along.
    pub fn fire_due_by(
        &mut self,
        processor: &mut Processor,
        until: i64,
        counters: &mut Counters,
        out: &mut dyn Outputs,
    ) {
        while let Ok(Some(at)) = self.schedule.next_due(EVENT_TIME, i64::MIN) {
            if at > until {
                return;
            }
            let set = processor.set().clone();
            let Ok(Some(id)) = self.schedule.pop_due(EVENT_TIME, at) else {
                return;
            };
            let Some(state) = self.states.get_mut(&id) else {
                continue;
            };
            if processor.fire_due(state, &id, at, at, counters, out) {
                self.states.remove(&id);
            }
            self.reschedule(&set.catalog, &id);
        }
    }
}
