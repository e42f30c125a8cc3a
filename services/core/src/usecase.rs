//! Compiling a use-case directory (the feature catalog plus one file per use case) into the
//! form the evaluator runs. Every problem is collected, with file, key path, line and a hint.

use crate::algo::{self, Funnel, ModelFile, RecommenderUse, Scorer, TimerDef};
use crate::catalog::{self, suggest, var, Catalog, NS_EVENT, NS_FEATURE, NS_SCORE};
use crate::diagnostic::{locate, Diagnostic};
use crate::duration::Span;
use crate::expr::{self, CompiledExpr, Expect, Scope, Type, VarRef};
use crate::policy::{self, Policy, POLICY_FILE};
use crate::spec::{CatalogSpec, PolicySpec, RetriggerSpec, Status, UseCaseSpec, ValueDriver};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
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

impl UseCaseSet {
    /// Compiles a directory's YAML files (no model files).
    pub fn compile(files: &[SourceFile]) -> Result<UseCaseSet, Vec<Diagnostic>> {
        UseCaseSet::compile_with_models(files, &[])
    }

    /// Compiles a directory's files: `features.yaml`, every other YAML file as a use case, and
    /// the model files (`models/…`) the use cases name.
    pub fn compile_with_models(files: &[SourceFile], models: &[ModelFile]) -> Result<UseCaseSet, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let catalog_file = files
            .iter()
            .find(|f| f.path == CATALOG_FILE || f.path.ends_with("/features.yaml"));
        let catalog = match catalog_file {
            None => {
                problems.push(
                    Diagnostic::new(CATALOG_FILE, "", "the directory has no feature catalog")
                        .hint("add features.yaml declaring `event_types` and `features`"),
                );
                None
            }
            Some(file) => match parse_yaml::<CatalogSpec>(file) {
                Err(d) => {
                    problems.push(d);
                    None
                }
                Ok(spec) => {
                    let (catalog, found) = Catalog::compile_partial(&file.path, &spec);
                    problems.extend(with_lines(found, &file.text));
                    Some(catalog)
                }
            },
        };

        let policy_file = files
            .iter()
            .find(|f| f.path == POLICY_FILE || f.path.ends_with("/policy.yaml"));
        let policy = match (policy_file, &catalog) {
            (Some(file), Some(catalog)) => match parse_yaml::<PolicySpec>(file) {
                Err(d) => {
                    problems.push(d);
                    None
                }
                Ok(spec) => match Policy::compile(catalog, &file.path, &spec) {
                    Ok(policy) => Some(policy),
                    Err(found) => {
                        problems.extend(with_lines(found, &file.text));
                        None
                    }
                },
            },
            _ => Some(Policy::default()),
        };
        let default_holdout = policy.as_ref().map_or(0.0, |p| p.default_holdout);

