//! `GET /customers/{id}`: one customer's state, explained — features, timers, funnel stages,
//! consent, contacts, deferred actions, exposures and the last decisions. RocksDB stays on the
//! engine thread: the HTTP handler sends a [`CustomerQuery`] through [`CustomerQueries`], and the
//! engine loop answers between two polls (a non-blocking `try_recv` per loop iteration).

use revenue_core::policy::{self, Outcome, Reason, ALL_CHANNELS};
use revenue_core::processor::val_to_json;
use revenue_core::{CustomerState, UseCaseSet};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};

/// Queries waiting for the engine loop at most; more are refused (503) rather than queued.
const QUEUE: usize = 32;

/// One question for the engine thread.
pub struct CustomerQuery {
    pub customer_id: String,
    pub reply: tokio::sync::oneshot::Sender<CustomerReply>,
}

#[derive(Debug)]
pub enum CustomerReply {
    /// The customer's state, explained, from the store of `partition`.
    Found(Value),
    /// No assigned partition's store holds the customer.
    NotHere,
    /// The store could not be read.
    Failed(String),
}

#[derive(Debug, PartialEq, Eq)]
pub enum AskError {
    /// The API is off (`http.customer_api.enabled: false`), or the engine has not started.
    Disabled,
    /// Too many queries are waiting, or the engine loop is gone.
    Busy,
}

/// Shared (through [`Status`](crate::Status)) by the HTTP listener, which asks, and the engine
/// loop, which answers.
pub struct CustomerQueries {
    sender: Mutex<SyncSender<CustomerQuery>>,
    receiver: Mutex<Option<Receiver<CustomerQuery>>>,
    /// The bearer token; set by the engine when `http.customer_api` is enabled.
    token: OnceLock<String>,
}

impl Default for CustomerQueries {
    fn default() -> Self {
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        CustomerQueries {
            sender: Mutex::new(sender),
            receiver: Mutex::new(Some(receiver)),
            token: OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for CustomerQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerQueries")
            .field("enabled", &self.token.get().is_some())
            .finish()
    }
}

impl CustomerQueries {
    /// Turns the API on with this bearer token (the engine does, from its configuration).
    pub fn enable(&self, token: &str) {
        let _ = self.token.set(token.to_string());
    }

    pub fn enabled(&self) -> bool {
        self.token.get().is_some()
    }

    /// Whether `presented` is the token, compared in constant time (for equal lengths).
    pub fn authorized(&self, presented: &[u8]) -> bool {
        let Some(token) = self.token.get() else {
            return false;
        };
        let token = token.as_bytes();
        if presented.len() != token.len() {
            return false;
        }
        let difference = presented.iter().zip(token).fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(difference) == 0
    }

    /// Hands a query to the engine loop; never blocks.
    pub fn ask(&self, query: CustomerQuery) -> Result<(), AskError> {
        if !self.enabled() {
            return Err(AskError::Disabled);
        }
        let sender = self.sender.lock().map_err(|_| AskError::Busy)?;
        match sender.try_send(query) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(AskError::Busy),
        }
    }

    /// The receiving end, for the engine loop (taken once).
    pub(crate) fn take_receiver(&self) -> Option<Receiver<CustomerQuery>> {
        self.receiver.lock().ok().and_then(|mut r| r.take())
    }

    /// Gives the receiving end back (the engine loop ended), so a later engine can answer.
    pub(crate) fn return_receiver(&self, receiver: Receiver<CustomerQuery>) {
        if let Ok(mut slot) = self.receiver.lock() {
            *slot = Some(receiver);
        }
    }
}

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn hex(key: u64) -> String {
    format!("{key:016x}")
}

/// Names of the keys a customer's state holds: use cases, tiers, timers, funnels, channels.
struct Names<'s> {
    use_cases: HashMap<u64, &'s str>,
    tiers: HashMap<u64, (&'s str, &'s str)>,
    timers: HashMap<u64, &'s str>,
    channels: HashMap<u64, &'s str>,
}

