//! Helpers shared by the integration tests: the benchmark workload, producing and reading
//! topics, transaction probes, Tansu (an independent Kafka-compatible broker) and the offline
//! reference run the engine's results are compared with. Test-only: nothing here is shipped.

// Test helpers: a failed expectation here is a failed test, and what they print is test output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::producer::{BaseProducer, BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use revenue_core::{Action, CustomerState, Mode, Processor, Source};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod poison;
mod proxy;
pub use poison::{poison_feed, FeedItem, Poison};
pub use proxy::{Outage, Proxy};

/// The benchmark's input topic and partition count, and the topics its use cases act on.
pub const INPUT: &str = "events";
pub const PARTITIONS: i32 = 8;
pub const ACTION_TOPICS: [&str; 2] = ["actions.telemarketing", "actions.email"];
pub const DEAD_LETTERS: &str = "dead-letters";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A use-case directory shipped with the repository (`usecases/<name>`).
pub fn usecases(name: &str) -> PathBuf {
    repo().join("usecases").join(name)
}

/// The benchmark workload (`../shared/bench/gen_events.py`, seed 42) as committed under
/// `services/testkit/data/` (gzip), so tests need neither Python nor `shared/`. Committed sizes:
/// 20,000 events over 2,000 customers and 5,000 over 500 (`committed_workload_equals_the_generators_output`
/// checks them against the generator where it is available).
pub fn bench_bytes(events: u32, customers: u32) -> Vec<u8> {
    let path = workload_file(events, customers);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (committed sizes: 20000/2000, 5000/500)", path.display()));
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut bytes)
        .expect("the committed workload is valid gzip");
    bytes
}

/// The committed benchmark workload file of `events` events over `customers` customers.
pub fn workload_file(events: u32, customers: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("data/bench-{events}-{customers}.jsonl.gz"))
}

/// The benchmark workload as JSON lines (see [`bench_bytes`]).
pub fn bench_lines(events: u32, customers: u32) -> Vec<String> {
    String::from_utf8(bench_bytes(events, customers))
        .expect("the committed workload is UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn customer_of(line: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    value["customer_id"].as_str().unwrap_or("").to_string()
}

pub fn producer(bootstrap: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// Sends one record, waiting while the local queue is full.
pub fn send_waiting(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, key: &str, payload: &str) {
    let mut record = BaseRecord::<str, str>::to(topic).key(key).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, returned)) => {
                record = returned;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// Produces JSON lines to [`INPUT`], keyed by `key_of`.
pub fn produce_keyed(bootstrap: &str, lines: &[String], key_of: impl Fn(&str) -> String) {
    let producer = producer(bootstrap);
    for line in lines {
        send_waiting(&producer, INPUT, &key_of(line), line);
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
}

/// Produces JSON lines to [`INPUT`], keyed by their customer id.
pub fn produce_lines(bootstrap: &str, lines: &[String]) {
    produce_keyed(bootstrap, lines, customer_of);
}

pub struct Received {
    /// The value (empty for a tombstone; see `tombstone`).
    pub payload: Vec<u8>,
    /// The message had no value at all (a tombstone), not an empty one.
    pub tombstone: bool,
    pub key: Option<Vec<u8>>,
    pub headers: BTreeMap<String, String>,
}

/// Reads every message of `topics` from the beginning (`read_committed`, librdkafka's default)
/// until `expected` arrived and nothing more came for a while.
pub fn read_all(bootstrap: &str, topics: &[&str], expected: usize) -> Vec<Received> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        for t in metadata.topics() {
            for p in t.partitions() {
                tpl.add_partition_offset(topic, p.id(), Offset::Beginning).expect("tpl");
            }
        }
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut quiet_since = Instant::now();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let mut headers = BTreeMap::new();
                if let Some(h) = m.headers() {
                    for header in h.iter() {
                        headers.insert(
                            header.key.to_string(),
                            String::from_utf8_lossy(header.value.unwrap_or_default()).into_owned(),
                        );
                    }
                }
                out.push(Received {
                    payload: m.payload().unwrap_or_default().to_vec(),
                    tombstone: m.payload().is_none(),
                    key: m.key().map(<[u8]>::to_vec),
                    headers,
                });
                quiet_since = Instant::now();
            }
            _ => {
                if out.len() >= expected && quiet_since.elapsed() > Duration::from_millis(1500) {
                    break;
                }
            }
        }
    }
    out
}

