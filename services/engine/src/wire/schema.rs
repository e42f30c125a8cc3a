//! Writer schemas by id: from a Confluent Schema Registry or from local `.avsc` files.

use super::WireError;
use apache_avro::schema::{NamesRef, ResolvedSchema, SchemaKind};
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where writer schemas come from.
#[derive(Debug, Clone)]
pub enum SchemaSource {
    /// A Confluent-compatible Schema Registry: `GET {url}/schemas/ids/{id}` answers
    /// `{"schema": "<avsc text>"}`. Results are cached for the resolver's lifetime.
    Registry { url: String },
    /// Schema id → `.avsc` file, all loaded when the resolver is built (demos and tests need no
    /// registry).
    Local(BTreeMap<u32, PathBuf>),
}

/// Timeout of one registry request, connect to last byte.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(10);
/// Permanent failures (unknown id, unusable schema) are cached too, so a stream of bad messages
/// does not become a stream of registry requests; at most this many of them.
const MAX_CACHED_FAILURES: usize = 4096;

/// Resolves schema ids to writer schemas. Shared by all partitions: `Send + Sync`, lookups of
/// known ids take a read lock only.
pub struct SchemaResolver {
    registry: Option<Registry>,
    cache: RwLock<FxHashMap<u32, Result<Arc<WriterSchema>, WireError>>>,
}

struct Registry {
    url: String,
    agent: ureq::Agent,
    requests: AtomicU64,
    cached_failures: AtomicU64,
}

impl SchemaResolver {
    /// For [`SchemaSource::Local`], reads and parses every file now; the error names the file.
    pub fn new(source: SchemaSource) -> Result<SchemaResolver, WireError> {
        match source {
            SchemaSource::Registry { url } => {
                let config = ureq::Agent::config_builder()
                    .timeout_global(Some(REGISTRY_TIMEOUT))
                    .http_status_as_error(false)
                    .build();
                Ok(SchemaResolver {
                    registry: Some(Registry {
                        url: url.trim_end_matches('/').to_string(),
                        agent: ureq::Agent::new_with_config(config),
                        requests: AtomicU64::new(0),
                        cached_failures: AtomicU64::new(0),
                    }),
                    cache: RwLock::new(FxHashMap::default()),
                })
            }
            SchemaSource::Local(files) => {
                let mut cache = FxHashMap::default();
                for (id, path) in files {
                    let text = std::fs::read_to_string(&path).map_err(|err| WireError::SchemaFile {
                        path: path.clone(),
                        message: err.to_string(),
                    })?;
                    let writer =
                        WriterSchema::parse(&text).map_err(|message| WireError::SchemaFile { path, message })?;
                    cache.insert(id, Ok(Arc::new(writer)));
                }
                Ok(SchemaResolver {
                    registry: None,
                    cache: RwLock::new(cache),
                })
            }
        }
    }

    /// The writer schema with this id. A registry is asked once per id; later calls are served
    /// from the cache (also for ids the registry does not know).
    pub fn schema(&self, id: u32) -> Result<Arc<Schema>, WireError> {
        self.writer(id).map(|writer| writer.avro.clone())
    }

    /// How many requests were sent to the registry (0 for local schemas).
    pub fn registry_requests(&self) -> u64 {
        self.registry.as_ref().map_or(0, |r| r.requests.load(Ordering::Relaxed))
    }

    pub(super) fn writer(&self, id: u32) -> Result<Arc<WriterSchema>, WireError> {
        if let Some(cached) = self.cache.read().unwrap_or_else(|e| e.into_inner()).get(&id) {
            return cached.clone();
        }
        let Some(registry) = &self.registry else {
            return Err(WireError::UnknownSchemaId(id));
        };
        let fetched = registry.fetch(id).map(Arc::new);
        let cacheable = match &fetched {
            Ok(_) => true,
            Err(err) if err.is_transient() => false,
            Err(_) => registry.cached_failures.fetch_add(1, Ordering::Relaxed) < MAX_CACHED_FAILURES as u64,
        };
        if cacheable {
            self.cache
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, fetched.clone());
        }
        fetched
    }
}

impl std::fmt::Debug for SchemaResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self.cache.read().map_or(0, |cache| cache.len());
        f.debug_struct("SchemaResolver")
            .field("registry", &self.registry.as_ref().map(|r| r.url.as_str()))
            .field("cached", &cached)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct RegistrySchema {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<serde_json::Value>,
}

