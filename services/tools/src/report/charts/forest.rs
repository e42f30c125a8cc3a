//! Forest plots: one row per use case, the estimate as a dot, its interval as a whisker, a zero
//! line; intervals that exclude zero are coloured.

use super::{coord, truncate, Scale, GRID, INK, NEGATIVE, NEUTRAL, POSITIVE, SVG_NAMESPACE};
use crate::report::format::{fmt_interval, significance_class, use_case_label};
use maud::{html, Markup};
use revenue_core::measure::Interval;
use revenue_replay::UseCaseSummary;

pub(in crate::report) struct ForestRow {
    label: String,
    interval: Option<Interval>,
    /// Shown instead of the interval when there is none.
    note: &'static str,
}

pub(in crate::report) fn lift_row(uc: &UseCaseSummary) -> ForestRow {
    let interval = uc.measurement.as_ref().and_then(|m| m.lift).map(|l| l.rate_difference);
    ForestRow {
        label: use_case_label(uc),
        interval,
        note: if uc.measurement.is_some() {
            "not enough exposures yet"
        } else {
            "no control group"
        },
    }
}

pub(in crate::report) fn revenue_row(uc: &UseCaseSummary) -> ForestRow {
    let lift = uc.measurement.as_ref().and_then(|m| m.lift);
    ForestRow {
        label: use_case_label(uc),
        interval: lift.and_then(|l| l.incremental_revenue),
        note: match (&uc.measurement, lift) {
            (None, _) => "no control group",
            (Some(_), None) => "not enough exposures yet",
            (Some(_), Some(_)) => "too few exposures for a revenue interval",
        },
    }
}

const W: f64 = 1100.0;
const LABEL: f64 = 250.0;
const VALUES: f64 = 270.0;
const ROW: f64 = 32.0;
const TOP: f64 = 12.0;
const AXIS: f64 = 40.0;

/// The forest plot of `rows`, values written with `f`, the axis titled `unit`.
pub(in crate::report) fn forest_plot(rows: &[ForestRow], f: fn(f64) -> String, unit: &str) -> Markup {
    let plot = (LABEL + 10.0, W - VALUES - 20.0);
    let scale = Scale::nice(
        rows.iter()
            .filter_map(|r| r.interval)
            .flat_map(|i| [i.lower, i.upper, i.estimate]),
        plot,
    );
    let height = TOP + ROW * rows.len() as f64 + AXIS;
    let bottom = TOP + ROW * rows.len() as f64;
    let zero = scale.px(0.0);
    html! {
        svg class="chart" viewBox=(format!("0 0 {W} {height}")) width="100%" role="img" aria-label=(unit)
            xmlns=(SVG_NAMESPACE) {
            // zebra stripes
            @for i in (0..rows.len()).step_by(2) {
                rect x="0" y=(coord(TOP + ROW * i as f64)) width=(W) height=(ROW) fill="#f6f8fa" {}
            }
            @for t in &scale.ticks {
                @let x = coord(scale.px(*t));
                line x1=(x) y1=(TOP) x2=(x) y2=(coord(bottom)) stroke=(GRID) {}
                text x=(x) y=(coord(bottom + 16.0)) class="tick" text-anchor="middle" { (f(*t)) }
            }
            line x1=(coord(zero)) y1=(coord(TOP - 4.0)) x2=(coord(zero)) y2=(coord(bottom)) stroke=(INK)
                stroke-width="1.5" stroke-dasharray="4 3" {}
            text x=(coord((plot.0 + plot.1) / 2.0)) y=(coord(bottom + 34.0)) class="axis" text-anchor="middle" {
                (unit)
            }
            @for (i, row) in rows.iter().enumerate() {
                (forest_row(row, TOP + ROW * i as f64 + ROW / 2.0, &scale, plot.0, f))
            }
        }
    }
}

/// The colour of an interval: green or red when it excludes zero, grey when it does not.
fn interval_color(interval: &Interval) -> &'static str {
    match significance_class(interval) {
        "pos" => POSITIVE,
        "neg" => NEGATIVE,
        _ => NEUTRAL,
    }
}

/// One row centred at `y`: label, whisker and dot, and the interval in words.
fn forest_row(row: &ForestRow, y: f64, scale: &Scale, plot_left: f64, f: fn(f64) -> String) -> Markup {
    let label = html! {
        text x=(coord(LABEL)) y=(coord(y + 4.5)) class="label" text-anchor="end" { (truncate(&row.label, 34)) }
    };
    let Some(i) = row.interval else {
        return html! {
            (label)
            text x=(coord(plot_left + 8.0)) y=(coord(y + 4.5)) class="note" { (row.note) }
        };
    };
    let color = interval_color(&i);
    let (x0, x1, xe) = (
        coord(scale.px(i.lower)),
        coord(scale.px(i.upper)),
        coord(scale.px(i.estimate)),
    );
    let (mid, top, bottom) = (coord(y), coord(y - 6.0), coord(y + 6.0));
    // significant intervals stand out in bold
    let weight = (color != NEUTRAL).then_some("600");
    html! {
        (label)
        line x1=(x0) y1=(mid) x2=(x1) y2=(mid) stroke=(color) stroke-width="2.5" {}
        line x1=(x0) y1=(top) x2=(x0) y2=(bottom) stroke=(color) stroke-width="2" {}
        line x1=(x1) y1=(top) x2=(x1) y2=(bottom) stroke=(color) stroke-width="2" {}
        circle cx=(xe) cy=(mid) r="6" fill=(color) stroke="#fff" stroke-width="1.5" {}
        text x=(coord(W - VALUES)) y=(coord(y + 4.5)) class="value" fill=(color) font-weight=[weight] {
            (fmt_interval(&i, f))
        }
    }
}
