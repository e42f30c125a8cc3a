//! Reading `policy.yaml` so that every structural problem is reported at once: each part that
//! does not fit the format is reported, left out, and the rest read again, so the compiler can
//! still check what is left.

use crate::diagnostic::{locate, Diagnostic};
use crate::spec::PolicySpec;
use crate::usecase::{parse_yaml, SourceFile};
use serde_path_to_error::Segment;
use serde_yaml_ng::{Mapping, Value};

/// Hint of every structural problem of `policy.yaml`.
const FORMAT_HINT: &str = "see the `policy.yaml` format in the README (Contact policy and measurement) or \
                           schemas/policy.schema.json";

/// Stand-ins for a required key whose value was left out, tried in order until one fits, so
/// that its absence is not reported a second time.
fn placeholders() -> [Value; 5] {
    [
        Value::Number(1.into()),
        Value::String("1d".into()),
        Value::Bool(false),
        Value::Mapping(Mapping::new()),
        Value::Sequence(Vec::new()),
    ]
}

/// At most this many rounds of reporting and leaving out (one problem each).
const MAX_ROUNDS: usize = 256;

/// `policy.yaml` read as far as it fits the format.
pub struct ParsedPolicy {
    /// The policy without the parts that did not fit; `None` when nothing usable is left.
    pub spec: Option<PolicySpec>,
    /// Every structural problem, each with its key and line.
    pub problems: Vec<Diagnostic>,
    /// Key paths left out (or filled with stand-ins): problems under them are already reported.
    pub left_out: Vec<String>,
}

impl ParsedPolicy {
    /// Whether `key_path` is one of the parts left out, or inside one.
    pub fn is_left_out(&self, key_path: &str) -> bool {
        self.left_out.iter().any(|l| {
            key_path
                .strip_prefix(l.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }
}

/// Reads `policy.yaml`, reporting every part that does not fit the format.
pub fn parse_policy(file: &SourceFile) -> ParsedPolicy {
    let first = match parse_yaml::<PolicySpec>(file) {
        Ok(spec) => {
            return ParsedPolicy {
                spec: Some(spec),
                problems: Vec::new(),
                left_out: Vec::new(),
            }
        }
        Err(d) => d,
    };
    let mut parsed = ParsedPolicy {
        spec: None,
        problems: Vec::new(),
        left_out: Vec::new(),
    };
    let mut value = match serde_yaml_ng::from_str::<Value>(&file.text) {
        Ok(Value::Null) => Value::Mapping(Mapping::new()),
        Ok(value) => value,
        Err(_) => {
            // not YAML at all: the first problem is all there is to say
            parsed.problems.push(first.hint(FORMAT_HINT));
            return parsed;
        }
    };
    // stand-ins tried so far, per key path
    let mut tried: Vec<(String, usize)> = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let err = match serde_path_to_error::deserialize::<_, PolicySpec>(value.clone()) {
            Ok(spec) => {
                parsed.spec = Some(spec);
                return parsed;
            }
            Err(err) => err,
        };
        let segments: Vec<Segment> = err.path().iter().cloned().collect();
        let path = key_path(&segments);
        let message = err.into_inner().to_string();
        if let Some(field) = missing_field(&message) {
            let target = join(&path, &field);
            if !parsed.is_left_out(&target) {
                parsed.problems.push(problem(file, &path, &message, None));
                parsed.left_out.push(target.clone());
            }
            if !fill(&mut value, &segments, &field, &target, &mut tried) {
                return parsed;
            }
        } else if parsed.is_left_out(&path) {
            // a stand-in that does not fit: try the next
            let (parent, field) = split_last(&segments);
            if !fill(&mut value, parent, &field, &path, &mut tried) {
                return parsed;
            }
        } else {
            let suggestion = unknown_field(&message);
            parsed.problems.push(problem(file, &path, &message, suggestion.clone()));
            let (parent, field) = split_last(&segments);
            let Some(mapping) = node(&mut value, parent).and_then(Value::as_mapping_mut) else {
                return parsed;
            };
            if mapping.remove(field.as_str()).is_none() {
                return parsed;
            }
            match suggestion {
                // the key meant: its absence is reported by the did-you-mean already
                Some(meant) if !mapping.contains_key(meant.as_str()) => {
                    parsed.left_out.push(join(&key_path(parent), &meant));
                }
                Some(_) => {}
                None if message.starts_with("unknown field") => {}
                None => parsed.left_out.push(path),
            }
        }
    }
    parsed
}

fn problem(file: &SourceFile, path: &str, message: &str, suggestion: Option<String>) -> Diagnostic {
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`? {FORMAT_HINT}"),
        None => FORMAT_HINT.to_string(),
    };
    let mut d = Diagnostic::new(&file.path, path, message).hint(hint);
    d.line = locate(&file.text, path);
    d
}

/// Puts the next stand-in at `parent.field`; false when none is left.
fn fill(value: &mut Value, parent: &[Segment], field: &str, target: &str, tried: &mut Vec<(String, usize)>) -> bool {
    let round = match tried.iter_mut().find(|(t, _)| t == target) {
        Some((_, n)) => {
            *n += 1;
            *n
        }
        None => {
            tried.push((target.to_string(), 0));
            0
        }
    };
    let Some(stand_in) = placeholders().into_iter().nth(round) else {
        return false;
    };
    match node(value, parent).and_then(Value::as_mapping_mut) {
        Some(mapping) => {
            mapping.insert(Value::String(field.to_string()), stand_in);
            true
        }
        None => false,
    }
}

fn node<'v>(value: &'v mut Value, segments: &[Segment]) -> Option<&'v mut Value> {
    segments.iter().try_fold(value, |v, segment| match segment {
        Segment::Map { key } => v.as_mapping_mut()?.get_mut(key.as_str()),
        Segment::Seq { index } => v.as_sequence_mut()?.get_mut(*index),
        _ => None,
    })
}

fn split_last(segments: &[Segment]) -> (&[Segment], String) {
    match segments.split_last() {
        Some((Segment::Map { key }, parent)) => (parent, key.clone()),
        _ => (segments, String::new()),
    }
}

fn key_path(segments: &[Segment]) -> String {
    segments.iter().fold(String::new(), |path, segment| match segment {
        Segment::Seq { index } => format!("{path}[{index}]"),
        other => join(&path, &other.to_string()),
    })
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `missing field `x``: the field.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// `unknown field `x`, expected one of `a`, `b``: the expected name closest to `x`.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let parts: Vec<&str> = rest.split('`').collect();
    let wrong = parts.first()?;
    revenue_expr::closest_match(wrong, parts.iter().skip(2).step_by(2).copied()).map(str::to_string)
}
