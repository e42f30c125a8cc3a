//! The contact policy through the same `Processor` the engine and replay run: caps, cooldowns,
//! consent, arbitration, quiet hours (deferral across a restart), holdouts and attribution.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

mod common;

use common::{set, use_case, Run, CATALOG, HOUR, T0};
use revenue_core::duration::DAY_MS;
use revenue_core::policy::{in_control, Reason};
use revenue_core::processor::{Counters, DecisionRecord, DEFERRED_EVENT_TYPE};
use revenue_core::{Action, SourceFile, UseCaseSet};
use std::sync::Arc;

#[test]
fn frequency_caps_per_channel_and_across_channels() {
    let s = set(
        "channels: {email: {caps: [{max: 2, window: 7d}]}}\nglobal_caps: [{max: 3, window: 7d}]",
        &[
            ("a.yaml", use_case("mail", 50, "view", "email", "")),
            ("b.yaml", use_case("call", 50, "click", "crm_task", "")),
        ],
    );
    let mut run = Run::new(&s);
    let (mail, call) = (run.index("mail"), run.index("call"));
    assert_eq!(run.event("c1", "view", T0, "").len(), 1);
    assert_eq!(run.event("c1", "view", T0 + DAY_MS, "").len(), 1);
    assert!(
        run.event("c1", "view", T0 + 2 * DAY_MS, "").is_empty(),
        "third e-mail in 7 days"
    );
    assert_eq!(run.suppressed(mail, Reason::Cap), 1);
    assert_eq!(
        run.event("c1", "click", T0 + 2 * DAY_MS, "").len(),
        1,
        "crm has no cap of its own"
    );
    assert!(
        run.event("c1", "click", T0 + 3 * DAY_MS, "").is_empty(),
        "fourth contact in 7 days"
    );
    assert_eq!(run.suppressed(call, Reason::Cap), 1);
    // the window rolls: the first two e-mails are 7 days old on day 8
    assert_eq!(run.event("c1", "view", T0 + 8 * DAY_MS, "").len(), 1);
    // another customer has caps of their own
    assert_eq!(run.event("c2", "view", T0 + 2 * DAY_MS, "").len(), 1);
    let capped = run
        .decisions
        .iter()
        .filter(|d| d.outcome.reason() == Some(Reason::Cap))
        .count();
    assert_eq!(capped, 2, "each suppression has a decision record");
}

#[test]
fn cooldown_between_actions_in_a_channel() {
    let s = set(
        "channels: {email: {cooldown: 2d}}",
        &[("a.yaml", use_case("mail", 50, "view", "email", ""))],
    );
    let mut run = Run::new(&s);
    assert_eq!(run.event("c1", "view", T0, "").len(), 1);
    assert!(run.event("c1", "view", T0 + DAY_MS, "").is_empty());
    assert!(run.event("c1", "view", T0 + 2 * DAY_MS - 1, "").is_empty());
    assert_eq!(run.event("c1", "view", T0 + 2 * DAY_MS, "").len(), 1);
    assert_eq!(run.suppressed(0, Reason::Cooldown), 2);
}

