use std::borrow::Cow;

use proptest::prelude::*;

use super::eval::Node;
use super::*;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const NAMES: &[(&str, Type)] = &[
    ("page_views", Type::Int),
    ("amount", Type::Double),
    ("event.amount", Type::Double),
    ("event.country", Type::String),
    ("event.coupon", Type::String),
    ("is_vip", Type::Bool),
    ("i1", Type::Int),
    ("i2", Type::Int),
    ("d1", Type::Double),
    ("d2", Type::Double),
    ("b1", Type::Bool),
    ("b2", Type::Bool),
    ("s1", Type::String),
    ("s2", Type::String),
];

/// Slot `i` is `NAMES[i]`.
struct TestScope;

impl Scope for TestScope {
    fn resolve(&self, path: &[&str]) -> Option<(VarRef, Type)> {
        let name = path.join(".");
        NAMES
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| (VarRef(i as u32), NAMES[i].1))
    }

    fn candidates(&self) -> Vec<String> {
        NAMES.iter().map(|(n, _)| n.to_string()).collect()
    }
}

struct EmptyScope;

impl Scope for EmptyScope {
    fn resolve(&self, _: &[&str]) -> Option<(VarRef, Type)> {
        None
    }

    fn candidates(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Values by slot; a missing value reads as its type's zero and `has()` is
/// false for it.
struct TestVars {
    values: Vec<Option<Val<'static>>>,
}

impl TestVars {
    fn new(values: &[(&str, Val<'static>)]) -> Self {
        let mut slots = vec![None; NAMES.len()];
        for (name, value) in values {
            let i = NAMES
                .iter()
                .position(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("no variable {name}"));
            slots[i] = Some(value.clone());
        }
        TestVars { values: slots }
    }
}

impl Vars for TestVars {
    fn get(&self, var: VarRef) -> Val<'_> {
        let i = var.0 as usize;
        match &self.values[i] {
            Some(v) => v.borrowed(),
            None => match NAMES[i].1 {
                Type::Bool => Val::Bool(false),
                Type::Int => Val::Int(0),
                Type::Double => Val::Double(0.0),
                Type::String => Val::Str(Cow::Borrowed("")),
            },
        }
    }

    fn has(&self, var: VarRef) -> bool {
        self.values[var.0 as usize].is_some()
    }
}

fn compile_any(src: &str) -> CompiledExpr {
    compile(src, &TestScope, Expect::Any).unwrap_or_else(|e| panic!("{src}: {e} ({:?})", e.hint))
}

fn run_with(src: &str, values: &[(&str, Val<'static>)]) -> Result<Val<'static>, EvalError> {
    let expr = compile_any(src);
    let vars = TestVars::new(values);
    expr.eval(&vars).map(Val::into_owned)
}

fn run(src: &str) -> Result<Val<'static>, EvalError> {
    run_with(src, &[])
}

fn err(src: &str) -> ExprError {
    match compile(src, &TestScope, Expect::Any) {
        Ok(_) => panic!("{src} compiled"),
        Err(e) => e,
    }
}

fn hint(e: &ExprError) -> &str {
    e.hint.as_deref().unwrap_or("")
}

fn int(i: i64) -> Result<Val<'static>, EvalError> {
    Ok(Val::Int(i))
}

fn dbl(d: f64) -> Result<Val<'static>, EvalError> {
    Ok(Val::Double(d))
}

fn boolean(b: bool) -> Result<Val<'static>, EvalError> {
    Ok(Val::Bool(b))
}

fn string(s: &str) -> Result<Val<'static>, EvalError> {
    Ok(Val::Str(Cow::Owned(s.to_owned())))
}

// ---------------------------------------------------------------------------
// Literals
// ---------------------------------------------------------------------------

#[test]
fn literals() {
    assert_eq!(run("42"), int(42));
    assert_eq!(run("-42"), int(-42));
    assert_eq!(run("0x10"), int(16));
    assert_eq!(run("7u"), int(7));
    assert_eq!(run("9223372036854775807u"), int(i64::MAX));
    assert_eq!(run("-9223372036854775808"), int(i64::MIN));
    assert_eq!(run("2.5"), dbl(2.5));
    assert_eq!(run("1e3"), dbl(1000.0));
    assert_eq!(run("true"), boolean(true));
    assert_eq!(run("'hi'"), string("hi"));
    assert_eq!(run("\"a\\tb\""), string("a\tb"));
}

#[test]
fn uint_literal_out_of_int_range_is_a_compile_error() {
    let e = err("9223372036854775808u");
    assert!(e.message.contains("9223372036854775808u"), "{e}");
    assert!(e.message.contains("does not fit"), "{e}");
}

#[test]
fn null_bytes_maps_and_messages_are_unsupported() {
    for src in ["null", "b'abc'", "{'a': 1}", "Foo{a: 1}", "[1, 2]", "s1[0]"] {
        let e = err(src);
        assert!(
            e.message.contains("unsupported in Revenue Engine expressions"),
            "{src}: {e}"
        );
        assert!(e.hint.is_some(), "{src}");
    }
}

// ---------------------------------------------------------------------------
// Identifiers, has()
// ---------------------------------------------------------------------------

#[test]
fn identifiers_and_field_selections_resolve_through_the_scope() {
    let values = [
        ("page_views", Val::Int(7)),
        ("event.amount", Val::Double(12.5)),
        ("event.country", Val::from("FR")),
    ];
    assert_eq!(run_with("page_views", &values), int(7));
    assert_eq!(run_with("event.amount", &values), dbl(12.5));
    assert_eq!(run_with("event.country == 'FR'", &values), boolean(true));
    assert_eq!(compile_any("event.amount").result_type(), Type::Double);
}

#[test]
fn unknown_identifier_suggests_the_closest_name() {
    let e = err("pge_views > 3");
    assert_eq!(e.message, "unknown identifier `pge_views`");
    assert_eq!(hint(&e), "did you mean `page_views`?");

    let e = err("event.amout > 3.0");
    assert_eq!(e.message, "unknown identifier `event.amout`");
    assert_eq!(hint(&e), "did you mean `event.amount`?");
}

#[test]
fn unknown_identifier_far_from_any_name_lists_candidates() {
    let e = err("completely_unrelated_name");
    assert!(hint(&e).starts_with("known identifiers: "), "{e:?}");
    assert!(hint(&e).contains("`amount`"), "{e:?}");

    let e = compile("x", &EmptyScope, Expect::Any).unwrap_err();
    assert_eq!(e.message, "unknown identifier `x`");
    assert_eq!(hint(&e), "no identifiers are defined here");
}

#[test]
fn references_are_distinct_in_first_use_order() {
    let expr = compile_any("i2 > 0 && i1 > i2 || has(event.coupon) && i1 in [1, i2]");
    let index = |name: &str| VarRef(NAMES.iter().position(|(n, _)| *n == name).unwrap() as u32);
    assert_eq!(expr.references(), &[index("i2"), index("i1"), index("event.coupon")]);
    assert!(compile_any("1 + 2").references().is_empty());
}

#[test]
fn has_uses_vars_presence() {
    assert_eq!(
        run_with("has(event.coupon)", &[("event.coupon", Val::from("X"))]),
        boolean(true)
    );
    assert_eq!(run("has(event.coupon)"), boolean(false));
    assert_eq!(
        run_with(
            "has(event.coupon) && event.coupon.startsWith('SUMMER')",
            &[("event.coupon", Val::from("SUMMER24"))]
        ),
        boolean(true)
    );
    assert_eq!(compile_any("has(event.amount)").result_type(), Type::Bool);
}

#[test]
fn has_needs_a_resolvable_field_path() {
    let e = err("has(event.nope)");
    assert_eq!(e.message, "unknown identifier `event.nope`");
    let e = err("has((i1 + 1).x)");
    assert!(e.message.contains("has()"), "{e}");
}

#[test]
fn field_selection_on_a_computed_value_is_unsupported() {
    let e = err("(i1 + 1).x");
    assert!(e.message.contains("unsupported"), "{e}");
}

#[test]
fn default_has_is_true() {
    struct Always;
    impl Vars for Always {
        fn get(&self, _: VarRef) -> Val<'_> {
            Val::Int(1)
        }
    }
    let expr = compile_any("has(event.coupon)");
    assert_eq!(expr.eval_bool(&Always), Ok(true));
}

