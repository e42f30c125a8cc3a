//! Issue 14 (reference model, policy): edges of the contact policy the README now states
//! exactly — late events against contacts and exposures, the due time of a deferred action
//! around DST changes, and the order of deferred actions due at the same time.

// Test code: a failed expectation is a failed test
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::disallowed_methods)]

mod common;

use common::{set, use_case, Run, HOUR, T0};
use revenue_core::duration::DAY_MS;
use revenue_core::policy::Outcome;

const MINUTE: i64 = 60_000;

/// A contact counts for a late event only while the customer's clock is inside its window:
/// the late event is answered now, long after the contact.
#[test]
fn a_late_event_meets_no_cooldown_of_a_contact_the_clock_has_left() {
    let s = set(
        "channels: {email: {cooldown: 2d}}",
        &[("a.yaml", use_case("mail", 50, "view", "email", ""))],
    );
    let mut run = Run::new(&s);
    assert_eq!(run.event("c1", "view", T0, "").len(), 1);
    // the clock moves on without a decision
    run.event("c1", "purchase", T0 + 10 * DAY_MS, r#""amount":1.0"#);
    let late = run.event("c1", "view", T0 + DAY_MS, "");
    assert_eq!(late.len(), 1, "the contact is 10 days behind the clock: no cooldown");
}

/// A late conversion counts for an exposure only while the customer's clock is inside it.
#[test]
fn a_late_conversion_counts_only_while_the_clock_is_in_the_window() {
    let s = set(
        "attribution: {window: 7d, conversions: [{event: purchase, value: event.amount}]}",
        &[("a.yaml", use_case("mail", 50, "view", "email", ""))],
    );
    let mut run = Run::new(&s);
    assert_eq!(run.event("c1", "view", T0, "").len(), 1);
    run.event("c1", "click", T0 + 10 * DAY_MS, "");
    run.event("c1", "purchase", T0 + DAY_MS, r#""amount":5.0"#);
    let treatment = run.counters.use_cases[0].treatment;
    assert_eq!(treatment.exposed, 1);
    assert_eq!(
        treatment.conversions, 0,
        "the window closed at the clock before it arrived"
    );
}

fn deferred_until(run: &Run) -> i64 {
    match run.decisions.last().expect("a decision").outcome {
        Outcome::Deferred(until) => until,
        other => panic!("not deferred: {other:?}"),
    }
}

/// Quiet hours end at 02:30, a time Berlin skips on 2026-03-29 (02:00 CET → 03:00 CEST at
/// 01:00 UTC): they are over at 03:00 CEST, so the action is due then, not at 03:30.
#[test]
fn quiet_hours_ending_in_a_skipped_hour_end_with_it() {
    let s = set(
        "quiet_hours: {start: '20:00', end: '02:30', default_timezone: Europe/Berlin}",
        &[("a.yaml", use_case("mail", 50, "view", "email", ""))],
    );
    let mut run = Run::new(&s);
    let day = T0 + 83 * DAY_MS;
    // 00:30 UTC = 01:30 CET
    assert!(run.event("c1", "view", day + 30 * MINUTE, "").is_empty());
    assert_eq!(deferred_until(&run), day + HOUR);
    // an action decided at 03:10 CEST is not deferred at all
    assert_eq!(run.event("c2", "view", day + HOUR + 10 * MINUTE, "").len(), 1);
}

/// Berlin repeats 02:00–03:00 on 2026-10-25 (03:00 CEST → 02:00 CET at 01:00 UTC): at 02:10
/// CET the local time is before 02:30 again, so the action waits for 02:30 CET, not 02:30 CEST
/// (which has passed).
#[test]
fn quiet_hours_ending_in_a_repeated_hour_end_after_the_decision() {
    let s = set(
        "quiet_hours: {start: '20:00', end: '02:30', default_timezone: Europe/Berlin}",
        &[("a.yaml", use_case("mail", 50, "view", "email", ""))],
    );
    let mut run = Run::new(&s);
    let day = T0 + 293 * DAY_MS;
    assert!(run.event("c1", "view", day + HOUR + 10 * MINUTE, "").is_empty());
    assert_eq!(deferred_until(&run), day + HOUR + 30 * MINUTE);
}

/// Two actions deferred by the same event, due at the same time, are sent in the order they
/// were decided (best ranked first), whatever their use cases are called.
#[test]
fn deferred_actions_due_together_are_sent_in_the_order_decided() {
    for (a, b) in [(90, 50), (50, 90)] {
        let s = set(
            "quiet_hours: {start: '20:00', end: '08:00'}",
            &[
                ("a.yaml", use_case("alpha", a, "view", "email", "")),
                ("b.yaml", use_case("beta", b, "view", "crm_task", "")),
            ],
        );
        let mut run = Run::new(&s);
        assert!(run.event("c1", "view", T0 + 22 * HOUR, "").is_empty());
        let sent: Vec<String> = run
            .sweep("c1", T0 + DAY_MS + 8 * HOUR)
            .iter()
            .map(|a| a.use_case_id.to_string())
            .collect();
        let first = if a > b { "alpha" } else { "beta" };
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0], first, "priorities {a}, {b}");
    }
}

/// Quiet hours from 03:00 to 02:30 leave only 02:30–03:00 open, an hour New York skips on
/// 2026-03-08 (02:00 EST → 03:00 EDT at 07:00 UTC): at 03:00 EDT it is quiet again, so the
/// action waits for 02:30 the next day.
#[test]
fn quiet_hours_whose_open_time_a_dst_change_skips_end_the_next_day() {
    let s = set(
        "quiet_hours: {start: '03:00', end: '02:30', default_timezone: America/New_York}",
        &[("a.yaml", use_case("mail", 50, "view", "email", ""))],
    );
    let mut run = Run::new(&s);
    let day = T0 + 62 * DAY_MS;
    // 02:00 UTC = 21:00 EST the day before
    assert!(run.event("c1", "view", day + 2 * HOUR, "").is_empty());
    assert_eq!(deferred_until(&run), day + DAY_MS + 6 * HOUR + 30 * MINUTE);
}
