//! What the engine is doing, shared with the HTTP listener and the demo (and its use-case slot
//! with the watcher). Its own module, so that readers of the status need not depend on the engine.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the engine is doing, shared with the HTTP listener and the demo.
#[derive(Debug, Default)]
pub struct Status {
    pub events_in: AtomicU64,
    pub actions_out: AtomicU64,
    pub dead_letters: AtomicU64,
    pub partitions: AtomicUsize,
    pub joined: AtomicBool,
    pub stopping: AtomicBool,
    /// Partitions restoring their state from the changelog right now.
    pub restoring: AtomicUsize,
    /// The running use cases, and a validated new set waiting to be swapped in (shared with
    /// the use-case watcher).
    pub use_cases: Arc<crate::reload::UseCaseSlot>,
    /// `GET /customers/{id}`: questions from the HTTP listener, answered by the engine loop.
    pub customers: crate::customers::CustomerQueries,
    heartbeat_ms: AtomicI64,
}

/// Milliseconds since the Unix epoch by the system clock (0 if the clock is before it).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Status {
    /// The engine is alive now (`/healthz` watches the age of the last beat).
    pub(crate) fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn heartbeat_age(&self) -> Duration {
        Duration::from_millis((now_ms() - self.heartbeat_ms.load(Ordering::Relaxed)).max(0) as u64)
    }

    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if self.stopping.load(Ordering::Relaxed) {
            Some("shutting down")
        } else if !self.joined.load(Ordering::Relaxed) {
            Some("not yet a member of the consumer group")
        } else if self.restoring.load(Ordering::Relaxed) > 0 {
            Some("restoring state from the changelog")
        } else {
            None
        }
    }
}