        let mut use_cases = Vec::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut sorted: Vec<&SourceFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        for file in sorted {
            if Some(file.path.as_str()) == catalog_file.map(|f| f.path.as_str())
                || Some(file.path.as_str()) == policy_file.map(|f| f.path.as_str())
            {
                continue;
            }
            let spec = match parse_yaml::<UseCaseSpec>(file) {
                Ok(spec) => spec,
                Err(d) => {
                    problems.push(d);
                    continue;
                }
            };
            if let Some(first) = ids.insert(spec.id.clone(), file.path.clone()) {
                problems.push(with_line(
                    Diagnostic::new(&file.path, "id", format!("duplicate use case id `{}`", spec.id))
                        .hint(format!("`{first}` already uses it; ids must be unique in a directory")),
                    &file.text,
                ));
            }
            let Some(catalog) = &catalog else { continue };
            match compile_use_case(catalog, file, &spec, models, default_holdout) {
                Ok(uc) => use_cases.push(uc),
                Err(found) => problems.extend(with_lines(found, &file.text)),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let (Some(catalog), Some(policy)) = (catalog, policy) else {
            return Err(problems);
        };
        use_cases.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        let action_timers = resolve_action_timers(&use_cases, &mut problems);
        let timer_event_mask = use_cases
            .iter()
            .filter_map(|uc| uc.timer.as_ref())
            .fold(0, |mask, t| mask | t.start_mask | t.cancel_mask);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(UseCaseSet {
            catalog,
            use_cases,
            checksum: set_checksum(files, models),
            action_timers,
            timer_event_mask,
            policy,
        })
    }
}

/// `start_on_actions` name other use cases (and tiers): resolved once the set is sorted.
fn resolve_action_timers(use_cases: &[UseCase], problems: &mut Vec<Diagnostic>) -> Vec<ActionTimer> {
    let mut resolved = Vec::new();
    for (timer_index, uc) in use_cases.iter().enumerate() {
        let Some(timer) = &uc.timer else { continue };
        for (i, (source_id, tier_name)) in timer.start_on_actions.iter().enumerate() {
            let key = format!("data.timer.start_on_actions[{i}]");
            let Some(source) = use_cases.iter().position(|u| u.id.as_ref() == source_id) else {
                problems.push(
                    Diagnostic::new(&uc.file, key, format!("unknown use case `{source_id}`")).hint(suggest(
                        source_id,
                        use_cases.iter().map(|u| u.id.as_ref()),
                        "use cases",
                        "name a use case of this directory",
                    )),
                );
                continue;
            };
            let tier = match tier_name {
                None => None,
                Some(name) => match use_cases[source].tiers.iter().position(|t| t.name.as_ref() == name) {
                    Some(t) => Some(t),
                    None => {
                        problems.push(
                            Diagnostic::new(&uc.file, key, format!("use case `{source_id}` has no tier `{name}`"))
                                .hint(suggest(
                                    name,
                                    use_cases[source].tiers.iter().map(|t| t.name.as_ref()),
                                    "tiers",
                                    "name one of its tiers",
                                )),
                        );
                        continue;
                    }
                },
            };
            resolved.push(ActionTimer {
                source,
                tier,
                timer: timer_index,
            });
        }
    }
    resolved
}

fn with_line(mut d: Diagnostic, text: &str) -> Diagnostic {
    if d.line.is_none() {
        d.line = locate(text, &d.key_path);
    }
    d
}

fn with_lines(found: Vec<Diagnostic>, text: &str) -> Vec<Diagnostic> {
    found.into_iter().map(|d| with_line(d, text)).collect()
}

/// Names visible to a use case's expressions: catalog features, `event.*`, and `score`.
struct UseCaseScope<'c> {
    catalog: &'c Catalog,
    with_score: bool,
}

