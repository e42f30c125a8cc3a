//! The contact policy and attribution (README.md, *Contact policy and measurement*), naively:
//! every consent event, contact, deferred action and exposure of every customer is kept, and
//! each decision is judged by scanning them, in the README's order — consent, arbitration,
//! cooldown, caps, holdout, quiet hours.

use crate::features::{field, V};
use crate::model::num;
use crate::policy_rules::{first_open, in_control};
use crate::policy_spec::{By, ChannelPolicy, ConvValue, Policy, UcPolicy, CHANNELS};
use crate::spec::{Event, Feature, Status, UseCase, DAY_MS};
use chrono_tz::Tz;
use std::collections::BTreeMap;

/// The attribution window without `attribution` in `policy.yaml`.
pub const DEFAULT_ATTRIBUTION_WINDOW: i64 = 30 * DAY_MS;

/// What the policy made of one decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Emitted,
    /// Sent when the quiet hours end, at this time.
    Deferred(i64),
    HeldOut,
    Suppressed(&'static str),
    /// A deferred action sent.
    Delivered,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Emitted => "emitted",
            Outcome::Deferred(_) => "deferred",
            Outcome::HeldOut => "held_out",
            Outcome::Suppressed(_) => "suppressed",
            Outcome::Delivered => "delivered",
        }
    }

    /// The reason it is counted under in the summary.
    pub fn reason(self) -> Option<&'static str> {
        match self {
            Outcome::Suppressed(r) => Some(r),
            Outcome::Deferred(_) => Some("quiet_hours"),
            Outcome::HeldOut => Some("holdout"),
            _ => None,
        }
    }
}

/// One decision record.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub customer: String,
    pub use_case_id: String,
    pub status: Status,
    pub event_type: String,
    pub ts: i64,
    pub tier: String,
    pub channel: String,
    pub score: Option<f64>,
    pub expected_value: Option<f64>,
    pub outcome: Outcome,
}

/// One action sent (emitted, or deferred and delivered).
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub customer: String,
    pub use_case_id: String,
    pub tier: String,
    pub channel: String,
    pub event_type: String,
    pub event_ts: i64,
    pub decided_at: Option<i64>,
    pub score: Option<f64>,
    pub payload: Vec<(String, V)>,
}

/// A use case's decision to act, before the policy: the tier that matched and may act.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub use_case: usize,
    pub tier: usize,
    pub score: Option<f64>,
    pub payload: Vec<(String, V)>,
}

/// Exposures and conversions of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub exposed: u64,
    pub converted: u64,
    pub conversions: u64,
    pub revenue: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub suppressed: BTreeMap<&'static str, u64>,
    pub deferred: u64,
    pub delivered: u64,
    pub treatment: Totals,
    pub control: Totals,
}

/// A decision that counts as a contact: for arbitration, cooldowns and caps.
#[derive(Debug, Clone)]
struct Contact {
    ts: i64,
    channel: &'static str,
    use_case: usize,
    priority: u32,
    value: Option<f64>,
}

#[derive(Debug, Clone)]
struct Waiting {
    customer: String,
    use_case: usize,
    tier: usize,
    due: i64,
    decided_at: i64,
    score: Option<f64>,
    payload: Vec<(String, V)>,
}

#[derive(Debug, Clone)]
struct Exposure {
    use_case: usize,
    control: bool,
    start: i64,
    converted: bool,
}

#[derive(Debug, Clone, Default)]
struct Customer {
    /// Consent events in arrival order: time, channel (`None`: every channel), granted.
    consent: Vec<(i64, Option<String>, bool)>,
    contacts: Vec<Contact>,
    /// Every exposure ever opened, in the order opened.
    exposures: Vec<Exposure>,
}

