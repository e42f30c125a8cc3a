use anyhow::Context;
use revenue_offline::synthetic::{Generator, SyntheticConfig};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the events, one JSON object per line.
    #[arg(long)]
    out: PathBuf,
    /// Number of companies (customers).
    #[arg(long, default_value_t = 2_000)]
    companies: u32,
    /// Exactly this many events are written (company profiles included).
    #[arg(long, default_value_t = 30_000)]
    events: u64,
    /// Days the events cover, from 2026-11-01.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// The same seed always gives the same events.
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // the generator asserts these; say what to change instead of panicking
    anyhow::ensure!(args.days > 0, "--days must be at least 1");
    let room = u64::from(args.days) * 86_400_000 / 2;
    anyhow::ensure!(
        args.events < room,
        "{} events do not fit into {} day(s) with distinct timestamps; use at most {} events or more --days",
        args.events,
        args.days,
        room - 1
    );
    let config = SyntheticConfig {
        seed: args.seed,
        companies: args.companies,
        events: args.events,
        days: args.days,
        ..SyntheticConfig::default()
    };
    let file = File::create(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut written = 0u64;
    for event in Generator::new(config) {
        out.write_all(event.json.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        written += 1;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "wrote {written} synthetic events ({} companies, {} days, seed {}) to {}",
        args.companies,
        args.days,
        args.seed,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
