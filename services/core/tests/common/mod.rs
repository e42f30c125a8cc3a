//! What the contact-policy tests share: a catalog, use cases built from a template, and a run
//! of many customers through one processor (with restarts through the codec).

// not every test binary uses every helper
#![allow(dead_code)]

use revenue_core::codec::{decode, encode};
use revenue_core::policy::Reason;
use revenue_core::processor::{Counters, DecisionRecord, KeepDecisions};
use revenue_core::{decode_json, Action, CustomerState, Diagnostic, Mode, Processor, Source, SourceFile, UseCaseSet};
use std::collections::HashMap;
use std::sync::Arc;

/// 2026-01-05 00:00 UTC, a Monday.
pub const T0: i64 = 1_767_571_200_000;
pub const HOUR: i64 = 3_600_000;

pub const CATALOG: &str = r#"
event_types:
  view: {fields: {page: string}}
  click: {fields: {campaign: string}}
  purchase: {fields: {amount: double}}
  profile: {fields: {timezone: string}}
  opt_out: {fields: {channel: string}}
  opt_in: {fields: {channel: string}}
features:
  views: {kind: count, events: [view]}
  clicks: {kind: count, events: [click]}
  timezone: {kind: last, events: [profile], field: timezone}
"#;

pub fn use_case(id: &str, priority: u32, trigger: &str, tier_type: &str, extra: &str) -> String {
    format!(
        "id: {id}\nversion: 1\ntitle: t\nowner: o\nstatus: live\npriority: {priority}\nvalue_driver: top-line\nchannels: [email, crm, telemarketing]\ndata: {{triggers: [{trigger}], features: [views, clicks]}}\nalgo: {{rule: 'true', score: double(views)}}\naction:\n  retrigger: always\n  tiers: [{{name: t, when: 'true', type: {tier_type}, topic: out}}]\n{extra}"
    )
}

pub fn set(policy: &str, use_cases: &[(&str, String)]) -> Arc<UseCaseSet> {
    match compile_with_policy(policy, use_cases) {
        Ok(set) => Arc::new(set),
        Err(problems) => panic!(
            "test use cases compile:\n{}",
            problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n")
        ),
    }
}

/// The use cases (file name, text) with the catalog and no contact policy, compiled.
pub fn compile(use_cases: &[(&str, String)]) -> Result<UseCaseSet, Vec<Diagnostic>> {
    compile_with_policy("", use_cases)
}

fn compile_with_policy(policy: &str, use_cases: &[(&str, String)]) -> Result<UseCaseSet, Vec<Diagnostic>> {
    UseCaseSet::compile(&source_files(CATALOG, policy, use_cases))
}

/// A use-case directory as source files: `features.yaml`, `policy.yaml` and the use cases
/// (file name, text).
pub fn source_files(catalog: &str, policy: &str, use_cases: &[(&str, String)]) -> Vec<SourceFile> {
    let mut files = vec![
        SourceFile {
            path: "features.yaml".into(),
            text: catalog.into(),
        },
        SourceFile {
            path: "policy.yaml".into(),
            text: policy.into(),
        },
    ];
    files.extend(use_cases.iter().map(|(path, text)| SourceFile {
        path: path.to_string(),
        text: text.clone(),
    }));
    files
}

/// Many customers through one processor; `restart` re-reads every state through the codec and
/// a new processor, as an engine restart does.
pub struct Run {
    pub processor: Processor,
    pub states: HashMap<String, CustomerState>,
    pub counters: Counters,
    offset: i64,
    pub decisions: Vec<DecisionRecord>,
}

impl Run {
    pub fn new(set: &Arc<UseCaseSet>) -> Run {
        Run::with_mode(set, Mode::Engine)
    }

    /// A run as the engine (`Mode::Engine`) or replay (`Mode::BackTest`) evaluates.
    pub fn with_mode(set: &Arc<UseCaseSet>, mode: Mode) -> Run {
        Run {
            processor: Processor::new(set.clone(), mode).with_decision_records(1.0),
            states: HashMap::new(),
            counters: Counters::for_set(set),
            offset: 0,
            decisions: Vec::new(),
        }
    }

    pub fn event(&mut self, customer: &str, kind: &str, ts: i64, fields: &str) -> Vec<Action> {
        let set = self.processor.set().clone();
        let sep = if fields.is_empty() { "" } else { "," };
        let json = format!(r#"{{"customer_id":"{customer}","type":"{kind}","ts":{ts}{sep}{fields}}}"#);
        let event = decode_json(&set.catalog, json.as_bytes(), None).expect("test event decodes");
        let state = self
            .states
            .entry(customer.to_string())
            .or_insert_with(|| CustomerState::new(&set.catalog));
        self.offset += 1;
        let source = Source {
            topic: "t",
            partition: 0,
            offset: self.offset,
        };
        let mut actions = Vec::new();
        let mut out = KeepDecisions::new(|a| actions.push(a));
        self.processor
            .process(state, &event, source, &mut self.counters, &mut out);
        self.decisions.extend(out.take_decisions());
        actions
    }

    pub fn sweep(&mut self, customer: &str, now: i64) -> Vec<Action> {
        let state = self.states.get_mut(customer).expect("known customer");
        let mut actions = Vec::new();
        let mut out = KeepDecisions::new(|a| actions.push(a));
        self.processor
            .fire_due(state, customer, now, now, &mut self.counters, &mut out);
        self.decisions.extend(out.take_decisions());
        actions
    }

    pub fn restart(&mut self) {
        let set = self.processor.set().clone();
        let mut buffer = Vec::new();
        for state in self.states.values_mut() {
            encode(&set.catalog, state, &mut buffer);
            *state = decode(&set.catalog, &buffer).expect("state decodes");
        }
        self.processor = Processor::new(set, Mode::Engine).with_decision_records(1.0);
    }

    pub fn suppressed(&self, use_case: usize, reason: Reason) -> u64 {
        self.counters.use_cases[use_case].suppressed[reason as usize]
    }

    pub fn index(&self, id: &str) -> usize {
        let set = self.processor.set();
        set.use_cases.iter().position(|uc| &*uc.id == id).expect("use case")
    }
}
