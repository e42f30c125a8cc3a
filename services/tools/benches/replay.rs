//! Replay throughput on the standard workload (1M events, 100k customers), single thread.
//! `cargo bench -p revenue-tools --bench replay` (set REPLAY_EVENTS=<file> to reuse a dump).

// A bench binary: it reports on stdout and stops on a broken setup
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use revenue_core::Mode;
use revenue_replay::{replay, ReplayOptions};
use revenue_usecases::load_dir;
use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const EXPECTED_ACTIONS: u64 = 97_232;

fn dump() -> PathBuf {
    if let Some(path) = std::env::var_os("REPLAY_EVENTS") {
        return PathBuf::from(path);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let path = target.join("bench-events-1m.jsonl");
    if !path.exists() {
        eprintln!("writing the 1M-event workload to {} …", path.display());
        revenue_tools::workload::write(&repo, &path, 1_000_000, 100_000).expect("gen_events.py writes the workload");
    }
    path
}

fn main() {
    // `cargo test --benches` runs bench binaries with --bench absent: stay quick then
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let set = Arc::new(load_dir(&repo.join("usecases/benchmark")).expect("benchmark use case loads"));
    let bytes = std::fs::read(dump()).expect("read the event dump");
    let options = ReplayOptions {
        mode: Mode::Engine,
        source_name: "events".into(),
        ..ReplayOptions::default()
    };
    let mut rates = Vec::new();
    for run in 1..=5 {
        let summary = replay(
            set.clone(),
            BufReader::new(Cursor::new(&bytes)),
            std::io::sink(),
            &options,
            |_| {},
        )
        .expect("replay");
        assert_eq!(
            summary.actions, EXPECTED_ACTIONS,
            "wrong result: a fast wrong engine is not fast"
        );
        println!(
            "run {run}: {} events in {:.3}s = {:.0} events/s",
            summary.events, summary.seconds, summary.events_per_second
        );
        rates.push(summary.events_per_second);
    }
    rates.sort_by(f64::total_cmp);
    println!("replay (1 thread, benchmark use case, input in memory, output discarded): median {:.0} events/s, best {:.0} events/s", rates[rates.len() / 2], rates[rates.len() - 1]);
}