// ---------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------

#[test]
fn int_arithmetic() {
    let v = [("i1", Val::Int(-7)), ("i2", Val::Int(2))];
    assert_eq!(run_with("i1 + i2", &v), int(-5));
    assert_eq!(run_with("i1 - i2", &v), int(-9));
    assert_eq!(run_with("i1 * i2", &v), int(-14));
    assert_eq!(run_with("i1 / i2", &v), int(-3), "truncates toward zero");
    assert_eq!(run_with("i1 % i2", &v), int(-1), "sign of the dividend");
    assert_eq!(run_with("-i1", &v), int(7));
    assert_eq!(run("2 + 3 * 4"), int(14));
}

#[test]
fn double_arithmetic_is_ieee() {
    let v = [("d1", Val::Double(1.5)), ("d2", Val::Double(0.0))];
    assert_eq!(run_with("d1 + 2.0", &v), dbl(3.5));
    assert_eq!(run_with("d1 - 2.0", &v), dbl(-0.5));
    assert_eq!(run_with("d1 * 2.0", &v), dbl(3.0));
    assert_eq!(run_with("d1 / d2", &v), dbl(f64::INFINITY));
    assert_eq!(run_with("-d1 / d2", &v), dbl(f64::NEG_INFINITY));
    let nan = run_with("d2 / d2", &v).unwrap();
    assert!(matches!(nan, Val::Double(d) if d.is_nan()));
    assert_eq!(run_with("-d1", &v), dbl(-1.5));
}

#[test]
fn string_concatenation() {
    assert_eq!(
        run_with("s1 + '-' + s2", &[("s1", Val::from("a")), ("s2", Val::from("b"))]),
        string("a-b")
    );
    assert_eq!(run_with("s1 + ''", &[("s1", Val::from("x"))]), string("x"));
}

#[test]
fn mixing_int_and_double_is_a_type_error() {
    for src in ["i1 + d1", "d1 * 2", "1 + 1.0", "i1 - 0.5", "d1 / i2"] {
        let e = err(src);
        assert!(
            e.message.contains("int and double") || e.message.contains("double and int"),
            "{src}: {e}"
        );
        assert!(hint(&e).contains("convert with double(x) or int(x)"), "{src}: {e:?}");
    }
    let e = err("page_views + 1.5");
    assert!(
        e.message.contains("`page_views + 1.5`"),
        "names the sub-expression: {e}"
    );
}

#[test]
fn double_modulus_and_bad_operands_are_type_errors() {
    let e = err("d1 % 2.0");
    assert!(e.message.contains("`%`") && e.message.contains("double"), "{e}");
    for src in ["b1 + b2", "s1 - s2", "-s1", "-b1", "s1 * 2"] {
        let e = err(src);
        assert!(e.message.contains("cannot be applied"), "{src}: {e}");
    }
}

