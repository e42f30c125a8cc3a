//! Compiling a use-case directory (the feature catalog plus one file per use case) into the
//! form the evaluator runs. Every problem is collected, with file, key path, line and a hint.

mod compile;
mod set;

use crate::algo::{Funnel, ModelFile, RecommenderUse, Scorer, TimerDef};
use crate::catalog::Catalog;
use crate::diagnostic::Diagnostic;
use crate::policy::Policy;
use crate::spec::{Status, ValueDriver};
use revenue_expr::CompiledExpr;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The name of the feature catalog inside a use-case directory.
pub const CATALOG_FILE: &str = "features.yaml";

/// A file of a use-case directory, read by the caller (the core does no I/O).
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the directory, used in diagnostics.
    pub path: String,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retrigger {
    /// At most once per customer and tier, ever.
    Once,
    /// Every time the condition holds.
    Always,
    /// Not again within this many milliseconds of event time.
    Cooldown(i64),
}

#[derive(Debug)]
pub struct Tier {
    pub name: Arc<str>,
    pub when: Option<CompiledExpr>,
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    pub retrigger: Retrigger,
    pub action_type: Arc<str>,
    pub channel: Arc<str>,
    pub topic: Arc<str>,
    pub payload: Vec<(Arc<str>, CompiledExpr)>,
    /// Whether matching this tier needs the score (a threshold, or `score` in `when`).
    pub needs_score: bool,
    /// Key of this tier in a customer's re-trigger history: use case id + tier name, not the
    /// version, so a new version does not act again on customers the old one reached.
    pub history_key: u64,
}

#[derive(Debug)]
pub struct UseCase {
    pub id: Arc<str>,
    pub version: u32,
    pub title: String,
    pub owner: String,
    pub status: Status,
    pub priority: u32,
    pub value_driver: ValueDriver,
    pub channels: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub file: String,
    /// xxh3 of the file's bytes, hex.
    pub checksum: String,
    /// Bit i set: event type i triggers an evaluation.
    pub trigger_mask: u64,
    pub features: Vec<usize>,
    pub rule: Option<CompiledExpr>,
    /// Where `score` comes from: an expression, a model, or the recommender.
    pub scorer: Option<Scorer>,
    pub recommender: Option<RecommenderUse>,
    pub funnel: Option<Funnel>,
    pub timer: Option<TimerDef>,
    pub tiers: Vec<Tier>,
    /// Stable key of the use case (its id) in customers' contact history and exposures.
    pub key: u64,
    /// Control-group share and the salt of the assignment.
    pub holdout_share: f64,
    pub holdout_salt: String,
    /// What one action is expected to earn (CEL over features and `score`).
    pub expected_value: Option<CompiledExpr>,
}

/// "When use case `source` acts (in `tier`, or any tier), start the timer of use case `timer`".
#[derive(Debug, Clone, Copy)]
pub struct ActionTimer {
    pub source: usize,
    pub tier: Option<usize>,
    pub timer: usize,
}

/// A compiled directory: what the engine and `replay` run.
#[derive(Debug)]
pub struct UseCaseSet {
    pub catalog: Catalog,
    /// Highest priority first, then by id: the order of evaluation.
    pub use_cases: Vec<UseCase>,
    /// Checksum over every file of the set.
    pub checksum: String,
    /// Timers started by other use cases' actions, by index into `use_cases`.
    pub action_timers: Vec<ActionTimer>,
    /// The directory's `policy.yaml` (an empty policy without one).
    pub policy: Policy,
    /// Bit i set: event type i starts or cancels some use case's timer (most events do neither).
    pub timer_event_mask: u64,
}

impl UseCaseSet {
    /// Every topic this set produces actions to (tiers and funnel stages), sorted, once each.
    pub fn action_topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = self
            .use_cases
            .iter()
            .flat_map(|uc| {
                let funnel = uc.funnel.as_ref().map(|f| f.topic.as_ref());
                uc.tiers.iter().map(|t| t.topic.as_ref()).chain(funnel)
            })
            .collect();
        topics.sort_unstable();
        topics.dedup();
        topics
    }
}

/// Checksum over a directory's files (names and contents, in name order): equal checksums, equal sets.
pub fn files_checksum(files: &[SourceFile]) -> String {
    let mut sorted: Vec<&SourceFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut all_text = String::new();
    for file in sorted {
        all_text.push_str(&file.path);
        all_text.push_str(&file.text);
    }
    checksum(&all_text)
}

/// Checksum over a directory's YAML files and model files: equal checksums, equal sets.
pub fn set_checksum(files: &[SourceFile], models: &[ModelFile]) -> String {
    if models.is_empty() {
        return files_checksum(files);
    }
    let mut all = files.to_vec();
    all.extend(models.iter().map(|m| SourceFile {
        path: m.path.clone(),
        text: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&m.bytes)),
    }));
    files_checksum(&all)
}

fn checksum(text: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

/// Parses YAML into `T`, refusing unknown keys, with the key path and line of the first problem.
pub fn parse_yaml<T: DeserializeOwned>(file: &SourceFile) -> Result<T, Diagnostic> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(&file.text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let mut message = inner.to_string();
        if let Some(rest) = message.strip_prefix(&format!("{path}: ")) {
            message = rest.to_string();
        }
        // the location is reported separately
        if let Some(at) = message.find(" at line ") {
            message.truncate(at);
        }
        let mut d = Diagnostic::new(&file.path, if path == "." { String::new() } else { path }, message)
            .hint("see the use-case format in the README or schemas/*.schema.json");
        d.line = inner.location().map(|l| l.line());
        d
    })
}
