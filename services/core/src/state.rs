//! Per-customer feature state, updated incrementally from events. Memory per customer is
//! bounded: windows keep one aggregate per bucket, distinct counts at most `max_distinct` values.

use crate::catalog::{split_var, zero_of, Catalog, Feature, Window};
use crate::duration::DAY_MS;
use crate::event::Event;
use crate::policy::PolicyState;
use crate::spec::FeatureKind;
use revenue_expr::Val;
use revenue_expr::{VarRef, Vars};
use smallvec::SmallVec;
use std::borrow::Cow;

/// One aggregate per window bucket, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Buckets(pub Vec<(i64, f64)>);

/// Distinct values by hash with the latest event time each was seen; holds the `max_distinct`
/// most recently seen values, which is exactly what an exact bounded count needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distinct(pub Vec<(u64, i64)>);

#[derive(Debug, Clone, PartialEq)]
pub enum FeatureState {
    /// count, sum, min, max, first_ts, last_ts over all time; `None` until the first event.
    Scalar(Option<f64>),
    /// Any aggregate over a sliding window.
    Windowed(Buckets),
    /// `last` value and the event time it had (latest event time wins); boxed so the common
    /// kinds stay small and a customer's features fit in fewer cache lines.
    Last(Option<Box<(i64, Val<'static>)>>),
    Distinct(Distinct),
    /// `points` with a half-life: the total as of the latest point-earning event time (a late
    /// event's points decayed forward to it); read decayed to the customer's clock.
    Decayed(Option<(f64, i64)>),
    /// `recent`: the latest distinct values.
    Recent(Recent),
    /// `days_since` keeps nothing: it is derived when read.
    Derived,
}

/// The most recently seen distinct values with the event time each was last seen, most
/// recent last; at most `max_distinct`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recent(pub Vec<(Box<str>, i64)>);

impl Recent {
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(v, _)| v.as_ref())
    }

    pub fn contains(&self, value: &str) -> bool {
        self.0.iter().any(|(v, _)| v.as_ref() == value)
    }

    fn add(&mut self, value: &str, ts: i64, max: usize) {
        if let Some(i) = self.0.iter().position(|(v, _)| v.as_ref() == value) {
            if ts >= self.0[i].1 {
                let mut entry = self.0.remove(i);
                entry.1 = ts;
                let at = self.0.partition_point(|(_, t)| *t <= ts);
                self.0.insert(at, entry);
            }
            return;
        }
        if self.0.len() >= max {
            // full: the value replaces the least recently seen one, if it is more recent
            if self.0.first().is_some_and(|(_, oldest)| ts <= *oldest) {
                return;
            }
            self.0.remove(0);
        }
        let at = self.0.partition_point(|(_, t)| *t <= ts);
        self.0.insert(at, (value.into(), ts));
    }
}

/// Clock kinds of [`CustomerState::dues`]: event time (timers and expiry), and the system clock.
pub const EVENT_TIME: u8 = 0;
pub const WALL_CLOCK: u8 = 1;

/// (clock kind, due time) pairs; most customers have at most two.
pub type Dues = SmallVec<[(u8, i64); 2]>;

/// A per-customer timer of a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// The use case's timer key (stable across versions).
    pub key: u64,
    /// Epoch milliseconds when it is due.
    pub due: i64,
    /// Compared with the system clock rather than event time.
    pub wall_clock: bool,
}

/// Where a customer stands in a use case's funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageEntry {
    /// The use case's funnel key.
    pub key: u64,
    /// 1-based index of the highest stage reached.
    pub stage: u8,
    /// Event time the stage was reached.
    pub since: i64,
}

