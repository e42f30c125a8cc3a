//! Latency at a fixed load: each output's arrival time minus its input's send time, and the
//! percentiles of a phase.

use super::feed::{now_us, SentLog};
use super::{Phase, ACTION_SCHEMA_ID, FETCH_WAIT_MAX_MS, PARTITIONS};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use revenue_engine::wire::{ActionEncoder, OutputFormat};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(index).copied()
}

/// Reads `topics` from the beginning until `stop`, returning latencies in ms: each message's
/// arrival time minus its event's send time (from the `sent_us` header, or through the
/// action's source partition/offset and the delivery log).
pub(super) fn collect_latencies(
    bootstrap: &str,
    topics: &[String],
    source_topic: &str,
    ready: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    log: Arc<SentLog>,
) -> anyhow::Result<Vec<f64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "bench-latency")
        .set("fetch.queue.backoff.ms", "1")
        .set("fetch.wait.max.ms", FETCH_WAIT_MAX_MS)
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        for p in 0..PARTITIONS {
            // only what arrives from now on: earlier phases share the action topics
            tpl.add_partition_offset(topic, p, Offset::End)?;
        }
    }
    consumer.assign(&tpl)?;
    // fetch positions resolve on the first polls: only then may the feeder start
    let warmup = Instant::now();
    while warmup.elapsed() < Duration::from_millis(1500) {
        let _ = consumer.poll(Duration::from_millis(50));
    }
    ready.store(true, Ordering::Relaxed);
    let decoder = ActionEncoder::new(OutputFormat::Avro, ACTION_SCHEMA_ID);
    let mut latencies = Vec::new();
    let mut pending: Vec<((i32, i64), u64)> = Vec::new();
    let mut quiet = Instant::now();
    loop {
        match consumer.poll(Duration::from_millis(20)) {
            Some(Ok(m)) => {
                let arrived = now_us();
                quiet = Instant::now();
                let header = m.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == "sent_us")
                        .and_then(|h| h.value.map(<[u8]>::to_vec))
                });
                if let Some(sent) = header
                    .and_then(|v| String::from_utf8(v).ok())
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    if sent >= log.measure_from_us.load(Ordering::Relaxed) {
                        latencies.push(arrived.saturating_sub(sent) as f64 / 1000.0);
                    }
                } else if let Some((topic, partition, offset)) = m
                    .payload()
                    .and_then(|p| decoder.decode_avro(p).ok())
                    .and_then(|v| action_source(&v))
                {
                    if topic == source_topic {
                        pending.push(((partition, offset), arrived));
                    }
                }
            }
            _ => {
                if stop.load(Ordering::Relaxed) && quiet.elapsed() > Duration::from_secs(2) {
                    break;
                }
            }
        }
    }
    let measure_from = log.measure_from_us.load(Ordering::Relaxed);
    let sent = log.sent.lock().map_err(|_| anyhow::anyhow!("delivery log poisoned"))?;
    for (source, arrived) in pending {
        if let Some(at) = sent.get(&source).filter(|at| **at >= measure_from) {
            latencies.push(arrived.saturating_sub(*at) as f64 / 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

fn action_source(value: &apache_avro::types::Value) -> Option<(String, i32, i64)> {
    use apache_avro::types::Value;
    let Value::Record(fields) = value else { return None };
    let (_, Value::Record(source)) = fields.iter().find(|(name, _)| name == "source")? else {
        return None;
    };
    let topic = source.iter().find_map(|(n, v)| match (n.as_str(), v) {
        ("topic", Value::String(t)) => Some(t.clone()),
        _ => None,
    })?;
    let partition = source.iter().find_map(|(n, v)| match (n.as_str(), v) {
        ("partition", Value::Int(p)) => Some(*p),
        _ => None,
    })?;
    let offset = source.iter().find_map(|(n, v)| match (n.as_str(), v) {
        ("offset", Value::Long(o)) => Some(*o),
        _ => None,
    })?;
    Some((topic, partition, offset))
}

pub(super) fn fill_latency(phase: &mut Phase, rate: Option<f64>, latencies: &[f64]) {
    phase.latency_offered_events_per_second = rate;
    phase.latency_p50_ms = percentile(latencies, 0.50);
    phase.latency_p99_ms = percentile(latencies, 0.99);
    phase.latency_samples = Some(latencies.len() as u64);
}
