//! Compiling one feature of `features.yaml`: its kind, events, field, filter, window, limits,
//! lead-scoring rules and default; every problem with its key.

use super::{kind_name, suggest, zero_of, Catalog, EventScope, Feature, PointsRule, Window};
use crate::duration::Span;
use crate::spec::{CatalogSpec, FeatureKind, FeatureSpec};
use revenue_expr::{self, Expect, Type, Val};
use std::borrow::Cow;

const MAX_WINDOW_BUCKETS: i64 = 1024;
const DEFAULT_MAX_DISTINCT: u32 = 64;
const MAX_DISTINCT_LIMIT: u32 = 1024;
const DEFAULT_MAX_RECENT: u32 = 20;
/// `days_since` of a customer who never had the event: 100 years, "long ago".
const DAYS_SINCE_NEVER: f64 = 36_500.0;

fn all_types_mask(count: usize) -> u64 {
    if count >= 64 {
        u64::MAX
    } else {
        (1u64 << count) - 1
    }
}

pub(super) fn placeholder(name: &str) -> Feature {
    Feature {
        name: name.to_string(),
        kind: FeatureKind::Count,
        ty: Type::Int,
        event_mask: 0,
        filter: None,
        field: None,
        window: None,
        max_distinct: 0,
        of: None,
        default: Val::Int(0),
        points: Vec::new(),
        half_life: None,
        fingerprint: 0,
    }
}

type Problem = (String, String, Option<String>);

