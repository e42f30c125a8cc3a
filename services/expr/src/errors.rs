//! Why an expression did not compile or evaluate: the error types, and the
//! messages and hints built for each kind of mistake.
//!
//! The builders lowering calls are out of line and cold (see the note on
//! `Lowerer` in `lower`): lowering recurses once per level, and keeping their
//! locals off its frames keeps each level's stack small.

use std::fmt::Write as _;

use cel::common::ast::{operators, CallExpr, Expr, IdedExpr};
use cel::parser::ParseErrors;

use crate::lower::name_path;
use crate::render::{render, symbol};
use crate::suggest::did_you_mean_hint;
use crate::{Scope, Type, MAX_DEPTH};

/// Why an expression did not compile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// What is wrong, naming the offending sub-expression or identifier.
    pub message: String,
    /// How to fix it, when there is something to say.
    pub hint: Option<String>,
}

impl ExprError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ExprError {
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// `int` arithmetic overflowed; names the operation.
    #[error("integer overflow in {0}")]
    Overflow(&'static str),
    /// `int` division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// `int` modulus by zero.
    #[error("modulus by zero")]
    ModulusByZero,
    /// A conversion function (`int`, `double`) could not convert its argument.
    #[error("{0}")]
    Conversion(String),
    /// A propensity model could not score the row.
    #[error("model: {0}")]
    Model(String),
    /// An ordering comparison (`<`, `min`, ...) met a `NaN`, which CEL (as
    /// implemented by the `cel` crate) refuses to order; names the operation.
    #[error("NaN cannot be ordered in {0}")]
    NotComparable(&'static str),
    /// [`Vars::get`](crate::Vars::get) returned a value of another type than the [`Scope`]
    /// declared.
    #[error("expected a value of type {expected}, got {got}")]
    TypeMismatch {
        /// The type the expression needed.
        expected: Type,
        /// The type of the value found.
        got: Type,
    },
}

const SUFFIX: &str = "unsupported in Revenue Engine expressions";

/// Global functions, offered in "did you mean" hints.
const FUNCTIONS: [&str; 8] = ["double", "int", "string", "size", "round", "min", "max", "abs"];
/// Member functions, offered in "did you mean" hints.
const METHODS: [&str; 4] = ["startsWith", "endsWith", "contains", "size"];
/// CEL macros that expand to comprehensions.
const MACROS: [&str; 5] = ["all", "exists", "exists_one", "map", "filter"];

const MIX_HINT: &str = "CEL does not mix int and double here: convert with double(x) or int(x)";
const MACRO_HINT: &str = "compute the aggregate as a feature, or use `x in [..]` for membership";

/// The CEL parser's errors, each with its position, and a hint pointing at the first.
pub(crate) fn parse_error(source: &str, errors: &ParseErrors) -> ExprError {
    let mut message = String::from("invalid expression: ");
    for (i, error) in errors.errors.iter().enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        let msg = error.msg.strip_prefix("Syntax error: ").unwrap_or(&error.msg);
        let _ = write!(message, "{}:{}: {}", error.pos.0, error.pos.1, msg);
    }
    if errors.errors.is_empty() {
        message.push_str("syntax error");
    }
    let mut error = ExprError::new(message);
    // Point at the first error in the source.
    if let Some(first) = errors.errors.first() {
        let (line, column) = first.pos;
        let text = usize::try_from(line - 1).ok().and_then(|line| source.lines().nth(line));
        if let (Some(text), Ok(column @ 1..)) = (text, usize::try_from(column)) {
            error = error.with_hint(format!(
                "check the syntax at line {line}, column {column}:\n  {text}\n  {:>column$}",
                "^"
            ));
        }
    }
    error
}

pub(crate) fn parser_failed() -> ExprError {
    ExprError::new("invalid expression: the CEL parser failed on it").with_hint("check the expression's syntax")
}

pub(crate) fn too_deep() -> ExprError {
    ExprError::new(format!("expression nested too deeply (more than {MAX_DEPTH} levels)"))
        .with_hint("split the expression into smaller features")
}

#[cold]
#[inline(never)]
pub(crate) fn unknown_identifier(path: &[&str], scope: &dyn Scope) -> ExprError {
    let name = path.join(".");
    let candidates = scope.candidates();
    ExprError::new(format!("unknown identifier `{name}`")).with_hint(did_you_mean_hint(
        &name,
        &candidates,
        "identifiers",
    ))
}

#[cold]
#[inline(never)]
pub(crate) fn select_error(e: &IdedExpr) -> ExprError {
    match &e.expr {
        Expr::Select(select) if select.test => {
            ExprError::new(format!("`{}`: has() takes a field of a variable", render(e)))
                .with_hint("test a field such as `has(event.amount)`")
        }
        _ => unsupported(
            format!("field selection on a computed value `{}` is", render(e)),
            "select fields of variables only, e.g. `event.amount`",
        ),
    }
}

#[cold]
#[inline(never)]
pub(crate) fn unsupported_expr(e: &IdedExpr) -> ExprError {
    match &e.expr {
        Expr::List(_) => unsupported(
            format!("list `{}` is", render(e)),
            "lists are only supported on the right of `in`, e.g. `x in [1, 2]`",
        ),
        Expr::Map(_) => unsupported(
            format!("map `{}` is", render(e)),
            "use variables and literals of type bool, int, double or string",
        ),
        Expr::Struct(_) => unsupported(
            format!("message construction `{}` is", render(e)),
            "use variables and literals of type bool, int, double or string",
        ),
        Expr::Comprehension(_) => unsupported(
            "comprehension macros (`all`, `exists`, `exists_one`, `map`, `filter`) are",
            MACRO_HINT,
        ),
        _ => ExprError::new(format!("invalid expression `{}`", render(e))),
    }
}

/// A global call `call` doesn't handle: indexing, a known function with the
/// wrong number of arguments, a macro, or an unknown function.
#[cold]
#[inline(never)]
pub(crate) fn call_error(call: &CallExpr, e: &IdedExpr) -> ExprError {
    let n = call.args.len();
    match call.func_name.as_str() {
        operators::INDEX | operators::OPT_INDEX => unsupported(
            format!("indexing `{}` is", render(e)),
            "select fields by name, e.g. `event.amount`",
        ),
        operators::OPT_SELECT => unsupported(
            format!("optional selection `{}` is", render(e)),
            "test presence with has(), e.g. `has(event.amount)`",
        ),
        name if FUNCTIONS.contains(&name) => ExprError::new(format!(
            "function `{name}` does not take {n} argument{} in `{}`",
            if n == 1 { "" } else { "s" },
            render(e)
        ))
        .with_hint(function_signature(name)),
        name if MACROS.contains(&name) || name == operators::HAS => {
            unsupported(format!("macro `{name}` in `{}` is", render(e)), MACRO_HINT)
        }
        name if name.starts_with('@') || name.starts_with('_') || name.ends_with('_') => unsupported(
            format!("operator `{}` in `{}` is", symbol(name), render(e)),
            "see the supported operators in the expression documentation",
        ),
        name => ExprError::new(format!("unknown function `{name}` in `{}`", render(e))).with_hint(did_you_mean_hint(
            name,
            &FUNCTIONS,
            "functions",
        )),
    }
}

/// A member call `method` doesn't handle.
#[cold]
#[inline(never)]
pub(crate) fn method_error(call: &CallExpr, target: &IdedExpr, e: &IdedExpr, scope: &dyn Scope) -> ExprError {
    let name = call.func_name.as_str();
    let n = call.args.len();
    if METHODS.contains(&name) {
        return ExprError::new(format!(
            "method `{name}` does not take {n} argument{} in `{}`",
            if n == 1 { "" } else { "s" },
            render(e)
        ))
        .with_hint(function_signature(name));
    }
    if MACROS.contains(&name) {
        return unsupported(format!("macro `{name}` in `{}` is", render(e)), MACRO_HINT);
    }
    // `math.abs(x)` reads as a namespaced function, `s.foo()` as a method.
    if let Some(path) = name_path(target).filter(|p| scope.resolve(p).is_none()) {
        let qualified = format!("{}.{name}", path.join("."));
        return ExprError::new(format!("unknown function `{qualified}` in `{}`", render(e)))
            .with_hint(did_you_mean_hint(name, &FUNCTIONS, "functions"));
    }
    ExprError::new(format!("unknown method `{name}` in `{}`", render(e)))
        .with_hint(did_you_mean_hint(name, &METHODS, "methods"))
}

#[cold]
#[inline(never)]
pub(crate) fn string_method_error(name: &str, target: Type, arg: Type, e: &IdedExpr) -> ExprError {
    no_overload(e, &[target, arg]).with_hint(format!(
        "{name}() is a method of a string taking a string, e.g. `s.{name}(\"x\")`; convert with string(x)"
    ))
}

#[cold]
#[inline(never)]
pub(crate) fn unary_error(op: &str, ty: Type, e: &IdedExpr) -> ExprError {
    let error = operand_error(symbol(op), &[ty], e);
    if op == operators::LOGICAL_NOT {
        error.with_hint("`!` negates a bool; compare the value first, e.g. `!(x > 0)`")
    } else {
        error.with_hint("`-` negates an int or a double")
    }
}

/// A function applied to arguments of types it doesn't take.
#[cold]
#[inline(never)]
pub(crate) fn function_error(name: &str, types: &[Type], e: &IdedExpr) -> ExprError {
    let hint = match (name, types) {
        ("double", _) => "double() converts an int or a string".to_owned(),
        ("int", [Type::Bool]) => "int() converts a double or a string; for a bool use `c ? 1 : 0`".to_owned(),
        ("int", _) => "int() converts a double or a string".to_owned(),
        ("size", _) => "size() takes a string; convert with string(x)".to_owned(),
        ("abs", _) => "abs() takes an int or a double".to_owned(),
        ("round", [Type::Int, Type::Int]) => "round() takes a double: convert with double(x)".to_owned(),
        ("round", [Type::Double, Type::Double]) => "the number of digits is an int: convert with int(x)".to_owned(),
        ("round", _) => "round(x, digits) takes a double and an int".to_owned(),
        (_, [a, b]) if a.is_numeric() && b.is_numeric() => MIX_HINT.to_owned(),
        (name, _) => format!("{name}() takes two ints or two doubles"),
    };
    no_overload(e, types).with_hint(hint)
}

#[cold]
#[inline(never)]
pub(crate) fn logic_error(and: bool, l: Type, r: Type, e: &IdedExpr) -> ExprError {
    let symbol = if and { "&&" } else { "||" };
    operand_error(symbol, &[l, r], e).with_hint(format!(
        "`{symbol}` joins bool conditions; compare values first, e.g. `x > 0`"
    ))
}

#[cold]
#[inline(never)]
pub(crate) fn conditional_error(c: Type, a: Type, b: Type, e: &IdedExpr) -> ExprError {
    if c != Type::Bool {
        return ExprError::new(format!("the condition of `{}` must be a bool, got {c}", render(e)))
            .with_hint("compare the value, e.g. `x > 0 ? a : b`");
    }
    let error = ExprError::new(format!(
        "the branches of `{}` have different types: {a} and {b}",
        render(e)
    ));
    if a.is_numeric() && b.is_numeric() {
        error.with_hint(MIX_HINT)
    } else {
        error.with_hint("both branches must have the same type")
    }
}

#[cold]
#[inline(never)]
pub(crate) fn arithmetic_error(op: &str, l: Type, r: Type, e: &IdedExpr) -> ExprError {
    let symbol = symbol(op);
    if op == operators::MODULO && l == Type::Double && r == Type::Double {
        return ExprError::new(format!("operator `%` is not defined for double in `{}`", render(e)))
            .with_hint("CEL has no double modulus; use int operands, e.g. `int(x) % 2`");
    }
    if l.is_numeric() && r.is_numeric() {
        return ExprError::new(format!("type mismatch in `{}`: `{symbol}` on {l} and {r}", render(e)))
            .with_hint(MIX_HINT);
    }
    operand_error(symbol, &[l, r], e)
}

#[cold]
#[inline(never)]
pub(crate) fn comparison_error(l: Type, r: Type, e: &IdedExpr) -> ExprError {
    let error = ExprError::new(format!("cannot compare {l} with {r} in `{}`", render(e)));
    if l == Type::String || r == Type::String {
        error.with_hint("convert one side: string(x) for text, double(s) or int(s) for numbers")
    } else {
        error.with_hint("compare values of the same type")
    }
}

#[cold]
#[inline(never)]
pub(crate) fn membership_error(list: &IdedExpr) -> ExprError {
    unsupported(
        format!("`in` on `{}` is", render(list)),
        "`in` tests membership in a list literal, e.g. `x in [1, 2, 3]`",
    )
}

#[cold]
#[inline(never)]
pub(crate) fn element_error(element: &IdedExpr, element_ty: Type, x: &IdedExpr, x_ty: Type, e: &IdedExpr) -> ExprError {
    ExprError::new(format!(
        "list element `{}` is {} but `{}` is {} in `{}`",
        render(element),
        with_article(element_ty),
        render(x),
        with_article(x_ty),
        render(e)
    ))
    .with_hint("list elements must have the type of the value tested")
}

/// "an int", "a double", ...
fn with_article(ty: Type) -> String {
    match ty {
        Type::Int => format!("an {ty}"),
        _ => format!("a {ty}"),
    }
}

pub(crate) fn unsupported(what: impl AsRef<str>, hint: &str) -> ExprError {
    ExprError::new(format!("{} {SUFFIX}", what.as_ref())).with_hint(hint)
}

/// An operator applied to operands of types it doesn't take.
fn operand_error(symbol: &str, types: &[Type], e: &IdedExpr) -> ExprError {
    let types: Vec<&str> = types.iter().map(|t| t.name()).collect();
    ExprError::new(format!(
        "operator `{symbol}` cannot be applied to {} in `{}`",
        types.join(" and "),
        render(e)
    ))
}

/// A function applied to arguments of types it doesn't take.
fn no_overload(e: &IdedExpr, types: &[Type]) -> ExprError {
    let name = match &e.expr {
        Expr::Call(call) => call.func_name.as_str(),
        _ => "?",
    };
    let types: Vec<&str> = types.iter().map(|t| t.name()).collect();
    ExprError::new(format!(
        "no overload of `{name}` takes ({}) in `{}`",
        types.join(", "),
        render(e)
    ))
}

fn function_signature(name: &str) -> String {
    let signature = match name {
        "double" => "double(x) converts an int or a string",
        "int" => "int(x) converts a double or a string",
        "string" => "string(x) converts a bool, an int or a double",
        "size" => "size(s) or s.size() counts the characters of a string",
        "round" => "round(x, digits) rounds a double to digits decimal places",
        "min" => "min(a, b) takes two ints or two doubles",
        "max" => "max(a, b) takes two ints or two doubles",
        "abs" => "abs(x) takes an int or a double",
        "startsWith" => "s.startsWith(t) takes a string",
        "endsWith" => "s.endsWith(t) takes a string",
        "contains" => "s.contains(t) takes a string",
        _ => "see the expression documentation",
    };
    signature.to_owned()
}
