//! The contact policy applied: an event's decisions to act are ranked, judged by the policy's
//! rules ([`Policy::outcome`](crate::policy::Policy::outcome)), remembered in the customer's
//! state, counted, recorded, and emitted, deferred or held out; conversions are attributed.

use super::evaluate::Candidate;
use super::{Action, DecisionRecord, Evaluator, Mode, Turn};
use crate::event::Event;
use crate::policy::{self, Contact, Decided, DecisionEntry, Deferred, Outcome, Proposal};
use crate::spec::Status;
use crate::usecase::UseCase;
use smallvec::SmallVec;

/// One decision to act and what the policy made of it: what [`Evaluator::record`] keeps.
pub(super) struct Verdict<'v> {
    pub(super) uc: &'v UseCase,
    /// The tier's history key.
    pub(super) tier_key: u64,
    pub(super) action: &'v Action,
    /// Expected value (NaN when the use case states none).
    pub(super) value: f64,
    pub(super) outcome: Outcome,
    pub(super) now: i64,
}

impl Evaluator {
    /// Attributes a conversion event to the use cases whose attribution window is open.
    pub(super) fn attribute(&self, turn: &mut Turn<'_>, event: &Event<'_>) {
        let policy = &self.set.policy;
        let Some(ps) = turn.state.policy.as_deref_mut() else {
            return;
        };
        if ps.exposures.is_empty() {
            return;
        }
        let Some(value) = policy.conversion_value(&self.set.catalog, event) else {
            return;
        };
        let counters = &mut *turn.counters;
        let clock = turn.state.clock.max(event.ts());
        ps.attribute((event.ts(), clock), policy.attribution_window, value, |exposure| {
            let Some(index) = self.set.use_cases.iter().position(|uc| uc.key == exposure.use_case) else {
                return false;
            };
            let c = &mut counters.use_cases[index];
            let totals = if exposure.control {
                &mut c.control
            } else {
                &mut c.treatment
            };
            totals.add_conversion(exposure.revenue, !exposure.converted, value);
            true
        });
    }

    /// Whether a use case keeps its own policy bookkeeping (deferred actions, attribution
    /// windows, the decision log): every evaluated use case in back-tests, only `live` ones in
    /// the engine.
    fn writes_policy(&self, uc: &UseCase) -> bool {
        self.mode == Mode::BackTest || uc.status == Status::Live
    }

    /// Whether other use cases see a use case's decisions (its contacts for arbitration, caps
    /// and cooldowns, its actions for their timers): never a `shadow` one's, which acts only
    /// as "would have", nor a `draft` one's in a back-test, so adding a draft does not change
    /// what the live use cases do.
    pub(super) fn visible_to_others(uc: &UseCase) -> bool {
        !matches!(uc.status, Status::Shadow | Status::Draft)
    }

    /// Whether a use case's decisions are remembered in the customer's state (attribution
    /// windows, the decision log): a `policy.yaml` or a holdout asks for them.
    fn keeps_policy_state(&self, uc: &UseCase) -> bool {
        self.writes_policy(uc) && (self.set.policy.configured || uc.holdout_share > 0.0)
    }

    /// Puts this event's decisions to act through the contact policy, best ranked first, and
    /// emits, defers, holds out or suppresses each.
    pub(super) fn govern(&self, mut candidates: SmallVec<[Candidate; 2]>, turn: &mut Turn<'_>, now: i64) {
        let policy = &self.set.policy;
        if candidates.len() > 1 {
            let rank = |c: &Candidate| (self.set.use_cases[c.index].priority, c.value);
            // stable: equal ranks keep the set's order (priority, then id)
            candidates.sort_by(|a, b| policy::rank_order(policy.arbitrate_by, rank(b), rank(a)));
        }
        // what the customer's clock has left behind counts for no window, late events included
        let clock = turn.state.clock.max(now);
        if policy.configured {
            if let Some(ps) = turn.state.policy.as_deref_mut() {
                ps.forget_before(
                    clock.saturating_sub(policy.horizon),
                    clock.saturating_sub(policy.attribution_window),
                );
            }
        }
        for mut candidate in candidates {
            let uc = &self.set.use_cases[candidate.index];
            let tier = &uc.tiers[candidate.tier];
            let channel = policy.channel_or_default(&tier.channel);
            let proposal = Proposal {
                use_case: uc.key,
                priority: uc.priority,
                value: candidate.value,
                holdout_share: uc.holdout_share,
                holdout_salt: &uc.holdout_salt,
                customer_id: &candidate.action.customer_id,
            };
            let outcome = policy.outcome(&self.set.catalog, &proposal, &channel, turn.state, now);
            self.record(
                Verdict {
                    uc,
                    tier_key: tier.history_key,
                    action: &candidate.action,
                    value: candidate.value,
                    outcome,
                    now,
                },
                turn,
            );
            let writes = self.writes_policy(uc);
            let shares = Self::visible_to_others(uc);
            let c = &mut turn.counters.use_cases[candidate.index];
            if let Some(reason) = outcome.reason() {
                c.suppressed[reason as usize] += 1;
            }
            if matches!(outcome, Outcome::Suppressed(_)) {
                continue;
            }
            // emitted, deferred or held out: the use case has decided for this customer
            turn.state.record_fired(tier.history_key, now);
            let control = outcome == Outcome::HeldOut;
            // without a policy.yaml nothing needs the contact history, and only a holdout needs
            // attribution windows: such customers keep no policy state at all; a shadow use
            // case's would-be contacts use up no one's caps, cooldowns or arbitration
            if writes && shares && policy.configured && channel.contact {
                turn.state.policy_mut().contacts.push(Contact {
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
                turn.state
                    .policy_mut()
                    .open_exposure(uc.key, control, (now, clock), policy.attribution_window, totals);
            }
            match outcome {
                Outcome::Emitted => {
                    c.actions_by_tier[candidate.tier] += 1;
                    turn.out.action(candidate.action);
                    self.start_action_timers(candidate.index, candidate.tier, turn.state, now);
                }
                Outcome::Deferred(due) => {
                    c.deferred += 1;
                    if writes {
                        // kept as decided: delivered with this payload and these recommendations
                        let action = &mut candidate.action;
                        let decided = Decided {
                            payload: std::mem::take(&mut action.payload),
                            recommendations: std::mem::take(&mut action.recommendations),
                        };
                        turn.state.policy_mut().deferred.push(Deferred {
                            use_case: uc.key,
                            tier: tier.history_key,
                            due,
                            decided_at: now,
                            score: action.score,
                            decided: Some(Box::new(decided)),
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// Remembers a decision in the customer's state and, for sampled customers, hands it to
    /// the outputs as a record.
    pub(super) fn record(&self, verdict: Verdict<'_>, turn: &mut Turn<'_>) {
        let Verdict {
            uc,
            tier_key,
            action,
            value,
            outcome,
            now,
        } = verdict;
        if self.keeps_policy_state(uc) {
            turn.state.policy_mut().remember(DecisionEntry {
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
        let record = DecisionRecord {
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
                        turn.state.read(catalog, i, now).into_owned(),
                    )
                })
                .collect(),
        };
        turn.out.decision(record);
    }
}
