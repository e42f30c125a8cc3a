//! Prometheus metrics, `revenue_engine_<subsystem>_<name>_<unit>`. Labels come from bounded sets
//! only (topic, use case id, channel, reason) — never a customer id. The hot path keeps plain
//! counters; they are published here once per commit interval.

use prometheus::{
    CounterVec, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

pub mod labels;
pub mod names;
mod publish;

use labels::*;
pub use labels::{Family, LabelSet};
pub(crate) use publish::Published;

pub struct Metrics {
    pub registry: Registry,
    pub events_in: Family<IntCounterVec, Topic<'static>>,
    pub actions: Family<IntCounterVec, UseCaseChannel<'static>>,
    pub shadow_actions: Family<IntCounterVec, UseCaseChannel<'static>>,
    pub evaluations: Family<IntCounterVec, UseCase<'static>>,
    pub evaluation_errors: Family<IntCounterVec, UseCase<'static>>,
    pub retrigger_blocked: Family<IntCounterVec, UseCase<'static>>,
    pub timers_fired: Family<IntCounterVec, UseCase<'static>>,
    pub stage_changes: Family<IntCounterVec, UseCaseStage<'static>>,
    pub state_expired: IntCounter,
    pub state_mass_expiries: IntCounter,
    pub dead_letters: Family<IntCounterVec, DeadLetterReason<'static>>,
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
    pub input_lag: Family<IntGaugeVec, Topic<'static>>,
    pub use_case_reloads: Family<IntCounterVec, ReloadResult<'static>>,
    pub use_case_info: Family<IntGaugeVec, UseCaseVersion<'static>>,
    pub policy_suppressed: Family<IntCounterVec, UseCaseSuppression<'static>>,
    pub policy_deferred: Family<IntCounterVec, UseCase<'static>>,
    pub policy_deferred_delivered: Family<IntCounterVec, UseCase<'static>>,
    pub attribution_exposures: Family<IntCounterVec, UseCaseGroup<'static>>,
    pub attribution_converted: Family<IntCounterVec, UseCaseGroup<'static>>,
    pub attribution_conversions: Family<IntCounterVec, UseCaseGroup<'static>>,
    pub attribution_revenue: Family<CounterVec, UseCaseGroup<'static>>,
    pub attribution_revenue_squared: Family<CounterVec, UseCaseGroup<'static>>,
    pub lift_rate_difference: Family<GaugeVec, UseCaseBound<'static>>,
    pub lift_incremental_revenue: Family<GaugeVec, UseCaseBound<'static>>,
    pub audit_records: IntCounter,
}

/// Registers a metric as defined. Names and label sets are constants of this crate, so a
/// failure is a defect (the unit tests build every metric), never something input can cause.
#[allow(clippy::expect_used)] // startup only, on constants: see above
fn register<M: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: prometheus::Result<M>) -> M {
    let metric = metric.expect("metric definition is valid");
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

fn counter_vec<L: LabelSet>(r: &Registry, name: &str, help: &str) -> Family<IntCounterVec, L> {
    Family::new(register(r, IntCounterVec::new(Opts::new(name, help), L::NAMES)))
}

fn gauge_vec<L: LabelSet>(r: &Registry, name: &str, help: &str) -> Family<IntGaugeVec, L> {
    Family::new(register(r, IntGaugeVec::new(Opts::new(name, help), L::NAMES)))
}

fn float_counter_vec<L: LabelSet>(r: &Registry, name: &str, help: &str) -> Family<CounterVec, L> {
    Family::new(register(r, CounterVec::new(Opts::new(name, help), L::NAMES)))
}

fn float_gauge_vec<L: LabelSet>(r: &Registry, name: &str, help: &str) -> Family<GaugeVec, L> {
    Family::new(register(r, GaugeVec::new(Opts::new(name, help), L::NAMES)))
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(r, IntCounter::new(name, help))
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(r, IntGauge::new(name, help))
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    register(r, Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)))
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        Metrics {
            events_in: counter_vec(
                &r,
                names::INPUT_EVENTS_TOTAL,
                "Events consumed, by input topic.",
            ),
            actions: counter_vec(
                &r,
                names::ACTIONS_TOTAL,
                "Actions produced, by use case and channel.",
            ),
            shadow_actions: counter_vec(
                &r,
                names::SHADOW_ACTIONS_TOTAL,
                "Actions a shadow use case would have produced.",
            ),
            evaluations: counter_vec(
                &r,
                names::USE_CASE_EVALUATIONS_TOTAL,
                "Use-case evaluations, by use case.",
            ),
            evaluation_errors: counter_vec(
                &r,
                names::USE_CASE_ERRORS_TOTAL,
                "Evaluations that failed at run time (no action taken).",
            ),
            retrigger_blocked: counter_vec(
                &r,
                names::USE_CASE_RETRIGGER_BLOCKED_TOTAL,
                "Matches held back by the re-trigger policy.",
            ),
            timers_fired: counter_vec(
                &r,
                names::USE_CASE_TIMERS_FIRED_TOTAL,
                "Evaluations triggered by a use case's timer coming due.",
            ),
            stage_changes: counter_vec(
                &r,
                names::USE_CASE_STAGE_CHANGES_TOTAL,
                "Funnel stages reached (lead scoring), by use case and stage.",
            ),
            state_expired: counter(
                &r,
                names::STATE_EXPIRED_CUSTOMERS_TOTAL,
                "Idle customers removed from the state (expire_after), with a changelog tombstone.",
            ),
            state_mass_expiries: counter(
                &r,
                names::STATE_MASS_EXPIRIES_TOTAL,
                "Timer sweeps that removed more than state.mass_expiry_share of a partition's customers at once.",
            ),
            dead_letters: counter_vec(
                &r,
                names::DEAD_LETTERS_TOTAL,
                "Events sent to the dead-letter topic, by reason.",
            ),
            unknown_event_types: counter(
                &r,
                names::INPUT_UNKNOWN_EVENT_TYPES_TOTAL,
                "Events of types the catalog does not declare (ignored).",
            ),
            evaluation_seconds: histogram(
                &r,
                names::EVALUATION_DURATION_SECONDS,
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
                names::CHECKPOINT_DURATION_SECONDS,
                "Time to flush actions, write state and commit offsets.",
                vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
            ),
            commits: counter(
                &r,
                names::CHECKPOINTS_TOTAL,
                "Checkpoints (actions acknowledged, state written, offsets committed).",
            ),
            partitions_assigned: gauge(
                &r,
                names::PARTITIONS_ASSIGNED,
                "Input partitions assigned to this instance.",
            ),
            state_bytes: gauge(
                &r,
                names::STATE_BYTES,
                "Bytes of customer state in RocksDB (SST files and memtables).",
            ),
            state_cached_customers: gauge(
                &r,
                names::STATE_CACHED_CUSTOMERS,
                "Customers held in the write-back cache.",
            ),
            state_corrupt_values: counter(
                &r,
                names::STATE_CORRUPT_VALUES_TOTAL,
                "Stored states that could not be decoded and were reset.",
            ),
            restore_records: counter(
                &r,
                names::RESTORE_RECORDS_TOTAL,
                "Changelog records applied while restoring state.",
            ),
            restore_seconds: histogram(
                &r,
                names::RESTORE_DURATION_SECONDS,
                "Time to restore one partition's state from the changelog.",
                vec![0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0],
            ),
            restore_partitions: gauge(
                &r,
                names::RESTORE_PARTITIONS,
                "Partitions restoring their state now.",
            ),
            input_lag: gauge_vec(
                &r,
                names::INPUT_LAG_MESSAGES,
                "Consumer lag over the assigned partitions, by input topic (librdkafka statistics).",
            ),
            use_case_reloads: counter_vec(
                &r,
                names::USE_CASE_RELOADS_TOTAL,
                "Use-case directory changes seen, by result: applied, or refused (the old set keeps running).",
            ),
            use_case_info: gauge_vec(
                &r,
                names::USE_CASE_INFO,
                "1 per loaded use case, with its version and status.",
            ),
            policy_suppressed: counter_vec(
                &r,
                names::POLICY_SUPPRESSED_TOTAL,
                "Decisions to act the contact policy did not emit (now), by use case and reason (consent, cap, cooldown, quiet_hours, arbitration, holdout).",
            ),
            policy_deferred: counter_vec(
                &r,
                names::POLICY_DEFERRED_TOTAL,
                "Decisions deferred to the end of the customer's quiet hours (also counted as suppressed with reason quiet_hours).",
            ),
            policy_deferred_delivered: counter_vec(
                &r,
                names::POLICY_DEFERRED_DELIVERED_TOTAL,
                "Deferred actions sent when the quiet hours ended.",
            ),
            attribution_exposures: counter_vec(
                &r,
                names::ATTRIBUTION_EXPOSURES_TOTAL,
                "Attribution windows opened by a decision to act (treatment) or to hold out (control).",
            ),
            attribution_converted: counter_vec(
                &r,
                names::ATTRIBUTION_CONVERTED_TOTAL,
                "Exposures with at least one conversion in their attribution window.",
            ),
            attribution_conversions: counter_vec(
                &r,
                names::ATTRIBUTION_CONVERSIONS_TOTAL,
                "Conversion events attributed to a use case's exposures.",
            ),
            attribution_revenue: float_counter_vec(
                &r,
                names::ATTRIBUTION_REVENUE_TOTAL,
                "Revenue of the conversions attributed to a use case's exposures.",
            ),
            attribution_revenue_squared: float_counter_vec(
                &r,
                names::ATTRIBUTION_REVENUE_SQUARED_TOTAL,
                "Sum over exposures of their revenue squared (for the variance of revenue per exposure).",
            ),
            lift_rate_difference: float_gauge_vec(
                &r,
                names::LIFT_CONVERSION_RATE_DIFFERENCE_RATIO,
                "Treatment minus control conversion rate with its 95 % interval (bound: estimate, lower, upper), from this instance's totals since it started; sum the attribution counters across instances for the whole picture.",
            ),
            lift_incremental_revenue: float_gauge_vec(
                &r,
                names::LIFT_INCREMENTAL_REVENUE,
                "Revenue the use case added over its control group with its 95 % interval (bound: estimate, lower, upper), from this instance's totals since it started.",
            ),
            audit_records: counter(
                &r,
                names::AUDIT_RECORDS_TOTAL,
                "Decision records produced to the audit topic.",
            ),
            registry: r,
        }
    }

    /// Publishes which use cases are loaded (replacing what was before).
    pub fn set_use_cases(&self, set: &revenue_core::UseCaseSet) {
        self.use_case_info.reset();
        for uc in &set.use_cases {
            self.use_case_info
                .with(&UseCaseVersion {
                    use_case: uc.id.as_ref(),
                    version: &uc.version.to_string(),
                    status: uc.status.as_str(),
                })
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
