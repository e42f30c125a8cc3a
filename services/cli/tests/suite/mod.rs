//! What the crash and fault suites share: engine "pods" (`revenue-engine run` processes), the
//! brokers they run against, the paced feeder, and the checks every run ends with.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod checks;
pub mod scenario;

use revenue_core::rng::Rng;
use revenue_testkit::{free_port, http_get, repo, wait_exit, INPUT};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Random moments from a printed seed (`CRASH_SEED=<seed>` repeats them).
pub struct Dice(pub Rng);

impl Dice {
    pub fn from_env_or_clock() -> Dice {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        println!("seed: CRASH_SEED={seed}");
        Dice(Rng::new(seed))
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.0.below(high.saturating_sub(low).max(1)))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Guarantee {
    AtLeastOnce,
    ExactlyOnce,
}

/// Writes `root/config.yaml`: an engine of `group` on `bootstrap` (pod `name`, its state under
/// `root/state`) over the benchmark use cases, serving HTTP on `http`, logging JSON.
pub fn write_config(
    root: &Path,
    name: &str,
    bootstrap: &str,
    group: &str,
    guarantee: Guarantee,
    http: &str,
) -> PathBuf {
    let guarantee = match guarantee {
        Guarantee::AtLeastOnce => "at_least_once",
        Guarantee::ExactlyOnce => "exactly_once",
    };
    let config = format!(
        "kafka:
  bootstrap_servers: {bootstrap}
  group_id: {group}
  input_topics: [{INPUT}]
  dead_letter_topic: dead-letters
  customer_id: key
  guarantee: {guarantee}
  transactional_id: {group}-{name}
  properties:
    session.timeout.ms: \"6000\"
    heartbeat.interval.ms: \"500\"
state:
  dir: {state}
  commit_interval_ms: 200
use_cases:
  dir: {use_cases}
http:
  listen: {http}
log:
  format: json
",
        state = root.join("state").display(),
        use_cases = repo().join("usecases/benchmark").display(),
    );
    let path = root.join("config.yaml");
    std::fs::write(&path, config).expect("config");
    path
}

/// One engine "pod": a `revenue-engine run` process with its own state directory, HTTP port and
/// transactional id (stable across its restarts, like a StatefulSet pod's name).
pub struct Instance {
    pub name: String,
    pub root: PathBuf,
    pub http: String,
    pub child: Option<Child>,
    pub kills: u32,
    /// `REVENUE_ENGINE_FAILPOINT` for the next start: the process aborts itself there (crash
    /// points) or fails an operation (fault points).
    pub failpoint: Option<String>,
    /// Times the process exited by itself and was restarted.
    pub exits: u32,
    /// When the last restart after an exit happened, until the instance is ready again.
    revived_at: Option<Instant>,
    /// From each restart after an exit to ready again.
    pub recoveries: Vec<Duration>,
}

impl Instance {
    pub fn new(root: &Path, name: &str, bootstrap: &str, group: &str, guarantee: Guarantee) -> Instance {
        let root = root.join(name);
        std::fs::create_dir_all(&root).expect("instance dir");
        let http = format!("127.0.0.1:{}", free_port());
        write_config(&root, name, bootstrap, group, guarantee, &http);
        Instance {
            name: name.into(),
            root,
            http,
            child: None,
            kills: 0,
            failpoint: None,
            exits: 0,
            revived_at: None,
            recoveries: Vec::new(),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("engine.log"))
            .expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_revenue-engine"));
        command
            .args(["run", "--config"])
            .arg(self.root.join("config.yaml"))
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(failpoint) = &self.failpoint {
            command.env("REVENUE_ENGINE_FAILPOINT", failpoint);
        }
        let child = command.spawn().expect("engine starts");
        self.child = Some(child);
    }

    /// Restarts the process when it exited by itself (Kubernetes would), saying so.
    pub fn revive_if_exited(&mut self) {
        let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            self.exits += 1;
            println!(
                "{}: exited by itself ({status}); restarting\n{}",
                self.name,
                self.log_tail_n(4)
            );
            self.revived_at = Some(Instant::now());
            self.spawn();
        }
    }

    pub fn ready(&mut self) -> bool {
        self.revive_if_exited();
        let ready = http_get(&self.http, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"));
        if ready {
            if let Some(at) = self.revived_at.take() {
                self.recoveries.push(at.elapsed());
            }
        }
        ready
    }

    pub fn wait_ready(&mut self) {
        let started = Instant::now();
        while !self.ready() {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "{} not ready in 90 s\n{}",
                self.name,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
            let _ = child.wait();
            self.kills += 1;
        }
    }

    pub fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let sent = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(sent.success(), "kill {signal}");
        }
    }

    /// SIGTERM, like a scale-down or rolling update: the engine finishes and exits 0.
    pub fn terminate(&mut self) {
        self.signal("-TERM");
        if let Some(mut child) = self.child.take() {
            let status = wait_exit(&mut child, Duration::from_secs(60))
                .unwrap_or_else(|| panic!("{}: no exit 60 s after SIGTERM", self.name));
            assert!(status.success(), "{}: exit {status}\n{}", self.name, self.log_tail());
        }
    }

    /// Ends a fault window: SIGTERM (the exit may fail when the fault hits the last checkpoint)
    /// and a start without the failpoint.
    pub fn restart_without_failpoint(&mut self) {
        // joined first: Tansu 0.6's coordinator can wedge when a member leaves mid-join
        self.wait_ready();
        self.failpoint = None;
        self.signal("-TERM");
        if let Some(mut child) = self.child.take() {
            let status = wait_exit(&mut child, Duration::from_secs(60))
                .unwrap_or_else(|| panic!("{}: no exit 60 s after SIGTERM", self.name));
            println!("{}: stopped ({status}), restarted without the failpoint", self.name);
        }
        self.spawn();
    }

    /// Waits until the process aborts itself at its failpoint.
    pub fn wait_crash(&mut self) {
        let mut child = self.child.take().expect("running");
        let status = wait_exit(&mut child, Duration::from_secs(120)).unwrap_or_else(|| {
            panic!(
                "{}: no crash at failpoint {:?} in 120 s\n{}",
                self.name,
                self.failpoint,
                self.log_tail()
            )
        });
        assert!(
            !status.success(),
            "{}: aborted at its failpoint, got {status}",
            self.name
        );
        self.failpoint = None;
    }

    pub fn lose_disk(&self) {
        let _ = std::fs::remove_dir_all(self.state_dir());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("engine.log")).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        self.log_tail_n(15)
    }

    pub fn log_tail_n(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Restarts after exits and how long each took to be ready again, for the test's report.
    pub fn recovery_report(&self) -> String {
        let max = self.recoveries.iter().max().copied().unwrap_or_default();
        let total: Duration = self.recoveries.iter().sum();
        let mean = total.checked_div(self.recoveries.len() as u32).unwrap_or_default();
        format!(
            "{}: {} exit(s) restarted; ready again after {:.1} s mean, {:.1} s max",
            self.name,
            self.exits,
            mean.as_secs_f64(),
            max.as_secs_f64()
        )
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