/// Decodes an action with `schemas/avro/action.avsc` (Confluent framing), independently of the
/// engine's encoder.
pub fn decode_action(payload: &[u8]) -> serde_json::Value {
    static SCHEMA: std::sync::OnceLock<apache_avro::Schema> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(repo().join("schemas/avro/action.avsc")).expect("action schema");
        apache_avro::Schema::parse_str(&text).expect("schema parses")
    });
    assert!(payload.len() > 5 && payload[0] == 0, "Confluent framing");
    let mut datum = &payload[5..];
    let value = apache_avro::from_avro_datum(schema, &mut datum, None).expect("action decodes");
    serde_json::Value::try_from(value).expect("Avro value converts to JSON")
}

/// What the broker does with transactions: is an aborted message hidden from `read_committed`?
pub fn aborted_messages_hidden(bootstrap: &str, topic: &str) -> bool {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", "probe")
        .create()
        .expect("transactional producer");
    producer.init_transactions(Duration::from_secs(30)).expect("init");
    for (payload, commit) in [("aborted", false), ("committed", true)] {
        producer.begin_transaction().expect("begin");
        producer
            .send(BaseRecord::<str, str>::to(topic).key("probe").payload(payload))
            .map_err(|(e, _)| e)
            .expect("send");
        producer.flush(Duration::from_secs(10)).expect("flush");
        let ended = match commit {
            true => producer.commit_transaction(Duration::from_secs(30)),
            false => producer.abort_transaction(Duration::from_secs(30)),
        };
        ended.expect("transaction ends");
    }
    let seen = read_all(bootstrap, &[topic], 1);
    !seen.iter().any(|r| r.payload == b"aborted")
}

/// The Java client's default partitioner (librdkafka `murmur2_random` for keyed messages).
pub fn murmur2_partition(key: &[u8], partitions: i32) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ key.len() as u32;
    let mut chunks = key.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    ((h & 0x7fff_ffff) % partitions as u32) as i32
}

/// A crash-free run of the benchmark use cases over `lines`, offline: the action ids one engine
/// produces (they hash use case, customer and the event's topic/partition/offset) and every
/// customer's final state.
pub struct OfflineRun {
    pub action_ids: HashSet<String>,
    /// Distinct actions per action type.
    pub action_types: BTreeMap<String, usize>,
    pub states: BTreeMap<String, CustomerState>,
    /// Events per input partition: the offsets a finished engine has committed.
    pub end_offsets: BTreeMap<i32, i64>,
    /// Where each poison message of the feed lands (partition, offset), in feed order.
    pub poison_offsets: Vec<(i32, i64)>,
}

pub fn offline_run(lines: &[String]) -> OfflineRun {
    let feed: Vec<FeedItem> = lines.iter().cloned().map(FeedItem::Line).collect();
    offline_run_feed(&feed)
}

/// [`offline_run`] over a feed with poison messages mixed in: each takes an offset in its
/// partition (so later action ids, which hash offsets, move) and changes nothing else.
pub fn offline_run_feed(feed: &[FeedItem]) -> OfflineRun {
    let set = Arc::new(revenue_usecases::load_dir(&repo().join("usecases/benchmark")).expect("loads"));
    let mut processor = Processor::new(set.clone(), Mode::Engine);
    let mut counters = revenue_core::Counters::for_set(&set);
    let mut run = OfflineRun {
        action_ids: HashSet::new(),
        action_types: BTreeMap::new(),
        states: BTreeMap::new(),
        end_offsets: BTreeMap::new(),
        poison_offsets: Vec::new(),
    };
    for item in feed {
        let line = match item {
            FeedItem::Line(line) => line,
            FeedItem::Poison(poison) => {
                let offset = run.end_offsets.entry(poison.partition).or_insert(0);
                run.poison_offsets.push((poison.partition, *offset));
                *offset += 1;
                continue;
            }
        };
        let event = revenue_core::decode_json(&set.catalog, line.as_bytes(), None).expect("decodes");
        let customer = event.customer_id().to_string();
        let partition = murmur2_partition(customer.as_bytes(), PARTITIONS);
        let offset = run.end_offsets.entry(partition).or_insert(0);
        let state = run
            .states
            .entry(customer)
            .or_insert_with(|| CustomerState::new(&set.catalog));
        let source = Source {
            topic: INPUT,
            partition,
            offset: *offset,
        };
        processor.process(state, &event, source, &mut counters, &mut |a: Action| {
            if run.action_ids.insert(a.action_id) {
                *run.action_types.entry(a.action_type.to_string()).or_default() += 1;
            }
        });
        *offset += 1;
    }
    run
}