pub(super) fn compile_feature(
    catalog: &Catalog,
    spec: &CatalogSpec,
    name: &str,
    fs: &FeatureSpec,
) -> Result<Feature, Vec<Problem>> {
    let mut problems: Vec<Problem> = Vec::new();
    let kind = fs.kind;
    let needs_field = matches!(
        kind,
        FeatureKind::Sum
            | FeatureKind::Min
            | FeatureKind::Max
            | FeatureKind::Last
            | FeatureKind::DistinctCount
            | FeatureKind::Recent
    );

    let mut event_mask = 0u64;
    match &fs.events {
        None => event_mask = all_types_mask(catalog.event_types.len()),
        Some(list) => {
            if list.is_empty() {
                problems.push((
                    "events".into(),
                    "empty list of event types".into(),
                    Some("omit `events` to count every event type".into()),
                ));
            }
            for (i, t) in list.iter().enumerate() {
                match catalog.event_type(t) {
                    Some(idx) => event_mask |= 1 << idx,
                    None => problems.push((
                        format!("events[{i}]"),
                        format!("unknown event type `{t}`"),
                        Some(suggest(
                            t,
                            catalog.event_types.iter().map(String::as_str),
                            "event types",
                            "declare it under `event_types`",
                        )),
                    )),
                }
            }
        }
    }

    let field = match (&fs.field, needs_field) {
        (Some(f), true) => match catalog.field(f) {
            Some(slot) => Some(slot),
            None => {
                problems.push((
                    "field".into(),
                    format!("unknown event field `{f}`"),
                    Some(suggest(
                        f,
                        catalog.fields.iter().map(|f| f.name.as_str()),
                        "fields",
                        "declare it under `event_types.<type>.fields`",
                    )),
                ));
                None
            }
        },
        (None, true) => {
            problems.push((
                "field".into(),
                format!("a `{}` feature needs `field`", kind_name(kind)),
                Some("name the event field to aggregate, e.g. `field: amount`".into()),
            ));
            None
        }
        (Some(_), false) => {
            problems.push((
                "field".into(),
                format!("a `{}` feature takes no `field`", kind_name(kind)),
                Some("remove `field`".into()),
            ));
            None
        }
        (None, false) => None,
    };
    let field_ty = field.map(|slot| catalog.fields[slot].ty);
    if matches!(kind, FeatureKind::Sum | FeatureKind::Min | FeatureKind::Max) {
        if let Some(ty) = field_ty {
            if !matches!(ty, Type::Int | Type::Double) {
                problems.push((
                    "field".into(),
                    format!(
                        "`{}` needs a numeric field, `{}` is {ty}",
                        kind_name(kind),
                        fs.field.as_deref().unwrap_or_default()
                    ),
                    Some("use `last` or `distinct_count` for non-numeric fields".into()),
                ));
            }
        }
    }

    let ty = match kind {
        FeatureKind::Count
        | FeatureKind::FirstTs
        | FeatureKind::LastTs
        | FeatureKind::DistinctCount
        | FeatureKind::Recent => Type::Int,
        FeatureKind::Sum | FeatureKind::Min | FeatureKind::Max | FeatureKind::DaysSince | FeatureKind::Points => {
            Type::Double
        }
        FeatureKind::Last => field_ty.unwrap_or(Type::Double),
    };

    let filter = fs.filter.as_ref().and_then(|source| {
        match revenue_expr::compile(source, &EventScope { catalog }, Expect::Bool) {
            Ok(compiled) => Some(compiled),
            Err(err) => {
                problems.push(("where".into(), err.message, err.hint));
                None
            }
        }
    });

    let window = match &fs.window {
        None => {
            if fs.bucket.is_some() {
                problems.push((
                    "bucket".into(),
                    "`bucket` without `window`".into(),
                    Some("set `window`, or remove `bucket`".into()),
                ));
            }
            None
        }
        Some(text) => match window_of(text, fs.bucket.as_deref()) {
            Ok(w) => Some(w),
            Err((key, message, hint)) => {
                problems.push((key.into(), message, Some(hint)));
                None
            }
        },
    };

    let max_distinct = match (kind, fs.max_distinct) {
        (FeatureKind::DistinctCount, None) => DEFAULT_MAX_DISTINCT,
        (FeatureKind::Recent, None) => DEFAULT_MAX_RECENT,
        (FeatureKind::DistinctCount | FeatureKind::Recent, Some(n)) if (1..=MAX_DISTINCT_LIMIT).contains(&n) => n,
        (FeatureKind::DistinctCount | FeatureKind::Recent, Some(n)) => {
            problems.push((
                "max_distinct".into(),
                format!("max_distinct {n} out of range"),
                Some(format!("use 1 to {MAX_DISTINCT_LIMIT}")),
            ));
            0
        }
        (_, Some(_)) => {
            problems.push((
                "max_distinct".into(),
                "`max_distinct` applies to `distinct_count` and `recent` only".into(),
                Some("remove it".into()),
            ));
            0
        }
        (_, None) => 0,
    };

    let of = match (kind, &fs.of) {
        (FeatureKind::DaysSince, Some(target)) => match catalog.feature(target) {
            Some(idx) => {
                let target_spec = spec.features.get(target);
                if !matches!(
                    target_spec.map(|t| t.kind),
                    Some(FeatureKind::FirstTs | FeatureKind::LastTs)
                ) {
                    problems.push((
                        "of".into(),
                        format!("`{target}` is not a timestamp feature"),
                        Some("point `of` at a `first_ts` or `last_ts` feature".into()),
                    ));
                }
                Some(idx)
            }
            None => {
                problems.push((
                    "of".into(),
                    format!("unknown feature `{target}`"),
                    Some(suggest(
                        target,
                        catalog.feature_index.keys().map(String::as_str),
                        "features",
                        "declare it under `features`",
                    )),
                ));
                None
            }
        },
        (FeatureKind::DaysSince, None) => {
            problems.push((
                "of".into(),
                "a `days_since` feature needs `of`".into(),
                Some("name a `last_ts` feature, e.g. `of: last_purchase_ts`".into()),
            ));
            None
        }
        (_, Some(_)) => {
            problems.push((
                "of".into(),
                "`of` applies to `days_since` only".into(),
                Some("remove it".into()),
            ));
            None
        }
        (_, None) => None,
    };
    if kind == FeatureKind::DaysSince && (fs.window.is_some() || fs.filter.is_some() || fs.events.is_some()) {
        problems.push((
            "kind".into(),
            "`days_since` is derived from `of`; it takes no `events`, `where` or `window`".into(),
            Some("put them on the timestamp feature it reads".into()),
        ));
    }

    let (points, half_life) = compile_points(catalog, kind, fs, &mut problems);
    if kind == FeatureKind::Points {
        event_mask = points.iter().fold(0, |mask, rule| mask | rule.event_mask);
        if fs.events.is_some() || fs.filter.is_some() {
            problems.push((
                "kind".into(),
                "a `points` feature takes `events` and `where` per rule, not on the feature".into(),
                Some("move them into the `points` rules".into()),
            ));
        }
    }
    if kind == FeatureKind::Recent && fs.window.is_some() {
        problems.push((
            "window".into(),
            "a `recent` feature keeps the latest values, it has no window".into(),
            Some("bound it with `max_distinct` instead".into()),
        ));
    }

    let default = match &fs.default {
        None if kind == FeatureKind::DaysSince => Val::Double(DAYS_SINCE_NEVER),
        None => zero_of(ty),
        Some(value) => match json_to_val(value, ty) {
            Some(v) => v,
            None => {
                problems.push((
                    "default".into(),
                    format!("default `{value}` is not a {ty}"),
                    Some(format!("this feature is {ty}")),
                ));
                zero_of(ty)
            }
        },
    };

    if !problems.is_empty() {
        return Err(problems);
    }
    let fingerprint = fingerprint_of(name, fs);
    Ok(Feature {
        name: name.to_string(),
        kind,
        ty,
        event_mask,
        filter,
        field,
        window,
        max_distinct,
        of,
        default,
        points,
        half_life,
        fingerprint,
    })
}

