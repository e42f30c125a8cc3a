//! Compiling one use case file against the catalog: rule, score, tiers, recommender, funnel,
//! timer, holdout and expected value; every problem with its key path.

use super::{checksum, Retrigger, SourceFile, Tier, UseCase};
use crate::algo::{self, ModelFile, Scorer};
use crate::catalog::{self, suggest, var, Catalog, NS_EVENT, NS_FEATURE, NS_SCORE};
use crate::diagnostic::Diagnostic;
use crate::duration::Span;
use crate::policy;
use crate::spec::{RetriggerSpec, UseCaseSpec};
use revenue_expr::{self, CompiledExpr, Expect, Scope, Type, VarRef};
use std::collections::HashMap;
use std::sync::Arc;

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

pub(super) fn compile_use_case(
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
        match revenue_expr::compile(source, &scope, expect) {
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
