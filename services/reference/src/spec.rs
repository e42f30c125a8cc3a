//! A case: a feature catalog, use cases and an event stream, described by small types the
//! reference model reads directly, and rendered as the YAML and JSON lines the engine reads.

use serde_json::{Map, Value};
use std::fmt::Write as _;

pub const DAY_MS: i64 = 86_400_000;

/// The event types of every generated catalog and their fields (`name`, `type`).
/// Consent events (`channel`) and a profile event (`tz`, a time zone) serve the contact policy.
pub const EVENT_TYPES: [(&str, &[(&str, FieldTy)]); 6] = [
    ("view", &[("page", FieldTy::Str), ("secs", FieldTy::Int)]),
    (
        "buy",
        &[
            ("product", FieldTy::Str),
            ("amount", FieldTy::Double),
            ("qty", FieldTy::Int),
        ],
    ),
    ("click", &[("page", FieldTy::Str), ("ok", FieldTy::Bool)]),
    ("consent_out", &[("channel", FieldTy::Str)]),
    ("consent_in", &[("channel", FieldTy::Str)]),
    ("profile", &[("tz", FieldTy::Str)]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldTy {
    Str,
    Int,
    Double,
    Bool,
}

impl FieldTy {
    pub fn name(self) -> &'static str {
        match self {
            FieldTy::Str => "string",
            FieldTy::Int => "int",
            FieldTy::Double => "double",
            FieldTy::Bool => "bool",
        }
    }
}

/// The type of a field by name (field names have one type across event types).
pub fn field_ty(field: &str) -> FieldTy {
    EVENT_TYPES
        .iter()
        .flat_map(|(_, fields)| fields.iter())
        .find(|(name, _)| *name == field)
        .map_or(FieldTy::Str, |(_, ty)| *ty)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Count,
    Sum,
    Min,
    Max,
    Last,
    FirstTs,
    LastTs,
    DistinctCount,
    DaysSince,
    Points,
    Recent,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Count => "count",
            Kind::Sum => "sum",
            Kind::Min => "min",
            Kind::Max => "max",
            Kind::Last => "last",
            Kind::FirstTs => "first_ts",
            Kind::LastTs => "last_ts",
            Kind::DistinctCount => "distinct_count",
            Kind::DaysSince => "days_since",
            Kind::Points => "points",
            Kind::Recent => "recent",
        }
    }
}

/// A `where` filter on the event: a closed subset of CEL.
#[derive(Debug, Clone)]
pub enum Pred {
    Has(String),
    StrEq(String, String),
    /// `event.<double field> > c`
    DoubleGt(String, f64),
    /// `event.<int field> >= c`
    IntGe(String, i64),
    /// `event.<bool field>`
    Bool(String),
    Not(Box<Pred>),
    And(Box<Pred>, Box<Pred>),
}

#[derive(Debug, Clone)]
pub struct PointsRule {
    pub events: Option<Vec<String>>,
    pub filter: Option<Pred>,
    pub points: f64,
}

#[derive(Debug, Clone)]
pub struct Feature {
    pub name: String,
    pub kind: Kind,
    pub events: Option<Vec<String>>,
    pub filter: Option<Pred>,
    pub field: Option<String>,
    /// Milliseconds.
    pub window: Option<i64>,
    pub bucket: Option<i64>,
    pub max_distinct: Option<u32>,
    pub of: Option<String>,
    pub half_life: Option<i64>,
    pub points: Vec<PointsRule>,
}

impl Feature {
    /// A feature of `kind` over `events` (every type when `None`), every other key absent.
    pub fn new(name: impl Into<String>, kind: Kind, events: Option<Vec<String>>) -> Feature {
        Feature {
            name: name.into(),
            kind,
            events,
            filter: None,
            field: None,
            window: None,
            bucket: None,
            max_distinct: None,
            of: None,
            half_life: None,
            points: Vec::new(),
        }
    }
}

/// A number over features (every feature read as a double).
#[derive(Debug, Clone)]
pub enum Num {
    Feat(String),
    Const(f64),
    Add(Box<Num>, Box<Num>),
    Scale(Box<Num>, f64),
}

