//! Crash injection for the crash tests: `REVENUE_ENGINE_FAILPOINT=<point>:<probability>` makes
//! the process abort (no cleanup, like SIGKILL) when it reaches `point` — the narrow windows of a
//! checkpoint that random kills rarely hit. Unset in production; checked once per checkpoint.

use std::sync::OnceLock;

/// Between the changelog records being sent and the commit (transaction or flush).
pub const BEFORE_COMMIT: &str = "before_commit";
/// After the commit (transaction or flush), before the local RocksDB write.
pub const AFTER_COMMIT: &str = "after_commit";
/// After the local RocksDB write, before the group offset commit (at-least-once).
pub const BEFORE_OFFSET_COMMIT: &str = "before_offset_commit";

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

/// Aborts the process at `point` with the configured probability.
pub fn hit(point: &str) {
    let Some(failpoint) = configured() else { return };
    if failpoint.point != point {
        return;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let roll = u64::from(nanos.wrapping_mul(2_654_435_761));
    if roll < failpoint.threshold {
        // the crash suite reads this line; tracing may not flush before the abort
        #[allow(clippy::print_stderr)]
        {
            eprintln!("failpoint {point}: aborting");
        }
        std::process::abort();
    }
}
