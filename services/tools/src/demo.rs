//! The one-command demo: an embedded Kafka broker (librdkafka's mock cluster), realistic
//! synthetic B2B events, the engine with the reference use cases, a live progress line, and a
//! closing table a marketing lead and an SRE can both read.

use crate::synthetic::{Generator, Stream, SyntheticConfig};
use indicatif::{ProgressBar, ProgressStyle};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;
use revenue_core::UseCaseSet;
use revenue_engine::config::{CustomerIdSource, EngineConfig};
use revenue_engine::http::HttpServer;
use revenue_engine::wire::OutputFormat;
use revenue_engine::{start, EngineReport, Metrics, Status};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const BEHAVIOUR_TOPIC: &str = "events.behaviour";
pub const TRANSACTION_TOPIC: &str = "events.transactions";
/// Opt-ins and opt-outs (co-partitioned with the other inputs).
pub const CONSENT_TOPIC: &str = "events.consent";
pub const DEAD_LETTER_TOPIC: &str = "revenue-engine.dead-letters";
const DEMO_GROUP: &str = "revenue-engine-demo";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub use_cases: PathBuf,
    pub events: u64,
    pub companies: u32,
    /// Days of event time the synthetic data covers (timers such as "60 days without a purchase"
    /// need a longer span than a month).
    pub days: u32,
    /// Events produced per second (the demo paces itself so the progress is visible).
    pub rate: u64,
    pub output: OutputFormat,
    pub http_listen: String,
    /// Keep the broker running after the run, until Ctrl-C, so other clients can read it.
    pub keep_running: bool,
    pub stop: Arc<AtomicBool>,
}

/// A few broken events, so the dead-letter path shows in the demo.
const BAD_EVENTS: [(&str, &str); 4] = [
    ("c-bad-1", "{\"customer_id\":\"c-bad-1\",\"type\":\"page_view\",\"ts\":"),
    (
        "c-bad-2",
        "{\"customer_id\":\"c-bad-2\",\"type\":\"purchase\",\"ts\":1762000000000,\"amount\":\"a lot\"}",
    ),
    ("", "{\"type\":\"page_view\",\"ts\":1762000000000,\"page\":\"home\"}"),
    ("c-bad-4", "not an event at all"),
];