#[test]
fn int_overflow_is_an_evaluation_error() {
    let max = [("i1", Val::Int(i64::MAX)), ("i2", Val::Int(i64::MIN))];
    assert_eq!(run_with("i1 + 1", &max), Err(EvalError::Overflow("addition")));
    assert_eq!(run_with("i2 - 1", &max), Err(EvalError::Overflow("subtraction")));
    assert_eq!(run_with("i1 * 2", &max), Err(EvalError::Overflow("multiplication")));
    assert_eq!(run_with("-i2", &max), Err(EvalError::Overflow("negation")));
    assert_eq!(run_with("i2 / -1", &max), Err(EvalError::Overflow("division")));
    assert_eq!(run_with("i2 % -1", &max), Err(EvalError::Overflow("modulus")));
    assert_eq!(
        EvalError::Overflow("addition").to_string(),
        "integer overflow in addition"
    );
}

#[test]
fn division_and_modulus_by_zero() {
    let v = [("i1", Val::Int(5)), ("i2", Val::Int(0))];
    assert_eq!(run_with("i1 / i2", &v), Err(EvalError::DivisionByZero));
    assert_eq!(run_with("i1 % i2", &v), Err(EvalError::ModulusByZero));
    // Constant subtrees that fail are left to fail at evaluation.
    assert_eq!(run("1 / 0"), Err(EvalError::DivisionByZero));
    assert_eq!(run("1 % 0"), Err(EvalError::ModulusByZero));
}

// ---------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------

#[test]
fn comparisons_of_each_type() {
    let v = [
        ("i1", Val::Int(3)),
        ("d1", Val::Double(2.5)),
        ("s1", Val::from("apple")),
        ("b1", Val::Bool(false)),
    ];
    let cases = [
        ("i1 < 4", true),
        ("i1 <= 3", true),
        ("i1 > 3", false),
        ("i1 >= 3", true),
        ("i1 == 3", true),
        ("i1 != 3", false),
        ("4 > i1", true),
        ("i1 < i1 + 1", true),
        ("d1 < 3.0", true),
        ("d1 >= 2.5", true),
        ("3.0 > d1", true),
        ("d1 == 2.5", true),
        // heterogeneous numeric comparisons
        ("i1 > d1", true),
        ("d1 < i1", true),
        ("i1 == 3.0", true),
        ("d1 == 2", false),
        ("d1 > 2", true),
        ("2 < d1", true),
        ("i1 != 3.5", true),
        ("i1 + 1 > d1 * 2.0", false),
        // strings by bytes, bools false < true
        ("s1 < 'banana'", true),
        ("s1 > 'Apple'", true),
        ("s1 == 'apple'", true),
        ("'a' < 'ab'", true),
        ("b1 < true", true),
        ("b1 == false", true),
        ("true > false", true),
        ("b1 != true", true),
    ];
    for (src, expected) in cases {
        assert_eq!(run_with(src, &v), boolean(expected), "{src}");
    }
}

#[test]
fn comparing_incompatible_types_is_a_compile_error() {
    for src in ["s1 < i1", "s1 == 1", "b1 == 1", "d1 > b1", "'1' == 1"] {
        let e = err(src);
        assert!(e.message.starts_with("cannot compare"), "{src}: {e}");
        assert!(
            e.message.contains(&format!("`{}`", src.replace('\'', "\""))),
            "{src}: {e}"
        );
    }
}

#[test]
fn nan_equality_is_false_and_ordering_is_an_error() {
    let v = [("d1", Val::Double(f64::NAN)), ("i1", Val::Int(1))];
    assert_eq!(run_with("d1 == d1", &v), boolean(false));
    assert_eq!(run_with("d1 != d1", &v), boolean(true));
    assert_eq!(run_with("d1 == i1", &v), boolean(false));
    assert!(matches!(run_with("d1 < 1.0", &v), Err(EvalError::NotComparable(_))));
    assert!(matches!(run_with("i1 >= d1", &v), Err(EvalError::NotComparable(_))));
}

#[test]
fn var_constant_comparisons_are_specialised() {
    let expr = compile_any("page_views >= 5");
    assert!(matches!(expr.root, Node::CmpIntConst { .. }));
    let expr = compile_any("1000.0 < amount");
    assert!(matches!(expr.root, Node::CmpDoubleConst { .. }));
    let expr = compile_any("amount > 1000");
    assert!(matches!(expr.root, Node::CmpDoubleConst { .. }));
    let v = [("page_views", Val::Int(5)), ("amount", Val::Double(1000.5))];
    let vars = TestVars::new(&v);
    let expr = compile("page_views >= 5 && amount > 1000.0", &TestScope, Expect::Bool).unwrap();
    assert_eq!(expr.eval_bool(&vars), Ok(true));
    assert_eq!(compile_any("1000 >= amount").eval_bool(&vars), Ok(false));
    assert_eq!(compile_any("5 < page_views").eval_bool(&vars), Ok(false));
}

// ---------------------------------------------------------------------------
// Logic
// ---------------------------------------------------------------------------

#[test]
fn logic_operators() {
    let v = [("b1", Val::Bool(true)), ("b2", Val::Bool(false))];
    assert_eq!(run_with("b1 && b2", &v), boolean(false));
    assert_eq!(run_with("b1 || b2", &v), boolean(true));
    assert_eq!(run_with("!b2", &v), boolean(true));
    assert_eq!(run_with("!(b1 && !b2)", &v), boolean(false));
}

#[test]
fn logic_operators_need_bools() {
    for src in ["i1 && b1", "b1 || 'x'", "!i1", "d1 || d2"] {
        let e = err(src);
        assert!(e.message.contains("cannot be applied"), "{src}: {e}");
        assert!(hint(&e).contains("x > 0"), "{src}: {e:?}");
    }
}

