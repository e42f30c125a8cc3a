//! `revenue-engine run`: a real process against a Kafka-protocol broker (the mock cluster,
//! started here), ready on /readyz, and a clean exit 0 on SIGTERM.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rdkafka::mocking::MockCluster;
use revenue_testkit::{free_port, http_get, repo, wait_exit};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn run_serves_health_and_stops_cleanly_on_sigterm() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    for topic in ["events.behaviour", "events.transactions", "run-test.state-changelog"] {
        cluster.create_topic(topic, 4, 1).expect("topic");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let listen = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "kafka:\n  bootstrap_servers: {}\n  group_id: run-test\nstate:\n  dir: {}\nuse_cases:\n  dir: {}\nhttp:\n  listen: {listen}\nlog:\n  format: json\n",
            cluster.bootstrap_servers(),
            dir.path().join("state").display(),
            repo().join("usecases/reference").display()
        ),
    )
    .expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_revenue-engine"))
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let started = Instant::now();
    loop {
        let ready = http_get(&listen, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"));
        if ready {
            break;
        }
        assert!(child.try_wait().expect("status").is_none(), "engine exited early");
        assert!(started.elapsed() < Duration::from_secs(30), "not ready in 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let metrics = http_get(&listen, "/metrics").unwrap_or_default();
    assert!(metrics.contains("revenue_engine_partitions_assigned 8"), "{metrics}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = wait_exit(&mut child, Duration::from_secs(30)).expect("exit within 30 s of SIGTERM");
    let mut logs = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("logs");
    assert!(status.success(), "exit {status:?}\n{logs}");
    assert!(logs.contains("engine stopped cleanly"), "{logs}");
    // JSON logs: every line is a JSON object
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{logs}"
    );
}

#[test]
fn run_refuses_a_bad_configuration_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "kafka:\n  bootstrap_server: typo:9092\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_revenue-engine"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bootstrap_server") && stderr.contains("unknown field"),
        "{stderr}"
    );
}
