//! Cost of one rule evaluation: Revenue Engine's compiled CEL vs. the `cel` crate's interpreter
//! (root context reused, variables set per event). `cargo bench -p revenue-expr --bench expr`.

// A bench binary: it reports on stdout and stops on a broken setup
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::disallowed_methods)]

use revenue_expr::{compile, Expect, Scope, Type, Val, VarRef, Vars};
use std::hint::black_box;
use std::time::Instant;

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

fn per_iteration(iterations: u64, mut f: impl FnMut(u64) -> bool) -> f64 {
    let started = Instant::now();
    let mut hits = 0u64;
    for i in 0..iterations {
        hits += u64::from(f(i));
    }
    black_box(hits);
    started.elapsed().as_nanos() as f64 / iterations as f64
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let compiled = compile(RULE, &Names, Expect::Bool).expect("compiles");
    let ours = per_iteration(20_000_000, |i| {
        let slots = Slots([
            Val::Int((i % 9) as i64),
            Val::Int((i % 2) as i64),
            Val::Double((i % 1500) as f64),
        ]);
        compiled.eval_bool(black_box(&slots)).unwrap_or(false)
    });

    let program = cel::Program::compile(RULE).expect("cel compiles");
    let mut context = cel::Context::default();
    let interpreted = per_iteration(500_000, |i| {
        context.add_variable_from_value("page_views", (i % 9) as i64);
        context.add_variable_from_value("email_clicks", (i % 2) as i64);
        context.add_variable_from_value("purchase_sum", (i % 1500) as f64);
        matches!(program.execute(&context), Ok(cel::Value::Bool(true)))
    });
    println!("rule: {RULE}");
    println!("revenue-core compiled CEL: {ours:.1} ns/evaluation");
    println!(
        "cel 0.15 interpreter (context reused): {interpreted:.1} ns/evaluation ({:.0}x)",
        interpreted / ours
    );
}
