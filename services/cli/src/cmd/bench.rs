use anyhow::Context;
use revenue_engine::config::Guarantee;
use revenue_tools::bench::{self, measured, Broker, EngineRun, Phase, Workload, STANDARD_ACTIONS};
use revenue_usecases::load_dir;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// Events file (JSON lines); default: the standard workload, written by ../shared/bench/gen_events.py.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Size of the generated workload when --events is not given.
    #[arg(long, default_value_t = 1_000_000)]
    generate: u64,
    /// Customers of the generated workload.
    #[arg(long, default_value_t = 100_000)]
    customers: u64,
    /// An external Kafka-protocol broker (host:port) instead of the embedded one.
    #[arg(long)]
    bootstrap: Option<String>,
    /// Events fed at half the measured maximum for the latency phases.
    #[arg(long, default_value_t = 300_000)]
    latency_events: usize,
    /// Results are appended here, one JSON object a line.
    #[arg(long, default_value = "bench-results.jsonl")]
    results: PathBuf,
}

fn repo() -> PathBuf {
    // the binary runs from the checkout (README); fall back to the build-time location
    let here = PathBuf::from(".");
    if here.join("usecases").is_dir() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    revenue_engine::logging::init(&revenue_engine::config::LogConfig {
        format: revenue_engine::config::LogFormat::Text,
        level: "warn,librdkafka=error".into(),
    });
    let repo = repo();
    let scratch = tempfile::tempdir()?;
    let events = match &args.events {
        Some(path) => path.clone(),
        None => {
            let path = scratch.path().join("events.jsonl");
            eprintln!(
                "writing the workload ({} events, {} customers) …",
                args.generate, args.customers
            );
            revenue_tools::workload::write(&repo, &path, args.generate, args.customers)?;
            path
        }
    };
    let text = std::fs::read_to_string(&events).with_context(|| format!("cannot read {}", events.display()))?;
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    drop(text);
    let work = Arc::new(Workload::from_lines(&lines));
    drop(lines);
    let total = work.len();
    let benchmark = Arc::new(load_dir(&repo.join("usecases/benchmark"))?);
    let reference = Arc::new(load_dir(&repo.join("usecases/reference"))?);
    let broker = match &args.bootstrap {
        Some(bootstrap) => Broker::external(bootstrap)?,
        None => Broker::embedded()?,
    };
    println!(
        "Revenue Engine bench: {total} events, {} customers, {} partitions, broker {}",
        work.customers,
        bench::PARTITIONS,
        broker.name
    );

    let mut phases: Vec<Phase> = Vec::new();
    let show = |phase: Phase, phases: &mut Vec<Phase>| {
        print_phase(&phase, phases.first());
        phases.push(phase);
    };
    let pass = measured(|| bench::passthrough(&broker, &work, total, None))?;
    show(pass, &mut phases);
    let state = scratch.path().join("state-benchmark");
    let engine = measured(|| {
        bench::engine(
            &broker,
            &work,
            EngineRun {
                phase: "engine-benchmark",
                set: benchmark.clone(),
                state_dir: &state,
                count: total,
                rate: None,
                guarantee: Guarantee::AtLeastOnce,
            },
        )
    })?;
    let engine_max = engine.events_per_second;
    show(engine, &mut phases);
    let state = scratch.path().join("state-exactly-once");
    let eos = measured(|| {
        bench::engine(
            &broker,
            &work,
            EngineRun {
                phase: "engine-exactly-once",
                set: benchmark.clone(),
                state_dir: &state,
                count: total,
                rate: None,
                guarantee: Guarantee::ExactlyOnce,
            },
        )
    })?;
    show(eos, &mut phases);
    let state = scratch.path().join("state-reference");
    let shipped = measured(|| {
        bench::engine(
            &broker,
            &work,
            EngineRun {
                phase: "engine-reference",
                set: reference.clone(),
                state_dir: &state,
                count: total,
                rate: None,
                guarantee: Guarantee::AtLeastOnce,
            },
        )
    })?;
    show(shipped, &mut phases);
    let replay = measured(|| bench::replay(&work, benchmark.clone()))?;
    show(replay, &mut phases);
    let replay_reference = bench::replay(&work, reference.clone())?;
    let state = scratch.path().join("state-restored");
    let restore = measured(|| bench::restore(&broker, "engine-benchmark", benchmark.clone(), &state))?;
    show(restore, &mut phases);

    let latency_count = args.latency_events.min(total);
    let pass_rate = phases[0].events_per_second / 2.0;
    let pass_latency = measured(|| bench::passthrough(&broker, &work, latency_count, Some(pass_rate)))?;
    show(pass_latency, &mut phases);
    let state = scratch.path().join("state-latency");
    let engine_latency = measured(|| {
        bench::engine(
            &broker,
            &work,
            EngineRun {
                phase: "engine-latency",
                set: benchmark.clone(),
                state_dir: &state,
                count: latency_count,
                rate: Some(engine_max / 2.0),
                guarantee: Guarantee::AtLeastOnce,
            },
        )
    })?;
    show(engine_latency, &mut phases);

    let base = phases[0].events_per_second;
    for phase in &mut phases[1..] {
        if phase.latency_p50_ms.is_none() && phase.phase != "restore" {
            phase.ratio = Some(phase.events_per_second / base);
        }
    }
    // a fast wrong engine is not fast: the live engine must decide exactly as replay does
    let engine_actions = phases[1].actions.unwrap_or(0);
    let replay_actions = phases[4].actions.unwrap_or(0);
    let mut ok = engine_actions == replay_actions
        && phases[2].actions == Some(replay_actions)
        && phases[3].actions == replay_reference.actions;
    if total == 1_000_000 && engine_actions != STANDARD_ACTIONS {
        ok = false;
    }
    println!();
    println!(
        "check: engine {engine_actions} actions, replay {replay_actions}{}; shipped use cases: engine {}, replay {} → {}",
        if total == 1_000_000 { format!(", standard workload expects {STANDARD_ACTIONS}") } else { String::new() },
        phases[3].actions.unwrap_or(0),
        replay_reference.actions.unwrap_or(0),
        if ok { "OK" } else { "WRONG" }
    );
    write_results(&args.results, &phases, ok)?;
    println!("results appended to {}", args.results.display());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_phase(phase: &Phase, pass: Option<&Phase>) {
    let ratio = match pass {
        Some(p) if phase.latency_p50_ms.is_none() && phase.phase != "restore" => {
            format!("{:.2}×", phase.events_per_second / p.events_per_second)
        }
        None => "1.00×".into(),
        _ => String::new(),
    };
    let mb = |b: Option<u64>| {
        b.map(|b| format!("{:.0} MiB", b as f64 / 1048576.0))
            .unwrap_or_default()
    };
    let mut line = format!(
        "{:<22} {:>9} events {:>7.2}s {:>10.0} ev/s {:>6}  peak RSS {:>8}",
        phase.phase,
        phase.events,
        phase.seconds,
        phase.events_per_second,
        ratio,
        mb(phase.peak_rss_bytes)
    );
    if let Some(bytes) = phase.state_bytes_per_customer {
        line.push_str(&format!("  state {bytes:.0} B/customer"));
    }
    if let Some(actions) = phase.actions {
        line.push_str(&format!("  {actions} actions"));
    }
    if let (Some(p50), Some(p99), Some(rate)) = (
        phase.latency_p50_ms,
        phase.latency_p99_ms,
        phase.latency_offered_events_per_second,
    ) {
        line.push_str(&format!(
            "  latency at {rate:.0} ev/s offered: p50 {p50:.1} ms, p99 {p99:.1} ms ({} samples)",
            phase.latency_samples.unwrap_or(0)
        ));
    }
    println!("{line}");
}

fn write_results(path: &Path, phases: &[Phase], ok: bool) -> anyhow::Result<()> {
    let machine = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    for phase in phases {
        let mut value = serde_json::to_value(phase)?;
        value["unix_time"] = at.into();
        value["machine"] = machine.clone().into();
        value["cores"] = cores.into();
        value["correct"] = ok.into();
        writeln!(file, "{value}")?;
    }
    Ok(())
}
