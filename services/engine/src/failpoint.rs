//! Fault injection for the crash and fault suites: `REVENUE_ENGINE_FAILPOINT=<point>:<probability>`.
//! At a crash point the process aborts (no cleanup, like SIGKILL) — the narrow windows of a
//! checkpoint that random kills rarely hit. At a fault point ([`PRODUCE`], [`PRODUCE_OUTPUT`], [`STORE_WRITE`]) the
//! operation fails the way the real one can, and the engine's own error handling takes over.
//! Unset in production; a crash point is checked once per checkpoint, a fault point once per call.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Between the changelog records being sent and the commit (transaction or flush).
pub const BEFORE_COMMIT: &str = "before_commit";
/// After the commit (transaction or flush), before the local RocksDB write.
pub const AFTER_COMMIT: &str = "after_commit";
/// After the local RocksDB write, before the group offset commit (at-least-once).
pub const BEFORE_OFFSET_COMMIT: &str = "before_offset_commit";
/// Not a crash: a record handed to the producer fails, as one librdkafka refuses or cannot
/// deliver does (counted as a failed delivery; the record is not sent).
pub const PRODUCE: &str = "produce";
/// As [`PRODUCE`], for actions, decision records and dead letters only (changelog records spared).
pub const PRODUCE_OUTPUT: &str = "produce_output";
/// Not a crash: a checkpoint's RocksDB batch write returns an error (nothing is written).
pub const STORE_WRITE: &str = "store_write";

struct Failpoint {
    point: String,
    /// Out of 2^32.
    threshold: u64,
}

fn configured() -> Option<&'static Failpoint> {
    static FAILPOINT: OnceLock<Option<Failpoint>> = OnceLock::new();
    FAILPOINT
        .get_or_init(|| {
            let value = std::env::var("REVENUE_ENGINE_FAILPOINT").ok()?;
            let (point, probability) = value.split_once(':')?;
            let probability: f64 = probability.parse().ok()?;
            Some(Failpoint {
                point: point.to_string(),
                threshold: (probability.clamp(0.0, 1.0) * f64::from(u32::MAX)) as u64,
            })
        })
        .as_ref()
}

/// Whether any failpoint is configured (a cheap check before work only a failpoint needs).
pub fn active() -> bool {
    configured().is_some()
}

/// Whether `point` is the configured one and fires now (with its probability).
fn fires(point: &str) -> bool {
    let Some(failpoint) = configured() else { return false };
    if failpoint.point != point {
        return false;
    }
    // calls within one clock tick must not all roll alike: a counter is mixed in
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = nanos ^ CALLS.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9);
    let roll = u64::from(mixed.wrapping_mul(2_654_435_761));
    roll < failpoint.threshold
}

/// Aborts the process at crash point `point` with the configured probability.
pub fn hit(point: &str) {
    if fires(point) {
        // the crash suite reads this line; tracing may not flush before the abort
        #[allow(clippy::print_stderr)]
        {
            eprintln!("failpoint {point}: aborting");
        }
        std::process::abort();
    }
}

/// Whether the operation at fault point `point` fails this time (the caller makes it fail).
pub fn fails(point: &str) -> bool {
    let fired = fires(point);
    if fired {
        tracing::warn!(failpoint = point, "failpoint: injecting a failure");
    }
    fired
}
