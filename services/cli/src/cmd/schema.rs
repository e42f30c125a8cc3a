use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to write `usecase.schema.json`, `features.schema.json` and `policy.schema.json` into.
    #[arg(long, default_value = "schemas")]
    out_dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out_dir)?;
    for (name, text) in revenue_core::spec::json_schemas() {
        let path = args.out_dir.join(name);
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
