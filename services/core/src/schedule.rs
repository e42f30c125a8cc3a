//! Customers scheduled by due time. Timers, deferred actions and state expiry come due per
//! customer ([`CustomerState::dues`](crate::CustomerState::dues)); a due-time schedule names
//! the customers to wake up, earliest first, without scanning them all. Replay keeps it in
//! memory ([`InMemorySchedule`]); the engine keeps it in RocksDB, next to the state it reflects.

use crate::state::{Dues, EVENT_TIME};
use compact_str::CompactString;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::convert::Infallible;

/// Which customers come due when, by clock kind ([`EVENT_TIME`], or
/// [`WALL_CLOCK`](crate::state::WALL_CLOCK)).
///
/// The caller wakes the customers [`pop_due`](Self::pop_due) names, lets the processor fire
/// what is due ([`Processor::fire_due`](crate::Processor::fire_due)), and then reports what
/// the customer has due next with [`reschedule`](Self::reschedule) (no dues once dropped).
pub trait DueSchedule {
    type Error;

    /// Schedules the customer for exactly `dues` (what its state has due now), replacing what
    /// was scheduled before; empty `dues` unschedule it.
    fn reschedule(&mut self, customer: &str, dues: &Dues) -> Result<(), Self::Error>;

    /// The customer with the earliest entry of clock `kind` due by `until` (ties by customer
    /// id), taken out of the schedule, or none. Each entry is handed out once; the customer
    /// is rescheduled after it has been handled.
    fn pop_due(&mut self, kind: u8, until: i64) -> Result<Option<CompactString>, Self::Error>;

    /// The earliest due time of clock `kind` after `after`: until then nothing needs waking.
    fn next_due(&self, kind: u8, after: i64) -> Result<Option<i64>, Self::Error>;
}

/// A due-time schedule in memory.
#[derive(Debug, Default)]
pub struct InMemorySchedule {
    /// (clock kind, due time, customer): the order customers come due in.
    entries: BTreeSet<(u8, i64, CompactString)>,
    /// What each scheduled customer has due, as last rescheduled less what was popped.
    scheduled: FxHashMap<CompactString, Dues>,
    /// Every clock runs on event time (replay has no other clock).
    event_time_only: bool,
}

impl InMemorySchedule {
    /// A schedule that keeps each clock kind apart.
    pub fn new() -> InMemorySchedule {
        InMemorySchedule::default()
    }

    /// A schedule where wall-clock dues count as event time, as in replay: one order for all.
    pub fn event_time_only() -> InMemorySchedule {
        InMemorySchedule {
            event_time_only: true,
            ..InMemorySchedule::default()
        }
    }

    /// The clock a due of `kind` runs on here.
    fn clock(&self, kind: u8) -> u8 {
        if self.event_time_only {
            EVENT_TIME
        } else {
            kind
        }
    }

    /// Whether no customer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl DueSchedule for InMemorySchedule {
    type Error = Infallible;

    fn reschedule(&mut self, customer: &str, dues: &Dues) -> Result<(), Infallible> {
        match self.scheduled.get(customer) {
            Some(current) if current == dues => return Ok(()),
            None if dues.is_empty() => return Ok(()),
            _ => {}
        }
        let id = CompactString::from(customer);
        // all out, then all in: several dues may share one entry when clocks are merged
        for (kind, due) in self.scheduled.remove(&id).unwrap_or_default() {
            self.entries.remove(&(self.clock(kind), due, id.clone()));
        }
        for (kind, due) in dues {
            self.entries.insert((self.clock(*kind), *due, id.clone()));
        }
        if !dues.is_empty() {
            self.scheduled.insert(id, dues.clone());
        }
        Ok(())
    }

