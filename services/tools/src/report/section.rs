//! One section of the page: the KPI header, the overview table, the charts across use cases,
//! a card per use case and the run's facts.

use super::charts::{bar_chart, forest_plot, lift_row, revenue_row, Bar, ChannelPalette, ForestRow, ACCENT};
use super::format::{
    deferred_count, fmt_amount, fmt_count, fmt_days, fmt_percent, fmt_pp, fmt_roi, fmt_signed_amount, or_dash,
    significance_class, suppressed_count, use_case_label,
};
use super::{use_case, Section};
use maud::{html, Markup};
use revenue_core::measure::Interval;
use revenue_replay::{is_shadow, ReplaySummary, UseCaseSummary};

pub(super) fn render(section: &Section<'_>) -> Markup {
    let s = section.summary;
    html! {
        section.run {
            @if !section.heading.is_empty() {
                h2.section { (section.heading) span.src { (section.source) } }
            }
            (kpis(s))
            @if s.use_cases.is_empty() {
                p.empty { "No use cases in this summary." }
            } @else {
                (overview_table(s))
                (charts_across_use_cases(s))
                h2.sub { "Use cases" }
                @let palette = ChannelPalette::new(s);
                @for uc in &s.use_cases {
                    (use_case::render(uc, &palette))
                }
                (run_facts(s))
            }
        }
    }
}

fn kpis(s: &ReplaySummary) -> Markup {
    let k = &s.kpis;
    let total = if k.use_cases > 0 {
        k.use_cases
    } else {
        s.use_cases.len() as u64
    };
    let automation = if total > 0 {
        format!("{} of {}", fmt_count(k.live_use_cases), fmt_count(total))
    } else {
        "—".to_string()
    };
    let share = if total > 0 {
        fmt_percent(k.live_use_cases as f64 / total as f64) + " of use cases live"
    } else {
        "no use cases".to_string()
    };
    html! {
        div.kpis {
            (kpi("Attributable revenue", &fmt_amount(k.attributable_revenue), "sales of treated customers"))
            (kpi(
                "Incremental revenue",
                &fmt_signed_amount(k.incremental_revenue),
                "revenue effect over control groups",
            ))
            (kpi("Cost", &fmt_amount(k.cost), "actions × cost per channel"))
            (kpi("ROI", &or_dash(k.roi, fmt_roi), "(incremental revenue − cost) ÷ cost"))
            (kpi("Degree of automation", &automation, &share))
            (kpi_list("Channels", &k.channels))
            (kpi_list("Regions", &k.regions))
            (kpi_list("Business units", &k.business_units))
            (kpi(
                "Attribution window",
                &or_dash(k.attribution_window_days, fmt_days),
                "conversions counted after an action",
            ))
        }
    }
}

fn kpi(label: &str, value: &str, note: &str) -> Markup {
    html! {
        div.kpi {
            div.label { (label) }
            div.value { (value) }
            div.note { (note) }
        }
    }
}

fn kpi_list(label: &str, items: &[String]) -> Markup {
    let note = if items.is_empty() {
        "none recorded".to_string()
    } else {
        items.join(", ")
    };
    kpi(label, &fmt_count(items.len() as u64), &note)
}

fn overview_table(s: &ReplaySummary) -> Markup {
    html! {
        div.card {
            h3 { "Overview" }
            table.overview {
                thead {
                    tr {
                        th { "Use case" }
                        th { "Status" }
                        th.n { "Reach" }
                        th.n { "Actions" }
                        th.n { "Suppressed" }
                        th.n { "Treatment conv." }
                        th.n { "Control conv." }
                        th.n { "Lift (95\u{a0}% CI)" }
                        th.n { "Incremental revenue (95\u{a0}% CI)" }
                        th.n { "Cost" }
                        th.n { "ROI" }
                    }
                }
                tbody {
                    @for uc in &s.use_cases {
                        (overview_row(uc))
                    }
                }
            }
        }
    }
}

