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

// each test binary uses part of the shared helpers
#[allow(dead_code)]
mod suite;

use std::time::{Duration, Instant};
use suite::scenario::Scenario;
use suite::Guarantee;

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
