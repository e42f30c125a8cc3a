//! `validate` on a directory with planted mistakes lists each one with its place.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use revenue_testkit::{repo, usecases};
use revenue_usecases::{load_dir, LoadError};

#[test]
fn shipped_directories_pass() {
    for dir in ["reference", "benchmark"] {
        let set = load_dir(&usecases(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert!(!set.use_cases.is_empty(), "{dir} has use cases");
    }
    let reference = load_dir(&usecases("reference")).expect("loads");
    let ids: Vec<&str> = reference.use_cases.iter().map(|uc| uc.id.as_ref()).collect();
    assert_eq!(
        ids,
        [
            "telecom-cross-sell",
            "telecom-warmup-escalation",
            "lead-scoring-mql",
            "distributor-churn-risk",
            "distributor-recommendations"
        ],
        "ordered by priority"
    );
}

#[test]
fn planted_mistakes_are_each_reported_with_file_and_place() {
    let dir = repo().join("services/usecases/tests/fixtures/planted");
    let problems = match load_dir(&dir) {
        Err(LoadError::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    };
    let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    let expect = |file: &str, key: &str, message: &str, hint: &str| {
        let found = problems
            .iter()
            .find(|p| p.file == file && p.key_path == key && p.message.contains(message));
        let found = found.unwrap_or_else(|| panic!("no problem {file} {key} {message:?} in:\n{}", rendered.join("\n")));
        let got_hint = found.hint.as_deref().unwrap_or_default();
        assert!(
            got_hint.contains(hint),
            "hint of {file} {key}: {got_hint:?} lacks {hint:?}"
        );
        found.line
    };
    // the catalog
    expect(
        "features.yaml",
        "event_types.purchase.fields.page",
        "is int here but string elsewhere",
        "one type",
    );
    expect(
        "features.yaml",
        "features.spend.events[0]",
        "unknown event type `purchse`",
        "did you mean `purchase`?",
    );
    expect("features.yaml", "features.spend_7d.window", "bad duration `7x`", "30d");
    // a use case
    expect(
        "bad-usecase.yaml",
        "data.triggers[1]",
        "unknown event type `pageview`",
        "did you mean `page_view`?",
    );
    expect(
        "bad-usecase.yaml",
        "data.features[1]",
        "unknown feature `viewz`",
        "did you mean `views`?",
    );
    let line = expect("bad-usecase.yaml", "algo.score", "int and double", "double(x)");
    assert_eq!(line, Some(12));
    let line = expect("bad-usecase.yaml", "action.tiers[1].min_score", "overlap", "disjoint");
    assert_eq!(line, Some(20));
    let line = expect(
        "bad-usecase.yaml",
        "action.tiers[1].topic",
        "missing topic",
        "Kafka topic",
    );
    assert_eq!(line, Some(23));
    // another use case: duplicate id, type error, bad duration, misspelt feature
    assert_eq!(
        expect(
            "duplicate.yaml",
            "id",
            "duplicate use case id `planted`",
            "bad-usecase.yaml"
        ),
        Some(1)
    );
    expect(
        "duplicate.yaml",
        "algo.rule",
        "cannot compare int with string",
        "convert",
    );
    expect(
        "duplicate.yaml",
        "action.retrigger.cooldown",
        "bad duration `fortnight`",
        "14d",
    );
    assert_eq!(
        expect(
            "duplicate.yaml",
            "action.tiers[0].when",
            "unknown identifier `vews`",
            "did you mean `views`?"
        ),
        Some(17)
    );
    // a typo caught while parsing, with its line
    assert_eq!(
        expect(
            "typo.yaml",
            "action.tiers[0].type",
            "unknown action type `emial`",
            "schema"
        ),
        Some(14)
    );
}

#[test]
fn a_use_case_may_read_only_the_features_it_declares() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(usecases("benchmark/features.yaml"), dir.path().join("features.yaml")).expect("copy");
    let text = std::fs::read_to_string(usecases("benchmark/funnel-benchmark.yaml")).expect("read");
    let text = text.replace(
        "features: [page_views, email_clicks, purchase_sum, purchase_count, last_purchase_ts]",
        "features: [page_views, email_clicks, purchase_sum, purchase_count]",
    );
    std::fs::write(dir.path().join("uc.yaml"), text).expect("write");
    let Err(LoadError::Invalid { problems, .. }) = load_dir(dir.path()) else {
        panic!("must fail")
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]
        .message
        .contains("reads feature `last_purchase_ts`, which `data.features` does not list"));
    assert_eq!(problems[0].key_path, "action.tiers[0].payload.last_purchase_ts");
}

#[test]
fn a_directory_without_catalog_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(usecases("benchmark/funnel-benchmark.yaml"), dir.path().join("uc.yaml")).expect("copy");
    let Err(LoadError::Invalid { problems, .. }) = load_dir(dir.path()) else {
        panic!("must fail")
    };
    assert!(problems[0].message.contains("no feature catalog"));
}

/// Issue 14, defect 3: a live use case whose timer starts on the actions of a shadow (or
/// draft) one would follow up on actions never sent: `validate` refuses it, naming the place.
#[test]
fn live_timer_on_a_shadow_or_draft_use_case_is_refused() {
    for status in ["shadow", "draft"] {
        let dir = tempfile::tempdir().unwrap();
        let reference = usecases("reference");
        for entry in std::fs::read_dir(&reference).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let text = std::fs::read_to_string(&path).unwrap();
                // the escalation starts its timer on telecom-cross-sell/medium
                let text = if path.ends_with("telecom-cross-sell.yaml") {
                    text.replace("status: live", &format!("status: {status}"))
                } else {
                    text
                };
                std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
            }
        }
        std::os::unix::fs::symlink(reference.join("models"), dir.path().join("models")).unwrap();
        let problems = match load_dir(dir.path()) {
            Err(LoadError::Invalid { problems, .. }) => problems,
            other => panic!("{status}: expected problems, got {other:?}"),
        };
        let rendered: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 1, "{rendered:?}");
        let p = &problems[0];
        assert_eq!(p.file, "telecom-warmup-escalation.yaml", "{rendered:?}");
        assert_eq!(p.key_path, "data.timer.start_on_actions[0]", "{rendered:?}");
        assert!(
            p.message.contains("telecom-cross-sell") && p.message.contains(status),
            "{rendered:?}"
        );
    }
}
