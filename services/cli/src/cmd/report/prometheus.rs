//! The live engine's figures, read from Prometheus's HTTP API (instant queries) and shaped into
//! a [`ReplaySummary`] so the report draws them like a back-test. Metrics the engine does not
//! export (yet) read as zero.

use anyhow::{bail, Context};
use revenue_core::measure::{lift, GroupTotals};
use revenue_engine::metrics::names;
use revenue_replay::ReplaySummary;
use revenue_replay::{kpis, use_case_roi, Measurement, StageSummary, UseCaseSummary};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(15);

/// `sum by (<labels>) (<metric>)`: every query names its metric through the engine's own
/// constants, so a renamed metric cannot leave the report silently reading zero.
fn sum_by(labels: &str, metric: &str) -> String {
    format!("sum by ({labels}) ({metric})")
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }
}

/// The answers to every query the report asks.
#[derive(Debug, Default)]
pub struct Answers {
    pub suppressed: Vec<Sample>,
    pub deferred: Vec<Sample>,
    pub actions: Vec<Sample>,
    pub evaluations: Vec<Sample>,
    pub stages: Vec<Sample>,
    pub info: Vec<Sample>,
    pub attribution: [Vec<Sample>; 5],
}

/// Asks `base_url` every query and builds the summary.
pub fn fetch(base_url: &str) -> anyhow::Result<ReplaySummary> {
    let base = base_url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--prometheus {base_url}: not an http(s) URL (hint: give the server's base URL, e.g. http://prometheus:9090)");
    }
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let ask = |q: &str| query(&agent, base, q);
    let answers = Answers {
        suppressed: ask(&sum_by("use_case, reason", names::POLICY_SUPPRESSED_TOTAL))?,
        deferred: ask(&sum_by("use_case", names::POLICY_DEFERRED_TOTAL))?,
        actions: ask(&sum_by("use_case, channel", names::ACTIONS_TOTAL))?,
        evaluations: ask(&sum_by("use_case", names::USE_CASE_EVALUATIONS_TOTAL))?,
        stages: ask(&sum_by("use_case, stage", names::USE_CASE_STAGE_CHANGES_TOTAL))?,
        info: ask(&format!(
            "max by (use_case, version, status) ({})",
            names::USE_CASE_INFO
        ))?,
        attribution: [
            ask(&sum_by("use_case, group", names::ATTRIBUTION_EXPOSURES_TOTAL))?,
            ask(&sum_by("use_case, group", names::ATTRIBUTION_CONVERTED_TOTAL))?,
            ask(&sum_by("use_case, group", names::ATTRIBUTION_CONVERSIONS_TOTAL))?,
            ask(&sum_by("use_case, group", names::ATTRIBUTION_REVENUE_TOTAL))?,
            ask(&sum_by("use_case, group", names::ATTRIBUTION_REVENUE_SQUARED_TOTAL))?,
        ],
    };
    Ok(summarize(&answers))
}

fn query(agent: &ureq::Agent, base: &str, q: &str) -> anyhow::Result<Vec<Sample>> {
    let url = format!("{base}/api/v1/query");
    let context = || format!("Prometheus query `{q}` at {url}");
    let mut response = agent.get(&url).query("query", q).call().with_context(|| {
        format!(
            "{} failed (hint: is the server up and --prometheus its base URL, e.g. http://prometheus:9090?)",
            context()
        )
    })?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().with_context(context)?;
    let answer: Value = serde_json::from_str(&body).map_err(|err| {
        let excerpt: String = body.chars().take(200).collect();
        anyhow::anyhow!("{}: HTTP {status}, not Prometheus JSON ({err}): {excerpt}", context())
    })?;
    if answer["status"] != "success" {
        bail!(
            "{}: HTTP {status}, {}: {}",
            context(),
            answer["errorType"].as_str().unwrap_or("error"),
            answer["error"].as_str().unwrap_or("no message")
        );
    }
    parse_vector(&answer).with_context(context)
}

