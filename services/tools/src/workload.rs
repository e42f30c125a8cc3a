//! The standard workload of `../shared/bench` ("funnel-1m"), written by its own generator so
//! every figure of the project is measured on byte-identical input.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The generator beside the repository: `<repo>/../shared/bench/gen_events.py`.
pub fn generator(repo: &Path) -> PathBuf {
    repo.join("../shared/bench/gen_events.py")
}

/// Writes `events` JSON lines over `customers` customers (seed 42) to `out` with `python3`.
pub fn write(repo: &Path, out: &Path, events: u64, customers: u64) -> std::io::Result<()> {
    let script = generator(repo);
    if !script.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "{} is missing: the shared material must sit beside the repository",
                script.display()
            ),
        ));
    }
    let status = Command::new("python3")
        .arg(&script)
        .args(["--no-produce", "--dump"])
        .arg(out)
        .args(["-n", &events.to_string(), "--customers", &customers.to_string()])
        .stdout(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{} failed: {status}", script.display())))
    }
}
