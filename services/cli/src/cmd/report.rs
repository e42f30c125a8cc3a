//! `revenue-engine report`: the marketing lead's HTML page, from a replay summary, from the live
//! engine's figures in Prometheus, or both side by side.

mod prometheus;

use anyhow::{bail, Context};
use revenue_replay::ReplaySummary;
use revenue_tools::report::{render_sections, Section};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

#[derive(clap::Args)]
pub struct Args {
    /// Summary JSON written by `revenue-engine replay --summary-json`.
    #[arg(long, required_unless_present = "prometheus")]
    summary: Option<PathBuf>,
    /// Base URL of a Prometheus server that scrapes the engine (e.g. http://prometheus:9090);
    /// with --summary too, its figures are shown as the live section beside the back-test.
    #[arg(long)]
    prometheus: Option<String>,
    /// Where to write the HTML page.
    #[arg(long, default_value = "report.html")]
    out: PathBuf,
    /// The page's title.
    #[arg(long, default_value = "Revenue Engine: use-case report")]
    title: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let replay = args.summary.as_deref().map(read_summary).transpose()?;
    let live = match &args.prometheus {
        Some(url) => {
            let mut live = prometheus::fetch(url)?;
            if let Some(replay) = &replay {
                prometheus::enrich(&mut live, replay);
            }
            Some(live)
        }
        None => None,
    };
    let mut sections = Vec::new();
    if let (Some(summary), Some(path)) = (&replay, &args.summary) {
        sections.push(Section {
            heading: if live.is_some() {
                "Back-test (replay)".into()
            } else {
                String::new()
            },
            source: format!("replay summary {}", path.display()),
            summary,
        });
    }
    if let (Some(summary), Some(url)) = (&live, &args.prometheus) {
        sections.push(Section {
            heading: if replay.is_some() {
                "Live engine (Prometheus)".into()
            } else {
                String::new()
            },
            source: format!("Prometheus {url} (reach = treated exposures)"),
            summary,
        });
    }
    if sections.is_empty() {
        bail!("nothing to report: give --summary <summary.json>, --prometheus <url>, or both");
    }
    let html = render_sections(&args.title, &utc_now(), &sections);
    std::fs::write(&args.out, html).with_context(|| format!("cannot write report {}", args.out.display()))?;
    let use_cases: usize = sections.iter().map(|s| s.summary.use_cases.len()).sum();
    println!("wrote {} ({use_cases} use case section(s))", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn read_summary(path: &Path) -> anyhow::Result<ReplaySummary> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read summary {} (hint: write one with `revenue-engine replay … --summary-json {}`)",
            path.display(),
            path.display()
        )
    })?;
    let not_a_summary = || {
        format!(
            "{} is not a replay summary (hint: use the JSON written by `revenue-engine replay --summary-json`)",
            path.display()
        )
    };
    serde_json::from_str(&text).with_context(not_a_summary)
}

/// "2025-06-01 14:05 UTC".
fn utc_now() -> String {
    chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
        .format("%Y-%m-%d %H:%M UTC")
        .to_string()
}