/// The samples of a `"resultType": "vector"` answer; values that are not numbers are refused.
fn parse_vector(answer: &Value) -> anyhow::Result<Vec<Sample>> {
    let data = &answer["data"];
    if data["resultType"] != "vector" {
        bail!("expected an instant vector, got result type {}", data["resultType"]);
    }
    let Some(result) = data["result"].as_array() else {
        bail!("answer without data.result");
    };
    result
        .iter()
        .map(|item| {
            let labels = item["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            // Prometheus writes the value as [timestamp, "string"], e.g. [1712345678.9, "42"]
            let text = item["value"][1].as_str().unwrap_or_default();
            let value: f64 = text
                .parse()
                .with_context(|| format!("sample {} has no numeric value", item["metric"]))?;
            Ok(Sample {
                labels,
                value: if value.is_finite() { value } else { 0.0 },
            })
        })
        .collect()
}

fn count(v: f64) -> u64 {
    // counters are whole numbers; sums over pods may come back as 41.99999
    v.max(0.0).round() as u64
}

fn set_total(totals: &mut GroupTotals, which: usize, v: f64) {
    match which {
        0 => totals.exposed = count(v),
        1 => totals.converted = count(v),
        2 => totals.conversions = count(v),
        3 => totals.revenue = v,
        _ => totals.revenue_squared = v,
    }
}

/// The summary the answers describe: one use case per `use_case` label seen anywhere.
pub fn summarize(a: &Answers) -> ReplaySummary {
    let mut use_cases: BTreeMap<String, UseCaseSummary> = BTreeMap::new();
    let all = [
        &a.suppressed,
        &a.deferred,
        &a.actions,
        &a.evaluations,
        &a.stages,
        &a.info,
    ]
    .into_iter()
    .chain(a.attribution.iter());
    for sample in all.flatten() {
        let id = sample.label("use_case");
        if !id.is_empty() && !use_cases.contains_key(id) {
            use_cases.insert(
                id.to_string(),
                UseCaseSummary {
                    id: id.to_string(),
                    ..Default::default()
                },
            );
        }
    }
    for s in &a.info {
        if let Some(uc) = use_cases.get_mut(s.label("use_case")) {
            uc.version = s.label("version").parse().unwrap_or(uc.version);
            uc.status = s.label("status").to_string();
        }
    }
    for s in &a.evaluations {
        if let Some(uc) = use_cases.get_mut(s.label("use_case")) {
            uc.evaluations += count(s.value);
        }
    }
    for s in &a.actions {
        if let Some(uc) = use_cases.get_mut(s.label("use_case")) {
            *uc.actions_by_channel.entry(s.label("channel").to_string()).or_default() += count(s.value);
            uc.actions += count(s.value);
        }
    }
    for s in &a.suppressed {
        if let Some(uc) = use_cases.get_mut(s.label("use_case")) {
            *uc.policy.suppressed.entry(s.label("reason").to_string()).or_default() += count(s.value);
        }
    }
    for s in &a.deferred {
        if let Some(uc) = use_cases.get_mut(s.label("use_case")) {
            uc.policy.deferred += count(s.value);
        }
    }
    for s in &a.stages {
        if let Some(uc) = use_cases.get_mut(s.label("use_case")) {
            uc.funnel.push(StageSummary {
                stage: s.label("stage").to_string(),
                reached: count(s.value),
                ..Default::default()
            });
        }
    }
    let mut groups: BTreeMap<(String, String), GroupTotals> = BTreeMap::new();
    for (which, samples) in a.attribution.iter().enumerate() {
        for s in samples {
            let key = (s.label("use_case").to_string(), s.label("group").to_string());
            set_total(groups.entry(key).or_default(), which, s.value);
        }
    }
    for uc in use_cases.values_mut() {
        uc.channels = uc.actions_by_channel.keys().cloned().collect();
        // counters do not say the stage order: a funnel narrows, so the most reached comes first
        uc.funnel
            .sort_by(|x, y| y.reached.cmp(&x.reached).then_with(|| x.stage.cmp(&y.stage)));
        for i in 1..uc.funnel.len() {
            let previous = uc.funnel[i - 1].reached;
            uc.funnel[i].conversion_from_previous =
                (previous > 0).then(|| uc.funnel[i].reached as f64 / previous as f64);
        }
        let treatment = groups.get(&(uc.id.clone(), "treatment".into())).copied();
        let control = groups.get(&(uc.id.clone(), "control".into())).copied();
        // attribution counters exist for use cases with a holdout; lift waits for both groups
        if treatment.is_some() || control.is_some() {
            let (treatment, control) = (treatment.unwrap_or_default(), control.unwrap_or_default());
            let exposed = treatment.exposed + control.exposed;
            uc.measurement = Some(Measurement {
                holdout_share: if exposed > 0 {
                    control.exposed as f64 / exposed as f64
                } else {
                    0.0
                },
                treatment,
                control,
                lift: lift(&treatment, &control),
            });
        }
        // the engine exports no distinct-customer count: treated exposures stand in for reach
        uc.customers_reached = treatment.map_or(0, |t| t.exposed);
    }
    let mut summary = ReplaySummary {
        use_cases: use_cases.into_values().collect(),
        ..Default::default()
    };
    summary.actions = summary.use_cases.iter().map(|uc| uc.actions).sum();
    summary.kpis = kpis(&summary.use_cases, None);
    summary
}

/// Carries over what only the use-case files know (labels, priority, channel costs) from the
/// back-test of the same use cases, so the live section has regions, cost and ROI too.
pub fn enrich(live: &mut ReplaySummary, replay: &ReplaySummary) {
    // the back-test's order, so the two sections read alike; use cases it lacks go last
    let position = |id: &str| replay.use_cases.iter().position(|r| r.id == id).unwrap_or(usize::MAX);
    live.use_cases.sort_by_key(|uc| position(&uc.id));
    for uc in &mut live.use_cases {
        let Some(known) = replay.use_cases.iter().find(|r| r.id == uc.id) else {
            continue;
        };
        uc.labels = known.labels.clone();
        uc.priority = known.priority;
        if uc.status.is_empty() {
            uc.status = known.status.clone();
            uc.version = known.version;
        }
        let channels: BTreeSet<String> = uc.channels.iter().chain(&known.channels).cloned().collect();
        uc.channels = channels.into_iter().collect();
        // the back-test's cost per action, by channel, applied to the live actions
        uc.cost_by_channel = uc
            .actions_by_channel
            .iter()
            .filter_map(|(channel, n)| {
                let cost = known.cost_by_channel.get(channel)?;
                let sent = *known.actions_by_channel.get(channel)?;
                (sent > 0).then(|| (channel.clone(), cost / sent as f64 * *n as f64))
            })
            .collect();
        uc.cost = uc.cost_by_channel.values().sum();
        uc.roi = use_case_roi(uc);
    }
    live.kpis = kpis(&live.use_cases, replay.kpis.attribution_window_days);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            value,
        }
    }

    #[test]
    fn parses_an_instant_vector() {
        let answer: Value = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"vector","result":[
                {"metric":{"use_case":"a","channel":"email"},"value":[1712345678.9,"42"]},
                {"metric":{"use_case":"b"},"value":[1712345678.9,"NaN"]}]}}"#,
        )
        .unwrap();
        let samples = parse_vector(&answer).unwrap();
        assert_eq!(samples[0], sample(&[("use_case", "a"), ("channel", "email")], 42.0));
        assert_eq!(samples[1].value, 0.0);
        let matrix: Value =
            serde_json::from_str(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#).unwrap();
        assert!(parse_vector(&matrix).is_err());
    }

    #[test]
    fn builds_group_totals_lift_and_kpis() {
        let g = |uc, group, v| sample(&[("use_case", uc), ("group", group)], v);
        let answers = Answers {
            actions: vec![sample(&[("use_case", "a"), ("channel", "email")], 900.0)],
            info: vec![sample(&[("use_case", "a"), ("version", "3"), ("status", "live")], 1.0)],
            suppressed: vec![sample(&[("use_case", "b"), ("reason", "cap")], 7.0)],
            attribution: [
                vec![g("a", "treatment", 4000.0), g("a", "control", 4000.0)],
                vec![g("a", "treatment", 320.0), g("a", "control", 200.0)],
                vec![g("a", "treatment", 330.0), g("a", "control", 205.0)],
                vec![g("a", "treatment", 32_000.0), g("a", "control", 20_000.0)],
                vec![g("a", "treatment", 3_600_000.0), g("a", "control", 2_200_000.0)],
            ],
            ..Default::default()
        };
        let s = summarize(&answers);
        assert_eq!(s.use_cases.len(), 2);
        let a = &s.use_cases[0];
        assert_eq!((a.version, a.status.as_str(), a.actions), (3, "live", 900));
        let m = a.measurement.as_ref().unwrap();
        assert_eq!(m.treatment.converted, 320);
        assert_eq!(m.holdout_share, 0.5);
        assert!(m.lift.unwrap().significant);
        assert!(s.use_cases[1].measurement.is_none());
        assert_eq!(s.use_cases[1].policy.suppressed["cap"], 7);
        assert_eq!(s.kpis.live_use_cases, 1);
        assert_eq!(s.kpis.attributable_revenue, 32_000.0);
        assert!(s.kpis.incremental_revenue > 0.0);
    }
}
