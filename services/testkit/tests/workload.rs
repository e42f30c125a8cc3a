//! The committed benchmark workload is what `../shared/bench/gen_events.py` writes: tests read
//! the committed copy (no Python at test time), this test keeps the copy honest.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stderr)]

use revenue_testkit::{bench_bytes, repo};
use std::process::Command;

#[test]
fn committed_workload_equals_the_generators_output() {
    let generator = repo().join("../shared/bench/gen_events.py");
    assert!(
        generator.exists() || std::env::var_os("CI").is_none(),
        "CI runs with shared/ beside the clone: {} is missing",
        generator.display()
    );
    if !generator.exists() {
        eprintln!("skipped: {} is not here", generator.display());
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    for (events, customers) in [(20_000u32, 2_000u32), (5_000, 500)] {
        let out = dir.path().join(format!("{events}.jsonl"));
        let status = Command::new("python3")
            .arg(&generator)
            .args(["--no-produce", "--dump"])
            .arg(&out)
            .args(["-n", &events.to_string(), "--customers", &customers.to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("python3 runs");
        assert!(status.success(), "gen_events.py failed");
        let generated = std::fs::read(&out).expect("read");
        assert!(
            generated == bench_bytes(events, customers),
            "services/testkit/data/bench-{events}-{customers}.jsonl.gz differs from gen_events.py's output: regenerate it"
        );
    }
}
