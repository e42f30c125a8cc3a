//! Replays a JSON-lines event file through the same [`Processor`] the live engine uses.

use revenue_core::event::{check_timestamp, LAST_DATE_MS};
use revenue_core::measure::{lift, roi, GroupTotals, Lift};
use revenue_core::policy::{Policy, Reason};
use revenue_core::processor::Counters;
use revenue_core::processor::{KeepDecisions, STAGE_CHANGE};
use revenue_core::spec::Status;
use revenue_core::{decode_json, Action, Mode, Processor, Source, UseCaseSet};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Instant;

use crate::customers::Customers;

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// `BackTest` evaluates drafts too; `Engine` mirrors exactly what the live engine emits.
    pub mode: Mode,
    /// Name used as the source topic in action ids (the file name).
    pub source_name: String,
    /// How many malformed lines are kept with their line number for the report.
    pub keep_malformed: usize,
    /// The latest event time a line may carry; later, or before 1970, the line is malformed
    /// (`timestamp_out_of_range`). Default: the end of year 9999, since a back-test may
    /// replay planned or synthetic events from the future (the live engine bounds `ts` by its
    /// wall clock instead, `input.max_future_skew_ms`).
    pub latest_event_time: i64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            mode: Mode::BackTest,
            source_name: "replay".into(),
            keep_malformed: 100,
            latest_event_time: LAST_DATE_MS,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MalformedLine {
    pub line: u64,
    pub reason: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct TierSummary {
    pub tier: String,
    pub action_type: String,
    pub channel: String,
    pub actions: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UseCaseSummary {
    pub id: String,
    pub version: u32,
    pub status: String,
    /// A `shadow` use case: its actions, reach and measurement are what it would have done;
    /// nothing was sent, so it has no cost or ROI and stays out of the KPI totals.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub would_have: bool,
    pub evaluations: u64,
    pub actions: u64,
    pub tiers: Vec<TierSummary>,
    pub actions_by_channel: BTreeMap<String, u64>,
    pub customers_reached: u64,
    pub retrigger_blocked: u64,
    pub errors: u64,
    /// Evaluations triggered by this use case's timer.
    pub timers_fired: u64,
    /// Funnel stages (lead scoring): leads reaching each stage and how fast.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub funnel: Vec<StageSummary>,
    /// Higher wins arbitration.
    #[serde(default)]
    pub priority: u32,
    #[serde(default)]
    pub channels: Vec<String>,
    /// The use case's labels (`region`, `business_unit`, …).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// What the contact policy did with the decisions to act.
    #[serde(default)]
    pub policy: PolicyOutcomes,
    /// Treatment against control (use cases with a holdout or attribution).
    #[serde(default)]
    pub measurement: Option<Measurement>,
    /// Actions emitted × the channel's cost per action (`policy.yaml`), by channel.
    #[serde(default)]
    pub cost_by_channel: BTreeMap<String, f64>,
    #[serde(default)]
    pub cost: f64,
    /// (incremental revenue − cost) ÷ cost.
    #[serde(default)]
    pub roi: Option<f64>,
}

/// Decisions to act that were not emitted (by reason), held out, or deferred.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct PolicyOutcomes {
    /// Reason (`consent`, `cap`, `cooldown`, `quiet_hours`, `arbitration`, `holdout`) → decisions.
    pub suppressed: BTreeMap<String, u64>,
    /// Decisions sent later because of quiet hours, and how many of them were delivered.
    pub deferred: u64,
    pub deferred_delivered: u64,
}

/// Conversions attributed to a use case's treated and held-out customers, and the lift.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Measurement {
    /// Share of customers held out as the control group.
    pub holdout_share: f64,
    pub treatment: GroupTotals,
    pub control: GroupTotals,
    /// None until both groups have exposures.
    pub lift: Option<Lift>,
}