impl<'s> Names<'s> {
    fn of(set: &'s UseCaseSet) -> Names<'s> {
        let mut names = Names {
            use_cases: HashMap::new(),
            tiers: HashMap::new(),
            timers: HashMap::new(),
            channels: HashMap::new(),
        };
        for channel in &set.policy.channels {
            names.channels.insert(channel.key, channel.name.as_ref());
        }
        for uc in &set.use_cases {
            names.use_cases.insert(uc.key, uc.id.as_ref());
            if let Some(timer) = &uc.timer {
                names.timers.insert(timer.key, uc.id.as_ref());
            }
            for tier in &uc.tiers {
                names
                    .tiers
                    .insert(tier.history_key, (uc.id.as_ref(), tier.name.as_ref()));
                // channels the policy does not list are still keyed by their name
                names
                    .channels
                    .entry(policy::name_key(&tier.channel))
                    .or_insert(tier.channel.as_ref());
            }
        }
        names
    }

    fn use_case(&self, key: u64) -> String {
        self.use_cases.get(&key).map_or_else(|| hex(key), |id| id.to_string())
    }

    fn tier(&self, key: u64) -> String {
        self.tiers
            .get(&key)
            .map_or_else(|| hex(key), |(_, tier)| tier.to_string())
    }

    fn channel(&self, key: u64) -> String {
        if key == ALL_CHANNELS {
            return "all".into();
        }
        self.channels
            .get(&key)
            .map_or_else(|| hex(key), |name| name.to_string())
    }
}

/// The customer's state as `GET /customers/{id}` returns it.
pub fn describe(set: &UseCaseSet, partition: i32, customer_id: &str, state: &CustomerState) -> Value {
    let catalog = &set.catalog;
    let names = Names::of(set);
    let mut features = Map::new();
    for (index, feature) in catalog.features.iter().enumerate() {
        features.insert(
            feature.name.clone(),
            val_to_json(&state.read(catalog, index, state.clock)),
        );
    }
    let timers: Vec<Value> = state
        .timers
        .iter()
        .map(|t| {
            json!({
                "use_case_id": names.timers.get(&t.key).map_or_else(|| hex(t.key), |id| id.to_string()),
                "due": t.due,
                "clock": if t.wall_clock { "wall_clock" } else { "event_time" },
            })
        })
        .collect();
    let stages: Vec<Value> = state
        .stages
        .iter()
        .map(|s| {
            let uc = set
                .use_cases
                .iter()
                .find(|uc| uc.funnel.as_ref().is_some_and(|f| f.key == s.key));
            let stage = uc
                .and_then(|uc| uc.funnel.as_ref())
                .and_then(|f| f.stages.get(usize::from(s.stage).wrapping_sub(1)))
                .map_or_else(|| s.stage.to_string(), |(name, _)| name.to_string());
            json!({
                "use_case_id": uc.map_or_else(|| hex(s.key), |uc| uc.id.to_string()),
                "stage": stage,
                "since": s.since,
            })
        })
        .collect();
    let empty = policy::PolicyState::default();
    let ps = state.policy.as_deref().unwrap_or(&empty);
    let mut consent = Map::new();
    for c in &ps.consent {
        consent.insert(names.channel(c.channel), json!({"granted": c.granted, "ts": c.ts}));
    }
    let contacts: Vec<Value> = ps
        .contacts
        .iter()
        .map(|c| {
            json!({
                "ts": c.ts,
                "channel": names.channel(c.channel),
                "use_case_id": names.use_case(c.use_case),
                "held_out": c.held_out,
            })
        })
        .collect();
    let deferred: Vec<Value> = ps
        .deferred
        .iter()
        .map(|d| {
            json!({
                "use_case_id": names.use_case(d.use_case),
                "tier": names.tier(d.tier),
                "due": d.due,
                "decided_at": d.decided_at,
                "score": d.score.map_or(Value::Null, number),
            })
        })
        .collect();
    let exposures: Vec<Value> = ps
        .exposures
        .iter()
        .map(|e| {
            json!({
                "use_case_id": names.use_case(e.use_case),
                "group": if e.control { "control" } else { "treatment" },
                "start": e.start,
                "converted": e.converted,
                "revenue": number(e.revenue),
            })
        })
        .collect();
    let decisions: Vec<Value> = ps
        .decisions
        .iter()
        .rev() // latest first
        .map(|d| {
            json!({
                "use_case_id": names.use_case(d.use_case),
                "tier": names.tier(d.tier),
                "ts": d.ts,
                "outcome": Outcome::name_of_code(d.outcome),
                "reason": Reason::from_u8(d.reason).map(Reason::as_str),
                "score": d.score.map_or(Value::Null, number),
            })
        })
        .collect();
    let clock = (state.clock != i64::MIN).then_some(state.clock);
    json!({
        "customer_id": customer_id,
        "partition": partition,
        "clock": clock,
        "features": features,
        "timers": timers,
        "funnel_stages": stages,
        "consent": consent,
        "contacts": contacts,
        "deferred": deferred,
        "exposures": exposures,
        "decisions": decisions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_compared_whole() {
        let queries = CustomerQueries::default();
        assert!(!queries.authorized(b""), "no token: nobody");
        queries.enable("s3cret");
        assert!(queries.authorized(b"s3cret"));
        for wrong in [&b"s3cre"[..], b"s3cret!", b"S3cret", b""] {
            assert!(!queries.authorized(wrong));
        }
    }

    #[test]
    fn asking_a_disabled_or_full_queue_never_blocks() {
        let queries = CustomerQueries::default();
        let query = || CustomerQuery {
            customer_id: "c".into(),
            reply: tokio::sync::oneshot::channel().0,
        };
        assert_eq!(queries.ask(query()), Err(AskError::Disabled));
        queries.enable("t");
        for _ in 0..QUEUE {
            assert_eq!(queries.ask(query()), Ok(()));
        }
        assert_eq!(queries.ask(query()), Err(AskError::Busy));
    }

    #[test]
    fn outcome_codes_map_to_their_names() {
        let names: Vec<&str> = (0..=5).map(Outcome::name_of_code).collect();
        assert_eq!(
            names,
            ["emitted", "deferred", "held_out", "suppressed", "delivered", "unknown"]
        );
        for outcome in [
            Outcome::Emitted,
            Outcome::Deferred(1),
            Outcome::HeldOut,
            Outcome::Suppressed(Reason::Cap),
            Outcome::Delivered,
        ] {
            assert_eq!(Outcome::name_of_code(outcome.code()), outcome.as_str());
        }
    }
}
