//! How long each startup phase took, logged once, when the engine first holds its partitions
//! (what `/readyz` waits for): where a slow start spends its time, without a log per event.

use std::time::Instant;
use tracing::info;

pub(super) struct Startup {
    began: Instant,
    last: Instant,
    phases: Vec<(&'static str, u128)>,
}

impl Startup {
    pub(super) fn begin() -> Startup {
        let now = Instant::now();
        Startup {
            began: now,
            last: now,
            phases: Vec::new(),
        }
    }

    /// `phase` ends now (it began when the previous one ended).
    pub(super) fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases.push((phase, now.duration_since(self.last).as_millis()));
        self.last = now;
    }

    pub(super) fn log(&self, partitions: usize) {
        let phases: Vec<String> = self.phases.iter().map(|(p, ms)| format!("{p}={ms}ms")).collect();
        info!(
            total_ms = self.began.elapsed().as_millis() as u64,
            partitions,
            phases = %phases.join(" "),
            "startup: ready (first partitions assigned and restored)"
        );
    }
}
