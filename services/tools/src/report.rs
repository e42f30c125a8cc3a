//! The marketing lead's report: one self-contained HTML page drawn from a [`ReplaySummary`]
//! (a back-test, or the live engine's figures read from Prometheus). Inline CSS and charts as
//! inline SVG, no script and no external resource: it opens offline, as a mail attachment and
//! behind a closed network alike.

use revenue_core::measure::Interval;
use revenue_replay::{ReplaySummary, StageSummary, UseCaseSummary};
use std::collections::BTreeSet;
use std::fmt::Write;

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

// writing into a String cannot fail
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
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
    let mut out = String::with_capacity(64 * 1024);
    w!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{}</style>\n</head>\n<body>\n<main>\n",
        escape(title),
        CSS
    );
    w!(out, "<header class=\"page\"><h1>{}</h1>", escape(title));
    let sources: Vec<String> = sections.iter().map(|s| escape(&s.source)).collect();
    w!(
        out,
        "<p class=\"meta\">Source: {} · Generated {}</p></header>\n",
        sources.join(" · "),
        escape(generated_at)
    );
    for section in sections {
        render_section(&mut out, section);
    }
    out.push_str(
        "<footer>Lift: treatment conversion rate − control conversion rate, with its 95&nbsp;% \
         interval (Newcombe). Incremental revenue: revenue per treated exposure − per control \
         exposure, × treated exposures (Welch, 95&nbsp;%). ROI: (incremental revenue − cost) ÷ \
         cost. Amounts are in the currency of the event data.</footer>\n",
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn render_section(out: &mut String, section: &Section<'_>) {
    let s = section.summary;
    out.push_str("<section class=\"run\">\n");
    if !section.heading.is_empty() {
        w!(
            out,
            "<h2 class=\"section\">{}<span class=\"src\">{}</span></h2>\n",
            escape(&section.heading),
            escape(&section.source)
        );
    }
    render_kpis(out, s);
    if s.use_cases.is_empty() {
        out.push_str("<p class=\"empty\">No use cases in this summary.</p>\n</section>\n");
        return;
    }
    let palette = ChannelPalette::new(s);
    render_overview_table(out, s);
    out.push_str("<div class=\"card\"><h3>Lift in conversion rate, by use case</h3>\n");
    out.push_str(
        "<p class=\"hint\">Treatment − control conversion rate in percentage points; the whisker \
         is the 95&nbsp;% interval. Coloured: the interval excludes zero (significant).</p>\n",
    );
    let rows: Vec<ForestRow> = s.use_cases.iter().map(lift_row).collect();
    out.push_str(&forest_plot(&rows, fmt_pp, "percentage points"));
    out.push_str("</div>\n");
    out.push_str("<div class=\"card\"><h3>Incremental revenue, by use case</h3>\n");
    out.push_str(
        "<p class=\"hint\">Revenue the use case added over its control group, with the 95&nbsp;% \
         interval.</p>\n",
    );
    let rows: Vec<ForestRow> = s.use_cases.iter().map(revenue_row).collect();
    out.push_str(&forest_plot(&rows, fmt_signed_amount, "revenue"));
    out.push_str("</div>\n");
    let reach: Vec<Bar> = s
        .use_cases
        .iter()
        .map(|uc| Bar {
            label: uc.id.clone(),
            value: uc.customers_reached as f64,
            color: ACCENT.into(),
        })
        .collect();
    out.push_str("<div class=\"card\"><h3>Customers reached, by use case</h3>\n");
    out.push_str(&bar_chart(&reach, 1100.0, 250.0, 80.0, &|v| fmt_count(v as u64)));
    out.push_str("</div>\n");
    out.push_str("<h2 class=\"sub\">Use cases</h2>\n");
    for uc in &s.use_cases {
        render_use_case(out, uc, &palette);
    }
    render_run_facts(out, s);
    out.push_str("</section>\n");
}

fn render_kpis(out: &mut String, s: &ReplaySummary) {
    let k = &s.kpis;
    let total = if k.use_cases > 0 {
        k.use_cases
    } else {
        s.use_cases.len() as u64
    };
    out.push_str("<div class=\"kpis\">\n");
    kpi(
        out,
        "Attributable revenue",
        &fmt_amount(k.attributable_revenue),
        "sales of treated customers",
    );
    kpi(
        out,
        "Incremental revenue",
        &fmt_signed_amount(k.incremental_revenue),
        "revenue effect over control groups",
    );
    kpi(out, "Cost", &fmt_amount(k.cost), "actions × cost per channel");
    kpi(
        out,
        "ROI",
        &k.roi.map_or_else(|| "—".to_string(), fmt_roi),
        "(incremental revenue − cost) ÷ cost",
    );
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
    kpi(out, "Degree of automation", &automation, &share);
    kpi_list(out, "Channels", &k.channels);
    kpi_list(out, "Regions", &k.regions);
    kpi_list(out, "Business units", &k.business_units);
    kpi(
        out,
        "Attribution window",
        &k.attribution_window_days.map_or_else(|| "—".to_string(), fmt_days),
        "conversions counted after an action",
    );
    out.push_str("</div>\n");
}

fn kpi(out: &mut String, label: &str, value: &str, note: &str) {
    w!(
        out,
        "<div class=\"kpi\"><div class=\"label\">{}</div><div class=\"value\">{}</div>\
         <div class=\"note\">{}</div></div>\n",
        escape(label),
        escape(value),
        escape(note)
    );
}

fn kpi_list(out: &mut String, label: &str, items: &[String]) {
    let note = if items.is_empty() {
        "none recorded".to_string()
    } else {
        items.join(", ")
    };
    kpi(out, label, &fmt_count(items.len() as u64), &note);
}

fn render_overview_table(out: &mut String, s: &ReplaySummary) {
    out.push_str(
        "<div class=\"card\"><h3>Overview</h3>\n<table class=\"overview\">\n<thead><tr>\
         <th>Use case</th><th>Status</th><th class=\"n\">Reach</th>\
         <th class=\"n\">Actions</th><th class=\"n\">Suppressed</th><th class=\"n\">Treatment conv.</th>\
         <th class=\"n\">Control conv.</th><th class=\"n\">Lift (95&nbsp;% CI)</th>\
         <th class=\"n\">Incremental revenue (95&nbsp;% CI)</th><th class=\"n\">Cost</th>\
         <th class=\"n\">ROI</th></tr></thead>\n<tbody>\n",
    );
    for uc in &s.use_cases {
        let suppressed: u64 = uc.policy.suppressed.values().sum();
        w!(
            out,
            "<tr><td class=\"id\">{}<div class=\"ci\">{}</div></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td>",
            escape(&uc.id),
            escape(&labels_text(uc)),
            status_badge(&uc.status),
            fmt_count(uc.customers_reached),
            fmt_count(uc.actions),
            fmt_count(suppressed)
        );
        match uc.measurement.as_ref().map(|m| (m, m.lift)) {
            None => out.push_str("<td colspan=\"4\" class=\"muted c\">no control group</td>"),
            Some((_, None)) => out.push_str("<td colspan=\"4\" class=\"muted c\">not enough exposures yet</td>"),
            Some((_, Some(lift))) => {
                let class = significance_class(&lift.rate_difference);
                w!(
                    out,
                    "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n {class}\">{}</td><td class=\"n\">{}</td>",
                    fmt_percent(lift.treatment_rate),
                    fmt_percent(lift.control_rate),
                    interval_cell(&lift.rate_difference, fmt_pp),
                    lift.incremental_revenue
                        .map_or_else(|| "—".to_string(), |i| interval_cell(&i, fmt_signed_amount))
                );
            }
        }
        w!(
            out,
            "<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
            fmt_amount(uc.cost),
            uc.roi.map_or_else(|| "—".to_string(), fmt_roi)
        );
    }
    out.push_str("</tbody></table></div>\n");
}

fn render_use_case(out: &mut String, uc: &UseCaseSummary, palette: &ChannelPalette) {
    out.push_str("<article class=\"card usecase\">\n");
    w!(
        out,
        "<div class=\"uc-head\"><h3>{} <span class=\"ver\">v{}</span></h3>{}",
        escape(&uc.id),
        uc.version,
        status_badge(&uc.status)
    );
    let mut tags = Vec::new();
    for (k, v) in &uc.labels {
        tags.push(format!("{}: {}", k.replace('_', " "), v));
    }
    if uc.priority > 0 {
        tags.push(format!("priority {}", uc.priority));
    }
    for tag in tags {
        w!(out, "<span class=\"tag\">{}</span>", escape(&tag));
    }
    out.push_str("</div>\n<div class=\"stats\">\n");
    stat(out, "Evaluations", &fmt_count(uc.evaluations));
    stat(out, "Actions", &fmt_count(uc.actions));
    stat(out, "Customers reached", &fmt_count(uc.customers_reached));
    stat(out, "Cost", &fmt_amount(uc.cost));
    stat(out, "ROI", &uc.roi.map_or_else(|| "—".to_string(), fmt_roi));
    match uc.measurement.as_ref().and_then(|m| m.lift.as_ref()) {
        Some(lift) => {
            let class = significance_class(&lift.rate_difference);
            w!(
                out,
                "<div class=\"stat\"><div class=\"label\">Lift (95&nbsp;% CI)</div><div class=\"value {class}\">{}</div></div>\n",
                escape(&fmt_interval(&lift.rate_difference, fmt_pp))
            );
            let revenue = lift
                .incremental_revenue
                .map_or_else(|| "—".to_string(), |i| fmt_interval(&i, fmt_signed_amount));
            stat(out, "Incremental revenue (95 % CI)", &revenue);
        }
        None => {
            let why = if uc.measurement.is_some() {
                "not enough exposures yet"
            } else {
                "no control group"
            };
            w!(
                out,
                "<div class=\"stat\"><div class=\"label\">Lift</div><div class=\"value muted\">{why}</div></div>\n"
            );
        }
    }
    out.push_str("</div>\n<div class=\"panels\">\n");

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
    panel(
        out,
        "Actions by channel",
        &bar_chart(&channels, 360.0, 100.0, 70.0, &|v| fmt_count(v as u64)),
    );

    let mut reasons: Vec<Bar> = uc
        .policy
        .suppressed
        .iter()
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
    let mut body = bar_chart(&reasons, 360.0, 120.0, 60.0, &|v| fmt_count(v as u64));
    if uc.policy.deferred > 0 {
        w!(
            body,
            "<p class=\"hint\">Deferred for quiet hours: {} ({} delivered)</p>",
            fmt_count(uc.policy.deferred),
            fmt_count(uc.policy.deferred_delivered)
        );
    }
    panel(out, "Suppressed by reason", &body);

    match &uc.measurement {
        Some(m) if m.treatment.exposed == 0 && m.control.exposed == 0 => panel(
            out,
            "Conversion rate: treatment vs control",
            "<p class=\"muted none\">no exposures yet</p>",
        ),
        Some(m) => {
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
            let mut body = bar_chart(&rates, 360.0, 70.0, 60.0, &fmt_percent);
            w!(
                body,
                "<p class=\"hint\">Exposed: {} treatment, {} control (holdout share {}). \
                 Revenue: {} treatment, {} control.</p>",
                fmt_count(m.treatment.exposed),
                fmt_count(m.control.exposed),
                fmt_percent(m.holdout_share),
                fmt_amount(m.treatment.revenue),
                fmt_amount(m.control.revenue)
            );
            panel(out, "Conversion rate: treatment vs control", &body);
        }
        None => panel(
            out,
            "Conversion rate: treatment vs control",
            "<p class=\"muted none\">no control group</p>",
        ),
    }
    if !uc.funnel.is_empty() {
        out.push_str("<div class=\"panel wide\"><h4>Funnel: stage conversion and lead velocity</h4>");
        out.push_str(&funnel_chart(&uc.funnel));
        out.push_str("</div>\n");
    }
    out.push_str("</div>\n</article>\n");
}

fn stat(out: &mut String, label: &str, value: &str) {
    w!(
        out,
        "<div class=\"stat\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>\n",
        escape(label),
        escape(value)
    );
}

fn panel(out: &mut String, title: &str, body: &str) {
    w!(out, "<div class=\"panel\"><h4>{}</h4>{}</div>\n", escape(title), body);
}

fn render_run_facts(out: &mut String, s: &ReplaySummary) {
    if s.lines == 0 && s.events == 0 {
        return;
    }
    w!(
        out,
        "<p class=\"facts\">{} events from {} lines · {} customers · {} malformed lines · \
         {} actions · {} customers expired</p>\n",
        fmt_count(s.events),
        fmt_count(s.lines),
        fmt_count(s.customers),
        fmt_count(s.malformed),
        fmt_count(s.actions),
        fmt_count(s.expired_customers)
    );
}

/// The estimate, and its interval below it in small type (keeps the table narrow).
fn interval_cell(i: &Interval, f: fn(f64) -> String) -> String {
    format!(
        "{}<div class=\"ci\">{} to {}</div>",
        escape(&f(i.estimate)),
        escape(&f(i.lower)),
        escape(&f(i.upper))
    )
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

fn status_badge(status: &str) -> String {
    let class = match status {
        "live" => "live",
        "shadow" => "shadow",
        _ => "other",
    };
    format!(
        "<span class=\"badge {class}\">{}</span>",
        escape(if status.is_empty() { "unknown" } else { status })
    )
}

fn significance_class(interval: &Interval) -> &'static str {
    if interval.lower > 0.0 {
        "pos"
    } else if interval.upper < 0.0 {
        "neg"
    } else {
        ""
    }
}

// ---------------------------------------------------------------------------------------------
// text

/// Escapes text for HTML element content and attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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

// ---------------------------------------------------------------------------------------------
// charts

const ACCENT: &str = "#2f6db5";
const CONTROL: &str = "#9aa4b1";
const SUPPRESSED: &str = "#d9822b";
const POSITIVE: &str = "#1a7f37";
const NEGATIVE: &str = "#c0362c";
const NEUTRAL: &str = "#6e7781";
const GRID: &str = "#e3e6ea";
const INK: &str = "#1f2328";
const CHANNEL_COLORS: [&str; 8] = [
    "#2f6db5", "#18a999", "#8e5ac8", "#e0a31a", "#d0508f", "#4c9be8", "#6b8e23", "#a0522d",
];

/// A colour per channel, the same in every use case of the page.
struct ChannelPalette(Vec<String>);

impl ChannelPalette {
    fn new(s: &ReplaySummary) -> ChannelPalette {
        let all: BTreeSet<String> = s
            .use_cases
            .iter()
            .flat_map(|uc| uc.actions_by_channel.keys().chain(uc.channels.iter()).cloned())
            .collect();
        ChannelPalette(all.into_iter().collect())
    }

    fn color(&self, channel: &str) -> &'static str {
        let i = self.0.iter().position(|c| c == channel).unwrap_or(0);
        CHANNEL_COLORS[i % CHANNEL_COLORS.len()]
    }
}

