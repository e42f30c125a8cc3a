//! The compiled "Algo" parts of a use case beyond CEL: propensity models (linear, logistic,
//! ONNX), the product recommender, funnel stages and timers. Model files arrive as bytes
//! ([`ModelFile`]); the core reads no files.

use crate::catalog::{suggest, Catalog};
use crate::diagnostic::Diagnostic;
use crate::duration::Span;
use crate::recommend::Recommender;
use crate::spec::{FeatureKind, FunnelSpec, ModelOutput, ModelSpec, ModelType, RecommenderSpec, TimerClock, TimerSpec};
use revenue_expr::{CompiledExpr, Type};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A binary file of a use-case directory (a model or a recommender artifact), read by the caller.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// Path relative to the directory, e.g. `models/telecom-cross-sell.onnx`.
    pub path: String,
    pub bytes: Arc<[u8]>,
}

/// Where a use case's `score` comes from.
pub enum Scorer {
    Expr(CompiledExpr),
    /// `intercept + Σ coefficient × feature`, through the logistic function when `logistic`.
    Linear {
        intercept: f64,
        terms: Vec<(usize, f64)>,
        logistic: bool,
    },
    /// An ONNX model fed the `inputs` features in order.
    Onnx {
        model: Arc<revenue_models::Model>,
        inputs: Vec<usize>,
    },
    /// The best recommended product's score.
    Recommender,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scorer::Expr(_) => f.write_str("Scorer::Expr"),
            Scorer::Linear { logistic, .. } => write!(f, "Scorer::Linear {{ logistic: {logistic} }}"),
            Scorer::Onnx { model, inputs } => {
                write!(
                    f,
                    "Scorer::Onnx {{ backend: {:?}, inputs: {} }}",
                    model.backend(),
                    inputs.len()
                )
            }
            Scorer::Recommender => f.write_str("Scorer::Recommender"),
        }
    }
}

/// A use case's product recommender: the trained artifact and the history it reads.
#[derive(Debug)]
pub struct RecommenderUse {
    pub model: Arc<Recommender>,
    /// `recent` feature of purchased products: history (weight 1) and never recommended.
    pub purchased: usize,
    pub viewed: Option<usize>,
    pub view_weight: f64,
    pub top_k: usize,
}

/// Funnel stages on the score; each stage reached is emitted as a `stage_change` action.
#[derive(Debug)]
pub struct Funnel {
    /// Key of the use case's stage in a customer's state.
    pub key: u64,
    pub topic: Arc<str>,
    /// (name, min_score), ascending.
    pub stages: Vec<(Arc<str>, f64)>,
}

impl Funnel {
    /// 1-based index of the highest stage `score` reaches; 0 for none.
    pub fn stage_of(&self, score: f64) -> u8 {
        self.stages.iter().take_while(|(_, min)| score >= *min).count() as u8
    }
}

/// A per-customer timer that evaluates the use case when it comes due.
#[derive(Debug)]
pub struct TimerDef {
    /// Key of the timer in a customer's state (the use case id, so versions share it).
    pub key: u64,
    pub after: i64,
    pub wall_clock: bool,
    /// Bit i set: event type i starts (restarts) the timer.
    pub start_mask: u64,
    /// Bit i set: event type i cancels the timer.
    pub cancel_mask: u64,
    /// Actions that start it: (use case id, tier name or any).
    pub start_on_actions: Vec<(String, Option<String>)>,
}

impl TimerDef {
    /// The timer as started by something at `now`.
    pub fn started_at(&self, now: i64) -> crate::state::Timer {
        crate::state::Timer {
            key: self.key,
            due: now.saturating_add(self.after),
            wall_clock: self.wall_clock,
        }
    }
}

