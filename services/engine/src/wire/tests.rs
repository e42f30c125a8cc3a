use super::*;
use apache_avro::types::Value;
use apache_avro::Schema;
use revenue_core::expr::Val;
use revenue_core::{Action, UseCaseSet};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const BEHAVIOURAL: &str = include_str!("../../../../schemas/avro/behavioural-event.avsc");
const TRANSACTION: &str = include_str!("../../../../schemas/avro/transaction-event.avsc");
const BEHAVIOURAL_ID: u32 = 1;
const TRANSACTION_ID: u32 = 2;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference() -> UseCaseSet {
    revenue_usecases::load_dir(&repo().join("usecases/reference")).expect("reference use cases load")
}

fn schema_file(name: &str) -> PathBuf {
    repo().join("schemas/avro").join(name)
}

/// The checked-in input schemas under ids 1 and 2, plus `extra` schemas written to a temp dir.
fn decoder_with(format: InputFormat, extra: &[(u32, &str)]) -> (InputDecoder, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = BTreeMap::from([
        (BEHAVIOURAL_ID, schema_file("behavioural-event.avsc")),
        (TRANSACTION_ID, schema_file("transaction-event.avsc")),
    ]);
    for (id, text) in extra {
        let path = dir.path().join(format!("schema-{id}.avsc"));
        std::fs::write(&path, text).expect("write schema");
        files.insert(*id, path);
    }
    let resolver = SchemaResolver::new(SchemaSource::Local(files)).expect("schemas load");
    (InputDecoder::new(format, Some(resolver)), dir)
}

fn decoder(format: InputFormat) -> InputDecoder {
    decoder_with(format, &[]).0
}

