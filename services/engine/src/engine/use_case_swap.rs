//! The engine's side of a use-case reload: the watcher (`crate::reload`) validates a new set on
//! its own thread; the engine swaps it in here, on its thread, between two checkpoints.

use super::worker::{processor_for, Worker};
use crate::metrics::labels::ReloadResult;
use revenue_core::processor::Counters;
use tracing::info;

impl Worker {
    /// Between two checkpoints — everything of the old set committed — a validated new set
    /// replaces the old one. Cached state is dropped (it was decoded for the old catalog; the
    /// stored bytes carry per-feature fingerprints, so changed features start empty).
    pub(super) fn swap_in_new_use_cases(&mut self) {
        if self.transaction.open || self.tasks.iter().any(|t| t.dirty) {
            return; // the checkpoint did not complete: try after the next one
        }
        let Some(set) = self.status.use_cases.take_pending() else {
            return;
        };
        self.processor = processor_for(&set, &self.config);
        self.counters = Counters::for_set(&set);
        self.published.restart(&set);
        self.transaction.counters_at_begin = Counters::for_set(&set);
        for task in &mut self.tasks {
            task.store.clear_cache();
        }
        self.metrics.set_use_cases(&set);
        self.metrics
            .use_case_reloads
            .with(&ReloadResult { result: "applied" })
            .inc();
        self.status.use_cases.applied(&set);
        info!(checksum = %set.checksum, use_cases = set.use_cases.len(), "new use-case set running");
        self.set = set;
    }
}