/// The monitoring KPIs of the domain's table, over the whole run.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Kpis {
    pub use_cases: u64,
    /// Degree of automation: use cases acting automatically, and what they cover.
    pub live_use_cases: u64,
    pub channels: Vec<String>,
    pub regions: Vec<String>,
    pub business_units: Vec<String>,
    /// Revenue of conversions attributed to treated customers (attributable sales).
    pub attributable_revenue: f64,
    /// Σ of the use cases' incremental revenue estimates (revenue effect).
    pub incremental_revenue: f64,
    pub cost: f64,
    pub roi: Option<f64>,
    /// Attribution window of `policy.yaml`, in days.
    pub attribution_window_days: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct StageSummary {
    pub stage: String,
    /// Leads that reached the stage.
    pub reached: u64,
    /// `reached` ÷ leads that reached the previous stage (stage conversion rate).
    pub conversion_from_previous: Option<f64>,
    /// Median days from the previous stage (lead velocity).
    pub median_days_from_previous: Option<f64>,
    /// Median days from the lead's first event.
    pub median_days_from_first_seen: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ReplaySummary {
    pub lines: u64,
    pub events: u64,
    pub customers: u64,
    pub unknown_event_type: u64,
    pub malformed: u64,
    pub malformed_by_reason: BTreeMap<String, u64>,
    /// The first malformed lines, with their numbers (see `ReplayOptions::keep_malformed`).
    pub malformed_lines: Vec<MalformedLine>,
    pub actions: u64,
    pub seconds: f64,
    pub events_per_second: f64,
    /// Customers removed from the state after `expire_after` without events.
    pub expired_customers: u64,
    pub use_cases: Vec<UseCaseSummary>,
    #[serde(default)]
    pub kpis: Kpis,
}

/// Runs every line of `input` through the use cases, writing each action as a JSON line to
/// `out`. `progress` is called now and then with the number of bytes read so far.
pub fn replay(
    set: Arc<UseCaseSet>,
    input: impl BufRead,
    out: impl Write,
    options: &ReplayOptions,
    progress: impl FnMut(u64),
) -> std::io::Result<ReplaySummary> {
    replay_with_decisions(set, input, out, None, options, progress)
}

/// [`replay`], also writing every decision (emitted, deferred, held out, suppressed, with
/// the features read and the policy's outcome) as a JSON line to `decisions`.
pub fn replay_with_decisions(
    set: Arc<UseCaseSet>,
    mut input: impl BufRead,
    mut out: impl Write,
    mut decisions: Option<&mut dyn Write>,
    options: &ReplayOptions,
    mut progress: impl FnMut(u64),
) -> std::io::Result<ReplaySummary> {
    let started = Instant::now();
    let latest = options.latest_event_time;
    let mut processor = Processor::new(set.clone(), options.mode);
    if decisions.is_some() {
        processor = processor.with_decision_records(1.0);
    }
    let catalog = &set.catalog;
    let mut counters = Counters::for_set(&set);
    let mut customers = Customers::default();
    // timers and expiry: what each customer has pending, ordered by due time
    let timed = catalog.expire_after.is_some()
        || set.use_cases.iter().any(|uc| uc.timer.is_some())
        || set.policy.quiet_hours.is_some();
    let mut watermark = i64::MIN;
    let mut stage_days: BTreeMap<(usize, Arc<str>), StageDays> = BTreeMap::new();
    let mut actions = 0u64;
    let mut reached: Vec<FxHashSet<u64>> = vec![FxHashSet::default(); set.use_cases.len()];
    let mut by_channel: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); set.use_cases.len()];
    let index_of: FxHashMap<&str, usize> = set
        .use_cases
        .iter()
        .enumerate()
        .map(|(i, uc)| (uc.id.as_ref(), i))
        .collect();
    let mut summary = ReplaySummary::default();
    let mut line = Vec::with_capacity(512);
    let mut bytes_read = 0u64;
    let mut write_error: Option<std::io::Error> = None;
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        // the end of the input: what is due by the latest event time still fires
        let end = n == 0;
        let mut event = None;
        if !end {
            bytes_read += n as u64;
            summary.lines += 1;
            if summary.lines % 65_536 == 0 {
                progress(bytes_read);
            }
            let text = trim_line(&line);
            if text.is_empty() {
                continue;
            }
            match decode_json(catalog, text, None).and_then(|event| check_timestamp(event.ts(), latest).map(|()| event))
            {
                Ok(decoded) => event = Some(decoded),
                Err(err) => {
                    summary.malformed += 1;
                    *summary.malformed_by_reason.entry(err.reason().to_string()).or_default() += 1;
                    if summary.malformed_lines.len() < options.keep_malformed {
                        summary.malformed_lines.push(MalformedLine {
                            line: summary.lines,
                            reason: err.reason().to_string(),
                            detail: err.to_string(),
                        });
                    }
                    continue;
                }
            }
        }
        let mut outputs = KeepDecisions::new(|action: Action| {
            let i = index_of[action.use_case_id.as_ref()];
            if action.action_type.as_ref() == STAGE_CHANGE {
                let days = |key: &str| {
                    action
                        .payload
                        .iter()
                        .find(|(k, _)| k.as_ref() == key)
                        .and_then(|(_, v)| v.as_f64())
                };
                let entry = stage_days.entry((i, action.tier.clone())).or_default();
                entry.0.extend(days("days_in_previous_stage"));
                entry.1.extend(days("days_since_first_seen"));
            } else {
                reached[i].insert(xxhash_rust::xxh3::xxh3_64(action.customer_id.as_bytes()));
                *by_channel[i].entry(action.channel.to_string()).or_default() += 1;
            }
            actions += 1;
            if write_error.is_none() {
                let written = serde_json::to_writer(&mut out, &action)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
                if let Err(e) = written {
                    write_error = Some(e);
                }
            }
        });
        if timed {
            // everything due by the latest event time read so far fires first, earliest first
            watermark = watermark.max(event.as_ref().map_or(i64::MIN, |e| e.ts()));
            customers.fire_due_by(&mut processor, watermark, &mut counters, &mut outputs);
        }
        if let Some(event) = &event {
            let customer = event.customer_id();
            let state = customers.state(catalog, customer);
            let source = Source {
                topic: &options.source_name,
                partition: 0,
                offset: summary.lines as i64,
            };
            processor.process(state, event, source, &mut counters, &mut outputs);
            if timed {
                customers.reschedule(catalog, customer);
            }
        }
        if let Some(sink) = decisions.as_mut() {
            for record in outputs.take_decisions() {
                serde_json::to_writer(&mut **sink, &record).map_err(std::io::Error::from)?;
                sink.write_all(b"\n")?;
            }
        }
        if let Some(e) = write_error.take() {
            return Err(e);
        }
        if end {
            break;
        }
    }
    out.flush()?;
    if let Some(sink) = decisions.as_mut() {
        sink.flush()?;
    }
    progress(bytes_read);
    summary.actions = actions;
    summary.expired_customers = counters.expired;
    summary.events = counters.events;
    summary.customers = customers.len() as u64;
    summary.unknown_event_type = counters.unknown_type;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events as f64 / summary.seconds.max(1e-9);
    summary.use_cases = set
        .use_cases
        .iter()
        .zip(&counters.use_cases)
        .enumerate()
        .map(|(i, (uc, c))| UseCaseSummary {
            id: uc.id.to_string(),
            version: uc.version,
            status: uc.status.as_str().to_string(),
            would_have: uc.status == Status::Shadow,
            evaluations: c.evaluations,
            actions: c.actions_by_tier.iter().sum(),
            tiers: uc
                .tiers
                .iter()
                .zip(&c.actions_by_tier)
                .map(|(t, n)| TierSummary {
                    tier: t.name.to_string(),
                    action_type: t.action_type.to_string(),
                    channel: t.channel.to_string(),
                    actions: *n,
                })
                .collect(),
            actions_by_channel: std::mem::take(&mut by_channel[i]),
            customers_reached: reached[i].len() as u64,
            retrigger_blocked: c.retrigger_blocked,
            errors: c.errors,
            timers_fired: c.timers_fired,
            funnel: uc.funnel.as_ref().map_or_else(Vec::new, |funnel| {
                let mut previous: Option<u64> = None;
                funnel
                    .stages
                    .iter()
                    .zip(&c.stages_reached)
                    .map(|((name, _), reached)| {
                        let (from_previous, from_first) = stage_days.remove(&(i, name.clone())).unwrap_or_default();
                        let stage = StageSummary {
                            stage: name.to_string(),
                            reached: *reached,
                            conversion_from_previous: previous.filter(|p| *p > 0).map(|p| *reached as f64 / p as f64),
                            median_days_from_previous: median(from_previous),
                            median_days_from_first_seen: median(from_first),
                        };
                        previous = Some(*reached);
                        stage
                    })
                    .collect()
            }),
            priority: uc.priority,
            channels: uc.channels.clone(),
            labels: uc.labels.clone(),
            policy: PolicyOutcomes {
                suppressed: Reason::ALL
                    .iter()
                    .filter(|r| c.suppressed[**r as usize] > 0)
                    .map(|r| (r.as_str().to_string(), c.suppressed[*r as usize]))
                    .collect(),
                deferred: c.deferred,
                deferred_delivered: c.deferred_delivered,
            },
            measurement: (uc.holdout_share > 0.0 || c.treatment.exposed + c.control.exposed > 0).then(|| Measurement {
                holdout_share: uc.holdout_share,
                treatment: c.treatment,
                control: c.control,
                lift: lift(&c.treatment, &c.control),
            }),
            ..Default::default()
        })
        .collect();
    for uc in &mut summary.use_cases {
        add_costs(&set.policy, uc);
    }
    let window_days = set
        .policy
        .configured
        .then(|| set.policy.attribution_window as f64 / revenue_core::duration::DAY_MS as f64);
    summary.kpis = kpis(&summary.use_cases, window_days);
    Ok(summary)
}

