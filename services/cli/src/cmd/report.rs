//! `revenue-engine report`: the marketing lead's HTML page, from a replay summary, from the live
//! engine's figures in Prometheus, or both side by side.

mod prometheus;

use anyhow::{bail, Context};
use revenue_offline::report::{render_sections, Section};
use revenue_offline::ReplaySummary;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

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
    let mut value: serde_json::Value = serde_json::from_str(&text).with_context(not_a_summary)?;
    // replay leaves out an empty funnel when writing but requires it when reading
    if let Some(use_cases) = value.get_mut("use_cases").and_then(|u| u.as_array_mut()) {
        for uc in use_cases.iter_mut().filter_map(|uc| uc.as_object_mut()) {
            uc.entry("funnel")
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        }
    }
    serde_json::from_value(value).with_context(not_a_summary)
}

/// "2025-06-01 14:05 UTC", without a date-time dependency (days to civil date, Howard Hinnant).
fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}
