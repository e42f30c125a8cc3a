//! The card of one use case: its head with status and labels, its figures, and panels for
//! actions by channel, suppressions, treatment against control and the funnel.

use super::charts::{bar_chart, funnel_chart, Bar, ChannelPalette, ACCENT, CONTROL, SUPPRESSED};
use super::format::{deferred_count, or_dash, significance_class, QUIET_HOURS};
use super::format::{fmt_amount, fmt_count, fmt_interval, fmt_percent, fmt_pp, fmt_roi, fmt_signed_amount};
use super::section::status_badge;
use maud::{html, Markup};
use revenue_replay::{is_shadow, UseCaseSummary};

const CONVERSION_PANEL: &str = "Conversion rate: treatment vs control";

pub(super) fn render(uc: &UseCaseSummary, palette: &ChannelPalette) -> Markup {
    let mut tags = Vec::new();
    for (k, v) in &uc.labels {
        tags.push(format!("{}: {}", k.replace('_', " "), v));
    }
    if uc.priority > 0 {
        tags.push(format!("priority {}", uc.priority));
    }
    html! {
        article.card.usecase {
            div.uc-head {
                h3 { (uc.id) " " span.ver { "v" (uc.version) } }
                (status_badge(&uc.status))
                @if is_shadow(uc) {
                    span.tag { "would have: nothing sent, not in the totals" }
                }
                @for tag in &tags {
                    span.tag { (tag) }
                }
            }
            (stats(uc))
            div.panels {
                (panel("Actions by channel", actions_by_channel(uc, palette)))
                (panel("Suppressed by reason", suppressions(uc)))
                (panel(CONVERSION_PANEL, treatment_against_control(uc)))
                @if !uc.funnel.is_empty() {
                    div.panel.wide {
                        h4 { "Funnel: stage conversion and lead velocity" }
                        (funnel_chart(&uc.funnel))
                    }
                }
            }
        }
    }
}

fn stats(uc: &UseCaseSummary) -> Markup {
    // a shadow use case sent nothing: its figures are what it would have done, at no cost
    let shadow = is_shadow(uc);
    let label = |sent: &'static str, would: &'static str| if shadow { would } else { sent };
    html! {
        div.stats {
            (stat("Evaluations", &fmt_count(uc.evaluations)))
            (stat(label("Actions", "Would-have actions"), &fmt_count(uc.actions)))
            (stat(
                label("Customers reached", "Would-have customers reached"),
                &fmt_count(uc.customers_reached),
            ))
            @if shadow {
                (stat("Cost and ROI", "— (not sent)"))
            } @else {
                (stat("Cost", &fmt_amount(uc.cost)))
                (stat("ROI", &or_dash(uc.roi, fmt_roi)))
            }
            @match uc.measurement.as_ref().and_then(|m| m.lift.as_ref()) {
                Some(lift) => {
                    div.stat {
                        div.label { (label("Lift (95\u{a0}% CI)", "Would-have lift (95\u{a0}% CI)")) }
                        div class={ "value " (significance_class(&lift.rate_difference)) } {
                            (fmt_interval(&lift.rate_difference, fmt_pp))
                        }
                    }
                    (stat(
                        label("Incremental revenue (95 % CI)", "Would-have incremental revenue (95 % CI)"),
                        &lift
                            .incremental_revenue
                            .map_or_else(|| "—".to_string(), |i| fmt_interval(&i, fmt_signed_amount)),
                    ))
                }
                None => {
                    div.stat {
                        div.label { "Lift" }
                        div.value.muted {
                            (if uc.measurement.is_some() { "not enough exposures yet" } else { "no control group" })
                        }
                    }
                }
            }
        }
    }
}

fn stat(label: &str, value: &str) -> Markup {
    html! {
        div.stat {
            div.label { (label) }
            div.value { (value) }
        }
    }
}

fn panel(title: &str, body: Markup) -> Markup {
    html! {
        div.panel {
            h4 { (title) }
            (body)
        }
    }
}

fn actions_by_channel(uc: &UseCaseSummary, palette: &ChannelPalette) -> Markup {
    let mut channels: Vec<Bar> = uc
        .actions_by_channel
        .iter()
        .map(|(channel, n)| Bar {
            label: channel.clone(),
            value: *n as f64,
            color: palette.color(channel).into(),
        })
        .collect();
    channels.sort_by(|a, b| b.value.total_cmp(&a.value));
    bar_chart(&channels, 360.0, 100.0, 70.0, &|v| fmt_count(v as u64))
}

fn suppressions(uc: &UseCaseSummary) -> Markup {
    let mut reasons: Vec<Bar> = uc
        .policy
        .suppressed
        .iter()
        // deferred decisions are not suppressed: sent when the quiet hours end (see below)
        .filter(|(reason, _)| reason.as_str() != QUIET_HOURS)
        .map(|(reason, n)| Bar {
            label: if reason == "holdout" {
                "holdout (control)".into()
            } else {
                reason.replace('_', " ")
            },
            value: *n as f64,
            color: if reason == "holdout" {
                CONTROL.into()
            } else {
                SUPPRESSED.into()
            },
        })
        .collect();
    reasons.sort_by(|a, b| b.value.total_cmp(&a.value));
    html! {
        (bar_chart(&reasons, 360.0, 120.0, 60.0, &|v| fmt_count(v as u64)))
        @let deferred = deferred_count(uc);
        @if deferred > 0 {
            p.hint {
                "Deferred for quiet hours (not suppressed): " (fmt_count(deferred))
                ", of which " (fmt_count(uc.policy.deferred_delivered)) " delivered when they ended (counted as actions)"
            }
        }
    }
}

fn treatment_against_control(uc: &UseCaseSummary) -> Markup {
    let Some(m) = &uc.measurement else {
        return html! { p.muted.none { "no control group" } };
    };
    if m.treatment.exposed == 0 && m.control.exposed == 0 {
        return html! { p.muted.none { "no exposures yet" } };
    }
    let rates = [
        Bar {
            label: "treatment".into(),
            value: m.treatment.conversion_rate().unwrap_or(0.0),
            color: ACCENT.into(),
        },
        Bar {
            label: "control".into(),
            value: m.control.conversion_rate().unwrap_or(0.0),
            color: CONTROL.into(),
        },
    ];
    html! {
        (bar_chart(&rates, 360.0, 70.0, 60.0, &fmt_percent))
        p.hint {
            "Exposed: " (fmt_count(m.treatment.exposed)) " treatment, " (fmt_count(m.control.exposed))
            " control (holdout share " (fmt_percent(m.holdout_share)) "). Revenue: "
            (fmt_amount(m.treatment.revenue)) " treatment, " (fmt_amount(m.control.revenue)) " control."
        }
    }
}
