use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use revenue_core::Mode;
use revenue_replay::replay_with_decisions;
use revenue_replay::{ReplayOptions, ReplaySummary};
use revenue_usecases::load_dir;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The use-case directory.
    #[arg(long = "use-cases")]
    use_cases: PathBuf,
    /// Recorded events, one JSON object per line.
    #[arg(long)]
    events: PathBuf,
    /// Where to write the actions, one JSON object per line.
    #[arg(long)]
    out: PathBuf,
    /// Also write the summary as JSON to this file (input of `revenue-engine report`).
    #[arg(long)]
    summary_json: Option<PathBuf>,
    /// Also write every decision (emitted, deferred, held out, suppressed; features read, score,
    /// tier, policy outcome) as JSON lines to this file.
    #[arg(long)]
    decisions: Option<PathBuf>,
    /// Evaluate like the live engine (shadow and live use cases; drafts skipped).
    #[arg(long)]
    live_only: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let set = Arc::new(load_dir(&args.use_cases)?);
    let input =
        File::open(&args.events).with_context(|| format!("cannot open events file {}", args.events.display()))?;
    let total = input.metadata().map(|m| m.len()).unwrap_or(0);
    let output =
        File::create(&args.out).with_context(|| format!("cannot create output file {}", args.out.display()))?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} replay [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let options = ReplayOptions {
        mode: if args.live_only { Mode::Engine } else { Mode::BackTest },
        source_name: args
            .events
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..ReplayOptions::default()
    };
    let mut decisions = match &args.decisions {
        None => None,
        Some(path) => {
            Some(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot create decisions file {}", path.display())
            })?))
        }
    };
    let summary = replay_with_decisions(
        set,
        BufReader::with_capacity(1 << 20, input),
        BufWriter::with_capacity(1 << 20, output),
        decisions.as_mut().map(|w| w as &mut dyn std::io::Write),
        &options,
        |bytes| bar.set_position(bytes),
    )
    .with_context(|| format!("replay of {} into {}", args.events.display(), args.out.display()))?;
    bar.finish_and_clear();
    print_summary(&summary, &args);
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &ReplaySummary, args: &Args) {
    println!(
        "replayed {} events ({} customers) from {} in {:.2}s: {:.0} events/s",
        s.events,
        s.customers,
        args.events.display(),
        s.seconds,
        s.events_per_second
    );
    println!();
    println!(
        "{:<30} {:<7} {:>11} {:>9} {:>10}  tiers (actions)",
        "use case", "status", "evaluations", "actions", "customers"
    );
    for uc in &s.use_cases {
        let tiers: Vec<String> = uc
            .tiers
            .iter()
            .map(|t| format!("{}→{}/{}: {}", t.tier, t.action_type, t.channel, t.actions))
            .collect();
        println!(
            "{:<30} {:<7} {:>11} {:>9} {:>10}  {}",
            format!("{} v{}", uc.id, uc.version),
            uc.status,
            uc.evaluations,
            uc.actions,
            uc.customers_reached,
            tiers.join(", ")
        );
        if revenue_replay::is_shadow(uc) {
            println!(
                "{:<30} shadow: what it would have done — nothing sent, no cost, not in the KPI totals",
                ""
            );
        }
        let channels: Vec<String> = uc.actions_by_channel.iter().map(|(c, n)| format!("{c}: {n}")).collect();
        if !channels.is_empty() || uc.retrigger_blocked > 0 || uc.errors > 0 {
            println!(
                "{:<30} by channel: {}; held back by re-trigger policy: {}; evaluation errors: {}",
                "",
                channels.join(", "),
                uc.retrigger_blocked,
                uc.errors
            );
        }
        if uc.timers_fired > 0 {
            println!("{:<30} timers fired: {}", "", uc.timers_fired);
        }
        let policy = &uc.policy;
        if !policy.suppressed.is_empty() {
            let reasons: Vec<String> = policy.suppressed.iter().map(|(r, n)| format!("{r}: {n}")).collect();
            println!(
                "{:<30} not emitted by the contact policy: {}; deferred {}, delivered later {}",
                "",
                reasons.join(", "),
                policy.deferred,
                policy.deferred_delivered
            );
        }
        if let Some(m) = &uc.measurement {
            println!(
                "{:<30} treatment {} exposed, {} converted ({:.0} revenue); control {} exposed, {} converted ({:.0} revenue)",
                "",
                m.treatment.exposed,
                m.treatment.converted,
                m.treatment.revenue,
                m.control.exposed,
                m.control.converted,
                m.control.revenue
            );
            match &m.lift {
                None => println!("{:<30} lift: not yet measurable (a group has no exposure)", ""),
                Some(l) => {
                    let d = l.rate_difference;
                    let revenue = l.incremental_revenue.map_or_else(
                        || "-".to_string(),
                        |i| format!("{:.0} [{:.0}, {:.0}]", i.estimate, i.lower, i.upper),
                    );
                    println!(
                        "{:<30} lift: conversion {:+.2} pp [{:+.2}, {:+.2}] (95 %){}; incremental revenue {revenue}",
                        "",
                        100.0 * d.estimate,
                        100.0 * d.lower,
                        100.0 * d.upper,
                        if l.significant {
                            ", significant"
                        } else {
                            ", not significant"
                        }
                    );
                }
            }
        }
        if uc.cost > 0.0 {
            let roi = uc.roi.map_or_else(|| "-".to_string(), |r| format!("{:.1}×", r));
            println!("{:<30} cost {:.2}; ROI {roi}", "", uc.cost);
        }
        for stage in &uc.funnel {
            let rate = stage
                .conversion_from_previous
                .map_or_else(String::new, |r| format!(", {:.0} % of the previous stage", 100.0 * r));
            let days = |d: Option<f64>| d.map_or_else(|| "-".to_string(), |d| format!("{d:.1}"));
            println!(
                "{:<30} funnel {}: {} leads{rate}; median days from previous stage {}, from first event {}",
                "",
                stage.stage,
                stage.reached,
                days(stage.median_days_from_previous),
                days(stage.median_days_from_first_seen)
            );
        }
    }
    println!();
    let k = &s.kpis;
    println!(
        "KPIs: {} of {} use cases live, channels [{}], regions [{}], business units [{}]; attributable revenue {:.0}, incremental revenue {:.0}, cost {:.2}, ROI {}",
        k.live_use_cases,
        k.use_cases,
        k.channels.join(", "),
        k.regions.join(", "),
        k.business_units.join(", "),
        k.attributable_revenue,
        k.incremental_revenue,
        k.cost,
        k.roi.map_or_else(|| "-".to_string(), |r| format!("{r:.1}×"))
    );
    println!("{} actions written to {}", s.actions, args.out.display());
    if s.expired_customers > 0 {
        println!("{} idle customers left the state (expire_after)", s.expired_customers);
    }
    if s.unknown_event_type > 0 {
        println!(
            "{} events of types the catalog does not declare (they changed nothing)",
            s.unknown_event_type
        );
    }
    if s.malformed > 0 {
        let reasons: Vec<String> = s.malformed_by_reason.iter().map(|(r, n)| format!("{r}: {n}")).collect();
        eprintln!("{} malformed line(s) skipped ({})", s.malformed, reasons.join(", "));
        for m in &s.malformed_lines {
            eprintln!("  line {}: {} ({})", m.line, m.detail, m.reason);
        }
        if s.malformed > s.malformed_lines.len() as u64 {
            eprintln!(
                "  … and {} more (see --summary-json)",
                s.malformed - s.malformed_lines.len() as u64
            );
        }
    }
}