impl FeatureState {
    pub fn empty(feature: &Feature) -> FeatureState {
        match (feature.kind, feature.window) {
            (FeatureKind::DaysSince, _) => FeatureState::Derived,
            (FeatureKind::Last, _) => FeatureState::Last(None),
            (FeatureKind::DistinctCount, _) => FeatureState::Distinct(Distinct::default()),
            (FeatureKind::Recent, _) => FeatureState::Recent(Recent::default()),
            (FeatureKind::Points, None) if feature.half_life.is_some() => FeatureState::Decayed(None),
            // last_ts in a window is the all-time last_ts, read through the window
            (FeatureKind::LastTs, _) => FeatureState::Scalar(None),
            (_, Some(_)) => FeatureState::Windowed(Buckets::default()),
            (_, None) => FeatureState::Scalar(None),
        }
    }
}

/// Everything the engine keeps about one customer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomerState {
    /// Latest event time seen for this customer: the end of every window.
    pub clock: i64,
    /// One state per catalog feature, in catalog order.
    /// Inline for small catalogs: a customer's state is one allocation, one cache miss less.
    pub features: SmallVec<[FeatureState; 6]>,
    /// (use case + tier key, event time of the last action) for re-trigger policies.
    pub fired: SmallVec<[(u64, i64); 2]>,
    /// Running timers, at most one per use case.
    pub timers: SmallVec<[Timer; 1]>,
    /// Funnel stage per use case with a funnel.
    pub stages: SmallVec<[StageEntry; 1]>,
    /// Event time of the first event seen (lead velocity); `i64::MAX` before any.
    pub first_seen: i64,
    /// Consent, contact history, deferred actions, exposures and recent decisions (boxed:
    /// customers the policy never touched pay one pointer).
    pub policy: Option<Box<PolicyState>>,
}

impl CustomerState {
    pub fn new(catalog: &Catalog) -> CustomerState {
        CustomerState {
            clock: i64::MIN,
            features: catalog.features.iter().map(FeatureState::empty).collect(),
            fired: SmallVec::new(),
            timers: SmallVec::new(),
            stages: SmallVec::new(),
            first_seen: i64::MAX,
            policy: None,
        }
    }

    pub fn policy_mut(&mut self) -> &mut PolicyState {
        self.policy.get_or_insert_with(Default::default)
    }

    /// Forgets everything but withdrawn consent, which must outlive the rest: an expired
    /// customer who opted out stays opted out. True when something was kept.
    pub fn expire(&mut self, catalog: &Catalog) -> bool {
        let consent = self
            .policy
            .take()
            .filter(|p| p.has_withdrawal())
            .map(|p| p.consent.clone());
        *self = CustomerState::new(catalog);
        match consent {
            Some(consent) => {
                self.policy_mut().consent = consent;
                true
            }
            None => false,
        }
    }

    /// Starts (or restarts) the timer `key`.
    pub fn set_timer(&mut self, timer: Timer) {
        match self.timers.iter_mut().find(|t| t.key == timer.key) {
            Some(existing) => *existing = timer,
            None => self.timers.push(timer),
        }
    }

    pub fn cancel_timer(&mut self, key: u64) {
        self.timers.retain(|t| t.key != key);
    }

    /// Everything pending for this customer as (clock kind, due time), sorted: timers and
    /// expiry. What a due-time index holds, so firing never scans customers.
    pub fn dues(&self, catalog: &Catalog) -> Dues {
        let mut dues: Dues = self
            .timers
            .iter()
            .map(|t| (if t.wall_clock { WALL_CLOCK } else { EVENT_TIME }, t.due))
            .collect();
        if let Some(at) = self.expires_at(catalog) {
            if self.clock != i64::MIN {
                dues.push((EVENT_TIME, at));
            }
        }
        if let Some(policy) = &self.policy {
            dues.extend(policy.deferred.iter().map(|d| (EVENT_TIME, d.due)));
        }
        dues.sort_unstable();
        dues.dedup();
        dues
    }

    /// The earliest event-time due of [`CustomerState::dues`] (timers, expiry, deferred
    /// actions), without collecting them: checked per event.
    pub fn next_event_time_due(&self, catalog: &Catalog) -> Option<i64> {
        let timers = self.timers.iter().filter(|t| !t.wall_clock).map(|t| t.due);
        let expiry = self.expires_at(catalog).filter(|_| self.clock != i64::MIN);
        let deferred = self.policy.iter().flat_map(|p| p.deferred.iter().map(|d| d.due));
        timers.chain(expiry).chain(deferred).min()
    }

