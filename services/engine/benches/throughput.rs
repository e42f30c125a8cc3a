//! Engine vs. a plain consume → produce pass-through on the embedded broker, in one run, on the
//! standard workload (1M events, 100k customers, 8 partitions).
//! `cargo bench -p revenue-engine-kafka --bench throughput` (BENCH_EVENTS=<jsonl> reuses a dump).

use revenue_engine_kafka::throughput::{engine, passthrough};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn dump() -> PathBuf {
    if let Some(path) = std::env::var_os("BENCH_EVENTS") {
        return PathBuf::from(path);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = std::env::temp_dir().join("revenue-engine-bench-1m.jsonl");
    if !path.exists() {
        eprintln!("writing the 1M-event workload to {} …", path.display());
        revenue_offline::workload::write(&repo, &path, 1_000_000, 100_000).expect("gen_events.py writes the workload");
    }
    path
}

fn main() -> anyhow::Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lines: Vec<String> = std::fs::read_to_string(dump())?.lines().map(str::to_string).collect();
    let set = Arc::new(revenue_offline::load_dir(&repo.join("usecases/benchmark"))?);
    let pass = passthrough(&lines)?;
    println!(
        "{:<24} {:>9} events in {:>6.2}s = {:>9.0} events/s",
        pass.name, pass.events, pass.seconds, pass.events_per_second
    );
    let state = tempfile::tempdir()?;
    let run = engine(&lines, set, state.path())?;
    println!(
        "{:<24} {:>9} events in {:>6.2}s = {:>9.0} events/s, {} actions",
        run.name, run.events, run.seconds, run.events_per_second, run.actions
    );
    println!(
        "ratio engine / pass-through: {:.2}",
        run.events_per_second / pass.events_per_second
    );
    if lines.len() == 1_000_000 {
        anyhow::ensure!(
            run.actions == 97_232,
            "expected 97,232 actions, got {}: a fast wrong engine is not fast",
            run.actions
        );
    }
    Ok(())
}