#[test]
fn commutative_error_semantics() {
    // i2 == 0, so `i1 / i2 > 0` is an error.
    let v = [("i1", Val::Int(1)), ("i2", Val::Int(0))];
    let error = "i1 / i2 > 0";
    let cases = [
        (format!("false && {error}"), boolean(false)),
        (format!("{error} && false"), boolean(false)),
        (format!("true || {error}"), boolean(true)),
        (format!("{error} || true"), boolean(true)),
        (format!("true && {error}"), Err(EvalError::DivisionByZero)),
        (format!("{error} && true"), Err(EvalError::DivisionByZero)),
        (format!("false || {error}"), Err(EvalError::DivisionByZero)),
        (format!("{error} || false"), Err(EvalError::DivisionByZero)),
        (format!("{error} && {error}"), Err(EvalError::DivisionByZero)),
        (format!("!({error})"), Err(EvalError::DivisionByZero)),
        // Constants too: errors are not folded away at compile time.
        ("1 / 0 > 0 && false".to_owned(), boolean(false)),
        ("1 / 0 > 0 || true".to_owned(), boolean(true)),
        ("true && 1 / 0 > 0".to_owned(), Err(EvalError::DivisionByZero)),
    ];
    for (src, expected) in cases {
        assert_eq!(run_with(&src, &v), expected, "{src}");
    }
}

// ---------------------------------------------------------------------------
// Ternary
// ---------------------------------------------------------------------------

#[test]
fn conditional() {
    let v = [("b1", Val::Bool(true)), ("i1", Val::Int(0))];
    assert_eq!(run_with("b1 ? 1 : 2", &v), int(1));
    assert_eq!(run_with("!b1 ? 'a' : 'b'", &v), string("b"));
    assert_eq!(run_with("i1 > 0 ? 1.5 : 2.5", &v), dbl(2.5));
    // Only the chosen branch is evaluated.
    assert_eq!(run_with("b1 ? 1 : 1 / i1", &v), int(1));
    assert_eq!(run("true ? 1 : 1 / 0"), int(1));
    assert_eq!(run_with("i1 / i1 > 0 ? 1 : 2", &v), Err(EvalError::DivisionByZero));
}

#[test]
fn conditional_type_errors() {
    let e = err("b1 ? 1 : 2.0");
    assert!(e.message.contains("different types"), "{e}");
    assert!(hint(&e).contains("double(x) or int(x)"), "{e:?}");
    let e = err("b1 ? 'a' : 1");
    assert!(e.message.contains("different types"), "{e}");
    let e = err("i1 ? 1 : 2");
    assert!(e.message.contains("must be a bool"), "{e}");
}

// ---------------------------------------------------------------------------
// in
// ---------------------------------------------------------------------------

#[test]
fn membership_in_list_literals() {
    let v = [
        ("i1", Val::Int(2)),
        ("i2", Val::Int(9)),
        ("d1", Val::Double(2.0)),
        ("s1", Val::from("FR")),
        ("b1", Val::Bool(true)),
    ];
    let cases = [
        ("i1 in [1, 2, 3]", true),
        ("i1 in [1, 3]", false),
        ("i1 in [1.5, 2.0]", true),
        ("i1 in [1, 2.5]", false),
        ("d1 in [1, 2]", true),
        ("d1 in [2.5]", false),
        ("s1 in ['DE', 'FR']", true),
        ("s1 in ['DE']", false),
        ("b1 in [true]", true),
        ("i1 in []", false),
        ("i2 in [i1, i1 + 7]", true),
        ("i2 in [i1, 8.9]", false),
        ("s1 in [s1 + 'x']", false),
    ];
    for (src, expected) in cases {
        assert_eq!(run_with(src, &v), boolean(expected), "{src}");
    }
    assert!(matches!(compile_any("i1 in [1, 2]").root, Node::InInts(..)));
    assert!(matches!(compile_any("s1 in ['a']").root, Node::InStrs(..)));
    assert_eq!(run("2 in [1, 2]"), boolean(true));
}

#[test]
fn membership_evaluates_every_element() {
    let v = [("i1", Val::Int(1)), ("i2", Val::Int(0))];
    assert_eq!(run_with("i1 in [1, i1 / i2]", &v), Err(EvalError::DivisionByZero));
}

#[test]
fn membership_type_errors() {
    let e = err("i1 in ['a', 'b']");
    assert!(e.message.contains("list element"), "{e}");
    let e = err("s1 in s2");
    assert!(e.message.contains("unsupported"), "{e}");
    assert!(hint(&e).contains("x in [1, 2, 3]"), "{e:?}");
}

// ---------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------

#[test]
fn double_conversion() {
    let v = [("i1", Val::Int(3)), ("s1", Val::from("2.5")), ("s2", Val::from("abc"))];
    assert_eq!(run_with("double(i1)", &v), dbl(3.0));
    assert_eq!(run_with("double(s1)", &v), dbl(2.5));
    assert_eq!(run_with("double(2.5)", &v), dbl(2.5));
    assert_eq!(run_with("double(i1) + 0.5", &v), dbl(3.5));
    assert!(matches!(run_with("double(s2)", &v), Err(EvalError::Conversion(_))));
    assert!(err("double(b1)").message.contains("no overload"));
}

