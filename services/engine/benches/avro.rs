//! Avro on the hot path: action encoding with `serde_avro_fast` (what `ActionEncoder` uses) against
//! `apache-avro`, and input decoding (Avro and JSON) for comparison. Single thread.
//! `cargo bench -p revenue-engine --bench avro`; `cargo test --benches` runs every case once, and
//! checks that both Avro libraries write byte-identical bodies.

// A bench binary: it reports on stdout and stops on a broken setup
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use apache_avro::types::Value;
use criterion::{criterion_group, criterion_main, Criterion};
use revenue_core::expr::Val;
use revenue_core::Action;
use revenue_engine::wire::{
    ActionEncoder, AvroAction, InputDecoder, InputFormat, OutputFormat, SchemaResolver, SchemaSource, ACTION_SCHEMA,
};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::path::Path;

fn action() -> Action {
    revenue_testkit::sample_action(
        Some(57.0),
        vec![
            ("stage", Val::Str(Cow::Borrowed("MQL"))),
            ("lead_score", Val::Double(57.0)),
            ("industry", Val::Str(Cow::Owned("retail".into()))),
        ],
    )
}

/// The action as an `apache_avro` value (payload in a `HashMap`, so entry order is the map's).
fn action_value(action: &Action) -> Value {
    let payload: HashMap<String, Value> = action
        .payload
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Val::Bool(b) => Value::Union(1, Box::new(Value::Boolean(*b))),
                Val::Int(i) => Value::Union(2, Box::new(Value::Long(*i))),
                Val::Double(d) => Value::Union(3, Box::new(Value::Double(*d))),
                Val::Str(s) => Value::Union(4, Box::new(Value::String(s.to_string()))),
            };
            (name.to_string(), value)
        })
        .collect();
    let score = match action.score {
        Some(s) => Value::Union(1, Box::new(Value::Double(s))),
        None => Value::Union(0, Box::new(Value::Null)),
    };
    Value::Record(vec![
        ("action_id".into(), Value::String(action.action_id.clone())),
        ("use_case_id".into(), Value::String(action.use_case_id.to_string())),
        ("use_case_version".into(), Value::Int(action.use_case_version as i32)),
        ("status".into(), Value::String(action.status.as_str().into())),
        ("tier".into(), Value::String(action.tier.to_string())),
        ("action_type".into(), Value::String(action.action_type.to_string())),
        ("channel".into(), Value::String(action.channel.to_string())),
        ("topic".into(), Value::String(action.topic.to_string())),
        ("customer_id".into(), Value::String(action.customer_id.clone())),
        ("event_type".into(), Value::String(action.event_type.clone())),
        ("event_ts".into(), Value::TimestampMillis(action.event_ts)),
        ("score".into(), score),
        ("payload".into(), Value::Map(payload)),
        (
            "source".into(),
            Value::Record(vec![
                ("topic".into(), Value::String(action.source_topic.clone())),
                ("partition".into(), Value::Int(action.source_partition)),
                ("offset".into(), Value::Long(action.source_offset)),
            ]),
        ),
        ("recommendations".into(), Value::Array(Vec::new())),
        ("decided_at".into(), Value::Union(0, Box::new(Value::Null))),
    ])
}

