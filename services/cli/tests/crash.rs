//! Crash suite: `revenue-engine run` processes killed with SIGKILL at random moments, restarted
//! (sometimes on an empty disk), scaled out and in, against Tansu — an independent
//! Kafka-compatible broker, started here. Every test first probes and prints what the broker
//! does with aborted transactions, then checks what must hold on any broker: no action lost,
//! every repeated action byte-identical to its first copy, committed offsets, changelog and local
//! state agreeing, and every customer's final state equal to a crash-free run's. Where the broker
//! hides aborted data from `read_committed` readers, exactly-once also means no action twice.
//!
//! A run prints its random seed; `CRASH_SEED=<seed>` repeats its kill moments.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use revenue_core::rng::Rng;
use revenue_engine::changelog::RestoreContext;
use revenue_engine::store::PartitionStore;
use revenue_testkit::{
    aborted_messages_hidden, bench_lines, customer_of, decode_action, free_port, http_get, murmur2_partition,
    offline_run, read_all, repo, send_waiting, wait_exit, OfflineRun, Tansu, ACTION_TOPICS, INPUT, PARTITIONS,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The crash tests run one at a time: each starts its own broker and several engine processes.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const EXPECTED_ACTIONS: usize = 1_982;

/// Kill moments from a printed seed.
struct Dice(Rng);

impl Dice {
    fn from_env_or_clock() -> Dice {
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

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.0.below(high.saturating_sub(low).max(1)))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Guarantee {
    AtLeastOnce,
    ExactlyOnce,
}

/// One engine "pod": a `revenue-engine run` process with its own state directory, HTTP port and
/// transactional id (stable across its restarts, like a StatefulSet pod's name).
struct Instance {
    name: String,
    root: PathBuf,
    http: String,
    child: Option<Child>,
    kills: u32,
    /// `REVENUE_ENGINE_FAILPOINT` for the next start: the process aborts itself there.
    failpoint: Option<String>,
}

impl Instance {
    fn new(root: &Path, name: &str, bootstrap: &str, group: &str, guarantee: Guarantee) -> Instance {
        let root = root.join(name);
        std::fs::create_dir_all(&root).expect("instance dir");
        let http = format!("127.0.0.1:{}", free_port());
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
        std::fs::write(root.join("config.yaml"), config).expect("config");
        Instance {
            name: name.into(),
            root,
            http,
            child: None,
            kills: 0,
            failpoint: None,
        }
    }

    fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    fn spawn(&mut self) {
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
    fn revive_if_exited(&mut self) {
        let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        if let Some(status) = exited {
            println!(
                "{}: exited by itself ({status}); restarting\n{}",
                self.name,
                self.log_tail()
            );
            self.spawn();
        }
    }

    fn ready(&mut self) -> bool {
        self.revive_if_exited();
        http_get(&self.http, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    }

    fn wait_ready(&mut self) {
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

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
            let _ = child.wait();
            self.kills += 1;
        }
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let sent = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(sent.success(), "kill {signal}");
        }
    }

    /// SIGTERM, like a scale-down or rolling update: the engine finishes and exits 0.
    fn terminate(&mut self) {
        self.signal("-TERM");
        if let Some(mut child) = self.child.take() {
            let status = wait_exit(&mut child, Duration::from_secs(60))
                .unwrap_or_else(|| panic!("{}: no exit 60 s after SIGTERM", self.name));
            assert!(status.success(), "{}: exit {status}\n{}", self.name, self.log_tail());
        }
    }

    /// Waits until the process aborts itself at its failpoint.
    fn wait_crash(&mut self) {
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

    fn lose_disk(&self) {
        let _ = std::fs::remove_dir_all(self.state_dir());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("engine.log")).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
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

/// Produces the workload at a steady pace on its own thread, so kills land while it flows.
struct Feeder {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Feeder {
    fn start(bootstrap: &str, lines: Vec<String>, per_second: usize) -> Feeder {
        let bootstrap = bootstrap.to_string();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            let producer = revenue_testkit::producer(&bootstrap);
            let chunk = (per_second / 10).max(1);
            for lines in lines.chunks(chunk) {
                for line in lines {
                    send_waiting(&producer, INPUT, &customer_of(line), line);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            producer.flush(Duration::from_secs(60)).expect("flush");
            flag.store(true, Ordering::Relaxed);
        });
        Feeder {
            done,
            thread: Some(thread),
        }
    }

    fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            thread.join().expect("feeder");
        }
        assert!(self.done.load(Ordering::Relaxed));
    }
}

fn committed_offsets(bootstrap: &str, group: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(INPUT, p);
    }
    match consumer.committed_offsets(tpl, Duration::from_secs(10)) {
        Ok(committed) => committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// Waits until the group has committed every input event (high watermarks under-report on
/// Tansu, so the produced counts decide), reviving instances that exited by themselves.
fn wait_all_committed(bootstrap: &str, group: &str, offline: &OfflineRun, instances: &mut [&mut Instance]) {
    let started = Instant::now();
    loop {
        if committed_offsets(bootstrap, group) == offline.end_offsets {
            return;
        }
        for instance in instances.iter_mut() {
            if instance.child.is_some() {
                instance.revive_if_exited();
            }
        }
        if started.elapsed() > Duration::from_secs(180) {
            let logs: Vec<String> = instances
                .iter()
                .map(|i| format!("--- {}\n{}", i.name, i.log_tail()))
                .collect();
            panic!(
                "not everything committed in 180 s: {:?} of {:?}\n{}",
                committed_offsets(bootstrap, group),
                offline.end_offsets,
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every expected action arrived, nothing else did, and every repeated `action_id` is
/// byte-identical to its first copy. Returns how many copies were repeats.
fn check_actions(bootstrap: &str, offline: &OfflineRun) -> usize {
    let received = read_all(bootstrap, &ACTION_TOPICS, EXPECTED_ACTIONS);
    let mut first: HashMap<String, &[u8]> = HashMap::new();
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut repeats = 0;
    for message in &received {
        let action = decode_action(&message.payload);
        let id = action["action_id"].as_str().expect("action id").to_string();
        assert!(
            offline.action_ids.contains(&id),
            "an action no crash-free run produces: {action}"
        );
        match first.get(&id) {
            Some(bytes) => {
                assert_eq!(
                    *bytes,
                    message.payload.as_slice(),
                    "repeat of {id} differs from its first copy"
                );
                repeats += 1;
            }
            None => {
                *by_type
                    .entry(action["action_type"].as_str().unwrap_or("").into())
                    .or_default() += 1;
                first.insert(id, &message.payload);
            }
        }
    }
    assert_eq!(first.len(), EXPECTED_ACTIONS, "every expected action id arrived");
    assert_eq!(by_type.get("telemarketing_handoff"), Some(&277));
    assert_eq!(by_type.get("warmup_email"), Some(&1_705));
    println!(
        "actions read (read_committed): {} copies, {} distinct ids, {repeats} repeats (all byte-identical)",
        received.len(),
        first.len()
    );
    repeats
}

/// Every customer of `partition` in `store` equals the crash-free run's state.
fn check_store(store: &mut PartitionStore, partition: i32, offline: &OfflineRun, context: &str) -> usize {
    let set = revenue_usecases::load_dir(&repo().join("usecases/benchmark")).expect("use cases");
    let mut compared = 0;
    for (customer, expected) in &offline.states {
        if murmur2_partition(customer.as_bytes(), PARTITIONS) != partition {
            continue;
        }
        let stored = store.customer(&set.catalog, customer).expect("read state");
        assert_eq!(
            &*stored, expected,
            "{context}: state of {customer} in partition {partition}"
        );
        compared += 1;
    }
    compared
}

/// Committed offsets, changelog and local state agree, and equal the crash-free run: the
/// changelog restored into an empty directory, and the last owner's local store of every
/// partition (the one whose stored offsets are the committed ones).
fn check_state(bootstrap: &str, group: &str, guarantee: Guarantee, offline: &OfflineRun, instances: &[&Instance]) {
    let committed = committed_offsets(bootstrap, group);
    assert_eq!(committed, offline.end_offsets, "committed input offsets");
    let restorer: BaseConsumer<RestoreContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "crash-check")
        .set("enable.partition.eof", "true")
        .set("fetch.wait.max.ms", "20")
        .create_with_context(RestoreContext)
        .expect("restorer");
    let fresh = tempfile::tempdir().expect("dir");
    let changelog = format!("{group}.state-changelog");
    let set = revenue_usecases::load_dir(&repo().join("usecases/benchmark")).expect("use cases");
    let mut customers = 0;
    for partition in 0..PARTITIONS {
        let next = BTreeMap::from([(INPUT.to_string(), committed[&partition])]);
        let store = PartitionStore::open(fresh.path(), partition, 100_000).expect("store");
        let bound = (guarantee == Guarantee::ExactlyOnce).then_some(&next);
        let (mut store, _) =
            revenue_engine::changelog::restore(&restorer, &set.catalog, &changelog, partition, store, bound, |_| {})
                .expect("restore");
        assert_eq!(
            store.input_offsets().expect("offsets"),
            next,
            "changelog offsets, partition {partition}"
        );
        customers += check_store(&mut store, partition, offline, "changelog");
    }
    assert_eq!(customers, offline.states.len());
    let mut local = 0;
    for partition in 0..PARTITIONS {
        let next = BTreeMap::from([(INPUT.to_string(), committed[&partition])]);
        for instance in instances {
            let dir = instance.state_dir();
            if !revenue_engine::store::store_path(&dir, partition).exists() {
                continue;
            }
            let mut store = PartitionStore::open(&dir, partition, 100_000).expect("store");
            let stored = store.input_offsets().expect("offsets");
            if stored == next {
                check_store(
                    &mut store,
                    partition,
                    offline,
                    &format!("local store of {}", instance.name),
                );
                local += 1;
            }
        }
    }
    assert!(
        local >= PARTITIONS as usize,
        "every partition's last owner holds the final state locally"
    );
    println!(
        "state: {customers} customers restored from the changelog and {local} local partition stores equal the crash-free run; committed offsets = input ends"
    );
}

fn probe(tansu: &Tansu) -> bool {
    let hidden = aborted_messages_hidden(&tansu.bootstrap, "probe");
    println!(
        "broker: Tansu 0.6.0 at {}; probe: aborted transactional messages are {} to read_committed readers",
        tansu.bootstrap,
        if hidden {
            "hidden"
        } else {
            "VISIBLE (no zero-duplicate check)"
        }
    );
    hidden
}

/// What every crash test shares: one test at a time, its seed, a fresh Tansu with the
/// benchmark topics and its transaction probe, the workload and its crash-free reference.
struct Scenario {
    _serial: std::sync::MutexGuard<'static, ()>,
    dice: Dice,
    tansu: Tansu,
    hides_aborted: bool,
    lines: Vec<String>,
    offline: OfflineRun,
    root: tempfile::TempDir,
    group: &'static str,
    guarantee: Guarantee,
}

impl Scenario {
    fn start(group: &'static str, guarantee: Guarantee) -> Scenario {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dice = Dice::from_env_or_clock();
        let tansu = Tansu::start();
        tansu.create_benchmark_topics();
        let hides_aborted = probe(&tansu);
        let lines = bench_lines(20_000, 2_000);
        let offline = offline_run(&lines);
        Scenario {
            _serial: serial,
            dice,
            tansu,
            hides_aborted,
            lines,
            offline,
            root: tempfile::tempdir().expect("dir"),
            group,
            guarantee,
        }
    }

    fn instance(&self, name: &str) -> Instance {
        Instance::new(
            self.root.path(),
            name,
            &self.tansu.bootstrap,
            self.group,
            self.guarantee,
        )
    }

    fn feed(&mut self, per_second: usize) -> Feeder {
        Feeder::start(&self.tansu.bootstrap, std::mem::take(&mut self.lines), per_second)
    }

    /// Lets the run finish (everything committed), stops the `running` instances with SIGTERM
    /// once they hold their partitions, and checks actions and state (local stores of `running`
    /// and `stopped` instances).
    fn finish(&self, feeder: Feeder, running: &mut [&mut Instance], stopped: &[&Instance]) {
        feeder.finish();
        wait_all_committed(&self.tansu.bootstrap, self.group, &self.offline, running);
        for instance in running.iter_mut() {
            instance.wait_ready();
        }
        for instance in running.iter_mut() {
            instance.terminate();
        }
        let repeats = check_actions(&self.tansu.bootstrap, &self.offline);
        if self.guarantee == Guarantee::ExactlyOnce && self.hides_aborted {
            assert_eq!(
                repeats, 0,
                "exactly-once on a broker that hides aborted data: no repeats"
            );
        }
        let all: Vec<&Instance> = running.iter().map(|i| &**i).chain(stopped.iter().copied()).collect();
        check_state(&self.tansu.bootstrap, self.group, self.guarantee, &self.offline, &all);
    }
}

/// How one crash of the single-instance tests happens.
#[derive(Clone, Copy)]
enum Crash {
    /// SIGKILL a random moment after the instance is ready.
    Kill,
    /// SIGKILL a random moment after the start: during startup, joining or restoring.
    EarlyKill,
    /// The process aborts itself at a failpoint of the checkpoint (a window too narrow for
    /// random kills to hit often).
    At(&'static str),
}

/// One instance crashed once per step of `plan`, its state directory deleted before the
/// restarts marked `true`.
fn crash_and_restart(guarantee: Guarantee, group: &'static str, plan: &[(Crash, bool)]) {
    let mut scenario = Scenario::start(group, guarantee);
    let mut engine = scenario.instance("engine-0");
    engine.spawn();
    engine.wait_ready();
    let feeder = scenario.feed(300);
    let started = Instant::now();
    for (step, (crash, lose_disk)) in plan.iter().enumerate() {
        let how = match crash {
            Crash::Kill | Crash::EarlyKill => {
                if matches!(crash, Crash::EarlyKill) {
                    std::thread::sleep(scenario.dice.millis(100, 1_500));
                } else {
                    engine.wait_ready();
                    std::thread::sleep(scenario.dice.millis(200, 2_500));
                }
                engine.kill();
                "SIGKILL".to_string()
            }
            Crash::At(point) => {
                engine.wait_crash();
                format!("aborted itself at failpoint {point}")
            }
        };
        if *lose_disk {
            engine.lose_disk();
        }
        println!(
            "{:>5.1} s: crash #{}: {how}{}",
            started.elapsed().as_secs_f64(),
            step + 1,
            if *lose_disk { ", state directory deleted" } else { "" }
        );
        if let Some((Crash::At(point), _)) = plan.get(step + 1) {
            engine.failpoint = Some(format!("{point}:0.25"));
        }
        engine.spawn();
    }
    let kills = plan.iter().filter(|(c, _)| !matches!(c, Crash::At(_))).count();
    assert_eq!(engine.kills as usize, kills);
    scenario.finish(feeder, &mut [&mut engine], &[]);
}

use revenue_engine::failpoint::{AFTER_COMMIT, BEFORE_COMMIT, BEFORE_OFFSET_COMMIT};

#[test]
fn exactly_once_survives_sigkills_crashes_in_commits_and_lost_disks() {
    let plan = [
        (Crash::Kill, false),
        (Crash::Kill, true),
        (Crash::EarlyKill, false),
        (Crash::At(BEFORE_COMMIT), true),
        (Crash::Kill, false),
        (Crash::At(AFTER_COMMIT), false),
        (Crash::Kill, true),
    ];
    crash_and_restart(Guarantee::ExactlyOnce, "crash-eos", &plan);
}

#[test]
fn at_least_once_survives_sigkills_and_crashes_in_commits_without_loss() {
    let plan = [
        (Crash::Kill, false),
        (Crash::At(BEFORE_OFFSET_COMMIT), false),
        (Crash::EarlyKill, true),
        (Crash::Kill, false),
        (Crash::At(BEFORE_COMMIT), true),
        (Crash::Kill, false),
        (Crash::Kill, false),
    ];
    crash_and_restart(Guarantee::AtLeastOnce, "crash-alo", &plan);
}

#[test]
fn exactly_once_while_scaling_one_to_three_to_two_with_kills() {
    let mut scenario = Scenario::start("crash-scale", Guarantee::ExactlyOnce);
    let (mut a, mut b, mut c) = (
        scenario.instance("engine-0"),
        scenario.instance("engine-1"),
        scenario.instance("engine-2"),
    );
    let started = Instant::now();
    let say = |what: &str| println!("{:>5.1} s: {what}", started.elapsed().as_secs_f64());
    a.spawn();
    a.wait_ready();
    let feeder = scenario.feed(500);
    std::thread::sleep(scenario.dice.millis(500, 2_000));
    say("scale 1 → 3");
    b.spawn();
    c.spawn();
    for instance in [&mut a, &mut b, &mut c] {
        instance.wait_ready();
    }
    std::thread::sleep(scenario.dice.millis(200, 2_000));
    say("SIGKILL engine-1");
    b.kill();
    b.spawn();
    b.wait_ready();
    std::thread::sleep(scenario.dice.millis(200, 2_000));
    say("scale 3 → 2 (SIGTERM engine-2)");
    c.terminate();
    a.wait_ready();
    std::thread::sleep(scenario.dice.millis(200, 2_000));
    say("SIGKILL engine-0, state directory deleted");
    a.kill();
    a.lose_disk();
    a.spawn();
    a.wait_ready();
    std::thread::sleep(scenario.dice.millis(200, 2_000));
    say("SIGKILL engine-1");
    b.kill();
    b.spawn();
    scenario.finish(feeder, &mut [&mut a, &mut b], &[&c]);
}

#[test]
fn exactly_once_when_a_frozen_instance_is_kicked_out_and_comes_back() {
    let mut scenario = Scenario::start("crash-frozen", Guarantee::ExactlyOnce);
    let (mut a, mut b) = (scenario.instance("engine-0"), scenario.instance("engine-1"));
    a.spawn();
    b.spawn();
    a.wait_ready();
    b.wait_ready();
    let feeder = scenario.feed(500);
    std::thread::sleep(scenario.dice.millis(1_000, 3_000));
    // SIGSTOP: no heartbeats; after session.timeout.ms (6 s) the group gives its partitions to
    // engine-0, while engine-1 still holds an open transaction
    println!("SIGSTOP engine-1 for 10 s");
    b.signal("-STOP");
    std::thread::sleep(Duration::from_secs(10));
    b.signal("-CONT");
    println!("SIGCONT engine-1: it finds its partitions lost, aborts and rejoins");
    scenario.finish(feeder, &mut [&mut a, &mut b], &[]);
    let log = b.log();
    let count = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    let (stalls, lost) = (
        count("stalled past the session timeout"),
        count("partitions lost to another member"),
    );
    println!("engine-1 log: {stalls} stall(s) detected, {lost} lost assignment(s)");
    assert!(stalls > 0, "engine-1 noticed its stall\n{}", b.log_tail());
}