#[test]
fn int_conversion() {
    let v = [
        ("d1", Val::Double(-2.9)),
        ("d2", Val::Double(1e19)),
        ("s1", Val::from("-42")),
        ("s2", Val::from("4.2")),
    ];
    assert_eq!(run_with("int(d1)", &v), int(-2), "truncates toward zero");
    assert_eq!(run_with("int(2.9)", &v), int(2));
    assert_eq!(run_with("int(s1)", &v), int(-42));
    assert_eq!(run_with("int(7)", &v), int(7));
    assert!(matches!(run_with("int(d2)", &v), Err(EvalError::Conversion(_))));
    assert!(matches!(run_with("int(s2)", &v), Err(EvalError::Conversion(_))));
    assert!(matches!(
        run("int(-9223372036854775808.0)"),
        Err(EvalError::Conversion(_))
    ));
    assert_eq!(run("int(9223372036854774784.0)"), int(9223372036854774784));
    assert!(err("int(true)").message.contains("no overload"));
}

#[test]
fn string_conversion_and_string_functions() {
    let v = [
        ("s1", Val::from("héllo")),
        ("i1", Val::Int(-5)),
        ("d1", Val::Double(2.5)),
    ];
    assert_eq!(run_with("string(i1)", &v), string("-5"));
    assert_eq!(run_with("string(d1)", &v), string("2.5"));
    assert_eq!(run_with("string(1.0)", &v), string("1"));
    assert_eq!(run_with("string(true)", &v), string("true"));
    assert_eq!(run_with("string(s1)", &v), string("héllo"));
    assert_eq!(run_with("size(s1)", &v), int(5), "code points, not bytes");
    assert_eq!(run_with("s1.size()", &v), int(5));
    assert_eq!(run_with("s1.startsWith('hé')", &v), boolean(true));
    assert_eq!(run_with("s1.endsWith('llo')", &v), boolean(true));
    assert_eq!(run_with("s1.contains('ll')", &v), boolean(true));
    assert_eq!(run_with("s1.contains('x')", &v), boolean(false));
    assert!(err("size(i1)").message.contains("no overload"));
    assert!(err("s1.startsWith(1)").message.contains("no overload"));
    assert!(err("startsWith(s1, 'a')").message.contains("unknown function"));
}

#[test]
fn round_extension() {
    let cases = [
        ("round(2.71828, 2)", 2.72),
        ("round(2.5, 0)", 2.0),
        ("round(3.5, 0)", 4.0),
        ("round(-2.5, 0)", -2.0),
        ("round(0.125, 2)", 0.12),
        // 1.005 is stored as 1.00499999999999989…: it rounds down, although 1.005 * 100 = 100.5
        ("round(1.005, 2)", 1.0),
        ("round(2.675, 2)", 2.67),
        ("round(1234.5, -2)", 1200.0),
        ("round(1.5, 400)", 1.5),
        ("round(1.5, -400)", 0.0),
    ];
    for (src, expected) in cases {
        assert_eq!(run(src), dbl(expected), "{src}");
    }
    let e = err("round(3, 1)");
    assert!(hint(&e).contains("double(x)"), "{e:?}");
    let e = err("round(3.0)");
    assert!(e.message.contains("does not take 1 argument"), "{e}");
}

#[test]
fn min_max_abs_extensions() {
    let v = [("i1", Val::Int(-3)), ("d1", Val::Double(f64::NAN))];
    assert_eq!(run_with("min(i1, 2)", &v), int(-3));
    assert_eq!(run_with("max(i1, 2)", &v), int(2));
    assert_eq!(run("min(1.5, 2.5)"), dbl(1.5));
    assert_eq!(run("max(1.5, 2.5)"), dbl(2.5));
    assert_eq!(run_with("abs(i1)", &v), int(3));
    assert_eq!(run("abs(-2.5)"), dbl(2.5));
    assert_eq!(
        run_with("abs(i1)", &[("i1", Val::Int(i64::MIN))]),
        Err(EvalError::Overflow("abs"))
    );
    assert!(matches!(run_with("max(d1, 1.0)", &v), Err(EvalError::NotComparable(_))));
    let e = err("max(i1, 2.0)");
    assert!(hint(&e).contains("double(x) or int(x)"), "{e:?}");
    assert!(err("abs('x')").message.contains("no overload"));
}

#[test]
fn unknown_functions_and_methods() {
    let e = err("mx(i1, 2)");
    assert!(e.message.contains("unknown function `mx`"), "{e}");
    assert_eq!(hint(&e), "did you mean `max`?");
    let e = err("s1.startswith('a')");
    assert!(e.message.contains("unknown method `startswith`"), "{e}");
    assert_eq!(hint(&e), "did you mean `startsWith`?");
    let e = err("math.sqrt(d1)");
    assert!(e.message.contains("unknown function `math.sqrt`"), "{e}");
    let e = err("s1.matches('a.*')");
    assert!(e.message.contains("unknown method `matches`"), "{e}");
}

#[test]
fn macros_are_unsupported() {
    for src in [
        "[1, 2].all(x, x > 0)",
        "[1, 2].exists(x, x > i1)",
        "[1, 2].exists_one(x, x > 0)",
        "[1, 2].map(x, x * 2)",
        "[1, 2].filter(x, x > 0)",
    ] {
        let e = err(src);
        assert!(e.message.contains("unsupported"), "{src}: {e}");
        assert!(e.message.contains("macros"), "{src}: {e}");
        assert!(e.hint.is_some(), "{src}");
    }
}

// ---------------------------------------------------------------------------
// Result types, parse errors, API
// ---------------------------------------------------------------------------

#[test]
fn expected_result_types() {
    let e = compile("d1 * 2.0", &TestScope, Expect::Bool).unwrap_err();
    assert_eq!(e.message, "expression must be a bool condition, got double");
    assert!(e.hint.is_some());
    let e = compile("b1", &TestScope, Expect::Number).unwrap_err();
    assert_eq!(e.message, "expression must be a number (int or double), got bool");
    let e = compile("s1", &TestScope, Expect::Number).unwrap_err();
    assert!(e.message.ends_with("got string"), "{e}");
    assert!(compile("i1", &TestScope, Expect::Number).is_ok());
    assert!(compile("d1", &TestScope, Expect::Number).is_ok());
    assert!(compile("b1", &TestScope, Expect::Bool).is_ok());
    assert!(compile("s1", &TestScope, Expect::Any).is_ok());
}

