//! The contact policy's decision rules: consent, arbitration between use cases, cooldowns and
//! caps, holdout groups, quiet hours, and the value of a conversion for attribution.

use super::{name_key, ChannelPolicy, Contact, Outcome, Policy, Reason, ALL_CHANNELS};
use crate::catalog::Catalog;
use crate::event::Event;
use crate::spec::{ArbitrateBy, ConsentMode};
use crate::state::{event_field, CustomerState, EventVars};
use chrono::{LocalResult, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use revenue_expr::Val;

/// Whether `customer_id` is in the control group of a use case: a hash of salt and customer,
/// so the assignment is the same on every instance, after every restart and in replay.
pub fn in_control(share: f64, salt: &str, customer_id: &str) -> bool {
    if share <= 0.0 {
        return false;
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(salt.as_bytes());
    hasher.update(&[0]);
    hasher.update(customer_id.as_bytes());
    // the top 53 bits as a uniform number in [0, 1)
    ((hasher.digest() >> 11) as f64 / (1u64 << 53) as f64) < share
}

/// How `a` ranks against `b` in arbitration, each (priority, expected value; NaN: none stated):
/// by priority then expected value, or the reverse.
pub fn rank_order(by: ArbitrateBy, a: (u32, f64), b: (u32, f64)) -> std::cmp::Ordering {
    let value = |v: f64| if v.is_nan() { f64::NEG_INFINITY } else { v };
    let (a_value, b_value) = (value(a.1), value(b.1));
    match by {
        ArbitrateBy::Priority => a.0.cmp(&b.0).then(a_value.total_cmp(&b_value)),
        ArbitrateBy::ExpectedValue => a_value.total_cmp(&b_value).then(a.0.cmp(&b.0)),
    }
}

/// `a` ranks at least as high as `b`: it wins arbitration against `b`.
pub fn outranks(by: ArbitrateBy, a: (u32, f64), b: (u32, f64)) -> bool {
    rank_order(by, a, b).is_ge()
}

/// One use case's decision to act, as the contact policy weighs it.
#[derive(Debug, Clone, Copy)]
pub struct Proposal<'p> {
    /// The use case's key in the contact history.
    pub use_case: u64,
    pub priority: u32,
    /// Expected value (NaN when the use case states none).
    pub value: f64,
    pub holdout_share: f64,
    pub holdout_salt: &'p str,
    pub customer_id: &'p str,
}

impl Policy {
    /// What the contact policy makes of one decision (reads the state, changes nothing).
    pub fn outcome(
        &self,
        catalog: &Catalog,
        proposal: &Proposal<'_>,
        channel: &ChannelPolicy,
        state: &CustomerState,
        now: i64,
    ) -> Outcome {
        let ps = state.policy.as_deref();
        let consents = match ps {
            Some(ps) => ps.consents(channel),
            None => channel.consent == ConsentMode::OptOut,
        };
        if !consents {
            return Outcome::Suppressed(Reason::Consent);
        }
        if channel.contact {
            let contacts = ps.map_or(&[][..], |p| p.contacts.as_slice());
            // every window ends before its length: a contact exactly one window away is outside;
            // one the customer's clock has left counts for no late event
            let clock = state.clock.max(now);
            let within = |k: &Contact, window: i64| (now - k.ts).abs() < window && clock - k.ts < window;
            let rank = (proposal.priority, proposal.value);
            // only a configured `arbitration` arbitrates; an equal rank decided before wins
            let arbitrated = self.arbitration_window.is_some_and(|window| {
                contacts.iter().any(|k| {
                    k.use_case != proposal.use_case
                        && within(k, window)
                        && outranks(self.arbitrate_by, (k.priority, k.value.unwrap_or(f64::NAN)), rank)
                })
            });
            if arbitrated {
                return Outcome::Suppressed(Reason::Arbitration);
            }
            let recent = |window: i64, channel: Option<u64>| {
                contacts
                    .iter()
                    .filter(|k| within(k, window) && channel.is_none_or(|ch| k.channel == ch))
                    .count()
            };
            if channel.cooldown.is_some_and(|cd| recent(cd, Some(channel.key)) > 0) {
                return Outcome::Suppressed(Reason::Cooldown);
            }
            let capped = channel
                .caps
                .iter()
                .any(|cap| recent(cap.window, Some(channel.key)) >= cap.max as usize)
                || self
                    .global_caps
                    .iter()
                    .any(|cap| recent(cap.window, None) >= cap.max as usize);
            if capped {
                return Outcome::Suppressed(Reason::Cap);
            }
        }
        if in_control(proposal.holdout_share, proposal.holdout_salt, proposal.customer_id) {
            return Outcome::HeldOut;
        }
        if channel.contact && channel.quiet_hours {
            if let Some(q) = &self.quiet_hours {
                let zone = q.timezone_feature.map(|index| state.read(catalog, index, now));
                let zone = match &zone {
                    Some(Val::Str(z)) if !z.is_empty() => Some(z.as_ref()),
                    _ => None,
                };
                if let Some(until) = self.quiet_until(zone, now) {
                    return Outcome::Deferred(until);
                }
            }
        }
        Outcome::Emitted
    }

    /// The revenue of a conversion event (0 when the value is not given or fails).
    pub fn conversion_value(&self, catalog: &Catalog, event: &Event<'_>) -> Option<f64> {
        let type_index = event.type_index?;
        let conversion = self.conversions.iter().find(|c| c.event_type == type_index)?;
        Some(match &conversion.value {
            None => 0.0,
            Some(value) => value
                .eval_f64(&EventVars { catalog, event })
                .ok()
                .filter(|v| v.is_finite())
                // revenue totals only grow (they are Prometheus counters too): refunds are not
                // negative conversions
                .map_or(0.0, |v| v.max(0.0)),
        })
    }

    /// When `now` falls into the customer's quiet hours: the time they end.
    pub fn quiet_until(&self, zone: Option<&str>, now: i64) -> Option<i64> {
        let q = self.quiet_hours.as_ref()?;
        let tz = zone.and_then(|z| z.parse::<Tz>().ok()).unwrap_or(q.default_timezone);
        // the first instant the local time is outside the quiet hours: the next local `end`,
        // unless a DST change skipped the open hours after it (then the next day's)
        let mut at = now;
        for _ in 0..3 {
            let local = tz.timestamp_millis_opt(at).single()?;
            let minute = local.hour() * 60 + local.minute();
            let quiet = if q.start < q.end {
                (q.start..q.end).contains(&minute)
            } else {
                minute >= q.start || minute < q.end
            };
            if !quiet {
                return (at > now).then_some(at);
            }
            at = next_end(tz, q.end, local.date_naive(), minute, at)?;
        }
        Some(at)
    }

    /// Applies a consent event to the customer's state; false (and nothing touched) when the
    /// event is none.
    pub fn apply_consent(&self, catalog: &Catalog, event: &Event<'_>, state: &mut CustomerState) -> bool {
        let (Some(consent), Some(type_index)) = (self.consent, event.type_index) else {
            return false;
        };
        let granted = match type_index {
            t if t == consent.opt_out => false,
            t if t == consent.opt_in => true,
            _ => return false,
        };
        let channel = consent
            .channel_field
            .and_then(|slot| match event_field(catalog, event, slot) {
                Val::Str(s) if !s.is_empty() && s != "all" => Some(name_key(&s)),
                _ => None,
            })
            .unwrap_or(ALL_CHANNELS);
        state.policy_mut().set_consent(channel, granted, event.ts());
        true
    }
}

/// The next local `end` (minutes) after `at` (local date and minute given): of a repeated
/// hour's two, the one after `at`; a time a DST change skips ends with the skipped hour (the
/// first valid local minute after it).
fn next_end(tz: Tz, end: u32, date: chrono::NaiveDate, minute: u32, at: i64) -> Option<i64> {
    let time = NaiveTime::from_hms_opt(end / 60, end % 60, 0)?;
    let date = if minute >= end { date.succ_opt()? } else { date };
    let naive = date.and_time(time);
    let next = match tz.from_local_datetime(&naive) {
        LocalResult::Single(next) => next,
        LocalResult::Ambiguous(first, second) => {
            if first.timestamp_millis() > at {
                first
            } else {
                second
            }
        }
        LocalResult::None => (1..=180).find_map(|m| {
            tz.from_local_datetime(&(naive + chrono::Duration::minutes(m)))
                .earliest()
        })?,
    };
    Some(next.timestamp_millis().max(at))
}
