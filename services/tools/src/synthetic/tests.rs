//! The generator's promises: determinism, exact counts in strict time order, profiles first,
//! decodable events, and reference use cases that act on the right segments.

use super::*;
use revenue_core::{decode_json, Mode, UseCaseSet};
use revenue_replay::{replay, ReplayOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Cursor};
use std::path::Path;
use std::sync::Arc;

fn reference() -> Arc<UseCaseSet> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../usecases/reference");
    Arc::new(revenue_usecases::load_dir(&dir).expect("the reference use cases load"))
}

fn small(seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        seed,
        companies: 200,
        events: 3_000,
        ..SyntheticConfig::default()
    }
}

fn jsonl(events: &[SyntheticEvent]) -> String {
    events.iter().map(|e| format!("{}\n", e.json)).collect()
}

#[test]
fn same_seed_same_events_other_seed_other_events() {
    let a: Vec<SyntheticEvent> = Generator::new(small(1)).collect();
    let b: Vec<SyntheticEvent> = Generator::new(small(1)).collect();
    let c: Vec<SyntheticEvent> = Generator::new(small(2)).collect();
    assert_eq!(jsonl(&a), jsonl(&b));
    assert_ne!(jsonl(&a), jsonl(&c));
    let names = |config| -> Vec<String> {
        Generator::new(config)
            .companies()
            .iter()
            .map(|c| c.name.clone())
            .collect()
    };
    assert_eq!(names(small(1)), names(small(1)));
    assert_ne!(names(small(1)), names(small(2)));
}

#[test]
fn exact_count_in_strict_time_order_within_the_span() {
    for config in [
        SyntheticConfig::default(),
        small(3),
        SyntheticConfig {
            companies: 500,
            events: 120,
            days: 1,
            ..SyntheticConfig::default()
        },
        SyntheticConfig {
            companies: 20,
            events: 20_000,
            days: 7,
            ..SyntheticConfig::default()
        },
        SyntheticConfig { events: 0, ..small(4) },
    ] {
        let end = config.start_ts + i64::from(config.days) * DAY;
        let generator = Generator::new(config.clone());
        assert_eq!(generator.len() as u64, config.events);
        let events: Vec<SyntheticEvent> = generator.collect();
        assert_eq!(events.len() as u64, config.events, "{config:?}");
        assert!(events.windows(2).all(|w| w[0].ts < w[1].ts), "{config:?}");
        assert!(events.iter().all(|e| (config.start_ts..end).contains(&e.ts)));
    }
}

#[test]
fn every_company_starts_with_its_profile_early() {
    let config = SyntheticConfig::default();
    let generator = Generator::new(config.clone());
    let companies = generator.companies().to_vec();
    assert_eq!(companies.len(), 2_000);
    assert_eq!(companies[41].id, "c-00042");
    assert!(companies
        .iter()
        .all(|c| (5..=5000).contains(&c.employees) && c.revenue_meur > 0.0));
    let mut first: BTreeMap<String, SyntheticEvent> = BTreeMap::new();
    let mut streams = BTreeMap::new();
    for event in generator {
        let kind: serde_json::Value = serde_json::from_str(&event.json).expect("JSON");
        let kind = kind["type"].as_str().expect("type").to_string();
        streams.insert(kind, event.stream);
        first.entry(event.customer_id.clone()).or_insert(event);
    }
    assert_eq!(first.len(), companies.len());
    for event in first.values() {
        assert!(event.json.contains("\"type\":\"company_profile\""), "{}", event.json);
        assert!(event.ts < config.start_ts + DAY);
        assert_eq!(event.stream, Stream::Transaction);
    }
    let transaction: BTreeSet<&str> = ["company_profile", "purchase", "contract"].into();
    let consent: BTreeSet<&str> = ["consent_given", "consent_withdrawn"].into();
    assert_eq!(streams.len(), 9, "every event type occurs: {streams:?}");
    for (kind, stream) in streams {
        let expected = if transaction.contains(kind.as_str()) {
            Stream::Transaction
        } else if consent.contains(kind.as_str()) {
            Stream::Consent
        } else {
            Stream::Behaviour
        };
        assert_eq!(stream, expected, "{kind}");
    }
}

#[test]
fn every_event_decodes_with_the_reference_catalog() {
    let set = reference();
    for event in Generator::new(SyntheticConfig::default()) {
        let decoded =
            decode_json(&set.catalog, event.json.as_bytes(), None).unwrap_or_else(|e| panic!("{}: {e}", event.json));
        assert!(decoded.type_index.is_some(), "{}", event.json);
        assert_eq!(decoded.customer_id(), event.customer_id);
        assert_eq!(decoded.ts(), event.ts);
    }
}