    /// When the customer leaves the state if nothing happens before.
    pub fn expires_at(&self, catalog: &Catalog) -> Option<i64> {
        catalog.expire_after.map(|ttl| self.clock.saturating_add(ttl))
    }

    pub fn stage(&self, key: u64) -> Option<StageEntry> {
        self.stages.iter().find(|s| s.key == key).copied()
    }

    pub fn set_stage(&mut self, entry: StageEntry) {
        match self.stages.iter_mut().find(|s| s.key == entry.key) {
            Some(existing) => *existing = entry,
            None => self.stages.push(entry),
        }
    }

    pub fn last_fired(&self, key: u64) -> Option<i64> {
        self.fired.iter().find(|(k, _)| *k == key).map(|(_, ts)| *ts)
    }

    pub fn record_fired(&mut self, key: u64, ts: i64) {
        match self.fired.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = entry.1.max(ts),
            None => self.fired.push((key, ts)),
        }
    }

    /// Applies one event to every feature its type updates (filters checked here).
    pub fn apply(&mut self, catalog: &Catalog, event: &Event<'_>) {
        let ts = event.ts();
        if ts > self.clock {
            self.clock = ts;
        }
        self.first_seen = self.first_seen.min(ts);
        let Some(type_index) = event.type_index else { return };
        let Some(updates) = catalog.updates_by_type.get(type_index as usize) else {
            return;
        };
        for &index in updates {
            let feature = &catalog.features[index];
            if feature.kind == FeatureKind::Points {
                let earned = points_earned(catalog, feature, event, type_index);
                if earned != 0.0 {
                    update(
                        &mut self.features[index],
                        feature,
                        self.clock,
                        ts,
                        Some(&Val::Double(earned)),
                    );
                }
                continue;
            }
            if let Some(filter) = &feature.filter {
                // a filter that fails to evaluate does not count the event
                if !matches!(filter.eval_bool(&EventVars { catalog, event }), Ok(true)) {
                    continue;
                }
            }
            let value = feature.field.and_then(|slot| event.fields[slot].as_ref());
            if feature.field.is_some() && value.is_none() {
                continue; // the event lacks the aggregated field
            }
            update(&mut self.features[index], feature, self.clock, ts, value);
        }
    }

    /// Reads a feature's current value at the customer's clock; `now` is the triggering event's
    /// time: recency (`days_since`) is as of it, and decaying points read later than the clock
    /// only when `now` is ahead of it, never earlier.
    pub fn read<'s>(&'s self, catalog: &Catalog, index: usize, now: i64) -> Val<'s> {
        let feature = &catalog.features[index];
        read(&self.features[index], feature, self, catalog, now).unwrap_or_else(|| feature.default.clone())
    }
}

/// The points an event earns: the sum over the rules it matches.
fn points_earned(catalog: &Catalog, feature: &Feature, event: &Event<'_>, type_index: u16) -> f64 {
    let mut earned = 0.0;
    for rule in &feature.points {
        if rule.event_mask & (1 << type_index) == 0 {
            continue;
        }
        if let Some(filter) = &rule.filter {
            if !matches!(filter.eval_bool(&EventVars { catalog, event }), Ok(true)) {
                continue;
            }
        }
        earned += rule.points;
    }
    earned
}

/// `value` points earned at `from` as worth at `to` with the half-life.
pub(crate) fn decay(value: f64, from: i64, to: i64, half_life: i64) -> f64 {
    value * (-((to - from) as f64) / half_life as f64 * std::f64::consts::LN_2).exp()
}

fn numeric(value: Option<&Val<'_>>) -> f64 {
    value.and_then(Val::as_f64).unwrap_or(0.0)
}

