//! Events that cannot be decoded go, untouched, to the dead-letter topic — cut to fit when the
//! copy would be over the producer's size limit, so one huge message never stops a partition.

use super::worker::Worker;
use crate::metrics::labels::DeadLetterReason;
use crate::wire::{WireError, ENCODE_FAILED};
use rdkafka::message::{BorrowedMessage, Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;
use rdkafka::Message;
use std::sync::atomic::Ordering;

/// Room left for the record's framing and librdkafka's per-message overhead.
const FRAMING_BYTES: usize = 512;

/// The part of `payload` that fits a message of `max_message_bytes` with `key` and `headers`;
/// `Some(original size)` when it had to be cut.
pub(super) fn fit_payload<'p>(
    payload: &'p [u8],
    key: &[u8],
    headers: usize,
    max_message_bytes: usize,
) -> (&'p [u8], Option<usize>) {
    let room = max_message_bytes.saturating_sub(key.len() + headers + FRAMING_BYTES);
    if payload.len() <= room {
        (payload, None)
    } else {
        (&payload[..room], Some(payload.len()))
    }
}

impl Worker {
    /// Sends a bad event, untouched (or cut to fit, with headers saying so), to the dead-letter
    /// topic with headers naming why and where it came from; the partition goes on.
    pub(super) fn dead_letter(&mut self, message: &BorrowedMessage<'_>, err: &WireError) {
        let reason = err.reason();
        *self.dead_letters.entry(reason).or_default() += 1;
        self.status.dead_letters.fetch_add(1, Ordering::Relaxed);
        self.metrics.dead_letters.with(&DeadLetterReason { reason }).inc();
        let detail = err.to_string();
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let mut headers = OwnedHeaders::new_with_capacity(7)
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
        // headers as they go on the wire: a length-prefixed key and value each, a few bytes more
        let header_bytes = detail.len() + message.topic().len() + partition.len() + offset.len() + 128;
        let key = message.key().unwrap_or_default();
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.config.kafka.dead_letter_topic);
        // untouched: a tombstone (no value at all) stays a tombstone, not an empty value
        if let Some(payload) = message.payload() {
            let max = self.config.kafka.max_message_bytes();
            let (fits, original) = fit_payload(payload, key, header_bytes, max);
            if let Some(original) = original {
                headers = headers
                    .insert(Header {
                        key: "payload_truncated",
                        value: Some("true"),
                    })
                    .insert(Header {
                        key: "original_size",
                        value: Some(&original.to_string()),
                    });
            }
            record = record.payload(fits);
        }
        if let Some(key) = message.key() {
            record = record.key(key);
        }
        self.outputs.send(record.headers(headers));
    }

    /// Actions that could not be encoded were dead-lettered by the outputs: they count as dead
    /// letters, with reason `encode_failed`.
    pub(super) fn count_action_dead_letters(&mut self) {
        let failed = self.outputs.take_encode_failures();
        if failed == 0 {
            return;
        }
        let reason = ENCODE_FAILED;
        *self.dead_letters.entry(reason).or_default() += failed;
        self.status.dead_letters.fetch_add(failed, Ordering::Relaxed);
        self.metrics
            .dead_letters
            .with(&DeadLetterReason { reason })
            .inc_by(failed);
    }
}

#[cfg(test)]
mod tests {
    use super::fit_payload;

    #[test]
    fn a_payload_that_fits_is_left_whole() {
        let payload = vec![7u8; 1_000];
        assert_eq!(fit_payload(&payload, b"key", 200, 10_000), (payload.as_slice(), None));
    }

    #[test]
    fn an_oversized_payload_is_cut_to_leave_room_for_key_headers_and_framing() {
        let payload = vec![7u8; 999_900];
        let (fits, original) = fit_payload(&payload, b"customer", 300, 1_000_000);
        assert_eq!(original, Some(999_900));
        assert_eq!(fits.len(), 1_000_000 - 8 - 300 - 512);
        assert!(payload.starts_with(fits));
        // a limit smaller than the framing leaves an empty payload, never a panic
        assert_eq!(fit_payload(&payload, b"k", 10, 100).0.len(), 0);
    }
}
