//! Unit tests of the item co-occurrence recommender and its artifact.

use super::*;

fn info() -> TrainingInfo {
    TrainingInfo {
        events_file: "test.jsonl".into(),
        purchase_type: "purchase".into(),
        item_field: "product".into(),
        customers: 10,
        purchases: 20,
        first_ts: Some(0),
        last_ts: Some(1),
        cutoff_ts: None,
        top_k: 3,
        shrinkage: 0.0,
        min_support: 1,
        evaluation: None,
    }
}

/// a, b, c, d, e: a → b 0.5, c 0.2; b → c 0.4; popularity e > d > a = b > c.
fn artifact() -> RecommenderArtifact {
    RecommenderArtifact {
        format: ARTIFACT_FORMAT,
        kind: ARTIFACT_KIND.into(),
        trained: info(),
        items: ["a", "b", "c", "d", "e"].map(String::from).to_vec(),
        popularity: vec![0.3, 0.3, 0.1, 0.4, 0.6],
        neighbours: vec![vec![(1, 0.5), (2, 0.2)], vec![(2, 0.4)], vec![], vec![], vec![]],
    }
}

fn model() -> Recommender {
    Recommender::from_artifact(artifact()).expect("valid artifact")
}

fn run(r: &Recommender, history: &[(&str, f64)], owned: &[&str], k: usize) -> Vec<(String, f64)> {
    let mut scratch = RecommendScratch::default();
    let mut out = Vec::new();
    r.recommend(
        history.iter().copied(),
        |p| owned.contains(&p),
        k,
        &mut scratch,
        &mut out,
    );
    out.into_iter().map(|(j, s)| (r.item(j).to_string(), s)).collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn scores_are_noisy_or_of_weighted_neighbour_probabilities() {
    let r = model();
    let out = run(&r, &[("a", 1.0), ("b", 0.5)], &[], 2);
    assert_eq!(out.len(), 2);
    // c: 1 − (1 − 0.2)(1 − 0.5·0.4) = 0.36; b: 1 − (1 − 0.5) = 0.5
    assert_eq!(out[0].0, "b");
    assert!(close(out[0].1, 0.5), "{out:?}");
    assert_eq!(out[1].0, "c");
    assert!(close(out[1].1, 0.36), "{out:?}");
}

#[test]
fn owned_products_are_never_recommended() {
    let r = model();
    let out = run(&r, &[("a", 1.0)], &["a", "b", "e"], 5);
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["c", "d"]);
}

#[test]
fn short_lists_are_filled_by_popularity_after_the_personal_ones() {
    let r = model();
    let out = run(&r, &[("a", 1.0)], &["a"], 4);
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["b", "c", "e", "d"]);
    assert!(close(out[2].1, 0.6) && close(out[3].1, 0.4), "{out:?}");
    // nothing known in the history: pure popularity, ties by index (a before b)
    let out = run(&r, &[("unknown", 1.0)], &[], 5);
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["e", "d", "a", "b", "c"]);
    // k larger than the assortment: everything not owned, once
    assert_eq!(run(&r, &[], &["e"], 50).len(), 4);
    assert!(run(&r, &[("a", 1.0)], &[], 0).is_empty());
}

#[test]
fn duplicates_count_once_with_the_highest_weight_and_weights_are_clamped() {
    let r = model();
    let once = run(&r, &[("a", 1.0)], &["a"], 2);
    let twice = run(&r, &[("a", 0.5), ("a", 1.0), ("a", 0.2)], &["a"], 2);
    assert_eq!(once, twice);
    assert_eq!(run(&r, &[("a", 7.0)], &["a"], 2), once);
    // zero and NaN weights reach nothing: popularity only
    let names: Vec<String> = run(&r, &[("a", 0.0), ("b", f64::NAN)], &[], 2)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["e", "d"]);
}

