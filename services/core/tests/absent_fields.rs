//! An event that lacks a field: which feature kinds skip it and which read the field's zero
//! value, each kind tried with the field and without it; and the README says exactly that.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use revenue_core::expr::Val;
use revenue_core::spec::CatalogSpec;
use revenue_core::{decode_json, Catalog, CustomerState};

const T0: i64 = 1_700_006_400_000;

fn catalog(features: &str) -> Catalog {
    let yaml = format!(
        "event_types:\n  buy: {{fields: {{product: string, amount: double, qty: int}}}}\nfeatures:\n{features}"
    );
    let spec: CatalogSpec = serde_yaml_ng::from_str(&yaml).expect("test catalog parses");
    Catalog::compile("features.yaml", &spec).expect("test catalog compiles")
}

/// A feature's value after a buy with the fields `first`, then a buy at `T0 + 1000` with `second`.
fn after_two(feature: &str, first: &str, second: &str) -> Val<'static> {
    let c = catalog(&format!("  f: {feature}\n  latest: {{kind: last_ts, events: [buy]}}\n"));
    let mut s = CustomerState::new(&c);
    for json in [
        format!(r#"{{"customer_id":"c1","type":"buy","ts":{T0},{first}}}"#),
        format!(r#"{{"customer_id":"c1","type":"buy","ts":{},{second}}}"#, T0 + 1000),
    ] {
        let event = decode_json(&c, json.as_bytes(), None).expect("test event decodes");
        s.apply(&c, &event);
    }
    s.read(&c, c.feature("f").expect("feature"), T0 + 1000).into_owned()
}

/// The second event with the fields at their zero values, and without them.
const WITH: &str = r#""amount":0.0,"product":"","qty":1"#;
const WITHOUT: &str = r#""qty":1"#;

struct Case {
    kind: &'static str,
    feature: &'static str,
    first: &'static str,
    with: Val<'static>,
    without: Val<'static>,
}

fn case(
    kind: &'static str,
    feature: &'static str,
    first: &'static str,
    with: Val<'static>,
    without: Val<'static>,
) -> Case {
    Case {
        kind,
        feature,
        first,
        with,
        without,
    }
}

fn cases() -> Vec<Case> {
    let p1 = r#""amount":500.0,"product":"p1""#;
    let minus = r#""amount":-500.0,"product":"p1""#;
    vec![
        case("count", "{kind: count, events: [buy]}", p1, Val::Int(2), Val::Int(2)),
        // `sum` and `max` could not tell skipping from adding a zero, but a `default` that only
        // skipped events leave in place, and a negative first value, can
        case(
            "sum",
            "{kind: sum, events: [buy], field: amount, default: -1.0}",
            r#""qty":1"#,
            Val::Double(0.0),
            Val::Double(-1.0),
        ),
        case(
            "min",
            "{kind: min, events: [buy], field: amount}",
            p1,
            Val::Double(0.0),
            Val::Double(500.0),
        ),
        case(
            "max",
            "{kind: max, events: [buy], field: amount}",
            minus,
            Val::Double(0.0),
            Val::Double(-500.0),
        ),
        case(
            "min",
            "{kind: min, events: [buy], field: amount, window: 7d}",
            p1,
            Val::Double(0.0),
            Val::Double(500.0),
        ),
        case(
            "max",
            "{kind: max, events: [buy], field: amount, window: 7d}",
            minus,
            Val::Double(0.0),
            Val::Double(-500.0),
        ),
        case(
            "last",
            "{kind: last, events: [buy], field: product}",
            p1,
            Val::Str("".into()),
            Val::Str("p1".into()),
        ),
        case(
            "first_ts",
            "{kind: first_ts, events: [buy]}",
            p1,
            Val::Int(T0),
            Val::Int(T0),
        ),
        case(
            "last_ts",
            "{kind: last_ts, events: [buy]}",
            p1,
            Val::Int(T0 + 1000),
            Val::Int(T0 + 1000),
        ),
        case(
            "distinct_count",
            "{kind: distinct_count, events: [buy], field: product}",
            p1,
            Val::Int(2),
            Val::Int(1),
        ),
        case(
            "recent",
            "{kind: recent, events: [buy], field: product}",
            p1,
            Val::Int(2),
            Val::Int(1),
        ),
        case(
            "days_since",
            "{kind: days_since, of: latest}",
            p1,
            Val::Double(0.0),
            Val::Double(0.0),
        ),
        // a `where` filter reads an absent field as its zero value; `has` tells it apart
        case(
            "where",
            "{kind: count, events: [buy], where: 'event.amount < 1.0'}",
            p1,
            Val::Int(1),
            Val::Int(1),
        ),
        case(
            "where",
            "{kind: count, events: [buy], where: 'has(event.amount)'}",
            p1,
            Val::Int(2),
            Val::Int(1),
        ),
        case(
            "points",
            "{kind: points, window: 7d, points: [{events: [buy], where: \"event.product == ''\", points: 10}]}",
            p1,
            Val::Double(10.0),
            Val::Double(10.0),
        ),
        case(
            "points",
            "{kind: points, window: 7d, points: [{events: [buy], points: 10}]}",
            p1,
            Val::Double(20.0),
            Val::Double(20.0),
        ),
    ]
}

#[test]
fn every_kind_with_and_without_the_field() {
    for c in cases() {
        assert_eq!(
            after_two(c.feature, c.first, WITH),
            c.with,
            "{}: event with the fields",
            c.feature
        );
        assert_eq!(
            after_two(c.feature, c.first, WITHOUT),
            c.without,
            "{}: event without them",
            c.feature
        );
    }
}

#[test]
fn readme_names_exactly_the_kinds_that_skip() {
    // the kinds whose value differs between an event with zero values and one without fields
    let mut skipping: Vec<&str> = Vec::new();
    for c in cases() {
        if c.with != c.without && c.kind != "where" && !skipping.contains(&c.kind) {
            skipping.push(c.kind);
        }
    }
    assert_eq!(skipping, ["sum", "min", "max", "last", "distinct_count", "recent"]);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).expect("README");
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentence = "An event that lacks the `field` of a `sum`, `min`, `max`, `last`, `distinct_count` or `recent` feature is skipped by it";
    assert!(readme.contains(sentence), "the README lacks: {sentence}");
    assert!(!readme.contains("A field absent from an event reads as its type's zero value;"));
}

