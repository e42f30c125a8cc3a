//! Unit tests of the contact policy: quiet hours, consent, holdout and compile errors.

use super::*;
use crate::catalog::Catalog;
use crate::spec::{ConsentMode, PolicySpec};
use chrono::{TimeZone, Utc};

fn catalog() -> Catalog {
    let spec: crate::spec::CatalogSpec = serde_yaml_ng::from_str(
        "event_types: {purchase: {fields: {amount: double}}, opt_out: {fields: {channel: string}}, opt_in: {fields: {channel: string}}}\nfeatures: {purchases: {kind: count, events: [purchase]}}",
    )
    .unwrap();
    Catalog::compile("features.yaml", &spec).unwrap()
}

fn policy(yaml: &str) -> Policy {
    let catalog = catalog();
    let spec: PolicySpec = serde_yaml_ng::from_str(yaml).unwrap();
    Policy::compile(&catalog, "policy.yaml", &spec).unwrap()
}

fn ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis()
}

#[test]
fn quiet_hours_in_the_customers_zone() {
    let p = policy("quiet_hours: {start: '21:00', end: '08:00', default_timezone: Europe/Berlin}");
    // 22:30 UTC in January is 23:30 in Berlin: quiet until 08:00 Berlin = 07:00 UTC
    assert_eq!(
        p.quiet_until(None, ms(2026, 1, 10, 22, 30)),
        Some(ms(2026, 1, 11, 7, 0))
    );
    // 01:00 Berlin: same night, same end
    assert_eq!(p.quiet_until(None, ms(2026, 1, 11, 0, 0)), Some(ms(2026, 1, 11, 7, 0)));
    assert_eq!(p.quiet_until(None, ms(2026, 1, 11, 12, 0)), None);
    // the customer's own zone wins: 22:30 UTC is 17:30 in New York, not quiet
    assert_eq!(p.quiet_until(Some("America/New_York"), ms(2026, 1, 10, 22, 30)), None);
    // an unknown zone falls back to the default
    assert!(p.quiet_until(Some("Mars/Olympus"), ms(2026, 1, 10, 22, 30)).is_some());
    // summer time: 08:00 Berlin is 06:00 UTC
    assert_eq!(p.quiet_until(None, ms(2026, 7, 1, 3, 0)), Some(ms(2026, 7, 1, 6, 0)));
}

#[test]
fn daytime_quiet_hours() {
    let p = policy("quiet_hours: {start: '12:00', end: '13:30'}");
    assert_eq!(
        p.quiet_until(None, ms(2026, 3, 2, 12, 15)),
        Some(ms(2026, 3, 2, 13, 30))
    );
    assert_eq!(p.quiet_until(None, ms(2026, 3, 2, 13, 30)), None);
}

#[test]
fn consent_newest_event_wins() {
    let email = ChannelPolicy::unlisted("email");
    let mut opt_in = ChannelPolicy::unlisted("telemarketing");
    opt_in.consent = ConsentMode::OptIn;
    let mut s = PolicyState::default();
    assert!(s.consents(&email));
    assert!(!s.consents(&opt_in), "opt-in channels need an opt-in");
    s.set_consent(ALL_CHANNELS, false, 10);
    assert!(!s.consents(&email));
    s.set_consent(email.key, true, 20);
    assert!(s.consents(&email), "a newer per-channel opt-in");
    assert!(!s.consents(&opt_in));
    s.set_consent(email.key, false, 5);
    assert!(s.consents(&email), "an older event does not overrule");
    s.set_consent(ALL_CHANNELS, true, 30);
    assert!(s.consents(&opt_in));
    assert_eq!(s.consent.len(), 1);
}

