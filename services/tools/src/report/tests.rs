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

#[test]
fn use_case_without_control_group_shows_no_numbers() {
    let t = GroupTotals {
        exposed: 5000,
        converted: 400,
        conversions: 420,
        revenue: 40_000.0,
        revenue_squared: 400.0 * 100.0 * 100.0 * 1.2,
    };
    let c = GroupTotals {
        exposed: 5000,
        converted: 250,
        conversions: 260,
        revenue: 25_000.0,
        revenue_squared: 250.0 * 100.0 * 100.0 * 1.2,
    };
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
