//! Actions deferred by quiet hours (issue 14, defect 4): delivered exactly as they were decided
//! — payload, score and recommendations — plus when they were decided; and a deferred action
//! kept in state written by the previous version (state format 3) is still delivered.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use revenue_core::codec::{decode, encode, STATE_FORMAT_VERSION};
use revenue_core::duration::DAY_MS;
use revenue_core::processor::DEFERRED_EVENT_TYPE;
use revenue_core::{Action, ModelFile, UseCaseSet};
use std::sync::Arc;

mod common;
use common::{source_files, Run};

/// 2026-01-05 00:00 UTC, a Monday (Berlin is UTC+1 in winter).
const T0: i64 = 1_767_571_200_000;
const HOUR: i64 = 3_600_000;

const CATALOG: &str = r#"
event_types:
  purchase: {fields: {product: string}}
  page_view: {fields: {product: string}}
features:
  recent_purchases: {kind: recent, events: [purchase], field: product, max_distinct: 20}
  recent_products_viewed: {kind: recent, events: [page_view], field: product, max_distinct: 20}
  last_purchase: {kind: last_ts, events: [purchase]}
  days_since_purchase: {kind: days_since, of: last_purchase}
"#;

const USE_CASE: &str = r#"
id: recommend
version: 1
title: t
owner: o
status: live
priority: 50
value_driver: top-line
channels: [email]
data: {triggers: [page_view], features: [recent_purchases, recent_products_viewed, days_since_purchase]}
algo:
  recommender:
    file: models/recommender.json
    sha256: b908fefad4cadeae3526d4bc57ec3ac3c37fdab4a8154e148cf15d47dcdd8fe9
    purchased: recent_purchases
    viewed: recent_products_viewed
    top_k: 3
action:
  retrigger: always
  tiers:
    - {name: mail, when: 'true', type: email, topic: actions.email, payload: {days_since_purchase: days_since_purchase, template: "'weekly'"}}
"#;

const QUIET: &str = "quiet_hours: {start: '20:00', end: '08:00', default_timezone: Europe/Berlin}";

fn set(policy: &str) -> Arc<UseCaseSet> {
    let files = source_files(CATALOG, policy, &[("recommend.yaml", USE_CASE.to_string())]);
    let model = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../usecases/reference/models/recommender.json"
    ))
    .expect("reference recommender");
    let models = [ModelFile {
        path: "models/recommender.json".into(),
        bytes: model.into(),
    }];
    Arc::new(UseCaseSet::compile_with_models(&files, &models).expect("test use cases compile"))
}

/// The customer's history: a purchase exactly 7 days before a page view at 22:00 Berlin.
const DECIDED: i64 = T0 + 21 * HOUR;
/// 08:00 Berlin the next morning.
const DUE: i64 = T0 + DAY_MS + 7 * HOUR;

fn history(c: &mut Run) -> Vec<Action> {
    assert!(c
        .event("c1", "purchase", DECIDED - 7 * DAY_MS, r#""product":"p-0001""#)
        .is_empty());
    c.event("c1", "page_view", DECIDED, r#""product":"p-0002""#)
}

#[test]
fn a_deferred_action_is_delivered_as_it_was_decided() {
    // without quiet hours the action is sent at once: this is what was decided
    let mut direct = Run::new(&set("channels: {email: {cost: 0.05}}"));
    let decided = history(&mut direct);
    assert_eq!(decided.len(), 1);
    let decided = &decided[0];
    assert!(!decided.recommendations.is_empty(), "the recommender recommends");
    let days = decided
        .payload
        .iter()
        .find(|(k, _)| &**k == "days_since_purchase")
        .expect("payload");
    assert_eq!(days.1, revenue_core::expr::Val::Double(7.0));

    let mut quiet = Run::new(&set(QUIET));
    assert!(history(&mut quiet).is_empty(), "deferred at 22:00");
    // kept in the customer's state: through the codec, as across a restart
    let set = quiet.processor.set().clone();
    let catalog = &set.catalog;
    let mut bytes = Vec::new();
    encode(catalog, &quiet.states["c1"], &mut bytes);
    assert_eq!(bytes[0], STATE_FORMAT_VERSION);
    let restored = decode(catalog, &bytes).expect("state decodes");
    quiet.states.insert("c1".into(), restored);
    assert!(quiet.sweep("c1", DUE - 1).is_empty());
    let delivered = quiet.sweep("c1", DUE);
    assert_eq!(delivered.len(), 1);
    let delivered = &delivered[0];
    assert_eq!(delivered.event_type, DEFERRED_EVENT_TYPE);
    assert_eq!(delivered.event_ts, DUE);
    assert_eq!(delivered.score, decided.score);
    assert_eq!(
        delivered.payload, decided.payload,
        "the payload as decided, not recomputed"
    );
    assert_eq!(delivered.recommendations, decided.recommendations);
    let json = serde_json::to_value(delivered).expect("JSON");
    assert_eq!(json["decided_at"], DECIDED, "when it was decided: {json}");
    // an action sent at once carries no `decided_at`
    assert!(serde_json::to_value(decided).expect("JSON").get("decided_at").is_none());
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// A customer's state as the previous version (state format 3) wrote it: no features, one
/// deferred action of (use case, tier) due at `due`, decided at `decided_at`.
fn format_3_state(use_case: u64, tier: u64, clock: i64, due: i64, decided_at: i64, score: f64) -> Vec<u8> {
    let mut b = vec![3u8];
    varint(&mut b, zigzag(clock));
    varint(&mut b, 0); // features
    varint(&mut b, 1); // fired
    b.extend_from_slice(&tier.to_le_bytes());
    varint(&mut b, zigzag(decided_at));
    varint(&mut b, 0); // timers
    varint(&mut b, 0); // funnel stages
    varint(&mut b, zigzag(clock)); // first seen
    b.push(1); // policy state
    varint(&mut b, 0); // consent
    varint(&mut b, 0); // contacts
    varint(&mut b, 1); // deferred
    b.extend_from_slice(&use_case.to_le_bytes());
    b.extend_from_slice(&tier.to_le_bytes());
    varint(&mut b, zigzag(due));
    varint(&mut b, zigzag(decided_at));
    b.extend_from_slice(&score.to_le_bytes());
    varint(&mut b, 0); // exposures
    varint(&mut b, 0); // decisions
    b
}

#[test]
fn a_deferred_action_in_state_of_the_previous_format_is_still_delivered() {
    let s = set(QUIET);
    let uc = &s.use_cases[0];
    let bytes = format_3_state(uc.key, uc.tiers[0].history_key, DECIDED, DUE, DECIDED, 0.25);
    let state = decode(&s.catalog, &bytes).expect("format 3 decodes");
    let deferred = &state.policy.as_ref().expect("policy state").deferred;
    assert_eq!(deferred.len(), 1);
    assert_eq!((deferred[0].due, deferred[0].decided_at), (DUE, DECIDED));
    let mut c = Run::new(&s);
    c.states.insert("c1".into(), state);
    assert!(c.sweep("c1", DUE - 1).is_empty());
    let delivered = c.sweep("c1", DUE);
    assert_eq!(
        delivered.len(),
        1,
        "the old deferred action is sent when quiet hours end"
    );
    assert_eq!(delivered[0].score, Some(0.25));
    assert_eq!(delivered[0].event_ts, DUE);
    assert!(c.sweep("c1", DUE + DAY_MS).is_empty(), "sent once");
}