#[test]
fn parse_errors_carry_line_and_column() {
    let e = err("i1 +");
    assert!(e.message.starts_with("invalid expression: 1:5:"), "{e}");
    let e = err("b1 &&\n  (i1 > ");
    assert!(e.message.contains("2:"), "{e}");
    assert!(hint(&e).contains("line 2"), "{e:?}");
    let e = err("");
    assert!(e.message.starts_with("invalid expression"), "{e}");
}

#[test]
fn eval_helpers() {
    let v = TestVars::new(&[("i1", Val::Int(4)), ("d1", Val::Double(0.5))]);
    let expr = compile_any("i1 * 2");
    assert_eq!(expr.source(), "i1 * 2");
    assert_eq!(expr.result_type(), Type::Int);
    assert_eq!(expr.eval_f64(&v), Ok(8.0));
    assert_eq!(compile_any("d1 + 1.0").eval_f64(&v), Ok(1.5));
    assert_eq!(compile_any("i1 > 3").eval_bool(&v), Ok(true));
    assert!(matches!(expr.eval_bool(&v), Err(EvalError::TypeMismatch { .. })));
    assert!(matches!(
        compile_any("b1").eval_f64(&v),
        Err(EvalError::TypeMismatch { .. })
    ));
    // Through a trait object.
    let dynamic: &dyn Vars = &v;
    assert_eq!(compile_any("i1 > 3").eval_bool(&dynamic), Ok(true));
}

#[test]
fn string_results_borrow_when_they_can() {
    let v = TestVars::new(&[("s1", Val::from("abc"))]);
    let expr = compile_any("s1");
    assert!(matches!(expr.eval(&v), Ok(Val::Str(Cow::Borrowed("abc")))));
    let expr = compile_any("b1 ? 'yes' : 'no'");
    assert!(matches!(expr.eval(&v), Ok(Val::Str(Cow::Borrowed("no")))));
}

#[test]
fn vars_of_the_wrong_type_are_an_evaluation_error() {
    struct Wrong;
    impl Vars for Wrong {
        fn get(&self, _: VarRef) -> Val<'_> {
            Val::from("oops")
        }
    }
    assert_eq!(
        compile_any("page_views >= 5").eval_bool(&Wrong),
        Err(EvalError::TypeMismatch {
            expected: Type::Int,
            got: Type::String
        })
    );
    assert!(matches!(
        compile_any("i1").eval(&Wrong),
        Err(EvalError::TypeMismatch { .. })
    ));
}

#[test]
fn constants_are_folded() {
    assert!(matches!(compile_any("1 + 2 * 3").root, Node::Const(Val::Int(7))));
    assert!(matches!(compile_any("double(2) / 4.0").root, Node::Const(Val::Double(d)) if d == 0.5));
    assert!(matches!(
        compile_any("'a' + 'b' == 'ab'").root,
        Node::Const(Val::Bool(true))
    ));
    assert!(matches!(compile_any("1 / 0").root, Node::DivInt(..)));
    assert!(matches!(compile_any("true ? i1 : 2").root, Node::Var(..)));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = vec!["i1"; 400].join(" + ");
    let e = err(&src);
    assert!(e.message.contains("nested too deeply"), "{e}");
    let src = format!("{}1{}", "(".repeat(300), ")".repeat(300));
    assert!(compile(&src, &TestScope, Expect::Any).is_err());
    // The deepest accepted expressions compile and evaluate on a test
    // thread's 2 MiB stack, even in a debug build.
    let src = vec!["i1"; 100].join(" + ");
    let v = TestVars::new(&[("i1", Val::Int(1))]);
    assert_eq!(compile_any(&src).eval(&v), Ok(Val::Int(100)));
    let src = vec!["i1"; 101].join(" + ");
    assert!(err(&src).message.contains("nested too deeply"));
    let src = format!("{}i1{}", "-(".repeat(90), ")".repeat(90));
    assert_eq!(compile_any(&src).eval(&v), Ok(Val::Int(1)));
    let src = format!("{}b1{}", "!(".repeat(91), ")".repeat(91));
    assert_eq!(compile_any(&src).eval(&v), Ok(Val::Bool(true)));
    let src = format!("{}i1{}", "(b1 ? 1 : ".repeat(45), ")".repeat(45));
    assert_eq!(compile_any(&src).eval(&v), Ok(Val::Int(1)));
}

#[test]
fn overlong_source_is_an_error() {
    let src = format!("i1 > 0{}", " ".repeat(9000));
    let e = err(&src);
    assert!(e.message.contains("too long"), "{e}");
}

#[test]
fn compiled_expressions_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CompiledExpr>();
    assert_send_sync::<ExprError>();
    assert_send_sync::<EvalError>();
}

#[test]
fn val_helpers() {
    assert_eq!(Val::Int(2).as_f64(), Some(2.0));
    assert_eq!(Val::Double(2.5).as_f64(), Some(2.5));
    assert_eq!(Val::Bool(true).as_f64(), None);
    assert_eq!(Val::from("x").ty(), Type::String);
    assert_eq!(Type::Double.to_string(), "double");
    assert_eq!(Type::Bool.to_string(), "bool");
    let owned: Val<'static> = {
        let s = String::from("tmp");
        Val::from(s.as_str()).into_owned()
    };
    assert_eq!(owned, Val::from("tmp"));
}