impl Registry {
    fn fetch(&self, id: u32) -> Result<WriterSchema, WireError> {
        let url = format!("{}/schemas/ids/{id}", self.url);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = self
            .agent
            .get(&url)
            .header("Accept", "application/vnd.schemaregistry.v1+json, application/json")
            .call()
            .map_err(|err| WireError::Registry(format!("GET {url}: {err}")))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|err| WireError::Registry(format!("GET {url}: reading the response: {err}")))?;
        match status {
            200 => {}
            404 => return Err(WireError::UnknownSchemaId(id)),
            _ => {
                let excerpt: String = body.chars().take(200).collect();
                return Err(WireError::Registry(format!("GET {url}: HTTP {status}: {excerpt}")));
            }
        }
        let answer: RegistrySchema = serde_json::from_str(&body)
            .map_err(|err| WireError::Registry(format!("GET {url}: unexpected response: {err}")))?;
        if let Some(other) = answer
            .schema_type
            .as_deref()
            .filter(|t| !t.eq_ignore_ascii_case("AVRO"))
        {
            return Err(WireError::SchemaMismatch(format!(
                "schema id {id} is a {other} schema, not Avro"
            )));
        }
        if !answer.references.is_empty() {
            return Err(WireError::SchemaMismatch(format!(
                "schema id {id} uses schema references, which are not supported"
            )));
        }
        WriterSchema::parse(&answer.schema)
            .map_err(|message| WireError::SchemaMismatch(format!("schema id {id}: {message}")))
    }
}

/// Kinds of Avro values a writer field can hold, as a bit set.
pub(super) const KIND_NULL: u8 = 1;
pub(super) const KIND_BOOL: u8 = 2;
/// `int`, `long`, `timestamp-millis`, `local-timestamp-millis`.
pub(super) const KIND_LONG: u8 = 4;
/// `float`, `double`.
pub(super) const KIND_DOUBLE: u8 = 8;
/// `string`, `enum` (its symbol), `uuid`.
pub(super) const KIND_STRING: u8 = 16;
/// Anything else: bytes, fixed, arrays, maps, records, decimals, dates, times, micro- and
/// nanosecond timestamps. Never read into a catalog field.
pub(super) const KIND_OTHER: u8 = 32;

/// A top-level field of a writer record.
#[derive(Debug)]
pub(super) struct FieldShape {
    pub name: String,
    pub kinds: u8,
}

/// A parsed writer schema: `apache_avro`'s model for callers and compatibility checks,
/// `serde_avro_fast`'s for decoding, and the record's field shapes for matching to the catalog.
pub(super) struct WriterSchema {
    pub avro: Arc<Schema>,
    pub fast: serde_avro_fast::Schema,
    /// `None` when the top-level schema is not a record.
    pub fields: Option<Vec<FieldShape>>,
}

impl WriterSchema {
    pub fn parse(text: &str) -> Result<WriterSchema, String> {
        let avro = Schema::parse_str(text).map_err(|err| format!("not a valid Avro schema: {err}"))?;
        let fast: serde_avro_fast::Schema = text.parse().map_err(|err| format!("not a valid Avro schema: {err}"))?;
        let fields = match &avro {
            Schema::Record(record) => {
                let resolved = ResolvedSchema::try_from(&avro).map_err(|err| format!("unresolved name: {err}"))?;
                let names = resolved.get_names();
                Some(
                    record
                        .fields
                        .iter()
                        .map(|field| FieldShape {
                            name: field.name.clone(),
                            kinds: kinds_of(&field.schema, names, 0),
                        })
                        .collect(),
                )
            }
            _ => None,
        };
        Ok(WriterSchema {
            avro: Arc::new(avro),
            fast,
            fields,
        })
    }
}

fn kinds_of(schema: &Schema, names: &NamesRef<'_>, depth: u8) -> u8 {
    match schema {
        Schema::Union(union) => union
            .variants()
            .iter()
            .fold(0, |kinds, variant| kinds | kinds_of(variant, names, depth + 1)),
        Schema::Ref { name } if depth < 8 => names
            .get(name)
            .map_or(KIND_OTHER, |schema| kinds_of(schema, names, depth + 1)),
        _ => match SchemaKind::from(schema) {
            SchemaKind::Null => KIND_NULL,
            SchemaKind::Boolean => KIND_BOOL,
            SchemaKind::Int | SchemaKind::Long | SchemaKind::TimestampMillis | SchemaKind::LocalTimestampMillis => {
                KIND_LONG
            }
            SchemaKind::Float | SchemaKind::Double => KIND_DOUBLE,
            SchemaKind::String | SchemaKind::Enum | SchemaKind::Uuid => KIND_STRING,
            _ => KIND_OTHER,
        },
    }
}

/// Whether data written with `writer` can be read with `reader` under Avro's schema resolution
/// rules (e.g. a reader may add a field only with a default). Use it to vet a new version of an
/// input schema against the checked-in one before producers switch to it.
pub fn check_compatible(writer: &Schema, reader: &Schema) -> Result<(), WireError> {
    SchemaCompatibility::can_read(writer, reader).map_err(|err| WireError::Incompatible(err.to_string()))
}
