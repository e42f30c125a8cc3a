use anyhow::Context;
use revenue_tools::synthetic::{Generator, SyntheticConfig};
use revenue_tools::uplift::{plant_uplift, UpliftConfig};
use revenue_usecases::load_dir;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    /// Plant a known effect: every decision of the use cases in `--use-cases` adds a conversion
    /// (a purchase) with `--plant-base-rate` for held-out customers and this much more for
    /// treated ones; `replay` and `report` then measure it.
    #[arg(long)]
    plant_uplift: Option<f64>,
    /// Conversion probability of held-out customers when planting.
    #[arg(long, default_value_t = 0.02)]
    plant_base_rate: f64,
    /// Use cases whose decisions planting follows.
    #[arg(long = "use-cases", default_value = "usecases/reference")]
    use_cases: PathBuf,
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
    let events = Generator::new(config).map(|event| event.json);
    let lines: Box<dyn Iterator<Item = String>> = match args.plant_uplift {
        None => Box::new(events),
        Some(uplift) => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&uplift) && (0.0..=1.0 - uplift).contains(&args.plant_base_rate),
                "--plant-uplift and --plant-base-rate are probabilities whose sum is at most 1"
            );
            let set = Arc::new(load_dir(&args.use_cases)?);
            let config = UpliftConfig {
                base_rate: args.plant_base_rate,
                uplift,
                seed: args.seed,
                ..UpliftConfig::default()
            };
            let (lines, planted) = plant_uplift(set, events, &config);
            println!(
                "planted conversions: {} of {} treated and {} of {} held-out decisions (uplift {uplift}, base rate {})",
                planted.conversions_treated,
                planted.treated,
                planted.conversions_control,
                planted.control,
                args.plant_base_rate
            );
            Box::new(lines.into_iter())
        }
    };
    for line in lines {
        out.write_all(line.as_bytes())
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
