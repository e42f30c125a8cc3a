//! Engine configuration: built-in defaults, then a YAML/TOML file, then environment variables
//! (`REVENUE_ENGINE__KAFKA__BOOTSTRAP_SERVERS=…`). Unknown keys are refused with their path.

mod load;
#[cfg(test)]
mod tests;

pub use load::ConfigError;

use crate::wire::{InputFormat, OutputFormat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub const ENV_PREFIX: &str = "REVENUE_ENGINE";

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    pub kafka: KafkaConfig,
    pub input: InputConfig,
    pub output: OutputConfig,
    pub use_cases: UseCasesConfig,
    pub state: StateConfig,
    pub http: HttpConfig,
    pub audit: AuditConfig,
    pub log: LogConfig,
}

impl EngineConfig {
    /// The changelog topic, when state changes go to one.
    pub fn changelog_topic(&self) -> Option<String> {
        self.state
            .changelog
            .then(|| self.state.changelog_topic_for(&self.kafka.group_id))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub group_id: String,
    /// Behavioural and transaction events may come on different topics.
    pub input_topics: Vec<String>,
    pub dead_letter_topic: String,
    /// Where the customer id comes from: the message key, or the event's `customer_id` field.
    pub customer_id: CustomerIdSource,
    /// `at_least_once` (default) or `exactly_once` (Kafka transactions; needs a broker that
    /// implements them fully).
    pub guarantee: Guarantee,
    /// `transactional.id` in exactly-once mode; empty: `<group_id>-<hostname>` (stable per pod
    /// in a StatefulSet, so a restarted pod fences its own zombie).
    pub transactional_id: String,
    /// Passed to librdkafka as they are (security.protocol, sasl.*, ssl.*, …). From the
    /// environment, `_` in a key stands for `.`: `…__PROPERTIES__SASL_USERNAME` → `sasl.username`.
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Guarantee {
    AtLeastOnce,
    ExactlyOnce,
}

impl KafkaConfig {
    /// The consumer's `session.timeout.ms` (librdkafka's default 45 s unless set in properties).
    pub fn session_timeout(&self) -> std::time::Duration {
        let ms = self
            .properties
            .get("session.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(45_000);
        std::time::Duration::from_millis(ms)
    }

    /// The largest message the producer sends (`message.max.bytes`, librdkafka's default
    /// 1,000,000 unless set in properties): a dead letter is cut to fit it.
    pub fn max_message_bytes(&self) -> usize {
        self.properties
            .get("message.max.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    }

    pub fn transactional_id(&self) -> String {
        if !self.transactional_id.is_empty() {
            return self.transactional_id.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "engine".into());
        format!("{}-{host}", self.group_id)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CustomerIdSource {
    Key,
    Field,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct InputConfig {
    /// `json`, `avro` (Confluent framing) or `auto` (by the first byte).
    pub format: InputFormat,
    /// Schema Registry base URL; when unset, `schemas` maps schema ids to local `.avsc` files.
    pub schema_registry_url: Option<String>,
    pub schemas: BTreeMap<u32, PathBuf>,
    /// How far ahead of the wall clock an event's `ts` may be; later (or before 1970) it is
    /// dead-lettered with reason `timestamp_out_of_range`.
    pub max_future_skew_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    /// `avro` (Confluent framing, schemas/avro/action.avsc) or `json`.
    pub format: OutputFormat,
    /// Schema id written in the Confluent framing of Avro actions.
    pub action_schema_id: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UseCasesConfig {
    pub dir: PathBuf,
    /// How often the directory is checked for changes (a mounted ConfigMap changes by symlink
    /// swap); a valid new set replaces the old one between two checkpoints. 0: never.
    pub reload_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Root of the per-partition RocksDB stores.
    pub dir: PathBuf,
    /// Customers kept in memory per partition (write-back cache in front of RocksDB).
    pub cache_customers: usize,
    /// How often actions are flushed, state is written and offsets are committed.
    pub commit_interval_ms: u64,
    /// Also write state changes to a compacted changelog topic, restored from on assignment.
    pub changelog: bool,
    /// Changelog topic name; empty: `<kafka.group_id>.state-changelog`.
    pub changelog_topic: String,
    /// Replication factor when the engine creates the changelog (-1: the broker's default).
    pub changelog_replication: i32,
    /// A timer sweep that expires more than this share of a partition's customers at once is
    /// logged at WARN and counted (`revenue_engine_state_mass_expiries_total`).
    pub mass_expiry_share: f64,
}

impl StateConfig {
    /// The changelog topic of a consumer group.
    pub fn changelog_topic_for(&self, group_id: &str) -> String {
        if self.changelog_topic.is_empty() {
            format!("{group_id}.state-changelog")
        } else {
            self.changelog_topic.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `/metrics`, `/healthz`, `/readyz`; empty to disable.
    pub listen: String,
    /// `GET /customers/{id}`: a customer's state, explained (off by default).
    pub customer_api: CustomerApiConfig,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CustomerApiConfig {
    pub enabled: bool,
    /// The bearer token callers send (`Authorization: Bearer <token>`); prefer `token_file`.
    pub token: Secret,
    /// A file holding the token (e.g. a mounted Kubernetes Secret); read at startup.
    pub token_file: PathBuf,
}

impl CustomerApiConfig {
    /// The token when the API is enabled (`token`, or the trimmed contents of `token_file`).
    pub fn enabled_token(&self) -> Option<&str> {
        (self.enabled && !self.token.0.is_empty()).then_some(self.token.0.as_str())
    }
}

/// A string that is never printed (`Debug` shows `***`).
#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

/// Decision records to a Kafka topic: every decision to act — emitted, deferred, held out or
/// suppressed — with the features read, the score, the tier and the contact policy's outcome.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Empty: no decision records.
    pub topic: String,
    /// Share of customers (0..1) whose decisions are recorded, chosen by a hash of the customer
    /// id (a sampled customer's whole history is kept).
    pub sample: f64,
}

impl AuditConfig {
    /// The topic and share when records are on.
    pub fn enabled(&self) -> Option<(&str, f64)> {
        (!self.topic.trim().is_empty() && self.sample > 0.0).then_some((self.topic.as_str(), self.sample))
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            topic: String::new(),
            sample: 1.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `revenue_engine=debug,info`.
    pub level: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: "localhost:9092".into(),
            group_id: "revenue-engine".into(),
            input_topics: vec!["events.behaviour".into(), "events.transactions".into()],
            dead_letter_topic: "revenue-engine.dead-letters".into(),
            customer_id: CustomerIdSource::Key,
            guarantee: Guarantee::AtLeastOnce,
            transactional_id: String::new(),
            properties: BTreeMap::new(),
        }
    }
}

impl Default for InputConfig {
    fn default() -> Self {
        InputConfig {
            format: InputFormat::Auto,
            schema_registry_url: None,
            schemas: BTreeMap::new(),
            max_future_skew_ms: 86_400_000,
        }
    }
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: OutputFormat::Avro,
            action_schema_id: 3,
        }
    }
}

impl Default for UseCasesConfig {
    fn default() -> Self {
        UseCasesConfig {
            dir: PathBuf::from("usecases/reference"),
            reload_interval_ms: 5000,
        }
    }
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: PathBuf::from("state"),
            cache_customers: 200_000,
            commit_interval_ms: 1_000,
            changelog: true,
            changelog_topic: String::new(),
            changelog_replication: -1,
            mass_expiry_share: 0.5,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "0.0.0.0:9464".into(),
            customer_api: CustomerApiConfig::default(),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}
