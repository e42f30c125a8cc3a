//! The page's promises: escaped user text, readable numbers, sound scales, complete pages.

use super::charts::POSITIVE;
use super::*;
use revenue_core::measure::{lift, GroupTotals, Interval};
use revenue_replay::{Measurement, PolicyOutcomes, UseCaseSummary};

#[test]
fn escapes_markup_and_quotes() {
    let summary = ReplaySummary {
        use_cases: vec![UseCaseSummary {
            id: "<script>alert(1)</script>".into(),
            labels: [("region".to_string(), "\"EMEA\"".to_string())].into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let html = render_html(
        &summary,
        &ReportMeta {
            title: "Q3 & <review>".into(),
            ..Default::default()
        },
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&quot;EMEA&quot;"));
    assert!(html.contains("<title>Q3 &amp; &lt;review&gt;</title>"));
}

#[test]
fn formats_numbers_readably() {
    assert_eq!(fmt_count(0), "0");
    assert_eq!(fmt_count(999), "999");
    assert_eq!(fmt_count(1_000), "1,000");
    assert_eq!(fmt_count(1_234_567), "1,234,567");
    assert_eq!(fmt_amount(1_234_567.89), "1,234,568");
    assert_eq!(fmt_amount(42.5), "42.50");
    assert_eq!(fmt_amount(-12_345.0), "\u{2212}12,345");
    assert_eq!(fmt_signed_amount(12_345.0), "+12,345");
    assert_eq!(fmt_signed_amount(-0.001), "0.00");
    assert_eq!(fmt_percent(0.1234), "12.3%");
    assert_eq!(fmt_percent(0.0042), "0.42%");
    assert_eq!(fmt_percent(1.0), "100.0%");
    assert_eq!(fmt_signed_percent(2.4), "+240.0%");
    assert_eq!(fmt_roi(764.49), "764.5×");
    assert_eq!(fmt_roi(-0.888), "\u{2212}0.9×");
    assert_eq!(fmt_pp(0.031), "+3.1 pp");
    assert_eq!(fmt_pp(-0.0123), "\u{2212}1.2 pp");
    assert_eq!(fmt_days(4.0), "4 d");
    assert_eq!(fmt_days(4.25), "4.2 d");
    assert_eq!(fmt_number(f64::NAN, 1), "—");
    let i = Interval {
        estimate: 0.03,
        lower: -0.005,
        upper: 0.065,
    };
    assert_eq!(fmt_interval(&i, fmt_pp), "+3.0 pp [\u{2212}0.50 pp, +6.5 pp]");
}

#[test]
fn scale_covers_negative_intervals_and_zero() {
    let s = Scale::nice([-0.013, 0.042, 0.02], (100.0, 600.0));
    assert!(s.domain.0 <= -0.013 && s.domain.1 >= 0.042, "{s:?}");
    assert!(s.ticks.contains(&0.0), "{s:?}");
    assert_eq!(s.ticks.first(), Some(&s.domain.0));
    assert_eq!(s.ticks.last(), Some(&s.domain.1));
    assert!((4..=12).contains(&s.ticks.len()), "{s:?}");
    let (lo, zero, hi) = (s.px(-0.013), s.px(0.0), s.px(0.042));
    assert!(100.0 <= lo && lo < zero && zero < hi && hi <= 600.0, "{lo} {zero} {hi}");
    assert_eq!(s.px(s.domain.0), 100.0);
    assert_eq!(s.px(s.domain.1), 600.0);
    // all-negative values still show the zero line, at the right end
    let s = Scale::nice([-500.0, -120.0], (0.0, 100.0));
    assert_eq!(s.px(0.0), 100.0);
    // nothing to show: a unit domain, no division by zero
    let s = Scale::nice(std::iter::empty(), (0.0, 100.0));
    assert_eq!(s.domain, (0.0, 1.0));
    assert!(s.px(f64::NAN).is_finite());
}

#[test]
fn empty_summary_renders_a_complete_page() {
    let html = render_html(
        &ReplaySummary::default(),
        &ReportMeta {
            title: "Empty".into(),
            source: "nothing.jsonl".into(),
            generated_at: "2025-01-01 00:00 UTC".into(),
        },
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert!(html.contains("No use cases in this summary."));
    assert!(html.contains("2025-01-01 00:00 UTC"));
}

/// A group's totals: each converted exposure brought 100 of revenue.
fn totals(exposed: u64, converted: u64, conversions: u64) -> GroupTotals {
    GroupTotals {
        exposed,
        converted,
        conversions,
        revenue: converted as f64 * 100.0,
        revenue_squared: converted as f64 * 100.0 * 100.0 * 1.2,
    }
}

#[test]
fn use_case_without_control_group_shows_no_numbers() {
    let (t, c) = (totals(5000, 400, 420), totals(5000, 250, 260));
    let summary = ReplaySummary {
        use_cases: vec![
            UseCaseSummary {
                id: "measured".into(),
                policy: PolicyOutcomes {
                    suppressed: [("holdout".to_string(), 5000), ("cap".to_string(), 12)].into(),
                    ..Default::default()
                },
                measurement: Some(Measurement {
                    holdout_share: 0.5,
                    treatment: t,
                    control: c,
                    lift: lift(&t, &c),
                }),
                ..Default::default()
            },
            UseCaseSummary {
                id: "unmeasured".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let html = render_html(&summary, &ReportMeta::default());
    assert!(html.contains("no control group"));
    assert!(html.contains("+3.0 pp ["), "{html}");
    // coloured as significant
    assert!(html.contains(POSITIVE));
}

/// Issue 14, defect 5: a deferred action later delivered is an action, not a suppression; a
/// shadow use case's figures are "would have", without cost or ROI, and outside the totals.
#[test]
fn deferred_is_not_suppressed_and_shadow_is_would_have_outside_the_totals() {
    let (t, c) = (totals(5000, 400, 420), totals(500, 20, 20));
    let live = UseCaseSummary {
        id: "recommendations".into(),
        status: "live".into(),
        actions: 90,
        actions_by_channel: [("email".to_string(), 90)].into(),
        policy: PolicyOutcomes {
            // 40 deferred by quiet hours, 38 of them delivered (among the 90 actions)
            suppressed: [
                ("quiet_hours".to_string(), 40),
                ("cap".to_string(), 5),
                ("holdout".to_string(), 2),
            ]
            .into(),
            deferred: 40,
            deferred_delivered: 38,
        },
        cost: 123.0,
        ..Default::default()
    };
    // as a summary written before the fix has it: cost and ROI as if sent
    let shadow = UseCaseSummary {
        id: "lead-scoring".into(),
        status: "shadow".into(),
        actions: 300,
        actions_by_channel: [("crm".to_string(), 300)].into(),
        measurement: Some(Measurement {
            holdout_share: 0.1,
            treatment: t,
            control: c,
            lift: lift(&t, &c),
        }),
        cost: 4_560.0,
        roi: Some(63_166.7),
        ..Default::default()
    };
    let use_cases = vec![live, shadow];
    let summary = ReplaySummary {
        kpis: revenue_replay::kpis(&use_cases, None),
        use_cases,
        ..Default::default()
    };
    let html = render_html(&summary, &ReportMeta::default());
    // suppressed: cap and holdout; the deferred ones are shown as deferred
    assert!(
        html.contains(r#"<td class="n">7<div class="ci">40 deferred</div></td>"#),
        "{html}"
    );
    assert!(
        !html.contains("quiet hours</text>"),
        "no quiet-hours bar among the suppressions"
    );
    assert!(html.contains("38 delivered when they ended (counted as actions)"));
    // the shadow use case: would-have figures, no cost or ROI, not in the totals
    assert!(html.contains("Would-have actions") && html.contains("Would-have lift"));
    assert!(html.contains("lead-scoring (would have)"), "marked in the charts");
    assert!(
        !html.contains("63,166.7") && !html.contains("4,560"),
        "no cost or ROI as if sent"
    );
    assert!(!html.contains("4,683"), "the cost total leaves the shadow use case out");
    assert_eq!(summary.kpis.cost, 123.0);
    assert_eq!(
        (summary.kpis.attributable_revenue, summary.kpis.incremental_revenue),
        (0.0, 0.0)
    );
}
