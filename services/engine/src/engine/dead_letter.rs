//! Events that cannot be decoded go, untouched, to the dead-letter topic.

use super::worker::Worker;
use crate::metrics::labels::DeadLetterReason;
use crate::wire::WireError;
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;
use rdkafka::Message;
use std::sync::atomic::Ordering;

impl Worker {
    /// Sends a bad event, untouched, to the dead-letter topic with headers naming why and where
    /// it came from; the partition goes on with the next event.
    pub(super) fn dead_letter(&mut self, message: &BorrowedMessage<'_>, err: &WireError) {
        let reason = err.reason();
        *self.dead_letters.entry(reason).or_default() += 1;
        self.status.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.metrics.dead_letters.with(&DeadLetterReason { reason }).inc();
        let detail = err.to_string();
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let headers = OwnedHeaders::new_with_capacity(5)
            .insert(Header {
                key: "reason",
                value: Some(reason),
            })
            .insert(Header {
                key: "error",
                value: Some(&detail),
            })
            .insert(Header {
                key: "source_topic",
                value: Some(message.topic()),
            })
            .insert(Header {
                key: "source_partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "source_offset",
                value: Some(&offset),
            });
        let mut record: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(&self.config.kafka.dead_letter_topic).headers(headers);
        // untouched: a tombstone (no value at all) stays a tombstone, not an empty value
        if let Some(payload) = message.payload() {
            record = record.payload(payload);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        self.outputs.send(record);
    }
}
