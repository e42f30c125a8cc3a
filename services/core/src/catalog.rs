//! The compiled feature catalog: event types, the event field layout, and features.

use crate::diagnostic::Diagnostic;
use crate::duration::Span;
use crate::expr::{self, CompiledExpr, Expect, Scope, Type, Val, VarRef};
use crate::spec::{CatalogSpec, FeatureKind, FeatureSpec, FieldType};
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// Slots of the fields every event carries.
pub const FIELD_CUSTOMER_ID: usize = 0;
pub const FIELD_TYPE: usize = 1;
pub const FIELD_TS: usize = 2;

/// Namespaces of [`VarRef`]s: the top byte says what the low 24 bits index.
pub(crate) const NS_FEATURE: u32 = 0;
pub(crate) const NS_EVENT: u32 = 1;
pub(crate) const NS_SCORE: u32 = 2;

pub(crate) fn var(ns: u32, index: usize) -> VarRef {
    VarRef((ns << 24) | index as u32)
}

pub(crate) fn split_var(var: VarRef) -> (u32, usize) {
    (var.0 >> 24, (var.0 & 0x00ff_ffff) as usize)
}

pub const MAX_EVENT_TYPES: usize = 64;
const MAX_WINDOW_BUCKETS: i64 = 1024;
const DEFAULT_MAX_DISTINCT: u32 = 64;
const MAX_DISTINCT_LIMIT: u32 = 1024;
const DEFAULT_MAX_RECENT: u32 = 20;
/// `days_since` of a customer who never had the event: 100 years, "long ago".
const DAYS_SINCE_NEVER: f64 = 36_500.0;

#[derive(Debug, Clone)]
pub struct EventField {
    pub name: String,
    pub ty: Type,
}

/// A sliding event-time window that advances in buckets of `width` milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub width: i64,
    pub buckets: i64,
}

impl Window {
    pub fn bucket_of(&self, ts: i64) -> i64 {
        ts.div_euclid(self.width)
    }

    /// Whether an event at `ts` is inside the window that ends at the customer's clock.
    pub fn contains(&self, clock: i64, ts: i64) -> bool {
        self.bucket_of(ts) > self.bucket_of(clock) - self.buckets
    }

    /// The oldest bucket still inside the window at `clock`.
    pub fn first_bucket(&self, clock: i64) -> i64 {
        self.bucket_of(clock) - self.buckets + 1
    }
}

#[derive(Debug)]
pub struct Feature {
    pub name: String,
    pub kind: FeatureKind,
    pub ty: Type,
    /// Bit i set: event type i updates this feature.
    pub event_mask: u64,
    pub filter: Option<CompiledExpr>,
    /// Event field slot for value-based kinds.
    pub field: Option<usize>,
    pub window: Option<Window>,
    pub max_distinct: u32,
    /// For `days_since`: the timestamp feature it reads.
    pub of: Option<usize>,
    pub default: Val<'static>,
    /// For `points`: the scoring rules.
    pub points: Vec<PointsRule>,
    /// For `points`: half-life in milliseconds of event time.
    pub half_life: Option<i64>,
    /// Changes whenever the definition changes, so stored state of another definition is dropped.
    pub fingerprint: u32,
}

/// A compiled lead-scoring rule.
#[derive(Debug)]
pub struct PointsRule {
    pub event_mask: u64,
    pub filter: Option<CompiledExpr>,
    pub points: f64,
}

#[derive(Debug)]
pub struct Catalog {
    pub event_types: Vec<String>,
    event_type_index: FxHashMap<String, u16>,
    pub fields: Vec<EventField>,
    field_index: FxHashMap<String, usize>,
    pub features: Vec<Feature>,
    feature_index: FxHashMap<String, usize>,
    /// Per event type, the features it updates (stateful kinds only), in catalog order.
    pub updates_by_type: Vec<Vec<usize>>,
    /// Idle customers leave the state after this many milliseconds of event time.
    pub expire_after: Option<i64>,
}

impl Catalog {
    pub fn event_type(&self, name: &str) -> Option<u16> {
        self.event_type_index.get(name).copied()
    }

    pub fn field(&self, name: &str) -> Option<usize> {
        self.field_index.get(name).copied()
    }

    pub fn feature(&self, name: &str) -> Option<usize> {
        self.feature_index.get(name).copied()
    }

