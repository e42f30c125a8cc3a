//! "Did you mean" suggestions for misspelt names.

use std::fmt::Write as _;

/// The most edits a suggestion may be away from the word it corrects.
pub const MAX_SUGGESTION_DISTANCE: usize = 3;

/// The candidate a misspelt `word` most likely meant: the one fewest edits
/// away (Levenshtein distance over characters), if within
/// [`MAX_SUGGESTION_DISTANCE`] edits and fewer edits than `word` has
/// characters, so that a short word is not "corrected" into an unrelated one.
/// Of equally close candidates, the first.
pub fn closest_match<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // An empty word has no distance below its length: nothing is close to it.
    let fewer_than_word = word.chars().count().checked_sub(1)?;
    closest_match_within(word, candidates, MAX_SUGGESTION_DISTANCE.min(fewer_than_word))
}

/// The candidate fewest edits away from `word` (Levenshtein distance over
/// characters), if at most `max_distance` edits away. Of equally close
/// candidates, the first: pass them sorted for the alphabetically first.
pub fn closest_match_within<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    max_distance: usize,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= max_distance)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// A "did you mean" hint: the [`closest_match`], or a few of the candidates.
pub(crate) fn did_you_mean_hint<S: AsRef<str>>(name: &str, candidates: &[S], kind: &str) -> String {
    if let Some(best) = closest_match(name, candidates.iter().map(AsRef::as_ref)) {
        return format!("did you mean `{best}`?");
    }
    if candidates.is_empty() {
        return format!("no {kind} are defined here");
    }
    let mut sorted: Vec<&str> = candidates.iter().map(|c| c.as_ref()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    const SHOWN: usize = 8;
    let mut hint = format!("known {kind}: ");
    for (i, c) in sorted.iter().take(SHOWN).enumerate() {
        if i > 0 {
            hint.push_str(", ");
        }
        let _ = write!(hint, "`{c}`");
    }
    if sorted.len() > SHOWN {
        let _ = write!(hint, ", … ({} more)", sorted.len() - SHOWN);
    }
    hint
}
