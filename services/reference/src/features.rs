//! Feature values recomputed from every event a customer has sent, as README.md's
//! *The feature catalog* states them.

use crate::spec::{field_ty, Event, Feature, FieldTy, Kind, Pred, DAY_MS};
use serde_json::Value;
use std::collections::BTreeSet;

/// A feature's value.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    Int(i64),
    Double(f64),
    Str(String),
    Bool(bool),
}

impl V {
    pub fn as_f64(&self) -> f64 {
        match self {
            V::Int(i) => *i as f64,
            V::Double(d) => *d,
            V::Bool(b) => f64::from(u8::from(*b)),
            V::Str(_) => 0.0,
        }
    }

    /// Distinct values are compared as their text.
    fn key(&self) -> String {
        match self {
            V::Int(i) => i.to_string(),
            V::Double(d) => d.to_string(),
            V::Str(s) => s.clone(),
            V::Bool(b) => b.to_string(),
        }
    }
}

/// A field as expressions read it: "an absent field of `event` reads as its type's zero value".
pub fn field(event: &Event, name: &str) -> V {
    let value = event.fields.get(name);
    match field_ty(name) {
        FieldTy::Str => V::Str(value.and_then(Value::as_str).unwrap_or("").to_string()),
        FieldTy::Int => V::Int(value.and_then(Value::as_i64).unwrap_or(0)),
        FieldTy::Double => V::Double(value.and_then(Value::as_f64).unwrap_or(0.0)),
        FieldTy::Bool => V::Bool(value.and_then(Value::as_bool).unwrap_or(false)),
    }
}

pub fn holds(pred: &Pred, event: &Event) -> bool {
    match pred {
        Pred::Has(f) => event.fields.contains_key(f),
        Pred::StrEq(f, s) => field(event, f) == V::Str(s.clone()),
        Pred::DoubleGt(f, c) => field(event, f).as_f64() > *c,
        Pred::IntGe(f, c) => matches!(field(event, f), V::Int(i) if i >= *c),
        Pred::Bool(f) => field(event, f) == V::Bool(true),
        Pred::Not(p) => !holds(p, event),
        Pred::And(a, b) => holds(a, event) && holds(b, event),
    }
}

fn type_matches(events: &Option<Vec<String>>, event: &Event) -> bool {
    events.as_ref().is_none_or(|list| list.contains(&event.ty))
}

/// The bucket width: `bucket`, or the largest of 1d, 1h, 1m, 1s that divides the window.
pub fn bucket_width(feature: &Feature, window: i64) -> i64 {
    feature.bucket.unwrap_or_else(|| {
        [DAY_MS, 3_600_000, 60_000, 1_000]
            .into_iter()
            .find(|b| window % b == 0)
            .unwrap_or(1)
    })
}

/// "An event is inside the window when its bucket is one of the last `window / bucket` buckets
/// up to the customer's clock."
pub fn inside(feature: &Feature, clock: i64, ts: i64) -> bool {
    let Some(window) = feature.window else { return true };
    let width = bucket_width(feature, window);
    let buckets = window / width;
    let (b, now) = (ts.div_euclid(width), clock.div_euclid(width));
    b <= now && b > now - buckets
}

/// The events a feature aggregates: matching type and `where`, inside the window. "An event
/// that lacks the `field` of a `sum`, `min`, `max`, `last`, `distinct_count` or `recent` feature
/// is skipped by it"; in `where` an absent field reads as its type's zero value ([`field`]).
fn selected<'e>(feature: &Feature, events: &'e [Event], clock: i64) -> Vec<&'e Event> {
    events
        .iter()
        .filter(|e| type_matches(&feature.events, e))
        .filter(|e| feature.filter.as_ref().is_none_or(|p| holds(p, e)))
        .filter(|e| feature.field.as_ref().is_none_or(|f| e.fields.contains_key(f)))
        .filter(|e| inside(feature, clock, e.ts))
        .collect()
}

fn zero(ty: FieldTy) -> V {
    match ty {
        FieldTy::Str => V::Str(String::new()),
        FieldTy::Int => V::Int(0),
        FieldTy::Double => V::Double(0.0),
        FieldTy::Bool => V::Bool(false),
    }
}

