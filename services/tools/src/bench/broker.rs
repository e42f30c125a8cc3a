//! The broker the phases run on: rdkafka's embedded mock cluster, or an external one where each
//! run gets topics of its own.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::ClientConfig;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the phases run: the embedded mock cluster, or an external broker.
pub struct Broker {
    pub bootstrap: String,
    pub name: String,
    mock: Option<MockCluster<'static, DefaultProducerContext>>,
    admin: Option<AdminClient<DefaultClientContext>>,
    prefix: String,
    created: Mutex<std::collections::HashSet<String>>,
}

impl Broker {
    pub fn embedded() -> anyhow::Result<Broker> {
        let mock = MockCluster::new(1)?;
        Ok(Broker {
            bootstrap: mock.bootstrap_servers(),
            name: "embedded".into(),
            mock: Some(mock),
            admin: None,
            prefix: "bench".into(),
            created: Mutex::default(),
        })
    }

    pub fn external(bootstrap: &str) -> anyhow::Result<Broker> {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
        let run = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Broker {
            bootstrap: bootstrap.into(),
            name: bootstrap.into(),
            mock: None,
            admin: Some(admin),
            prefix: format!("bench-{run}"),
            created: Mutex::default(),
        })
    }

    /// A fresh topic for one phase (external brokers keep old runs' topics: names are unique).
    pub fn topic(&self, phase: &str, name: &str, partitions: i32) -> anyhow::Result<String> {
        let topic = format!("{}.{phase}.{name}", self.prefix);
        self.ensure_topic(&topic, partitions)?;
        Ok(topic)
    }

    /// Creates `topic` unless this run created it already (an existing one is fine).
    pub fn ensure_topic(&self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        let mut created = self
            .created
            .lock()
            .map_err(|_| anyhow::anyhow!("topic registry poisoned"))?;
        if !created.insert(topic.to_string()) {
            return Ok(());
        }
        if let Some(mock) = &self.mock {
            mock.create_topic(topic, partitions, 1)?;
        } else if let Some(admin) = &self.admin {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
            let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
            for result in runtime.block_on(admin.create_topics([&new], &options))? {
                match result {
                    Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
                    Err((t, e)) => anyhow::bail!("cannot create topic {t}: {e}"),
                }
            }
        }
        Ok(())
    }
}