/// Tansu 0.6.0, an independent Kafka-compatible broker, installed and started through
/// `scripts/tansu.sh` (memory storage, a free port); stopped when dropped.
pub struct Tansu {
    child: std::process::Child,
    pub bootstrap: String,
}

impl Tansu {
    pub fn start() -> Tansu {
        let address = format!("127.0.0.1:{}", free_port());
        Tansu::start_at(&address, &address)
    }

    /// Tansu listening on a port of its own and advertising a [`Proxy`]'s address, which
    /// forwards to it: every client (they learn broker addresses from metadata) goes through the
    /// proxy, which can make the broker unreachable. `bootstrap` is the proxy's address.
    pub fn start_behind_proxy() -> (Tansu, Proxy) {
        let listen = format!("127.0.0.1:{}", free_port());
        let advertised = format!("127.0.0.1:{}", free_port());
        let proxy = Proxy::start(&advertised, &listen);
        (Tansu::start_at(&listen, &advertised), proxy)
    }

    fn start_at(listen: &str, advertised: &str) -> Tansu {
        let script = repo().join("scripts/tansu.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .arg("path")
            .output()
            .expect("scripts/tansu.sh runs");
        assert!(
            out.status.success(),
            "installing Tansu failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let child = std::process::Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://{listen}"),
                "--advertised-listener-url",
                &format!("tcp://{advertised}"),
                "--storage-engine",
                "memory://tansu/",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tansu starts");
        wait_for("Tansu listening", Duration::from_secs(20), || {
            std::net::TcpStream::connect(listen).is_ok()
        });
        Tansu {
            child,
            bootstrap: advertised.to_string(),
        }
    }

    pub fn create_topics(&self, topics: &[(&str, i32)]) {
        use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
        let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("admin client");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let new: Vec<NewTopic> = topics
            .iter()
            .map(|(t, p)| NewTopic::new(t, *p, TopicReplication::Fixed(1)))
            .collect();
        let results = runtime
            .block_on(admin.create_topics(new.iter(), &AdminOptions::new()))
            .expect("create topics");
        for result in results {
            result.expect("topic created");
        }
    }

    /// The benchmark's topics (input, actions, dead letters) and a topic for probes.
    pub fn create_benchmark_topics(&self) {
        self.create_topics(&[
            (INPUT, PARTITIONS),
            (ACTION_TOPICS[0], 4),
            (ACTION_TOPICS[1], 4),
            (DEAD_LETTERS, 1),
            ("probe", 1),
        ]);
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET; `None` when nothing listens.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    http_get_with(addr, path, &[])
}

/// A plain HTTP/1.1 GET with extra request headers (`("Authorization", "Bearer …")`).
pub fn http_get_with(addr: &str, path: &str, headers: &[(&str, &str)]) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// Status code and body of an HTTP/1.1 response as [`http_get`] returns it.
pub fn http_parts(response: &str) -> (u16, &str) {
    let code = response.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (code, body)
}

/// The value of a Prometheus sample in a `/metrics` text: the first series of `name` whose
/// labels include every pair of `labels`.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, label_text) = match series.split_once('{') {
            Some((metric, rest)) => (metric, rest.strip_suffix('}')?),
            None => (series, ""),
        };
        if metric != name {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| label_text.split(',').any(|pair| pair == format!("{k}=\"{v}\"")));
        all.then(|| value.parse().ok()).flatten()
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits for `child` to exit; `None` after `timeout`.
pub fn wait_exit(child: &mut std::process::Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < timeout {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// An action as the processor builds it, for wire-format tests and benches: a live CRM task
/// of use case `lead-scoring-mql` v3 for customer `c-42`, with `score` and `payload`.
pub fn sample_action(
    score: Option<f64>,
    payload: Vec<(&str, revenue_core::expr::Val<'static>)>,
) -> revenue_core::Action {
    revenue_core::Action {
        action_id: "0123456789abcdef0123456789abcdef".into(),
        use_case_id: "lead-scoring-mql".into(),
        use_case_version: 3,
        status: revenue_core::spec::Status::Live,
        tier: "mql".into(),
        action_type: "crm_task".into(),
        channel: "crm".into(),
        topic: "actions.crm".into(),
        customer_id: "c-42".into(),
        event_type: "page_view".into(),
        event_ts: 1_717_171_717_000,
        score,
        payload: payload.into_iter().map(|(k, v)| (Arc::from(k), v)).collect(),
        recommendations: Vec::new(),
        decided_at: None,
        source_topic: "events.behavioural".into(),
        source_partition: 11,
        source_offset: 123_456_789_012,
    }
}
