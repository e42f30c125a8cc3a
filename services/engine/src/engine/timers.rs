//! Timers that came due and customers that expired, swept after each checkpoint.

use super::worker::Worker;
use super::EngineError;
use crate::status::now_ms;
use crate::store::{EVENT_TIME, WALL_CLOCK};

/// Most customers one timer sweep handles per clock kind; the rest wait for the next one.
const SWEEP_LIMIT: usize = 10_000;

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
            for kind in [EVENT_TIME, WALL_CLOCK] {
                let bound = bounds[kind as usize];
                if task.next_due[kind as usize] > bound {
                    continue;
                }
                for id in task.store.due_customers(&self.set.catalog, kind, bound, SWEEP_LIMIT)? {
                    let Some(state) = task.store.existing_customer(&self.set.catalog, &id)? else {
                        continue;
                    };
                    let expired =
                        self.processor
                            .fire_due(state, &id, bounds[0], wall, &mut self.counters, &mut self.outputs);
                    self.outputs.send_decisions();
                    // something was due, so something changed: a timer fired or was dropped, a
                    // deferred action went out, the customer expired or was reset (withdrawn
                    // consent outlives expiry). Written at the next checkpoint, where the
                    // customer's due-time index entries move to what its state has due then.
                    if expired {
                        task.store.remove(&id);
                    } else {
                        task.store.mark_changed(&id);
                    }
                    task.dirty = true;
                }
                task.next_due[kind as usize] = task.store.next_due(kind, bound)?.unwrap_or(i64::MAX);
            }
        }
        Ok(())
    }
}