pub fn run(options: DemoOptions) -> anyhow::Result<EngineReport> {
    let set = Arc::new(revenue_usecases::load_dir(&options.use_cases)?);
    let cluster = MockCluster::new(1)?;
    let bootstrap = cluster.bootstrap_servers();
    for topic in [BEHAVIOUR_TOPIC, TRANSACTION_TOPIC, CONSENT_TOPIC] {
        cluster.create_topic(topic, 4, 1)?;
    }
    let action_topics: Vec<String> = set.action_topics().into_iter().map(str::to_string).collect();
    for topic in action_topics.iter().map(String::as_str).chain([DEAD_LETTER_TOPIC]) {
        cluster.create_topic(topic, 1, 1)?;
    }
    // the mock cluster has no admin API to create topics: the changelog is made here
    cluster.create_topic(&format!("{DEMO_GROUP}.state-changelog"), 4, 1)?;
    println!("Revenue Engine demo");
    println!("  embedded Kafka broker (librdkafka mock cluster): {bootstrap}");
    println!(
        "  use cases: {} from {}",
        set.use_cases.len(),
        options.use_cases.display()
    );
    for uc in &set.use_cases {
        println!("    - {} v{} ({}): {}", uc.id, uc.version, uc.status.as_str(), uc.title);
    }

    let state = tempfile::tempdir()?;
    let mut config = EngineConfig::default();
    config.kafka.bootstrap_servers = bootstrap.clone();
    config.kafka.group_id = DEMO_GROUP.into();
    config.kafka.input_topics = vec![BEHAVIOUR_TOPIC.into(), TRANSACTION_TOPIC.into(), CONSENT_TOPIC.into()];
    config.kafka.dead_letter_topic = DEAD_LETTER_TOPIC.into();
    config.kafka.customer_id = CustomerIdSource::Key;
    config.output.format = options.output;
    config.state.dir = state.path().to_path_buf();
    config.state.commit_interval_ms = 500;
    config.use_cases.dir = options.use_cases.clone();

    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(Status::default());
    let http = HttpServer::start(&options.http_listen, metrics.clone(), status.clone())
        .or_else(|_| HttpServer::start("127.0.0.1:0", metrics.clone(), status.clone()))?;
    println!("  metrics: http://{}/metrics   health: /healthz /readyz", http.addr);
    println!();

    let engine = start(config, set.clone(), metrics, status.clone())?;
    let joined = Instant::now();
    while !status.joined.load(Ordering::Relaxed) && joined.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }

    let produced = Arc::new(AtomicU64::new(0));
    let total = options.events + BAD_EVENTS.len() as u64;
    let generator = {
        let produced = produced.clone();
        let bootstrap = bootstrap.clone();
        let options = options.clone();
        std::thread::spawn(move || produce(&bootstrap, &options, &produced))
    };

    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("  {spinner} [{bar:30}] {pos}/{len} events processed  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let done = status.events_in.load(Ordering::Relaxed);
        bar.set_position(done);
        bar.set_message(format!(
            "| produced {} | actions {} | dead letters {}",
            produced.load(Ordering::Relaxed),
            status.actions_out.load(Ordering::Relaxed),
            status.dead_letters.load(Ordering::Relaxed)
        ));
        if (done >= total && generator.is_finished())
            || Instant::now() > deadline
            || options.stop.load(Ordering::Relaxed)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish();
    let generated = generator
        .join()
        .map_err(|_| anyhow::anyhow!("event generator panicked"))??;
    engine.stop();
    let report = engine.join()?;
    print_report(&set, &report, &action_topics, &bootstrap, generated, options.output);

    if options.keep_running {
        println!("\nThe broker keeps running at {bootstrap}; press Ctrl-C to end.");
        while !options.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    drop(http);
    drop(cluster);
    Ok(report)
}

fn produce(bootstrap: &str, options: &DemoOptions, produced: &AtomicU64) -> anyhow::Result<u64> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()?;
    let config = SyntheticConfig {
        events: options.events,
        companies: options.companies,
        days: options.days,
        ..SyntheticConfig::default()
    };
    let started = Instant::now();
    let mut count = 0u64;
    for event in Generator::new(config) {
        if options.stop.load(Ordering::Relaxed) {
            break;
        }
        let topic = match event.stream {
            Stream::Behaviour => BEHAVIOUR_TOPIC,
            Stream::Transaction => TRANSACTION_TOPIC,
            Stream::Consent => CONSENT_TOPIC,
        };
        send(&producer, topic, event.customer_id.as_bytes(), event.json.as_bytes())?;
        count += 1;
        produced.store(count, Ordering::Relaxed);
        // pace: `rate` events per second
        let due = Duration::from_secs_f64(count as f64 / options.rate.max(1) as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    for (key, payload) in BAD_EVENTS {
        send(&producer, BEHAVIOUR_TOPIC, key.as_bytes(), payload.as_bytes())?;
        count += 1;
        produced.store(count, Ordering::Relaxed);
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(count)
}

fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    key: &[u8],
    payload: &[u8],
) -> anyhow::Result<()> {
    Ok(revenue_engine::produce::send_when_queued(
        producer,
        BaseRecord::to(topic).key(key).payload(payload),
    )?)
}

fn print_report(
    set: &UseCaseSet,
    report: &EngineReport,
    topics: &[String],
    bootstrap: &str,
    produced: u64,
    output: OutputFormat,
) {
    let c = &report.counters;
    println!();
    let dead: u64 = report.dead_letters.values().sum();
    println!(
        "Results: {} events produced, {} consumed: {} evaluated, {} dead-lettered, {} of undeclared types ignored",
        produced,
        c.events + dead,
        c.events - c.unknown_type,
        dead,
        c.unknown_type
    );
    for (topic, n) in &report.events_by_topic {
        println!("  {topic:<28} {n:>8} events");
    }
    println!();
    println!(
        "{:<30} {:<7} {:>11} {:>8}  actions by tier (type → channel)",
        "use case", "status", "evaluations", "actions"
    );
    println!("{}", "-".repeat(100));
    let mut by_topic: BTreeMap<&str, u64> = BTreeMap::new();
    for (uc, counters) in set.use_cases.iter().zip(&c.use_cases) {
        let total: u64 = counters.actions_by_tier.iter().sum();
        let tiers: Vec<String> = uc
            .tiers
            .iter()
            .zip(&counters.actions_by_tier)
            .map(|(t, n)| {
                if uc.status == revenue_core::spec::Status::Live {
                    *by_topic.entry(t.topic.as_ref()).or_default() += n;
                }
                format!("{} {} ({} → {})", t.name, n, t.action_type, t.channel)
            })
            .collect();
        println!(
            "{:<30} {:<7} {:>11} {:>8}  {}",
            uc.id,
            uc.status.as_str(),
            counters.evaluations,
            total,
            tiers.join(", ")
        );
        if counters.retrigger_blocked > 0 || counters.errors > 0 {
            println!(
                "{:<30} held back by contact rules (re-trigger policy): {}; evaluation errors: {}",
                "", counters.retrigger_blocked, counters.errors
            );
        }
        if counters.timers_fired > 0 {
            println!("{:<30} timers fired: {}", "", counters.timers_fired);
        }
        let reasons: Vec<String> = revenue_core::policy::Reason::ALL
            .iter()
            .filter(|r| counters.suppressed[**r as usize] > 0)
            .map(|r| format!("{} {}", r.as_str(), counters.suppressed[*r as usize]))
            .collect();
        if !reasons.is_empty() {
            println!(
                "{:<30} contact policy held back: {} (deferred {}, delivered {})",
                "",
                reasons.join(", "),
                counters.deferred,
                counters.deferred_delivered
            );
        }
        let (t, k) = (&counters.treatment, &counters.control);
        if t.exposed + k.exposed > 0 {
            let lift = revenue_core::measure::lift(t, k).map_or_else(
                || "not yet measurable".to_string(),
                |l| {
                    let d = l.rate_difference;
                    format!(
                        "{:+.1} pp [{:+.1}, {:+.1}]{}",
                        100.0 * d.estimate,
                        100.0 * d.lower,
                        100.0 * d.upper,
                        if l.significant { " significant" } else { "" }
                    )
                },
            );
            println!(
                "{:<30} treatment {} converted of {}, control {} of {}: lift {lift}",
                "", t.converted, t.exposed, k.converted, k.exposed
            );
        }
        if let Some(funnel) = &uc.funnel {
            let stages: Vec<String> = funnel
                .stages
                .iter()
                .zip(&counters.stages_reached)
                .map(|((name, _), n)| format!("{name} {n}"))
                .collect();
            if uc.status == revenue_core::spec::Status::Live {
                *by_topic.entry(funnel.topic.as_ref()).or_default() += counters.stages_reached.iter().sum::<u64>();
            }
            println!("{:<30} funnel stages reached: {}", "", stages.join(", "));
        }
    }
    if c.expired > 0 {
        println!("{} idle customers left the state (expire_after)", c.expired);
    }
    println!();
    println!("Dead letters: {dead} (topic {DEAD_LETTER_TOPIC})");
    for (reason, n) in &report.dead_letters {
        println!("  {reason:<24} {n:>6}");
    }
    println!();
    let format = match output {
        OutputFormat::Avro => "Avro, schemas/avro/action.avsc, Confluent framing",
        OutputFormat::Json => "JSON",
    };
    println!("Action topics ({format}):");
    for topic in topics {
        println!(
            "  {topic:<28} {:>6} actions",
            by_topic.get(topic.as_str()).copied().unwrap_or(0)
        );
    }
    println!();
    println!("While a demo runs (add --keep-running to keep the broker up), read them with any Kafka client:");
    println!(
        "  kcat -b {bootstrap} -t {} -C -e",
        topics.first().map(String::as_str).unwrap_or("actions.email")
    );
}