#[test]
fn deterministic_for_any_history_order_and_with_a_reused_scratch() {
    let r = model();
    let mut scratch = RecommendScratch::default();
    let mut first = Vec::new();
    let mut again = Vec::new();
    r.recommend([("a", 1.0), ("b", 0.5)], |_| false, 3, &mut scratch, &mut first);
    for _ in 0..3 {
        r.recommend([("e", 1.0)], |p| p == "e", 3, &mut scratch, &mut again);
        r.recommend([("b", 0.5), ("a", 1.0)], |_| false, 3, &mut scratch, &mut again);
        assert_eq!(first, again);
    }
    // equal scores: lower index first
    let mut tie = artifact();
    tie.neighbours[3] = vec![(2, 0.3), (1, 0.3), (0, 0.3)];
    let tie = Recommender::from_artifact(tie).expect("valid");
    let names: Vec<String> = run(&tie, &[("d", 1.0)], &[], 3).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn zero_probability_neighbours_score_nothing_and_appear_once() {
    let mut a = artifact();
    a.neighbours[3] = vec![(2, 0.0)];
    a.neighbours[4] = vec![(2, 0.0)];
    let r = Recommender::from_artifact(a).expect("valid");
    let names: Vec<String> = run(&r, &[("d", 1.0), ("e", 1.0)], &["d", "e"], 5)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn lookups() {
    let r = model();
    assert_eq!(r.len(), 5);
    assert!(!r.is_empty());
    assert_eq!(r.index_of("c"), Some(2));
    assert_eq!(r.index_of("z"), None);
    assert_eq!(r.item(4), "e");
    assert!(close(r.popularity(4), 0.6));
}

#[test]
fn json_round_trip() {
    let json = serde_json::to_vec(&artifact()).expect("serialises");
    let r = Recommender::from_json(&json).expect("loads");
    assert_eq!(run(&r, &[("a", 1.0)], &[], 3), run(&model(), &[("a", 1.0)], &[], 3));
}

fn refused(a: RecommenderArtifact) -> String {
    Recommender::from_artifact(a).expect_err("refused").to_string()
}

#[test]
fn bad_artifacts_are_refused_with_what_is_wrong() {
    let mut a = artifact();
    a.neighbours[1] = vec![(9, 0.1)];
    let msg = refused(a);
    assert!(
        msg.contains("item `b` has neighbour index 9, but there are only 5 items"),
        "{msg}"
    );

    let mut a = artifact();
    a.format = 2;
    let msg = refused(a);
    assert!(
        msg.contains("format 2 is not supported (this build reads format 1)"),
        "{msg}"
    );

    let mut a = artifact();
    a.kind = "matrix-factorisation".into();
    assert!(refused(a).contains("kind `matrix-factorisation` is not supported"));

    let mut a = artifact();
    a.popularity.pop();
    let msg = refused(a);
    assert!(msg.contains("5 items but popularity has 4 entries"), "{msg}");

    let mut a = artifact();
    a.items[3] = "a".into();
    assert!(refused(a).contains("lists item `a` twice (at 0 and 3)"));

    let mut a = artifact();
    a.neighbours[0][1].1 = 1.5;
    let msg = refused(a);
    assert!(
        msg.contains("item `a` has a neighbour probability 1.5, which is not a probability"),
        "{msg}"
    );

    let mut a = artifact();
    a.popularity[2] = f64::NAN;
    assert!(refused(a).contains("item `c` has popularity NaN"));

    let mut a = artifact();
    a.neighbours[2] = vec![(2, 0.1)];
    assert!(refused(a).contains("item `c` lists itself"));

    let mut a = artifact();
    a.items[1] = String::new();
    assert!(refused(a).contains("item 1 has an empty product id"));
}

#[test]
fn bad_json_is_refused_with_line_and_column() {
    let msg = Recommender::from_json(b"{\n  \"format\": 1,\n  oops\n}")
        .expect_err("refused")
        .to_string();
    assert!(msg.contains("not valid JSON (line 3, column 3)"), "{msg}");

    let mut value = serde_json::to_value(artifact()).expect("serialises");
    value["format"] = 7.into();
    value["future_field"] = true.into();
    let msg = Recommender::from_json(&serde_json::to_vec(&value).expect("JSON"))
        .expect_err("refused")
        .to_string();
    assert!(msg.contains("format 7 is not supported"), "{msg}");

    let mut value = serde_json::to_value(artifact()).expect("serialises");
    value["surprise"] = true.into();
    let msg = Recommender::from_json(&serde_json::to_vec(&value).expect("JSON"))
        .expect_err("refused")
        .to_string();
    assert!(msg.contains("unknown field `surprise`"), "{msg}");

    let msg = Recommender::from_json(b"{\"kind\": \"item-cooccurrence\"}")
        .expect_err("refused")
        .to_string();
    assert!(msg.contains("format (missing) is not supported"), "{msg}");

    let msg = Recommender::from_json(b"[1, 2]").expect_err("refused").to_string();
    assert!(msg.contains("expected structure"), "{msg}");
}

#[test]
fn an_empty_model_recommends_nothing() {
    let mut a = artifact();
    a.items.clear();
    a.popularity.clear();
    a.neighbours.clear();
    let r = Recommender::from_artifact(a).expect("valid");
    assert!(r.is_empty());
    assert!(run(&r, &[("a", 1.0)], &[], 3).is_empty());
}