/// The rules and half-life of a `points` feature; other kinds must not have them.
fn compile_points(
    catalog: &Catalog,
    kind: FeatureKind,
    fs: &FeatureSpec,
    problems: &mut Vec<Problem>,
) -> (Vec<PointsRule>, Option<i64>) {
    if kind != FeatureKind::Points {
        for (key, present) in [("points", fs.points.is_some()), ("half_life", fs.half_life.is_some())] {
            if present {
                problems.push((
                    key.into(),
                    format!("`{key}` applies to `points` features only"),
                    Some("remove it".into()),
                ));
            }
        }
        return (Vec::new(), None);
    }
    let half_life = fs.half_life.as_ref().and_then(|text| match Span::parse(text) {
        Ok(span) if span.millis() > 0 => Some(span.millis()),
        Ok(_) => {
            problems.push(("half_life".into(), "half_life must be positive".into(), None));
            None
        }
        Err(e) => {
            problems.push(("half_life".into(), e, Some("e.g. `half_life: 30d`".into())));
            None
        }
    });
    if fs.half_life.is_some() && fs.window.is_some() {
        problems.push((
            "half_life".into(),
            "`half_life` and `window` both given".into(),
            Some("points either decay (`half_life`) or count over a rolling `window`; choose one".into()),
        ));
    }
    let Some(specs) = fs.points.as_ref().filter(|rules| !rules.is_empty()) else {
        problems.push((
            "points".into(),
            "a `points` feature needs at least one rule".into(),
            Some("e.g. `points: [{events: [webinar], points: 20}]`".into()),
        ));
        return (Vec::new(), half_life);
    };
    let mut rules = Vec::with_capacity(specs.len());
    for (i, rule) in specs.iter().enumerate() {
        let mut event_mask = 0u64;
        match &rule.events {
            None => event_mask = all_types_mask(catalog.event_types.len()),
            Some(list) => {
                for (j, t) in list.iter().enumerate() {
                    match catalog.event_type(t) {
                        Some(idx) => event_mask |= 1 << idx,
                        None => problems.push((
                            format!("points[{i}].events[{j}]"),
                            format!("unknown event type `{t}`"),
                            Some(suggest(
                                t,
                                catalog.event_types.iter().map(String::as_str),
                                "event types",
                                "declare it under `event_types`",
                            )),
                        )),
                    }
                }
            }
        }
        let filter = rule.filter.as_ref().and_then(|source| {
            match revenue_expr::compile(source, &EventScope { catalog }, Expect::Bool) {
                Ok(compiled) => Some(compiled),
                Err(err) => {
                    problems.push((format!("points[{i}].where"), err.message, err.hint));
                    None
                }
            }
        });
        if !rule.points.is_finite() {
            problems.push((
                format!("points[{i}].points"),
                "points must be a finite number".into(),
                None,
            ));
        }
        rules.push(PointsRule {
            event_mask,
            filter,
            points: rule.points,
        });
    }
    (rules, half_life)
}

fn window_of(window: &str, bucket: Option<&str>) -> Result<Window, (&'static str, String, String)> {
    let window = Span::parse(window)
        .map_err(|e| ("window", e, "e.g. `window: 30d`".to_string()))?
        .millis();
    let width = match bucket {
        Some(text) => Span::parse(text)
            .map_err(|e| ("bucket", e, "e.g. `bucket: 1h`".to_string()))?
            .millis(),
        None => [86_400_000, 3_600_000, 60_000, 1_000, 1]
            .into_iter()
            .find(|w| window % w == 0 && window / w <= MAX_WINDOW_BUCKETS)
            .unwrap_or(window),
    };
    if window % width != 0 {
        return Err((
            "bucket",
            format!(
                "bucket {} does not divide window {}",
                Span::from_millis(width),
                Span::from_millis(window)
            ),
            "choose a bucket that divides the window".into(),
        ));
    }
    let buckets = window / width;
    if buckets > MAX_WINDOW_BUCKETS {
        return Err((
            "bucket",
            format!(
                "window {} in buckets of {} needs {buckets} buckets",
                Span::from_millis(window),
                Span::from_millis(width)
            ),
            format!("at most {MAX_WINDOW_BUCKETS}; use a larger `bucket`"),
        ));
    }
    Ok(Window { width, buckets })
}

fn json_to_val(value: &serde_json::Value, ty: Type) -> Option<Val<'static>> {
    match (ty, value) {
        (Type::Int, serde_json::Value::Number(n)) => n.as_i64().map(Val::Int),
        (Type::Double, serde_json::Value::Number(n)) => n.as_f64().map(Val::Double),
        (Type::String, serde_json::Value::String(s)) => Some(Val::Str(Cow::Owned(s.clone()))),
        (Type::Bool, serde_json::Value::Bool(b)) => Some(Val::Bool(*b)),
        _ => None,
    }
}

fn fingerprint_of(name: &str, fs: &FeatureSpec) -> u32 {
    // the description and default do not change what is stored
    let identity = serde_json::json!([
        name,
        fs.kind,
        fs.events,
        fs.filter,
        fs.field,
        fs.window,
        fs.bucket,
        fs.max_distinct,
        fs.half_life,
        fs.points
    ]);
    xxhash_rust::xxh3::xxh3_64(identity.to_string().as_bytes()) as u32
}
