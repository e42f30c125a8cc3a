//! Horizontal bar charts with the values written at the end of the bars.

use super::{coord, truncate, Scale, SVG_NAMESPACE};
use maud::{html, Markup};

pub(in crate::report) struct Bar {
    pub(in crate::report) label: String,
    pub(in crate::report) value: f64,
    pub(in crate::report) color: String,
}

/// Horizontal bars with their values written at the end; `label_width` px for the labels.
pub(in crate::report) fn bar_chart(
    bars: &[Bar],
    width: f64,
    label_width: f64,
    value_width: f64,
    f: &dyn Fn(f64) -> String,
) -> Markup {
    if bars.is_empty() {
        return html! { p.muted.none { "none" } };
    }
    const ROW: f64 = 26.0;
    let scale = Scale::nice(bars.iter().map(|b| b.value), (label_width + 8.0, width - value_width));
    let height = ROW * bars.len() as f64 + 4.0;
    // scale to the largest bar rather than a round tick: the bars are read by their numbers
    let max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let span = scale.range.1 - scale.range.0;
    html! {
        svg class="chart" viewBox=(format!("0 0 {width} {height}")) width="100%" xmlns=(SVG_NAMESPACE) {
            @for (i, bar) in bars.iter().enumerate() {
                @let y = 2.0 + ROW * i as f64;
                @let len = if max > 0.0 && bar.value.is_finite() {
                    (bar.value.max(0.0) / max * span).max(1.0)
                } else {
                    1.0
                };
                text x=(coord(label_width)) y=(coord(y + ROW / 2.0 + 4.0)) class="label" text-anchor="end" {
                    (truncate(&bar.label, (label_width / 6.5) as usize))
                }
                rect x=(coord(scale.range.0)) y=(coord(y + 4.0)) width=(coord(len)) height=(coord(ROW - 8.0)) rx="2"
                    fill=(bar.color) {}
                text x=(coord(scale.range.0 + len + 6.0)) y=(coord(y + ROW / 2.0 + 4.0)) class="value" {
                    (f(bar.value))
                }
            }
        }
    }
}
