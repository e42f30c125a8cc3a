//! Evaluation: one event against one customer's state and the use cases it triggers. The live
//! engine and offline `replay` both call [`Processor::process`], so their results are identical.

use crate::algo::{self, Funnel, RecommenderUse, Scorer};
use crate::catalog::{split_var, FIELD_CUSTOMER_ID, FIELD_TS, FIELD_TYPE, NS_EVENT, NS_FEATURE};
use crate::duration::DAY_MS;
use crate::event::{Event, FieldValues};
use crate::expr::{EvalError, Val, VarRef, Vars};
use crate::measure::GroupTotals;
use crate::policy::{self, ChannelPolicy, Contact, DecisionEntry, Deferred, Exposure, Outcome, Reason};
use crate::recommend::RecommendScratch;
use crate::spec::Status;
use crate::state::{event_field, CustomerState, FeatureState, StageEntry, Timer};
use crate::usecase::{Retrigger, Tier, UseCase, UseCaseSet};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

/// Which use cases are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The live engine: `shadow` and `live` use cases; only `live` ones emit.
    Engine,
    /// Back-testing: `draft`, `shadow` and `live` use cases, all reported.
    BackTest,
}

impl Mode {
    fn evaluates(self, status: Status) -> bool {
        match status {
            Status::Live | Status::Shadow => true,
            Status::Draft => self == Mode::BackTest,
            Status::Retired => false,
        }
    }
}

/// Where an event came from: Kafka coordinates, or a file and line for replay.
#[derive(Debug, Clone, Copy)]
pub struct Source<'s> {
    pub topic: &'s str,
    pub partition: i32,
    pub offset: i64,
}

