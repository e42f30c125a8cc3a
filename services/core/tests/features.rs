//! Feature state: every kind, window edges, out-of-order events, the binary round trip, and
//! property tests that the incremental state equals a recomputation from the full history.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use revenue_core::codec::{decode, encode};
use revenue_core::duration::DAY_MS;
use revenue_core::expr::Val;
use revenue_core::spec::CatalogSpec;
use revenue_core::{decode_json, Catalog, CustomerState};

const T0: i64 = 1_700_006_400_000; // a UTC midnight: day buckets start here

fn catalog(features: &str) -> Catalog {
    let yaml = format!(
        "event_types:\n  view: {{fields: {{page: string, product: string, amount: double}}}}\n  buy: {{fields: {{product: string, amount: double, qty: int}}}}\nfeatures:\n{features}"
    );
    let spec: CatalogSpec = serde_yaml_ng::from_str(&yaml).expect("test catalog parses");
    Catalog::compile("features.yaml", &spec).expect("test catalog compiles")
}

fn apply(catalog: &Catalog, state: &mut CustomerState, json: &str) {
    let event = decode_json(catalog, json.as_bytes(), None).expect("test event decodes");
    state.apply(catalog, &event);
}

fn buy(ts: i64, amount: f64, product: &str) -> String {
    format!(r#"{{"customer_id":"c1","type":"buy","ts":{ts},"amount":{amount},"product":"{product}"}}"#)
}

fn view(ts: i64, page: &str, product: &str) -> String {
    format!(r#"{{"customer_id":"c1","type":"view","ts":{ts},"page":"{page}","product":"{product}"}}"#)
}

fn value(catalog: &Catalog, state: &CustomerState, name: &str, now: i64) -> Val<'static> {
    let index = catalog.feature(name).expect("feature exists");
    state.read(catalog, index, now).into_owned()
}

#[test]
fn every_all_time_kind() {
    let c = catalog(
        "  n: {kind: count, events: [buy]}\n  total: {kind: sum, events: [buy], field: amount}\n  smallest: {kind: min, events: [buy], field: amount}\n  largest: {kind: max, events: [buy], field: amount}\n  last_product: {kind: last, events: [buy], field: product}\n  first: {kind: first_ts, events: [buy]}\n  latest: {kind: last_ts, events: [buy]}\n  products: {kind: distinct_count, events: [buy], field: product}\n  since: {kind: days_since, of: latest}\n",
    );
    let mut s = CustomerState::new(&c);
    // before any event: defaults
    assert_eq!(value(&c, &s, "n", T0), Val::Int(0));
    assert_eq!(value(&c, &s, "since", T0), Val::Double(36_500.0));
    apply(&c, &mut s, &buy(T0 + 1000, 20.0, "p1"));
    apply(&c, &mut s, &buy(T0 + 3000, 5.5, "p2"));
    apply(&c, &mut s, &buy(T0 + 2000, 100.0, "p1")); // out of order
    apply(&c, &mut s, &view(T0 + 4000, "home", "p9")); // other type: no effect
    assert_eq!(value(&c, &s, "n", T0), Val::Int(3));
    assert_eq!(value(&c, &s, "total", T0), Val::Double(125.5));
    assert_eq!(value(&c, &s, "smallest", T0), Val::Double(5.5));
    assert_eq!(value(&c, &s, "largest", T0), Val::Double(100.0));
    // `last` is by event time: the out-of-order event at +2000 does not replace +3000's value
    assert_eq!(value(&c, &s, "last_product", T0), Val::Str("p2".into()));
    assert_eq!(value(&c, &s, "first", T0), Val::Int(T0 + 1000));
    assert_eq!(value(&c, &s, "latest", T0), Val::Int(T0 + 3000));
    assert_eq!(value(&c, &s, "products", T0), Val::Int(2));
    assert_eq!(value(&c, &s, "since", T0 + 3000 + 2 * DAY_MS), Val::Double(2.0));
}

#[test]
fn filters_by_event_type_and_predicate() {
    let c = catalog("  pricing: {kind: count, events: [view], where: \"event.page == 'pricing'\"}\n  big: {kind: count, where: 'event.amount >= 100.0'}\n");
    let mut s = CustomerState::new(&c);
    apply(&c, &mut s, &view(T0, "pricing", ""));
    apply(&c, &mut s, &view(T0 + 1, "home", ""));
    apply(&c, &mut s, &buy(T0 + 2, 150.0, "p"));
    apply(&c, &mut s, &buy(T0 + 3, 50.0, "p"));
    assert_eq!(value(&c, &s, "pricing", T0), Val::Int(1));
    // `big` has no `events`: every type counts, a view's absent amount reads as 0.0
    assert_eq!(value(&c, &s, "big", T0), Val::Int(1));
}

#[test]
fn window_boundary_is_exclusive_at_exactly_the_window_length() {
    let c = catalog("  n7: {kind: count, events: [buy], window: 7d}\n");
    let mut s = CustomerState::new(&c);
    apply(&c, &mut s, &buy(T0, 1.0, "p"));
    apply(&c, &mut s, &buy(T0 + DAY_MS, 1.0, "p"));
    apply(&c, &mut s, &buy(T0 + 7 * DAY_MS - 1, 1.0, "p"));
    // the clock is just before day 7: days 0..6 are inside
    assert_eq!(value(&c, &s, "n7", T0), Val::Int(3));
    // an event exactly 7 days after the first: day 0 leaves the window
    apply(&c, &mut s, &buy(T0 + 7 * DAY_MS, 1.0, "p"));
    assert_eq!(value(&c, &s, "n7", T0), Val::Int(3));
    // the window slides on any event of the customer, even one the feature does not count
    apply(&c, &mut s, &view(T0 + 8 * DAY_MS, "home", ""));
    assert_eq!(value(&c, &s, "n7", T0), Val::Int(2));
}

#[test]
fn window_takes_out_of_order_events_inside_it_and_drops_older_ones() {
    let c = catalog("  sum7: {kind: sum, events: [buy], field: amount, window: 7d}\n  first7: {kind: first_ts, events: [buy], window: 7d}\n  max7: {kind: max, events: [buy], field: amount, window: 7d}\n");
    let mut s = CustomerState::new(&c);
    apply(&c, &mut s, &buy(T0 + 10 * DAY_MS, 1.0, "p"));
    apply(&c, &mut s, &buy(T0 + 5 * DAY_MS, 2.0, "p")); // late but inside (days 4..10)
    apply(&c, &mut s, &buy(T0 + 3 * DAY_MS, 40.0, "p")); // late and outside: ignored
    assert_eq!(value(&c, &s, "sum7", T0), Val::Double(3.0));
    assert_eq!(value(&c, &s, "first7", T0), Val::Int(T0 + 5 * DAY_MS));
    assert_eq!(value(&c, &s, "max7", T0), Val::Double(2.0));
}

#[test]
fn windowed_last_and_distinct_expire() {
    let c = catalog("  lastp: {kind: last, events: [view], field: product, window: 1d}\n  seen: {kind: distinct_count, events: [view], field: product, window: 2d, max_distinct: 3}\n  latest: {kind: last_ts, events: [view], window: 1d}\n");
    let mut s = CustomerState::new(&c);
    for (i, p) in ["a", "b", "c", "d", "a"].iter().enumerate() {
        apply(&c, &mut s, &view(T0 + i as i64, "product", p));
    }
    assert_eq!(value(&c, &s, "lastp", T0), Val::Str("a".into()));
    // four distinct values, bounded at three
    assert_eq!(value(&c, &s, "seen", T0), Val::Int(3));
    apply(&c, &mut s, &buy(T0 + DAY_MS, 1.0, "x"));
    assert_eq!(
        value(&c, &s, "lastp", T0),
        Val::Str("".into()),
        "last view left the 1d window"
    );
    assert_eq!(value(&c, &s, "latest", T0), Val::Int(0));
    assert_eq!(value(&c, &s, "seen", T0), Val::Int(3), "still inside the 2d window");
    apply(&c, &mut s, &buy(T0 + 2 * DAY_MS, 1.0, "x"));
    assert_eq!(value(&c, &s, "seen", T0), Val::Int(0));
}

#[test]
fn memory_stays_bounded_whatever_the_volume() {
    let c = catalog("  n30: {kind: count, events: [view], window: 30d}\n  seen: {kind: distinct_count, events: [view], field: product, max_distinct: 16}\n");
    let mut s = CustomerState::new(&c);
    let mut buffer = Vec::new();
    for i in 0..20_000i64 {
        apply(&c, &mut s, &view(T0 + i * 3_600_000, "product", &format!("p{i}")));
    }
    encode(&c, &s, &mut buffer);
    // 30 buckets of 16 bytes, 16 distinct entries, headers: well under 1 KiB
    assert!(buffer.len() < 1024, "state is {} bytes", buffer.len());
    // the last event is hour 19,999 = day 833 + 7h: 29 full days and 8 hours of the current one
    assert_eq!(value(&c, &s, "n30", T0), Val::Int(29 * 24 + 8));
    assert_eq!(value(&c, &s, "seen", T0), Val::Int(16));
}

#[test]
fn state_round_trips_and_survives_catalog_changes() {
    let features = "  n: {kind: count, events: [buy]}\n  total: {kind: sum, events: [buy], field: amount, window: 30d}\n  lastp: {kind: last, events: [buy], field: product}\n  seen: {kind: distinct_count, events: [buy], field: product}\n";
    let c = catalog(features);
    let mut s = CustomerState::new(&c);
    for i in 0..10 {
        apply(&c, &mut s, &buy(T0 + i * DAY_MS, i as f64, &format!("p{}", i % 4)));
    }
    s.record_fired(42, T0);
    let mut bytes = Vec::new();
    encode(&c, &s, &mut bytes);
    assert_eq!(decode(&c, &bytes).expect("decodes"), s);
    // corrupt or unknown versions are errors, never panics
    assert!(decode(&c, &bytes[..bytes.len() - 1]).is_err());
    let mut other_version = bytes.clone();
    other_version[0] = 99;
    assert!(decode(&c, &other_version).is_err());

    // a new feature starts empty; a changed definition starts over; the rest is kept
    let changed = catalog("  n: {kind: count, events: [buy]}\n  total: {kind: sum, events: [buy], field: amount, window: 7d}\n  lastp: {kind: last, events: [buy], field: product}\n  seen: {kind: distinct_count, events: [buy], field: product}\n  added: {kind: count}\n");
    let evolved = decode(&changed, &bytes).expect("decodes under the new catalog");
    assert_eq!(value(&changed, &evolved, "n", T0), Val::Int(10));
    assert_eq!(value(&changed, &evolved, "lastp", T0), Val::Str("p1".into()));
    assert_eq!(value(&changed, &evolved, "total", T0), Val::Double(0.0));
    assert_eq!(value(&changed, &evolved, "added", T0), Val::Int(0));
    assert_eq!(evolved.last_fired(42), Some(T0));
}

// ---- property tests: incremental state == recomputation from the whole history ----

#[derive(Debug, Clone)]
struct Ev {
    buy: bool,
    ts: i64,
    amount: f64,
    product: u8,
}

fn history() -> impl Strategy<Value = Vec<Ev>> {
    // mostly increasing times with jitter back by up to 3 days: out-of-order inside and
    // outside the windows
    prop::collection::vec(
        (
            any::<bool>(),
            0i64..2 * DAY_MS,
            -3 * DAY_MS..0i64,
            any::<bool>(),
            1u32..100_000,
            0u8..12,
        ),
        1..120,
    )
    .prop_map(|steps| {
        let mut clock = T0;
        steps
            .into_iter()
            .map(|(buy, advance, back, late, cents, product)| {
                clock += advance;
                let ts = if late { clock + back } else { clock };
                Ev {
                    buy,
                    ts,
                    amount: cents as f64 / 100.0,
                    product,
                }
            })
            .collect()
    })
}

fn in_window(window_days: Option<i64>, clock: i64, ts: i64) -> bool {
    match window_days {
        None => true,
        Some(days) => ts.div_euclid(DAY_MS) > clock.div_euclid(DAY_MS) - days,
    }
}

/// What each feature should read after the whole history, computed from scratch.
fn recompute(h: &[Ev], kind: &str, window: Option<i64>, max_distinct: usize) -> Val<'static> {
    let clock = h.iter().map(|e| e.ts).max().unwrap_or(i64::MIN);
    let buys: Vec<(usize, &Ev)> = h
        .iter()
        .enumerate()
        .filter(|(_, e)| e.buy && in_window(window, clock, e.ts))
        .collect();
    let amounts = buys.iter().map(|(_, e)| e.amount);
    match kind {
        "count" => Val::Int(buys.len() as i64),
        "sum" => Val::Double(amounts.sum()),
        "min" => Val::Double(amounts.reduce(f64::min).unwrap_or(0.0)),
        "max" => Val::Double(amounts.reduce(f64::max).unwrap_or(0.0)),
        "first_ts" => Val::Int(buys.iter().map(|(_, e)| e.ts).min().unwrap_or(0)),
        "last_ts" => Val::Int(buys.iter().map(|(_, e)| e.ts).max().unwrap_or(0)),
        "last" => {
            // the latest event time wins; among equal times, the later arrival
            let all: Vec<(usize, &Ev)> = h.iter().enumerate().filter(|(_, e)| e.buy).collect();
            let latest = all.iter().max_by_key(|(i, e)| (e.ts, *i));
            match latest {
                Some((_, e)) if in_window(window, clock, e.ts) => Val::Str(format!("p{}", e.product).into()),
                _ => Val::Str("".into()),
            }
        }
        "distinct_count" => {
            let mut latest: std::collections::HashMap<u8, i64> = Default::default();
            for e in h.iter().filter(|e| e.buy) {
                let t = latest.entry(e.product).or_insert(e.ts);
                *t = (*t).max(e.ts);
            }
            let n = latest.values().filter(|t| in_window(window, clock, **t)).count();
            Val::Int(n.min(max_distinct) as i64)
        }
        other => unreachable!("kind {other}"),
    }
}

