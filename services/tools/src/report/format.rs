//! Numbers as the report writes them: thousands separators, a typographic minus, percentages,
//! percentage points, amounts, ROI multiples and intervals.

use revenue_core::measure::Interval;

const MINUS: char = '\u{2212}';

/// `x` with `decimals` decimals and thousands separators; a typographic minus for negatives.
pub fn fmt_number(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let digits = format!("{:.*}", decimals, x.abs());
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    // a value that rounds to zero carries no sign
    if x < 0.0 && digits.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        grouped.push(MINUS);
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if !frac.is_empty() {
        grouped.push('.');
        grouped.push_str(frac);
    }
    grouped
}

fn with_sign(text: String, x: f64) -> String {
    if text.starts_with(MINUS) || text == "—" || !text.bytes().any(|b| (b'1'..=b'9').contains(&b)) || x <= 0.0 {
        text
    } else {
        format!("+{text}")
    }
}

pub fn fmt_count(n: u64) -> String {
    fmt_number(n as f64, 0)
}

/// An amount of money, currency-neutral: whole units from 100 up, cents below.
pub fn fmt_amount(x: f64) -> String {
    fmt_number(x, if x.abs() >= 100.0 || x.fract() == 0.0 { 0 } else { 2 })
}

pub fn fmt_signed_amount(x: f64) -> String {
    with_sign(fmt_amount(x), x)
}

fn percent_decimals(x: f64) -> usize {
    if x.abs() < 0.01 && x != 0.0 {
        2
    } else {
        1
    }
}

/// A share as a percentage: 0.1234 → "12.3%".
pub fn fmt_percent(x: f64) -> String {
    format!("{}%", fmt_number(x * 100.0, percent_decimals(x)))
}

pub fn fmt_signed_percent(x: f64) -> String {
    with_sign(fmt_percent(x), x)
}

/// Return on cost as a multiple, as `replay` prints it: 2.4 → "2.4×".
pub fn fmt_roi(x: f64) -> String {
    format!("{}×", fmt_number(x, 1))
}

/// A difference of two rates in percentage points: 0.031 → "+3.1 pp".
pub fn fmt_pp(x: f64) -> String {
    with_sign(format!("{} pp", fmt_number(x * 100.0, percent_decimals(x))), x)
}

pub fn fmt_days(x: f64) -> String {
    let decimals = if x.fract() == 0.0 { 0 } else { 1 };
    format!("{} d", fmt_number(x, decimals))
}

/// "+3.1 pp [+1.2, +5.0]".
pub fn fmt_interval(i: &Interval, f: fn(f64) -> String) -> String {
    format!("{} [{}, {}]", f(i.estimate), f(i.lower), f(i.upper))
}

/// The CSS class of an interval: `pos` or `neg` when it excludes zero (significant), else none.
pub(super) fn significance_class(interval: &Interval) -> &'static str {
    if interval.lower > 0.0 {
        "pos"
    } else if interval.upper < 0.0 {
        "neg"
    } else {
        ""
    }
}

/// An optional figure, or a dash.
pub(super) fn or_dash(value: Option<f64>, f: fn(f64) -> String) -> String {
    value.map_or_else(|| "—".to_string(), f)
}

/// A use case's name in charts: a shadow use case's figures are marked "would have".
pub(super) fn use_case_label(uc: &revenue_replay::UseCaseSummary) -> String {
    if revenue_replay::is_shadow(uc) {
        format!("{} (would have)", uc.id)
    } else {
        uc.id.clone()
    }
}

/// Decisions the contact policy kept from being sent: every reason but quiet hours, whose
/// actions are deferred (and counted as actions once delivered), not suppressed.
pub(super) fn suppressed_count(uc: &revenue_replay::UseCaseSummary) -> u64 {
    uc.policy
        .suppressed
        .iter()
        .filter(|(reason, _)| reason.as_str() != QUIET_HOURS)
        .map(|(_, n)| n)
        .sum()
}

/// Decisions deferred by quiet hours: the deferral count, or the `quiet_hours` reason's where a
/// source (a Prometheus server without the deferral counter) has only that.
pub(super) fn deferred_count(uc: &revenue_replay::UseCaseSummary) -> u64 {
    let by_reason = uc.policy.suppressed.get(QUIET_HOURS).copied().unwrap_or(0);
    uc.policy.deferred.max(by_reason)
}

/// The reason under which deferred decisions are counted.
pub(super) const QUIET_HOURS: &str = "quiet_hours";
