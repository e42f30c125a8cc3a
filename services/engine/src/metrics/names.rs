//! Every metric's name, defined once: the engine registers them and the report's Prometheus
//! reader queries them, so a rename cannot leave a reader silently at zero. Names follow
//! `revenue_engine_<subsystem>_<name>_<unit>`, `_total` for counters; use cases are `use_case`.

pub const INPUT_EVENTS_TOTAL: &str = "revenue_engine_input_events_total";
pub const ACTIONS_TOTAL: &str = "revenue_engine_actions_total";
pub const SHADOW_ACTIONS_TOTAL: &str = "revenue_engine_shadow_actions_total";
pub const USE_CASE_EVALUATIONS_TOTAL: &str = "revenue_engine_use_case_evaluations_total";
pub const USE_CASE_ERRORS_TOTAL: &str = "revenue_engine_use_case_errors_total";
pub const USE_CASE_RETRIGGER_BLOCKED_TOTAL: &str = "revenue_engine_use_case_retrigger_blocked_total";
pub const USE_CASE_TIMERS_FIRED_TOTAL: &str = "revenue_engine_use_case_timers_fired_total";
pub const USE_CASE_STAGE_CHANGES_TOTAL: &str = "revenue_engine_use_case_stage_changes_total";
pub const STATE_EXPIRED_CUSTOMERS_TOTAL: &str = "revenue_engine_state_expired_customers_total";
pub const STATE_MASS_EXPIRIES_TOTAL: &str = "revenue_engine_state_mass_expiries_total";
pub const DEAD_LETTERS_TOTAL: &str = "revenue_engine_dead_letters_total";
pub const INPUT_UNKNOWN_EVENT_TYPES_TOTAL: &str = "revenue_engine_input_unknown_event_types_total";
pub const EVALUATION_DURATION_SECONDS: &str = "revenue_engine_evaluation_duration_seconds";
pub const CHECKPOINT_DURATION_SECONDS: &str = "revenue_engine_checkpoint_duration_seconds";
pub const CHECKPOINTS_TOTAL: &str = "revenue_engine_checkpoints_total";
pub const PARTITIONS_ASSIGNED: &str = "revenue_engine_partitions_assigned";
pub const STATE_BYTES: &str = "revenue_engine_state_bytes";
pub const STATE_CACHED_CUSTOMERS: &str = "revenue_engine_state_cached_customers";
pub const STATE_CORRUPT_VALUES_TOTAL: &str = "revenue_engine_state_corrupt_values_total";
pub const RESTORE_RECORDS_TOTAL: &str = "revenue_engine_restore_records_total";
pub const RESTORE_DURATION_SECONDS: &str = "revenue_engine_restore_duration_seconds";
pub const RESTORE_PARTITIONS: &str = "revenue_engine_restore_partitions";
pub const INPUT_LAG_MESSAGES: &str = "revenue_engine_input_lag_messages";
pub const USE_CASE_RELOADS_TOTAL: &str = "revenue_engine_use_case_reloads_total";
pub const USE_CASE_INFO: &str = "revenue_engine_use_case_info";
pub const POLICY_SUPPRESSED_TOTAL: &str = "revenue_engine_policy_suppressed_total";
pub const POLICY_DEFERRED_TOTAL: &str = "revenue_engine_policy_deferred_total";
pub const POLICY_DEFERRED_DELIVERED_TOTAL: &str = "revenue_engine_policy_deferred_delivered_total";
pub const ATTRIBUTION_EXPOSURES_TOTAL: &str = "revenue_engine_attribution_exposures_total";
pub const ATTRIBUTION_CONVERTED_TOTAL: &str = "revenue_engine_attribution_converted_total";
pub const ATTRIBUTION_CONVERSIONS_TOTAL: &str = "revenue_engine_attribution_conversions_total";
pub const ATTRIBUTION_REVENUE_TOTAL: &str = "revenue_engine_attribution_revenue_total";
pub const ATTRIBUTION_REVENUE_SQUARED_TOTAL: &str = "revenue_engine_attribution_revenue_squared_total";
pub const LIFT_CONVERSION_RATE_DIFFERENCE_RATIO: &str = "revenue_engine_lift_conversion_rate_difference_ratio";
pub const LIFT_INCREMENTAL_REVENUE: &str = "revenue_engine_lift_incremental_revenue";
pub const AUDIT_RECORDS_TOTAL: &str = "revenue_engine_audit_records_total";
