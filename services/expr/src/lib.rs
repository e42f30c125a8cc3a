//! Revenue Engine expressions: a typed, fast subset of CEL (Common Expression
//! Language). Domain-free: names and their types come from the caller's
//! [`Scope`], values from its [`Vars`].
//!
//! Source text is parsed with the real CEL grammar (the `cel` crate's parser),
//! type-checked against a caller-supplied [`Scope`], and lowered to a tree of
//! specialised nodes over numbered variable slots ([`VarRef`]). Evaluating
//! such a tree does no name lookup and no type dispatch on strings, and
//! allocates nothing unless the expression builds a string.
//!
//! ```text
//! let expr = compile("page_views >= 5 && event.amount > 1000.0", &scope, Expect::Bool)?;
//! let matched = expr.eval_bool(&vars)?;
//! ```
//!
//! # Supported subset
//!
//! * Literals: `int`, `uint` (as `int` when it fits in an `int`), `double`,
//!   `bool`, `string`. `null`, bytes, maps, messages, comprehension macros
//!   (`all`, `exists`, `exists_one`, `map`, `filter`) and indexing are
//!   rejected at compile time.
//! * Identifiers and field selections (`page_views`, `event.amount`) resolved
//!   through [`Scope::resolve`]; `has(event.amount)` tests presence through
//!   [`Vars::has`].
//! * `+ - * / %` and unary `-` on two `int`s or two `double`s, `+` on two
//!   `string`s. `int` arithmetic is checked (overflow and division or modulus
//!   by zero are evaluation errors, division truncates toward zero); `double`
//!   arithmetic is IEEE 754; there is no `double` modulus. As in CEL, `int` and
//!   `double` never mix in arithmetic: convert with `double(x)` or `int(x)`.
//! * `< <= > >= == !=` on `int`/`double` (mixed numerically, as CEL's
//!   heterogeneous numeric comparison), `string` (by bytes) and `bool`
//!   (`false < true`). Ordering a `NaN` is an evaluation error, as in the `cel`
//!   interpreter; `NaN == NaN` is false and `NaN != NaN` true.
//! * `&& || !` on `bool`s, with CEL's commutative error semantics:
//!   `false && <error>` and `<error> && false` are `false`, `true || <error>`
//!   and `<error> || true` are `true`.
//! * `c ? a : b` with `a` and `b` of the same type.
//! * `x in [l1, l2, ...]` on a list literal whose elements have `x`'s type
//!   (`int`/`double` may mix, compared numerically).
//! * CEL standard functions: `double(x)` (from `int`, `double`, `string`),
//!   `int(x)` (from `int`, `double` truncating toward zero, `string`),
//!   `string(x)`, `size(s)` / `s.size()` (Unicode code points),
//!   `s.startsWith(t)`, `s.endsWith(t)`, `s.contains(t)`.
//!
//! # Revenue Engine extensions
//!
//! These functions are not part of standard CEL:
//!
//! * `round(x, digits)`: `double`, `int` → `double`; the decimal at `digits`
//!   places nearest to the exact value of `x`, ties to even, as Python's
//!   `round` (negative `digits` round to tens, hundreds, ...).
//! * `min(a, b)`, `max(a, b)`: two `int`s or two `double`s; ordering a `NaN`
//!   is an evaluation error, as for `<`.
//! * `abs(x)`: `int` or `double`; `abs` of the smallest `int` overflows.
//!
//! # Limits
//!
//! Sources are at most 8 KiB and trees at most 100 levels deep, so that no
//! expression text can overflow a stack: [`compile`] parses on a short-lived
//! helper thread with a large stack (the ANTLR-generated CEL parser needs
//! about 100 KiB of stack per nesting level in debug builds), and lowering and
//! evaluation recurse on the caller's stack within that depth.

mod errors;
mod eval;
mod lower;
mod parse;
mod render;
mod suggest;
mod types;

#[cfg(test)]
mod tests;