fn action_encoding(c: &mut Criterion) {
    let action = action();
    let mut group = c.benchmark_group("action encoding");
    let encoder = ActionEncoder::new(OutputFormat::Avro, 1);
    let mut out = Vec::with_capacity(256);
    group.bench_function("ActionEncoder::encode (serde_avro_fast, framed)", |b| {
        b.iter(|| {
            encoder.encode(black_box(&action), &mut out).expect("encodes");
            black_box(&out);
        })
    });

    let fast_schema: serde_avro_fast::Schema = ACTION_SCHEMA.parse().expect("schema");
    group.bench_function("serde_avro_fast::to_datum, new SerializerConfig", |b| {
        b.iter(|| {
            out.clear();
            let config = &mut serde_avro_fast::ser::SerializerConfig::new(&fast_schema);
            serde_avro_fast::to_datum(&AvroAction(black_box(&action)), &mut out, config).expect("encodes");
            black_box(&out);
        })
    });
    let mut config = serde_avro_fast::ser::SerializerConfig::new(&fast_schema);
    group.bench_function("serde_avro_fast::to_datum, reused SerializerConfig", |b| {
        b.iter(|| {
            out.clear();
            serde_avro_fast::to_datum(&AvroAction(black_box(&action)), &mut out, &mut config).expect("encodes");
            black_box(&out);
        })
    });

    let schema = apache_avro::Schema::parse_str(ACTION_SCHEMA).expect("schema");
    group.bench_function("apache_avro::write_avro_datum_ref (serde)", |b| {
        b.iter(|| {
            out.clear();
            apache_avro::write_avro_datum_ref(&schema, &AvroAction(black_box(&action)), &mut out).expect("encodes");
            black_box(&out);
        })
    });
    // the two libraries must agree byte for byte, and the framed encoder adds only the header
    let mut fast_bytes = Vec::new();
    let mut config = serde_avro_fast::ser::SerializerConfig::new(&fast_schema);
    serde_avro_fast::to_datum(&AvroAction(&action), &mut fast_bytes, &mut config).expect("encodes");
    let mut apache_bytes = Vec::new();
    apache_avro::write_avro_datum_ref(&schema, &AvroAction(&action), &mut apache_bytes).expect("encodes");
    assert_eq!(apache_bytes, fast_bytes, "byte-identical bodies");
    let mut framed = Vec::new();
    encoder.encode(&action, &mut framed).expect("encodes");
    assert_eq!(framed[5..], fast_bytes[..], "the framed encoder writes the same body");

    group.bench_function("apache_avro::to_avro_datum (types::Value, validated)", |b| {
        b.iter(|| {
            let bytes = apache_avro::to_avro_datum(&schema, action_value(black_box(&action))).expect("encodes");
            black_box(bytes);
        })
    });
    let json = ActionEncoder::new(OutputFormat::Json, 1);
    group.bench_function("ActionEncoder::encode (JSON)", |b| {
        b.iter(|| {
            json.encode(black_box(&action), &mut out).expect("encodes");
            black_box(&out);
        })
    });
    group.finish();
}

/// Input decoding with the reference catalog: a page_view with 3 optional fields.
fn input_decoding(c: &mut Criterion) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let set = revenue_usecases::load_dir(&repo.join("usecases/reference")).expect("reference use cases");
    let resolver = SchemaResolver::new(SchemaSource::Local(BTreeMap::from([(
        1,
        repo.join("schemas/avro/behavioural-event.avsc"),
    )])))
    .expect("schemas");
    let writer = resolver.schema(1).expect("schema 1");
    let record = Value::Record(vec![
        ("customer_id".into(), Value::String("c-0012345".into())),
        ("type".into(), Value::String("page_view".into())),
        ("ts".into(), Value::Long(1_717_171_717_000)),
        ("page".into(), Value::String("product".into())),
        ("product".into(), Value::String("p-123".into())),
        ("amount".into(), Value::Double(19.5)),
    ])
    .resolve(&writer)
    .expect("record fits");
    let mut avro = vec![0, 0, 0, 0, 1];
    avro.extend(apache_avro::to_avro_datum(&writer, record).expect("encodes"));
    let json_event = br#"{"customer_id":"c-0012345","type":"page_view","ts":1717171717000,"page":"product","product":"p-123","amount":19.5}"#;
    let avro_decoder = InputDecoder::new(InputFormat::Avro, Some(resolver));
    let json_decoder = InputDecoder::new(InputFormat::Json, None);
    let mut group = c.benchmark_group("input decoding");
    group.bench_function("InputDecoder::decode (Avro, serde_avro_fast)", |b| {
        b.iter(|| {
            let event = avro_decoder
                .decode(&set.catalog, black_box(&avro), None)
                .expect("decodes");
            black_box(event);
        })
    });
    group.bench_function("apache_avro::from_avro_datum (types::Value, for reference)", |b| {
        b.iter(|| {
            let value = apache_avro::from_avro_datum(&writer, &mut black_box(&avro[5..]), None).expect("decodes");
            black_box(value);
        })
    });
    group.bench_function("InputDecoder::decode (JSON)", |b| {
        b.iter(|| {
            let event = json_decoder
                .decode(&set.catalog, black_box(json_event), None)
                .expect("decodes");
            black_box(event);
        })
    });
    group.finish();
}

criterion_group!(benches, action_encoding, input_decoding);
criterion_main!(benches);
