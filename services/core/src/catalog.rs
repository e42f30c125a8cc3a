//! The compiled feature catalog: event types, the event field layout, and features.

use crate::diagnostic::Diagnostic;
use crate::duration::Span;
use crate::spec::{CatalogSpec, FeatureKind, FieldType};
use revenue_expr::{CompiledExpr, Scope, Type, Val, VarRef};
use rustc_hash::FxHashMap;
use std::borrow::Cow;

mod feature;

use feature::{compile_feature, placeholder};

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
    let mut known: Vec<&str> = known.collect();
    // of equally close names the alphabetically first is suggested
    known.sort_unstable();
    match revenue_expr::closest_match_within(wrong, known.iter().copied(), revenue_expr::MAX_SUGGESTION_DISTANCE) {
        Some(k) => format!("did you mean `{k}`?"),
        None if known.is_empty() => otherwise.to_string(),
        None => {
            let list: Vec<String> = known.iter().take(12).map(|k| format!("`{k}`")).collect();
            format!("known {what}: {}; or {otherwise}", list.join(", "))
        }
    }
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