/// The default of a feature with no data: 0, `''`, `false`; `days_since`: 36,500 days.
pub fn default(feature: &Feature) -> V {
    match feature.kind {
        Kind::Count | Kind::FirstTs | Kind::LastTs | Kind::DistinctCount | Kind::Recent => V::Int(0),
        Kind::Sum | Kind::Min | Kind::Max | Kind::Points => V::Double(0.0),
        Kind::DaysSince => V::Double(36_500.0),
        Kind::Last => zero(feature.field.as_deref().map_or(FieldTy::Str, field_ty)),
    }
}

/// The value of `feature` for a customer whose events (in arrival order) are `events`, read
/// at `now` (the triggering event's time, or a timer's due time) with windows ending at
/// `clock`. `None`: no data (the default applies).
fn compute(all: &[Feature], feature: &Feature, events: &[Event], now: i64, clock: i64) -> Option<V> {
    events.first()?;
    let field_of = |e: &Event| field(e, feature.field.as_deref().unwrap_or(""));
    if feature.kind == Kind::Points {
        return points(feature, events, clock);
    }
    if feature.kind == Kind::DaysSince {
        let of = all.iter().find(|f| Some(&f.name) == feature.of.as_ref())?;
        let V::Int(since) = compute(all, of, events, now, clock)? else {
            return None;
        };
        return Some(V::Double((now - since) as f64 / DAY_MS as f64));
    }
    let s = selected(feature, events, clock);
    if s.is_empty() {
        return None;
    }
    let nums = || s.iter().map(|e| field_of(e).as_f64());
    Some(match feature.kind {
        Kind::Count => V::Int(s.len() as i64),
        Kind::Sum => V::Double(nums().sum()),
        Kind::Min => V::Double(nums().fold(f64::INFINITY, f64::min)),
        Kind::Max => V::Double(nums().fold(f64::NEG_INFINITY, f64::max)),
        // the latest by event time; of equal times, the later arrival (the README is silent)
        Kind::Last => {
            let latest = s.iter().map(|e| e.ts).max()?;
            field_of(s.iter().rev().find(|e| e.ts == latest)?)
        }
        Kind::FirstTs => V::Int(s.iter().map(|e| e.ts).min()?),
        Kind::LastTs => V::Int(latest_ts(&s)?),
        Kind::DistinctCount | Kind::Recent => {
            let cap = feature
                .max_distinct
                .unwrap_or(if feature.kind == Kind::Recent { 20 } else { 64 });
            let distinct: BTreeSet<String> = s.iter().map(|e| field_of(e).key()).collect();
            V::Int(distinct.len().min(cap as usize) as i64)
        }
        Kind::DaysSince | Kind::Points => return None,
    })
}

fn latest_ts(s: &[&Event]) -> Option<i64> {
    s.iter().map(|e| e.ts).max()
}

/// Lead points: every rule an event matches adds its points; decaying with `half_life`, read at
/// the customer's clock, or summed over the `window`.
fn points(feature: &Feature, events: &[Event], clock: i64) -> Option<V> {
    let mut total = 0.0;
    let mut any = false;
    for e in events {
        let earned: f64 = feature
            .points
            .iter()
            .filter(|r| type_matches(&r.events, e) && r.filter.as_ref().is_none_or(|p| holds(p, e)))
            .map(|r| r.points)
            .sum();
        let matched = feature
            .points
            .iter()
            .any(|r| type_matches(&r.events, e) && r.filter.as_ref().is_none_or(|p| holds(p, e)));
        if !matched || !inside(feature, clock, e.ts) {
            continue;
        }
        any = true;
        total += match feature.half_life {
            Some(h) => earned * 0.5f64.powf((clock - e.ts) as f64 / h as f64),
            None => earned,
        };
    }
    any.then_some(V::Double(total))
}

/// Every feature's value, in catalog order, at the customer's latest event; the customer's
/// clock is the latest event time seen.
pub fn values(all: &[Feature], events: &[Event]) -> Vec<V> {
    let now = events.last().map_or(0, |e| e.ts);
    values_at(all, events, now, clock(events).unwrap_or(now))
}

/// The latest event time seen.
pub fn clock(events: &[Event]) -> Option<i64> {
    events.iter().map(|e| e.ts).max()
}

/// Every feature's value read at `now` with windows ending at `clock`.
pub fn values_at(all: &[Feature], events: &[Event], now: i64, clock: i64) -> Vec<V> {
    all.iter()
        .map(|f| compute(all, f, events, now, clock).unwrap_or_else(|| default(f)))
        .collect()
}