    /// Compiles `features.yaml`; every problem found is returned, with its key path.
    pub fn compile(file: &str, spec: &CatalogSpec) -> Result<Catalog, Vec<Diagnostic>> {
        let (catalog, problems) = Catalog::compile_partial(file, spec);
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(problems)
        }
    }

    /// Compiles as much as it can: features with problems are kept as inert placeholders, so
    /// use cases can still be checked against the catalog and every problem reported at once.
    pub fn compile_partial(file: &str, spec: &CatalogSpec) -> (Catalog, Vec<Diagnostic>) {
        let mut problems = Vec::new();
        let mut fields = vec![
            EventField {
                name: "customer_id".into(),
                ty: Type::String,
            },
            EventField {
                name: "type".into(),
                ty: Type::String,
            },
            EventField {
                name: "ts".into(),
                ty: Type::Int,
            },
        ];
        let mut field_index: FxHashMap<String, usize> =
            fields.iter().enumerate().map(|(i, f)| (f.name.clone(), i)).collect();
        let mut event_types = Vec::new();
        let mut event_type_index = FxHashMap::default();
        if spec.event_types.len() > MAX_EVENT_TYPES {
            problems.push(
                Diagnostic::new(
                    file,
                    "event_types",
                    format!("{} event types declared", spec.event_types.len()),
                )
                .hint(format!("at most {MAX_EVENT_TYPES} event types per directory")),
            );
        }
        for (type_name, type_spec) in &spec.event_types {
            event_type_index.insert(type_name.clone(), event_types.len() as u16);
            event_types.push(type_name.clone());
            for (field_name, field_type) in &type_spec.fields {
                let ty = field_type_to_type(*field_type);
                let path = format!("event_types.{type_name}.fields.{field_name}");
                match field_index.get(field_name) {
                    Some(&slot) if fields[slot].ty != ty => problems.push(
                        Diagnostic::new(
                            file,
                            path,
                            format!("field `{field_name}` is {ty} here but {} elsewhere", fields[slot].ty),
                        )
                        .hint("a field name has one type across all event types; rename one of them"),
                    ),
                    Some(_) => {}
                    None => {
                        field_index.insert(field_name.clone(), fields.len());
                        fields.push(EventField {
                            name: field_name.clone(),
                            ty,
                        });
                    }
                }
            }
        }
        let feature_index: FxHashMap<String, usize> = spec
            .features
            .keys()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let mut catalog = Catalog {
            event_types,
            event_type_index,
            fields,
            field_index,
            features: Vec::new(),
            feature_index,
            updates_by_type: Vec::new(),
            expire_after: None,
        };
        if let Some(text) = &spec.expire_after {
            match Span::parse(text) {
                Ok(span) if span.millis() > 0 => catalog.expire_after = Some(span.millis()),
                Ok(_) => problems.push(
                    Diagnostic::new(file, "expire_after", "expire_after must be positive")
                        .hint("e.g. `expire_after: 400d`, or omit it to keep customers forever"),
                ),
                Err(e) => problems.push(Diagnostic::new(file, "expire_after", e).hint("e.g. `expire_after: 400d`")),
            }
        }
        for (name, feature_spec) in &spec.features {
            match compile_feature(&catalog, spec, name, feature_spec) {
                Ok(feature) => catalog.features.push(feature),
                Err(errors) => {
                    problems.extend(errors.into_iter().map(|(key, message, hint)| {
                        let path = if key.is_empty() {
                            format!("features.{name}")
                        } else {
                            format!("features.{name}.{key}")
                        };
                        Diagnostic::new(file, path, message).hint_opt(hint)
                    }));
                    // keep indices aligned for the features after this one
                    catalog.features.push(placeholder(name));
                }
            }
        }
        catalog.updates_by_type = (0..catalog.event_types.len())
            .map(|t| {
                catalog
                    .features
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.kind != FeatureKind::DaysSince && f.event_mask & (1 << t) != 0)
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        (catalog, problems)
    }
}

fn all_types_mask(count: usize) -> u64 {
    if count >= 64 {
        u64::MAX
    } else {
        (1u64 << count) - 1
    }
}

fn field_type_to_type(field_type: FieldType) -> Type {
    match field_type {
        FieldType::String => Type::String,
        FieldType::Int => Type::Int,
        FieldType::Double => Type::Double,
        FieldType::Bool => Type::Bool,
    }
}

pub(crate) fn zero_of(ty: Type) -> Val<'static> {
    match ty {
        Type::Bool => Val::Bool(false),
        Type::Int => Val::Int(0),
        Type::Double => Val::Double(0.0),
        Type::String => Val::Str(Cow::Borrowed("")),
    }
}

fn placeholder(name: &str) -> Feature {
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

fn compile_feature(
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

    let filter =
        fs.filter.as_ref().and_then(
            |source| match expr::compile(source, &EventScope { catalog }, Expect::Bool) {
                Ok(compiled) => Some(compiled),
                Err(err) => {
                    problems.push(("where".into(), err.message, err.hint));
                    None
                }
            },
        );

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
            match expr::compile(source, &EventScope { catalog }, Expect::Bool) {
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

pub fn kind_name(kind: FeatureKind) -> &'static str {
    match kind {
        FeatureKind::Count => "count",
        FeatureKind::Sum => "sum",
        FeatureKind::Min => "min",
        FeatureKind::Max => "max",
        FeatureKind::Last => "last",
        FeatureKind::FirstTs => "first_ts",
        FeatureKind::LastTs => "last_ts",
        FeatureKind::DistinctCount => "distinct_count",
        FeatureKind::DaysSince => "days_since",
        FeatureKind::Points => "points",
        FeatureKind::Recent => "recent",
    }
}

/// "did you mean `x`?" for the closest name, else the list of known ones.
pub fn suggest<'a>(wrong: &str, known: impl Iterator<Item = &'a str>, what: &str, otherwise: &str) -> String {
    let known: Vec<&str> = known.collect();
    let best = known
        .iter()
        .map(|k| (edit_distance(wrong, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min();
    match best {
        Some((_, k)) => format!("did you mean `{k}`?"),
        None if known.is_empty() => otherwise.to_string(),
        None => {
            let mut sorted = known.clone();
            sorted.sort_unstable();
            let list: Vec<String> = sorted.iter().take(12).map(|k| format!("`{k}`")).collect();
            format!("known {what}: {}; or {otherwise}", list.join(", "))
        }
    }
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Names visible to a feature's `where`: the event's fields.
pub(crate) struct EventScope<'c> {
    pub catalog: &'c Catalog,
}

impl Scope for EventScope<'_> {
    fn resolve(&self, path: &[&str]) -> Option<(VarRef, Type)> {
        match path {
            ["event", field] => self
                .catalog
                .field(field)
                .map(|slot| (var(NS_EVENT, slot), self.catalog.fields[slot].ty)),
            _ => None,
        }
    }

    fn candidates(&self) -> Vec<String> {
        self.catalog
            .fields
            .iter()
            .map(|f| format!("event.{}", f.name))
            .collect()
    }
}
