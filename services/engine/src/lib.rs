//! Revenue Engine's streaming engine: a Kafka consumer group with per-partition RocksDB state,
//! evaluating the use cases of `revenue-core` and producing actions.

pub mod changelog;
pub mod config;
pub mod customers;
pub mod engine;
pub mod failpoint;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod produce;
pub mod reload;
pub mod status;
pub mod store;

pub mod wire;

pub use config::EngineConfig;
pub use engine::{start, EngineError, EngineHandle, EngineReport, Status};
pub use metrics::Metrics;
