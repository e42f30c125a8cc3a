//! The "Algo" range beyond rules: lead-scoring points with decay and funnel stages, linear /
//! logistic / ONNX models, timers and state expiry — through the same `Processor` the engine
//! and replay run.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use revenue_core::codec::{decode, encode};
use revenue_core::duration::DAY_MS;
use revenue_core::expr::Val;
use revenue_core::processor::Counters;
use revenue_core::{decode_json, Action, CustomerState, Mode, ModelFile, Processor, Source, SourceFile, UseCaseSet};
use std::sync::Arc;

const T0: i64 = 1_700_006_400_000;

const CATALOG: &str = r#"
expire_after: 100d
event_types:
  view: {fields: {page: string, product: string}}
  click: {fields: {campaign: string}}
  webinar: {fields: {topic: string}}
  buy: {fields: {product: string, amount: double}}
features:
  points:
    kind: points
    half_life: 10d
    points:
      - {events: [view], where: "event.page == 'pricing'", points: 10}
      - {events: [view], points: 1}
      - {events: [webinar], points: 20}
  points_window:
    kind: points
    window: 7d
    points: [{events: [click], points: 5}]
  pricing_views: {kind: count, events: [view], where: "event.page == 'pricing'"}
  clicks: {kind: count, events: [click]}
  buys: {kind: count, events: [buy]}
  bought: {kind: recent, events: [buy], field: product, max_distinct: 3}
"#;

fn set_with(use_cases: &[(&str, &str)], models: &[ModelFile]) -> Result<Arc<UseCaseSet>, String> {
    let mut files = vec![SourceFile {
        path: "features.yaml".into(),
        text: CATALOG.into(),
    }];
    files.extend(use_cases.iter().map(|(path, text)| SourceFile {
        path: path.to_string(),
        text: text.to_string(),
    }));
    UseCaseSet::compile_with_models(&files, models)
        .map(Arc::new)
        .map_err(|problems| problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))
}

fn set(use_cases: &[(&str, &str)]) -> Arc<UseCaseSet> {
    set_with(use_cases, &[]).unwrap_or_else(|e| panic!("test use cases compile:\n{e}"))
}

fn header(id: &str, extra: &str) -> String {
    format!("id: {id}\nversion: 1\ntitle: t\nowner: o\nstatus: live\nvalue_driver: top-line\nchannels: [email, crm]\n{extra}")
}

/// Runs events (JSON) for one customer through a processor; returns the actions.
struct Run {
    processor: Processor,
    state: CustomerState,
    counters: Counters,
    offset: i64,
}

impl Run {
    fn new(set: &Arc<UseCaseSet>) -> Run {
        Run {
            processor: Processor::new(set.clone(), Mode::Engine),
            state: CustomerState::new(&set.catalog),
            counters: Counters::for_set(set),
            offset: 0,
        }
    }

    fn event(&mut self, json: &str) -> Vec<Action> {
        let catalog = &self.processor.set().catalog;
        let event = decode_json(catalog, json.as_bytes(), None).expect("test event decodes");
        let mut actions = Vec::new();
        self.offset += 1;
        let source = Source {
            topic: "t",
            partition: 0,
            offset: self.offset,
        };
        self.processor
            .process(&mut self.state, &event, source, &mut self.counters, &mut |a: Action| {
                actions.push(a)
            });
        actions
    }

    /// A sweep at `now` (event time and wall clock): returns the actions and whether the
    /// customer expired.
    fn sweep(&mut self, now: i64) -> (Vec<Action>, bool) {
        let mut actions = Vec::new();
        let expired = self
            .processor
            .fire_due(&mut self.state, "c1", now, now, &mut self.counters, &mut |a: Action| {
                actions.push(a)
            });
        (actions, expired)
    }

    fn feature(&self, name: &str, now: i64) -> f64 {
        let catalog = &self.processor.set().catalog;
        let index = catalog.feature(name).expect("feature");
        self.state.read(catalog, index, now).as_f64().expect("numeric")
    }
}

fn ev(kind: &str, ts: i64, fields: &str) -> String {
    let sep = if fields.is_empty() { "" } else { "," };
    format!(r#"{{"customer_id":"c1","type":"{kind}","ts":{ts}{sep}{fields}}}"#)
}

fn tiers(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| format!("{}/{}", a.use_case_id, a.tier))
        .collect()
}

