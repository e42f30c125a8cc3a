//! Loading the configuration: defaults, then the file, then the environment; then the checks
//! no type can express, each refusal naming its key with a hint.

use super::{EngineConfig, Guarantee, Secret, ENV_PREFIX};
use std::collections::BTreeMap;
use std::path::Path;

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
        if !(self.state.mass_expiry_share > 0.0 && self.state.mass_expiry_share <= 1.0) {
            return Err(invalid(
                "state.mass_expiry_share",
                "must be above 0 and at most 1",
                "e.g. 0.5: a sweep that expires over half of a partition's customers is reported",
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