#[test]
fn money_has_two_decimals_and_products_exist() {
    for event in Generator::new(small(5)) {
        let value: serde_json::Value = serde_json::from_str(&event.json).expect("JSON");
        for key in ["amount", "monthly_value"] {
            if let Some(text) = event.json.split(&format!("\"{key}\":")).nth(1) {
                let number = text.split([',', '}']).next().unwrap_or_default();
                assert!(number.split('.').nth(1).is_some_and(|d| d.len() == 2), "{}", event.json);
                assert!(value[key].as_f64().is_some_and(|v| v > 0.0), "{}", event.json);
            }
        }
        if let Some(product) = value["product"].as_str() {
            let n: u32 = product.strip_prefix("p-").and_then(|n| n.parse().ok()).expect("p-NNNN");
            assert!((1..=300).contains(&n), "{product}");
        }
    }
}

/// Actions per (use case, tier).
type TierActions = BTreeMap<(String, String), u64>;

/// Replays the events through the reference use cases: actions per (use case, tier) from the
/// summary, and each action's (customer, use case).
fn replay_reference(events: &[SyntheticEvent]) -> (TierActions, Vec<(String, String)>) {
    let options = ReplayOptions {
        mode: Mode::Engine,
        source_name: "synthetic".into(),
        ..ReplayOptions::default()
    };
    let mut out = Vec::new();
    let input = jsonl(events);
    let summary = replay(
        reference(),
        BufReader::new(Cursor::new(input)),
        &mut out,
        &options,
        |_| {},
    )
    .expect("replays");
    assert_eq!(summary.events, events.len() as u64);
    assert_eq!(summary.malformed, 0);
    assert_eq!(summary.unknown_event_type, 0);
    let mut tiers = BTreeMap::new();
    for uc in &summary.use_cases {
        assert_eq!(uc.errors, 0, "{}", uc.id);
        for tier in &uc.tiers {
            tiers.insert((uc.id.clone(), tier.tier.clone()), tier.actions);
        }
    }
    let actions = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let action: serde_json::Value = serde_json::from_slice(l).expect("action JSON");
            let field = |key: &str| action[key].as_str().expect("string field").to_string();
            (field("customer_id"), field("use_case_id"))
        })
        .collect();
    (tiers, actions)
}

#[test]
fn every_reference_use_case_and_tier_acts_but_not_everyone() {
    let config = SyntheticConfig::default();
    let events: Vec<SyntheticEvent> = Generator::new(config.clone()).collect();
    let (tiers, actions) = replay_reference(&events);
    for (uc, tier) in [
        ("telecom-cross-sell", "high"),
        ("telecom-cross-sell", "medium"),
        ("lead-scoring-mql", "mql"),
        ("distributor-recommendations", "web"),
        ("distributor-recommendations", "email"),
        ("distributor-recommendations", "field-sales"),
    ] {
        let n = tiers.get(&(uc.to_string(), tier.to_string())).copied().unwrap_or(0);
        println!("{uc}/{tier}: {n} actions");
        assert!(n >= 20, "{uc}/{tier} acted {n} times: {tiers:?}");
    }
    let reached: BTreeSet<&str> = actions.iter().map(|(c, _)| c.as_str()).collect();
    let share = reached.len() as f64 / f64::from(config.companies);
    println!(
        "companies reached: {} of {} ({:.1} %)",
        reached.len(),
        config.companies,
        100.0 * share
    );
    assert!(share < 0.6, "every company acted on: {share}");
    assert!(share > 0.15, "hardly any company acted on: {share}");
    for uc in ["telecom-cross-sell", "lead-scoring-mql", "distributor-recommendations"] {
        let customers: BTreeSet<&str> = actions.iter().filter(|a| a.1 == uc).map(|a| a.0.as_str()).collect();
        println!("{uc}: {} companies", customers.len());
    }
}

#[test]
fn quiet_segments_get_no_actions() {
    let generator = Generator::new(SyntheticConfig::default());
    let segments: Vec<&str> = (0..generator.companies().len()).map(|i| generator.segment(i)).collect();
    let events: Vec<SyntheticEvent> = generator.collect();
    let (_, actions) = replay_reference(&events);
    let segment_of = |customer: &str| {
        let n: usize = customer
            .strip_prefix("c-")
            .and_then(|n| n.parse().ok())
            .expect("c-NNNNN");
        segments[n - 1]
    };
    let mut reached: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (customer, uc) in &actions {
        reached.entry(uc.as_str()).or_default().insert(segment_of(customer));
    }
    println!("segments reached: {reached:?}");
    // these segments show no signal any reference use case acts on
    for quiet in [
        "dormant",
        "telecom/quiet",
        "distributor/edi",
        "distributor/prospect",
        "lead/cold",
    ] {
        for (uc, segments) in &reached {
            assert!(!segments.contains(quiet), "{quiet} got a {uc} action");
        }
    }
    // and each use case reaches the segments it was built for
    for (uc, segments) in [
        ("telecom-cross-sell", ["telecom/curious", "telecom/hot"]),
        (
            "distributor-recommendations",
            ["distributor/returning", "distributor/power"],
        ),
        ("lead-scoring-mql", ["lead/hot", "telecom/hot"]),
    ] {
        for segment in segments {
            assert!(
                reached[uc].contains(segment),
                "{uc} never reached {segment}: {reached:?}"
            );
        }
    }
}
