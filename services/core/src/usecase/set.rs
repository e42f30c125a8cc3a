//! A use-case directory compiled as a whole: the catalog, `policy.yaml`, every use case, and
//! the links between use cases; problems located by line.

use super::compile::compile_use_case;
use super::{parse_yaml, set_checksum, ActionTimer, SourceFile, UseCase, UseCaseSet, CATALOG_FILE};
use crate::algo::ModelFile;
use crate::catalog::{suggest, Catalog};
use crate::diagnostic::{locate, Diagnostic};
use crate::policy::{parse_policy, Policy, POLICY_FILE};
use crate::spec::{CatalogSpec, PolicySpec, Status, UseCaseSpec};
use std::collections::{BTreeSet, HashMap};

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
        let mut policy_spec = None;
        let policy = match (policy_file, &catalog) {
            (Some(file), Some(catalog)) => {
                let parsed = parse_policy(file);
                let mut found = parsed.problems.clone();
                let compiled = parsed
                    .spec
                    .as_ref()
                    .and_then(|spec| match Policy::compile(catalog, &file.path, spec) {
                        Ok(policy) => Some(policy),
                        Err(more) => {
                            // a part left out was compiled from a stand-in: already reported
                            found.extend(more.into_iter().filter(|d| !parsed.is_left_out(&d.key_path)));
                            None
                        }
                    });
                problems.extend(with_lines(found, &file.text));
                policy_spec = parsed.spec.map(|spec| (file, spec));
                compiled.filter(|_| parsed.problems.is_empty())
            }
            _ => Some(Policy::default()),
        };
        let default_holdout = policy.as_ref().map_or(0.0, |p| p.default_holdout);

        let mut use_cases = Vec::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        // the channels the use cases act in (unknown when a use case cannot be read)
        let mut channels = Some(BTreeSet::new());
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
                    channels = None;
                    continue;
                }
            };
            if let Some(channels) = &mut channels {
                channels.extend(spec.channels.iter().cloned());
            }
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
        // without use cases (yet) there is nothing to check the channels against
        if let (Some((file, spec)), Some(channels)) = (&policy_spec, channels.filter(|c| !c.is_empty())) {
            problems.extend(unknown_channels(file, spec, &channels));
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
            let source_status = use_cases[source].status;
            if uc.status == Status::Live && source_status != Status::Live {
                // a shadow (or draft, or retired) use case sends nothing: a live timer started
                // on its actions would fire for customers who never got them
                problems.push(
                    Diagnostic::new(
                        &uc.file,
                        key,
                        format!(
                            "live use case starts its timer on the actions of `{source_id}`, which is {}",
                            source_status.as_str()
                        ),
                    )
                    .hint("make that use case live first, or this one shadow"),
                );
                continue;
            }
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

/// `policy.yaml` channels no use case acts in: their policy would apply to nothing.
fn unknown_channels(file: &SourceFile, spec: &PolicySpec, channels: &BTreeSet<String>) -> Vec<Diagnostic> {
    spec.channels
        .keys()
        .filter(|name| !channels.contains(*name))
        .map(|name| {
            with_line(
                Diagnostic::new(
                    &file.path,
                    format!("channels.{name}"),
                    format!("no use case acts in channel `{name}`"),
                )
                .hint(suggest(
                    name,
                    channels.iter().map(String::as_str),
                    "channels",
                    "name it in a use case's `channels`, or remove it",
                )),
                &file.text,
            )
        })
        .collect()
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