fn close(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Double(x), Val::Double(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
        _ => a == b,
    }
}

const KINDS: [&str; 8] = [
    "count",
    "sum",
    "min",
    "max",
    "first_ts",
    "last_ts",
    "last",
    "distinct_count",
];

fn property_catalog() -> Catalog {
    let mut features = String::new();
    for kind in KINDS {
        let field = match kind {
            "sum" | "min" | "max" => ", field: amount",
            "last" | "distinct_count" => ", field: product",
            _ => "",
        };
        let bound = if kind == "distinct_count" {
            ", max_distinct: 5"
        } else {
            ""
        };
        features.push_str(&format!(
            "  {kind}_all: {{kind: {kind}, events: [buy]{field}{bound}}}\n"
        ));
        features.push_str(&format!(
            "  {kind}_3d: {{kind: {kind}, events: [buy]{field}{bound}, window: 3d}}\n"
        ));
    }
    catalog(&features)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn incremental_equals_recomputation(h in history()) {
        let c = property_catalog();
        let mut s = CustomerState::new(&c);
        for e in &h {
            let json = if e.buy { buy(e.ts, e.amount, &format!("p{}", e.product)) } else { view(e.ts, "home", "") };
            apply(&c, &mut s, &json);
        }
        for kind in KINDS {
            for (suffix, window) in [("all", None), ("3d", Some(3))] {
                let name = format!("{kind}_{suffix}");
                let got = value(&c, &s, &name, T0);
                let want = recompute(&h, kind, window, 5);
                prop_assert!(close(&got, &want), "{}: incremental {:?} != recomputed {:?}", name, got, want);
            }
        }
        let mut bytes = Vec::new();
        encode(&c, &s, &mut bytes);
        prop_assert_eq!(decode(&c, &bytes).expect("round trip"), s);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let c = property_catalog();
        let _ = decode(&c, &bytes);
    }
}
