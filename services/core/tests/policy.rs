//! The contact policy through the same `Processor` the engine and replay run: caps, cooldowns,
//! consent, arbitration, quiet hours (deferral across a restart), holdouts and attribution.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use revenue_core::codec::{decode, encode};
use revenue_core::duration::DAY_MS;
use revenue_core::policy::{in_control, Reason};
use revenue_core::processor::{Counters, DecisionRecord, KeepDecisions, DEFERRED_EVENT_TYPE};
use revenue_core::{decode_json, Action, CustomerState, Mode, Processor, Source, SourceFile, UseCaseSet};
use std::collections::HashMap;
use std::sync::Arc;

/// 2026-01-05 00:00 UTC, a Monday.
const T0: i64 = 1_767_571_200_000;
const HOUR: i64 = 3_600_000;

const CATALOG: &str = r#"
event_types:
  view: {fields: {page: string}}
  click: {fields: {campaign: string}}
  purchase: {fields: {amount: double}}
  profile: {fields: {timezone: string}}
  opt_out: {fields: {channel: string}}
  opt_in: {fields: {channel: string}}
features:
  views: {kind: count, events: [view]}
  clicks: {kind: count, events: [click]}
  timezone: {kind: last, events: [profile], field: timezone}
"#;

fn use_case(id: &str, priority: u32, trigger: &str, tier_type: &str, extra: &str) -> String {
    format!(
        "id: {id}\nversion: 1\ntitle: t\nowner: o\nstatus: live\npriority: {priority}\nvalue_driver: top-line\nchannels: [email, crm, telemarketing]\ndata: {{triggers: [{trigger}], features: [views, clicks]}}\nalgo: {{rule: 'true', score: double(views)}}\naction:\n  retrigger: always\n  tiers: [{{name: t, when: 'true', type: {tier_type}, topic: out}}]\n{extra}"
    )
}

fn set(policy: &str, use_cases: &[(&str, String)]) -> Arc<UseCaseSet> {
    let mut files = vec![
        SourceFile {
            path: "features.yaml".into(),
            text: CATALOG.into(),
        },
        SourceFile {
            path: "policy.yaml".into(),
            text: policy.into(),
        },
    ];
    files.extend(use_cases.iter().map(|(path, text)| SourceFile {
        path: path.to_string(),
        text: text.clone(),
    }));
    match UseCaseSet::compile(&files) {
        Ok(set) => Arc::new(set),
        Err(problems) => panic!(
            "test use cases compile:\n{}",
            problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
        ),
    }
}

/// Many customers through one processor; `restart` re-reads every state through the codec and
/// a new processor, as an engine restart does.
struct Run {
    processor: Processor,
    states: HashMap<String, CustomerState>,
    counters: Counters,
    offset: i64,
    decisions: Vec<DecisionRecord>,
}

impl Run {
    fn new(set: &Arc<UseCaseSet>) -> Run {
        Run {
            processor: Processor::new(set.clone(), Mode::Engine).with_decision_records(1.0),
            states: HashMap::new(),
            counters: Counters::for_set(set),
            offset: 0,
            decisions: Vec::new(),
        }
    }

    fn event(&mut self, customer: &str, kind: &str, ts: i64, fields: &str) -> Vec<Action> {
        let set = self.processor.set().clone();
        let sep = if fields.is_empty() { "" } else { "," };
        let json = format!(r#"{{"customer_id":"{customer}","type":"{kind}","ts":{ts}{sep}{fields}}}"#);
        let event = decode_json(&set.catalog, json.as_bytes(), None).expect("test event decodes");
        let state = self
            .states
            .entry(customer.to_string())
            .or_insert_with(|| CustomerState::new(&set.catalog));
        self.offset += 1;
        let source = Source {
            topic: "t",
            partition: 0,
            offset: self.offset,
        };
        let mut actions = Vec::new();
        let mut out = KeepDecisions::new(|a| actions.push(a));
        self.processor
            .process(state, &event, source, &mut self.counters, &mut out);
        self.decisions.extend(out.take_decisions());
        actions
    }

    fn sweep(&mut self, customer: &str, now: i64) -> Vec<Action> {
        let state = self.states.get_mut(customer).expect("known customer");
        let mut actions = Vec::new();
        let mut out = KeepDecisions::new(|a| actions.push(a));
        self.processor
            .fire_due(state, customer, now, now, &mut self.counters, &mut out);
        self.decisions.extend(out.take_decisions());
        actions
    }

    fn restart(&mut self) {
        let set = self.processor.set().clone();
        let mut buffer = Vec::new();
        for state in self.states.values_mut() {
            encode(&set.catalog, state, &mut buffer);
            *state = decode(&set.catalog, &buffer).expect("state decodes");
        }
        self.processor = Processor::new(set, Mode::Engine).with_decision_records(1.0);
    }

    fn suppressed(&self, use_case: usize, reason: Reason) -> u64 {
        self.counters.use_cases[use_case].suppressed[reason as usize]
    }

    fn index(&self, id: &str) -> usize {
        let set = self.processor.set();
        set.use_cases.iter().position(|uc| &*uc.id == id).expect("use case")
    }
}

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
