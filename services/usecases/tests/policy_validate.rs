//! `validate` on a `policy.yaml` with planted mistakes lists every one of them at once, each
//! with file, line, key and a hint about the policy format.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use revenue_core::Diagnostic;
use revenue_testkit::repo;
use revenue_usecases::{load_dir, LoadError};

fn problems() -> Vec<Diagnostic> {
    let dir = repo().join("services/usecases/tests/fixtures/policy");
    match load_dir(&dir) {
        Err(LoadError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    }
}

/// The problem at `key` whose message contains `message`: its line and hint.
fn find(problems: &[Diagnostic], key: &str, message: &str) -> (Option<usize>, String) {
    let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let found = problems
        .iter()
        .find(|p| p.file == "policy.yaml" && p.key_path == key && p.message.contains(message))
        .unwrap_or_else(|| panic!("no problem {key} {message:?} in:\n{}", rendered.join("\n")));
    (found.line, found.hint.clone().unwrap_or_default())
}

#[test]
fn every_structural_and_semantic_problem_of_the_policy_is_listed_at_once() {
    let problems = problems();
    let (line, hint) = find(&problems, "channels.email.cooldwn", "unknown field `cooldwn`");
    assert_eq!(line, Some(3));
    assert!(hint.contains("did you mean `cooldown`?"), "{hint}");
    let (line, _) = find(&problems, "channels.email.caps[0].max", "-1");
    assert_eq!(line, Some(5));
    let (line, _) = find(
        &problems,
        "quiet_hours.default_timezone",
        "unknown time zone `Europe/Berln`",
    );
    assert_eq!(line, Some(10));
    let (line, hint) = find(&problems, "holdot", "unknown field `holdot`");
    assert_eq!(line, Some(11));
    assert!(hint.contains("did you mean `holdout`?"), "{hint}");
    let (line, _) = find(&problems, "global_caps[0]", "missing field `window`");
    assert_eq!(line, Some(12));
    // nothing is reported twice, and nothing about the parts left out
    assert_eq!(problems.len(), 6, "{problems:#?}");
}

#[test]
fn structural_problems_of_the_policy_hint_at_the_policy_format() {
    let problems = problems();
    for key in ["channels.email.caps[0].max", "global_caps[0]"] {
        let (_, hint) = find(&problems, key, "");
        assert!(hint.contains("policy.yaml"), "{key}: {hint}");
        assert!(!hint.contains("use-case format"), "{key}: {hint}");
    }
}

#[test]
fn a_channel_no_use_case_names_is_refused_with_a_suggestion() {
    let problems = problems();
    let (line, hint) = find(&problems, "channels.emial", "no use case acts in channel `emial`");
    assert_eq!(line, Some(6));
    assert!(hint.contains("did you mean `email`?"), "{hint}");
}
