//! Cost of one rule evaluation: Revenue Engine's compiled CEL vs. the `cel` crate's interpreter
//! (root context reused, variables set per event), on criterion.
//! `cargo bench -p revenue-expr --bench expr`; `cargo test --benches` runs each once as a check.

// A bench binary: it stops on a broken setup
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use revenue_expr::{compile, Expect, Scope, Type, Val, VarRef, Vars};
use std::hint::black_box;

const RULE: &str = "page_views >= 5 && purchase_sum > 1000.0 || page_views >= 3 && email_clicks >= 1";
const NAMES: [(&str, Type); 3] = [
    ("page_views", Type::Int),
    ("email_clicks", Type::Int),
    ("purchase_sum", Type::Double),
];

struct Names;

impl Scope for Names {
    fn resolve(&self, path: &[&str]) -> Option<(VarRef, Type)> {
        let [name] = path else { return None };
        NAMES
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| (VarRef(i as u32), NAMES[i].1))
    }

    fn candidates(&self) -> Vec<String> {
        NAMES.iter().map(|(n, _)| n.to_string()).collect()
    }
}

struct Slots([Val<'static>; 3]);

impl Vars for Slots {
    fn get(&self, var: VarRef) -> Val<'_> {
        self.0[var.0 as usize].clone()
    }
}

/// The same rule, one evaluation per iteration, with variables that change per event.
fn rule_evaluation(c: &mut Criterion) {
    let compiled = compile(RULE, &Names, Expect::Bool).expect("compiles");
    let mut i = 0u64;
    c.bench_function("compiled CEL (revenue-expr)", |b| {
        b.iter(|| {
            i += 1;
            let slots = Slots([
                Val::Int((i % 9) as i64),
                Val::Int((i % 2) as i64),
                Val::Double((i % 1500) as f64),
            ]);
            compiled.eval_bool(black_box(&slots)).unwrap_or(false)
        })
    });

    let program = cel::Program::compile(RULE).expect("cel compiles");
    let mut context = cel::Context::default();
    let mut i = 0u64;
    c.bench_function("cel 0.15 interpreter (context reused)", |b| {
        b.iter(|| {
            i += 1;
            context.add_variable_from_value("page_views", (i % 9) as i64);
            context.add_variable_from_value("email_clicks", (i % 2) as i64);
            context.add_variable_from_value("purchase_sum", (i % 1500) as f64);
            matches!(program.execute(&context), Ok(cel::Value::Bool(true)))
        })
    });
}

criterion_group!(benches, rule_evaluation);
criterion_main!(benches);