impl Scope for UseCaseScope<'_> {
    fn resolve(&self, path: &[&str]) -> Option<(VarRef, Type)> {
        match path {
            ["score"] if self.with_score => Some((var(NS_SCORE, 0), Type::Double)),
            ["event", field] => self
                .catalog
                .field(field)
                .map(|slot| (var(NS_EVENT, slot), self.catalog.fields[slot].ty)),
            [name] => self
                .catalog
                .feature(name)
                .map(|index| (var(NS_FEATURE, index), self.catalog.features[index].ty)),
            _ => None,
        }
    }

    fn candidates(&self) -> Vec<String> {
        let mut names: Vec<String> = self.catalog.features.iter().map(|f| f.name.clone()).collect();
        names.extend(self.catalog.fields.iter().map(|f| format!("event.{}", f.name)));
        if self.with_score {
            names.push("score".into());
        }
        names
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn retrigger_of(spec: &RetriggerSpec) -> Result<Retrigger, String> {
    Ok(match spec {
        RetriggerSpec::Once => Retrigger::Once,
        RetriggerSpec::Always => Retrigger::Always,
        RetriggerSpec::Cooldown(text) => Retrigger::Cooldown(Span::parse(text)?.millis()),
    })
}

fn compile_use_case(
    catalog: &Catalog,
    file: &SourceFile,
    spec: &UseCaseSpec,
    models: &[ModelFile],
    default_holdout: f64,
) -> Result<UseCase, Vec<Diagnostic>> {
    let f = file.path.as_str();
    let mut problems = Vec::new();
    if !valid_id(&spec.id) {
        problems.push(
            Diagnostic::new(f, "id", format!("bad id `{}`", spec.id))
                .hint("use lowercase letters, digits, `-` and `_`, at most 64 characters"),
        );
    }
    if spec.priority > 1000 {
        problems.push(
            Diagnostic::new(f, "priority", format!("priority {} out of range", spec.priority)).hint("use 0 to 1000"),
        );
    }
    if spec.channels.is_empty() {
        problems.push(
            Diagnostic::new(f, "channels", "no channels").hint("list the channels this use case acts in, e.g. [email]"),
        );
    }

    let mut trigger_mask = 0u64;
    if spec.data.triggers.is_empty() && spec.data.timer.is_none() {
        problems.push(
            Diagnostic::new(f, "data.triggers", "no trigger event types and no timer")
                .hint("list the event types that trigger an evaluation, or add `data.timer`"),
        );
    }
    for (i, t) in spec.data.triggers.iter().enumerate() {
        match catalog.event_type(t) {
            Some(idx) => trigger_mask |= 1 << idx,
            None => problems.push(
                Diagnostic::new(f, format!("data.triggers[{i}]"), format!("unknown event type `{t}`")).hint(suggest(
                    t,
                    catalog.event_types.iter().map(String::as_str),
                    "event types",
                    "declare it in features.yaml under `event_types`",
                )),
            ),
        }
    }
    let mut features = Vec::new();
    for (i, name) in spec.data.features.iter().enumerate() {
        match catalog.feature(name) {
            Some(idx) => features.push(idx),
            None => problems.push(
                Diagnostic::new(f, format!("data.features[{i}]"), format!("unknown feature `{name}`")).hint(suggest(
                    name,
                    catalog.features.iter().map(|x| x.name.as_str()),
                    "features",
                    "declare it in features.yaml under `features`",
                )),
            ),
        }
    }

    // compiles one expression and checks it reads only declared features
    let compile = |key: String,
                   source: &str,
                   expect: Expect,
                   with_score: bool,
                   problems: &mut Vec<Diagnostic>|
     -> Option<CompiledExpr> {
        let scope = UseCaseScope { catalog, with_score };
        match expr::compile(source, &scope, expect) {
            Err(err) => {
                problems.push(Diagnostic::new(f, key, err.message).hint_opt(err.hint));
                None
            }
            Ok(compiled) => {
                for r in compiled.references() {
                    let (ns, index) = catalog::split_var(*r);
                    if ns == NS_FEATURE && !features.contains(&index) {
                        let name = &catalog.features[index].name;
                        problems.push(
                            Diagnostic::new(
                                f,
                                key.clone(),
                                format!("reads feature `{name}`, which `data.features` does not list"),
                            )
                            .hint(format!("add `{name}` to data.features")),
                        );
                    }
                }
                Some(compiled)
            }
        }
    };

    let algo_spec = &spec.algo;
    if algo_spec.rule.is_none()
        && algo_spec.score.is_none()
        && algo_spec.model.is_none()
        && algo_spec.recommender.is_none()
    {
        problems.push(
            Diagnostic::new(f, "algo", "neither `rule` nor `score`")
                .hint("give a CEL `rule` (bool), a `score` (number) or a `model`, or both"),
        );
    }
    if algo_spec.score.is_some() && algo_spec.model.is_some() {
        problems.push(
            Diagnostic::new(f, "algo.model", "both `score` and `model` given")
                .hint("the model's output is the score: remove `score`, or the model"),
        );
    }
    let rule = algo_spec
        .rule
        .as_ref()
        .and_then(|s| compile("algo.rule".into(), s, Expect::Bool, false, &mut problems));
    let recommender = algo_spec
        .recommender
        .as_ref()
        .and_then(|r| algo::compile_recommender(catalog, &features, f, r, models, &mut problems));
    let scorer = match (&algo_spec.score, &algo_spec.model) {
        (Some(s), _) => compile("algo.score".into(), s, Expect::Number, false, &mut problems).map(Scorer::Expr),
        (None, Some(m)) => algo::compile_model(catalog, &features, f, m, models, &mut problems),
        (None, None) => algo_spec.recommender.as_ref().map(|_| Scorer::Recommender),
    };
    let with_score = algo_spec.score.is_some() || algo_spec.model.is_some() || algo_spec.recommender.is_some();
    let funnel = algo_spec
        .funnel
        .as_ref()
        .and_then(|spec_funnel| algo::compile_funnel(&spec.id, f, spec_funnel, &mut problems));
    if algo_spec.funnel.is_some() && !with_score {
        problems.push(
            Diagnostic::new(f, "algo.funnel", "funnel stages without a score")
                .hint("stages are thresholds on the score: add `algo.score` or `algo.model`"),
        );
    }
    let timer = spec
        .data
        .timer
        .as_ref()
        .and_then(|t| algo::compile_timer(catalog, &spec.id, f, t, &mut problems));

    let default_retrigger = match &spec.action.retrigger {
        None => Retrigger::Once,
        Some(r) => retrigger_of(r).unwrap_or_else(|e| {
            problems.push(Diagnostic::new(f, "action.retrigger.cooldown", e).hint("e.g. `retrigger: {cooldown: 14d}`"));
            Retrigger::Once
        }),
    };
    if spec.action.tiers.is_empty() {
        problems.push(
            Diagnostic::new(f, "action.tiers", "no tiers")
                .hint("add at least one tier: a condition and the action it triggers"),
        );
    }
    let mut tiers = Vec::new();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, t) in spec.action.tiers.iter().enumerate() {
        let at = |key: &str| format!("action.tiers[{i}].{key}");
        if t.name.is_empty() {
            problems.push(Diagnostic::new(f, at("name"), "empty tier name").hint("name the tier, e.g. `high`"));
        } else if let Some(first) = names.insert(&t.name, i) {
            problems.push(
                Diagnostic::new(f, at("name"), format!("duplicate tier name `{}`", t.name))
                    .hint(format!("tier {first} already uses it")),
            );
        }
        let has_threshold = t.min_score.is_some() || t.max_score.is_some();
        if t.when.is_none() && !has_threshold {
            problems.push(
                Diagnostic::new(f, at("name"), format!("tier `{}` has no condition", t.name))
                    .hint("give `when` (a CEL condition) or `min_score` / `max_score`"),
            );
        }
        if has_threshold && !with_score {
            problems.push(
                Diagnostic::new(f, at("min_score"), "a score threshold without `algo.score`")
                    .hint("add `algo.score`, or use `when`"),
            );
        }
        if let (Some(lo), Some(hi)) = (t.min_score, t.max_score) {
            if lo >= hi {
                problems.push(
                    Diagnostic::new(
                        f,
                        at("max_score"),
                        format!("max_score {hi} is not above min_score {lo}"),
                    )
                    .hint("the tier covers min_score <= score < max_score"),
                );
            }
        }
        let when = t
            .when
            .as_ref()
            .and_then(|s| compile(at("when"), s, Expect::Bool, with_score, &mut problems));
        let retrigger = match &t.retrigger {
            None => default_retrigger,
            Some(r) => retrigger_of(r).unwrap_or_else(|e| {
                problems
                    .push(Diagnostic::new(f, at("retrigger.cooldown"), e).hint("e.g. `retrigger: {cooldown: 14d}`"));
                default_retrigger
            }),
        };
        let channel = match (&t.channel, t.action_type.default_channel()) {
            (Some(c), _) => c.clone(),
            (None, Some(c)) => c.to_string(),
            (None, None) => {
                problems.push(
                    Diagnostic::new(
                        f,
                        at("channel"),
                        format!("custom action `{}` needs a channel", t.action_type.name()),
                    )
                    .hint("add `channel:`, e.g. `channel: email`"),
                );
                String::new()
            }
        };
        if !channel.is_empty() && !spec.channels.contains(&channel) {
            problems.push(
                Diagnostic::new(
                    f,
                    at("channel"),
                    format!("channel `{channel}` is not among the use case's channels"),
                )
                .hint(format!("add `{channel}` to `channels`, or change the tier's channel")),
            );
        }
        if t.topic.trim().is_empty() {
            problems.push(
                Diagnostic::new(f, at("topic"), "missing topic")
                    .hint("name the Kafka topic the action goes to, e.g. `actions.email`"),
            );
        }
        if !valid_action_type(t.action_type.name()) {
            problems.push(
                Diagnostic::new(f, at("type"), format!("bad action type `{}`", t.action_type.name()))
                    .hint("a custom action type is lowercase letters, digits and `_`"),
            );
        }
        let mut payload = Vec::new();
        for (name, source) in &t.payload {
            if let Some(compiled) = compile(
                at(&format!("payload.{name}")),
                source,
                Expect::Any,
                with_score,
                &mut problems,
            ) {
                payload.push((Arc::from(name.as_str()), compiled));
            }
        }
        let reads_score = when
            .as_ref()
            .is_some_and(|w| w.references().iter().any(|r| catalog::split_var(*r).0 == NS_SCORE));
        tiers.push(Tier {
            needs_score: has_threshold || reads_score,
            name: Arc::from(t.name.as_str()),
            when,
            min_score: t.min_score,
            max_score: t.max_score,
            retrigger,
            action_type: Arc::from(t.action_type.name()),
            channel: Arc::from(channel.as_str()),
            topic: Arc::from(t.topic.as_str()),
            payload,
            history_key: xxhash_rust::xxh3::xxh3_64(format!("{}\u{0}{}", spec.id, t.name).as_bytes()),
        });
    }
    // threshold-only tiers must not overlap: each score belongs to one tier
    let bounds = |t: &crate::spec::TierSpec| {
        (
            t.min_score.unwrap_or(f64::NEG_INFINITY),
            t.max_score.unwrap_or(f64::INFINITY),
        )
    };
    for (i, a) in spec.action.tiers.iter().enumerate() {
        for (j, b) in spec.action.tiers.iter().enumerate().skip(i + 1) {
            let only_thresholds = a.when.is_none() && b.when.is_none();
            let has = |t: &crate::spec::TierSpec| t.min_score.is_some() || t.max_score.is_some();
            if !(only_thresholds && has(a) && has(b)) {
                continue;
            }
            let ((alo, ahi), (blo, bhi)) = (bounds(a), bounds(b));
            if alo < bhi && blo < ahi {
                problems.push(
                    Diagnostic::new(
                        f,
                        format!("action.tiers[{j}].min_score"),
                        format!(
                            "tiers `{}` and `{}` overlap on scores [{}, {})",
                            a.name,
                            b.name,
                            alo.max(blo),
                            ahi.min(bhi)
                        ),
                    )
                    .hint("make the score ranges disjoint: min_score is inclusive, max_score exclusive"),
                );
            }
        }
    }

    let holdout_share = spec.holdout.as_ref().map_or(default_holdout, |h| h.share);
    if spec.holdout.is_some() {
        policy::check_share(f, "holdout.share", holdout_share, &mut problems);
    }
    let expected_value = spec.action.expected_value.as_ref().and_then(|s| {
        compile(
            "action.expected_value".into(),
            s,
            Expect::Number,
            with_score,
            &mut problems,
        )
    });

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(UseCase {
        key: policy::name_key(&spec.id),
        holdout_share,
        holdout_salt: spec
            .holdout
            .as_ref()
            .and_then(|h| h.salt.clone())
            .unwrap_or_else(|| spec.id.clone()),
        expected_value,
        id: Arc::from(spec.id.as_str()),
        version: spec.version,
        title: spec.title.clone(),
        owner: spec.owner.clone(),
        status: spec.status,
        priority: spec.priority,
        value_driver: spec.value_driver,
        channels: spec.channels.clone(),
        labels: spec.labels.clone(),
        file: file.path.clone(),
        checksum: checksum(&file.text),
        trigger_mask,
        features,
        rule,
        scorer,
        recommender,
        funnel,
        timer,
        tiers,
    })
}

/// Downstream tools route on the action type: lowercase letters, digits and `_` only.
fn valid_action_type(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
