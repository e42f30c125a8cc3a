//! Feeding the workload to the input topic, paced by the consumer or at a fixed rate, with every
//! message's send time recorded for latency.

use super::latency::collect_latencies;
use super::{Broker, MAX_LAG};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Message};
use revenue_engine::produce::send_when_queued;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The input as payloads with their `customer_id` keys.
pub struct Workload {
    pub payloads: Vec<Vec<u8>>,
    pub keys: Vec<Vec<u8>>,
    pub customers: usize,
}

impl Workload {
    pub fn from_lines(lines: &[String]) -> Workload {
        let keys: Vec<Vec<u8>> = lines
            .iter()
            .map(|l| {
                let start = l.find("\"customer_id\":\"").map(|i| i + 15).unwrap_or(0);
                let end = l[start..].find('"').map(|i| start + i).unwrap_or(start);
                l.as_bytes()[start..end].to_vec()
            })
            .collect();
        let customers = keys.iter().collect::<std::collections::HashSet<_>>().len();
        Workload {
            payloads: lines.iter().map(|l| l.as_bytes().to_vec()).collect(),
            keys,
            customers,
        }
    }

    pub fn len(&self) -> usize {
        self.payloads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payloads.is_empty()
    }
}

pub(super) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Records when each input message was sent, by partition and offset, from delivery reports.
#[derive(Default)]
pub(super) struct SentLog {
    pub(super) sent: Mutex<FxHashMap<(i32, i64), u64>>,
    /// Events sent before this instant warm the pipeline up (connections, producer ids) and are
    /// not sampled.
    pub(super) measure_from_us: AtomicU64,
}

/// The first second of a latency run is warm-up.
const WARM_UP_US: u64 = 1_000_000;

struct TimedProducer {
    log: Arc<SentLog>,
}

impl ClientContext for TimedProducer {}

impl ProducerContext for TimedProducer {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_us: Box<u64>) {
        if let Ok(message) = result {
            if let Ok(mut sent) = self.log.sent.lock() {
                sent.insert((message.partition(), message.offset()), *sent_us);
            }
        }
    }
}

/// Pacing of a feeder: as fast as the consumer allows, or a fixed rate.
enum Pace<'a> {
    FollowConsumer(&'a AtomicU64),
    Rate(f64),
}

/// Produces the workload to `topic`; every message carries its send time (header `sent_us`,
/// and in the delivery log by partition/offset).
fn feed(
    bootstrap: &str,
    topic: &str,
    work: &Workload,
    count: usize,
    pace: Pace<'_>,
    log: Arc<SentLog>,
) -> anyhow::Result<()> {
    let producer: ThreadedProducer<TimedProducer> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create_with_context(TimedProducer { log: log.clone() })?;
    let started = Instant::now();
    log.measure_from_us.store(now_us() + WARM_UP_US, Ordering::Relaxed);
    for i in 0..count {
        match &pace {
            Pace::FollowConsumer(consumed) => {
                while i as u64 > consumed.load(Ordering::Relaxed) + MAX_LAG {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Pace::Rate(rate) => {
                let due = Duration::from_secs_f64(i as f64 / rate);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        let sent = now_us();
        let sent_text = sent.to_string();
        let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
            key: "sent_us",
            value: Some(&sent_text),
        });
        let record = BaseRecord::with_opaque_to(topic, Box::new(sent))
            .key(work.keys[i].as_slice())
            .payload(work.payloads[i].as_slice())
            .headers(headers);
        send_when_queued(&producer, record)?;
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(())
}

fn spawn_feeder(
    broker: &Broker,
    topic: &str,
    work: &Arc<Workload>,
    count: usize,
    rate: Option<f64>,
    consumed: &Arc<AtomicU64>,
    log: &Arc<SentLog>,
) -> std::thread::JoinHandle<anyhow::Result<()>> {
    let (bootstrap, topic, work, consumed, log) = (
        broker.bootstrap.clone(),
        topic.to_string(),
        work.clone(),
        consumed.clone(),
        log.clone(),
    );
    std::thread::spawn(move || {
        let pace = match rate {
            Some(r) => Pace::Rate(r),
            None => Pace::FollowConsumer(&consumed),
        };
        feed(&bootstrap, &topic, &work, count, pace, log)
    })
}

/// A feeder and, for latency runs, the reader that times its outputs.
pub(super) struct Feeding {
    pub(super) consumed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    collector: Option<std::thread::JoinHandle<anyhow::Result<Vec<f64>>>>,
    feeder: std::thread::JoinHandle<anyhow::Result<()>>,
}

/// Starts the latency reader on `outputs` (when `rate` is set) and, once it reads, the feeder.
pub(super) fn start_feeding(
    broker: &Broker,
    input: &str,
    outputs: Vec<String>,
    work: &Arc<Workload>,
    count: usize,
    rate: Option<f64>,
) -> Feeding {
    let consumed = Arc::new(AtomicU64::new(0));
    let log = Arc::new(SentLog::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let collector = rate.map(|_| {
        let (bootstrap, source, stop, log, ready) = (
            broker.bootstrap.clone(),
            input.to_string(),
            stop.clone(),
            log.clone(),
            ready.clone(),
        );
        std::thread::spawn(move || collect_latencies(&bootstrap, &outputs, &source, ready, stop, log))
    });
    while collector.is_some() && !ready.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let feeder = spawn_feeder(broker, input, work, count, rate, &consumed, &log);
    Feeding {
        consumed,
        stop,
        collector,
        feeder,
    }
}

impl Feeding {
    /// Waits for the feeder, then for the reader's latencies (when timing).
    pub(super) fn finish(self) -> anyhow::Result<Option<Vec<f64>>> {
        self.feeder.join().map_err(|_| anyhow::anyhow!("feeder panicked"))??;
        self.stop.store(true, Ordering::Relaxed);
        match self.collector {
            Some(collector) => Ok(Some(
                collector.join().map_err(|_| anyhow::anyhow!("collector panicked"))??,
            )),
            None => Ok(None),
        }
    }
}
