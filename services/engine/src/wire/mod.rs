//! Wire formats: decoding input messages into [`Event`]s and encoding [`Action`]s for the action
//! topics.
//!
//! Input is JSON (one object per message, see [`revenue_core::decode_json`]) or Avro with the
//! Confluent framing: magic byte `0`, the writer schema's id as a big-endian `u32`, then the Avro
//! binary body. Writer schemas come from a Schema Registry or from local `.avsc` files
//! ([`SchemaSource`]). Each field of the writer record is matched by name to the catalog's event
//! fields; fields the catalog does not declare are skipped. The checked-in schemas are under
//! `schemas/avro/`.
//!
//! Actions are written as JSON (the [`Action`] `Serialize` impl) or as Confluent-framed Avro with
//! the checked-in `schemas/avro/action.avsc`.
//!
//! Every failure is a [`WireError`] whose [`reason`](WireError::reason) is a bounded label for
//! metrics and dead-letter headers.
//!
//! [`Action`]: revenue_core::Action

mod action;
mod avro_input;
mod schema;
#[cfg(test)]
mod tests;

pub use action::{ActionEncoder, AvroAction, OutputFormat, ACTION_SCHEMA};
pub use schema::{check_compatible, SchemaResolver, SchemaSource};

use revenue_core::{Catalog, DecodeError, Event};
use std::path::PathBuf;

/// First byte of a Confluent-framed message.
pub const CONFLUENT_MAGIC: u8 = 0;
/// Magic byte plus the big-endian schema id.
pub const CONFLUENT_HEADER_LEN: usize = 5;

/// Why a message could not be decoded, a schema not be loaded, or an action not be encoded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WireError {
    /// The message was read, but it is not a valid event (JSON syntax, missing required field,
    /// wrong JSON type of a field).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Not a Confluent-framed Avro message, or a body that does not decode with its writer schema
    /// (truncated, corrupt, trailing bytes).
    #[error("undecodable message: {0}")]
    Undecodable(String),
    /// The message's schema id is not known to the schema source.
    #[error("unknown schema id {0}")]
    UnknownSchemaId(u32),
    /// The writer schema cannot be read as an event: a catalog field has an incompatible Avro type,
    /// the top-level schema is not a record, or the schema is not usable Avro.
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),
    /// The Schema Registry could not be reached or answered with an error. Transient: see
    /// [`WireError::is_transient`].
    #[error("schema registry: {0}")]
    Registry(String),
    /// A local `.avsc` file could not be read or parsed.
    #[error("schema file {}: {message}", path.display())]
    SchemaFile { path: PathBuf, message: String },
    /// A writer schema cannot be read with a reader schema ([`check_compatible`]).
    #[error("incompatible schemas: {0}")]
    Incompatible(String),
    /// An action could not be encoded (e.g. a value out of the schema's range).
    #[error("cannot encode action: {0}")]
    Encode(String),
}

impl WireError {
    /// A bounded label for metrics and dead-letter headers: the [`DecodeError`] reasons
    /// (`invalid_json`, `missing_customer_id`, `missing_type`, `missing_timestamp`,
    /// `wrong_field_type`) plus `undecodable`, `unknown_schema_id`, `schema_mismatch`,
    /// `registry_unavailable`, `schema_file`, `incompatible_schema` and `encode_failed`.
    pub fn reason(&self) -> &'static str {
        match self {
            WireError::Decode(err) => err.reason(),
            WireError::Undecodable(_) => "undecodable",
            WireError::UnknownSchemaId(_) => "unknown_schema_id",
            WireError::SchemaMismatch(_) => "schema_mismatch",
            WireError::Registry(_) => "registry_unavailable",
            WireError::SchemaFile { .. } => "schema_file",
            WireError::Incompatible(_) => "incompatible_schema",
            WireError::Encode(_) => ENCODE_FAILED,
        }
    }

    /// Whether retrying the same message later may succeed: the registry was unreachable or
    /// failed. Such messages should not be dead-lettered; every other error is about the message
    /// (or its schema) itself and will not go away.
    pub fn is_transient(&self) -> bool {
        matches!(self, WireError::Registry(_))
    }
}

/// The dead-letter reason of an action that could not be encoded.
pub const ENCODE_FAILED: &str = "encode_failed";

/// Format of input messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One JSON object per message.
    Json,
    /// Confluent-framed Avro.
    Avro,
    /// Per message: Confluent-framed Avro if the first byte is `0`, else JSON.
    Auto,
}

/// Decodes input messages in the configured [`InputFormat`].
#[derive(Debug)]
pub struct InputDecoder {
    format: InputFormat,
    resolver: Option<SchemaResolver>,
}

impl InputDecoder {
    /// `resolver` supplies Avro writer schemas. Without one, every Avro message fails with
    /// [`WireError::UnknownSchemaId`] (no schema is known), in [`InputFormat::Avro`] and
    /// [`InputFormat::Auto`] alike.
    pub fn new(format: InputFormat, resolver: Option<SchemaResolver>) -> InputDecoder {
        InputDecoder { format, resolver }
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    pub fn resolver(&self) -> Option<&SchemaResolver> {
        self.resolver.as_ref()
    }

    /// Decodes one message. `key` is the Kafka message key: when it is given and not empty it is
    /// the customer id, replacing the one in the payload (in both formats).
    ///
    /// JSON strings are borrowed from `payload` where they have no escapes; Avro strings are
    /// borrowed from `payload` too (enum symbols are copied).
    pub fn decode<'a>(
        &self,
        catalog: &Catalog,
        payload: &'a [u8],
        key: Option<&'a str>,
    ) -> Result<Event<'a>, WireError> {
        let key = key.filter(|k| !k.is_empty());
        let avro = match self.format {
            InputFormat::Json => false,
            InputFormat::Avro => true,
            InputFormat::Auto => payload.first() == Some(&CONFLUENT_MAGIC),
        };
        if !avro {
            return Ok(revenue_core::decode_json(catalog, payload, key)?);
        }
        let (id, body) = avro_input::split_frame(payload)?;
        let writer = match &self.resolver {
            Some(resolver) => resolver.writer(id)?,
            None => return Err(WireError::UnknownSchemaId(id)),
        };
        avro_input::decode_event(catalog, &writer, body, key)
    }
}
