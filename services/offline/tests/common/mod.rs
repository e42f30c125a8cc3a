//! Helpers shared by the offline tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn usecases(name: &str) -> PathBuf {
    repo().join("usecases").join(name)
}

/// Writes the standard workload with `../shared/bench/gen_events.py` (the generator every
/// figure of the project is measured with) and returns the file.
pub fn bench_events(dir: &Path, events: u32, customers: u32) -> PathBuf {
    let out = dir.join(format!("bench-{events}-{customers}.jsonl"));
    revenue_offline::workload::write(&repo(), &out, events.into(), customers.into())
        .expect("gen_events.py writes the workload");
    out
}
