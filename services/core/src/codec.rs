//! The binary form of a customer's state: one compact value with a version tag, ready for a
//! key-value store. Each feature is stored under its definition's fingerprint, so a changed or
//! removed feature is dropped on read and a new one starts empty: the catalog can evolve.

use crate::catalog::Catalog;
use crate::policy::{Consent, Contact, Decided, DecisionEntry, Deferred, Exposure, PolicyState};
use crate::state::{Buckets, CustomerState, Distinct, FeatureState, Recent, StageEntry, Timer};
use revenue_expr::Val;
use std::borrow::Cow;

/// Version 2 added timers, funnel stages, first-seen time, `points` and `recent` features;
/// version 3 the contact policy's state; version 4 a deferred action's payload and
/// recommendations as decided. Older values are still read.
pub const STATE_FORMAT_VERSION: u8 = 4;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateDecodeError {
    #[error("state format version {0} is not supported (this build reads versions 1 to {STATE_FORMAT_VERSION})")]
    UnknownVersion(u8),
    #[error("state value is truncated or corrupt at byte {0}")]
    Corrupt(usize),
}

const TAG_SCALAR_NONE: u8 = 0;
const TAG_SCALAR: u8 = 1;
const TAG_WINDOWED: u8 = 2;
const TAG_LAST_NONE: u8 = 3;
const TAG_LAST: u8 = 4;
const TAG_DISTINCT: u8 = 5;
const TAG_DECAYED_NONE: u8 = 6;
const TAG_DECAYED: u8 = 7;
const TAG_RECENT: u8 = 8;

const VAL_BOOL: u8 = 0;
const VAL_INT: u8 = 1;
const VAL_DOUBLE: u8 = 2;
const VAL_STR: u8 = 3;

