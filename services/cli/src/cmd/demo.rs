use revenue_engine::wire::OutputFormat;
use revenue_tools::demo::{self, DemoOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Avro,
}

#[derive(clap::Args)]
pub struct Args {
    /// Use-case directory the engine runs.
    #[arg(long = "use-cases", default_value = "usecases/reference")]
    use_cases: PathBuf,
    /// Synthetic events to produce.
    #[arg(long, default_value_t = 30_000)]
    events: u64,
    /// Companies (customers) in the synthetic data.
    #[arg(long, default_value_t = 2_000)]
    companies: u32,
    /// Days of event time the synthetic data covers.
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Events produced per second.
    #[arg(long, default_value_t = 4_000)]
    rate: u64,
    /// Wire format of the actions: JSON (readable with kcat) or Avro (the engine's default).
    #[arg(long = "output-format", value_enum, default_value = "json")]
    output_format: Format,
    /// Address of the metrics/health listener (a free port is taken if busy).
    #[arg(long, default_value = "127.0.0.1:9464")]
    http: String,
    /// Keep the embedded broker running after the run until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    revenue_engine::logging::init(&revenue_engine::config::LogConfig {
        format: revenue_engine::config::LogFormat::Text,
        level: "warn,librdkafka=error".into(),
    });
    demo::run(DemoOptions {
        use_cases: args.use_cases,
        events: args.events,
        companies: args.companies,
        days: args.days,
        rate: args.rate,
        output: match args.output_format {
            Format::Json => OutputFormat::Json,
            Format::Avro => OutputFormat::Avro,
        },
        http_listen: args.http,
        keep_running: args.keep_running,
        stop,
    })?;
    Ok(ExitCode::SUCCESS)
}