pub(crate) fn key_of(use_case_id: &str, what: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(format!("{use_case_id}\u{0}{what}").as_bytes())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds a declared file and checks its SHA-256; problems are reported at `key`.
fn checked_file<'m>(
    f: &str,
    key: &str,
    path: &str,
    sha256: Option<&str>,
    models: &'m [ModelFile],
    problems: &mut Vec<Diagnostic>,
) -> Option<&'m ModelFile> {
    let wanted = path.trim_start_matches("./");
    let Some(file) = models.iter().find(|m| m.path == wanted) else {
        problems.push(
            Diagnostic::new(f, format!("{key}.file"), format!("model file `{path}` not found")).hint(suggest(
                wanted,
                models.iter().map(|m| m.path.as_str()),
                "model files",
                "put the file under `models/` in the use-case directory",
            )),
        );
        return None;
    };
    let actual = sha256_hex(&file.bytes);
    match sha256 {
        None => problems.push(
            Diagnostic::new(f, format!("{key}.sha256"), "missing sha256 of the model file").hint(format!(
                "add `sha256: {actual}` (`sha256sum {path}`) after checking the file"
            )),
        ),
        Some(expected) if !expected.eq_ignore_ascii_case(&actual) => problems.push(
            Diagnostic::new(
                f,
                format!("{key}.sha256"),
                format!("`{path}` has sha256 {actual}, the use case declares {expected}"),
            )
            .hint("the file changed: approve the new model by updating `sha256` (and `version`)"),
        ),
        Some(_) => return Some(file),
    }
    None
}

/// Resolves feature names listed in the use case to numeric catalog features.
fn numeric_feature(
    catalog: &Catalog,
    listed: &[usize],
    f: &str,
    key: String,
    name: &str,
    problems: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let Some(index) = catalog.feature(name) else {
        problems.push(
            Diagnostic::new(f, key, format!("unknown feature `{name}`")).hint(suggest(
                name,
                catalog.features.iter().map(|x| x.name.as_str()),
                "features",
                "declare it in features.yaml",
            )),
        );
        return None;
    };
    if !listed.contains(&index) {
        problems.push(
            Diagnostic::new(
                f,
                key,
                format!("reads feature `{name}`, which `data.features` does not list"),
            )
            .hint(format!("add `{name}` to data.features")),
        );
        return None;
    }
    let ty = catalog.features[index].ty;
    if !matches!(ty, Type::Int | Type::Double | Type::Bool) {
        problems.push(
            Diagnostic::new(f, key, format!("feature `{name}` is {ty}; a model needs numbers"))
                .hint("use a numeric feature (count, sum, days_since, points, …)"),
        );
        return None;
    }
    Some(index)
}

pub(crate) fn compile_model(
    catalog: &Catalog,
    listed: &[usize],
    f: &str,
    spec: &ModelSpec,
    models: &[ModelFile],
    problems: &mut Vec<Diagnostic>,
) -> Option<Scorer> {
    let before = problems.len();
    let misplaced = |key: &str, present: bool, problems: &mut Vec<Diagnostic>| {
        if present {
            problems.push(
                Diagnostic::new(f, format!("algo.model.{key}"), format!("`{key}` does not apply to this model type"))
                    .hint("linear and logistic models take `intercept` and `coefficients`; onnx takes `file`, `sha256`, `inputs`, `class`, `output`"),
            );
        }
    };
    match spec.model_type {
        ModelType::Linear | ModelType::Logistic => {
            misplaced("file", spec.file.is_some(), problems);
            misplaced("sha256", spec.sha256.is_some(), problems);
            misplaced("inputs", !spec.inputs.is_empty(), problems);
            misplaced("class", spec.class.is_some(), problems);
            misplaced("output", spec.output.is_some(), problems);
            if spec.coefficients.is_empty() {
                problems.push(
                    Diagnostic::new(f, "algo.model.coefficients", "no coefficients")
                        .hint("give a coefficient per feature, e.g. `coefficients: {pricing_views_30d: 0.4}`"),
                );
            }
            let mut terms = Vec::new();
            for (name, weight) in &spec.coefficients {
                let key = format!("algo.model.coefficients.{name}");
                if !weight.is_finite() {
                    problems.push(Diagnostic::new(f, key.clone(), "coefficient is not a finite number"));
                }
                if let Some(index) = numeric_feature(catalog, listed, f, key, name, problems) {
                    terms.push((index, *weight));
                }
            }
            let intercept = spec.intercept.unwrap_or(0.0);
            (problems.len() == before).then_some(Scorer::Linear {
                intercept,
                terms,
                logistic: spec.model_type == ModelType::Logistic,
            })
        }
        ModelType::Onnx => {
            misplaced("intercept", spec.intercept.is_some(), problems);
            misplaced("coefficients", !spec.coefficients.is_empty(), problems);
            let Some(path) = &spec.file else {
                problems.push(
                    Diagnostic::new(f, "algo.model.file", "an onnx model needs `file`")
                        .hint("e.g. `file: models/propensity.onnx`"),
                );
                return None;
            };
            if spec.inputs.is_empty() {
                problems.push(
                    Diagnostic::new(f, "algo.model.inputs", "no inputs")
                        .hint("list one feature per model input column, in the model's column order"),
                );
            }
            let inputs: Vec<usize> = spec
                .inputs
                .iter()
                .enumerate()
                .filter_map(|(i, name)| {
                    numeric_feature(catalog, listed, f, format!("algo.model.inputs[{i}]"), name, problems)
                })
                .collect();
            let file = checked_file(f, "algo.model", path, spec.sha256.as_deref(), models, problems)?;
            if problems.len() != before {
                return None;
            }
            let output = match spec.output.unwrap_or(ModelOutput::Probability) {
                ModelOutput::Probability => revenue_models::OutputSpec::Probability {
                    class: spec.class.unwrap_or(1),
                },
                ModelOutput::Value => revenue_models::OutputSpec::Value,
            };
            match revenue_models::Model::from_onnx(&file.bytes, inputs.len(), output) {
                Ok(model) => Some(Scorer::Onnx {
                    model: Arc::new(model),
                    inputs,
                }),
                Err(e) => {
                    problems.push(
                        Diagnostic::new(f, "algo.model.file", format!("`{path}` refused: {e}"))
                            .hint("export the model again (zipmap=False) or fix `inputs`, `class`, `output`"),
                    );
                    None
                }
            }
        }
    }
}