/// Found by the reference model (issue 14, R1): a `recent` feature over a bool or double field
/// held nothing; it counts their distinct values like any other field's.
#[test]
fn recent_holds_bool_and_double_values_too() {
    let yaml = "event_types:\n  click: {fields: {ok: bool, amount: double}}\nfeatures:\n  seen_ok: {kind: recent, field: ok}\n  seen_amount: {kind: recent, field: amount}\n";
    let spec: CatalogSpec = serde_yaml_ng::from_str(yaml).expect("test catalog parses");
    let c = Catalog::compile("features.yaml", &spec).expect("test catalog compiles");
    let mut s = CustomerState::new(&c);
    let mut read = Vec::new();
    for (i, (ok, amount)) in [("true", "1.5"), ("false", "2.5"), ("true", "1.5")].iter().enumerate() {
        let json = format!(
            r#"{{"customer_id":"c1","type":"click","ts":{},"ok":{ok},"amount":{amount}}}"#,
            T0 + i as i64
        );
        let event = decode_json(&c, json.as_bytes(), None).expect("test event decodes");
        s.apply(&c, &event);
        let at = T0 + i as i64;
        let ok = s.read(&c, c.feature("seen_ok").expect("feature"), at).into_owned();
        let amount = s.read(&c, c.feature("seen_amount").expect("feature"), at).into_owned();
        read.push((ok, amount));
    }
    assert_eq!(
        read,
        [
            (Val::Int(1), Val::Int(1)),
            (Val::Int(2), Val::Int(2)),
            (Val::Int(2), Val::Int(2))
        ]
    );
}
