//! `revenue-engine`: the one binary of Revenue Engine.

// Tools for a person at a terminal: what they print is their interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "revenue-engine",
    version,
    about = "Event-streaming use-case orchestrator for sales and marketing automation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a use-case directory and report every problem with its file, line and key path.
    Validate(cmd::validate::Args),
    /// Run a use-case directory over a recorded JSON-lines event file (back-test).
    Replay(cmd::replay::Args),
    /// Render an HTML report for the marketing lead from a replay summary or a Prometheus server.
    Report(cmd::report::Args),
    /// Write the JSON Schemas of the use-case and feature-catalog files.
    Schema(cmd::schema::Args),
    /// Run the engine against a configured Kafka until SIGTERM / Ctrl-C.
    Run(cmd::run::Args),
    /// The whole loop on an embedded broker with synthetic B2B data; ends by itself.
    Demo(cmd::demo::Args),
    /// Measure the standard workload: pass-through, engine, replay, memory, latency.
    Bench(cmd::bench::Args),
    /// Train the item-to-item product recommender from purchase history; reports hit-rate@10.
    TrainRecommender(cmd::train_recommender::Args),
    /// Write synthetic B2B events (the demo's generator) as JSON lines.
    Synthetic(cmd::synthetic::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Schema(args) => cmd::schema::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::TrainRecommender(args) => cmd::train_recommender::run(args),
        Command::Synthetic(args) => cmd::synthetic::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