fn recent_feature(
    catalog: &Catalog,
    listed: &[usize],
    f: &str,
    key: &str,
    name: &str,
    problems: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let index = catalog.feature(name).filter(|i| listed.contains(i));
    match index {
        Some(i) if catalog.features[i].kind == FeatureKind::Recent => Some(i),
        Some(_) => {
            problems.push(
                Diagnostic::new(f, key, format!("`{name}` is not a `recent` feature"))
                    .hint("declare it with `kind: recent` and `field: product`"),
            );
            None
        }
        None => {
            problems.push(
                Diagnostic::new(f, key, format!("`{name}` is not among `data.features`"))
                    .hint("declare a `recent` feature in features.yaml and list it in data.features"),
            );
            None
        }
    }
}

pub(crate) fn compile_recommender(
    catalog: &Catalog,
    listed: &[usize],
    f: &str,
    spec: &RecommenderSpec,
    models: &[ModelFile],
    problems: &mut Vec<Diagnostic>,
) -> Option<RecommenderUse> {
    let before = problems.len();
    let purchased = recent_feature(
        catalog,
        listed,
        f,
        "algo.recommender.purchased",
        &spec.purchased,
        problems,
    );
    let viewed = spec
        .viewed
        .as_ref()
        .and_then(|name| recent_feature(catalog, listed, f, "algo.recommender.viewed", name, problems));
    let view_weight = spec.view_weight.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&view_weight) {
        problems.push(Diagnostic::new(
            f,
            "algo.recommender.view_weight",
            "view_weight must be in 0..1",
        ));
    }
    let top_k = spec.top_k.unwrap_or(5) as usize;
    if !(1..=50).contains(&top_k) {
        problems.push(
            Diagnostic::new(f, "algo.recommender.top_k", format!("top_k {top_k} out of range")).hint("use 1 to 50"),
        );
    }
    let file = checked_file(f, "algo.recommender", &spec.file, Some(&spec.sha256), models, problems)?;
    let model = match Recommender::from_json(&file.bytes) {
        Ok(model) => model,
        Err(e) => {
            problems.push(
                Diagnostic::new(f, "algo.recommender.file", format!("`{}` refused: {e}", spec.file))
                    .hint("write it again with `revenue-engine train-recommender`"),
            );
            return None;
        }
    };
    (problems.len() == before).then(|| RecommenderUse {
        model: Arc::new(model),
        purchased: purchased.unwrap_or_default(),
        viewed,
        view_weight,
        top_k,
    })
}

