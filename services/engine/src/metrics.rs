//! Prometheus metrics, `revenue_engine_<subsystem>_<name>_<unit>`. Labels come from bounded sets
//! only (topic, use case id, channel, reason) — never a customer id. The hot path keeps plain
//! counters; they are published here once per commit interval.

use prometheus::{
    CounterVec, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

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