/// One decision to act.
#[derive(Debug, Clone)]
pub struct Action {
    /// Deterministic: the same event and use case version always give the same id.
    pub action_id: String,
    pub use_case_id: Arc<str>,
    pub use_case_version: u32,
    pub status: Status,
    pub tier: Arc<str>,
    pub action_type: Arc<str>,
    pub channel: Arc<str>,
    pub topic: Arc<str>,
    pub customer_id: String,
    pub event_type: String,
    pub event_ts: i64,
    pub score: Option<f64>,
    pub payload: Vec<(Arc<str>, Val<'static>)>,
    /// Recommended products with their scores, best first (use cases with a recommender).
    pub recommendations: Vec<(String, f64)>,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

impl Action {
    /// Whether the action goes to its topic (only `live` use cases act).
    pub fn emits(&self) -> bool {
        self.status == Status::Live
    }
}

/// Counters per use case, in the set's order.
#[derive(Debug, Clone, Default)]
pub struct UseCaseCounters {
    pub evaluations: u64,
    /// Actions by tier index.
    pub actions_by_tier: Vec<u64>,
    /// A tier's condition held but its re-trigger policy stopped it.
    pub retrigger_blocked: u64,
    /// Evaluations that failed at run time (e.g. integer overflow); no action was taken.
    pub errors: u64,
    /// Evaluations triggered by this use case's timer coming due.
    pub timers_fired: u64,
    /// Funnel stages reached, by stage index.
    pub stages_reached: Vec<u64>,
    /// Decisions to act not emitted (now), by [`Reason`] code.
    pub suppressed: [u64; 6],
    /// Decisions deferred by quiet hours (also counted under `quiet_hours`), and delivered later.
    pub deferred: u64,
    pub deferred_delivered: u64,
    /// Attribution: customers acted on, and held out.
    pub treatment: GroupTotals,
    pub control: GroupTotals,
}

impl UseCaseCounters {
    /// Every action decided: the tiers' and the funnel's `stage_change` ones.
    pub fn actions(&self) -> u64 {
        self.actions_by_tier.iter().sum::<u64>() + self.stages_reached.iter().sum::<u64>()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub events: u64,
    /// Events whose type the catalog does not declare: they change nothing.
    pub unknown_type: u64,
    /// Customers whose state expired (idle longer than `expire_after`).
    pub expired: u64,
    pub use_cases: Vec<UseCaseCounters>,
}

impl Counters {
    pub fn for_set(set: &UseCaseSet) -> Counters {
        Counters {
            use_cases: set
                .use_cases
                .iter()
                .map(|uc| UseCaseCounters {
                    actions_by_tier: vec![0; uc.tiers.len()],
                    stages_reached: vec![0; uc.funnel.as_ref().map_or(0, |f| f.stages.len())],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}

/// Buffers reused between evaluations, so models and recommendations allocate nothing per event.
#[derive(Default)]
struct Scratch {
    row: Vec<f32>,
    recommend: RecommendScratch,
    recommended: Vec<(u32, f64)>,
    /// `recommended` holds this evaluation's customer (computed only when needed).
    recommended_fresh: bool,
}

pub struct Processor {
    set: Arc<UseCaseSet>,
    mode: Mode,
    scratch: RefCell<Scratch>,
    /// Share of customers whose decisions are recorded (0: none); see [`Processor::take_decisions`].
    audit_share: f64,
    decisions: RefCell<Vec<DecisionRecord>>,
}

/// A use case's decision to act, before the contact policy has spoken.
struct Candidate {
    index: usize,
    tier: usize,
    action: Action,
    /// Expected value (NaN when the use case states none).
    value: f64,
}

/// One decision, explained: what was read, the score, the tier and what the policy made of it.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    /// The action id the decision has (or would have had).
    pub decision_id: String,
    pub use_case_id: Arc<str>,
    pub use_case_version: u32,
    pub status: Status,
    pub customer_id: String,
    pub event_type: String,
    pub ts: i64,
    pub tier: Arc<str>,
    pub channel: Arc<str>,
    pub score: Option<f64>,
    pub expected_value: Option<f64>,
    pub outcome: Outcome,
    /// `treatment` or `control`.
    pub group: &'static str,
    /// The use case's features as read for the decision.
    pub features: Vec<(String, Val<'static>)>,
}

struct EvalVars<'x, 'a> {
    set: &'x UseCaseSet,
    state: &'x CustomerState,
    event: &'x Event<'a>,
    now: i64,
    score: f64,
}

impl Vars for EvalVars<'_, '_> {
    fn get(&self, var: VarRef) -> Val<'_> {
        let (ns, index) = split_var(var);
        match ns {
            NS_FEATURE => self.state.read(&self.set.catalog, index, self.now),
            NS_EVENT => event_field(&self.set.catalog, self.event, index),
            _ => Val::Double(self.score),
        }
    }

    fn has(&self, var: VarRef) -> bool {
        let (ns, index) = split_var(var);
        ns != NS_EVENT || matches!(self.event.fields.get(index), Some(Some(_)))
    }
}

/// The event type of the evaluation a timer triggers.
pub const TIMER_EVENT_TYPE: &str = "timer";
/// The event type (and source topic) of an action sent when quiet hours end.
pub const DEFERRED_EVENT_TYPE: &str = "deferred";

/// Opens an attribution window for the use case unless one is open; counts the exposure.
fn open_exposure(
    ps: &mut crate::policy::PolicyState,
    use_case: u64,
    control: bool,
    now: i64,
    window: i64,
    totals: &mut GroupTotals,
) {
    let open = ps
        .exposures
        .iter()
        .any(|e| e.use_case == use_case && now >= e.start && now - e.start <= window);
    if open {
        return;
    }
    ps.exposures.retain(|e| e.use_case != use_case);
    ps.exposures.push(Exposure {
        use_case,
        control,
        start: now,
        converted: false,
        revenue: 0.0,
    });
    totals.exposed += 1;
}

impl Processor {
    pub fn new(set: Arc<UseCaseSet>, mode: Mode) -> Processor {
        Processor {
            set,
            mode,
            scratch: RefCell::new(Scratch::default()),
            audit_share: 0.0,
            decisions: RefCell::new(Vec::new()),
        }
    }

    /// Records the decisions of this share of customers (chosen by a hash of the customer id,
    /// so a sampled customer's whole history is kept); collect them with `take_decisions`.
    pub fn with_decision_records(mut self, share: f64) -> Processor {
        self.audit_share = share.clamp(0.0, 1.0);
        self
    }

    /// The decision records since the last call.
    pub fn take_decisions(&self) -> Vec<DecisionRecord> {
        std::mem::take(&mut *self.decisions.borrow_mut())
    }

    /// Whether decisions are recorded at all.
    pub fn records_decisions(&self) -> bool {
        self.audit_share > 0.0
    }

    pub fn set(&self) -> &Arc<UseCaseSet> {
        &self.set
    }

    /// Updates the customer's features with the event, then evaluates every use case the event
    /// triggers; each decision to act is handed to `act`. At most one action per use case and
    /// trigger (plus one `stage_change` per funnel stage reached). Timers of this customer due
    /// by the event's time fire first, and an idle customer's expired state is dropped first.
    pub fn process(
        &self,
        state: &mut CustomerState,
        event: &Event<'_>,
        source: Source<'_>,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) {
        counters.events += 1;
        let catalog = &self.set.catalog;
        let now = event.ts();
        if !state.timers.is_empty() || state.policy.as_ref().is_some_and(|p| !p.deferred.is_empty()) {
            // the customer's own event proves the time has come, whatever the timer's clock
            self.fire_timers(state, event.customer_id(), now, now, counters, act);
        }
        if state.expires_at(catalog).is_some_and(|at| at <= now) && state.clock != i64::MIN {
            state.expire(catalog);
            counters.expired += 1;
        }
        state.apply(catalog, event);
        let Some(type_index) = event.type_index else {
            counters.unknown_type += 1;
            return;
        };
        let bit = 1u64 << type_index;
        let policy = &self.set.policy;
        if policy.consent.is_some() {
            policy.apply_consent(catalog, event, state);
        }
        if policy.conversion_mask & bit != 0 {
            self.attribute(state, event, counters);
        }
        let timer_events = if self.set.timer_event_mask & bit != 0 {
            self.set.use_cases.as_slice()
        } else {
            &[]
        };
        for uc in timer_events {
            let Some(timer) = &uc.timer else { continue };
            if !self.mode.evaluates(uc.status) {
                continue;
            }
            if timer.cancel_mask & bit != 0 {
                state.cancel_timer(timer.key);
            }
            if timer.start_mask & bit != 0 {
                state.set_timer(timer.started_at(now));
            }
        }
        let mut candidates: SmallVec<[Candidate; 2]> = SmallVec::new();
        for (index, uc) in self.set.use_cases.iter().enumerate() {
            if uc.trigger_mask & bit == 0 || !self.mode.evaluates(uc.status) {
                continue;
            }
            candidates.extend(self.evaluate(index, state, event, now, source, counters, act));
        }
        if !candidates.is_empty() {
            self.govern(candidates, state, now, counters, act);
        }
    }

    /// Attributes a conversion event to the use cases whose attribution window is open.
    fn attribute(&self, state: &mut CustomerState, event: &Event<'_>, counters: &mut Counters) {
        let policy = &self.set.policy;
        let Some(ps) = state.policy.as_deref_mut() else { return };
        if ps.exposures.is_empty() {
            return;
        }
        let Some(value) = policy.conversion_value(&self.set.catalog, event) else {
            return;
        };
        let ts = event.ts();
        for exposure in ps.exposures.iter_mut() {
            if ts < exposure.start || ts - exposure.start > policy.attribution_window {
                continue;
            }
            let Some(index) = self.set.use_cases.iter().position(|uc| uc.key == exposure.use_case) else {
                continue;
            };
            let c = &mut counters.use_cases[index];
            let totals = if exposure.control {
                &mut c.control
            } else {
                &mut c.treatment
            };
            totals.add_conversion(exposure.revenue, !exposure.converted, value);
            exposure.revenue += value;
            exposure.converted = true;
        }
    }

    /// Whether a use case's decisions change the customer's policy state: every evaluated use
    /// case in back-tests, only `live` ones in the engine (a shadow use case must not use up
    /// the caps of live ones).
    fn writes_policy(&self, uc: &UseCase) -> bool {
        self.mode == Mode::BackTest || uc.status == Status::Live
    }

    /// Whether a use case's decisions are remembered in the customer's state (attribution
    /// windows, the decision log): a `policy.yaml` or a holdout asks for them.
    fn keeps_policy_state(&self, uc: &UseCase) -> bool {
        self.writes_policy(uc) && (self.set.policy.configured || uc.holdout_share > 0.0)
    }

    /// Puts this event's decisions to act through the contact policy, best ranked first, and
    /// emits, defers, holds out or suppresses each.
    fn govern(
        &self,
        mut candidates: SmallVec<[Candidate; 2]>,
        state: &mut CustomerState,
        now: i64,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) {
        let policy = &self.set.policy;
        if candidates.len() > 1 {
            let rank = |c: &Candidate| (self.set.use_cases[c.index].priority, c.value);
            // stable: equal ranks keep the set's order (priority, then id)
            candidates.sort_by(|a, b| policy::rank_order(policy.arbitrate_by, rank(b), rank(a)));
        }
        if policy.configured {
            if let Some(ps) = state.policy.as_deref_mut() {
                ps.forget_before(
                    now.saturating_sub(policy.horizon),
                    now.saturating_sub(policy.attribution_window),
                );
            }
        }
        for candidate in candidates {
            let uc = &self.set.use_cases[candidate.index];
            let tier = &uc.tiers[candidate.tier];
            let channel = policy.channel_or_default(&tier.channel);
            let outcome = self.outcome(uc, &channel, state, &candidate, now);
            self.record(
                uc,
                tier.history_key,
                &candidate.action,
                candidate.value,
                outcome,
                state,
                now,
            );
            let writes = self.writes_policy(uc);
            let c = &mut counters.use_cases[candidate.index];
            if let Some(reason) = outcome.reason() {
                c.suppressed[reason as usize] += 1;
            }
            if matches!(outcome, Outcome::Suppressed(_)) {
                continue;
            }
            // emitted, deferred or held out: the use case has decided for this customer
            state.record_fired(tier.history_key, now);
            let control = outcome == Outcome::HeldOut;
            // without a policy.yaml nothing needs the contact history, and only a holdout needs
            // attribution windows: such customers keep no policy state at all
            if writes && policy.configured && channel.contact {
                state.policy_mut().contacts.push(Contact {
                    ts: now,
                    channel: channel.key,
                    use_case: uc.key,
                    priority: uc.priority,
                    value: (!candidate.value.is_nan()).then_some(candidate.value),
                    held_out: control,
                });
            }
            if self.keeps_policy_state(uc) {
                let totals = if control { &mut c.control } else { &mut c.treatment };
                open_exposure(
                    state.policy_mut(),
                    uc.key,
                    control,
                    now,
                    policy.attribution_window,
                    totals,
                );
            }
            match outcome {
                Outcome::Emitted => {
                    c.actions_by_tier[candidate.tier] += 1;
                    act(candidate.action);
                    self.start_action_timers(candidate.index, candidate.tier, state, now);
                }
                Outcome::Deferred(due) => {
                    c.deferred += 1;
                    if writes {
                        state.policy_mut().deferred.push(Deferred {
                            use_case: uc.key,
                            tier: tier.history_key,
                            due,
                            decided_at: now,
                            score: candidate.action.score,
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// What the contact policy makes of one decision (reads the state, changes nothing).
    fn outcome(
        &self,
        uc: &UseCase,
        channel: &ChannelPolicy,
        state: &CustomerState,
        candidate: &Candidate,
        now: i64,
    ) -> Outcome {
        let policy = &self.set.policy;
        let ps = state.policy.as_deref();
        let consents = match ps {
            Some(ps) => ps.consents(channel),
            None => channel.consent == crate::spec::ConsentMode::OptOut,
        };
        if !consents {
            return Outcome::Suppressed(Reason::Consent);
        }
        if channel.contact {
            let contacts = ps.map_or(&[][..], |p| p.contacts.as_slice());
            let within = |k: &Contact, window: i64| (now - k.ts).abs() <= window;
            let rank = (uc.priority, candidate.value);
            if contacts.iter().any(|k| {
                k.use_case != uc.key
                    && within(k, policy.arbitration_window)
                    && policy::outranks(policy.arbitrate_by, (k.priority, k.value.unwrap_or(f64::NAN)), rank)
            }) {
                return Outcome::Suppressed(Reason::Arbitration);
            }
            let recent = |window: i64, channel: Option<u64>| {
                contacts
                    .iter()
                    .filter(|k| (now - k.ts).abs() < window && channel.is_none_or(|ch| k.channel == ch))
                    .count()
            };
            if channel.cooldown.is_some_and(|cd| recent(cd, Some(channel.key)) > 0) {
                return Outcome::Suppressed(Reason::Cooldown);
            }
            let capped = channel
                .caps
                .iter()
                .any(|cap| recent(cap.window, Some(channel.key)) >= cap.max as usize)
                || policy
                    .global_caps
                    .iter()
                    .any(|cap| recent(cap.window, None) >= cap.max as usize);
            if capped {
                return Outcome::Suppressed(Reason::Cap);
            }
        }
        if policy::in_control(uc.holdout_share, &uc.holdout_salt, &candidate.action.customer_id) {
            return Outcome::HeldOut;
        }
        if channel.contact && channel.quiet_hours {
            if let Some(q) = &policy.quiet_hours {
                let zone = q
                    .timezone_feature
                    .map(|index| state.read(&self.set.catalog, index, now));
                let zone = match &zone {
                    Some(Val::Str(z)) if !z.is_empty() => Some(z.as_ref()),
                    _ => None,
                };
                if let Some(until) = policy.quiet_until(zone, now) {
                    return Outcome::Deferred(until);
                }
            }
        }
        Outcome::Emitted
    }

    /// Remembers a decision in the customer's state and, for sampled customers, as a record.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        uc: &UseCase,
        tier_key: u64,
        action: &Action,
        value: f64,
        outcome: Outcome,
        state: &mut CustomerState,
        now: i64,
    ) {
        if self.keeps_policy_state(uc) {
            state.policy_mut().remember(DecisionEntry {
                use_case: uc.key,
                tier: tier_key,
                ts: now,
                outcome: outcome.code(),
                reason: outcome.reason().map_or(u8::MAX, |r| r as u8),
                score: action.score,
            });
        }
        if self.audit_share <= 0.0
            || (self.audit_share < 1.0 && !policy::in_control(self.audit_share, "audit", &action.customer_id))
        {
            return;
        }
        let catalog = &self.set.catalog;
        self.decisions.borrow_mut().push(DecisionRecord {
            decision_id: action.action_id.clone(),
            use_case_id: uc.id.clone(),
            use_case_version: uc.version,
            status: uc.status,
            customer_id: action.customer_id.clone(),
            event_type: action.event_type.clone(),
            ts: now,
            tier: action.tier.clone(),
            channel: action.channel.clone(),
            score: action.score,
            expected_value: (!value.is_nan()).then_some(value),
            outcome,
            group: if outcome == Outcome::HeldOut {
                "control"
            } else {
                "treatment"
            },
            features: uc
                .features
                .iter()
                .map(|&i| {
                    (
                        catalog.features[i].name.clone(),
                        state.read(catalog, i, now).into_owned(),
                    )
                })
                .collect(),
        });
    }

    /// Fires this customer's timers that are due: event-time timers by `event_time`, wall-clock
    /// timers by `wall_clock` (replay passes event time for both). Then reports whether the
    /// customer has been idle past `expire_after` by `event_time`: the caller drops the state.
    pub fn fire_due(
        &self,
        state: &mut CustomerState,
        customer_id: &str,
        event_time: i64,
        wall_clock: i64,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) -> bool {
        self.fire_timers(
            state,
            customer_id,
            event_time,
            wall_clock.max(event_time),
            counters,
            act,
        );
        let expired = state.expires_at(&self.set.catalog).is_some_and(|at| at <= event_time) && state.clock != i64::MIN;
        if !expired {
            return false;
        }
        counters.expired += 1;
        // withdrawn consent outlives the rest: then the state is reset here, not dropped
        !state.expire(&self.set.catalog)
    }

    fn fire_timers(
        &self,
        state: &mut CustomerState,
        customer_id: &str,
        event_time: i64,
        wall_clock: i64,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) {
        let is_due = |t: &Timer| t.due <= if t.wall_clock { wall_clock } else { event_time };
        // one at a time, earliest first: a firing may start another timer
        while let Some(timer) = state
            .timers
            .iter()
            .filter(|t| is_due(t))
            .min_by_key(|t| (t.due, t.key))
            .copied()
        {
            state.cancel_timer(timer.key);
            let found = self.set.use_cases.iter().enumerate().find(|(_, uc)| {
                uc.timer.as_ref().is_some_and(|t| t.key == timer.key) && self.mode.evaluates(uc.status)
            });
            // a timer of a use case no longer in the set is dropped
            let Some((index, _)) = found else { continue };
            state.clock = state.clock.max(timer.due);
            // the same source in the engine and in replay, so action ids agree
            let (event, source) = self.internal_event(customer_id, TIMER_EVENT_TYPE, timer.due, timer.due);
            counters.use_cases[index].timers_fired += 1;
            if let Some(candidate) = self.evaluate(index, state, &event, timer.due, source, counters, act) {
                self.govern(smallvec::smallvec![candidate], state, timer.due, counters, act);
            }
        }
        if state.policy.as_ref().is_some_and(|p| !p.deferred.is_empty()) {
            self.deliver_deferred(state, customer_id, event_time, counters, act);
        }
    }

    /// The evaluation event of something the engine itself brings about (a timer coming due, a
    /// deferred action sent): type `kind`, time `ts`; its source is `kind` at offset `offset` in
    /// the engine and in replay alike, so action ids agree.
    fn internal_event<'c>(
        &self,
        customer_id: &'c str,
        kind: &'static str,
        ts: i64,
        offset: i64,
    ) -> (Event<'c>, Source<'static>) {
        let mut fields: FieldValues<'_> = SmallVec::from_elem(None, self.set.catalog.fields.len());
        fields[FIELD_CUSTOMER_ID] = Some(Val::Str(Cow::Borrowed(customer_id)));
        fields[FIELD_TYPE] = Some(Val::Str(Cow::Borrowed(kind)));
        fields[FIELD_TS] = Some(Val::Int(ts));
        let event = Event {
            fields,
            type_index: None,
        };
        let source = Source {
            topic: kind,
            partition: 0,
            offset,
        };
        (event, source)
    }

    /// Sends the deferred actions whose quiet hours have ended, earliest first; consent is
    /// checked again (it may have been withdrawn meanwhile).
    fn deliver_deferred(
        &self,
        state: &mut CustomerState,
        customer_id: &str,
        event_time: i64,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) {
        loop {
            let next = state.policy.as_ref().and_then(|p| {
                p.deferred
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.due <= event_time)
                    .min_by_key(|(_, d)| (d.due, d.use_case))
                    .map(|(i, _)| i)
            });
            let Some(position) = next else { return };
            let deferred = state.policy_mut().deferred.remove(position);
            let found = self
                .set
                .use_cases
                .iter()
                .enumerate()
                .find(|(_, uc)| uc.key == deferred.use_case && self.mode.evaluates(uc.status));
            // a use case (or tier) no longer in the set sends nothing
            let Some((index, uc)) = found else { continue };
            let Some(tier_index) = uc.tiers.iter().position(|t| t.history_key == deferred.tier) else {
                continue;
            };
            let (event, source) =
                self.internal_event(customer_id, DEFERRED_EVENT_TYPE, deferred.due, deferred.decided_at);
            let score = deferred.score;
            let vars = EvalVars {
                set: &self.set,
                state,
                event: &event,
                now: deferred.due,
                score: score.unwrap_or(0.0),
            };
            let built = build_action(uc, tier_index, score, &vars, source, "");
            let channel = self.set.policy.channel_or_default(&uc.tiers[tier_index].channel);
            let consents = state.policy.as_deref().is_none_or(|p| p.consents(&channel));
            let c = &mut counters.use_cases[index];
            let Ok(action) = built else {
                c.errors += 1;
                continue;
            };
            let outcome = if consents {
                Outcome::Delivered
            } else {
                Outcome::Suppressed(Reason::Consent)
            };
            if let Some(reason) = outcome.reason() {
                c.suppressed[reason as usize] += 1;
            }
            let tier_key = uc.tiers[tier_index].history_key;
            self.record(uc, tier_key, &action, f64::NAN, outcome, state, deferred.due);
            if consents {
                let c = &mut counters.use_cases[index];
                c.actions_by_tier[tier_index] += 1;
                c.deferred_delivered += 1;
                act(action);
                self.start_action_timers(index, tier_index, state, deferred.due);
            }
        }
    }

    fn start_action_timers(&self, source: usize, tier: usize, state: &mut CustomerState, now: i64) {
        for link in &self.set.action_timers {
            if link.source != source || link.tier.is_some_and(|t| t != tier) {
                continue;
            }
            let uc = &self.set.use_cases[link.timer];
            if let (Some(timer), true) = (&uc.timer, self.mode.evaluates(uc.status)) {
                state.set_timer(timer.started_at(now));
            }
        }
    }

    /// Evaluates use case `index` for the customer; returns its decision to act (funnel stage
    /// changes are measurements, not contacts: they are emitted here).
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        index: usize,
        state: &mut CustomerState,
        event: &Event<'_>,
        now: i64,
        source: Source<'_>,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) -> Option<Candidate> {
        let uc = &self.set.use_cases[index];
        let uc_counters = &mut counters.use_cases[index];
        uc_counters.evaluations += 1;
        let mut scratch = self.scratch.borrow_mut();
        let scratch = &mut *scratch;
        scratch.recommended_fresh = false;
        let vars = EvalVars {
            set: &self.set,
            state,
            event,
            now,
            score: 0.0,
        };
        let mut score = None;
        let mut acted = None;
        match decide(uc, &vars, state, &mut score, scratch) {
            Ok(Decision::Act { tier }) => {
                let vars = EvalVars {
                    score: score.unwrap_or(0.0),
                    ..vars
                };
                let value = match &uc.expected_value {
                    None => Ok(f64::NAN),
                    Some(expr) => expr.eval_f64(&vars),
                };
                match (build_action(uc, tier, score, &vars, source, ""), value) {
                    (Ok(mut action), Ok(value)) => {
                        if let Some(recommender) = &uc.recommender {
                            action.recommendations = scratch
                                .recommended
                                .iter()
                                .map(|(item, s)| (recommender.model.item(*item).to_string(), *s))
                                .collect();
                        }
                        acted = Some(Candidate {
                            index,
                            tier,
                            action,
                            value,
                        });
                    }
                    _ => uc_counters.errors += 1,
                }
            }
            Ok(Decision::Blocked) => uc_counters.retrigger_blocked += 1,
            Ok(Decision::None) => {}
            Err(_) => uc_counters.errors += 1,
        }
        if let Some(funnel) = &uc.funnel {
            let vars = EvalVars {
                set: &self.set,
                state,
                event,
                now,
                score: 0.0,
            };
            match score_once(uc, &vars, &mut score, scratch) {
                Ok(s) => self.advance_funnel(index, funnel, s, state, event, now, source, counters, act),
                Err(_) => counters.use_cases[index].errors += 1,
            }
        }
        acted
    }

    /// Emits one `stage_change` action per stage the score newly reaches (stages never go down).
    #[allow(clippy::too_many_arguments)]
    fn advance_funnel(
        &self,
        index: usize,
        funnel: &Funnel,
        score: f64,
        state: &mut CustomerState,
        event: &Event<'_>,
        now: i64,
        source: Source<'_>,
        counters: &mut Counters,
        act: &mut impl FnMut(Action),
    ) {
        let reached = funnel.stage_of(score);
        let current = state.stage(funnel.key);
        let from = current.map_or(0, |c| c.stage);
        if reached <= from {
            return;
        }
        let uc = &self.set.use_cases[index];
        let days = |ms: i64| Val::Double(((ms as f64 / DAY_MS as f64) * 100.0).round() / 100.0);
        let first_seen = state.first_seen.min(now);
        let mut previous_since = current.map_or(first_seen, |c| c.since);
        for stage in from + 1..=reached {
            let name = &funnel.stages[stage as usize - 1].0;
            let previous: Val<'static> = match stage {
                1 => Val::Str(Cow::Borrowed("")),
                n => Val::Str(Cow::Owned(funnel.stages[n as usize - 2].0.to_string())),
            };
            let payload = vec![
                (Arc::from("stage"), Val::Str(Cow::Owned(name.to_string()))),
                (Arc::from("previous_stage"), previous),
                (Arc::from("days_in_previous_stage"), days(now - previous_since)),
                (Arc::from("days_since_first_seen"), days(now - first_seen)),
            ];
            let customer_id = event.customer_id();
            act(Action {
                action_id: action_id(&uc.id, uc.version, customer_id, source, name),
                use_case_id: uc.id.clone(),
                use_case_version: uc.version,
                status: uc.status,
                tier: name.clone(),
                action_type: Arc::from(STAGE_CHANGE),
                channel: Arc::from(FUNNEL_CHANNEL),
                topic: funnel.topic.clone(),
                customer_id: customer_id.to_string(),
                event_type: event.event_type().to_string(),
                event_ts: now,
                score: Some(score),
                payload,
                recommendations: Vec::new(),
                source_topic: source.topic.to_string(),
                source_partition: source.partition,
                source_offset: source.offset,
            });
            counters.use_cases[index].stages_reached[stage as usize - 1] += 1;
            previous_since = now;
        }
        state.set_stage(StageEntry {
            key: funnel.key,
            stage: reached,
            since: now,
        });
    }
}

/// Action type and channel of funnel stage changes.
pub const STAGE_CHANGE: &str = "stage_change";
pub const FUNNEL_CHANNEL: &str = "funnel";

/// The customer's recommendations into `scratch.recommended`.
fn recommend(recommender: &RecommenderUse, state: &CustomerState, scratch: &mut Scratch) {
    if scratch.recommended_fresh {
        return;
    }
    scratch.recommended_fresh = true;
    let recent = |index: usize| match &state.features[index] {
        FeatureState::Recent(recent) => Some(recent),
        _ => None,
    };
    let purchased = recent(recommender.purchased);
    let viewed = recommender.viewed.and_then(recent);
    let history = purchased.into_iter().flat_map(|r| r.values().map(|v| (v, 1.0))).chain(
        viewed
            .into_iter()
            .flat_map(|r| r.values().map(|v| (v, recommender.view_weight))),
    );
    let owned = |item: &str| purchased.is_some_and(|r| r.contains(item));
    recommender.model.recommend(
        history,
        owned,
        recommender.top_k,
        &mut scratch.recommend,
        &mut scratch.recommended,
    );
}

enum Decision {
    Act {
        tier: usize,
    },
    /// A tier matched, but its re-trigger policy stopped it and no later tier acted.
    Blocked,
    None,
}

/// The use case's score, computed once per evaluation and only when something needs it.
fn score_once(
    uc: &UseCase,
    vars: &EvalVars<'_, '_>,
    score: &mut Option<f64>,
    scratch: &mut Scratch,
) -> Result<f64, EvalError> {
    if let Some(s) = *score {
        return Ok(s);
    }
    let feature = |index: usize| match vars.state.read(&vars.set.catalog, index, vars.now) {
        Val::Bool(b) => f64::from(u8::from(b)),
        value => value.as_f64().unwrap_or(0.0),
    };
    let s = match &uc.scorer {
        None => 0.0,
        Some(Scorer::Expr(expr)) => expr.eval_f64(vars)?,
        Some(Scorer::Linear {
            intercept,
            terms,
            logistic,
        }) => {
            let linear = terms
                .iter()
                .fold(*intercept, |sum, (index, w)| sum + w * feature(*index));
            if *logistic {
                algo::logistic(linear)
            } else {
                linear
            }
        }
        Some(Scorer::Onnx { model, inputs }) => {
            scratch.row.clear();
            scratch.row.extend(inputs.iter().map(|index| feature(*index) as f32));
            model
                .predict(&scratch.row)
                .map_err(|e| EvalError::Model(e.to_string()))?
        }
        Some(Scorer::Recommender) => {
            if let Some(recommender) = &uc.recommender {
                recommend(recommender, vars.state, scratch);
            }
            scratch.recommended.first().map_or(0.0, |(_, s)| *s)
        }
    };
    *score = Some(s);
    Ok(s)
}

fn decide(
    uc: &UseCase,
    vars: &EvalVars<'_, '_>,
    state: &CustomerState,
    score: &mut Option<f64>,
    scratch: &mut Scratch,
) -> Result<Decision, EvalError> {
    if let Some(rule) = &uc.rule {
        if !rule.eval_bool(vars)? {
            return Ok(Decision::None);
        }
    }
    if let Some(recommender) = &uc.recommender {
        recommend(recommender, state, scratch);
        if scratch.recommended.is_empty() {
            return Ok(Decision::None); // nothing to recommend
        }
    }
    let mut blocked = false;
    for (index, tier) in uc.tiers.iter().enumerate() {
        if tier.needs_score {
            let s = score_once(uc, vars, score, scratch)?;
            if tier.min_score.is_some_and(|lo| s < lo) || tier.max_score.is_some_and(|hi| s >= hi) {
                continue;
            }
        }
        if let Some(condition) = &tier.when {
            let matched = if tier.needs_score {
                condition.eval_bool(&EvalVars {
                    score: score.unwrap_or(0.0),
                    ..*vars
                })?
            } else {
                condition.eval_bool(vars)?
            };
            if !matched {
                continue;
            }
        }
        if allowed(tier, state, vars.now) {
            if uc.scorer.is_some() {
                score_once(uc, vars, score, scratch)?;
            }
            return Ok(Decision::Act { tier: index });
        }
        blocked = true;
    }
    Ok(if blocked { Decision::Blocked } else { Decision::None })
}

fn allowed(tier: &Tier, state: &CustomerState, now: i64) -> bool {
    match tier.retrigger {
        Retrigger::Always => true,
        Retrigger::Once => state.last_fired(tier.history_key).is_none(),
        Retrigger::Cooldown(ms) => state.last_fired(tier.history_key).is_none_or(|last| now - last >= ms),
    }
}

fn build_action(
    uc: &UseCase,
    tier_index: usize,
    score: Option<f64>,
    vars: &EvalVars<'_, '_>,
    source: Source<'_>,
    discriminator: &str,
) -> Result<Action, EvalError> {
    let tier = &uc.tiers[tier_index];
    let mut payload = Vec::with_capacity(tier.payload.len());
    for (name, expr) in &tier.payload {
        payload.push((name.clone(), expr.eval(vars)?.into_owned()));
    }
    let customer_id = vars.event.customer_id();
    Ok(Action {
        action_id: action_id(&uc.id, uc.version, customer_id, source, discriminator),
        use_case_id: uc.id.clone(),
        use_case_version: uc.version,
        status: uc.status,
        tier: tier.name.clone(),
        action_type: tier.action_type.clone(),
        channel: tier.channel.clone(),
        topic: tier.topic.clone(),
        customer_id: customer_id.to_string(),
        event_type: vars.event.event_type().to_string(),
        event_ts: vars.now,
        score,
        payload,
        recommendations: Vec::new(),
        source_topic: source.topic.to_string(),
        source_partition: source.partition,
        source_offset: source.offset,
    })
}

/// 128-bit hash of use case id, version, customer and source position, as 32 hex digits;
/// `discriminator` tells apart several actions of one use case on one event (funnel stages).
pub fn action_id(
    use_case_id: &str,
    version: u32,
    customer_id: &str,
    source: Source<'_>,
    discriminator: &str,
) -> String {
    let mut key = Vec::with_capacity(use_case_id.len() + customer_id.len() + source.topic.len() + 24);
    for part in [use_case_id.as_bytes(), customer_id.as_bytes(), source.topic.as_bytes()] {
        key.extend_from_slice(part);
        key.push(0);
    }
    if !discriminator.is_empty() {
        key.extend_from_slice(discriminator.as_bytes());
        key.push(0);
    }
    key.extend_from_slice(&version.to_le_bytes());
    key.extend_from_slice(&source.partition.to_le_bytes());
    key.extend_from_slice(&source.offset.to_le_bytes());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&key))
}

/// A CEL value as JSON (a non-finite double as `null`).
pub fn val_to_json(value: &Val<'_>) -> serde_json::Value {
    match value {
        Val::Bool(b) => serde_json::Value::Bool(*b),
        Val::Int(i) => serde_json::Value::from(*i),
        Val::Double(d) => serde_json::Number::from_f64(*d).map_or(serde_json::Value::Null, serde_json::Value::Number),
        Val::Str(s) => serde_json::Value::String(s.to_string()),
    }
}

#[derive(Serialize)]
struct SourceJson<'s> {
    topic: &'s str,
    partition: i32,
    offset: i64,
}

struct Payload<'p>(&'p [(Arc<str>, Val<'static>)]);

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name.as_ref(), &val_to_json(value))?;
        }
        map.end()
    }
}

struct Recommendations<'r>(&'r [(String, f64)]);

impl Serialize for Recommendations<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (product, score) in self.0 {
            seq.serialize_element(&RecommendationJson { product, score: *score })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct RecommendationJson<'p> {
    product: &'p str,
    score: f64,
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("action_id", &self.action_id)?;
        map.serialize_entry("use_case_id", self.use_case_id.as_ref())?;
        map.serialize_entry("use_case_version", &self.use_case_version)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("tier", self.tier.as_ref())?;
        map.serialize_entry("action_type", self.action_type.as_ref())?;
        map.serialize_entry("channel", self.channel.as_ref())?;
        map.serialize_entry("topic", self.topic.as_ref())?;
        map.serialize_entry("customer_id", &self.customer_id)?;
        map.serialize_entry("event_type", &self.event_type)?;
        map.serialize_entry("event_ts", &self.event_ts)?;
        map.serialize_entry("score", &self.score)?;
        map.serialize_entry("payload", &Payload(&self.payload))?;
        if !self.recommendations.is_empty() {
            map.serialize_entry("recommendations", &Recommendations(&self.recommendations))?;
        }
        map.serialize_entry(
            "source",
            &SourceJson {
                topic: &self.source_topic,
                partition: self.source_partition,
                offset: self.source_offset,
            },
        )?;
        map.end()
    }
}

struct Features<'f>(&'f [(String, Val<'static>)]);

impl Serialize for Features<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, &val_to_json(value))?;
        }
        map.end()
    }
}

impl Serialize for DecisionRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("decision_id", &self.decision_id)?;
        map.serialize_entry("use_case_id", self.use_case_id.as_ref())?;
        map.serialize_entry("use_case_version", &self.use_case_version)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("customer_id", &self.customer_id)?;
        map.serialize_entry("event_type", &self.event_type)?;
        map.serialize_entry("ts", &self.ts)?;
        map.serialize_entry("tier", self.tier.as_ref())?;
        map.serialize_entry("channel", self.channel.as_ref())?;
        map.serialize_entry("score", &self.score)?;
        map.serialize_entry("expected_value", &self.expected_value)?;
        map.serialize_entry("outcome", self.outcome.as_str())?;
        map.serialize_entry("reason", &self.outcome.reason().map(Reason::as_str))?;
        if let Outcome::Deferred(until) = self.outcome {
            map.serialize_entry("deferred_until", &until)?;
        }
        map.serialize_entry("group", self.group)?;
        map.serialize_entry("features", &Features(&self.features))?;
        map.end()
    }
}
