//! Charts as inline SVG: forest plots of intervals, horizontal bars and the funnel, with the
//! page's colours.

mod bars;
mod forest;
mod funnel;
mod scale;

pub(super) use bars::{bar_chart, Bar};
pub(super) use forest::{forest_plot, lift_row, revenue_row, ForestRow};
pub(super) use funnel::funnel_chart;
pub use scale::Scale;

use revenue_replay::ReplaySummary;
use std::collections::BTreeSet;

pub(super) const ACCENT: &str = "#2f6db5";
pub(super) const CONTROL: &str = "#9aa4b1";
pub(super) const SUPPRESSED: &str = "#d9822b";
pub(super) const POSITIVE: &str = "#1a7f37";
const NEGATIVE: &str = "#c0362c";
const NEUTRAL: &str = "#6e7781";
const GRID: &str = "#e3e6ea";
const INK: &str = "#1f2328";
const CHANNEL_COLORS: [&str; 8] = [
    "#2f6db5", "#18a999", "#8e5ac8", "#e0a31a", "#d0508f", "#4c9be8", "#6b8e23", "#a0522d",
];

/// The SVG namespace: an identifier, never fetched.
const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

/// A colour per channel, the same in every use case of the page.
pub(super) struct ChannelPalette(Vec<String>);

impl ChannelPalette {
    pub(super) fn new(s: &ReplaySummary) -> ChannelPalette {
        let all: BTreeSet<String> = s
            .use_cases
            .iter()
            .flat_map(|uc| uc.actions_by_channel.keys().chain(uc.channels.iter()).cloned())
            .collect();
        ChannelPalette(all.into_iter().collect())
    }

    pub(super) fn color(&self, channel: &str) -> &'static str {
        let i = self.0.iter().position(|c| c == channel).unwrap_or(0);
        CHANNEL_COLORS[i % CHANNEL_COLORS.len()]
    }
}

/// A coordinate as SVG attributes carry it: one decimal.
fn coord(x: f64) -> String {
    format!("{x:.1}")
}

/// `text` cut to `max` characters (at least 4) with an ellipsis.
fn truncate(text: &str, max: usize) -> String {
    let max = max.max(4);
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut t: String = text.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
