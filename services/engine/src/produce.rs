//! Producing without dropping: a full local queue is waited out, never treated as a failure.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use std::time::Duration;

/// Sends `record`, retrying while librdkafka's queue is full (its background thread drains it).
/// Any other error is returned: the caller decides whether it is fatal.
pub fn send_when_queued<C, K, P>(
    producer: &ThreadedProducer<C>,
    mut record: BaseRecord<'_, K, P, C::DeliveryOpaque>,
) -> Result<(), KafkaError>
where
    C: ProducerContext,
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => return Err(e),
        }
    }
}
