//! Loads a use-case directory: `features.yaml` and every other `*.yaml` / `*.yml` file in it.

use revenue_core::{Diagnostic, ModelFile, SourceFile, UseCaseSet};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read use-case directory {path}: {source}; check the path and its permissions")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{} problem(s) in {dir}:\n{}", problems.len(), render(problems))]
    Invalid { dir: PathBuf, problems: Vec<Diagnostic> },
}

fn render(problems: &[Diagnostic]) -> String {
    problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n")
}

/// The directory's YAML files, sorted by name. Hidden entries (e.g. the `..data` links of a
/// mounted Kubernetes ConfigMap) are skipped.
pub fn read_dir_files(dir: &Path) -> Result<Vec<SourceFile>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_yaml = name.ends_with(".yaml") || name.ends_with(".yml");
        if name.starts_with('.') || !is_yaml || !entry.path().is_file() {
            continue;
        }
        let path = entry.path();
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        files.push(SourceFile { path: name, text });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Where use cases keep model files (ONNX models, recommender artifacts).
pub const MODELS_DIR: &str = "models";

/// The files under `models/` (one level), as `models/<name>`, sorted; none when it is absent.
pub fn read_dir_models(dir: &Path) -> Result<Vec<ModelFile>, LoadError> {
    let models_dir = dir.join(MODELS_DIR);
    if !models_dir.is_dir() {
        return Ok(Vec::new());
    }
    let io = |path: &Path, source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut models = Vec::new();
    for entry in std::fs::read_dir(&models_dir).map_err(|e| io(&models_dir, e))? {
        let entry = entry.map_err(|e| io(&models_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let path = entry.path();
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        models.push(ModelFile {
            path: format!("{MODELS_DIR}/{name}"),
            bytes: bytes.into(),
        });
    }
    models.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(models)
}

/// A directory's files and models, and their checksum (changes when any of them changes).
pub fn read_dir_all(dir: &Path) -> Result<(Vec<SourceFile>, Vec<ModelFile>, String), LoadError> {
    let files = read_dir_files(dir)?;
    let models = read_dir_models(dir)?;
    let checksum = revenue_core::usecase::set_checksum(&files, &models);
    Ok((files, models, checksum))
}

/// Reads and compiles a use-case directory; every problem is reported at once.
pub fn load_dir(dir: &Path) -> Result<UseCaseSet, LoadError> {
    let (files, models, _) = read_dir_all(dir)?;
    UseCaseSet::compile_with_models(&files, &models).map_err(|problems| LoadError::Invalid {
        dir: dir.to_path_buf(),
        problems,
    })
}
