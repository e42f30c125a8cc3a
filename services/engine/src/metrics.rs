//! Prometheus metrics, `revenue_engine_<subsystem>_<name>_<unit>`. Labels come from bounded sets
//! only (topic, use case id, channel, reason) — never a customer id. The hot path keeps plain
//! counters; they are published here once per commit interval.

use prometheus::{
    CounterVec, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use revenue_core::measure::GroupTotals;
use revenue_core::policy::Reason;
use revenue_core::processor::Counters;
use revenue_core::UseCaseSet;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct Metrics {
    pub registry: Registry,
    pub events_in: IntCounterVec,
    pub actions: IntCounterVec,
    pub shadow_actions: IntCounterVec,
    pub evaluations: IntCounterVec,
    pub evaluation_errors: IntCounterVec,
    pub retrigger_blocked: IntCounterVec,
    pub timers_fired: IntCounterVec,
    pub stage_changes: IntCounterVec,
    pub state_expired: IntCounter,
    pub dead_letters: IntCounterVec,
    pub unknown_event_types: IntCounter,
    pub evaluation_seconds: Histogram,
    pub checkpoint_seconds: Histogram,
    pub commits: IntCounter,
    pub partitions_assigned: IntGauge,
    pub state_bytes: IntGauge,
    pub state_cached_customers: IntGauge,
    pub state_corrupt_values: IntCounter,
    pub restore_records: IntCounter,
    pub restore_seconds: Histogram,
    pub restore_partitions: IntGauge,
    pub input_lag: IntGaugeVec,
    pub usecase_reloads: IntCounterVec,
    pub usecase_info: IntGaugeVec,
    pub policy_suppressed: IntCounterVec,
    pub policy_deferred: IntCounterVec,
    pub policy_deferred_delivered: IntCounterVec,
    pub attribution_exposures: IntCounterVec,
    pub attribution_converted: IntCounterVec,
    pub attribution_conversions: IntCounterVec,
    pub attribution_revenue: CounterVec,
    pub attribution_revenue_squared: CounterVec,
    pub lift_rate_difference: GaugeVec,
    pub lift_incremental_revenue: GaugeVec,
    pub audit_records: IntCounter,
}

/// Registers `metric` (names are fixed in this file, so a failure is a programming error).
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: M) -> M {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        registry,
        IntCounterVec::new(Opts::new(name, help), labels).expect("metric definition is valid"),
    )
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    register(
        registry,
        IntCounter::new(name, help).expect("metric definition is valid"),
    )
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    register(registry, IntGauge::new(name, help).expect("metric definition is valid"))
}

fn gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(
        registry,
        IntGaugeVec::new(Opts::new(name, help), labels).expect("metric definition is valid"),
    )
}

fn float_counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> CounterVec {
    register(
        registry,
        CounterVec::new(Opts::new(name, help), labels).expect("metric definition is valid"),
    )
}

