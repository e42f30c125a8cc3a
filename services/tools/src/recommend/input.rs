//! Reading purchases from a JSON-lines events file: customers and products interned, malformed
//! lines counted (the first few kept with their numbers), event types tallied for hints.

use super::{InputStats, MalformedLine, TrainError, TrainOptions};
use rustc_hash::FxHashMap;
use std::io::BufRead;

/// How many malformed lines are kept with their line number for the report.
const KEEP_MALFORMED: usize = 5;
/// Distinct event types counted for the "no purchases found" hint; more are lumped together.
const MAX_EVENT_TYPES: usize = 64;

/// Purchases read from an events file, customers and products interned.
#[derive(Debug, Default)]
pub(super) struct PurchaseLog {
    pub(super) products: Vec<String>,
    /// (customer, product, ts)
    pub(super) purchases: Vec<(u32, u32, i64)>,
    pub(super) customers: u32,
}

pub(super) fn read_purchases(
    mut input: impl BufRead,
    options: &TrainOptions,
) -> Result<(PurchaseLog, InputStats), TrainError> {
    let mut stats = InputStats::default();
    let mut log = PurchaseLog::default();
    let mut customers: FxHashMap<String, u32> = FxHashMap::default();
    let mut products: FxHashMap<String, u32> = FxHashMap::default();
    let mut line = Vec::with_capacity(256);
    let mut number = 0u64;
    loop {
        line.clear();
        let read = input
            .read_until(b'\n', &mut line)
            .map_err(|source| TrainError::Io { line: number, source })?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.trim_ascii().is_empty() {
            continue;
        }
        stats.lines += 1;
        let event = match parse_event(&line, &options.item_field) {
            Ok(event) => event,
            Err(reason) => {
                stats.malformed += 1;
                if stats.malformed_lines.len() < KEEP_MALFORMED {
                    stats.malformed_lines.push(MalformedLine { line: number, reason });
                }
                continue;
            }
        };
        stats.events += 1;
        let type_key = if stats.event_types.len() < MAX_EVENT_TYPES || stats.event_types.contains_key(&event.kind) {
            event.kind.clone()
        } else {
            "(other)".into()
        };
        *stats.event_types.entry(type_key).or_default() += 1;
        if event.kind != options.purchase_type {
            continue;
        }
        let Some(item) = event.item else {
            stats.purchases_without_item += 1;
            continue;
        };
        let next = customers.len() as u32;
        let customer = *customers.entry(event.customer_id).or_insert(next);
        let next = products.len() as u32;
        let product = *products.entry(item).or_insert(next);
        log.purchases.push((customer, product, event.ts));
    }
    log.customers = customers.len() as u32;
    log.products = vec![String::new(); products.len()];
    for (name, index) in products {
        log.products[index as usize] = name;
    }
    stats.purchases = log.purchases.len() as u64;
    stats.customers_with_purchases = u64::from(log.customers);
    stats.products = log.products.len() as u64;
    Ok((log, stats))
}

struct ParsedEvent {
    customer_id: String,
    kind: String,
    ts: i64,
    item: Option<String>,
}

fn parse_event(line: &[u8], item_field: &str) -> Result<ParsedEvent, String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err("not a JSON object".into());
    };
    let mut text = |key: &str| match object.remove(key) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let customer_id = text("customer_id").ok_or("missing or empty `customer_id`")?;
    let kind = text("type").ok_or("missing or empty `type`")?;
    let item = text(item_field);
    let ts = object
        .get("ts")
        .and_then(serde_json::Value::as_i64)
        .ok_or("missing `ts` (integer epoch milliseconds)")?;
    Ok(ParsedEvent {
        customer_id,
        kind,
        ts,
        item,
    })
}