#[test]
fn points_decay_with_the_half_life_and_count_over_a_window() {
    let s = set(&[("uc.yaml", &format!("{}data: {{triggers: [view], features: [points]}}\nalgo: {{score: points}}\naction: {{tiers: [{{name: t, min_score: 1000.0, type: email, topic: a}}]}}\n", header("u", "")))]);
    let mut run = Run::new(&s);
    run.event(&ev("view", T0, r#""page":"pricing""#)); // 10 + 1
    run.event(&ev("webinar", T0, r#""topic":"x""#)); // 20
    assert!((run.feature("points", T0) - 31.0).abs() < 1e-9);
    // ten days later the points are worth half; twenty days, a quarter
    assert!((run.feature("points", T0 + 10 * DAY_MS) - 15.5).abs() < 1e-9);
    assert!((run.feature("points", T0 + 20 * DAY_MS) - 7.75).abs() < 1e-9);
    // a new event adds to the decayed total
    run.event(&ev("view", T0 + 10 * DAY_MS, r#""page":"home""#));
    assert!((run.feature("points", T0 + 10 * DAY_MS) - 16.5).abs() < 1e-9);
    // a late event's points are decayed to the latest time, as if it had arrived in order
    run.event(&ev("webinar", T0, r#""topic":"late""#));
    assert!((run.feature("points", T0 + 10 * DAY_MS) - 26.5).abs() < 1e-9);
    // rolling window: clicks count 5 for 7 days, then drop out
    run.event(&ev("click", T0 + 10 * DAY_MS, r#""campaign":"c""#));
    assert!((run.feature("points_window", T0 + 10 * DAY_MS) - 5.0).abs() < 1e-9);
    run.event(&ev("view", T0 + 18 * DAY_MS, r#""page":"home""#));
    assert!((run.feature("points_window", T0 + 18 * DAY_MS)).abs() < 1e-9);
    // the state round-trips through the binary form
    let mut bytes = Vec::new();
    encode(&s.catalog, &run.state, &mut bytes);
    assert_eq!(decode(&s.catalog, &bytes).expect("decodes"), run.state);
}

#[test]
fn points_rules_are_checked() {
    let bad = CATALOG
        .replace("half_life: 10d", "half_life: 10d\n    window: 7d")
        .replace("points: 20}", "points: 20}\n      - {events: [nope], points: 1}");
    let files = [SourceFile {
        path: "features.yaml".into(),
        text: bad,
    }];
    let problems = UseCaseSet::compile(&files).expect_err("refused");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|p| p.contains("features.points.half_life") && p.contains("`half_life` and `window` both given")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|p| p.contains("features.points.points[3].events[0]") && p.contains("unknown event type `nope`")),
        "{text:?}"
    );
}

#[test]
fn funnel_stages_are_emitted_once_each_in_order_and_never_go_down() {
    let uc = format!(
        "{}data: {{triggers: [view, webinar], features: [points]}}\nalgo:\n  score: points\n  funnel:\n    topic: funnel.stages\n    stages: [{{name: MQL, min_score: 20.0}}, {{name: SAL, min_score: 25.0}}, {{name: SQL, min_score: 30.0}}]\naction: {{tiers: [{{name: mql, min_score: 20.0, type: crm_task, topic: crm}}]}}\n",
        header("leads", "")
    );
    let s = set(&[("leads.yaml", &uc)]);
    let mut run = Run::new(&s);
    assert!(run.event(&ev("view", T0, r#""page":"pricing""#)).is_empty()); // 11 points
                                                                           // a day later +20 → 30.3: MQL, SAL and SQL reached by one event, each a stage change, in
                                                                           // order; then the CRM task the same score triggers (contacts pass the contact policy last)
    let actions = run.event(&ev("webinar", T0 + DAY_MS, r#""topic":"a""#));
    assert_eq!(tiers(&actions), ["leads/MQL", "leads/SAL", "leads/SQL", "leads/mql"]);
    let mql = &actions[0];
    assert_eq!(mql.action_type.as_ref(), "stage_change");
    assert_eq!(mql.channel.as_ref(), "funnel");
    assert_eq!(mql.topic.as_ref(), "funnel.stages");
    assert_eq!(mql.payload[0], ("stage".into(), Val::Str("MQL".into())));
    assert_eq!(mql.payload[1], ("previous_stage".into(), Val::Str("".into())));
    assert_eq!(mql.payload[2], ("days_in_previous_stage".into(), Val::Double(1.0)));
    assert_eq!(mql.payload[3], ("days_since_first_seen".into(), Val::Double(1.0)));
    let sql = &actions[2];
    assert_eq!(sql.payload[1], ("previous_stage".into(), Val::Str("SAL".into())));
    assert_eq!(sql.payload[2], ("days_in_previous_stage".into(), Val::Double(0.0)));
    // every action has its own id
    let mut ids: Vec<&str> = actions.iter().map(|a| a.action_id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    // more points: no stage left to reach; the score decays below every threshold: the lead
    // keeps its stage, nothing is emitted
    assert!(run
        .event(&ev("webinar", T0 + DAY_MS + 1, r#""topic":"b""#))
        .iter()
        .all(|a| a.tier.as_ref() == "mql"));
    assert!(run.event(&ev("view", T0 + 90 * DAY_MS, r#""page":"home""#)).is_empty());
    assert_eq!(run.counters.use_cases[0].stages_reached, [1, 1, 1]);
}

#[test]
fn a_logistic_model_scores_from_named_features() {
    let uc = format!(
        "{}data: {{triggers: [view, click], features: [pricing_views, clicks]}}\nalgo:\n  model:\n    type: logistic\n    intercept: -2.0\n    coefficients: {{pricing_views: 1.0, clicks: 0.5}}\naction: {{tiers: [{{name: hot, min_score: 0.6, type: email, topic: a, retrigger: always}}]}}\n",
        header("p", "")
    );
    let s = set(&[("p.yaml", &uc)]);
    let mut run = Run::new(&s);
    // -2 + 1 = -1 → 0.27; -2 + 2 = 0 → 0.5; -2 + 2 + 0.5 = 0.5 → 0.62
    assert!(run.event(&ev("view", T0, r#""page":"pricing""#)).is_empty());
    assert!(run.event(&ev("view", T0 + 1, r#""page":"pricing""#)).is_empty());
    let actions = run.event(&ev("click", T0 + 2, r#""campaign":"x""#));
    let score = actions[0].score.expect("score");
    assert!((score - 1.0 / (1.0 + (-0.5f64).exp())).abs() < 1e-12, "{score}");
    // a coefficient on a feature the use case does not list is refused
    let bad = uc.replace("clicks: 0.5", "buys: 0.5");
    let problems = set_with(&[("p.yaml", &bad)], &[]).expect_err("refused");
    assert!(
        problems.contains("algo.model.coefficients.buys: reads feature `buys`, which `data.features` does not list"),
        "{problems}"
    );
}

fn onnx_model() -> ModelFile {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../usecases/reference/models/telecom-cross-sell.onnx"
    );
    ModelFile {
        path: "models/m.onnx".into(),
        bytes: std::fs::read(path).expect("committed model").into(),
    }
}

#[test]
fn an_onnx_model_is_checked_at_load_and_scores() {
    let model = onnx_model();
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&model.bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let uc = |inputs: &str, sha: &str| {
        format!(
            "{}data: {{triggers: [view, click], features: [pricing_views, clicks, buys]}}\nalgo:\n  model: {{type: onnx, file: models/m.onnx, sha256: {sha}, inputs: [{inputs}]}}\naction: {{tiers: [{{name: any, min_score: 0.0, type: email, topic: a, retrigger: always}}]}}\n",
            header("m", "")
        )
    };
    // six columns: the model loads, every event gets a probability
    let six = "buys, buys, buys, pricing_views, clicks, buys";
    let s = set_with(&[("m.yaml", &uc(six, &sha))], std::slice::from_ref(&model)).expect("model loads");
    let mut run = Run::new(&s);
    let score = run.event(&ev("view", T0, r#""page":"pricing""#))[0]
        .score
        .expect("score");
    assert!((0.0..=1.0).contains(&score), "{score}");
    // five columns: refused at load, naming the counts
    let problems = set_with(
        &[("m.yaml", &uc("buys, buys, pricing_views, clicks, buys", &sha))],
        std::slice::from_ref(&model),
    )
    .expect_err("refused");
    assert!(
        problems.contains("algo.model.file") && problems.contains("6 columns") && problems.contains("5 features"),
        "{problems}"
    );
    // a different file than the one approved: refused
    let problems = set_with(&[("m.yaml", &uc(six, &"0".repeat(64)))], &[model]).expect_err("refused");
    assert!(problems.contains("algo.model.sha256"), "{problems}");
    let problems = set_with(&[("m.yaml", &uc(six, &sha))], &[]).expect_err("refused");
    assert!(problems.contains("model file `models/m.onnx` not found"), "{problems}");
}

fn churn(after: &str) -> String {
    format!(
        "{}data:\n  features: [buys]\n  timer: {{after: {after}, start_on: [buy]}}\nalgo: {{rule: buys >= 1}}\naction: {{retrigger: always, tiers: [{{name: win-back, when: 'true', type: email, topic: a}}]}}\n",
        header("churn", "")
    )
}

#[test]
fn an_inactivity_timer_fires_once_at_its_time_and_restarts_with_each_purchase() {
    let s = set(&[("churn.yaml", &churn("30d"))]);
    let mut run = Run::new(&s);
    run.event(&ev("buy", T0, r#""product":"p1","amount":1.0"#));
    run.event(&ev("buy", T0 + 10 * DAY_MS, r#""product":"p2","amount":1.0"#));
    // due 30 days after the last purchase, not the first
    assert!(run.sweep(T0 + 30 * DAY_MS).0.is_empty());
    assert!(run.sweep(T0 + 40 * DAY_MS - 1).0.is_empty());
    let (actions, expired) = run.sweep(T0 + 40 * DAY_MS);
    assert!(!expired);
    assert_eq!(tiers(&actions), ["churn/win-back"]);
    assert_eq!(actions[0].event_ts, T0 + 40 * DAY_MS);
    assert_eq!(actions[0].event_type, "timer");
    // fires once: later sweeps and events find nothing due
    assert!(run.sweep(T0 + 50 * DAY_MS).0.is_empty());
    assert!(run.event(&ev("view", T0 + 51 * DAY_MS, r#""page":"home""#)).is_empty());
    assert_eq!(run.counters.use_cases[0].timers_fired, 1);
    // the customer's own later event fires a due timer first, even without a sweep
    run.event(&ev("buy", T0 + 52 * DAY_MS, r#""product":"p3","amount":1.0"#));
    let actions = run.event(&ev("view", T0 + 90 * DAY_MS, r#""page":"home""#));
    assert_eq!(tiers(&actions), ["churn/win-back"]);
    assert_eq!(actions[0].event_ts, T0 + 82 * DAY_MS);
}

#[test]
fn a_timer_survives_the_binary_round_trip() {
    let s = set(&[("churn.yaml", &churn("30d"))]);
    let mut run = Run::new(&s);
    run.event(&ev("buy", T0, r#""product":"p1","amount":1.0"#));
    let mut bytes = Vec::new();
    encode(&s.catalog, &run.state, &mut bytes);
    run.state = decode(&s.catalog, &bytes).expect("decodes");
    assert_eq!(run.state.timers.len(), 1);
    assert_eq!(
        run.state.dues(&s.catalog).as_slice(),
        [(0, T0 + 30 * DAY_MS), (0, T0 + 100 * DAY_MS)]
    );
    assert_eq!(tiers(&run.sweep(T0 + 30 * DAY_MS).0), ["churn/win-back"]);
}

#[test]
fn an_action_starts_a_timer_that_an_event_cancels() {
    let warmup = format!(
        "{}priority: 10\ndata: {{triggers: [view], features: [pricing_views]}}\nalgo: {{rule: pricing_views >= 1}}\naction: {{retrigger: always, tiers: [{{name: medium, when: 'true', type: warmup_campaign, topic: a}}]}}\n",
        header("warmup", "")
    );
    let escalate = format!(
        "{}data:\n  features: [clicks]\n  timer: {{after: 7d, start_on_actions: [warmup/medium], cancel_on: [click]}}\nalgo: {{rule: clicks == 0}}\naction: {{retrigger: always, tiers: [{{name: call, when: 'true', type: crm_task, topic: b}}]}}\n",
        header("escalate", "")
    );
    let s = set(&[("warmup.yaml", &warmup), ("escalate.yaml", &escalate)]);
    // no click within 7 days: escalated
    let mut run = Run::new(&s);
    assert_eq!(
        tiers(&run.event(&ev("view", T0, r#""page":"pricing""#))),
        ["warmup/medium"]
    );
    assert_eq!(tiers(&run.sweep(T0 + 7 * DAY_MS).0), ["escalate/call"]);
    // a click cancels it
    let mut run = Run::new(&s);
    run.event(&ev("view", T0, r#""page":"pricing""#));
    run.event(&ev("click", T0 + DAY_MS, r#""campaign":"w""#));
    assert!(run.sweep(T0 + 30 * DAY_MS).0.is_empty());
    // an unknown tier is refused with the file and key
    let bad = escalate.replace("warmup/medium", "warmup/mediun");
    let problems = set_with(&[("warmup.yaml", &warmup), ("escalate.yaml", &bad)], &[]).expect_err("refused");
    assert!(
        problems.contains("escalate.yaml")
            && problems.contains("data.timer.start_on_actions[0]")
            && problems.contains("did you mean `medium`?"),
        "{problems}"
    );
    // a timer longer than the catalog's expiry could never fire
    let problems = set_with(&[("churn.yaml", &churn("120d"))], &[]).expect_err("refused");
    assert!(
        problems.contains("data.timer.after") && problems.contains("expire_after"),
        "{problems}"
    );
}

#[test]
fn idle_customers_expire_and_return_as_new() {
    let s = set(&[("churn.yaml", &churn("30d"))]);
    let mut run = Run::new(&s);
    run.event(&ev("buy", T0, r#""product":"p1","amount":1.0"#));
    run.sweep(T0 + 30 * DAY_MS); // the churn timer fires first
    assert!(!run.sweep(T0 + 100 * DAY_MS - 1).1);
    // idle 100 days since the purchase (the timer is no event: it moved no clock)
    assert!(run.sweep(T0 + 100 * DAY_MS).1);
    assert_eq!(run.counters.expired, 1);
    // without a sweep, the customer's own event finds the state expired and starts afresh
    let mut run = Run::new(&s);
    run.event(&ev("buy", T0, r#""product":"p1","amount":1.0"#));
    run.state.timers.clear();
    run.event(&ev("view", T0 + 200 * DAY_MS, r#""page":"home""#));
    assert!((run.feature("buys", T0 + 200 * DAY_MS)).abs() < 1e-9);
    assert_eq!(run.counters.expired, 1);
}

#[test]
fn recent_keeps_the_latest_distinct_values() {
    let s = set(&[("uc.yaml", &format!("{}data: {{triggers: [buy], features: [bought]}}\nalgo: {{rule: bought >= 1}}\naction: {{tiers: [{{name: t, when: 'false', type: email, topic: a}}]}}\n", header("u", "")))]);
    let mut run = Run::new(&s);
    for (i, p) in ["a", "b", "a", "c", "d"].iter().enumerate() {
        run.event(&ev("buy", T0 + i as i64, &format!(r#""product":"{p}","amount":1.0"#)));
    }
    let index = s.catalog.feature("bought").expect("feature");
    let revenue_core::state::FeatureState::Recent(recent) = &run.state.features[index] else {
        panic!("recent state")
    };
    // at most 3, the least recently bought (`b`) dropped, most recent last
    assert_eq!(recent.values().collect::<Vec<_>>(), ["a", "c", "d"]);
    assert!((run.feature("bought", T0) - 3.0).abs() < 1e-9);
    let mut bytes = Vec::new();
    encode(&s.catalog, &run.state, &mut bytes);
    assert_eq!(decode(&s.catalog, &bytes).expect("decodes"), run.state);
}

#[test]
fn a_wall_clock_timer_fires_by_the_system_clock_without_new_input() {
    let s = set(&[(
        "churn.yaml",
        &churn("30d").replace("start_on: [buy]}", "start_on: [buy], clock: wall_clock}"),
    )]);
    let mut run = Run::new(&s);
    run.event(&ev("buy", T0, r#""product":"p1","amount":1.0"#));
    assert!(run.state.timers[0].wall_clock);
    let mut fire = |event_time: i64, wall: i64| {
        let mut actions = Vec::new();
        run.processor.fire_due(
            &mut run.state,
            "c1",
            event_time,
            wall,
            &mut run.counters,
            &mut |a: Action| actions.push(a),
        );
        actions
    };
    // event time stands still (no input); the system clock reaches the due time
    assert!(fire(T0, T0 + 30 * DAY_MS - 1).is_empty());
    let actions = fire(T0, T0 + 30 * DAY_MS);
    assert_eq!(tiers(&actions), ["churn/win-back"]);
    assert_eq!(actions[0].event_ts, T0 + 30 * DAY_MS);
    assert!(fire(T0, T0 + 60 * DAY_MS).is_empty(), "once");
}

/// A lead-scoring use case whose score fails (integer division by zero: no clicks yet) and whose
/// tier is `tier`.
fn failing_score(tier: &str, funnel: bool) -> Arc<UseCaseSet> {
    let funnel = if funnel {
        "  funnel: {topic: funnel.stages, stages: [{name: MQL, min_score: 1.0}]}\n"
    } else {
        ""
    };
    let uc = format!(
        "{}data: {{triggers: [view], features: [clicks, pricing_views]}}\nalgo:\n  score: double(100 / clicks)\n{funnel}action: {{tiers: [{tier}]}}\n",
        header("leads", "")
    );
    set(&[("leads.yaml", &uc)])
}

#[test]
fn an_evaluation_that_fails_counts_one_error_however_many_expressions_fail() {
    // the tier and the funnel both need the score: one failed evaluation, one error
    let s = failing_score("{name: mql, min_score: 1.0, type: crm_task, topic: crm}", true);
    let mut run = Run::new(&s);
    assert!(run.event(&ev("view", T0, r#""page":"pricing""#)).is_empty());
    assert_eq!(run.counters.use_cases[0].evaluations, 1);
    assert_eq!(
        run.counters.use_cases[0].errors, 1,
        "errors after one failed evaluation"
    );
}

#[test]
fn an_error_in_a_score_is_counted_only_when_the_score_is_needed() {
    let s = failing_score(
        "{name: mql, when: pricing_views >= 2, type: crm_task, topic: crm}",
        false,
    );
    let mut run = Run::new(&s);
    // no tier matches and none needs the score: it is never evaluated, nothing is counted
    assert!(run.event(&ev("view", T0, r#""page":"pricing""#)).is_empty());
    assert_eq!(run.counters.use_cases[0].errors, 0);
    // the tier matches and its action would carry the score: the error is counted, no action
    assert!(run.event(&ev("view", T0 + 1, r#""page":"pricing""#)).is_empty());
    assert_eq!(run.counters.use_cases[0].errors, 1);
}

#[test]
fn held_back_by_the_retrigger_policy_counts_evaluations_whose_matching_tiers_were_all_stopped() {
    let uc = format!(
        "{}data: {{triggers: [view], features: [pricing_views]}}\nalgo: {{rule: 'true'}}\naction:\n  tiers:\n    - {{name: first, when: pricing_views >= 1, type: email, topic: mail}}\n    - {{name: second, when: pricing_views >= 2, type: crm_task, topic: crm}}\n",
        header("offer", "")
    );
    let s = set(&[("offer.yaml", &uc)]);
    let mut run = Run::new(&s);
    let view = |ts| ev("view", ts, r#""page":"pricing""#);
    assert_eq!(tiers(&run.event(&view(T0))), ["offer/first"]);
    // `first` matches but acted once already; `second` matches and acts: not held back
    assert_eq!(tiers(&run.event(&view(T0 + 1))), ["offer/second"]);
    assert_eq!(run.counters.use_cases[0].retrigger_blocked, 0);
    // both match, both acted once already: held back, once for the evaluation
    assert!(run.event(&view(T0 + 2)).is_empty());
    assert_eq!(run.counters.use_cases[0].retrigger_blocked, 1);
}
