//! Publication: what the engine's plain counters gained since the last checkpoint goes to the
//! Prometheus families, once per commit interval (never per event).

use super::labels::{UseCase, UseCaseBound, UseCaseChannel, UseCaseGroup, UseCaseStage, UseCaseSuppression};
use super::{Family, Metrics};
use prometheus::GaugeVec;
use revenue_core::measure::GroupTotals;
use revenue_core::policy::Reason;
use revenue_core::processor::Counters;
use revenue_core::UseCaseSet;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the metrics show already: the counters at the last publication, and the attribution
/// totals (treatment, control) since this process started, per use case id — what the lift
/// gauges are computed from (they survive use-case reloads).
pub(crate) struct Published {
    counters: Counters,
    attribution: BTreeMap<Arc<str>, (GroupTotals, GroupTotals)>,
}

impl Published {
    pub(crate) fn for_set(set: &UseCaseSet) -> Published {
        Published {
            counters: Counters::for_set(set),
            attribution: BTreeMap::new(),
        }
    }

    /// A new use-case set runs: its counters start from zero; the attribution totals stay.
    pub(crate) fn restart(&mut self, set: &UseCaseSet) {
        self.counters = Counters::for_set(set);
    }
}

impl Metrics {
    /// The size of the state after a checkpoint, and the corrupt values found so far.
    pub(crate) fn publish_state(&self, state_bytes: u64, cached: usize, corrupt: u64) {
        self.state_bytes.set(state_bytes as i64);
        self.state_cached_customers.set(cached as i64);
        self.state_corrupt_values
            .inc_by(corrupt.saturating_sub(self.state_corrupt_values.get()));
    }

    /// Publishes what the counters gained since `published`, which then moves up to them.
    pub(crate) fn publish_counters(&self, set: &UseCaseSet, counters: &Counters, published: &mut Published) {
        let m = self;
        m.unknown_event_types
            .inc_by(counters.unknown_type - published.counters.unknown_type);
        m.state_expired
            .inc_by(counters.expired.saturating_sub(published.counters.expired));
        for ((uc, now), before) in set
            .use_cases
            .iter()
            .zip(&counters.use_cases)
            .zip(&published.counters.use_cases)
        {
            let id = uc.id.as_ref();
            m.evaluations
                .with(&UseCase { use_case: id })
                .inc_by(now.evaluations - before.evaluations);
            m.evaluation_errors
                .with(&UseCase { use_case: id })
                .inc_by(now.errors - before.errors);
            m.retrigger_blocked
                .with(&UseCase { use_case: id })
                .inc_by(now.retrigger_blocked - before.retrigger_blocked);
            m.timers_fired
                .with(&UseCase { use_case: id })
                .inc_by(now.timers_fired - before.timers_fired);
            if let Some(funnel) = &uc.funnel {
                for (((stage, _), n), b) in funnel
                    .stages
                    .iter()
                    .zip(&now.stages_reached)
                    .zip(&before.stages_reached)
                {
                    m.stage_changes
                        .with(&UseCaseStage {
                            use_case: id,
                            stage: stage.as_ref(),
                        })
                        .inc_by(n - b);
                }
            }
            for ((tier, n), b) in uc.tiers.iter().zip(&now.actions_by_tier).zip(&before.actions_by_tier) {
                let target = if uc.status == revenue_core::spec::Status::Live {
                    &m.actions
                } else {
                    &m.shadow_actions
                };
                target
                    .with(&UseCaseChannel {
                        use_case: id,
                        channel: tier.channel.as_ref(),
                    })
                    .inc_by(n - b);
            }
            // every (use case, reason) series exists from the start, so rate() sees the first one
            for reason in Reason::ALL {
                let (n, b) = (now.suppressed[reason as usize], before.suppressed[reason as usize]);
                m.policy_suppressed
                    .with(&UseCaseSuppression {
                        use_case: id,
                        reason: reason.as_str(),
                    })
                    .inc_by(n.saturating_sub(b));
            }
            m.policy_deferred
                .with(&UseCase { use_case: id })
                .inc_by(now.deferred.saturating_sub(before.deferred));
            m.policy_deferred_delivered
                .with(&UseCase { use_case: id })
                .inc_by(now.deferred_delivered.saturating_sub(before.deferred_delivered));
            let cumulative = published
                .attribution
                .entry(uc.id.clone())
                .or_insert_with(|| (GroupTotals::default(), GroupTotals::default()));
            for (group, now, before, total) in [
                ("treatment", &now.treatment, &before.treatment, &mut cumulative.0),
                ("control", &now.control, &before.control, &mut cumulative.1),
            ] {
                let delta = now.since(before);
                m.publish_attribution(id, group, &delta);
                total.merge(&delta);
            }
            if let Some(lift) = revenue_core::measure::lift(&cumulative.0, &cumulative.1) {
                let bounds = |gauge: &Family<GaugeVec, UseCaseBound<'static>>,
                              interval: &revenue_core::measure::Interval| {
                    for (bound, value) in [
                        ("estimate", interval.estimate),
                        ("lower", interval.lower),
                        ("upper", interval.upper),
                    ] {
                        gauge.with(&UseCaseBound { use_case: id, bound }).set(value);
                    }
                };
                bounds(&m.lift_rate_difference, &lift.rate_difference);
                if let Some(revenue) = &lift.incremental_revenue {
                    bounds(&m.lift_incremental_revenue, revenue);
                }
            }
        }
        published.counters = counters.clone();
    }

    /// Publishes one group's attribution deltas (conversion values are never negative, so
    /// neither are the deltas).
    fn publish_attribution(&self, id: &str, group: &str, delta: &GroupTotals) {
        let m = self;
        let labels = UseCaseGroup { use_case: id, group };
        let counts = [
            (&m.attribution_exposures, delta.exposed),
            (&m.attribution_converted, delta.converted),
            (&m.attribution_conversions, delta.conversions),
        ];
        // the series exist from the start (zero), so rate() and sums see every group
        for (counter, n) in counts {
            counter.with(&labels).inc_by(n);
        }
        for (counter, x) in [
            (&m.attribution_revenue, delta.revenue),
            (&m.attribution_revenue_squared, delta.revenue_squared),
        ] {
            counter.with(&labels).inc_by(x.max(0.0));
        }
    }
}
