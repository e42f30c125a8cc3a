//! Where everything the engine produces leaves: actions, decision records, dead letters and
//! changelog records all go through one producer, and a record that fails is counted in the
//! delivery log, so the next checkpoint refuses to commit past it.

use super::clients::{DeliveryLog, ProducerCtx};
use super::Status;
use crate::config::EngineConfig;
use crate::failpoint;
use crate::wire::{ActionEncoder, WireError, ENCODE_FAILED};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders, ToBytes};
use rdkafka::producer::{BaseRecord, ThreadedProducer};
use revenue_core::processor::DecisionRecord;
use revenue_core::Action;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The producer and what encoding for it needs.
pub(super) struct Outputs {
    pub(super) producer: ThreadedProducer<ProducerCtx>,
    pub(super) delivery: Arc<DeliveryLog>,
    encoder: ActionEncoder,
    /// Reused for every encoded action.
    buffer: Vec<u8>,
    /// Counts the actions sent (`actions_out`).
    status: Arc<Status>,
    /// `audit.topic` when decision records are on.
    audit_topic: Option<Arc<str>>,
    audit_buffer: Vec<u8>,
    /// Decision records of the event being processed, produced once it is done.
    decisions: Vec<DecisionRecord>,
    /// Decision records produced since the last checkpoint (published as a metric there).
    audit_records: u64,
    /// Where an action that cannot be encoded goes.
    dead_letter_topic: Arc<str>,
    /// Actions dead-lettered since the last checkpoint (counted there).
    encode_failures: u64,
    /// The changelog topic, which the `produce_output` failpoint spares.
    changelog_topic: Option<String>,
}

impl Outputs {
    pub(super) fn new(
        producer: ThreadedProducer<ProducerCtx>,
        delivery: Arc<DeliveryLog>,
        encoder: ActionEncoder,
        status: Arc<Status>,
        config: &EngineConfig,
    ) -> Outputs {
        Outputs {
            producer,
            delivery,
            encoder,
            buffer: Vec::with_capacity(512),
            status,
            audit_topic: config.audit.enabled().map(|(topic, _)| Arc::from(topic)),
            audit_buffer: Vec::with_capacity(512),
            decisions: Vec::new(),
            audit_records: 0,
            dead_letter_topic: Arc::from(config.kafka.dead_letter_topic.as_str()),
            encode_failures: 0,
            changelog_topic: config.changelog_topic(),
        }
    }

    /// Produces an action to its topic (`live` use cases only; shadow ones are counted, not sent).
    pub(super) fn emit(&mut self, action: &Action) {
        if !action.emits() {
            return;
        }
        if let Err(e) = self.encoder.encode(action, &mut self.buffer) {
            self.dead_letter_action(action, &e);
            return;
        }
        let headers = action_headers(action, 0);
        let record = BaseRecord::to(&action.topic)
            .key(action.customer_id.as_bytes())
            .payload(self.buffer.as_slice())
            .headers(headers);
        self.send(record);
        self.status.actions_out.fetch_add(1, Ordering::Relaxed);
    }

    /// An action that cannot be encoded in the output format (a value its schema cannot hold)
    /// goes to the dead-letter topic as JSON, with headers naming why, its use case, id and
    /// topic; it is counted at the next checkpoint (`dead_letters_total{reason="encode_failed"}`).
    fn dead_letter_action(&mut self, action: &Action, error: &WireError) {
        self.encode_failures += 1;
        self.buffer.clear();
        // serde_json writes any action (a NaN becomes null): the JSON copy keeps what was decided
        if serde_json::to_writer(&mut self.buffer, action).is_err() {
            self.buffer.clear();
        }
        let detail = error.to_string();
        let headers = action_headers(action, 3)
            .insert(Header {
                key: "reason",
                value: Some(ENCODE_FAILED),
            })
            .insert(Header {
                key: "error",
                value: Some(&detail),
            })
            .insert(Header {
                key: "action_topic",
                value: Some(action.topic.as_bytes()),
            });
        let topic = self.dead_letter_topic.clone();
        let record = BaseRecord::to(topic.as_ref())
            .key(action.customer_id.as_bytes())
            .payload(self.buffer.as_slice())
            .headers(headers);
        self.send(record);
    }

    /// Actions dead-lettered because they could not be encoded, since the last call.
    pub(super) fn take_encode_failures(&mut self) -> u64 {
        std::mem::take(&mut self.encode_failures)
    }

    /// With the audit topic on: produces the decision records handed over since the last call
    /// (JSON, keyed by customer id) through [`send`](Self::send), so a failed delivery blocks the
    /// checkpoint as a failed action does; in exactly-once mode they belong to the open
    /// transaction.
    pub(super) fn send_decisions(&mut self) {
        // most events decide nothing worth a record: no topic handle is taken for them
        if self.decisions.is_empty() {
            return;
        }
        let Some(topic) = self.audit_topic.clone() else {
            return;
        };
        let topic = topic.as_ref();
        // taken and put back so the vector's allocation is reused for the next event
        let mut records = std::mem::take(&mut self.decisions);
        let mut sent = 0;
        for record in &records {
            self.audit_buffer.clear();
            if let Err(e) = serde_json::to_writer(&mut self.audit_buffer, record) {
                tracing::warn!(error = %e, use_case = %record.use_case_id, "decision record could not be encoded");
                continue;
            }
            let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
                key: "use_case_id",
                value: Some(record.use_case_id.as_bytes()),
            });
            let message = BaseRecord::to(topic)
                .key(record.customer_id.as_bytes())
                .payload(self.audit_buffer.as_slice())
                .headers(headers);
            self.send(message);
            sent += 1;
        }
        records.clear();
        self.decisions = records;
        self.audit_records += sent;
    }

    /// The decision records produced since the last call.
    pub(super) fn take_audit_records(&mut self) -> u64 {
        std::mem::take(&mut self.audit_records)
    }

    /// Produces, waiting while the local queue is full; other errors are counted as failed
    /// deliveries, so the next checkpoint refuses to commit past them.
    pub(super) fn send<K: ToBytes + ?Sized, P: ToBytes + ?Sized>(&self, record: BaseRecord<'_, K, P>) {
        if failpoint::active() {
            let output = self.changelog_topic.as_deref() != Some(record.topic);
            if failpoint::fails(failpoint::PRODUCE) || (output && failpoint::fails(failpoint::PRODUCE_OUTPUT)) {
                tracing::warn!(topic = record.topic, "failpoint: this record fails");
                self.delivery
                    .record_failure(&KafkaError::MessageProduction(RDKafkaErrorCode::Application));
                return;
            }
        }
        if let Err(e) = crate::produce::send_when_queued(&self.producer, record) {
            self.delivery.record_failure(&e);
        }
    }
}

/// The headers every produced action carries (`use_case_id`, `action_id`), with room for `extra`.
fn action_headers(action: &Action, extra: usize) -> OwnedHeaders {
    OwnedHeaders::new_with_capacity(2 + extra)
        .insert(Header {
            key: "use_case_id",
            value: Some(action.use_case_id.as_bytes()),
        })
        .insert(Header {
            key: "action_id",
            value: Some(action.action_id.as_bytes()),
        })
}

/// The processor's one output contract: actions are produced as they are decided, decision
/// records are kept (audit topic on) until [`Outputs::send_decisions`] after the event.
impl revenue_core::Outputs for Outputs {
    fn action(&mut self, action: Action) {
        self.emit(&action);
    }

    fn decision(&mut self, record: DecisionRecord) {
        if self.audit_topic.is_some() {
            self.decisions.push(record);
        }
    }
}