fn frame(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = vec![CONFLUENT_MAGIC];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// A Confluent-framed Avro message: `fields` resolved against the schema (unions wrapped, absent
/// optional fields defaulted).
fn avro_message(schema: &str, id: u32, fields: Fields) -> Vec<u8> {
    let schema = Schema::parse_str(schema).expect("test schema parses");
    let record = Value::Record(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    let value = record.resolve(&schema).expect("test record fits its schema");
    frame(id, &apache_avro::to_avro_datum(&schema, value).expect("encodes"))
}

/// An Avro record's fields, by name.
type Fields = Vec<(&'static str, Value)>;

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

/// A variant of a checked-in schema text with one field's JSON replaced (or removed, for `None`).
fn schema_variant(base: &str, field: &str, replacement: Option<serde_json::Value>) -> String {
    let mut schema: serde_json::Value = serde_json::from_str(base).expect("schema is JSON");
    let fields = schema["fields"].as_array_mut().expect("record fields");
    let index = fields.iter().position(|f| f["name"] == field).expect("field exists");
    match replacement {
        Some(new) => fields[index] = new,
        None => {
            fields.remove(index);
        }
    }
    schema.to_string()
}

#[test]
fn json_and_avro_decode_to_the_same_event() {
    let set = reference();
    let catalog = &set.catalog;
    let ts = 1_717_171_717_000i64;
    // JSON, the Avro writer schema and its id, the same event's Avro fields
    let cases: Vec<(&str, &str, u32, Fields)> = vec![
        (
            r#"{"customer_id":"c-1","type":"page_view","ts":1717171717000,"page":"product","product":"p-9","amount":19.5}"#,
            BEHAVIOURAL,
            BEHAVIOURAL_ID,
            vec![
                ("customer_id", s("c-1")),
                ("type", s("page_view")),
                ("ts", Value::Long(ts)),
                ("page", s("product")),
                ("product", s("p-9")),
                ("amount", Value::Double(19.5)),
            ],
        ),
        (
            r#"{"customer_id":"c-2","type":"email_open","ts":1717171717000,"campaign":"spring"}"#,
            BEHAVIOURAL,
            BEHAVIOURAL_ID,
            vec![
                ("customer_id", s("c-2")),
                ("type", s("email_open")),
                ("ts", Value::Long(ts)),
                ("campaign", s("spring")),
            ],
        ),
        (
            r#"{"customer_id":"c-3","type":"webinar","ts":1717171717000,"topic":"pricing \u00e9"}"#,
            BEHAVIOURAL,
            BEHAVIOURAL_ID,
            vec![
                ("customer_id", s("c-3")),
                ("type", s("webinar")),
                ("ts", Value::Long(ts)),
                ("topic", s("pricing é")),
            ],
        ),
        (
            r#"{"customer_id":"c-4","type":"purchase","ts":1717171717000,"product":"p-1","amount":120.25}"#,
            TRANSACTION,
            TRANSACTION_ID,
            vec![
                ("customer_id", s("c-4")),
                ("type", s("purchase")),
                ("ts", Value::Long(ts)),
                ("product", s("p-1")),
                ("amount", Value::Double(120.25)),
            ],
        ),
        (
            r#"{"customer_id":"c-5","type":"contract","ts":1717171717000,"service":"fiber","monthly_value":39.9}"#,
            TRANSACTION,
            TRANSACTION_ID,
            vec![
                ("customer_id", s("c-5")),
                ("type", s("contract")),
                ("ts", Value::Long(ts)),
                ("service", s("fiber")),
                ("monthly_value", Value::Double(39.9)),
            ],
        ),
        (
            r#"{"customer_id":"c-6","type":"company_profile","ts":1717171717000,"industry":"retail","employees":250,"revenue_meur":12.5,"region":"north"}"#,
            TRANSACTION,
            TRANSACTION_ID,
            vec![
                ("customer_id", s("c-6")),
                ("type", s("company_profile")),
                ("ts", Value::Long(ts)),
                ("industry", s("retail")),
                ("employees", Value::Int(250)),
                ("revenue_meur", Value::Double(12.5)),
                ("region", s("north")),
            ],
        ),
        (
            // a type the catalog does not declare: decoded, with no type index
            r#"{"customer_id":"c-7","type":"chat","ts":1717171717000}"#,
            BEHAVIOURAL,
            BEHAVIOURAL_ID,
            vec![("customer_id", s("c-7")), ("type", s("chat")), ("ts", Value::Long(ts))],
        ),
    ];
    let json_decoder = decoder(InputFormat::Json);
    let avro_decoder = decoder(InputFormat::Avro);
    let auto_decoder = decoder(InputFormat::Auto);
    for (json, schema, id, fields) in cases {
        let avro = avro_message(schema, id, fields);
        let from_json = json_decoder.decode(catalog, json.as_bytes(), None).expect(json);
        let from_avro = avro_decoder.decode(catalog, &avro, None).expect(json);
        assert_eq!(from_avro.fields, from_json.fields, "{json}");
        assert_eq!(from_avro.type_index, from_json.type_index, "{json}");
        assert_eq!(from_avro.ts(), ts);
        let auto_json = auto_decoder.decode(catalog, json.as_bytes(), None).expect(json);
        let auto_avro = auto_decoder.decode(catalog, &avro, None).expect(json);
        assert_eq!(auto_json.fields, from_json.fields);
        assert_eq!(auto_avro.fields, from_json.fields);
    }
}

#[test]
fn avro_strings_borrow_from_the_payload() {
    let set = reference();
    let avro = avro_message(
        BEHAVIOURAL,
        BEHAVIOURAL_ID,
        vec![
            ("customer_id", s("c-1")),
            ("type", s("page_view")),
            ("ts", Value::Long(1)),
        ],
    );
    let event = decoder(InputFormat::Avro)
        .decode(&set.catalog, &avro, None)
        .expect("decodes");
    assert!(matches!(&event.fields[0], Some(Val::Str(Cow::Borrowed("c-1")))));
    assert_eq!(event.event_type(), "page_view");
    // optional fields left null are absent
    let page = set.catalog.field("page").expect("page field");
    assert_eq!(event.fields[page], None);
}

#[test]
fn the_message_key_overrides_the_customer_id_in_both_formats() {
    let set = reference();
    let catalog = &set.catalog;
    let decoder = decoder(InputFormat::Auto);
    let json = br#"{"customer_id":"payload","type":"webinar","ts":5}"#;
    let avro = avro_message(
        BEHAVIOURAL,
        BEHAVIOURAL_ID,
        vec![
            ("customer_id", s("payload")),
            ("type", s("webinar")),
            ("ts", Value::Long(5)),
        ],
    );
    for payload in [&json[..], &avro[..]] {
        let keyed = decoder.decode(catalog, payload, Some("key")).expect("decodes");
        assert_eq!(keyed.customer_id(), "key");
        let unkeyed = decoder.decode(catalog, payload, None).expect("decodes");
        assert_eq!(unkeyed.customer_id(), "payload");
        // an empty key is no key
        let empty = decoder.decode(catalog, payload, Some("")).expect("decodes");
        assert_eq!(empty.customer_id(), "payload");
    }
}

#[test]
fn bad_inputs_yield_their_reasons() {
    let set = reference();
    let catalog = &set.catalog;
    let string_amount = schema_variant(
        BEHAVIOURAL,
        "amount",
        Some(serde_json::json!({"name": "amount", "type": "string"})),
    );
    let no_customer = schema_variant(BEHAVIOURAL, "customer_id", None);
    let optional_ts = schema_variant(
        BEHAVIOURAL,
        "ts",
        Some(serde_json::json!({"name": "ts", "type": ["null", "long"], "default": null})),
    );
    let (avro, _dir) = decoder_with(
        InputFormat::Avro,
        &[(10, &string_amount), (11, &no_customer), (12, &optional_ts)],
    );
    let json = decoder(InputFormat::Json);
    let good = avro_message(
        BEHAVIOURAL,
        BEHAVIOURAL_ID,
        vec![
            ("customer_id", s("c-1")),
            ("type", s("page_view")),
            ("ts", Value::Long(1_700_000_000_000)),
            ("page", s("pricing")),
        ],
    );
    let mut trailing = good.clone();
    trailing.push(0);
    let mut bad_magic = good.clone();
    bad_magic[0] = 1;
    let cases: Vec<(&str, &InputDecoder, Vec<u8>, &str)> = vec![
        ("garbage", &avro, b"hello, world".to_vec(), "undecodable"),
        ("bad magic", &avro, bad_magic, "undecodable"),
        ("short frame", &avro, vec![0, 0, 0], "undecodable"),
        ("empty", &avro, vec![], "undecodable"),
        ("unknown id", &avro, frame(99, &good[5..]), "unknown_schema_id"),
        ("truncated body", &avro, good[..good.len() - 4].to_vec(), "undecodable"),
        (
            "huge string length",
            &avro,
            frame(BEHAVIOURAL_ID, &[0xfe, 0xff, 0xff, 0xff, 0x0f, b'x']),
            "undecodable",
        ),
        (
            "negative string length",
            &avro,
            frame(BEHAVIOURAL_ID, &[0x03, b'x']),
            "undecodable",
        ),
        ("header only", &avro, good[..5].to_vec(), "undecodable"),
        ("trailing bytes", &avro, trailing, "undecodable"),
        (
            "wrong field type",
            &avro,
            avro_message(
                &string_amount,
                10,
                vec![
                    ("customer_id", s("c-1")),
                    ("type", s("page_view")),
                    ("ts", Value::Long(1)),
                    ("amount", s("12.5")),
                ],
            ),
            "schema_mismatch",
        ),
        (
            "missing customer id",
            &avro,
            avro_message(&no_customer, 11, vec![("type", s("page_view")), ("ts", Value::Long(1))]),
            "missing_customer_id",
        ),
        (
            "empty customer id",
            &avro,
            avro_message(
                BEHAVIOURAL,
                BEHAVIOURAL_ID,
                vec![("customer_id", s("")), ("type", s("page_view")), ("ts", Value::Long(1))],
            ),
            "missing_customer_id",
        ),
        (
            "empty type",
            &avro,
            avro_message(
                BEHAVIOURAL,
                BEHAVIOURAL_ID,
                vec![("customer_id", s("c-1")), ("type", s("")), ("ts", Value::Long(1))],
            ),
            "missing_type",
        ),
        (
            "null ts",
            &avro,
            avro_message(
                &optional_ts,
                12,
                vec![("customer_id", s("c-1")), ("type", s("page_view")), ("ts", Value::Null)],
            ),
            "missing_timestamp",
        ),
        ("invalid json", &json, b"{\"customer_id\":".to_vec(), "invalid_json"),
        (
            "json wrong type",
            &json,
            br#"{"customer_id":"c","type":"purchase","ts":1,"amount":"x"}"#.to_vec(),
            "wrong_field_type",
        ),
        (
            "json missing ts",
            &json,
            br#"{"customer_id":"c","type":"purchase"}"#.to_vec(),
            "missing_timestamp",
        ),
    ];
    for (what, decoder, payload, reason) in cases {
        match decoder.decode(catalog, &payload, None) {
            Ok(event) => panic!("{what}: decoded {event:?}"),
            Err(err) => {
                assert_eq!(err.reason(), reason, "{what}: {err}");
                assert!(!err.is_transient(), "{what}");
            }
        }
    }
}

#[test]
fn corrupted_messages_fail_without_panicking() {
    let set = reference();
    let decoder = decoder(InputFormat::Auto);
    let good = avro_message(
        TRANSACTION,
        TRANSACTION_ID,
        vec![
            ("customer_id", s("c-6")),
            ("type", s("company_profile")),
            ("ts", Value::Long(1_717_171_717_000)),
            ("industry", s("retail")),
            ("employees", Value::Int(250)),
            ("revenue_meur", Value::Double(12.5)),
            ("region", s("north")),
        ],
    );
    for len in 0..good.len() {
        assert!(
            decoder.decode(&set.catalog, &good[..len], None).is_err(),
            "truncated to {len}"
        );
    }
    for index in 5..good.len() {
        for byte in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[index] = byte;
            let _ = decoder.decode(&set.catalog, &bad, None);
        }
    }
}

#[test]
fn a_schema_mismatch_names_the_field_even_when_the_value_is_null() {
    let set = reference();
    let nullable_string_amount = schema_variant(
        BEHAVIOURAL,
        "amount",
        Some(serde_json::json!({"name": "amount", "type": ["null", "string"], "default": null})),
    );
    let micros_ts = schema_variant(
        BEHAVIOURAL,
        "ts",
        Some(serde_json::json!({"name": "ts", "type": {"type": "long", "logicalType": "timestamp-micros"}})),
    );
    let (avro, _dir) = decoder_with(InputFormat::Avro, &[(20, &nullable_string_amount), (21, &micros_ts)]);
    let base = vec![
        ("customer_id", s("c-1")),
        ("type", s("page_view")),
        ("ts", Value::Long(1)),
    ];
    let message = avro_message(&nullable_string_amount, 20, base.clone());
    let err = avro.decode(&set.catalog, &message, None).expect_err("mismatch");
    assert_eq!(err.reason(), "schema_mismatch");
    let text = err.to_string();
    assert!(text.contains("`amount`") && text.contains("double"), "{text}");

    let message = avro_message(
        &micros_ts,
        21,
        vec![
            ("customer_id", s("c-1")),
            ("type", s("page_view")),
            ("ts", Value::TimestampMicros(1)),
        ],
    );
    let err = avro.decode(&set.catalog, &message, None).expect_err("mismatch");
    assert_eq!(err.reason(), "schema_mismatch");
    assert!(err.to_string().contains("`ts`"), "{err}");
}

#[test]
fn unknown_fields_are_skipped_enums_read_as_strings_and_ints_widen_to_double() {
    let set = reference();
    let catalog = &set.catalog;
    let writer = serde_json::json!({
        "type": "record",
        "name": "Custom",
        "namespace": "test",
        "fields": [
            {"name": "session", "type": {"type": "record", "name": "Session", "fields": [
                {"name": "id", "type": "string"},
                {"name": "tags", "type": {"type": "array", "items": "string"}}
            ]}},
            {"name": "type", "type": {"type": "enum", "name": "Kind", "symbols": ["page_view", "purchase"]}},
            {"name": "customer_id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "previous", "type": ["null", "Session"], "default": null},
            {"name": "ts", "type": "long"},
            {"name": "amount", "type": "int"},
            {"name": "score_map", "type": {"type": "map", "values": "double"}},
            {"name": "product", "type": ["null", "string"], "default": null}
        ]
    })
    .to_string();
    let (avro, _dir) = decoder_with(InputFormat::Avro, &[(30, &writer)]);
    let session = Value::Record(vec![
        ("id".into(), s("s-1")),
        ("tags".into(), Value::Array(vec![s("a"), s("b")])),
    ]);
    let message = avro_message(
        &writer,
        30,
        vec![
            ("session", session.clone()),
            ("type", Value::Enum(1, "purchase".into())),
            ("customer_id", s("0b4f3a0e-6a43-4f55-9a8c-8f6fb2a2e111")),
            ("previous", session),
            ("ts", Value::Long(42)),
            ("amount", Value::Int(7)),
            ("score_map", Value::Map([("x".to_string(), Value::Double(1.0))].into())),
            ("product", s("p-2")),
        ],
    );
    let event = avro.decode(catalog, &message, None).expect("decodes");
    assert_eq!(event.event_type(), "purchase");
    assert_eq!(event.type_index, catalog.event_type("purchase"));
    assert_eq!(event.customer_id(), "0b4f3a0e-6a43-4f55-9a8c-8f6fb2a2e111");
    assert_eq!(event.ts(), 42);
    let amount = catalog.field("amount").expect("amount");
    assert_eq!(event.fields[amount], Some(Val::Double(7.0)));
    let product = catalog.field("product").expect("product");
    assert_eq!(event.fields[product], Some(Val::Str(Cow::Borrowed("p-2"))));
}

#[test]
fn a_writer_schema_that_is_not_a_record_is_a_mismatch() {
    let set = reference();
    let (avro, _dir) = decoder_with(InputFormat::Avro, &[(40, r#""string""#)]);
    let message = frame(
        40,
        &apache_avro::to_avro_datum(&Schema::String, s("x")).expect("encodes"),
    );
    let err = avro.decode(&set.catalog, &message, None).expect_err("not a record");
    assert_eq!(err.reason(), "schema_mismatch");
}

#[test]
fn without_a_resolver_avro_messages_have_unknown_schema_ids() {
    let set = reference();
    let message = avro_message(
        BEHAVIOURAL,
        BEHAVIOURAL_ID,
        vec![("customer_id", s("c")), ("type", s("webinar")), ("ts", Value::Long(1))],
    );
    for format in [InputFormat::Avro, InputFormat::Auto] {
        let decoder = InputDecoder::new(format, None);
        let err = decoder.decode(&set.catalog, &message, None).expect_err("no schemas");
        assert_eq!(err.reason(), "unknown_schema_id");
    }
    let auto = InputDecoder::new(InputFormat::Auto, None);
    let json = auto
        .decode(&set.catalog, br#"{"customer_id":"c","type":"webinar","ts":1}"#, None)
        .expect("JSON still decodes");
    assert_eq!(json.customer_id(), "c");
}

#[test]
fn decoders_and_encoders_are_shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SchemaResolver>();
    send_sync::<InputDecoder>();
    send_sync::<ActionEncoder>();
    send_sync::<WireError>();
}

#[test]
fn formats_deserialize_from_lowercase_names() {
    let input: Vec<InputFormat> = serde_json::from_str(r#"["json","avro","auto"]"#).expect("input formats");
    assert_eq!(input, [InputFormat::Json, InputFormat::Avro, InputFormat::Auto]);
    let output: Vec<OutputFormat> = serde_json::from_str(r#"["avro","json"]"#).expect("output formats");
    assert_eq!(output, [OutputFormat::Avro, OutputFormat::Json]);
}

#[test]
fn local_schema_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = dir.path().join("broken.avsc");
    std::fs::write(&broken, r#"{"type": "record", "name": "X", "fields": [{"name": "a"}]}"#).expect("write");
    let missing = dir.path().join("missing.avsc");
    for path in [broken, missing] {
        let source = SchemaSource::Local(BTreeMap::from([(1, path.clone())]));
        let err = SchemaResolver::new(source).expect_err("fails");
        assert_eq!(err.reason(), "schema_file");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
}

#[test]
fn checked_in_schemas_parse_and_document_every_field() {
    let resolver = SchemaResolver::new(SchemaSource::Local(BTreeMap::from([
        (1, schema_file("behavioural-event.avsc")),
        (2, schema_file("transaction-event.avsc")),
        (3, schema_file("action.avsc")),
    ])))
    .expect("checked-in schemas load");
    assert!(matches!(*resolver.schema(1).expect("known"), Schema::Record(_)));
    assert_eq!(resolver.schema(4).err().map(|e| e.reason()), Some("unknown_schema_id"));
    assert_eq!(resolver.registry_requests(), 0);
    for text in [BEHAVIOURAL, TRANSACTION, ACTION_SCHEMA] {
        let schema: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert!(schema["doc"].is_string());
        let mut records = vec![&schema];
        while let Some(record) = records.pop() {
            for field in record["fields"].as_array().expect("fields") {
                assert!(field["doc"].is_string(), "{} lacks a doc", field["name"]);
                if field["type"]["type"] == "record" {
                    records.push(&field["type"]);
                }
            }
        }
    }
    assert_eq!(
        std::fs::read_to_string(schema_file("action.avsc")).expect("action.avsc"),
        ACTION_SCHEMA
    );
}

#[test]
fn a_new_optional_field_is_compatible_and_a_removed_required_field_is_not() {
    let set = reference();
    let current = Schema::parse_str(BEHAVIOURAL).expect("current");
    let v1_text = schema_variant(BEHAVIOURAL, "topic", None);
    let v1 = Schema::parse_str(&v1_text).expect("v1");
    check_compatible(&v1, &current).expect("v1 data reads with the current schema");

    // events written by v1 read with the current schema, by Avro resolution and by the decoder
    let message = avro_message(
        &v1_text,
        50,
        vec![
            ("customer_id", s("c-1")),
            ("type", s("page_view")),
            ("ts", Value::Long(9)),
            ("page", s("home")),
        ],
    );
    let read = apache_avro::from_avro_datum(&v1, &mut &message[5..], Some(&current)).expect("resolves");
    let Value::Record(fields) = read else {
        panic!("record expected")
    };
    assert!(fields.contains(&("topic".to_string(), Value::Union(0, Box::new(Value::Null)))));
    let (decoder, _dir) = decoder_with(InputFormat::Avro, &[(50, &v1_text)]);
    let event = decoder.decode(&set.catalog, &message, None).expect("decodes");
    let topic = set.catalog.field("topic").expect("topic");
    assert_eq!(event.fields[topic], None);

    let without_ts = Schema::parse_str(&schema_variant(BEHAVIOURAL, "ts", None)).expect("no ts");
    let err = check_compatible(&without_ts, &current).expect_err("ts is required");
    assert_eq!(err.reason(), "incompatible_schema");
}

/// A tiny schema registry: answers `/schemas/ids/7` with `schema`, `/schemas/ids/500` with an
/// error, anything else with 404; counts requests.
fn registry(schema: &str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let found = serde_json::json!({ "schema": schema }).to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(s) => s,
                Err(_) => continue,
            });
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                match reader.read_line(&mut header) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if header == "\r\n" => break,
                    Ok(_) => {}
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let path = request_line.split(' ').nth(1).unwrap_or_default();
            let (status, body) = match path {
                "/schemas/ids/7" => ("200 OK", found.clone()),
                "/schemas/ids/500" => ("500 Internal Server Error", r#"{"error_code":50001}"#.to_string()),
                _ => (
                    "404 Not Found",
                    r#"{"error_code":40403,"message":"Schema not found"}"#.to_string(),
                ),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, requests)
}

#[test]
fn the_registry_is_asked_once_per_schema_id() {
    let set = reference();
    let (url, requests) = registry(BEHAVIOURAL);
    let resolver = SchemaResolver::new(SchemaSource::Registry { url: format!("{url}/") }).expect("resolver");
    let first = resolver.schema(7).expect("fetched");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    let second = resolver.schema(7).expect("cached");
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!(requests.load(Ordering::SeqCst), 1, "the second call makes no request");
    assert_eq!(resolver.registry_requests(), 1);

    // unknown ids are remembered too
    for _ in 0..2 {
        assert_eq!(resolver.schema(8).err().map(|e| e.reason()), Some("unknown_schema_id"));
    }
    assert_eq!(requests.load(Ordering::SeqCst), 2);

    // a failing registry is transient: not cached, asked again
    for _ in 0..2 {
        let err = resolver.schema(500).expect_err("server error");
        assert_eq!(err.reason(), "registry_unavailable");
        assert!(err.is_transient());
    }
    assert_eq!(requests.load(Ordering::SeqCst), 4);

    // and the decoder reads messages with the fetched schema
    let decoder = InputDecoder::new(InputFormat::Avro, Some(resolver));
    let message = avro_message(
        BEHAVIOURAL,
        7,
        vec![
            ("customer_id", s("c-1")),
            ("type", s("webinar")),
            ("ts", Value::Long(3)),
        ],
    );
    let event = decoder.decode(&set.catalog, &message, None).expect("decodes");
    assert_eq!(event.event_type(), "webinar");
    assert_eq!(requests.load(Ordering::SeqCst), 4);
}

#[test]
fn an_unreachable_registry_is_transient() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let resolver = SchemaResolver::new(SchemaSource::Registry {
        url: format!("http://127.0.0.1:{port}"),
    })
    .expect("resolver");
    let err = resolver.schema(1).expect_err("nothing listens");
    assert_eq!(err.reason(), "registry_unavailable");
    assert!(err.is_transient());
}

fn action(score: Option<f64>, payload: Vec<(&str, Val<'static>)>) -> Action {
    revenue_testkit::sample_action(score, payload)
}

fn sample_actions() -> Vec<Action> {
    vec![
        action(
            Some(57.5),
            vec![
                ("stage", Val::Str(Cow::Borrowed("MQL"))),
                ("lead_score", Val::Double(57.5)),
                ("industry", Val::Str(Cow::Owned("retail".into()))),
                ("page_views", Val::Int(-12)),
                ("hot", Val::Bool(true)),
            ],
        ),
        action(None, vec![]),
        action(
            Some(f64::NAN),
            vec![("big", Val::Int(i64::MAX)), ("nan", Val::Double(f64::NAN))],
        ),
        // sent when quiet hours ended, as decided the evening before
        Action {
            event_type: "deferred".into(),
            recommendations: vec![("p-0001".into(), 0.5)],
            decided_at: Some(1_717_100_000_000),
            ..action(Some(0.5), vec![("template", Val::Str(Cow::Borrowed("weekly")))])
        },
    ]
}

fn field<'v>(fields: &'v [(String, Value)], name: &str) -> &'v Value {
    &fields
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no field {name}"))
        .1
}

fn same_f64(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

#[test]
fn actions_round_trip_through_avro() {
    let encoder = ActionEncoder::new(OutputFormat::Avro, 77);
    for action in sample_actions() {
        let mut out = b"previous action".to_vec();
        encoder.encode(&action, &mut out).expect("encodes");
        let bytes = &out[..];
        assert_eq!(&bytes[..5], &[0, 0, 0, 0, 77]);
        let Value::Record(fields) = encoder.decode_avro(bytes).expect("decodes") else {
            panic!("record expected")
        };
        let string = |name: &str| match field(&fields, name) {
            Value::String(s) => s.clone(),
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(string("action_id"), action.action_id);
        assert_eq!(string("use_case_id"), &*action.use_case_id);
        assert_eq!(field(&fields, "use_case_version"), &Value::Int(3));
        assert_eq!(string("status"), "live");
        assert_eq!(string("tier"), &*action.tier);
        assert_eq!(string("action_type"), &*action.action_type);
        assert_eq!(string("channel"), &*action.channel);
        assert_eq!(string("topic"), &*action.topic);
        assert_eq!(string("customer_id"), action.customer_id);
        assert_eq!(string("event_type"), action.event_type);
        assert_eq!(field(&fields, "event_ts"), &Value::TimestampMillis(action.event_ts));
        match (field(&fields, "score"), action.score) {
            (Value::Union(0, null), None) => assert_eq!(**null, Value::Null),
            (Value::Union(1, value), Some(score)) => {
                assert!(matches!(**value, Value::Double(d) if same_f64(d, score)))
            }
            (other, score) => panic!("score {other:?} for {score:?}"),
        }
        let Value::Map(payload) = field(&fields, "payload") else {
            panic!("payload map expected")
        };
        assert_eq!(payload.len(), action.payload.len());
        for (name, value) in &action.payload {
            let decoded = payload.get(name.as_ref()).unwrap_or_else(|| panic!("payload {name}"));
            let equal = match (decoded, value) {
                (Value::Union(1, v), Val::Bool(b)) => **v == Value::Boolean(*b),
                (Value::Union(2, v), Val::Int(i)) => **v == Value::Long(*i),
                (Value::Union(3, v), Val::Double(d)) => matches!(**v, Value::Double(x) if same_f64(x, *d)),
                (Value::Union(4, v), Val::Str(s)) => **v == Value::String(s.to_string()),
                _ => false,
            };
            assert!(equal, "payload {name}: {decoded:?} vs {value:?}");
        }
        match (field(&fields, "decided_at"), action.decided_at) {
            (Value::Union(0, null), None) => assert_eq!(**null, Value::Null),
            (Value::Union(1, at), Some(decided_at)) => assert_eq!(**at, Value::TimestampMillis(decided_at)),
            (other, at) => panic!("decided_at {other:?} for {at:?}"),
        }
        assert_eq!(
            field(&fields, "source"),
            &Value::Record(vec![
                ("topic".into(), Value::String(action.source_topic.clone())),
                ("partition".into(), Value::Int(action.source_partition)),
                ("offset".into(), Value::Long(action.source_offset)),
            ])
        );
    }
    let mut out = Vec::new();
    encoder.encode(&sample_actions()[0], &mut out).expect("encodes");
    let other = ActionEncoder::new(OutputFormat::Avro, 78);
    assert_eq!(
        other.decode_avro(&out).err().map(|e| e.reason()),
        Some("unknown_schema_id")
    );
    out.push(1);
    assert_eq!(encoder.decode_avro(&out).err().map(|e| e.reason()), Some("undecodable"));
}

#[test]
fn both_avro_libraries_write_identical_action_bytes() {
    let encoder = ActionEncoder::new(OutputFormat::Avro, 5);
    let schema = Schema::parse_str(ACTION_SCHEMA).expect("action.avsc parses");
    for action in sample_actions() {
        let mut ours = Vec::new();
        encoder.encode(&action, &mut ours).expect("encodes");
        let mut theirs = Vec::new();
        apache_avro::write_avro_datum_ref(&schema, &AvroAction(&action), &mut theirs).expect("apache-avro encodes");
        assert_eq!(&ours[5..], &theirs[..], "{}", action.payload.len());
    }
}

#[test]
fn json_actions_are_the_action_serialization() {
    let encoder = ActionEncoder::new(OutputFormat::Json, 5);
    let mut out = Vec::new();
    for action in sample_actions() {
        encoder.encode(&action, &mut out).expect("encodes");
        assert_eq!(out, serde_json::to_vec(&action).expect("serializes"));
    }
}

#[test]
fn encode_errors_leave_the_buffer_empty() {
    let encoder = ActionEncoder::new(OutputFormat::Avro, 5);
    let mut action = action(None, vec![]);
    action.use_case_version = u32::MAX; // does not fit the schema's int
    let mut out = b"previous action".to_vec();
    let err = encoder.encode(&action, &mut out).expect_err("out of range");
    assert_eq!(err.reason(), "encode_failed");
    assert!(out.is_empty());
}
