//! The "did you mean" suggestion pinned to the hand-written code it replaced:
//! the expression compiler's (Levenshtein, within 3 edits and fewer edits than
//! the word has characters, first of equally close candidates) and the feature
//! catalog's (Levenshtein, within 3 edits, alphabetically first of equally
//! close candidates).

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

use proptest::prelude::*;
use revenue_expr::{closest_match, closest_match_within, MAX_SUGGESTION_DISTANCE};

/// The expression compiler's hand-written edit distance, as it was.
fn old_expr_levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The expression compiler's choice of suggestion, as it was.
fn old_expr_choice<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let name_len = name.chars().count();
    candidates
        .iter()
        .map(|c| (old_expr_levenshtein(name, c), *c))
        .filter(|(d, _)| *d <= 3 && *d < name_len)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The feature catalog's edit distance, as it was.
fn old_catalog_edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The feature catalog's choice of suggestion, as it was.
fn old_catalog_choice<'a>(wrong: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (old_catalog_edit_distance(wrong, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

/// How the catalog's copy calls the shared function.
fn catalog_choice<'a>(wrong: &str, known: &[&'a str]) -> Option<&'a str> {
    let mut sorted = known.to_vec();
    sorted.sort_unstable();
    closest_match_within(wrong, sorted, MAX_SUGGESTION_DISTANCE)
}

const FEATURES: [&str; 5] = ["page_views", "email_clicks", "purchase_sum", "views", "medium"];
const FUNCTIONS: [&str; 8] = ["double", "int", "string", "size", "round", "min", "max", "abs"];

#[test]
fn closest_match_picks_what_the_compiler_picked() {
    let cases: [(&str, &[&str], Option<&str>); 13] = [
        ("pge_views", &FEATURES, Some("page_views")),
        ("view", &FEATURES, Some("views")),
        ("mediun", &FEATURES, Some("medium")),
        ("revenue", &FEATURES, None),
        ("maxx", &FUNCTIONS, Some("max")),
        ("sise", &FUNCTIONS, Some("size")),
        // Both one edit away: the first candidate wins.
        ("mix", &FUNCTIONS, Some("min")),
        ("mix", &["max", "min"], Some("max")),
        // A transposition is two edits, as Levenshtein counts it.
        ("ab", &["ba"], None),
        ("abcd", &["bacd"], Some("bacd")),
        // No more edits than the word has characters.
        ("x", &["y", "xy"], None),
        ("xy", &["y", "xyz"], Some("y")),
        ("", &["", "a"], None),
    ];
    for (word, candidates, expected) in cases {
        assert_eq!(closest_match(word, candidates.iter().copied()), expected, "{word}");
        assert_eq!(old_expr_choice(word, candidates), expected, "{word} (old code)");
    }
}

#[test]
fn closest_match_within_picks_what_the_catalog_picked() {
    let cases: [(&str, &[&str], Option<&str>); 6] = [
        ("view", &FEATURES, Some("views")),
        // The catalog suggests for short words too.
        ("x", &["y", "abc"], Some("y")),
        ("ab", &["ba"], Some("ba")),
        // Equally close: the alphabetically first.
        ("mix", &["max", "min"], Some("max")),
        ("mix", &["min", "max"], Some("max")),
        ("revenue", &FEATURES, None),
    ];
    for (word, candidates, expected) in cases {
        assert_eq!(catalog_choice(word, candidates), expected, "{word}");
        assert_eq!(old_catalog_choice(word, candidates), expected, "{word} (old code)");
    }
}

fn word() -> impl Strategy<Value = String> {
    // A small alphabet, with a multi-byte letter, so that words are often close.
    proptest::string::string_regex("[abcé_]{0,6}").expect("valid regex")
}

proptest! {
    #[test]
    fn distance_is_the_old_one(a in word(), b in word()) {
        let distance = old_expr_levenshtein(&a, &b);
        prop_assert_eq!(old_catalog_edit_distance(&a, &b), distance);
        prop_assert_eq!(strsim::levenshtein(&a, &b), distance);
    }

    #[test]
    fn suggestions_are_the_old_ones(name in word(), candidates in proptest::collection::vec(word(), 0..6)) {
        let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
        prop_assert_eq!(closest_match(&name, candidates.iter().copied()), old_expr_choice(&name, &candidates));
        prop_assert_eq!(catalog_choice(&name, &candidates), old_catalog_choice(&name, &candidates));
    }
}
