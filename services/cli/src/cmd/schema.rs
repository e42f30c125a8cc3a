use revenue_core::spec::{CatalogSpec, UseCaseSpec};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Directory to write `usecase.schema.json` and `features.schema.json` into.
    #[arg(long, default_value = "schemas")]
    out_dir: PathBuf,
}

/// The JSON Schemas, generated from the types the loader parses, so they never drift.
pub fn schemas() -> anyhow::Result<Vec<(&'static str, String)>> {
    let usecase = schemars::schema_for!(UseCaseSpec);
    let features = schemars::schema_for!(CatalogSpec);
    Ok(vec![
        ("usecase.schema.json", serde_json::to_string_pretty(&usecase)? + "\n"),
        ("features.schema.json", serde_json::to_string_pretty(&features)? + "\n"),
    ])
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out_dir)?;
    for (name, text) in schemas()? {
        let path = args.out_dir.join(name);
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
