//! The measured phases: pass-through, the engine, changelog restore and offline replay.

use super::feed::start_feeding;
use super::latency::fill_latency;
use super::{Broker, Phase, Workload, ACTION_SCHEMA_ID, FETCH_WAIT_MAX_MS, PARTITIONS};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Message};
use revenue_core::{Mode, UseCaseSet};
use revenue_engine::config::{CustomerIdSource, EngineConfig, Guarantee};
use revenue_engine::produce::send_when_queued;
use revenue_engine::wire::OutputFormat;
use revenue_engine::{start, Metrics, Status};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.queue.backoff.ms", "1")
        .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS);
    config
}

/// Consume → produce, no decoding, no state, no rules; the same client settings as the engine.
/// With `rate`, fed at that rate and timed per message instead of at full speed.
pub fn passthrough(broker: &Broker, work: &Arc<Workload>, count: usize, rate: Option<f64>) -> anyhow::Result<Phase> {
    let phase_name = if rate.is_some() {
        "passthrough-latency"
    } else {
        "passthrough"
    };
    let input = broker.topic(phase_name, "events", PARTITIONS)?;
    let output = broker.topic(phase_name, "out", PARTITIONS)?;
    let consumer: BaseConsumer = consumer_config(&broker.bootstrap, &format!("{input}-group")).create()?;
    consumer.subscribe(&[&input])?;
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()?;
    let joined = Instant::now();
    while consumer.assignment().map(|a| a.count()).unwrap_or(0) == 0 && joined.elapsed() < Duration::from_secs(60) {
        let _ = consumer.poll(Duration::from_millis(50));
    }
    let feeding = start_feeding(broker, &input, vec![output.clone()], work, count, rate);
    let consumed = feeding.consumed.clone();
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(900);
    let mut n = 0u64;
    while n < count as u64 && Instant::now() < deadline {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        started.get_or_insert_with(Instant::now);
        let mut record = BaseRecord::to(&output).payload(message.payload().unwrap_or_default());
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        if let Some(headers) = message.headers() {
            record = record.headers(headers.detach());
        }
        send_when_queued(&producer, record)?;
        n += 1;
        consumed.store(n, Ordering::Relaxed);
    }
    producer.flush(Duration::from_secs(120))?;
    let seconds = started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
    let latencies = feeding.finish()?;
    anyhow::ensure!(
        n == count as u64,
        "pass-through consumed {n} of {count} events: the broker dropped data"
    );
    let mut phase = Phase {
        phase: phase_name.into(),
        broker: broker.name.clone(),
        events: n,
        seconds,
        events_per_second: n as f64 / seconds,
        ..Phase::default()
    };
    if let Some(latencies) = latencies {
        fill_latency(&mut phase, rate, &latencies);
    }
    Ok(phase)
}

/// One engine phase: which use cases, how many events, at what pace, with which guarantee.
pub struct EngineRun<'a> {
    pub phase: &'a str,
    pub set: Arc<UseCaseSet>,
    pub state_dir: &'a Path,
    pub count: usize,
    /// Fed at this rate for latency; at full speed when `None`.
    pub rate: Option<f64>,
    pub guarantee: Guarantee,
}

