//! Timers that came due and customers that expired, swept after each checkpoint.

use super::worker::Worker;
use super::EngineError;
use crate::status::now_ms;
use crate::store::{EVENT_TIME, WALL_CLOCK};
use tracing::warn;

/// Most customers one timer sweep handles per clock kind; the rest wait for the next one.
const SWEEP_LIMIT: usize = 10_000;
/// Fewer expiries than this in one sweep are never reported as a mass expiry (a small partition
/// losing its few idle customers is routine).
const MASS_EXPIRY_MIN: u64 = 10;

impl Worker {
    /// Fires the timers that came due and removes expired customers, per partition: only the
    /// index entries due by the partition's watermark (event time) or the system clock are
    /// read. Runs after a checkpoint, so the index holds every timer set before it; what fires
    /// is committed with the next checkpoint.
    pub(super) fn fire_due_timers(&mut self) -> Result<(), EngineError> {
        let wall = now_ms();
        for index in 0..self.tasks.len() {
            let task = &self.tasks[index];
            let bounds = [task.watermark, wall.max(task.watermark)];
            if task.next_due[0] > bounds[0] && task.next_due[1] > bounds[1] {
                continue;
            }
            self.begin_transaction()?;
            let task = &mut self.tasks[index];
            let mut expired_now = 0u64;
            for kind in [EVENT_TIME, WALL_CLOCK] {
                let bound = bounds[kind as usize];
                if task.next_due[kind as usize] > bound {
                    continue;
                }
                for id in task.store.due_customers(&self.set.catalog, kind, bound, SWEEP_LIMIT)? {
                    let Some(state) = task.store.existing_customer(&self.set.catalog, &id)? else {
                        continue;
                    };
                    let expired = if kind == EVENT_TIME {
                        self.processor
                            .fire_due_by(state, &id, bound, wall, &mut self.counters, &mut self.outputs)
                    } else {
                        self.processor
                            .fire_due(state, &id, bounds[0], wall, &mut self.counters, &mut self.outputs)
                    };
                    self.outputs.send_decisions();
                    // something was due, so something changed: a timer fired or was dropped, a
                    // deferred action went out, the customer expired or was reset (withdrawn
                    // consent outlives expiry). Written at the next checkpoint, where the
                    // customer's due-time index entries move to what its state has due then.
                    if expired {
                        expired_now += 1;
                        task.store.remove(&id);
                    } else {
                        task.store.mark_changed(&id);
                    }
                    task.dirty = true;
                }
                task.next_due[kind as usize] = task.store.next_due(kind, bound)?.unwrap_or(i64::MAX);
            }
            if expired_now >= MASS_EXPIRY_MIN {
                self.report_mass_expiry(index, expired_now);
            }
        }
        Ok(())
    }

    /// One sweep expiring most of a partition is worth a look (a clock moved far ahead by a
    /// wrong timestamp, an `expire_after` set too short): WARN and count it.
    fn report_mass_expiry(&self, index: usize, expired: u64) {
        let task = &self.tasks[index];
        // the removals are written at the next checkpoint: RocksDB still counts them
        let customers = task.store.estimated_customers().max(expired);
        let share = expired as f64 / customers as f64;
        if share > self.config.state.mass_expiry_share {
            self.metrics.state_mass_expiries.inc();
            warn!(
                partition = task.partition,
                expired,
                customers,
                share,
                event_time = task.watermark,
                "one timer sweep expired more than state.mass_expiry_share of a partition's customers"
            );
        }
    }
}
