use anyhow::Context;
use revenue_engine::http::HttpServer;
use revenue_engine::{logging, start, EngineConfig, Metrics, Status};
use revenue_usecases::load_dir;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const STOP_SIGNALS: [i32; 2] = [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT];

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (YAML or TOML); environment variables REVENUE_ENGINE__… override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // registered first: a SIGTERM while the engine starts (joining, restoring) is kept, not fatal
    let early_stop = Arc::new(AtomicBool::new(false));
    for signal in STOP_SIGNALS {
        signal_hook::flag::register(signal, early_stop.clone())?;
    }
    let config = EngineConfig::load(args.config.as_deref())?;
    logging::init(&config.log);
    let set = Arc::new(load_dir(&config.use_cases.dir)?);
    tracing::info!(use_cases = set.use_cases.len(), checksum = %set.checksum, dir = %config.use_cases.dir.display(), "use cases loaded");
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(Status::default());
    let _http = if config.http.listen.is_empty() {
        None
    } else {
        let server = HttpServer::start(&config.http.listen, metrics.clone(), status.clone())
            .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
        tracing::info!(addr = %server.addr, "serving /metrics, /healthz, /readyz");
        Some(server)
    };
    let engine = start(config, set, metrics, status)?;
    // SIGTERM / Ctrl-C: stop fetching, finish in-flight work, commit, close the stores, exit 0
    for signal in STOP_SIGNALS {
        signal_hook::flag::register(signal, engine.stop_flag())?;
    }
    if early_stop.load(Ordering::Relaxed) {
        engine.stop();
    }
    let report = engine.join()?;
    tracing::info!(events = report.counters.events, "stopped");
    Ok(ExitCode::SUCCESS)
}