/// A condition over features and, in tiers, `score`.
#[derive(Debug, Clone)]
pub enum Cond {
    /// `<num> >= c`
    Ge(Num, f64),
    /// `<num> < c`
    Lt(Num, f64),
    /// `score >= c` (tiers only)
    ScoreGe(f64),
    /// `<string feature> == 's'`
    StrEq(String, String),
    /// a bool feature
    Bool(String),
    Not(Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retrigger {
    Once,
    Always,
    Cooldown(i64),
}

#[derive(Debug, Clone)]
pub enum PayloadExpr {
    Score,
    Feat(String),
}

#[derive(Debug, Clone)]
pub struct Tier {
    pub name: String,
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    pub when: Option<Cond>,
    pub retrigger: Option<Retrigger>,
    pub payload: Vec<(String, PayloadExpr)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft,
    Shadow,
    Live,
    Retired,
}

#[derive(Debug, Clone)]
pub struct UseCase {
    pub id: String,
    pub status: Status,
    pub triggers: Vec<String>,
    pub features: Vec<String>,
    pub rule: Option<Cond>,
    pub score: Option<Num>,
    /// A linear or logistic model, the score instead of `score`.
    pub model: Option<Model>,
    /// Funnel stages (name, min_score), ascending; empty: no funnel.
    pub funnel: Vec<(String, f64)>,
    pub timer: Option<Timer>,
    pub retrigger: Option<Retrigger>,
    pub tiers: Vec<Tier>,
}

/// `model: {type: linear | logistic, intercept, coefficients}`.
#[derive(Debug, Clone)]
pub struct Model {
    pub logistic: bool,
    pub intercept: f64,
    /// (feature, weight), features in name order.
    pub coefficients: Vec<(String, f64)>,
}

/// `data.timer`; times in milliseconds.
#[derive(Debug, Clone)]
pub struct Timer {
    pub after: i64,
    pub start_on: Vec<String>,
    /// (use case id, tier name or any tier).
    pub start_on_actions: Vec<(String, Option<String>)>,
    pub cancel_on: Vec<String>,
    pub wall_clock: bool,
}

/// One event: customer, type, time and the fields present (extra ones included).
#[derive(Debug, Clone)]
pub struct Event {
    pub customer: String,
    pub ty: String,
    pub ts: i64,
    pub fields: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Case {
    /// `expire_after` of features.yaml, milliseconds.
    pub expire_after: Option<i64>,
    pub features: Vec<Feature>,
    pub use_cases: Vec<UseCase>,
    pub events: Vec<Event>,
}

/// A duration as the README writes it (`30d`, `90m`, …).
pub fn span(ms: i64) -> String {
    for (unit, size) in [("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A CEL double literal.
pub fn double(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains('.') || s.contains('e') || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

impl Pred {
    pub fn cel(&self) -> String {
        match self {
            Pred::Has(f) => format!("has(event.{f})"),
            Pred::StrEq(f, s) => format!("event.{f} == '{s}'"),
            Pred::DoubleGt(f, c) => format!("event.{f} > {}", double(*c)),
            Pred::IntGe(f, c) => format!("event.{f} >= {c}"),
            Pred::Bool(f) => format!("event.{f}"),
            Pred::Not(p) => format!("!({})", p.cel()),
            Pred::And(a, b) => format!("({}) && ({})", a.cel(), b.cel()),
        }
    }
}

impl Num {
    /// `types` gives each feature's CEL type name, to convert ints to doubles.
    pub fn cel(&self, ty: &dyn Fn(&str) -> &'static str) -> String {
        match self {
            Num::Feat(f) if ty(f) == "double" => f.clone(),
            Num::Feat(f) => format!("double({f})"),
            Num::Const(c) => double(*c),
            Num::Add(a, b) => format!("({} + {})", a.cel(ty), b.cel(ty)),
            Num::Scale(a, c) => format!("({} * {})", a.cel(ty), double(*c)),
        }
    }
}

impl Cond {
    pub fn cel(&self, ty: &dyn Fn(&str) -> &'static str) -> String {
        match self {
            Cond::Ge(n, c) => format!("{} >= {}", n.cel(ty), double(*c)),
            Cond::Lt(n, c) => format!("{} < {}", n.cel(ty), double(*c)),
            Cond::ScoreGe(c) => format!("score >= {}", double(*c)),
            Cond::StrEq(f, s) => format!("{f} == '{s}'"),
            Cond::Bool(f) => f.clone(),
            Cond::Not(c) => format!("!({})", c.cel(ty)),
            Cond::Or(a, b) => format!("({}) || ({})", a.cel(ty), b.cel(ty)),
        }
    }
}

impl Retrigger {
    fn yaml(self) -> String {
        match self {
            Retrigger::Once => "once".into(),
            Retrigger::Always => "always".into(),
            Retrigger::Cooldown(ms) => format!("{{cooldown: {}}}", span(ms)),
        }
    }
}

impl Timer {
    fn yaml(&self) -> String {
        let mut parts = vec![format!("after: {}", span(self.after))];
        if !self.start_on.is_empty() {
            parts.push(format!("start_on: {}", list(&self.start_on)));
        }
        if !self.start_on_actions.is_empty() {
            let refs: Vec<String> = self
                .start_on_actions
                .iter()
                .map(|(uc, tier)| tier.as_ref().map_or_else(|| uc.clone(), |t| format!("{uc}/{t}")))
                .collect();
            parts.push(format!("start_on_actions: {}", list(&refs)));
        }
        if !self.cancel_on.is_empty() {
            parts.push(format!("cancel_on: {}", list(&self.cancel_on)));
        }
        if self.wall_clock {
            parts.push("clock: wall_clock".into());
        }
        format!("  timer: {{{}}}\n", parts.join(", "))
    }
}

impl Case {
    /// The CEL type of a feature's value, as the README's feature table gives it.
    pub fn feature_type(&self, name: &str) -> &'static str {
        let Some(f) = self.features.iter().find(|f| f.name == name) else {
            return "double";
        };
        match f.kind {
            Kind::Count | Kind::FirstTs | Kind::LastTs | Kind::DistinctCount | Kind::Recent => "int",
            Kind::Sum | Kind::Min | Kind::Max | Kind::DaysSince | Kind::Points => "double",
            Kind::Last => f.field.as_deref().map_or("string", |x| field_ty(x).name()),
        }
    }

    pub fn features_yaml(&self) -> String {
        let mut y = self
            .expire_after
            .map_or_else(String::new, |e| format!("expire_after: {}\n", span(e)));
        y.push_str("event_types:\n");
        for (name, fields) in EVENT_TYPES {
            let fields: Vec<String> = fields.iter().map(|(f, t)| format!("{f}: {}", t.name())).collect();
            let _ = writeln!(y, "  {name}: {{fields: {{{}}}}}", fields.join(", "));
        }
        y.push_str("features:\n");
        for f in &self.features {
            let _ = writeln!(y, "  {}:", f.name);
            let _ = writeln!(y, "    kind: {}", f.kind.name());
            if let Some(events) = &f.events {
                let _ = writeln!(y, "    events: {}", list(events));
            }
            if let Some(p) = &f.filter {
                let _ = writeln!(y, "    where: \"{}\"", p.cel());
            }
            if let Some(x) = &f.field {
                let _ = writeln!(y, "    field: {x}");
            }
            if let Some(w) = f.window {
                let _ = writeln!(y, "    window: {}", span(w));
            }
            if let Some(b) = f.bucket {
                let _ = writeln!(y, "    bucket: {}", span(b));
            }
            if let Some(m) = f.max_distinct {
                let _ = writeln!(y, "    max_distinct: {m}");
            }
            if let Some(o) = &f.of {
                let _ = writeln!(y, "    of: {o}");
            }
            if let Some(h) = f.half_life {
                let _ = writeln!(y, "    half_life: {}", span(h));
            }
            if !f.points.is_empty() {
                y.push_str("    points:\n");
                for r in &f.points {
                    let mut parts = Vec::new();
                    if let Some(e) = &r.events {
                        parts.push(format!("events: {}", list(e)));
                    }
                    if let Some(p) = &r.filter {
                        parts.push(format!("where: \"{}\"", p.cel()));
                    }
                    parts.push(format!("points: {}", double(r.points)));
                    let _ = writeln!(y, "      - {{{}}}", parts.join(", "));
                }
            }
        }
        y
    }

    pub fn use_case_yaml(&self, uc: &UseCase) -> String {
        let ty = |f: &str| self.feature_type(f);
        let status = match uc.status {
            Status::Draft => "draft",
            Status::Shadow => "shadow",
            Status::Live => "live",
            Status::Retired => "retired",
        };
        let mut y = format!(
            "id: {}\nversion: 1\ntitle: generated\nowner: reference\nstatus: {status}\npriority: 50\n\
             value_driver: top-line\nchannels: [crm]\ndata:\n  triggers: {}\n  features: {}\n",
            uc.id,
            list(&uc.triggers),
            list(&uc.features)
        );
        if let Some(t) = &uc.timer {
            y.push_str(&t.yaml());
        }
        y.push_str("algo:\n");
        if let Some(r) = &uc.rule {
            let _ = writeln!(y, "  rule: \"{}\"", r.cel(&ty));
        }
        if let Some(s) = &uc.score {
            let _ = writeln!(y, "  score: \"{}\"", s.cel(&ty));
        }
        if let Some(m) = &uc.model {
            let terms: Vec<String> = m
                .coefficients
                .iter()
                .map(|(f, w)| format!("{f}: {}", double(*w)))
                .collect();
            let _ = writeln!(
                y,
                "  model: {{type: {}, intercept: {}, coefficients: {{{}}}}}",
                if m.logistic { "logistic" } else { "linear" },
                double(m.intercept),
                terms.join(", ")
            );
        }
        if !uc.funnel.is_empty() {
            let stages: Vec<String> = uc
                .funnel
                .iter()
                .map(|(n, m)| format!("{{name: {n}, min_score: {}}}", double(*m)))
                .collect();
            let _ = writeln!(y, "  funnel: {{topic: funnel.stages, stages: [{}]}}", stages.join(", "));
        }
        y.push_str("action:\n");
        if let Some(r) = uc.retrigger {
            let _ = writeln!(y, "  retrigger: {}", r.yaml());
        }
        y.push_str("  tiers:\n");
        for t in &uc.tiers {
            let _ = writeln!(y, "    - name: {}", t.name);
            let _ = writeln!(y, "      type: crm_task\n      topic: actions.crm");
            if let Some(m) = t.min_score {
                let _ = writeln!(y, "      min_score: {}", double(m));
            }
            if let Some(m) = t.max_score {
                let _ = writeln!(y, "      max_score: {}", double(m));
            }
            if let Some(w) = &t.when {
                let _ = writeln!(y, "      when: \"{}\"", w.cel(&ty));
            }
            if let Some(r) = t.retrigger {
                let _ = writeln!(y, "      retrigger: {}", r.yaml());
            }
            if !t.payload.is_empty() {
                let fields: Vec<String> = t
                    .payload
                    .iter()
                    .map(|(k, e)| match e {
                        PayloadExpr::Score => format!("{k}: score"),
                        PayloadExpr::Feat(f) => format!("{k}: {f}"),
                    })
                    .collect();
                let _ = writeln!(y, "      payload: {{{}}}", fields.join(", "));
            }
        }
        y
    }

    pub fn json_line(event: &Event) -> String {
        let mut m = Map::new();
        m.insert("customer_id".into(), Value::from(event.customer.clone()));
        m.insert("type".into(), Value::from(event.ty.clone()));
        m.insert("ts".into(), Value::from(event.ts));
        for (k, v) in &event.fields {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m).to_string()
    }

    /// The first `upto` events' lines; with `customer`, only that customer's (the others do not
    /// change its features or decisions).
    pub fn json_lines_of(&self, upto: usize, customer: Option<&str>) -> String {
        let mut s = String::new();
        let events = self.events.iter().take(upto);
        for e in events.filter(|e| customer.is_none_or(|c| c == e.customer)) {
            s.push_str(&Case::json_line(e));
            s.push('\n');
        }
        s
    }

    pub fn json_lines(&self, upto: usize) -> String {
        self.json_lines_of(upto, None)
    }

    /// A ready-to-paste reproduction: features.yaml, each use case's file, the events of the
    /// customer (all customers' when `None`) up to event `upto`.
    pub fn reproduction(&self, upto: usize, customer: Option<&str>) -> String {
        let mut s = format!("--- features.yaml\n{}", self.features_yaml());
        for uc in &self.use_cases {
            let _ = write!(s, "--- {}.yaml\n{}", uc.id, self.use_case_yaml(uc));
        }
        let _ = write!(s, "--- events.jsonl\n{}", self.json_lines_of(upto, customer));
        s
    }
}