fn update(state: &mut FeatureState, feature: &Feature, clock: i64, ts: i64, value: Option<&Val<'_>>) {
    match state {
        FeatureState::Scalar(current) => {
            let x = match feature.kind {
                FeatureKind::Count => 1.0,
                FeatureKind::FirstTs | FeatureKind::LastTs => ts as f64,
                _ => numeric(value),
            };
            *current = Some(match *current {
                None => x,
                Some(c) => combine(feature.kind, c, x),
            });
        }
        FeatureState::Windowed(buckets) => {
            let Some(window) = feature.window else { return };
            if !window.contains(clock, ts) {
                return; // too late: this event's bucket has left the window
            }
            let x = match feature.kind {
                FeatureKind::Count => 1.0,
                FeatureKind::FirstTs | FeatureKind::LastTs => ts as f64,
                _ => numeric(value),
            };
            buckets.add(window, clock, ts, x, feature.kind);
        }
        FeatureState::Last(current) => {
            if let Some(v) = value {
                match current {
                    Some(last) if ts >= last.0 => **last = (ts, v.clone().into_owned()),
                    Some(_) => {}
                    None => *current = Some(Box::new((ts, v.clone().into_owned()))),
                }
            }
        }
        FeatureState::Distinct(set) => {
            if let Some(v) = value {
                set.add(hash_value(v), ts, feature.max_distinct as usize);
            }
        }
        FeatureState::Decayed(current) => {
            let (Some(half_life), x) = (feature.half_life, numeric(value)) else {
                return;
            };
            *current = Some(match *current {
                None => (x, ts),
                // kept as of the latest event time; a late event's points are decayed forward
                Some((total, at)) if ts >= at => (decay(total, at, ts, half_life) + x, ts),
                Some((total, at)) => (total + decay(x, ts, at, half_life), at),
            });
        }
        FeatureState::Recent(recent) => {
            let max = feature.max_distinct as usize;
            match value {
                Some(Val::Str(s)) => recent.add(s, ts, max),
                Some(Val::Int(i)) => recent.add(&i.to_string(), ts, max),
                // every field type counts, as for distinct_count (a bool held nothing before)
                Some(Val::Bool(b)) => recent.add(if *b { "true" } else { "false" }, ts, max),
                Some(Val::Double(x)) => recent.add(&x.to_string(), ts, max),
                _ => {}
            }
        }
        FeatureState::Derived => {}
    }
}

fn combine(kind: FeatureKind, current: f64, x: f64) -> f64 {
    match kind {
        FeatureKind::Min | FeatureKind::FirstTs => current.min(x),
        FeatureKind::Max | FeatureKind::LastTs => current.max(x),
        _ => current + x,
    }
}

impl Buckets {
    fn add(&mut self, window: Window, clock: i64, ts: i64, x: f64, kind: FeatureKind) {
        let bucket = window.bucket_of(ts);
        match self.0.binary_search_by_key(&bucket, |(b, _)| *b) {
            Ok(i) => self.0[i].1 = combine(kind, self.0[i].1, x),
            Err(i) => self.0.insert(i, (bucket, x)),
        }
        let first = window.first_bucket(clock);
        let expired = self.0.partition_point(|(b, _)| *b < first);
        if expired > 0 {
            self.0.drain(..expired);
        }
    }

    fn aggregate(&self, window: Window, clock: i64, kind: FeatureKind) -> Option<f64> {
        let first = window.first_bucket(clock);
        let start = self.0.partition_point(|(b, _)| *b < first);
        self.0[start..]
            .iter()
            .map(|(_, x)| *x)
            .reduce(|a, b| combine(kind, a, b))
    }
}

impl Distinct {
    fn add(&mut self, hash: u64, ts: i64, max: usize) {
        if let Some(entry) = self.0.iter_mut().find(|(h, _)| *h == hash) {
            entry.1 = entry.1.max(ts);
            return;
        }
        if self.0.len() < max {
            self.0.push((hash, ts));
            return;
        }
        // full: the value replaces the least recently seen one, if it is more recent
        if let Some((i, _)) = self.0.iter().enumerate().min_by_key(|(_, (_, t))| *t) {
            if ts > self.0[i].1 {
                self.0[i] = (hash, ts);
            }
        }
    }

