//! Time to ready of `revenue-engine run` on Tansu, with the crash suite's settings: a start
//! waits for the group and nothing the engine could avoid — a restart after SIGTERM reads none
//! of the changelog its local state already holds (Tansu under-reports high watermarks, which
//! used to make every restart rebuild every partition from the start of its changelog). Each
//! start logs its phases once; the bound on time to ready is generous (the issue measured 24 s).

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use revenue_testkit::{
    bench_lines, customer_of, free_port, http_get, producer, send_waiting, wait_exit, Tansu, INPUT, PARTITIONS,
};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// the suite's config writer only
#[allow(dead_code)]
mod suite;
use suite::{write_config, Guarantee};

const GROUP: &str = "startup";

/// Starts the engine, logging to `log`, and returns it with its time to `/readyz` 200.
fn start_ready(config: &Path, log: &Path, http: &str) -> (Child, Duration) {
    let stderr = std::fs::File::create(log).expect("log file");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_revenue-engine"))
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("engine starts");
    while !http_get(http, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!(
                "not ready in 60 s\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, started.elapsed())
}

fn terminate(mut child: Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = wait_exit(&mut child, Duration::from_secs(60)).expect("exits after SIGTERM");
    assert!(status.success(), "exit {status}");
}

/// The JSON log lines with `message`.
fn logged(log: &Path, message: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains(message)))
        .collect()
}

fn committed_events(bootstrap: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", GROUP)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(INPUT, p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10));
    committed.map_or(0, |c| {
        c.elements()
            .iter()
            .map(|e| match e.offset() {
                Offset::Offset(o) => o,
                _ => 0,
            })
            .sum()
    })
}

/// What one start logged: how often its phases (once is right), and what it read back from
/// the changelog.
fn report(what: &str, log: &Path, ready: Duration) -> (usize, u64, usize) {
    let phases = logged(log, "startup: ready");
    let restored: u64 = logged(log, "state restored")
        .iter()
        .map(|l| l["fields"]["records"].as_u64().unwrap_or(0))
        .sum();
    let rebuilt = logged(log, "rebuilding").len();
    println!(
        "{what}: ready after {:.2} s; {}; {restored} changelog records read, {rebuilt} partition(s) rebuilt",
        ready.as_secs_f64(),
        phases
            .first()
            .and_then(|p| p["fields"]["phases"].as_str())
            .unwrap_or("no startup phases logged")
    );
    (phases.len(), restored, rebuilt)
}

#[test]
fn a_start_waits_only_for_the_group_and_a_restart_reads_nothing_its_state_holds() {
    let tansu = Tansu::start();
    tansu.create_benchmark_topics();
    let root = tempfile::tempdir().expect("dir");
    let http = format!("127.0.0.1:{}", free_port());
    let config = write_config(
        root.path(),
        "startup",
        &tansu.bootstrap,
        GROUP,
        Guarantee::AtLeastOnce,
        &http,
    );

    let first_log = root.path().join("first.log");
    let (engine, ready) = start_ready(&config, &first_log, &http);
    let (first_phases, _, _) = report("first start", &first_log, ready);
    assert!(
        ready < Duration::from_secs(12),
        "a clean start is ready well within 12 s: {ready:?}"
    );
    let lines = bench_lines(5_000, 500);
    let events = producer(&tansu.bootstrap);
    for line in &lines {
        send_waiting(&events, INPUT, &customer_of(line), line);
    }
    let fed = Instant::now();
    while committed_events(&tansu.bootstrap) < lines.len() as i64 {
        assert!(fed.elapsed() < Duration::from_secs(120), "events committed in 120 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    terminate(engine);

    let restart_log = root.path().join("restart.log");
    let (engine, ready) = start_ready(&config, &restart_log, &http);
    let (restart_phases, restored, rebuilt) = report("restart after SIGTERM", &restart_log, ready);
    terminate(engine);
    assert_eq!(
        rebuilt, 0,
        "no partition rebuilt: its local state is the changelog's end"
    );
    assert_eq!(
        restored, 0,
        "nothing read back: the local state holds the whole changelog"
    );
    assert!(
        ready < Duration::from_secs(12),
        "a restart is ready well within 12 s: {ready:?}"
    );
    assert_eq!(
        (first_phases, restart_phases),
        (1, 1),
        "each start logs its phases once"
    );
}