/// Proptest configuration: `cases`, and no failure files written into the
/// source tree (`agrees_with_the_cel_interpreter_on_edge_cases` keeps the
/// interesting cases instead).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// No expression text makes `compile` (or evaluating what compiles) panic.
    #[test]
    fn arbitrary_text_never_panics(src in "[a-z0-9_ .+*/%<>=!&|?:()\\[\\]'\"-]{0,40}") {
        if let Ok(expr) = compile(&src, &TestScope, Expect::Any) {
            let _ = expr.eval(&TestVars::new(&[]));
        }
    }
}

// ---------------------------------------------------------------------------
// Differential test against the `cel` crate's interpreter
// ---------------------------------------------------------------------------
//
// Expressions are generated well-typed over int (`i1`, `i2`), double (`d1`,
// `d2`), bool (`b1`, `b2`) and string (`s1`) variables and constants, with
// arithmetic, comparisons (heterogeneous int/double ones included), logic,
// ternaries, `in` lists and int/double/string conversions. The `cel`
// interpreter supports all of these as CEL specifies them, so nothing had to
// be excluded; it does order NaN as an error (`NaN < 1.0` fails), which we
// follow. Both being errors counts as agreement: the error values differ.

fn int_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-10i64..=10).prop_map(|i| format!("({i})")),
        1 => any::<i64>().prop_map(|i| format!("({i})")),
        1 => Just(format!("({})", i64::MAX)),
        1 => Just(format!("({})", i64::MIN)),
    ]
}

fn double_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (-40i32..=40).prop_map(|i| f64::from(i) / 4.0),
        1 => -1e300f64..1e300,
        1 => Just(9.2e18),
        1 => Just(-0.0),
    ]
    .prop_map(|d| format!("({d:?})"))
}

fn int_expr(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![Just("i1".to_owned()), Just("i2".to_owned()), int_literal(),];
    if depth == 0 {
        return leaf.boxed();
    }
    let d = depth - 1;
    prop_oneof![
        3 => leaf,
        3 => (int_expr(d), prop_oneof![Just("+"), Just("-"), Just("*"), Just("/"), Just("%")], int_expr(d))
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => int_expr(d).prop_map(|a| format!("-({a})")),
        1 => double_expr(d).prop_map(|a| format!("int({a})")),
        1 => string_expr(d).prop_map(|a| format!("size({a})")),
        1 => (bool_expr(d), int_expr(d), int_expr(d)).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
    ]
    .boxed()
}

fn double_expr(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![Just("d1".to_owned()), Just("d2".to_owned()), double_literal(),];
    if depth == 0 {
        return leaf.boxed();
    }
    let d = depth - 1;
    prop_oneof![
        3 => leaf,
        3 => (double_expr(d), prop_oneof![Just("+"), Just("-"), Just("*"), Just("/")], double_expr(d))
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => double_expr(d).prop_map(|a| format!("-({a})")),
        1 => int_expr(d).prop_map(|a| format!("double({a})")),
        1 => (bool_expr(d), double_expr(d), double_expr(d)).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
    ]
    .boxed()
}

fn cmp_op() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("<"), Just("<="), Just(">"), Just(">="), Just("=="), Just("!=")]
}

fn bool_expr(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("b1".to_owned()),
        Just("b2".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let d = depth - 1;
    prop_oneof![
        2 => leaf,
        2 => (int_expr(d), cmp_op(), int_expr(d)).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        2 => (double_expr(d), cmp_op(), double_expr(d)).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        2 => (int_expr(d), cmp_op(), double_expr(d)).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => (double_expr(d), cmp_op(), int_expr(d)).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => (bool_expr(d), cmp_op(), bool_expr(d)).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => (string_expr(d), cmp_op(), string_expr(d)).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        3 => (bool_expr(d), prop_oneof![Just("&&"), Just("||")], bool_expr(d))
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => bool_expr(d).prop_map(|a| format!("!({a})")),
        1 => (bool_expr(d), bool_expr(d), bool_expr(d)).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        1 => (int_expr(d), prop::collection::vec(prop_oneof![int_expr(0), double_expr(0)], 0..4))
            .prop_map(|(x, l)| format!("({x} in [{}])", l.join(", "))),
        1 => (double_expr(d), prop::collection::vec(prop_oneof![int_expr(0), double_expr(0)], 0..4))
            .prop_map(|(x, l)| format!("({x} in [{}])", l.join(", "))),
        1 => (string_expr(d), prop_oneof![Just("startsWith"), Just("endsWith"), Just("contains")], string_expr(d))
            .prop_map(|(a, f, b)| format!("{a}.{f}({b})")),
    ]
    .boxed()
}

fn string_expr(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("s1".to_owned()),
        Just("'ab'".to_owned()),
        Just("''".to_owned()),
        Just("'é1'".to_owned()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let d = depth - 1;
    prop_oneof![
        3 => leaf,
        1 => (string_expr(d), string_expr(d)).prop_map(|(a, b)| format!("({a} + {b})")),
        1 => int_expr(d).prop_map(|a| format!("string({a})")),
        1 => double_expr(d).prop_map(|a| format!("string({a})")),
        1 => bool_expr(d).prop_map(|a| format!("string({a})")),
    ]
    .boxed()
}

fn any_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => bool_expr(4),
        2 => int_expr(4),
        2 => double_expr(4),
        1 => string_expr(3),
    ]
}

fn int_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -10i64..=10,
        1 => any::<i64>(),
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
    ]
}

fn double_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-40i32..=40).prop_map(|i| f64::from(i) / 4.0),
        1 => proptest::num::f64::ANY,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-0.0),
        1 => Just(1e300),
    ]
}