fn overview_row(uc: &UseCaseSummary) -> Markup {
    let shadow = is_shadow(uc);
    html! {
        tr {
            td.id { (uc.id) div.ci { (labels_text(uc)) } }
            td { (status_badge(&uc.status)) @if shadow { div.ci { "would have" } } }
            td.n { (fmt_count(uc.customers_reached)) }
            td.n { (fmt_count(uc.actions)) }
            td.n {
                (fmt_count(suppressed_count(uc)))
                @let deferred = deferred_count(uc);
                @if deferred > 0 { div.ci { (fmt_count(deferred)) " deferred" } }
            }
            @match uc.measurement.as_ref().map(|m| m.lift) {
                None => { td.muted.c colspan="4" { "no control group" } }
                Some(None) => { td.muted.c colspan="4" { "not enough exposures yet" } }
                Some(Some(lift)) => {
                    td.n { (fmt_percent(lift.treatment_rate)) }
                    td.n { (fmt_percent(lift.control_rate)) }
                    td class={ "n " (significance_class(&lift.rate_difference)) } {
                        (interval_cell(&lift.rate_difference, fmt_pp))
                    }
                    td.n {
                        @match lift.incremental_revenue {
                            Some(i) => { (interval_cell(&i, fmt_signed_amount)) }
                            None => { "—" }
                        }
                    }
                }
            }
            @if shadow {
                td.muted.c colspan="2" { "not sent" }
            } @else {
                td.n { (fmt_amount(uc.cost)) }
                td.n { (or_dash(uc.roi, fmt_roi)) }
            }
        }
    }
}

/// The lift and incremental revenue forest plots and the reach of every use case.
fn charts_across_use_cases(s: &ReplaySummary) -> Markup {
    let lift_rows: Vec<ForestRow> = s.use_cases.iter().map(lift_row).collect();
    let revenue_rows: Vec<ForestRow> = s.use_cases.iter().map(revenue_row).collect();
    let reach: Vec<Bar> = s
        .use_cases
        .iter()
        .map(|uc| Bar {
            label: use_case_label(uc),
            value: uc.customers_reached as f64,
            color: ACCENT.into(),
        })
        .collect();
    html! {
        div.card {
            h3 { "Lift in conversion rate, by use case" }
            p.hint {
                "Treatment − control conversion rate in percentage points; the whisker is the 95\u{a0}% \
                 interval. Coloured: the interval excludes zero (significant)."
            }
            (forest_plot(&lift_rows, fmt_pp, "percentage points"))
        }
        div.card {
            h3 { "Incremental revenue, by use case" }
            p.hint { "Revenue the use case added over its control group, with the 95\u{a0}% interval." }
            (forest_plot(&revenue_rows, fmt_signed_amount, "revenue"))
        }
        div.card {
            h3 { "Customers reached, by use case" }
            (bar_chart(&reach, 1100.0, 250.0, 80.0, &|v| fmt_count(v as u64)))
        }
    }
}

fn run_facts(s: &ReplaySummary) -> Markup {
    if s.lines == 0 && s.events == 0 {
        return html! {};
    }
    html! {
        p.facts {
            (fmt_count(s.events)) " events from " (fmt_count(s.lines)) " lines · "
            (fmt_count(s.customers)) " customers · " (fmt_count(s.malformed)) " malformed lines · "
            (fmt_count(s.actions)) " actions · " (fmt_count(s.expired_customers)) " customers expired"
        }
    }
}

/// The estimate, and its interval below it in small type (keeps the table narrow).
fn interval_cell(i: &Interval, f: fn(f64) -> String) -> Markup {
    html! {
        (f(i.estimate)) div.ci { (f(i.lower)) " to " (f(i.upper)) }
    }
}

fn labels_text(uc: &UseCaseSummary) -> String {
    let parts: Vec<&str> = ["region", "business_unit"]
        .iter()
        .filter_map(|k| uc.labels.get(*k).map(String::as_str))
        .collect();
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join(" · ")
    }
}

pub(super) fn status_badge(status: &str) -> Markup {
    let class = match status {
        "live" => "live",
        "shadow" => "shadow",
        _ => "other",
    };
    html! {
        span class={ "badge " (class) } { (if status.is_empty() { "unknown" } else { status }) }
    }
}
