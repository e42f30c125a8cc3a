//! The per-partition RocksDB store with its write-back cache, on real RocksDB on disk.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use revenue_core::{decode_json, UseCaseSet};
use revenue_engine::store::PartitionStore;
use std::path::Path;

fn set() -> UseCaseSet {
    revenue_usecases::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../usecases/benchmark")).expect("loads")
}

fn apply(set: &UseCaseSet, store: &mut PartitionStore, customer: &str, ts: i64) {
    let json = format!(r#"{{"customer_id":"{customer}","type":"page_view","ts":{ts},"amount":0.0,"product":"p1"}}"#);
    let event = decode_json(&set.catalog, json.as_bytes(), None).expect("decodes");
    let state = store.customer(&set.catalog, customer).expect("state");
    state.apply(&set.catalog, &event);
}

fn page_views(set: &UseCaseSet, store: &mut PartitionStore, customer: &str) -> revenue_core::expr::Val<'static> {
    let index = set.catalog.feature("page_views").expect("feature");
    let state = store.customer(&set.catalog, customer).expect("state");
    state.read(&set.catalog, index, 0).into_owned()
}

#[test]
fn state_and_offset_survive_a_reopen_together() {
    let set = set();
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut store = PartitionStore::open(dir.path(), 3, 100).expect("opens");
        assert_eq!(
            store.next_offset("events").expect("reads"),
            None,
            "a new store has no offset"
        );
        for ts in 0..5 {
            apply(&set, &mut store, "c1", ts);
        }
        apply(&set, &mut store, "c2", 9);
        store
            .checkpoint(&set.catalog, &[("events", 42), ("other", 7)])
            .expect("checkpoint");
        // changes after the last checkpoint are not durable
        apply(&set, &mut store, "c1", 10);
        store.close().expect("closes");
    }
    let mut store = PartitionStore::open(dir.path(), 3, 100).expect("reopens");
    assert_eq!(store.next_offset("events").expect("reads"), Some(42));
    assert_eq!(
        store.next_offset("other").expect("reads"),
        Some(7),
        "offsets are kept per input topic"
    );
    assert_eq!(page_views(&set, &mut store, "c1"), revenue_core::expr::Val::Int(5));
    assert_eq!(page_views(&set, &mut store, "c2"), revenue_core::expr::Val::Int(1));
    assert_eq!(page_views(&set, &mut store, "new"), revenue_core::expr::Val::Int(0));
    // another partition is another database
    let other = PartitionStore::open(dir.path(), 4, 100).expect("opens");
    assert_eq!(other.next_offset("events").expect("reads"), None);
}

#[test]
fn the_cache_stays_bounded_and_misses_read_rocksdb() {
    let set = set();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = PartitionStore::open(dir.path(), 0, 10).expect("opens");
    for i in 0..25 {
        apply(&set, &mut store, &format!("c{i}"), i);
        if store.over_capacity() {
            store
                .checkpoint(&set.catalog, &[("events", i + 1)])
                .expect("checkpoint");
        }
    }
    store.checkpoint(&set.catalog, &[("events", 25)]).expect("checkpoint");
    assert!(
        store.cached_customers() <= 10,
        "cache holds {}",
        store.cached_customers()
    );
    // every customer is still there, from the cache or from RocksDB
    for i in 0..25 {
        assert_eq!(
            page_views(&set, &mut store, &format!("c{i}")),
            revenue_core::expr::Val::Int(1),
            "c{i}"
        );
    }
    assert!(store.approximate_bytes() > 0);
}