#[test]
fn consent_opt_out_before_an_action_suppresses_it_and_opt_in_resumes() {
    let s = set(
        "consent: {opt_out: opt_out, opt_in: opt_in, channel_field: channel}\nchannels: {telemarketing: {consent: opt_in}}",
        &[
            ("a.yaml", use_case("mail", 50, "view", "email", "")),
            ("b.yaml", use_case("call", 60, "click", "telemarketing_handoff", "")),
        ],
    );
    let mut run = Run::new(&s);
    let (mail, call) = (run.index("mail"), run.index("call"));
    assert!(run.event("c1", "opt_out", T0, r#""channel":"email""#).is_empty());
    assert!(run.event("c1", "view", T0 + HOUR, "").is_empty(), "opted out of e-mail");
    assert_eq!(run.suppressed(mail, Reason::Consent), 1);
    let record = run.decisions.last().expect("a decision record");
    assert_eq!(
        (record.outcome.as_str(), record.outcome.reason()),
        ("suppressed", Some(Reason::Consent))
    );
    assert_eq!(record.features.len(), 2, "the features the use case read");
    // telemarketing needs an explicit opt-in
    assert!(run.event("c1", "click", T0 + HOUR, "").is_empty());
    assert_eq!(run.suppressed(call, Reason::Consent), 1);
    run.event("c1", "opt_in", T0 + 2 * HOUR, r#""channel":"email""#);
    assert_eq!(run.event("c1", "view", T0 + 3 * HOUR, "").len(), 1, "re-opted in");
    run.event("c1", "opt_in", T0 + 4 * HOUR, r#""channel":"telemarketing""#);
    assert_eq!(run.event("c1", "click", T0 + 5 * HOUR, "").len(), 1);
    // an opt-out of every channel (no channel field) overrules the earlier opt-ins
    run.event("c1", "opt_out", T0 + 6 * HOUR, "");
    assert!(run.event("c1", "view", T0 + 7 * HOUR, "").is_empty());
    assert!(run.event("c1", "click", T0 + 7 * HOUR, "").is_empty());
    // an opt-out arriving late (older event time) does not overrule a newer opt-in
    run.event("c1", "opt_in", T0 + 8 * HOUR, r#""channel":"email""#);
    run.event("c1", "opt_out", T0 + 5 * HOUR, r#""channel":"email""#);
    assert_eq!(run.event("c1", "view", T0 + 9 * HOUR, "").len(), 1);
}

#[test]
fn arbitration_by_priority_within_the_window() {
    let s = set(
        "arbitration: {window: 1d}",
        &[
            ("a.yaml", use_case("high", 80, "view", "email", "")),
            ("b.yaml", use_case("low", 20, "view", "crm_task", "")),
            ("c.yaml", use_case("low-click", 20, "click", "crm_task", "")),
            ("d.yaml", use_case("top-click", 90, "click", "crm_task", "")),
        ],
    );
    let mut run = Run::new(&s);
    let actions = run.event("c1", "view", T0, "");
    assert_eq!(actions.len(), 1, "one winner per event");
    assert_eq!(&*actions[0].use_case_id, "high");
    assert_eq!(run.suppressed(run.index("low"), Reason::Arbitration), 1);
    // within the window a lower-priority use case still waits; a higher one may act
    let actions = run.event("c1", "click", T0 + 12 * HOUR, "");
    let ids: Vec<&str> = actions.iter().map(|a| &*a.use_case_id).collect();
    assert_eq!(ids, ["top-click"]);
    assert_eq!(run.suppressed(run.index("low-click"), Reason::Arbitration), 1);
    // after the window (from the last contact) the low one acts again
    let actions = run.event("c1", "view", T0 + 12 * HOUR + DAY_MS + 1, "");
    assert_eq!(actions.iter().map(|a| &*a.use_case_id).collect::<Vec<_>>(), ["high"]);
}

/// Issue 14, defect 6: a `policy.yaml` without an `arbitration` section arbitrates nothing —
/// not even two use cases of equal priority contacting one customer at the same time.
#[test]
fn no_arbitration_unless_configured() {
    let s = set(
        "channels: {email: {cost: 0.05}}",
        &[
            ("a.yaml", use_case("mail-a", 50, "view", "email", "")),
            ("b.yaml", use_case("mail-b", 50, "view", "email", "")),
            ("c.yaml", use_case("call-c", 50, "click", "crm_task", "")),
        ],
    );
    let mut run = Run::new(&s);
    // one event triggering two use cases of equal priority: both act
    let actions = run.event("c1", "view", T0, "");
    assert_eq!(
        actions.iter().map(|a| &*a.use_case_id).collect::<Vec<_>>(),
        ["mail-a", "mail-b"]
    );
    // a separate event at the same timestamp: acts too
    let actions = run.event("c1", "click", T0, "");
    assert_eq!(actions.iter().map(|a| &*a.use_case_id).collect::<Vec<_>>(), ["call-c"]);
    for id in ["mail-a", "mail-b", "call-c"] {
        assert_eq!(run.suppressed(run.index(id), Reason::Arbitration), 0, "{id}");
    }
}

/// Issue 14, defect 6: the arbitration window's edge is the edge of every other window —
/// exactly one window later is outside.
#[test]
fn arbitration_window_edge_is_exclusive_like_every_window() {
    let s = set(
        "arbitration: {window: 1d}",
        &[
            ("a.yaml", use_case("high", 80, "view", "email", "")),
            ("b.yaml", use_case("low", 20, "click", "crm_task", "")),
        ],
    );
    let mut run = Run::new(&s);
    assert_eq!(run.event("c1", "view", T0, "").len(), 1);
    // one millisecond inside the window: suppressed
    assert!(run.event("c1", "click", T0 + DAY_MS - 1, "").is_empty());
    assert_eq!(run.suppressed(run.index("low"), Reason::Arbitration), 1);
    // exactly one window later: outside, the lower-priority use case acts
    let actions = run.event("c1", "click", T0 + DAY_MS, "");
    assert_eq!(actions.iter().map(|a| &*a.use_case_id).collect::<Vec<_>>(), ["low"]);
    assert_eq!(run.suppressed(run.index("low"), Reason::Arbitration), 1);
}

/// Issue 14, defect 6: within a configured window, of two use cases of equal priority the one
/// decided first wins; within one event, the first by use-case id.
#[test]
fn arbitration_ties_of_equal_priority_first_decided_wins() {
    let s = set(
        "arbitration: {window: 1d}",
        &[
            ("a.yaml", use_case("beta", 50, "view", "email", "")),
            ("b.yaml", use_case("alpha", 50, "view", "crm_task", "")),
            ("c.yaml", use_case("gamma", 50, "click", "crm_task", "")),
        ],
    );
    let mut run = Run::new(&s);
    // one event, equal priority: the first by id acts, the other is suppressed
    let actions = run.event("c1", "view", T0, "");
    assert_eq!(actions.iter().map(|a| &*a.use_case_id).collect::<Vec<_>>(), ["alpha"]);
    assert_eq!(run.suppressed(run.index("beta"), Reason::Arbitration), 1);
    // a later event within the window: the earlier decision stands
    assert!(run.event("c1", "click", T0 + HOUR, "").is_empty());
    assert_eq!(run.suppressed(run.index("gamma"), Reason::Arbitration), 1);
    // another customer: gamma decided first, so alpha and beta wait
    assert_eq!(run.event("c2", "click", T0, "").len(), 1);
    assert!(run.event("c2", "view", T0, "").is_empty());
    assert_eq!(run.suppressed(run.index("alpha"), Reason::Arbitration), 1);
    assert_eq!(run.suppressed(run.index("beta"), Reason::Arbitration), 2);
}

#[test]
fn arbitration_by_expected_value() {
    let s = set(
        "arbitration: {window: 1d, by: expected_value}",
        &[
            (
                "a.yaml",
                use_case("cheap", 90, "view", "email", "  expected_value: 10.0\n"),
            ),
            (
                "b.yaml",
                use_case("valuable", 10, "view", "crm_task", "  expected_value: score * 100.0\n"),
            ),
        ],
    );
    let mut run = Run::new(&s);
    let actions = run.event("c1", "view", T0, "");
    // views = 1 → valuable expects 100 > 10
    assert_eq!(
        actions.iter().map(|a| &*a.use_case_id).collect::<Vec<_>>(),
        ["valuable"]
    );
    let record = run
        .decisions
        .iter()
        .find(|d| &*d.use_case_id == "cheap")
        .expect("record");
    assert_eq!(record.outcome.reason(), Some(Reason::Arbitration));
    assert_eq!(record.expected_value, Some(10.0));
}

#[test]
fn quiet_hours_defer_in_the_customers_zone_across_a_restart() {
    let s = set(
        "quiet_hours: {start: '21:00', end: '08:00', timezone_feature: timezone, default_timezone: Europe/Berlin}\nconsent: {opt_out: opt_out, opt_in: opt_in, channel_field: channel}",
        &[("a.yaml", use_case("mail", 50, "view", "email", ""))],
    );
    let mut run = Run::new(&s);
    run.event("ny", "profile", T0, r#""timezone":"America/New_York""#);
    // 03:00 UTC on Jan 6 is 22:00 in New York: deferred to 08:00 New York = 13:00 UTC
    let decided = T0 + DAY_MS + 3 * HOUR;
    assert!(run.event("ny", "view", decided, "").is_empty());
    assert_eq!(run.suppressed(0, Reason::QuietHours), 1);
    assert_eq!(run.counters.use_cases[0].deferred, 1);
    let due = T0 + DAY_MS + 13 * HOUR;
    let record = run.decisions.last().expect("record");
    assert_eq!(record.outcome.as_str(), "deferred");
    // the same UTC time is 04:00 in Berlin (the default zone): deferred to 08:00 Berlin
    assert!(run.event("berlin", "view", decided, "").is_empty());
    // the deferred action is due in the customer's state, so it survives a restart
    run.restart();
    let state = &run.states["ny"];
    assert!(state.dues(&s.catalog).iter().any(|(_, at)| *at == due));
    assert!(run.sweep("ny", due - 1).is_empty(), "not before the quiet hours end");
    let actions = run.sweep("ny", due);
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].event_type, DEFERRED_EVENT_TYPE);
    assert_eq!(actions[0].event_ts, due);
    assert!(run.sweep("ny", due + DAY_MS).is_empty(), "sent once");
    assert_eq!(run.counters.use_cases[0].deferred_delivered, 1);
    // Berlin: consent withdrawn while deferred, so nothing is sent at 08:00 Berlin (07:00 UTC)
    run.event("berlin", "opt_out", decided + HOUR, "");
    assert!(run.sweep("berlin", T0 + DAY_MS + 7 * HOUR).is_empty());
    assert_eq!(run.suppressed(0, Reason::Consent), 1);
    // a daytime trigger is sent at once
    assert_eq!(run.event("ny", "view", T0 + 2 * DAY_MS + 15 * HOUR, "").len(), 1);
}

#[test]
fn holdout_customers_get_no_action_but_a_would_have_acted_record() {
    let s = set(
        "attribution: {window: 14d, conversions: [{event: purchase, value: event.amount}]}",
        &[(
            "a.yaml",
            use_case("mail", 50, "view", "email", "holdout: {share: 0.5, salt: s1}\n"),
        )],
    );
    let mut run = Run::new(&s);
    let customers: Vec<String> = (0..400).map(|i| format!("cust-{i}")).collect();
    let mut acted = Vec::new();
    for c in &customers {
        if !run.event(c, "view", T0, "").is_empty() {
            acted.push(c.clone());
        }
    }
    let control: Vec<&String> = customers.iter().filter(|c| !acted.contains(c)).collect();
    assert!((150..250).contains(&control.len()), "{} in control", control.len());
    for c in &control {
        assert!(in_control(0.5, "s1", c), "assignment is the hash of salt and customer");
    }
    let held: Vec<&DecisionRecord> = run
        .decisions
        .iter()
        .filter(|d| d.outcome.as_str() == "held_out")
        .collect();
    assert_eq!(held.len(), control.len());
    assert!(held.iter().all(|d| d.group == "control" && d.tier.as_ref() == "t"));
    assert_eq!(run.suppressed(0, Reason::Holdout), control.len() as u64);
    // the same customers are held out after a restart (state read back, new processor)
    run.restart();
    for c in &customers {
        let acts = !run.event(c, "view", T0 + DAY_MS, "").is_empty();
        assert_eq!(acts, acted.contains(c), "{c} changed group");
    }
    // every customer buys once within the window, treated ones twice: attributed per group
    for c in &customers {
        run.event(c, "purchase", T0 + 2 * DAY_MS, r#""amount":100.0"#);
        if acted.contains(c) {
            run.event(c, "purchase", T0 + 3 * DAY_MS, r#""amount":50.0"#);
        }
        // outside the window: not attributed
        run.event(c, "purchase", T0 + 30 * DAY_MS, r#""amount":1000.0"#);
    }
    let uc = &run.counters.use_cases[0];
    assert_eq!(
        uc.treatment.exposed,
        acted.len() as u64,
        "one exposure per customer and window"
    );
    assert_eq!(uc.control.exposed, control.len() as u64);
    assert_eq!(uc.treatment.converted, acted.len() as u64);
    assert_eq!(uc.treatment.conversions, 2 * acted.len() as u64);
    assert_eq!(uc.treatment.revenue, 150.0 * acted.len() as f64);
    assert_eq!(uc.control.revenue, 100.0 * control.len() as f64);
    let lift = revenue_core::measure::lift(&uc.treatment, &uc.control).expect("both groups");
    assert_eq!(lift.rate_difference.estimate, 0.0);
    let incremental = lift.incremental_revenue.expect("revenue interval");
    assert!((incremental.estimate - 50.0 * acted.len() as f64).abs() < 1e-6);
}

#[test]
fn withdrawn_consent_outlives_state_expiry() {
    let catalog = format!("expire_after: 30d\n{CATALOG}");
    let files = vec![
        SourceFile {
            path: "features.yaml".into(),
            text: catalog,
        },
        SourceFile {
            path: "policy.yaml".into(),
            text: "consent: {opt_out: opt_out, opt_in: opt_in}".into(),
        },
        SourceFile {
            path: "a.yaml".into(),
            text: use_case("mail", 50, "view", "email", ""),
        },
    ];
    let s = Arc::new(UseCaseSet::compile(&files).expect("compiles"));
    let mut run = Run::new(&s);
    run.event("c1", "opt_out", T0, "");
    run.event("c2", "view", T0, "");
    let state = run.states.get_mut("c2").expect("c2");
    let mut sink = |_: Action| {};
    let mut counters = Counters::for_set(&s);
    assert!(
        run.processor
            .fire_due(state, "c2", T0 + 31 * DAY_MS, T0, &mut counters, &mut sink),
        "an ordinary idle customer is dropped"
    );
    let state = run.states.get_mut("c1").expect("c1");
    assert!(
        !run.processor
            .fire_due(state, "c1", T0 + 31 * DAY_MS, T0, &mut counters, &mut sink),
        "an opted-out customer is kept"
    );
    assert_eq!(counters.expired, 2);
    assert!(
        run.event("c1", "view", T0 + 40 * DAY_MS, "").is_empty(),
        "still opted out"
    );
}

#[test]
fn policy_file_problems_name_file_and_key() {
    let files = vec![
        SourceFile {
            path: "features.yaml".into(),
            text: CATALOG.into(),
        },
        SourceFile {
            path: "policy.yaml".into(),
            text: "channels: {email: {cooldown: soon}}\nquiet_hours: {start: '21:00', end: '08:00', timezone_feature: views}\nbogus: 1".into(),
        },
    ];
    let problems = UseCaseSet::compile(&files).expect_err("refused");
    let text = problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n");
    assert!(text.contains("policy.yaml"), "{text}");
    assert!(text.contains("bogus"), "unknown keys are refused: {text}");
    let files = vec![files[0].clone(), SourceFile {
        path: "policy.yaml".into(),
        text: "channels: {email: {cooldown: soon}}\nquiet_hours: {start: '21:00', end: '08:00', timezone_feature: views}".into(),
    }];
    let problems = UseCaseSet::compile(&files).expect_err("refused");
    let keys: Vec<&str> = problems.iter().map(|p| p.key_path.as_str()).collect();
    assert_eq!(keys, ["channels.email.cooldown", "quiet_hours.timezone_feature"]);
}
