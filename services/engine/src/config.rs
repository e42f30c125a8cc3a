//! Engine configuration: built-in defaults, then a YAML/TOML file, then environment variables
//! (`REVENUE_ENGINE__KAFKA__BOOTSTRAP_SERVERS=…`). Unknown keys are refused with their path.

use crate::wire::{InputFormat, OutputFormat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {file}: {message}")]
    Read { file: String, message: String },
    #[error("configuration {source_name}: key `{key}`: {message}\n    hint: {hint}")]
    Invalid {
        source_name: String,
        key: String,
        message: String,
        hint: String,
    },
}

impl EngineConfig {
    /// Defaults, then `file` (when given), then `REVENUE_ENGINE__…` environment variables.
    pub fn load(file: Option<&Path>) -> Result<EngineConfig, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(file, vars)
    }

    /// As [`load`](Self::load), with the environment given (tests).
    pub fn load_with_env(file: Option<&Path>, vars: Vec<(String, String)>) -> Result<EngineConfig, ConfigError> {
        let mut builder = config::Config::builder();
        let source_name = match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::Read {
                        file: path.display().to_string(),
                        message: "no such file".into(),
                    });
                }
                builder = builder.add_source(config::File::from(path));
                path.display().to_string()
            }
            None => "defaults".to_string(),
        };
        // librdkafka property names use dots, which environment variable names cannot hold
        let prefix = format!("{ENV_PREFIX}__KAFKA__PROPERTIES__");
        let mut env = BTreeMap::new();
        let mut env_properties = BTreeMap::new();
        for (name, value) in vars {
            if let Some(property) = name.strip_prefix(&prefix) {
                env_properties.insert(property.to_lowercase().replace('_', "."), value);
            } else if name.starts_with(&format!("{ENV_PREFIX}__")) {
                env.insert(name, value);
            }
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("kafka.input_topics")
                .try_parsing(true)
                .source(Some(env.into_iter().collect())),
        );
        let merged = builder.build().map_err(|e| ConfigError::Read {
            file: source_name.clone(),
            message: e.to_string(),
        })?;
        let mut config: EngineConfig = serde_path_to_error::deserialize(merged).map_err(|err| {
            let key = err.path().to_string();
            ConfigError::Invalid {
                source_name: source_name.clone(),
                key,
                message: err.into_inner().to_string(),
                hint: "see the configuration reference in the README (deploy/config.example.yaml)".into(),
            }
        })?;
        config.kafka.properties.extend(env_properties);
        config.check(&source_name)?;
        config.read_token_file(&source_name)?;
        Ok(config)
    }

    fn check(&self, source_name: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str, hint: &str| ConfigError::Invalid {
            source_name: source_name.to_string(),
            key: key.into(),
            message: message.into(),
            hint: hint.into(),
        };
        if self.kafka.input_topics.is_empty() {
            return Err(invalid(
                "kafka.input_topics",
                "no input topics",
                "list at least one topic",
            ));
        }
        if self.kafka.group_id.trim().is_empty() {
            return Err(invalid(
                "kafka.group_id",
                "empty consumer group id",
                "set a group id shared by all instances",
            ));
        }
        if self.state.cache_customers == 0 {
            return Err(invalid("state.cache_customers", "must be at least 1", "e.g. 200000"));
        }
        if self.kafka.guarantee == Guarantee::ExactlyOnce && !self.state.changelog {
            return Err(invalid(
                "state.changelog",
                "exactly_once needs the changelog: a pod that crashes after a commit and before its local write must rebuild that state from it",
                "set state.changelog: true, or kafka.guarantee: at_least_once",
            ));
        }
        if self.state.commit_interval_ms == 0 {
            return Err(invalid("state.commit_interval_ms", "must be at least 1", "e.g. 1000"));
        }
        if !(self.audit.sample.is_finite() && (0.0..=1.0).contains(&self.audit.sample)) {
            return Err(invalid(
                "audit.sample",
                &format!("share {} out of range", self.audit.sample),
                "a share of customers from 0 to 1, e.g. 1.0 for every customer or 0.1 for a tenth",
            ));
        }
        let api = &self.http.customer_api;
        if api.enabled && !api.token.0.is_empty() && !api.token_file.as_os_str().is_empty() {
            return Err(invalid(
                "http.customer_api.token",
                "both token and token_file are set",
                "give one of them; token_file keeps the token out of the configuration",
            ));
        }
        if api.enabled && api.token.0.trim().is_empty() && api.token_file.as_os_str().is_empty() {
            return Err(invalid(
                "http.customer_api.token",
                "the customer API is enabled without a token",
                "set http.customer_api.token_file (a mounted secret) or http.customer_api.token, or enabled: false",
            ));
        }
        for key in self.kafka.properties.keys() {
            if matches!(
                key.as_str(),
                "group.id"
                    | "bootstrap.servers"
                    | "enable.auto.commit"
                    | "enable.auto.offset.store"
                    | "partition.assignment.strategy"
            ) {
                return Err(invalid(
                    &format!("kafka.properties.{key}"),
                    "set by the engine",
                    "use kafka.group_id / kafka.bootstrap_servers; the engine commits offsets itself and assigns co-partitioned topics by range",
                ));
            }
        }
        Ok(())
    }

    /// An enabled customer API with a `token_file`: the token is read from it now, so a
    /// missing or empty file is a startup error rather than a locked endpoint.
    fn read_token_file(&mut self, source_name: &str) -> Result<(), ConfigError> {
        let api = &mut self.http.customer_api;
        if !api.enabled || api.token_file.as_os_str().is_empty() {
            return Ok(());
        }
        let invalid = |message: String| ConfigError::Invalid {
            source_name: source_name.to_string(),
            key: "http.customer_api.token_file".into(),
            message,
            hint: "point it at a readable file holding the bearer token (e.g. a mounted Kubernetes Secret)".into(),
        };
        let text = std::fs::read_to_string(&api.token_file)
            .map_err(|e| invalid(format!("cannot read {}: {e}", api.token_file.display())))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(invalid(format!("{} is empty", api.token_file.display())));
        }
        api.token = Secret(token.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(".yaml").tempfile().expect("temp file");
        std::fs::write(file.path(), text).expect("write");
        file
    }

    #[test]
    fn exactly_once_without_a_changelog_is_refused_with_the_key() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("engine.yaml");
        std::fs::write(&file, "kafka:\n  guarantee: exactly_once\nstate:\n  changelog: false\n").expect("write");
        let err = EngineConfig::load_with_env(Some(&file), Vec::new()).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("state.changelog") && text.contains("engine.yaml"),
            "{text}"
        );
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let file = write("kafka:\n  bootstrap_servers: broker:9092\n  properties:\n    security.protocol: SASL_SSL\nstate:\n  commit_interval_ms: 250\n");
        let env = vec![
            (
                "REVENUE_ENGINE__KAFKA__BOOTSTRAP_SERVERS".to_string(),
                "override:9093".to_string(),
            ),
            ("REVENUE_ENGINE__KAFKA__INPUT_TOPICS".to_string(), "a,b,c".to_string()),
            (
                "REVENUE_ENGINE__KAFKA__PROPERTIES__SASL_USERNAME".to_string(),
                "svc".to_string(),
            ),
            ("REVENUE_ENGINE__OUTPUT__FORMAT".to_string(), "json".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ];
        let config = EngineConfig::load_with_env(Some(file.path()), env).expect("loads");
        assert_eq!(config.kafka.bootstrap_servers, "override:9093");
        assert_eq!(config.kafka.input_topics, ["a", "b", "c"]);
        assert_eq!(config.kafka.properties["security.protocol"], "SASL_SSL");
        assert_eq!(config.kafka.properties["sasl.username"], "svc");
        assert_eq!(config.output.format, OutputFormat::Json);
        assert_eq!(config.state.commit_interval_ms, 250);
        assert_eq!(config.state.cache_customers, 200_000, "untouched default");
    }

    #[test]
    fn the_shipped_example_is_valid_and_documents_the_defaults() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/config.example.yaml");
        let config = EngineConfig::load_with_env(Some(&example), vec![]).expect("example loads");
        let mut expected = EngineConfig::default();
        expected.input.schemas = config.input.schemas.clone();
        assert_eq!(config, expected, "the example shows the built-in defaults");
        assert_eq!(config.input.schemas.len(), 2);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let file = write("kafka:\n  bootstrap_server: typo:9092\n");
        let err = EngineConfig::load_with_env(Some(file.path()), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("key `kafka`") || err.contains("kafka"), "{err}");
        assert!(err.contains("bootstrap_server"), "{err}");
        let env = vec![("REVENUE_ENGINE__STATE__CACHE".to_string(), "1".to_string())];
        let err = EngineConfig::load_with_env(None, env).unwrap_err().to_string();
        assert!(err.contains("cache"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let file = write("state:\n  commit_interval_ms: soon\n");
        let err = EngineConfig::load_with_env(Some(file.path()), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("state.commit_interval_ms"), "{err}");
        let file = write("kafka:\n  properties:\n    group.id: other\n");
        let err = EngineConfig::load_with_env(Some(file.path()), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("kafka.properties.group.id"), "{err}");
        let err = EngineConfig::load_with_env(Some(Path::new("/no/such.yaml")), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/no/such.yaml"), "{err}");
    }

    #[test]
    fn audit_section_defaults_off_and_checks_the_sample() {
        let config = EngineConfig::load_with_env(None, vec![]).expect("defaults");
        assert_eq!(config.audit.enabled(), None, "off by default");
        assert_eq!(config.audit.sample, 1.0);
        let file = write("audit:\n  topic: decisions\n  sample: 0.25\n");
        let config = EngineConfig::load_with_env(Some(file.path()), vec![]).expect("loads");
        assert_eq!(config.audit.enabled(), Some(("decisions", 0.25)));
        for bad in ["1.5", "-0.1", "2"] {
            let file = write(&format!("audit:\n  topic: decisions\n  sample: {bad}\n"));
            let err = EngineConfig::load_with_env(Some(file.path()), vec![])
                .unwrap_err()
                .to_string();
            assert!(err.contains("audit.sample") && err.contains("hint"), "{bad}: {err}");
        }
        let file = write("audit:\n  topik: decisions\n");
        let err = EngineConfig::load_with_env(Some(file.path()), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("topik"), "{err}");
    }

    #[test]
    fn the_customer_api_needs_a_token_and_never_prints_it() {
        let file = write("http:\n  customer_api:\n    enabled: true\n");
        let err = EngineConfig::load_with_env(Some(file.path()), vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.customer_api.token"), "{err}");
        let file = write("http:\n  customer_api:\n    enabled: true\n    token: s3cret\n");
        let config = EngineConfig::load_with_env(Some(file.path()), vec![]).expect("loads");
        assert_eq!(config.http.customer_api.enabled_token(), Some("s3cret"));
        assert!(!format!("{config:?}").contains("s3cret"), "Debug hides the token");
        let dir = tempfile::tempdir().expect("dir");
        let token = dir.path().join("token");
        std::fs::write(&token, "from-file\n").expect("token file");
        let file = write(&format!(
            "http:\n  customer_api:\n    enabled: true\n    token_file: {}\n",
            token.display()
        ));
        let config = EngineConfig::load_with_env(Some(file.path()), vec![]).expect("loads");
        assert_eq!(config.http.customer_api.enabled_token(), Some("from-file"));
        let file = write("http:\n  customer_api:\n    enabled: true\n    token_file: /no/such/token\n");
        let err = EngineConfig::load_with_env(Some(file.path()), vec![])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("http.customer_api.token_file") && err.contains("/no/such/token"),
            "{err}"
        );
        let config = EngineConfig::load_with_env(None, vec![]).expect("defaults");
        assert_eq!(config.http.customer_api.enabled_token(), None, "off by default");
    }
}
