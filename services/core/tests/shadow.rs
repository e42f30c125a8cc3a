//! Issue 14, defect 3: a `shadow` use case is invisible to everything live. Its would-be
//! decisions take part in no arbitration, use up no caps or cooldowns, leave no contact or
//! exposure a live use case reads, and start no live use case's timer — in the engine and in
//! replay (back-tests) alike.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

mod common;

use common::{set, use_case, Run, HOUR, T0};
use revenue_core::duration::DAY_MS;
use revenue_core::policy::{name_key, Reason};
use revenue_core::spec::Status;
use revenue_core::{Action, Mode, UseCaseSet};
use std::sync::Arc;

const MODES: [Mode; 2] = [Mode::Engine, Mode::BackTest];

fn with_status(text: String, status: &str) -> String {
    text.replace("status: live", &format!("status: {status}"))
}

/// Live actions only: what reaches a topic.
fn live(actions: Vec<Action>) -> Vec<String> {
    actions
        .into_iter()
        .filter(Action::emits)
        .map(|a| format!("{} {}", a.use_case_id, a.action_id))
        .collect()
}

#[test]
fn a_shadow_use_case_wins_no_arbitration() {
    let s = set(
        "arbitration: {window: 1d}",
        &[
            (
                "a.yaml",
                with_status(use_case("lead", 90, "view", "email", ""), "shadow"),
            ),
            ("b.yaml", use_case("recommend", 50, "view", "crm_task", "")),
            // outranks `recommend`, not `lead`
            ("c.yaml", use_case("recommend-click", 60, "click", "crm_task", "")),
        ],
    );
    for mode in MODES {
        let mut run = Run::with_mode(&s, mode);
        // the same event: the shadow use case ranks first, the live one still acts
        let actions = run.event("c1", "view", T0, "");
        assert_eq!(actions.len(), 2, "{mode:?}: the shadow decision is reported, not sent");
        assert_eq!(live(actions).len(), 1, "{mode:?}: the live use case acts");
        // a later event within the window: the shadow decision is no contact
        assert_eq!(live(run.event("c1", "click", T0 + HOUR, "")).len(), 1, "{mode:?}");
        for id in ["recommend", "recommend-click"] {
            assert_eq!(run.suppressed(run.index(id), Reason::Arbitration), 0, "{mode:?}: {id}");
        }
    }
}

#[test]
fn a_shadow_use_case_uses_up_no_caps_or_cooldowns() {
    let policies = [
        (
            "global_caps: [{max: 1, window: 7d}]\nchannels: {email: {caps: [{max: 1, window: 7d}]}}",
            Reason::Cap,
        ),
        ("channels: {email: {cooldown: 2d}}", Reason::Cooldown),
    ];
    for (policy, reason) in policies {
        let s = set(
            policy,
            &[
                (
                    "a.yaml",
                    with_status(use_case("lead", 90, "view", "email", ""), "shadow"),
                ),
                ("b.yaml", use_case("mail", 50, "click", "email", "")),
            ],
        );
        for mode in MODES {
            let mut run = Run::with_mode(&s, mode);
            run.event("c1", "view", T0, "");
            run.event("c1", "view", T0 + HOUR, "");
            let sent = live(run.event("c1", "click", T0 + 2 * HOUR, ""));
            assert_eq!(sent.len(), 1, "{mode:?}, {reason:?}");
            assert_eq!(run.suppressed(run.index("mail"), reason), 0, "{mode:?}");
        }
    }
}

/// `follow` starts a one-day timer on `source`'s actions; statuses as given.
fn timer_set(source: &str, follow: &str) -> Arc<UseCaseSet> {
    let follow_text = use_case("follow", 40, "purchase", "crm_task", "").replace(
        "features: [views, clicks]}",
        "features: [views, clicks], timer: {after: 1d, start_on_actions: [source]}}",
    );
    set(
        "",
        &[
            (
                "a.yaml",
                with_status(use_case("source", 90, "view", "email", ""), source),
            ),
            ("b.yaml", with_status(follow_text, follow)),
        ],
    )
}

#[test]
fn a_shadow_use_cases_actions_start_no_live_timer() {
    // `validate` refuses this set (see `live_timer_on_a_shadow_use_case_is_refused`); a set
    // whose source turns shadow after compiling still starts no live timer
    let mut s = timer_set("live", "live");
    let source = s.use_cases.iter().position(|uc| &*uc.id == "source").unwrap();
    Arc::get_mut(&mut s).unwrap().use_cases[source].status = Status::Shadow;
    for mode in MODES {
        let mut run = Run::with_mode(&s, mode);
        assert_eq!(
            run.event("c1", "view", T0, "").len(),
            1,
            "{mode:?}: the shadow decision"
        );
        let fired = run.sweep("c1", T0 + 2 * DAY_MS);
        assert!(fired.is_empty(), "{mode:?}: the customer never got the shadow action");
        assert_eq!(run.counters.use_cases[run.index("follow")].timers_fired, 0, "{mode:?}");
        assert!(run.states["c1"].timers.is_empty(), "{mode:?}: no timer pending");
    }
}

