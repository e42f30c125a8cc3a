//! The reference model of issue 14: a deliberately naive second implementation of the semantics
//! README.md documents, used only by tests. It keeps every event of every customer and, at each
//! event, recomputes every feature and every use case's decision from scratch, as the README's
//! text states them — written from the README, not from `services/core`, so that a
//! differential test (`tests/differential.rs`) can hold `replay` to the documented semantics.
//!
//! Covered (first slice): every feature kind of the README's feature table (`count`, `sum`,
//! `min`, `max`, `last`, `first_ts`, `last_ts`, `distinct_count`, `days_since`, `points` with
//! `half_life` or `window`, `recent`), with and without `window` / `bucket`, `where` filters,
//! absent and extra fields, late events and duplicate timestamps; use cases of every status
//! (only `live` ones act), `rule`, `score`, every tier form (`min_score`, `max_score`, `when`,
//! combined) and every re-trigger form (`once`, `always`, `{cooldown}`, per use case and per
//! tier), linear and logistic models, funnel stages, timers (`start_on`, `start_on_actions`,
//! `cancel_on`, both clocks) and `expire_after`, with replay's order of timers and expiries.
//! The contact policy ([`policy`], `tests/policy_differential.rs`, on cases without timers,
//! funnels, models or expiry): consent per channel, arbitration by priority or expected value,
//! channel cooldowns and caps, global caps, `contact: false` channels, holdout groups (the
//! README's exact hash), quiet hours in the customer's zone across DST changes with deferred
//! delivery, shadow and draft use cases, and attribution (exposures, conversions, revenue per
//! group). Not covered: ONNX models and recommenders (the README does not define the
//! recommender's scoring precisely enough to write it independently).
//!
//! The model does not parse YAML or CEL: a case is described by the small spec types of
//! [`spec`] (rendered to YAML for the engine side), and their expressions are a closed subset
//! of CEL ([`spec::Pred`], [`spec::Num`], [`spec::Cond`]) that the model evaluates itself, so
//! not even `revenue-expr` is shared with the implementation under test. Action ids are a hash
//! the README does not specify: the test matches actions by use case, customer and event.

pub mod features;
pub mod funnel;
pub mod model;
pub mod policy;
pub mod policy_rules;
pub mod policy_spec;
pub mod spec;
pub mod timers;