/// Appends the encoded state to `out` (cleared first), so callers can reuse one buffer.
pub fn encode(catalog: &Catalog, state: &CustomerState, out: &mut Vec<u8>) {
    out.clear();
    out.push(STATE_FORMAT_VERSION);
    put_varint(out, zigzag(state.clock));
    let stored = state
        .features
        .iter()
        .filter(|f| !matches!(f, FeatureState::Derived))
        .count();
    put_varint(out, stored as u64);
    for (feature, fs) in catalog.features.iter().zip(&state.features) {
        if matches!(fs, FeatureState::Derived) {
            continue;
        }
        out.extend_from_slice(&feature.fingerprint.to_le_bytes());
        match fs {
            FeatureState::Scalar(None) => out.push(TAG_SCALAR_NONE),
            FeatureState::Scalar(Some(x)) => {
                out.push(TAG_SCALAR);
                out.extend_from_slice(&x.to_le_bytes());
            }
            FeatureState::Windowed(Buckets(buckets)) => {
                out.push(TAG_WINDOWED);
                put_varint(out, buckets.len() as u64);
                let mut previous = 0i64;
                for (bucket, x) in buckets {
                    put_varint(out, zigzag(bucket.wrapping_sub(previous)));
                    previous = *bucket;
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            FeatureState::Last(None) => out.push(TAG_LAST_NONE),
            FeatureState::Last(Some(last)) => {
                let (ts, value) = last.as_ref();
                out.push(TAG_LAST);
                put_varint(out, zigzag(*ts));
                put_val(out, value);
            }
            FeatureState::Distinct(Distinct(values)) => {
                out.push(TAG_DISTINCT);
                put_varint(out, values.len() as u64);
                for (hash, ts) in values {
                    out.extend_from_slice(&hash.to_le_bytes());
                    put_varint(out, zigzag(*ts));
                }
            }
            FeatureState::Decayed(None) => out.push(TAG_DECAYED_NONE),
            FeatureState::Decayed(Some((total, at))) => {
                out.push(TAG_DECAYED);
                out.extend_from_slice(&total.to_le_bytes());
                put_varint(out, zigzag(*at));
            }
            FeatureState::Recent(Recent(values)) => {
                out.push(TAG_RECENT);
                put_varint(out, values.len() as u64);
                for (value, ts) in values {
                    put_varint(out, value.len() as u64);
                    out.extend_from_slice(value.as_bytes());
                    put_varint(out, zigzag(*ts));
                }
            }
            FeatureState::Derived => {}
        }
    }
    put_varint(out, state.fired.len() as u64);
    for (key, ts) in &state.fired {
        out.extend_from_slice(&key.to_le_bytes());
        put_varint(out, zigzag(*ts));
    }
    put_varint(out, state.timers.len() as u64);
    for timer in &state.timers {
        out.extend_from_slice(&timer.key.to_le_bytes());
        put_varint(out, zigzag(timer.due));
        out.push(u8::from(timer.wall_clock));
    }
    put_varint(out, state.stages.len() as u64);
    for stage in &state.stages {
        out.extend_from_slice(&stage.key.to_le_bytes());
        out.push(stage.stage);
        put_varint(out, zigzag(stage.since));
    }
    put_varint(out, zigzag(state.first_seen));
    match state.policy.as_deref().filter(|p| !p.is_empty()) {
        None => out.push(0),
        Some(policy) => {
            out.push(1);
            put_policy(out, policy);
        }
    }
}

fn put_f64(out: &mut Vec<u8>, x: f64) {
    out.extend_from_slice(&x.to_le_bytes());
}

/// `None` is stored as NaN (never a real score or value).
fn put_opt_f64(out: &mut Vec<u8>, x: Option<f64>) {
    put_f64(out, x.unwrap_or(f64::NAN));
}

fn put_policy(out: &mut Vec<u8>, p: &PolicyState) {
    put_varint(out, p.consent.len() as u64);
    for c in &p.consent {
        out.extend_from_slice(&c.channel.to_le_bytes());
        out.push(u8::from(c.granted));
        put_varint(out, zigzag(c.ts));
    }
    put_varint(out, p.contacts.len() as u64);
    for c in &p.contacts {
        put_varint(out, zigzag(c.ts));
        out.extend_from_slice(&c.channel.to_le_bytes());
        out.extend_from_slice(&c.use_case.to_le_bytes());
        put_varint(out, u64::from(c.priority));
        put_opt_f64(out, c.value);
        out.push(u8::from(c.held_out));
    }
    put_varint(out, p.deferred.len() as u64);
    for d in &p.deferred {
        out.extend_from_slice(&d.use_case.to_le_bytes());
        out.extend_from_slice(&d.tier.to_le_bytes());
        put_varint(out, zigzag(d.due));
        put_varint(out, zigzag(d.decided_at));
        put_opt_f64(out, d.score);
        put_decided(out, d.decided.as_deref());
    }
    put_varint(out, p.exposures.len() as u64);
    for e in &p.exposures {
        out.extend_from_slice(&e.use_case.to_le_bytes());
        out.push(u8::from(e.control) | u8::from(e.converted) << 1);
        put_varint(out, zigzag(e.start));
        put_f64(out, e.revenue);
    }
    put_varint(out, p.decisions.len() as u64);
    for d in &p.decisions {
        out.extend_from_slice(&d.use_case.to_le_bytes());
        out.extend_from_slice(&d.tier.to_le_bytes());
        put_varint(out, zigzag(d.ts));
        out.push(d.outcome);
        out.push(d.reason);
        put_opt_f64(out, d.score);
    }
}

/// A deferred action's payload and recommendations (format 4): a flag, then both lists.
fn put_decided(out: &mut Vec<u8>, decided: Option<&Decided>) {
    let Some(decided) = decided else {
        out.push(0);
        return;
    };
    out.push(1);
    put_varint(out, decided.payload.len() as u64);
    for (name, value) in &decided.payload {
        put_str(out, name);
        put_val(out, value);
    }
    put_varint(out, decided.recommendations.len() as u64);
    for (product, score) in &decided.recommendations {
        put_str(out, product);
        put_f64(out, *score);
    }
}

fn read_decided(r: &mut Reader<'_>) -> Result<Option<Box<Decided>>, StateDecodeError> {
    if r.u8()? == 0 {
        return Ok(None);
    }
    let mut decided = Decided::default();
    for _ in 0..r.len()? {
        let name: std::sync::Arc<str> = r.str()?.into();
        decided.payload.push((name, r.val()?));
    }
    for _ in 0..r.len()? {
        let product = r.str()?.to_string();
        decided.recommendations.push((product, f64::from_le_bytes(r.array()?)));
    }
    Ok(Some(Box::new(decided)))
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn read_policy(r: &mut Reader<'_>, version: u8) -> Result<PolicyState, StateDecodeError> {
    let mut p = PolicyState::default();
    for _ in 0..r.len()? {
        let channel = u64::from_le_bytes(r.array()?);
        let granted = r.u8()? != 0;
        let ts = unzigzag(r.varint()?);
        p.consent.push(Consent { channel, granted, ts });
    }
    for _ in 0..r.len()? {
        let ts = unzigzag(r.varint()?);
        let channel = u64::from_le_bytes(r.array()?);
        let use_case = u64::from_le_bytes(r.array()?);
        let priority = u32::try_from(r.varint()?).map_err(|_| StateDecodeError::Corrupt(r.pos))?;
        let value = r.opt_f64()?;
        let held_out = r.u8()? != 0;
        p.contacts.push(Contact {
            ts,
            channel,
            use_case,
            priority,
            value,
            held_out,
        });
    }
    for _ in 0..r.len()? {
        let use_case = u64::from_le_bytes(r.array()?);
        let tier = u64::from_le_bytes(r.array()?);
        let due = unzigzag(r.varint()?);
        let decided_at = unzigzag(r.varint()?);
        let score = r.opt_f64()?;
        // format 3 kept no payload: computed at delivery then
        let decided = if version >= 4 { read_decided(r)? } else { None };
        p.deferred.push(Deferred {
            use_case,
            tier,
            due,
            decided_at,
            score,
            decided,
        });
    }
    for _ in 0..r.len()? {
        let use_case = u64::from_le_bytes(r.array()?);
        let flags = r.u8()?;
        let start = unzigzag(r.varint()?);
        let revenue = f64::from_le_bytes(r.array()?);
        p.exposures.push(Exposure {
            use_case,
            control: flags & 1 != 0,
            converted: flags & 2 != 0,
            start,
            revenue,
        });
    }
    for _ in 0..r.len()? {
        let use_case = u64::from_le_bytes(r.array()?);
        let tier = u64::from_le_bytes(r.array()?);
        let ts = unzigzag(r.varint()?);
        let outcome = r.u8()?;
        let reason = r.u8()?;
        let score = r.opt_f64()?;
        p.decisions.push(DecisionEntry {
            use_case,
            tier,
            ts,
            outcome,
            reason,
            score,
        });
    }
    Ok(p)
}

pub fn decode(catalog: &Catalog, bytes: &[u8]) -> Result<CustomerState, StateDecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    let version = r.u8()?;
    if !(1..=STATE_FORMAT_VERSION).contains(&version) {
        return Err(StateDecodeError::UnknownVersion(version));
    }
    let mut state = CustomerState::new(catalog);
    state.clock = unzigzag(r.varint()?);
    let stored = r.varint()?;
    for _ in 0..stored {
        let fingerprint = u32::from_le_bytes(r.array()?);
        let value = match r.u8()? {
            TAG_SCALAR_NONE => FeatureState::Scalar(None),
            TAG_SCALAR => FeatureState::Scalar(Some(f64::from_le_bytes(r.array()?))),
            TAG_WINDOWED => {
                let n = r.len()?;
                let mut buckets = Vec::with_capacity(n);
                let mut previous = 0i64;
                for _ in 0..n {
                    previous = previous.wrapping_add(unzigzag(r.varint()?));
                    buckets.push((previous, f64::from_le_bytes(r.array()?)));
                }
                FeatureState::Windowed(Buckets(buckets))
            }
            TAG_LAST_NONE => FeatureState::Last(None),
            TAG_LAST => {
                let ts = unzigzag(r.varint()?);
                FeatureState::Last(Some(Box::new((ts, r.val()?))))
            }
            TAG_DISTINCT => {
                let n = r.len()?;
                let mut values = Vec::with_capacity(n);
                for _ in 0..n {
                    let hash = u64::from_le_bytes(r.array()?);
                    values.push((hash, unzigzag(r.varint()?)));
                }
                FeatureState::Distinct(Distinct(values))
            }
            TAG_DECAYED_NONE => FeatureState::Decayed(None),
            TAG_DECAYED => {
                let total = f64::from_le_bytes(r.array()?);
                FeatureState::Decayed(Some((total, unzigzag(r.varint()?))))
            }
            TAG_RECENT => {
                let n = r.len()?;
                let mut values = Vec::with_capacity(n);
                for _ in 0..n {
                    let value = r.str()?;
                    values.push((value.into(), unzigzag(r.varint()?)));
                }
                FeatureState::Recent(Recent(values))
            }
            _ => return Err(StateDecodeError::Corrupt(r.pos)),
        };
        let slot = catalog.features.iter().position(|f| f.fingerprint == fingerprint);
        if let Some(index) = slot {
            // keep it only if the current definition stores the same shape
            if std::mem::discriminant(&state.features[index]) == std::mem::discriminant(&value) {
                state.features[index] = value;
            }
        }
    }
    let fired = r.len()?;
    for _ in 0..fired {
        let key = u64::from_le_bytes(r.array()?);
        state.fired.push((key, unzigzag(r.varint()?)));
    }
    if version >= 2 {
        for _ in 0..r.len()? {
            let key = u64::from_le_bytes(r.array()?);
            let due = unzigzag(r.varint()?);
            let wall_clock = r.u8()? != 0;
            state.timers.push(Timer { key, due, wall_clock });
        }
        for _ in 0..r.len()? {
            let key = u64::from_le_bytes(r.array()?);
            let stage = r.u8()?;
            let since = unzigzag(r.varint()?);
            state.stages.push(StageEntry { key, stage, since });
        }
        state.first_seen = unzigzag(r.varint()?);
    }
    if version >= 3 && r.u8()? == 1 {
        state.policy = Some(Box::new(read_policy(&mut r, version)?));
    }
    if r.pos != bytes.len() {
        return Err(StateDecodeError::Corrupt(r.pos));
    }
    Ok(state)
}

fn put_val(out: &mut Vec<u8>, value: &Val<'_>) {
    match value {
        Val::Bool(b) => {
            out.push(VAL_BOOL);
            out.push(u8::from(*b));
        }
        Val::Int(i) => {
            out.push(VAL_INT);
            put_varint(out, zigzag(*i));
        }
        Val::Double(d) => {
            out.push(VAL_DOUBLE);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Val::Str(s) => {
            out.push(VAL_STR);
            put_str(out, s);
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, StateDecodeError> {
        let b = *self.bytes.get(self.pos).ok_or(StateDecodeError::Corrupt(self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StateDecodeError> {
        let end = self.pos + N;
        let slice = self
            .bytes
            .get(self.pos..end)
            .ok_or(StateDecodeError::Corrupt(self.pos))?;
        self.pos = end;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn opt_f64(&mut self) -> Result<Option<f64>, StateDecodeError> {
        let x = f64::from_le_bytes(self.array()?);
        Ok((!x.is_nan()).then_some(x))
    }

    fn varint(&mut self) -> Result<u64, StateDecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(StateDecodeError::Corrupt(self.pos))
    }

    /// A length, checked against the bytes left so a corrupt value cannot allocate wildly.
    fn len(&mut self) -> Result<usize, StateDecodeError> {
        let n = self.varint()?;
        if n > (self.bytes.len() - self.pos) as u64 {
            return Err(StateDecodeError::Corrupt(self.pos));
        }
        Ok(n as usize)
    }

    fn str(&mut self) -> Result<&str, StateDecodeError> {
        let n = self.len()?;
        let start = self.pos;
        self.pos += n;
        std::str::from_utf8(&self.bytes[start..self.pos]).map_err(|_| StateDecodeError::Corrupt(start))
    }

    fn val(&mut self) -> Result<Val<'static>, StateDecodeError> {
        Ok(match self.u8()? {
            VAL_BOOL => Val::Bool(self.u8()? != 0),
            VAL_INT => Val::Int(unzigzag(self.varint()?)),
            VAL_DOUBLE => Val::Double(f64::from_le_bytes(self.array()?)),
            VAL_STR => Val::Str(Cow::Owned(self.str()?.to_string())),
            _ => return Err(StateDecodeError::Corrupt(self.pos)),
        })
    }
}
