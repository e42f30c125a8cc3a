//! A run: one test at a time, its seed, a fresh broker with the benchmark topics, the feed and
//! its crash-free reference, engine instances, and the checks at the end.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use super::checks::{check_actions, check_dead_letters, check_state, committed_offsets, wait_all_committed};
use super::{Dice, Guarantee, Instance};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use revenue_testkit::{
    aborted_messages_hidden, bench_lines, customer_of, offline_run_feed, send_waiting, FeedItem, OfflineRun, Outage,
    Proxy, Tansu, ACTION_TOPICS, DEAD_LETTERS, INPUT, PARTITIONS,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The tests of one binary run one at a time: each starts its own broker and engine processes.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Which broker a run uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BrokerKind {
    Tansu,
    /// Tansu behind a TCP proxy that can make it unreachable.
    TansuProxied,
    /// librdkafka's mock cluster, in the test process (no transactions: at-least-once only).
    Mock,
}

pub enum Broker {
    Tansu(Tansu, Option<Proxy>),
    Mock(MockCluster<'static, DefaultProducerContext>),
}

impl Broker {
    fn start(kind: BrokerKind, group: &str) -> Broker {
        match kind {
            BrokerKind::Tansu | BrokerKind::TansuProxied => {
                let (tansu, proxy) = match kind {
                    BrokerKind::TansuProxied => {
                        let (tansu, proxy) = Tansu::start_behind_proxy();
                        (tansu, Some(proxy))
                    }
                    _ => (Tansu::start(), None),
                };
                tansu.create_benchmark_topics();
                Broker::Tansu(tansu, proxy)
            }
            BrokerKind::Mock => {
                let cluster = MockCluster::new(1).expect("mock cluster starts");
                cluster.create_topic(INPUT, PARTITIONS, 1).expect("input topic");
                for topic in ACTION_TOPICS {
                    cluster.create_topic(topic, 4, 1).expect("action topic");
                }
                cluster.create_topic(DEAD_LETTERS, 1, 1).expect("dead letters");
                // no admin API there: the engine finds its changelog made
                cluster
                    .create_topic(&format!("{group}.state-changelog"), PARTITIONS, 1)
                    .expect("changelog");
                Broker::Mock(cluster)
            }
        }
    }

    pub fn bootstrap(&self) -> String {
        match self {
            Broker::Tansu(tansu, _) => tansu.bootstrap.clone(),
            Broker::Mock(cluster) => cluster.bootstrap_servers(),
        }
    }

    /// Makes the broker unreachable: through the proxy (Tansu), or the mock broker down (it
    /// closes every connection and refuses new ones, whatever `how` says).
    pub fn fail(&self, how: Outage) {
        match self {
            Broker::Tansu(_, Some(proxy)) => proxy.fail(how),
            Broker::Tansu(_, None) => panic!("Tansu without a proxy cannot be made unreachable"),
            Broker::Mock(cluster) => cluster.broker_down(1).expect("broker down"),
        }
    }

    pub fn restore(&self) {
        match self {
            Broker::Tansu(_, Some(proxy)) => proxy.restore(),
            Broker::Tansu(_, None) => {}
            Broker::Mock(cluster) => cluster.broker_up(1).expect("broker up"),
        }
    }
}

/// Produces the feed at a steady pace on its own thread, so faults land while it flows; it can
/// pause (everything sent so far acknowledged) while the broker is made unreachable.
pub struct Feeder {
    done: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
    paused: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Feeder {
    pub fn start(bootstrap: &str, feed: Vec<FeedItem>, per_second: usize) -> Feeder {
        let bootstrap = bootstrap.to_string();
        let (done, pause, paused) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (flag, pause_flag, paused_flag) = (done.clone(), pause.clone(), paused.clone());
        let thread = std::thread::spawn(move || {
            let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("partitioner", "murmur2_random")
                .set("linger.ms", "5")
                // room for the ~1 MB poison message
                .set("message.max.bytes", "2000000")
                .create()
                .expect("producer");
            let chunk = (per_second / 10).max(1);
            for items in feed.chunks(chunk) {
                for item in items {
                    match item {
                        FeedItem::Line(line) => send_waiting(&producer, INPUT, &customer_of(line), line),
                        FeedItem::Poison(poison) => {
                            let mut record = BaseRecord::<[u8], [u8]>::to(INPUT).partition(poison.partition);
                            if let Some(key) = &poison.key {
                                record = record.key(key.as_bytes());
                            }
                            if let Some(payload) = &poison.payload {
                                record = record.payload(payload.as_slice());
                            }
                            // the same partition and order as the lines before it
                            producer.flush(Duration::from_secs(60)).expect("flush");
                            producer.send(record).map_err(|(e, _)| e).expect("poison sent");
                            producer.flush(Duration::from_secs(60)).expect("flush");
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
                if pause_flag.load(Ordering::SeqCst) {
                    producer.flush(Duration::from_secs(60)).expect("flush before a pause");
                    paused_flag.store(true, Ordering::SeqCst);
                    while pause_flag.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    paused_flag.store(false, Ordering::SeqCst);
                }
            }
            producer.flush(Duration::from_secs(60)).expect("flush");
            flag.store(true, Ordering::Relaxed);
        });
        Feeder {
            done,
            pause,
            paused,
            thread: Some(thread),
        }
    }

    /// Stops producing once everything sent so far is acknowledged; false when the feed ended.
    pub fn pause(&self) -> bool {
        self.pause.store(true, Ordering::SeqCst);
        while !self.paused.load(Ordering::SeqCst) {
            if self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// The feed is still being produced.
    pub fn running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    pub fn resume(&self) {
        self.pause.store(false, Ordering::SeqCst);
    }

    pub fn finish(mut self) {
        self.resume();
        if let Some(thread) = self.thread.take() {
            thread.join().expect("feeder");
        }
        assert!(self.done.load(Ordering::Relaxed));
    }
}

/// What every crash and fault test shares: one test at a time, its seed, a fresh broker with the
/// benchmark topics (Tansu: and its transaction probe), the feed and its crash-free reference.
pub struct Scenario {
    _serial: std::sync::MutexGuard<'static, ()>,
    pub dice: Dice,
    pub broker: Broker,
    pub bootstrap: String,
    pub hides_aborted: bool,
    pub feed: Vec<FeedItem>,
    pub offline: OfflineRun,
    pub root: tempfile::TempDir,
    pub group: &'static str,
    pub guarantee: Guarantee,
    pub started: Instant,
}

impl Scenario {
    /// The crash suite's run: Tansu, the 20k/2k workload.
    pub fn start(group: &'static str, guarantee: Guarantee) -> Scenario {
        let feed = bench_lines(20_000, 2_000).into_iter().map(FeedItem::Line).collect();
        Scenario::start_on(BrokerKind::Tansu, group, guarantee, feed)
    }

    pub fn start_on(kind: BrokerKind, group: &'static str, guarantee: Guarantee, feed: Vec<FeedItem>) -> Scenario {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dice = Dice::from_env_or_clock();
        let broker = Broker::start(kind, group);
        let bootstrap = broker.bootstrap();
        let hides_aborted = match kind {
            BrokerKind::Mock => {
                println!("broker: librdkafka mock cluster at {bootstrap} (transactions accepted, not enforced)");
                false
            }
            _ => probe(&bootstrap, kind == BrokerKind::TansuProxied),
        };
        let offline = offline_run_feed(&feed);
        println!(
            "guarantee: {guarantee:?}; feed: {} messages ({} poison); expected: {} actions {:?}",
            feed.len(),
            offline.poison_offsets.len(),
            offline.action_ids.len(),
            offline.action_types
        );
        Scenario {
            _serial: serial,
            dice,
            broker,
            bootstrap,
            hides_aborted,
            feed,
            offline,
            root: tempfile::tempdir().expect("dir"),
            group,
            guarantee,
            started: Instant::now(),
        }
    }

    pub fn instance(&self, name: &str) -> Instance {
        Instance::new(self.root.path(), name, &self.bootstrap, self.group, self.guarantee)
    }

    pub fn feed(&mut self, per_second: usize) -> Feeder {
        Feeder::start(&self.bootstrap, self.feed.clone(), per_second)
    }

    /// Seconds since the scenario started, for the printed schedule.
    pub fn say(&self, what: &str) {
        println!("{:>6.1} s: {what}", self.started.elapsed().as_secs_f64());
    }

    /// The sum of the group's committed offsets (progress).
    pub fn committed_total(&self) -> i64 {
        committed_offsets(&self.bootstrap, self.group).values().sum()
    }

    /// Lets the run finish (everything committed), stops the `running` instances with SIGTERM
    /// once they hold their partitions, and checks actions, dead letters and state (local
    /// stores of `running` and `stopped` instances). Returns the repeats.
    pub fn finish(&self, feeder: Feeder, running: &mut [&mut Instance], stopped: &[&Instance]) -> usize {
        feeder.finish();
        wait_all_committed(&self.bootstrap, self.group, &self.offline, running);
        for instance in running.iter_mut() {
            instance.wait_ready();
        }
        for instance in running.iter_mut() {
            instance.terminate();
        }
        let repeats = check_actions(&self.bootstrap, &self.offline);
        if self.guarantee == Guarantee::ExactlyOnce && self.hides_aborted {
            assert_eq!(
                repeats, 0,
                "exactly-once on a broker that hides aborted data: no repeats"
            );
        }
        if !self.offline.poison_offsets.is_empty() {
            check_dead_letters(&self.bootstrap, &self.feed, &self.offline);
        }
        let all: Vec<&Instance> = running.iter().map(|i| &**i).chain(stopped.iter().copied()).collect();
        check_state(&self.bootstrap, self.group, self.guarantee, &self.offline, &all);
        for instance in &all {
            println!("{}", instance.recovery_report());
        }
        println!("total: {:.1} s", self.started.elapsed().as_secs_f64());
        repeats
    }
}

fn probe(bootstrap: &str, proxied: bool) -> bool {
    let hidden = aborted_messages_hidden(bootstrap, "probe");
    println!(
        "broker: Tansu 0.6.0 at {bootstrap}{}; probe: aborted transactional messages are {} to read_committed readers",
        if proxied { " (through a TCP proxy)" } else { "" },
        if hidden {
            "hidden"
        } else {
            "VISIBLE (no zero-duplicate check)"
        }
    );
    hidden
}
