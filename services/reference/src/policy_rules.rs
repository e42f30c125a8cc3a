//! The contact policy's two computations an analyst can redo by hand: holdout assignment
//! and the end of the quiet hours, as README.md states them.

use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;

/// The control group: XXH3-64 of the salt, a zero byte and the customer id; its top 53 bits
/// as a fraction of 2^53 below the share.
pub fn in_control(share: f64, salt: &str, customer: &str) -> bool {
    let mut bytes = salt.as_bytes().to_vec();
    bytes.push(0);
    bytes.extend_from_slice(customer.as_bytes());
    let hash = xxhash_rust::xxh3::xxh3_64(&bytes);
    share > 0.0 && ((hash >> 11) as f64) / 9_007_199_254_740_992.0 < share
}

/// Whether the local time of `at` falls into the quiet hours `start`..`end` (minutes).
fn quiet(tz: Tz, start: u32, end: u32, at: i64) -> bool {
    let Some(local) = tz.timestamp_millis_opt(at).single() else {
        return false;
    };
    let minute = local.hour() * 60 + local.minute();
    if start < end {
        start <= minute && minute < end
    } else {
        minute >= start || minute < end
    }
}

/// When `now` is in the quiet hours: the first instant after it whose local time is outside
/// them, minute by minute (every zone's offset is whole minutes).
pub fn first_open(tz: Tz, start: u32, end: u32, now: i64) -> Option<i64> {
    if !quiet(tz, start, end, now) {
        return None;
    }
    let mut at = (now.div_euclid(60_000) + 1) * 60_000;
    while quiet(tz, start, end, at) {
        at += 60_000;
    }
    Some(at)
}