pub use errors::{EvalError, ExprError};
pub use suggest::{closest_match, closest_match_within, MAX_SUGGESTION_DISTANCE};
pub use types::{Type, Val, VarRef};

use eval::Node;

/// How deeply expressions may nest. Lowering and evaluation recurse on the
/// tree, on the caller's stack, so this bounds their stack use. The parser
/// bounds nesting through parentheses and `? :`, but not chains such as
/// `a + b + c + ...`.
const MAX_DEPTH: u32 = 100;

/// Resolves identifiers at compile time.
pub trait Scope {
    /// Resolves a qualified name: `page_views` is `["page_views"]`,
    /// `event.amount` is `["event", "amount"]`. Returns the slot and its static
    /// type, or `None` if the name is unknown.
    fn resolve(&self, path: &[&str]) -> Option<(VarRef, Type)>;

    /// Names offered in "did you mean" hints: all resolvable qualified names,
    /// dotted.
    fn candidates(&self) -> Vec<String>;
}

/// Supplies values at evaluation time.
///
/// `get` must return a value of the type the [`Scope`] declared for the slot;
/// otherwise evaluation fails with [`EvalError::TypeMismatch`].
pub trait Vars {
    /// The value of a slot.
    fn get(&self, var: VarRef) -> Val<'_>;

    /// For `has(event.field)`: whether the value was present.
    fn has(&self, var: VarRef) -> bool {
        let _ = var;
        true
    }
}

impl<T: Vars + ?Sized> Vars for &T {
    #[inline]
    fn get(&self, var: VarRef) -> Val<'_> {
        (**self).get(var)
    }

    #[inline]
    fn has(&self, var: VarRef) -> bool {
        (**self).has(var)
    }
}

/// What result type [`compile`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// A `bool` condition.
    Bool,
    /// An `int` or a `double`.
    Number,
    /// Any type.
    Any,
}

/// A compiled expression, ready to be evaluated any number of times.
#[derive(Clone, Debug)]
pub struct CompiledExpr {
    source: String,
    root: Node,
    result_type: Type,
    references: Vec<VarRef>,
}

impl CompiledExpr {
    /// The source text the expression was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The static type of the result.
    pub fn result_type(&self) -> Type {
        self.result_type
    }

    /// The slots the expression refers to, each once, in order of first use.
    pub fn references(&self) -> &[VarRef] {
        &self.references
    }

    /// Evaluates the expression.
    #[inline]
    pub fn eval<'a>(&'a self, vars: &'a impl Vars) -> Result<Val<'a>, EvalError> {
        eval::eval(&self.root, vars)
    }

    /// Evaluates a `bool` expression; any other is a
    /// [`EvalError::TypeMismatch`].
    #[inline]
    pub fn eval_bool(&self, vars: &impl Vars) -> Result<bool, EvalError> {
        eval::eval_bool(&self.root, vars)
    }

    /// Evaluates an `int` or `double` expression as an `f64`; any other is a
    /// [`EvalError::TypeMismatch`].
    #[inline]
    pub fn eval_f64(&self, vars: &impl Vars) -> Result<f64, EvalError> {
        match self.result_type {
            Type::Int => Ok(eval::eval_int(&self.root, vars)? as f64),
            Type::Double => eval::eval_double(&self.root, vars),
            other => Err(EvalError::TypeMismatch {
                expected: Type::Double,
                got: other,
            }),
        }
    }
}

/// Compiles `source` against `scope`, checking that the result is what
/// `expect` asks for.
pub fn compile(source: &str, scope: &dyn Scope, expect: Expect) -> Result<CompiledExpr, ExprError> {
    let ast = parse::parse(source)?;
    let lowered = lower::lower(&ast, scope)?;
    lower::check_result(lowered.ty, expect)?;
    Ok(CompiledExpr {
        source: source.to_owned(),
        root: lowered.root,
        result_type: lowered.ty,
        references: lowered.references,
    })
}