/// A linear map from data values to pixels over a "nice" domain (round tick steps).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub domain: (f64, f64),
    pub range: (f64, f64),
    pub ticks: Vec<f64>,
}

impl Scale {
    /// A domain covering `values` and zero, widened to round ticks (about five).
    pub fn nice(values: impl IntoIterator<Item = f64>, range: (f64, f64)) -> Scale {
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 5.0);
        let lo = (lo / step).floor() * step;
        let hi = (hi / step).ceil() * step;
        let n = ((hi - lo) / step).round() as usize;
        // ticks from multiples of the step, so they carry no accumulated rounding
        let ticks = (0..=n).map(|i| clean(lo + i as f64 * step)).collect();
        Scale {
            domain: (lo, hi),
            range,
            ticks,
        }
    }

    pub fn px(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        let v = if v.is_finite() { v.clamp(d0, d1) } else { d0 };
        r0 + (v - d0) / (d1 - d0) * (r1 - r0)
    }
}

fn nice_step(raw: f64) -> f64 {
    let exponent = raw.log10().floor();
    let base = 10f64.powf(exponent);
    let f = raw / base;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// Rounds away float noise such as 0.30000000000000004.
fn clean(x: f64) -> f64 {
    let r = (x * 1e9).round() / 1e9;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

struct ForestRow {
    label: String,
    interval: Option<Interval>,
    /// Shown instead of the interval when there is none.
    note: &'static str,
}

fn lift_row(uc: &UseCaseSummary) -> ForestRow {
    let interval = uc.measurement.as_ref().and_then(|m| m.lift).map(|l| l.rate_difference);
    ForestRow {
        label: uc.id.clone(),
        interval,
        note: if uc.measurement.is_some() {
            "not enough exposures yet"
        } else {
            "no control group"
        },
    }
}

fn revenue_row(uc: &UseCaseSummary) -> ForestRow {
    let lift = uc.measurement.as_ref().and_then(|m| m.lift);
    ForestRow {
        label: uc.id.clone(),
        interval: lift.and_then(|l| l.incremental_revenue),
        note: match (&uc.measurement, lift) {
            (None, _) => "no control group",
            (Some(_), None) => "not enough exposures yet",
            (Some(_), Some(_)) => "too few exposures for a revenue interval",
        },
    }
}

/// A forest plot: one row per use case, the estimate as a dot, its interval as a whisker, a
/// zero line; intervals that exclude zero are coloured.
fn forest_plot(rows: &[ForestRow], f: fn(f64) -> String, unit: &str) -> String {
    const W: f64 = 1100.0;
    const LABEL: f64 = 250.0;
    const VALUES: f64 = 270.0;
    const ROW: f64 = 32.0;
    const TOP: f64 = 12.0;
    const AXIS: f64 = 40.0;
    let plot = (LABEL + 10.0, W - VALUES - 20.0);
    let scale = Scale::nice(
        rows.iter()
            .filter_map(|r| r.interval)
            .flat_map(|i| [i.lower, i.upper, i.estimate]),
        plot,
    );
    let height = TOP + ROW * rows.len() as f64 + AXIS;
    let mut svg = String::new();
    w!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" width=\"100%\" role=\"img\" \
         aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        escape(unit)
    );
    let bottom = TOP + ROW * rows.len() as f64;
    for i in (0..rows.len()).step_by(2) {
        {
            w!(
                svg,
                "<rect x=\"0\" y=\"{:.1}\" width=\"{W}\" height=\"{ROW}\" fill=\"#f6f8fa\"/>",
                TOP + ROW * i as f64
            );
        }
    }
    for t in &scale.ticks {
        let x = scale.px(*t);
        w!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\" stroke=\"{GRID}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
            bottom + 16.0,
            escape(&f(*t))
        );
    }
    let zero = scale.px(0.0);
    w!(
        svg,
        "<line x1=\"{zero:.1}\" y1=\"{:.1}\" x2=\"{zero:.1}\" y2=\"{bottom:.1}\" stroke=\"{INK}\" \
         stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>",
        TOP - 4.0
    );
    w!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"middle\">{}</text>",
        (plot.0 + plot.1) / 2.0,
        bottom + 34.0,
        escape(unit)
    );
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64 + ROW / 2.0;
        w!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{}</text>",
            LABEL,
            y + 4.5,
            escape(&truncate(&row.label, 34))
        );
        match row.interval {
            Some(i) => {
                let color = match significance_class(&i) {
                    "pos" => POSITIVE,
                    "neg" => NEGATIVE,
                    _ => NEUTRAL,
                };
                let (x0, x1, xe) = (scale.px(i.lower), scale.px(i.upper), scale.px(i.estimate));
                w!(
                    svg,
                    "<line x1=\"{x0:.1}\" y1=\"{y:.1}\" x2=\"{x1:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"2.5\"/>\
                     <line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x0:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>\
                     <line x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{x1:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>\
                     <circle cx=\"{xe:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"{color}\" stroke=\"#fff\" stroke-width=\"1.5\"/>",
                    y - 6.0,
                    y + 6.0,
                    y - 6.0,
                    y + 6.0
                );
                let weight = if color == NEUTRAL { "" } else { " font-weight=\"600\"" };
                w!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"value\" fill=\"{color}\"{weight}>{}</text>",
                    W - VALUES,
                    y + 4.5,
                    escape(&fmt_interval(&i, f))
                );
            }
            None => {
                w!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" class=\"note\">{}</text>",
                    plot.0 + 8.0,
                    y + 4.5,
                    row.note
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

struct Bar {
    label: String,
    value: f64,
    color: String,
}

/// Horizontal bars with their values written at the end; `label_width` px for the labels.
fn bar_chart(bars: &[Bar], width: f64, label_width: f64, value_width: f64, f: &dyn Fn(f64) -> String) -> String {
    if bars.is_empty() {
        return "<p class=\"muted none\">none</p>".into();
    }
    const ROW: f64 = 26.0;
    let scale = Scale::nice(bars.iter().map(|b| b.value), (label_width + 8.0, width - value_width));
    let height = ROW * bars.len() as f64 + 4.0;
    let mut svg = String::new();
    w!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    // scale to the largest bar rather than a round tick: the bars are read by their numbers
    let max = bars
        .iter()
        .map(|b| b.value)
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let span = scale.range.1 - scale.range.0;
    for (i, bar) in bars.iter().enumerate() {
        let y = 2.0 + ROW * i as f64;
        let len = if max > 0.0 && bar.value.is_finite() {
            (bar.value.max(0.0) / max * span).max(1.0)
        } else {
            1.0
        };
        w!(
            svg,
            "<text x=\"{label_width:.1}\" y=\"{:.1}\" class=\"label\" text-anchor=\"end\">{}</text>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"value\">{}</text>",
            y + ROW / 2.0 + 4.0,
            escape(&truncate(&bar.label, (label_width / 6.5) as usize)),
            scale.range.0,
            y + 4.0,
            ROW - 8.0,
            escape(&bar.color),
            scale.range.0 + len + 6.0,
            y + ROW / 2.0 + 4.0,
            escape(&f(bar.value))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Two bar columns sharing the stage labels: conversion from the previous stage, and the
/// median days it took (lead velocity). Leads reached are written beside the stage name.
fn funnel_chart(stages: &[StageSummary]) -> String {
    const W: f64 = 1060.0;
    const LABEL: f64 = 230.0;
    const ROW: f64 = 30.0;
    const TOP: f64 = 24.0;
    let col = (W - LABEL - 40.0) / 2.0;
    let conv = (LABEL + 10.0, LABEL + col - 70.0);
    let vel = (LABEL + col + 30.0, W - 70.0);
    let max_days = stages
        .iter()
        .filter_map(|s| s.median_days_from_previous)
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max);
    let height = TOP + ROW * stages.len() as f64 + 4.0;
    let mut svg = String::new();
    w!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {height}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\">\
         <text x=\"{:.1}\" y=\"14\" class=\"axis\">Conversion from previous stage</text>\
         <text x=\"{:.1}\" y=\"14\" class=\"axis\">Lead velocity: median days from previous stage</text>",
        conv.0,
        vel.0
    );
    for (i, stage) in stages.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let mid = y + ROW / 2.0 + 4.0;
        w!(
            svg,
            "<text x=\"{LABEL}\" y=\"{mid:.1}\" class=\"label\" text-anchor=\"end\">{} · {} leads</text>",
            escape(&truncate(&stage.stage, 16)),
            fmt_count(stage.reached)
        );
        match stage.conversion_from_previous.filter(|c| c.is_finite()) {
            Some(c) => {
                let len = (c.clamp(0.0, 1.0) * (conv.1 - conv.0)).max(1.0);
                w!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{ACCENT}\"/>\
                     <text x=\"{:.1}\" y=\"{mid:.1}\" class=\"value\">{}</text>",
                    conv.0,
                    y + 5.0,
                    ROW - 10.0,
                    conv.0 + len + 6.0,
                    fmt_percent(c)
                );
            }
            None => w!(
                svg,
                "<text x=\"{:.1}\" y=\"{mid:.1}\" class=\"note\">entry stage</text>",
                conv.0
            ),
        }
        match stage.median_days_from_previous.filter(|d| d.is_finite()) {
            Some(d) => {
                let len = if max_days > 0.0 {
                    (d.max(0.0) / max_days * (vel.1 - vel.0)).max(1.0)
                } else {
                    1.0
                };
                w!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{len:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{}\"/>\
                     <text x=\"{:.1}\" y=\"{mid:.1}\" class=\"value\">{}</text>",
                    vel.0,
                    y + 5.0,
                    ROW - 10.0,
                    CHANNEL_COLORS[1],
                    vel.0 + len + 6.0,
                    fmt_days(d)
                );
            }
            None => w!(svg, "<text x=\"{:.1}\" y=\"{mid:.1}\" class=\"note\">—</text>", vel.0),
        }
    }
    svg.push_str("</svg>");
    svg
}

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

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;background:#f3f5f8;color:#1f2328;font:14px/1.45 "Helvetica Neue",Helvetica,Arial,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:1200px;margin:0 auto;padding:28px 32px 40px}
header.page h1{margin:0;font-size:26px;font-weight:650;letter-spacing:-.2px}
header.page .meta{margin:4px 0 18px;color:#59636e}
h2.section{font-size:20px;margin:26px 0 12px;padding-bottom:6px;border-bottom:2px solid #d0d7de}
h2.section .src{font-size:13px;font-weight:400;color:#59636e;margin-left:12px}
h2.sub{font-size:18px;margin:26px 0 10px}
h3{font-size:16px;margin:0 0 6px}
h4{font-size:13px;margin:0 0 8px;color:#424a53;font-weight:600}
.kpis{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-bottom:16px}
.kpi{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:12px 16px;border-top:3px solid #2f6db5}
.kpi .label{font-size:12px;text-transform:uppercase;letter-spacing:.5px;color:#59636e}
.kpi .value{font-size:26px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums}
.kpi .note{font-size:12px;color:#59636e}
.card{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:16px 18px;margin-bottom:16px}
.hint{margin:0 0 8px;color:#59636e;font-size:12px}
table.overview{width:100%;border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
table.overview th{text-align:left;font-weight:600;color:#424a53;border-bottom:2px solid #d0d7de;padding:6px 6px}
table.overview td{border-bottom:1px solid #eaeef2;padding:6px 6px;vertical-align:top}
table.overview .n{text-align:right;white-space:nowrap}
table.overview .c{text-align:center}
td.id{font-weight:600;white-space:nowrap}
table.overview .ci{font-size:11px;color:#59636e;font-weight:400}
.muted{color:#8c959f;font-style:italic}
.pos{color:#1a7f37;font-weight:600}
.neg{color:#c0362c;font-weight:600}
.badge{display:inline-block;font-size:11px;font-weight:600;padding:1px 8px;border-radius:10px;text-transform:uppercase;letter-spacing:.4px}
.badge.live{background:#dafbe1;color:#116329}
.badge.shadow{background:#fff1c5;color:#7d4e00}
.badge.other{background:#eaeef2;color:#424a53}
.uc-head{display:flex;align-items:center;gap:10px;flex-wrap:wrap;margin-bottom:10px}
.uc-head h3{margin:0}
.ver{color:#8c959f;font-weight:400;font-size:13px}
.tag{font-size:12px;background:#eef3fb;color:#24518a;border-radius:4px;padding:1px 7px}
.stats{display:flex;flex-wrap:wrap;gap:8px 28px;padding:8px 0 12px;border-bottom:1px solid #eaeef2;margin-bottom:12px}
.stat .label{font-size:11px;text-transform:uppercase;letter-spacing:.4px;color:#59636e}
.stat .value{font-size:17px;font-weight:600;font-variant-numeric:tabular-nums}
.panels{display:grid;grid-template-columns:repeat(3,1fr);gap:14px 22px}
.panel.wide{grid-column:1/-1}
.none{margin:6px 0}
svg.chart{display:block;font-size:12px}
svg .label{fill:#424a53;font-size:12px}
svg .value{fill:#1f2328;font-size:12px;font-variant-numeric:tabular-nums}
svg .tick{fill:#59636e;font-size:11px}
svg .axis{fill:#59636e;font-size:12px}
svg .note{fill:#8c959f;font-size:12px;font-style:italic;stroke:#fff;stroke-width:4px;stroke-linejoin:round;paint-order:stroke}
.facts{color:#59636e;font-size:12px}
.empty{color:#59636e;font-style:italic}
footer{margin-top:24px;color:#59636e;font-size:12px;border-top:1px solid #d0d7de;padding-top:10px}
@media print{body{background:#fff}.card,.kpi{break-inside:avoid}}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use revenue_core::measure::{lift, GroupTotals};
    use revenue_replay::{Measurement, PolicyOutcomes};

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<b>"x" & 'y'</b>"#),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
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
}