    fn pop_due(&mut self, kind: u8, until: i64) -> Result<Option<CompactString>, Infallible> {
        let clock = self.clock(kind);
        let first = self
            .entries
            .range((clock, i64::MIN, CompactString::default())..)
            .next()
            .filter(|(k, due, _)| *k == clock && *due <= until)
            .cloned();
        let Some(entry) = first else { return Ok(None) };
        self.entries.remove(&entry);
        let (_, due, id) = entry;
        if let Some(dues) = self.scheduled.get_mut(&id) {
            let event_time_only = self.event_time_only;
            dues.retain(|(k, d)| !(*d == due && (event_time_only || *k == clock)));
            if dues.is_empty() {
                self.scheduled.remove(&id);
            }
        }
        Ok(Some(id))
    }

    fn next_due(&self, kind: u8, after: i64) -> Result<Option<i64>, Infallible> {
        let clock = self.clock(kind);
        let Some(from) = after.checked_add(1) else {
            return Ok(None);
        };
        Ok(self
            .entries
            .range((clock, from, CompactString::default())..)
            .next()
            .filter(|(k, _, _)| *k == clock)
            .map(|(_, due, _)| *due))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::WALL_CLOCK;
    use smallvec::smallvec;

    fn pop_all(schedule: &mut InMemorySchedule, kind: u8, until: i64) -> Vec<String> {
        let mut popped = Vec::new();
        while let Ok(Some(id)) = schedule.pop_due(kind, until) {
            popped.push(id.to_string());
        }
        popped
    }

    #[test]
    fn customers_come_due_earliest_first_then_by_id() {
        let mut s = InMemorySchedule::new();
        s.reschedule("b", &smallvec![(EVENT_TIME, 5)]).unwrap();
        s.reschedule("a", &smallvec![(EVENT_TIME, 5), (EVENT_TIME, 9)]).unwrap();
        s.reschedule("c", &smallvec![(EVENT_TIME, 3), (WALL_CLOCK, 1)]).unwrap();
        assert_eq!(s.next_due(EVENT_TIME, i64::MIN).unwrap(), Some(3));
        assert_eq!(s.next_due(EVENT_TIME, 5).unwrap(), Some(9));
        assert_eq!(pop_all(&mut s, EVENT_TIME, 5), ["c", "a", "b"]);
        assert_eq!(pop_all(&mut s, WALL_CLOCK, 0), Vec::<String>::new());
        assert_eq!(pop_all(&mut s, WALL_CLOCK, 1), ["c"]);
        assert_eq!(pop_all(&mut s, EVENT_TIME, 100), ["a"]);
        assert!(s.is_empty());
    }

    #[test]
    fn rescheduling_replaces_and_empty_dues_unschedule() {
        let mut s = InMemorySchedule::new();
        s.reschedule("a", &smallvec![(EVENT_TIME, 5)]).unwrap();
        s.reschedule("a", &smallvec![(EVENT_TIME, 7)]).unwrap();
        assert_eq!(pop_all(&mut s, EVENT_TIME, 6), Vec::<String>::new());
        s.reschedule("a", &Dues::new()).unwrap();
        assert!(s.is_empty());
        // a popped entry is gone, so rescheduling the same dues puts it back
        s.reschedule("a", &smallvec![(EVENT_TIME, 7)]).unwrap();
        assert_eq!(pop_all(&mut s, EVENT_TIME, 7), ["a"]);
        s.reschedule("a", &smallvec![(EVENT_TIME, 7)]).unwrap();
        assert_eq!(pop_all(&mut s, EVENT_TIME, 7), ["a"]);
    }

    #[test]
    fn event_time_only_merges_the_clocks() {
        let mut s = InMemorySchedule::event_time_only();
        s.reschedule("a", &smallvec![(EVENT_TIME, 5), (WALL_CLOCK, 5)]).unwrap();
        s.reschedule("b", &smallvec![(WALL_CLOCK, 4)]).unwrap();
        assert_eq!(pop_all(&mut s, EVENT_TIME, 10), ["b", "a"]);
        assert!(s.is_empty());
        s.reschedule("a", &smallvec![(EVENT_TIME, 5), (WALL_CLOCK, 5)]).unwrap();
        s.reschedule("a", &smallvec![(WALL_CLOCK, 5)]).unwrap();
        assert_eq!(pop_all(&mut s, EVENT_TIME, 10), ["a"]);
    }
}
