//! The marketing lead's report: one self-contained HTML page drawn from a [`ReplaySummary`]
//! (a back-test, or the live engine's figures read from Prometheus). Inline CSS and charts as
//! inline SVG, no script and no external resource: it opens offline, as a mail attachment and
//! behind a closed network alike.
//!
//! The markup is written with `maud`, which escapes every value it inserts: use case ids, labels
//! and titles come from user files and cannot inject markup.

mod charts;
mod format;
mod section;
#[cfg(test)]
mod tests;
mod use_case;

pub use charts::Scale;
pub use format::{
    fmt_amount, fmt_count, fmt_days, fmt_interval, fmt_number, fmt_percent, fmt_pp, fmt_roi, fmt_signed_amount,
    fmt_signed_percent,
};

use maud::{html, PreEscaped, DOCTYPE};
use revenue_replay::ReplaySummary;

/// The page's style sheet, inlined so the page needs nothing else.
const CSS: &str = include_str!("style.css");

/// What the page says about itself. `generated_at` is passed in (no clock read here) so the
/// output is a pure function of its input.
#[derive(Debug, Clone, Default)]
pub struct ReportMeta {
    pub title: String,
    /// Where the figures come from: the events file of the replay, a Prometheus URL, …
    pub source: String,
    pub generated_at: String,
}

/// One block of the page: a heading, where its figures come from, and the figures.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    pub heading: String,
    pub source: String,
    pub summary: &'a ReplaySummary,
}

/// The report of one summary.
pub fn render_html(summary: &ReplaySummary, meta: &ReportMeta) -> String {
    render_sections(
        &meta.title,
        &meta.generated_at,
        &[Section {
            heading: String::new(),
            source: meta.source.clone(),
            summary,
        }],
    )
}

/// The report of several summaries one below the other (e.g. a back-test and the live figures).
pub fn render_sections(title: &str, generated_at: &str, sections: &[Section<'_>]) -> String {
    let sources: Vec<&str> = sections.iter().map(|s| s.source.as_str()).collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    header.page {
                        h1 { (title) }
                        p.meta { "Source: " (sources.join(" · ")) " · Generated " (generated_at) }
                    }
                    @for section in sections {
                        (section::render(section))
                    }
                    footer {
                        "Lift: treatment conversion rate − control conversion rate, with its 95\u{a0}% \
                         interval (Newcombe). Incremental revenue: revenue per treated exposure − per control \
                         exposure, × treated exposures (Welch, 95\u{a0}%). ROI: (incremental revenue − cost) ÷ \
                         cost. Amounts are in the currency of the event data."
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}