/// Actions × the channel's cost per action, and the return on it; none for a shadow use case,
/// whose actions were never sent.
fn add_costs(policy: &Policy, uc: &mut UseCaseSummary) {
    if uc.would_have {
        return;
    }
    uc.cost_by_channel = uc
        .actions_by_channel
        .iter()
        .map(|(channel, n)| {
            let cost = policy.channel(channel).map_or(0.0, |c| c.cost);
            (channel.clone(), cost * *n as f64)
        })
        .collect();
    uc.cost = uc.cost_by_channel.values().sum();
    uc.roi = use_case_roi(uc);
}

/// (incremental revenue − cost) ÷ cost of one use case; None without a lift or a cost.
pub fn use_case_roi(uc: &UseCaseSummary) -> Option<f64> {
    if is_shadow(uc) {
        return None;
    }
    let incremental = uc.measurement.as_ref()?.lift?.incremental_revenue?;
    roi(incremental.estimate, uc.cost)
}

/// The domain's early indicators over use-case summaries (replay's, or a Prometheus server's):
/// attributable sales, revenue effect, degree of automation, cost and ROI. A use case counts as
/// live by its status; when no use case has one (a server without the info metric), one that
/// sent actions does. Shadow use cases' "would have" figures stay out of the totals.
pub fn kpis(use_cases: &[UseCaseSummary], attribution_window_days: Option<f64>) -> Kpis {
    let known_status = use_cases.iter().any(|u| !u.status.is_empty());
    let live: Vec<&UseCaseSummary> = use_cases
        .iter()
        .filter(|u| {
            if known_status {
                u.status == "live"
            } else {
                u.actions > 0
            }
        })
        .collect();
    let covered = |label: &str| -> Vec<String> {
        let all: BTreeSet<String> = live.iter().filter_map(|u| u.labels.get(label).cloned()).collect();
        all.into_iter().collect()
    };
    let channels: BTreeSet<String> = live
        .iter()
        .flat_map(|u| u.channels.iter().chain(u.actions_by_channel.keys()).cloned())
        .collect();
    let sent = || use_cases.iter().filter(|u| !is_shadow(u));
    let measured = sent().filter_map(|u| u.measurement.as_ref());
    let incremental_revenue: f64 = measured
        .clone()
        .filter_map(|m| m.lift.and_then(|l| l.incremental_revenue))
        .map(|i| i.estimate)
        .sum();
    let cost: f64 = sent().map(|u| u.cost).sum();
    Kpis {
        use_cases: use_cases.len() as u64,
        live_use_cases: live.len() as u64,
        channels: channels.into_iter().collect(),
        regions: covered("region"),
        business_units: covered("business_unit"),
        attributable_revenue: measured.map(|m| m.treatment.revenue).sum(),
        incremental_revenue,
        cost,
        roi: roi(incremental_revenue, cost),
        attribution_window_days,
    }
}

/// Whether a use case's figures are "would have" (a `shadow` use case: nothing sent), by the
/// flag or, in summaries written before it, by the status.
pub fn is_shadow(uc: &UseCaseSummary) -> bool {
    uc.would_have || uc.status == "shadow"
}

/// Per use case and stage: days from the previous stage, and from the first event.
type StageDays = (Vec<f64>, Vec<f64>);

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

fn trim_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &line[..end]
}
