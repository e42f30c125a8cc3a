use revenue_usecases::{load_dir, LoadError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The use-case directory (features.yaml plus one YAML file per use case).
    dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match load_dir(&args.dir) {
        Ok(set) => {
            println!(
                "ok: {} — {} use case(s), {} feature(s), {} event type(s)",
                args.dir.display(),
                set.use_cases.len(),
                set.catalog.features.len(),
                set.catalog.event_types.len()
            );
            for uc in &set.use_cases {
                println!(
                    "  {:<32} v{:<4} {:<8} {} tier(s)  {}",
                    uc.id,
                    uc.version,
                    uc.status.as_str(),
                    uc.tiers.len(),
                    uc.file
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(LoadError::Invalid { dir, problems }) => {
            for p in &problems {
                eprintln!("error: {}/{p}", dir.display());
            }
            eprintln!("{} problem(s) found in {}", problems.len(), dir.display());
            Ok(ExitCode::FAILURE)
        }
        Err(err) => Err(err.into()),
    }
}