#[test]
fn holdout_is_deterministic_and_near_its_share() {
    let n = 20_000;
    let control = (0..n).filter(|i| in_control(0.1, "uc", &format!("c{i}"))).count();
    assert!((1_800..2_200).contains(&control), "{control} of {n}");
    assert!((0..100).all(|i| in_control(0.1, "uc", &format!("c{i}")) == in_control(0.1, "uc", &format!("c{i}"))));
    let moved = (0..n)
        .filter(|i| in_control(0.1, "uc", &format!("c{i}")) != in_control(0.1, "other", &format!("c{i}")))
        .count();
    assert!(moved > 2_000, "a new salt draws a new group");
    assert!(!in_control(0.0, "uc", "c1"));
}

#[test]
fn bad_policy_is_refused_with_keys() {
    let catalog = catalog();
    let spec: PolicySpec = serde_yaml_ng::from_str(
        "channels: {email: {caps: [{max: 0, window: 7x}], cost: -1}}\nquiet_hours: {start: '25:00', end: '08:00', default_timezone: Moon/Base}\nholdout: {share: 0.9}\nconsent: {opt_out: nope, opt_in: purchase}",
    )
    .unwrap();
    let problems = Policy::compile(&catalog, "policy.yaml", &spec).unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|d| d.key_path.as_str()).collect();
    for key in [
        "channels.email.caps[0].max",
        "channels.email.caps[0].window",
        "channels.email.cost",
        "quiet_hours.start",
        "quiet_hours.default_timezone",
        "holdout.share",
        "consent.opt_out",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
}

/// Issue 14, defect 6: the attribution window ends before its length, like every window.
#[test]
fn attribution_window_edge_is_exclusive() {
    let mut s = PolicyState::default();
    let mut totals = crate::measure::GroupTotals::default();
    s.open_exposure(1, false, (0, 0), 10, &mut totals);
    let mut credited = Vec::new();
    for ts in [9, 10] {
        s.attribute((ts, ts), 10, 5.0, |_| {
            credited.push(ts);
            true
        });
    }
    assert_eq!(credited, [9], "a conversion exactly one window later is outside");
    // exactly one window later a new exposure opens; the old one is forgotten there
    s.forget_before(0, 10);
    assert!(s.exposures.is_empty());
    s.open_exposure(1, false, (10, 10), 10, &mut totals);
    assert_eq!(totals.exposed, 2);
}

/// The problems of `policy.yaml` text as (key, message) pairs.
fn structural(text: &str) -> (bool, Vec<(String, String)>) {
    let parsed = parse_policy(&crate::usecase::SourceFile {
        path: POLICY_FILE.into(),
        text: text.into(),
    });
    let problems = parsed
        .problems
        .iter()
        .map(|p| (p.key_path.clone(), p.message.clone()))
        .collect();
    (parsed.spec.is_some(), problems)
}

#[test]
fn a_misspelt_key_is_reported_once_not_again_as_missing() {
    let (usable, problems) = structural("holdout: {shar: 0.1}\narbitration: {windw: 1d}\n");
    assert!(usable);
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["holdout.shar", "arbitration.windw"], "{problems:?}");
}

#[test]
fn a_value_of_the_wrong_type_is_reported_once_and_the_rest_read() {
    let (usable, problems) = structural(
        "attribution: {window: [30d]}\nconsent: {opt_out: {a: 1}, opt_in: b}\nglobal_caps: [{max: x, window: 1d}, {max: 2, window: 7d}]\n",
    );
    assert!(usable);
    // in the order of the file; `conversions` is missing indeed
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "attribution.window",
            "attribution",
            "consent.opt_out",
            "global_caps[0].max"
        ],
        "{problems:?}"
    );
}

#[test]
fn text_that_is_not_yaml_is_one_problem_with_the_policy_hint() {
    let parsed = parse_policy(&crate::usecase::SourceFile {
        path: POLICY_FILE.into(),
        text: "channels: {email: [\n".into(),
    });
    assert!(parsed.spec.is_none());
    assert_eq!(parsed.problems.len(), 1);
    assert!(parsed.problems[0]
        .hint
        .as_deref()
        .unwrap_or_default()
        .contains("policy.yaml"));
}