    fn count(&self, window: Option<Window>, clock: i64) -> usize {
        match window {
            None => self.0.len(),
            Some(w) => self.0.iter().filter(|(_, t)| w.contains(clock, *t)).count(),
        }
    }
}

pub(crate) fn hash_value(value: &Val<'_>) -> u64 {
    use xxhash_rust::xxh3::xxh3_64;
    match value {
        Val::Str(s) => xxh3_64(s.as_bytes()),
        Val::Int(i) => xxh3_64(&i.to_le_bytes()),
        Val::Double(d) => xxh3_64(&d.to_bits().to_le_bytes()),
        Val::Bool(b) => u64::from(*b),
    }
}

fn as_feature_val(kind: FeatureKind, x: f64) -> Val<'static> {
    match kind {
        FeatureKind::Count | FeatureKind::FirstTs | FeatureKind::LastTs => Val::Int(x as i64),
        _ => Val::Double(x),
    }
}

fn read<'s>(
    state: &'s FeatureState,
    feature: &Feature,
    customer: &'s CustomerState,
    catalog: &Catalog,
    now: i64,
) -> Option<Val<'s>> {
    let clock = customer.clock;
    match state {
        FeatureState::Scalar(value) => {
            let x = (*value)?;
            if let (Some(w), FeatureKind::LastTs) = (feature.window, feature.kind) {
                if !w.contains(clock, x as i64) {
                    return None;
                }
            }
            Some(as_feature_val(feature.kind, x))
        }
        FeatureState::Windowed(buckets) => {
            let window = feature.window?;
            let x = buckets.aggregate(window, clock, feature.kind)?;
            Some(as_feature_val(feature.kind, x))
        }
        FeatureState::Last(value) => {
            let (ts, v) = value.as_deref()?;
            if let Some(w) = feature.window {
                if !w.contains(clock, *ts) {
                    return None;
                }
            }
            Some(match v {
                Val::Str(s) => Val::Str(Cow::Borrowed(s.as_ref())),
                other => other.clone(),
            })
        }
        FeatureState::Distinct(set) => Some(Val::Int(set.count(feature.window, clock) as i64)),
        FeatureState::Decayed(value) => {
            let (total, at) = (*value)?;
            let half_life = feature.half_life?;
            // at the customer's clock whatever the triggering event's time (a late event must not
            // make points count again that have decayed since); later only when read ahead of it
            Some(Val::Double(decay(total, at, now.max(clock).max(at), half_life)))
        }
        FeatureState::Recent(recent) => Some(Val::Int(recent.0.len() as i64)),
        FeatureState::Derived => {
            let of = feature.of?;
            match read(&customer.features[of], &catalog.features[of], customer, catalog, now)? {
                Val::Int(ts) => Some(Val::Double((now - ts) as f64 / DAY_MS as f64)),
                _ => None,
            }
        }
    }
}

/// An event as seen by expressions: absent fields read as their type's zero value.
pub struct EventVars<'c, 'e, 'a> {
    pub catalog: &'c Catalog,
    pub event: &'e Event<'a>,
}

impl Vars for EventVars<'_, '_, '_> {
    fn get(&self, var: VarRef) -> Val<'_> {
        let (_, slot) = split_var(var);
        event_field(self.catalog, self.event, slot)
    }

    fn has(&self, var: VarRef) -> bool {
        let (_, slot) = split_var(var);
        matches!(self.event.fields.get(slot), Some(Some(_)))
    }
}

pub(crate) fn event_field<'e>(catalog: &Catalog, event: &'e Event<'_>, slot: usize) -> Val<'e> {
    match event.fields.get(slot) {
        Some(Some(Val::Str(s))) => Val::Str(Cow::Borrowed(s.as_ref())),
        Some(Some(v)) => v.clone(),
        _ => zero_of(catalog.fields[slot].ty),
    }
}