pub(crate) fn compile_funnel(
    use_case_id: &str,
    f: &str,
    spec: &FunnelSpec,
    problems: &mut Vec<Diagnostic>,
) -> Option<Funnel> {
    let before = problems.len();
    if spec.topic.trim().is_empty() {
        problems.push(Diagnostic::new(f, "algo.funnel.topic", "missing topic").hint("e.g. `topic: funnel.stages`"));
    }
    if spec.stages.is_empty() || spec.stages.len() > 16 {
        problems.push(
            Diagnostic::new(f, "algo.funnel.stages", format!("{} stages", spec.stages.len()))
                .hint("give 1 to 16 stages, e.g. MQL, SAL, SQL"),
        );
    }
    for (i, pair) in spec.stages.windows(2).enumerate() {
        if pair[1].min_score <= pair[0].min_score {
            problems.push(
                Diagnostic::new(
                    f,
                    format!("algo.funnel.stages[{}].min_score", i + 1),
                    format!("stage `{}` does not need more than `{}`", pair[1].name, pair[0].name),
                )
                .hint("list stages in ascending order of min_score"),
            );
        }
    }
    (problems.len() == before).then(|| Funnel {
        key: key_of(use_case_id, "funnel"),
        topic: Arc::from(spec.topic.as_str()),
        stages: spec
            .stages
            .iter()
            .map(|s| (Arc::from(s.name.as_str()), s.min_score))
            .collect(),
    })
}

pub(crate) fn compile_timer(
    catalog: &Catalog,
    use_case_id: &str,
    f: &str,
    spec: &TimerSpec,
    problems: &mut Vec<Diagnostic>,
) -> Option<TimerDef> {
    let before = problems.len();
    let after = match Span::parse(&spec.after) {
        Ok(span) if span.millis() > 0 => span.millis(),
        Ok(_) => {
            problems.push(Diagnostic::new(f, "data.timer.after", "`after` must be positive"));
            0
        }
        Err(e) => {
            problems.push(Diagnostic::new(f, "data.timer.after", e).hint("e.g. `after: 60d`"));
            0
        }
    };
    if let Some(ttl) = catalog.expire_after {
        if after >= ttl {
            problems.push(
                Diagnostic::new(
                    f,
                    "data.timer.after",
                    format!(
                        "the timer ({}) is not shorter than features.yaml `expire_after` ({})",
                        Span::from_millis(after),
                        Span::from_millis(ttl)
                    ),
                )
                .hint(
                    "an idle customer would leave the state before the timer fires; shorten it or raise expire_after",
                ),
            );
        }
    }
    let mask = |key: &str, list: &[String], problems: &mut Vec<Diagnostic>| {
        let mut bits = 0u64;
        for (i, t) in list.iter().enumerate() {
            match catalog.event_type(t) {
                Some(idx) => bits |= 1 << idx,
                None => problems.push(
                    Diagnostic::new(f, format!("data.timer.{key}[{i}]"), format!("unknown event type `{t}`")).hint(
                        suggest(
                            t,
                            catalog.event_types.iter().map(String::as_str),
                            "event types",
                            "declare it in features.yaml under `event_types`",
                        ),
                    ),
                ),
            }
        }
        bits
    };
    let start_mask = mask("start_on", &spec.start_on, problems);
    let cancel_mask = mask("cancel_on", &spec.cancel_on, problems);
    if spec.start_on.is_empty() && spec.start_on_actions.is_empty() {
        problems.push(
            Diagnostic::new(f, "data.timer", "nothing starts the timer")
                .hint("give `start_on` (event types) or `start_on_actions` (use-case-id or use-case-id/tier)"),
        );
    }
    let start_on_actions = spec
        .start_on_actions
        .iter()
        .map(|a| match a.split_once('/') {
            Some((uc, tier)) => (uc.to_string(), Some(tier.to_string())),
            None => (a.clone(), None),
        })
        .collect();
    (problems.len() == before).then(|| TimerDef {
        key: key_of(use_case_id, "timer"),
        after,
        wall_clock: spec.clock == TimerClock::WallClock,
        start_mask,
        cancel_mask,
        start_on_actions,
    })
}

pub(crate) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