#[test]
fn a_shadow_use_case_may_follow_up_its_own_would_be_actions() {
    let s = timer_set("shadow", "shadow");
    for mode in MODES {
        let mut run = Run::with_mode(&s, mode);
        run.event("c1", "view", T0, "");
        let fired = run.sweep("c1", T0 + 2 * DAY_MS);
        assert_eq!(fired.len(), 1, "{mode:?}: the shadow follow-up's would-be action");
        assert!(!fired[0].emits());
        assert_eq!(run.counters.use_cases[run.index("follow")].timers_fired, 1, "{mode:?}");
    }
}

#[test]
fn live_timer_on_a_shadow_use_case_is_refused() {
    for status in ["shadow", "draft"] {
        let files = [
            (
                "a.yaml",
                with_status(use_case("source", 90, "view", "email", ""), status),
            ),
            (
                "b.yaml",
                use_case("follow", 40, "purchase", "crm_task", "").replace(
                    "features: [views, clicks]}",
                    "features: [views, clicks], timer: {after: 1d, start_on_actions: [source]}}",
                ),
            ),
        ];
        let problems = common::compile(&files).expect_err("refused");
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            text.iter()
                .any(|t| t.contains("b.yaml") && t.contains("start_on_actions") && t.contains(status)),
            "{status}: {text:?}"
        );
    }
}

/// The strongest form: every live result — actions, policy outcomes, attribution — is the same
/// with the shadow use case as without it (retired), under arbitration, caps, cooldowns,
/// holdouts and attribution together.
#[test]
fn live_results_are_the_same_with_and_without_a_shadow_use_case() {
    let policy = "arbitration: {window: 1d}\n\
        channels: {email: {cooldown: 1d, caps: [{max: 2, window: 7d}]}}\n\
        global_caps: [{max: 3, window: 7d}]\n\
        holdout: {share: 0.2}\n\
        attribution: {window: 7d, conversions: [{event: purchase, value: event.amount}]}";
    let files = |lead: &str| {
        set(
            policy,
            &[
                ("a.yaml", with_status(use_case("lead", 90, "view", "email", ""), lead)),
                ("b.yaml", use_case("mail", 50, "view", "email", "")),
                ("c.yaml", use_case("call", 60, "click", "crm_task", "")),
            ],
        )
    };
    for mode in MODES {
        let results: Vec<(Vec<String>, Vec<String>, usize)> = ["shadow", "retired"]
            .into_iter()
            .map(|lead| {
                let s = files(lead);
                let mut run = Run::with_mode(&s, mode);
                let mut actions = Vec::new();
                for c in 0..40 {
                    let customer = format!("c{c}");
                    for (i, kind) in ["view", "click", "view", "purchase", "view", "click", "view"]
                        .iter()
                        .enumerate()
                    {
                        let ts = T0 + (i as i64) * 10 * HOUR + c * 1000;
                        let fields = if *kind == "purchase" { r#""amount":100.0"# } else { "" };
                        actions.extend(live(run.event(&customer, kind, ts, fields)));
                    }
                }
                let counters = ["mail", "call"]
                    .iter()
                    .map(|id| format!("{id}: {:?}", run.counters.use_cases[run.index(id)]))
                    .collect();
                let lead = name_key("lead");
                let lead_contacts = run
                    .states
                    .values()
                    .filter_map(|st| st.policy.as_deref())
                    .flat_map(|p| p.contacts.iter())
                    .filter(|k| k.use_case == lead)
                    .count();
                (actions, counters, lead_contacts)
            })
            .collect();
        assert_eq!(
            results[0].2, 0,
            "{mode:?}: no contact of the shadow use case in any state"
        );
        assert_eq!(results[0].1, results[1].1, "{mode:?}: live counters");
        assert_eq!(results[0].0, results[1].0, "{mode:?}: live actions");
        assert!(!results[0].0.is_empty());
    }
}

/// Issue 14 (reference model, policy): a `draft` use case, evaluated only by replay's
/// back-tests, is as invisible to the others as a shadow one — adding a draft to a directory
/// does not change what the live use cases do in the back-test.
#[test]
fn a_draft_use_case_in_a_back_test_wins_no_arbitration_and_uses_up_no_caps() {
    let policies = [
        ("arbitration: {window: 1d}", Reason::Arbitration),
        ("global_caps: [{max: 1, window: 7d}]", Reason::Cap),
        ("channels: {email: {cooldown: 2d}}", Reason::Cooldown),
    ];
    for (policy, reason) in policies {
        let s = set(
            policy,
            &[
                (
                    "a.yaml",
                    with_status(use_case("lead", 90, "view", "email", ""), "draft"),
                ),
                ("b.yaml", use_case("mail", 50, "click", "email", "")),
            ],
        );
        let mut run = Run::with_mode(&s, Mode::BackTest);
        assert_eq!(
            run.event("c1", "view", T0, "").len(),
            1,
            "{reason:?}: the draft acts in the back-test"
        );
        let sent = live(run.event("c1", "click", T0 + HOUR, ""));
        assert_eq!(sent.len(), 1, "{reason:?}: the live use case acts as without the draft");
        assert_eq!(run.suppressed(run.index("mail"), reason), 0, "{reason:?}");
    }
}