/// The engine on the workload.
pub fn engine(broker: &Broker, work: &Arc<Workload>, run: EngineRun<'_>) -> anyhow::Result<Phase> {
    let EngineRun {
        phase: phase_name,
        set,
        state_dir,
        count,
        rate,
        guarantee,
    } = run;
    let input = broker.topic(phase_name, "events", PARTITIONS)?;
    let dead = broker.topic(phase_name, "dead-letters", 1)?;
    // the use cases' own action topics, shared by the phases (latency filters by source topic)
    let action_topics: Vec<String> = set.action_topics().into_iter().map(str::to_string).collect();
    for topic in &action_topics {
        broker.ensure_topic(topic, PARTITIONS)?;
    }
    let mut config = EngineConfig::default();
    config.kafka.bootstrap_servers = broker.bootstrap.clone();
    config.kafka.group_id = format!("{input}-group");
    broker.ensure_topic(&config.state.changelog_topic_for(&config.kafka.group_id), PARTITIONS)?;
    config.kafka.input_topics = vec![input.clone()];
    config.kafka.dead_letter_topic = dead;
    config.kafka.customer_id = CustomerIdSource::Key;
    config.kafka.guarantee = guarantee;
    config.kafka.transactional_id = format!("{input}-txn");
    config.output.format = OutputFormat::Avro;
    config.output.action_schema_id = ACTION_SCHEMA_ID;
    config
        .kafka
        .properties
        .insert("fetch.wait.max.ms".into(), FETCH_WAIT_MAX_MS.into());
    config.state.dir = state_dir.to_path_buf();
    // the use cases are handed in, not read from `use_cases.dir`: nothing to watch
    config.use_cases.reload_interval_ms = 0;
    let status = Arc::new(Status::default());
    let handle = start(config, set, Arc::new(Metrics::new()), status.clone())?;
    let joined = Instant::now();
    while !status.joined.load(Ordering::Relaxed) && joined.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let feeding = start_feeding(broker, &input, action_topics.clone(), work, count, rate);
    let consumed = feeding.consumed.clone();
    let mut started = None;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let n = status.events_in.load(Ordering::Relaxed);
        consumed.store(n, Ordering::Relaxed);
        if n > 0 {
            started.get_or_insert_with(Instant::now);
        }
        if n >= count as u64 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    handle.stop();
    let report = handle.join()?;
    // stopping includes the last checkpoint: every action acknowledged, the state written
    let seconds = started.map(|s| s.elapsed().as_secs_f64()).unwrap_or(0.0);
    let latencies = feeding.finish()?;
    let events = report.counters.events;
    anyhow::ensure!(
        events == count as u64,
        "engine consumed {events} of {count} events: the broker dropped data"
    );
    let actions = report.counters.use_cases.iter().map(|u| u.actions()).sum();
    let mut phase = Phase {
        phase: phase_name.into(),
        broker: broker.name.clone(),
        events,
        seconds,
        events_per_second: events as f64 / seconds,
        actions: Some(actions),
        state_bytes_per_customer: Some(dir_bytes(state_dir) as f64 / work.customers.max(1) as f64),
        ..Phase::default()
    };
    if let Some(latencies) = latencies {
        fill_latency(&mut phase, rate, &latencies);
    }
    Ok(phase)
}

/// Restore speed: a new instance with an empty disk takes over the group of an engine phase
/// that ran before and rebuilds every partition's state from its changelog.
pub fn restore(broker: &Broker, of_phase: &str, set: Arc<UseCaseSet>, state_dir: &Path) -> anyhow::Result<Phase> {
    let input = broker.topic(of_phase, "events", PARTITIONS)?;
    let mut config = EngineConfig::default();
    config.kafka.bootstrap_servers = broker.bootstrap.clone();
    config.kafka.group_id = format!("{input}-group");
    config.kafka.input_topics = vec![input.clone()];
    config.kafka.dead_letter_topic = broker.topic(of_phase, "dead-letters", 1)?;
    config
        .kafka
        .properties
        .insert("fetch.wait.max.ms".into(), FETCH_WAIT_MAX_MS.into());
    config.state.dir = state_dir.to_path_buf();
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(Status::default());
    let handle = start(config, set, metrics.clone(), status.clone())?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline
        && !(status.partitions.load(Ordering::Relaxed) == PARTITIONS as usize
            && status.restoring.load(Ordering::Relaxed) == 0)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    handle.stop();
    handle.join()?;
    let records = metrics.restore_records.get();
    let seconds = metrics.restore_seconds.get_sample_sum();
    anyhow::ensure!(records > 0, "nothing was restored from the changelog of {of_phase}");
    Ok(Phase {
        phase: "restore".into(),
        broker: broker.name.clone(),
        events: records,
        seconds,
        events_per_second: records as f64 / seconds.max(1e-9),
        ..Phase::default()
    })
}

/// Offline replay of the same input on one thread.
pub fn replay(work: &Workload, set: Arc<UseCaseSet>) -> anyhow::Result<Phase> {
    let mut input = Vec::with_capacity(work.payloads.iter().map(|p| p.len() + 1).sum());
    for p in &work.payloads {
        input.extend_from_slice(p);
        input.push(b'\n');
    }
    let options = revenue_replay::ReplayOptions {
        mode: Mode::Engine,
        source_name: "events".into(),
        ..Default::default()
    };
    let summary = revenue_replay::replay(set, std::io::Cursor::new(&input), std::io::sink(), &options, |_| {})?;
    Ok(Phase {
        phase: "replay".into(),
        broker: "none".into(),
        events: summary.events,
        seconds: summary.seconds,
        events_per_second: summary.events_per_second,
        actions: Some(summary.actions),
        ..Phase::default()
    })
}

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