/// The policy's side of the reference model.
#[derive(Debug)]
pub struct Gate {
    policy: Option<Policy>,
    /// In the model's order (by id).
    use_cases: Vec<UseCase>,
    ucs: Vec<UcPolicy>,
    features: Vec<Feature>,
    backtest: bool,
    watermark: i64,
    customers: BTreeMap<String, Customer>,
    waiting: Vec<Waiting>,
    /// Per use case id.
    pub counters: BTreeMap<String, Counters>,
    pub decisions: Vec<Decision>,
    pub sent: Vec<Sent>,
}

fn in_window(now: i64, clock: i64, ts: i64, window: i64) -> bool {
    (now - ts).abs() < window && clock - ts < window
}

impl Gate {
    /// `use_cases` and `ucs` in the case's order; the model keeps its use cases by id.
    pub fn new(
        policy: Option<Policy>,
        use_cases: &[UseCase],
        ucs: &[UcPolicy],
        features: &[Feature],
        backtest: bool,
    ) -> Gate {
        let mut both: Vec<(UseCase, UcPolicy)> = use_cases.iter().cloned().zip(ucs.iter().cloned()).collect();
        both.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        let (use_cases, ucs) = both.into_iter().unzip();
        Gate {
            policy,
            use_cases,
            ucs,
            features: features.to_vec(),
            backtest,
            watermark: i64::MIN,
            customers: BTreeMap::new(),
            waiting: Vec::new(),
            counters: BTreeMap::new(),
            decisions: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// "`draft` ones are only evaluated by `replay`", `retired` ones never.
    pub fn evaluates(&self, status: Status) -> bool {
        match status {
            Status::Live | Status::Shadow => true,
            Status::Draft => self.backtest,
            Status::Retired => false,
        }
    }

    fn channel(&self, tier_channel: usize) -> (&'static str, ChannelPolicy) {
        let name = CHANNELS[tier_channel].0;
        let listed = self
            .policy
            .as_ref()
            .and_then(|p| p.channels.iter().find(|c| c.name == name));
        let default = ChannelPolicy {
            name: name.into(),
            caps: Vec::new(),
            cooldown: None,
            opt_in: false,
            quiet_hours: None,
            contact: None,
        };
        (name, listed.cloned().unwrap_or(default))
    }

    fn attribution_window(&self) -> i64 {
        let a = self.policy.as_ref().and_then(|p| p.attribution.as_ref());
        a.map_or(DEFAULT_ATTRIBUTION_WINDOW, |a| a.window)
    }

    /// "The newest event by event time wins" (of equal times, the later arrival); without
    /// one, only an `opt_in` channel is closed.
    fn consents(&self, customer: &str, channel: &ChannelPolicy) -> bool {
        let Some(c) = self.customers.get(customer) else {
            return !channel.opt_in;
        };
        let mut newest: Option<(i64, bool)> = None;
        for (ts, ch, granted) in &c.consent {
            if ch.as_ref().is_some_and(|ch| *ch != channel.name) {
                continue;
            }
            if newest.is_none_or(|(t, _)| *ts >= t) {
                newest = Some((*ts, *granted));
            }
        }
        newest.map_or(!channel.opt_in, |(_, g)| g)
    }

    /// Before an event is processed: replay's one clock — every customer's deferred actions due
    /// by the latest event time so far (this event's included) are sent, also after a late
    /// event decided one that is already due.
    pub fn before(&mut self, event: &Event) {
        if self.policy.as_ref().is_some_and(|p| p.quiet_hours.is_some()) {
            self.watermark = self.watermark.max(event.ts);
            self.deliver_all(self.watermark);
        }
        self.deliver(&event.customer, event.ts);
    }

    /// The end of the input: what is due by the latest event time is sent; nothing later is.
    pub fn finish(&mut self) {
        self.deliver_all(self.watermark);
    }

    fn deliver_all(&mut self, upto: i64) {
        let mut customers: Vec<String> = self.waiting.iter().map(|w| w.customer.clone()).collect();
        customers.sort();
        customers.dedup();
        for c in customers {
            self.deliver(&c, upto);
        }
    }

    /// Sends the customer's deferred actions due by `upto`, by due time, then in the order
    /// they were decided; unless consent was withdrawn meanwhile.
    fn deliver(&mut self, customer: &str, upto: i64) {
        loop {
            let next = self
                .waiting
                .iter()
                .enumerate()
                .filter(|(_, w)| w.customer == customer && w.due <= upto)
                .min_by_key(|(i, w)| (w.due, *i))
                .map(|(i, _)| i);
            let Some(i) = next else { return };
            let w = self.waiting.remove(i);
            let uc = &self.use_cases[w.use_case];
            let (id, status, tier) = (uc.id.clone(), uc.status, uc.tiers[w.tier].name.clone());
            let (name, channel) = self.channel(self.ucs[w.use_case].tier_channels[w.tier]);
            let outcome = if self.consents(customer, &channel) {
                Outcome::Delivered
            } else {
                Outcome::Suppressed("consent")
            };
            let counters = self.counters.entry(id.clone()).or_default();
            match outcome.reason() {
                Some(r) => *counters.suppressed.entry(r).or_default() += 1,
                None => counters.delivered += 1,
            }
            self.decisions.push(Decision {
                customer: customer.into(),
                use_case_id: id.clone(),
                status,
                event_type: "deferred".into(),
                ts: w.due,
                tier: tier.clone(),
                channel: name.into(),
                score: w.score,
                expected_value: None,
                outcome,
            });
            if outcome == Outcome::Delivered {
                self.sent.push(Sent {
                    customer: customer.into(),
                    use_case_id: id,
                    tier,
                    channel: name.into(),
                    event_type: "deferred".into(),
                    event_ts: w.due,
                    decided_at: Some(w.decided_at),
                    score: w.score,
                    payload: w.payload,
                });
            }
        }
    }

    /// After the event joined the customer's history: consent events and conversions.
    /// `clock`: the customer's latest event time.
    pub fn observe(&mut self, event: &Event, clock: i64) {
        let Some(policy) = self.policy.clone() else { return };
        if let Some(consent) = &policy.consent {
            let granted = if event.ty == consent.opt_out {
                Some(false)
            } else if event.ty == consent.opt_in {
                Some(true)
            } else {
                None
            };
            if let Some(granted) = granted {
                let channel = consent.channel_field.as_ref().and_then(|f| match field(event, f) {
                    V::Str(s) if !s.is_empty() && s != "all" => Some(s),
                    _ => None,
                });
                let c = self.customers.entry(event.customer.clone()).or_default();
                c.consent.push((event.ts, channel, granted));
            }
        }
        let Some(attribution) = &policy.attribution else { return };
        let Some(conversion) = attribution.conversions.iter().find(|c| c.event == event.ty) else {
            return;
        };
        let amount = field(event, "amount").as_f64();
        let value = match conversion.value {
            ConvValue::None => 0.0,
            ConvValue::Amount => amount,
            ConvValue::AmountTimes(k) => amount * k,
        };
        // refunds are not negative conversions; a value that is not a number counts 0
        let value = if value.is_finite() { value.max(0.0) } else { 0.0 };
        let window = attribution.window;
        let Some(c) = self.customers.get_mut(&event.customer) else {
            return;
        };
        for uc in 0..self.use_cases.len() {
            // a use case's latest exposure, if the conversion falls into it
            let Some(e) = c.exposures.iter_mut().rev().find(|e| e.use_case == uc) else {
                continue;
            };
            if event.ts < e.start || !in_window(event.ts, clock, e.start, window) {
                continue;
            }
            let counters = self.counters.entry(self.use_cases[uc].id.clone()).or_default();
            let totals = if e.control {
                &mut counters.control
            } else {
                &mut counters.treatment
            };
            totals.converted += u64::from(!e.converted);
            totals.conversions += 1;
            totals.revenue += value;
            e.converted = true;
        }
    }

    fn value(&self, use_case: usize, values: &[V]) -> Option<f64> {
        let read = |name: &str| -> V {
            let i = self.features.iter().position(|f| f.name == name);
            i.and_then(|i| values.get(i).cloned()).unwrap_or(V::Double(0.0))
        };
        let v = self.ucs[use_case].expected_value.as_ref().map(|e| num(e, &read))?;
        (!v.is_nan()).then_some(v)
    }

    /// Rank: priority then expected value, or the reverse; no expected value ranks lowest.
    fn rank(&self, priority: u32, value: Option<f64>) -> (f64, f64) {
        let by = self
            .policy
            .as_ref()
            .and_then(|p| p.arbitration.as_ref())
            .and_then(|a| a.by);
        let v = value.unwrap_or(f64::NEG_INFINITY);
        match by.unwrap_or(By::Priority) {
            By::Priority => (f64::from(priority), v),
            By::ExpectedValue => (v, f64::from(priority)),
        }
    }

    /// The event's decisions to act, best ranked first (of equal rank, by use-case id), each
    /// through the policy. Returns whether each one acted (for the re-trigger history).
    pub fn govern(
        &mut self,
        event: &Event,
        clock: i64,
        values: &[V],
        mut candidates: Vec<Candidate>,
    ) -> Vec<(Candidate, bool)> {
        let ranked = |g: &Gate, c: &Candidate| g.rank(g.ucs[c.use_case].priority, g.value(c.use_case, values));
        candidates.sort_by(|a, b| {
            let (ra, rb) = (ranked(self, a), ranked(self, b));
            rb.partial_cmp(&ra)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(self.use_cases[a.use_case].id.cmp(&self.use_cases[b.use_case].id))
        });
        let mut out = Vec::new();
        for cand in candidates {
            let outcome = self.judge(event, clock, values, &cand);
            out.push((cand, !matches!(outcome, Outcome::Suppressed(_))));
        }
        out
    }

    fn judge(&mut self, event: &Event, clock: i64, values: &[V], cand: &Candidate) -> Outcome {
        let now = event.ts;
        let customer = event.customer.clone();
        let uc = self.use_cases[cand.use_case].clone();
        let p = self.ucs[cand.use_case].clone();
        let (name, channel) = self.channel(p.tier_channels[cand.tier]);
        let value = self.value(cand.use_case, values);
        let contact = channel.contact.unwrap_or(true);
        let policy = self.policy.clone();
        let contacts = self
            .customers
            .get(&customer)
            .map(|c| c.contacts.clone())
            .unwrap_or_default();
        let recent = |window: i64, ch: Option<&str>| {
            contacts
                .iter()
                .filter(|k| in_window(now, clock, k.ts, window) && ch.is_none_or(|ch| ch == k.channel))
                .count()
        };
        let share = p
            .holdout
            .as_ref()
            .map(|h| h.share)
            .or(policy.as_ref().and_then(|p| p.holdout));
        let share = share.unwrap_or(0.0);
        let salt = p.holdout.as_ref().and_then(|h| h.salt.clone()).unwrap_or(uc.id.clone());
        let rank = self.rank(p.priority, value);
        let outcome = if !self.consents(&customer, &channel) {
            Outcome::Suppressed("consent")
        } else if contact
            && policy.as_ref().and_then(|p| p.arbitration.as_ref()).is_some_and(|a| {
                contacts.iter().any(|k| {
                    k.use_case != cand.use_case
                        && in_window(now, clock, k.ts, a.window)
                        && self.rank(k.priority, k.value) >= rank
                })
            })
        {
            Outcome::Suppressed("arbitration")
        } else if contact && channel.cooldown.is_some_and(|cd| recent(cd, Some(name)) > 0) {
            Outcome::Suppressed("cooldown")
        } else if contact
            && (channel
                .caps
                .iter()
                .any(|c| recent(c.window, Some(name)) >= c.max as usize)
                || policy
                    .as_ref()
                    .is_some_and(|p| p.global_caps.iter().any(|c| recent(c.window, None) >= c.max as usize)))
        {
            Outcome::Suppressed("cap")
        } else if in_control(share, &salt, &customer) {
            Outcome::HeldOut
        } else if let Some(due) = self.quiet_until(contact && channel.quiet_hours.unwrap_or(true), values, now) {
            Outcome::Deferred(due)
        } else {
            Outcome::Emitted
        };
        let counters = self.counters.entry(uc.id.clone()).or_default();
        if let Some(r) = outcome.reason() {
            *counters.suppressed.entry(r).or_default() += 1;
        }
        self.decisions.push(Decision {
            customer: customer.clone(),
            use_case_id: uc.id.clone(),
            status: uc.status,
            event_type: event.ty.clone(),
            ts: now,
            tier: uc.tiers[cand.tier].name.clone(),
            channel: name.into(),
            score: cand.score,
            expected_value: value,
            outcome,
        });
        if matches!(outcome, Outcome::Suppressed(_)) {
            return outcome;
        }
        // in the live engine a shadow use case keeps no customer state; drafts and shadows
        // are invisible to the others
        let writes = self.backtest || uc.status == Status::Live;
        let visible = uc.status != Status::Shadow && uc.status != Status::Draft;
        let control = outcome == Outcome::HeldOut;
        let window = self.attribution_window();
        let c = self.customers.entry(customer.clone()).or_default();
        if writes && visible && policy.is_some() && contact {
            c.contacts.push(Contact {
                ts: now,
                channel: name,
                use_case: cand.use_case,
                priority: p.priority,
                value,
            });
        }
        if writes && (policy.is_some() || share > 0.0) {
            let open = c
                .exposures
                .iter()
                .rev()
                .find(|e| e.use_case == cand.use_case)
                .is_some_and(|e| e.start <= now && in_window(now, clock, e.start, window));
            if !open {
                c.exposures.push(Exposure {
                    use_case: cand.use_case,
                    control,
                    start: now,
                    converted: false,
                });
                let counters = self.counters.entry(uc.id.clone()).or_default();
                if control {
                    counters.control.exposed += 1;
                } else {
                    counters.treatment.exposed += 1;
                }
            }
        }
        let tier = uc.tiers[cand.tier].name.clone();
        match outcome {
            Outcome::Emitted => self.sent.push(Sent {
                customer,
                use_case_id: uc.id.clone(),
                tier,
                channel: name.into(),
                event_type: event.ty.clone(),
                event_ts: now,
                decided_at: None,
                score: cand.score,
                payload: cand.payload.clone(),
            }),
            Outcome::Deferred(due) => {
                self.counters.entry(uc.id.clone()).or_default().deferred += 1;
                if writes {
                    self.waiting.push(Waiting {
                        customer,
                        use_case: cand.use_case,
                        tier: cand.tier,
                        due,
                        decided_at: now,
                        score: cand.score,
                        payload: cand.payload.clone(),
                    });
                }
            }
            _ => {}
        }
        outcome
    }

    /// When `now` is in the customer's quiet hours: the first instant after it whose local
    /// time is outside them (local time from the time-zone feature, else the default zone).
    fn quiet_until(&self, applies: bool, values: &[V], now: i64) -> Option<i64> {
        let q = self.policy.as_ref()?.quiet_hours.as_ref().filter(|_| applies)?;
        let default: Tz = q.default_timezone.as_deref().unwrap_or("UTC").parse().ok()?;
        let zone = q.timezone_feature.as_ref().and_then(|name| {
            let i = self.features.iter().position(|f| &f.name == name)?;
            match values.get(i) {
                Some(V::Str(z)) if !z.is_empty() => z.parse::<Tz>().ok(),
                _ => None,
            }
        });
        let tz = zone.unwrap_or(default);
        first_open(tz, q.start, q.end, now)
    }
}