#[derive(Debug, Clone)]
struct Inputs {
    i: [i64; 2],
    d: [f64; 2],
    b: [bool; 2],
    s: String,
}

fn inputs() -> impl Strategy<Value = Inputs> {
    (
        [int_value(), int_value()],
        [double_value(), double_value()],
        any::<[bool; 2]>(),
        prop_oneof![
            Just(String::new()),
            Just("ab".to_owned()),
            Just("é1-x".to_owned()),
            "[a-c1é]{0,4}"
        ],
    )
        .prop_map(|(i, d, b, s)| Inputs { i, d, b, s })
}

fn same_double(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Evaluates `src` with both evaluators and fails unless they agree; returns
/// whether both produced a value.
fn check_against_cel(src: &str, inputs: &Inputs) -> Result<bool, TestCaseError> {
    let ours = compile(src, &TestScope, Expect::Any)
        .map_err(|e| TestCaseError::fail(format!("{src} does not compile: {e} ({:?})", e.hint)))?;
    let vars = TestVars::new(&[
        ("i1", Val::Int(inputs.i[0])),
        ("i2", Val::Int(inputs.i[1])),
        ("d1", Val::Double(inputs.d[0])),
        ("d2", Val::Double(inputs.d[1])),
        ("b1", Val::Bool(inputs.b[0])),
        ("b2", Val::Bool(inputs.b[1])),
        ("s1", Val::Str(Cow::Owned(inputs.s.clone()))),
    ]);
    let ours = ours.eval(&vars);

    let program =
        cel::Program::compile(src).map_err(|e| TestCaseError::fail(format!("cel does not parse {src}: {e}")))?;
    let mut context = cel::Context::default();
    context.add_variable_from_value("i1", cel::Value::Int(inputs.i[0]));
    context.add_variable_from_value("i2", cel::Value::Int(inputs.i[1]));
    context.add_variable_from_value("d1", cel::Value::Float(inputs.d[0]));
    context.add_variable_from_value("d2", cel::Value::Float(inputs.d[1]));
    context.add_variable_from_value("b1", cel::Value::Bool(inputs.b[0]));
    context.add_variable_from_value("b2", cel::Value::Bool(inputs.b[1]));
    context.add_variable_from_value("s1", cel::Value::from(inputs.s.clone()));
    let theirs = program.execute(&context);

    let agree = match (&ours, &theirs) {
        (Err(_), Err(_)) => true,
        (Ok(Val::Int(a)), Ok(cel::Value::Int(b))) => a == b,
        (Ok(Val::Double(a)), Ok(cel::Value::Float(b))) => same_double(*a, *b),
        (Ok(Val::Bool(a)), Ok(cel::Value::Bool(b))) => a == b,
        (Ok(Val::Str(a)), Ok(cel::Value::String(b))) => a.as_ref() == b.as_str(),
        _ => false,
    };
    prop_assert!(agree, "{src}\ninputs: {inputs:?}\nours: {ours:?}\ncel: {theirs:?}");
    Ok(ours.is_ok())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn agrees_with_the_cel_interpreter(src in any_expr(), inputs in inputs()) {
        check_against_cel(&src, &inputs)?;
    }
}

/// The generator is not vacuous: most generated expressions evaluate to a
/// value rather than an error on both sides, and every result type occurs.
#[test]
fn differential_generator_mostly_produces_values() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let (mut values, mut total) = (0, 0);
    let mut types = std::collections::HashSet::new();
    let (exprs, inputs) = (any_expr(), inputs());
    for _ in 0..300 {
        let src = exprs.new_tree(&mut runner).unwrap().current();
        let inputs = inputs.new_tree(&mut runner).unwrap().current();
        total += 1;
        if check_against_cel(&src, &inputs).unwrap_or_else(|e| panic!("{e}")) {
            values += 1;
        }
        types.insert(compile_any(&src).result_type());
    }
    assert!(values * 2 > total, "only {values} of {total} produced values");
    assert_eq!(types.len(), 4);
}

/// Hand-picked edge cases for the differential check.
#[test]
fn agrees_with_the_cel_interpreter_on_edge_cases() {
    let inputs = Inputs {
        i: [i64::MAX, 0],
        d: [f64::NAN, -0.0],
        b: [true, false],
        s: "é1".to_owned(),
    };
    for src in [
        "i1 + 1",
        "i1 / i2",
        "i1 % i2",
        "-(-9223372036854775808)",
        "(-9223372036854775808) / (-1)",
        "(-9223372036854775808) % (-1)",
        "d1 < 1.0",
        "d1 == d1",
        "d1 != d1",
        "i1 == 9223372036854775807.0",
        "i1 < 9223372036854775807.0",
        "d2 == 0",
        "int(d1)",
        "int(9223372036854775807.0)",
        "int(-9223372036854774784.0)",
        "double(i1)",
        "1.0 / d2",
        "string(d2)",
        "string(1e300)",
        "string(0.1 + 0.2)",
        "string(b1)",
        "size(s1)",
        "(i1 / i2 > 0) && false",
        "false && (i1 / i2 > 0)",
        "(i1 / i2 > 0) || true",
        "(i1 / i2 > 0) || false",
        "true && (i1 / i2 > 0)",
        "i2 in [1, 0.0]",
        "d2 in [0]",
        "i1 in [9223372036854775807.0]",
        "b1 ? i1 : i2 / i2",
        "b2 ? i1 : i2 / i2",
        "!b1 == b2",
        "'a' < 'b' && 'é' > 'e'",
        "s1.startsWith('é')",
        "s1 + s1",
    ] {
        if let Err(e) = check_against_cel(src, &inputs) {
            panic!("{e}");
        }
    }
}
