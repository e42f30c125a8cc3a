//! The funnel of a lead-scoring use case: stage conversion and lead velocity side by side.

use super::{coord, truncate, ACCENT, CHANNEL_COLORS, SVG_NAMESPACE};
use crate::report::format::{fmt_count, fmt_days, fmt_percent};
use maud::{html, Markup};
use revenue_replay::StageSummary;

const W: f64 = 1060.0;
const LABEL: f64 = 230.0;
const ROW: f64 = 30.0;
const TOP: f64 = 24.0;

/// Two bar columns sharing the stage labels: conversion from the previous stage, and the
/// median days it took (lead velocity). Leads reached are written beside the stage name.
pub(in crate::report) fn funnel_chart(stages: &[StageSummary]) -> Markup {
    let col = (W - LABEL - 40.0) / 2.0;
    let conv = (LABEL + 10.0, LABEL + col - 70.0);
    let vel = (LABEL + col + 30.0, W - 70.0);
    let max_days = stages
        .iter()
        .filter_map(|s| s.median_days_from_previous)
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max);
    let height = TOP + ROW * stages.len() as f64 + 4.0;
    html! {
        svg class="chart" viewBox=(format!("0 0 {W} {height}")) width="100%" xmlns=(SVG_NAMESPACE) {
            text x=(coord(conv.0)) y="14" class="axis" { "Conversion from previous stage" }
            text x=(coord(vel.0)) y="14" class="axis" { "Lead velocity: median days from previous stage" }
            @for (i, stage) in stages.iter().enumerate() {
                @let y = TOP + ROW * i as f64;
                @let mid = coord(y + ROW / 2.0 + 4.0);
                text x=(LABEL) y=(mid) class="label" text-anchor="end" {
                    (truncate(&stage.stage, 16)) " · " (fmt_count(stage.reached)) " leads"
                }
                @match stage.conversion_from_previous.filter(|c| c.is_finite()) {
                    Some(c) => {
                        @let len = (c.clamp(0.0, 1.0) * (conv.1 - conv.0)).max(1.0);
                        rect x=(coord(conv.0)) y=(coord(y + 5.0)) width=(coord(len)) height=(coord(ROW - 10.0)) rx="2"
                            fill=(ACCENT) {}
                        text x=(coord(conv.0 + len + 6.0)) y=(mid) class="value" { (fmt_percent(c)) }
                    }
                    None => {
                        text x=(coord(conv.0)) y=(mid) class="note" { "entry stage" }
                    }
                }
                @match stage.median_days_from_previous.filter(|d| d.is_finite()) {
                    Some(d) => {
                        @let len = if max_days > 0.0 {
                            (d.max(0.0) / max_days * (vel.1 - vel.0)).max(1.0)
                        } else {
                            1.0
                        };
                        rect x=(coord(vel.0)) y=(coord(y + 5.0)) width=(coord(len)) height=(coord(ROW - 10.0)) rx="2"
                            fill=(CHANNEL_COLORS[1]) {}
                        text x=(coord(vel.0 + len + 6.0)) y=(mid) class="value" { (fmt_days(d)) }
                    }
                    None => {
                        text x=(coord(vel.0)) y=(mid) class="note" { "—" }
                    }
                }
            }
        }
    }
}
