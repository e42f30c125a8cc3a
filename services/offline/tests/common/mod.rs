//! Helpers shared by the offline tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn usecases(name: &str) -> PathBuf {
    repo().join("usecases").join(name)
}

/// Writes the standard workload with `../shared/bench/gen_events.py` (the generator every
/// figure of the project is measured with) and returns the file.
pub fn bench_events(dir: &Path, events: u32, customers: u32) -> PathBuf {
    let generator = repo().join("../shared/bench/gen_events.py");
    assert!(
        generator.exists(),
        "{} is missing: tests expect shared/ beside the repository",
        generator.display()
    );
    let out = dir.join(format!("bench-{events}-{customers}.jsonl"));
    let status = Command::new("python3")
        .arg(&generator)
        .args(["--no-produce", "--dump"])
        .arg(&out)
        .args(["-n", &events.to_string(), "--customers", &customers.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs");
    assert!(status.success(), "gen_events.py failed");
    out
}