fn float_gauge_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    register(
        registry,
        GaugeVec::new(Opts::new(name, help), labels).expect("metric definition is valid"),
    )
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(buckets);
    register(
        registry,
        Histogram::with_opts(opts).expect("metric definition is valid"),
    )
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        Metrics {
            events_in: counter_vec(
                &r,
                "revenue_engine_input_events_total",
                "Events consumed, by input topic.",
                &["topic"],
            ),
            actions: counter_vec(
                &r,
                "revenue_engine_actions_total",
                "Actions produced, by use case and channel.",
                &["use_case", "channel"],
            ),
            shadow_actions: counter_vec(
                &r,
                "revenue_engine_shadow_actions_total",
                "Actions a shadow use case would have produced.",
                &["use_case", "channel"],
            ),
            evaluations: counter_vec(
                &r,
                "revenue_engine_use_case_evaluations_total",
                "Use-case evaluations, by use case.",
                &["use_case"],
            ),
            evaluation_errors: counter_vec(
                &r,
                "revenue_engine_use_case_errors_total",
                "Evaluations that failed at run time (no action taken).",
                &["use_case"],
            ),
            retrigger_blocked: counter_vec(
                &r,
                "revenue_engine_use_case_retrigger_blocked_total",
                "Matches held back by the re-trigger policy.",
                &["use_case"],
            ),
            timers_fired: counter_vec(
                &r,
                "revenue_engine_use_case_timers_fired_total",
                "Evaluations triggered by a use case's timer coming due.",
                &["use_case"],
            ),
            stage_changes: counter_vec(
                &r,
                "revenue_engine_use_case_stage_changes_total",
                "Funnel stages reached (lead scoring), by use case and stage.",
                &["use_case", "stage"],
            ),
            state_expired: counter(
                &r,
                "revenue_engine_state_expired_customers_total",
                "Idle customers removed from the state (expire_after), with a changelog tombstone.",
            ),
            dead_letters: counter_vec(
                &r,
                "revenue_engine_dead_letters_total",
                "Events sent to the dead-letter topic, by reason.",
                &["reason"],
            ),
            unknown_event_types: counter(
                &r,
                "revenue_engine_input_unknown_event_types_total",
                "Events of types the catalog does not declare (ignored).",
            ),
            evaluation_seconds: histogram(
                &r,
                "revenue_engine_evaluation_duration_seconds",
                "Time to update state and evaluate the use cases for one event (sampled, 1 in 64).",
                vec![
                    0.000_000_5,
                    0.000_001,
                    0.000_002,
                    0.000_005,
                    0.000_01,
                    0.000_025,
                    0.000_05,
                    0.000_1,
                    0.000_5,
                    0.001,
                ],
            ),
            checkpoint_seconds: histogram(
                &r,
                "revenue_engine_checkpoint_duration_seconds",
                "Time to flush actions, write state and commit offsets.",
                vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
            ),
            commits: counter(
                &r,
                "revenue_engine_checkpoints_total",
                "Checkpoints (actions acknowledged, state written, offsets committed).",
            ),
            partitions_assigned: gauge(
                &r,
                "revenue_engine_partitions_assigned",
                "Input partitions assigned to this instance.",
            ),
            state_bytes: gauge(
                &r,
                "revenue_engine_state_bytes",
                "Bytes of customer state in RocksDB (SST files and memtables).",
            ),
            state_cached_customers: gauge(
                &r,
                "revenue_engine_state_cached_customers",
                "Customers held in the write-back cache.",
            ),
            state_corrupt_values: counter(
                &r,
                "revenue_engine_state_corrupt_values_total",
                "Stored states that could not be decoded and were reset.",
            ),
            restore_records: counter(
                &r,
                "revenue_engine_restore_records_total",
                "Changelog records applied while restoring state.",
            ),
            restore_seconds: histogram(
                &r,
                "revenue_engine_restore_duration_seconds",
                "Time to restore one partition's state from the changelog.",
                vec![0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0],
            ),
            restore_partitions: gauge(
                &r,
                "revenue_engine_restore_partitions",
                "Partitions restoring their state now.",
            ),
            input_lag: gauge_vec(
                &r,
                "revenue_engine_input_lag_messages",
                "Consumer lag over the assigned partitions, by input topic (librdkafka statistics).",
                &["topic"],
            ),
            usecase_reloads: counter_vec(
                &r,
                "revenue_engine_usecase_reloads_total",
                "Use-case directory changes seen, by result: applied, or refused (the old set keeps running).",
                &["result"],
            ),
            usecase_info: gauge_vec(
                &r,
                "revenue_engine_usecase_info",
                "1 per loaded use case, with its version and status.",
                &["use_case", "version", "status"],
            ),
            policy_suppressed: counter_vec(
                &r,
                "revenue_engine_policy_suppressed_total",
                "Decisions to act the contact policy did not emit (now), by use case and reason (consent, cap, cooldown, quiet_hours, arbitration, holdout).",
                &["use_case", "reason"],
            ),
            policy_deferred: counter_vec(
                &r,
                "revenue_engine_policy_deferred_total",
                "Decisions deferred to the end of the customer's quiet hours (also counted as suppressed with reason quiet_hours).",
                &["use_case"],
            ),
            policy_deferred_delivered: counter_vec(
                &r,
                "revenue_engine_policy_deferred_delivered_total",
                "Deferred actions sent when the quiet hours ended.",
                &["use_case"],
            ),
            attribution_exposures: counter_vec(
                &r,
                "revenue_engine_attribution_exposures_total",
                "Attribution windows opened by a decision to act (treatment) or to hold out (control).",
                &["use_case", "group"],
            ),
            attribution_converted: counter_vec(
                &r,
                "revenue_engine_attribution_converted_total",
                "Exposures with at least one conversion in their attribution window.",
                &["use_case", "group"],
            ),
            attribution_conversions: counter_vec(
                &r,
                "revenue_engine_attribution_conversions_total",
                "Conversion events attributed to a use case's exposures.",
                &["use_case", "group"],
            ),
            attribution_revenue: float_counter_vec(
                &r,
                "revenue_engine_attribution_revenue_total",
                "Revenue of the conversions attributed to a use case's exposures.",
                &["use_case", "group"],
            ),
            attribution_revenue_squared: float_counter_vec(
                &r,
                "revenue_engine_attribution_revenue_squared_total",
                "Sum over exposures of their revenue squared (for the variance of revenue per exposure).",
                &["use_case", "group"],
            ),
            lift_rate_difference: float_gauge_vec(
                &r,
                "revenue_engine_lift_conversion_rate_difference_ratio",
                "Treatment minus control conversion rate with its 95 % interval (bound: estimate, lower, upper), from this instance's totals since it started; sum the attribution counters across instances for the whole picture.",
                &["use_case", "bound"],
            ),
            lift_incremental_revenue: float_gauge_vec(
                &r,
                "revenue_engine_lift_incremental_revenue",
                "Revenue the use case added over its control group with its 95 % interval (bound: estimate, lower, upper), from this instance's totals since it started.",
                &["use_case", "bound"],
            ),
            audit_records: counter(
                &r,
                "revenue_engine_audit_records_total",
                "Decision records produced to the audit topic.",
            ),
            registry: r,
        }
    }

    /// Publishes which use cases are loaded (replacing what was before).
    pub fn set_use_cases(&self, set: &revenue_core::UseCaseSet) {
        self.usecase_info.reset();
        for uc in &set.use_cases {
            self.usecase_info
                .with_label_values(&[uc.id.as_ref(), &uc.version.to_string(), uc.status.as_str()])
                .set(1);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

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
                .with_label_values(&[id])
                .inc_by(now.evaluations - before.evaluations);
            m.evaluation_errors
                .with_label_values(&[id])
                .inc_by(now.errors - before.errors);
            m.retrigger_blocked
                .with_label_values(&[id])
                .inc_by(now.retrigger_blocked - before.retrigger_blocked);
            m.timers_fired
                .with_label_values(&[id])
                .inc_by(now.timers_fired - before.timers_fired);
            if let Some(funnel) = &uc.funnel {
                for (((stage, _), n), b) in funnel
                    .stages
                    .iter()
                    .zip(&now.stages_reached)
                    .zip(&before.stages_reached)
                {
                    m.stage_changes.with_label_values(&[id, stage.as_ref()]).inc_by(n - b);
                }
            }
            for ((tier, n), b) in uc.tiers.iter().zip(&now.actions_by_tier).zip(&before.actions_by_tier) {
                let target = if uc.status == revenue_core::spec::Status::Live {
                    &m.actions
                } else {
                    &m.shadow_actions
                };
                target.with_label_values(&[id, tier.channel.as_ref()]).inc_by(n - b);
            }
            // every (use case, reason) series exists from the start, so rate() sees the first one
            for reason in Reason::ALL {
                let (n, b) = (now.suppressed[reason as usize], before.suppressed[reason as usize]);
                m.policy_suppressed
                    .with_label_values(&[id, reason.as_str()])
                    .inc_by(n.saturating_sub(b));
            }
            m.policy_deferred
                .with_label_values(&[id])
                .inc_by(now.deferred.saturating_sub(before.deferred));
            m.policy_deferred_delivered
                .with_label_values(&[id])
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
                let bounds = |gauge: &GaugeVec, interval: &revenue_core::measure::Interval| {
                    for (bound, value) in [
                        ("estimate", interval.estimate),
                        ("lower", interval.lower),
                        ("upper", interval.upper),
                    ] {
                        gauge.with_label_values(&[id, bound]).set(value);
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
        let labels = [id, group];
        let counts = [
            (&m.attribution_exposures, delta.exposed),
            (&m.attribution_converted, delta.converted),
            (&m.attribution_conversions, delta.conversions),
        ];
        // the series exist from the start (zero), so rate() and sums see every group
        for (counter, n) in counts {
            counter.with_label_values(&labels).inc_by(n);
        }
        for (counter, x) in [
            (&m.attribution_revenue, delta.revenue),
            (&m.attribution_revenue_squared, delta.revenue_squared),
        ] {
            counter.with_label_values(&labels).inc_by(x.max(0.0));
        }
    }
}
