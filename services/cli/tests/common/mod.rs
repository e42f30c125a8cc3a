//! What the command-line tests share: running the binary from the repository root.

// each test binary uses its own part of this module
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `revenue-engine` with `args` in the repository root.
pub fn engine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_revenue-engine"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
