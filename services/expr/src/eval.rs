//! The lowered expression tree and its evaluator.
//!
//! Every node has a static type fixed by the compiler, and each variant knows
//! the types of its operands: evaluation never looks at a name or picks an
//! overload, and numeric and `bool` work allocates nothing.
//!
//! There is one evaluator per result type ([`eval_bool`], [`eval_int`],
//! [`eval_double`], [`eval_str`]), each a single `match` over the variants of
//! its type, returning a plain `bool`, `i64`, `f64` or `Cow<str>`; [`eval`]
//! picks one by the node's type. Keeping the values unboxed keeps evaluation
//! fast, and keeping each `match` to one type's variants keeps the stack
//! frames small (evaluation recurses once per level of the tree).

use std::borrow::Cow;
use std::cmp::Ordering;

use super::{EvalError, Type, Val, VarRef, Vars};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator with its operands swapped: `a op b` is `b op.flip() a`.
    pub(crate) fn flip(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CmpOp::Eq => "comparison `==`",
            CmpOp::Ne => "comparison `!=`",
            CmpOp::Lt => "comparison `<`",
            CmpOp::Le => "comparison `<=`",
            CmpOp::Gt => "comparison `>`",
            CmpOp::Ge => "comparison `>=`",
        }
    }

    #[inline]
    fn ord(self, ordering: Ordering) -> bool {
        match self {
            CmpOp::Eq => ordering == Ordering::Equal,
            CmpOp::Ne => ordering != Ordering::Equal,
            CmpOp::Lt => ordering == Ordering::Less,
            CmpOp::Le => ordering != Ordering::Greater,
            CmpOp::Gt => ordering == Ordering::Greater,
            CmpOp::Ge => ordering != Ordering::Less,
        }
    }

    #[inline]
    fn int(self, a: i64, b: i64) -> bool {
        self.ord(a.cmp(&b))
    }

    /// IEEE equality; ordering a NaN is an error, as in the `cel` interpreter.
    #[inline]
    fn double(self, a: f64, b: f64) -> Result<bool, EvalError> {
        match self {
            CmpOp::Eq => Ok(a == b),
            CmpOp::Ne => Ok(a != b),
            _ => match a.partial_cmp(&b) {
                Some(ordering) => Ok(self.ord(ordering)),
                None => Err(EvalError::NotComparable(self.name())),
            },
        }
    }
}

type B = Box<Node>;

/// A type-checked expression. The comment on each variant gives the types of
/// its operands and of its result.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// A constant, of any type.
    Const(Val<'static>),
    /// A variable, of the type its scope declared.
    Var(VarRef, Type),
    /// `has(path)`: bool.
    Has(VarRef),

    /// bool → bool.
    Not(B),
    /// bool, bool → bool, with CEL's commutative error semantics.
    And(B, B),
    /// bool, bool → bool, with CEL's commutative error semantics.
    Or(B, B),
    /// bool, T, T → T.
    Cond(B, B, B),

    /// int → int, checked.
    NegInt(B),
    /// int, int → int, checked.
    AddInt(B, B),
    SubInt(B, B),
    MulInt(B, B),
    DivInt(B, B),
    ModInt(B, B),
    /// double → double.
    NegDouble(B),
    /// double, double → double.
    AddDouble(B, B),
    SubDouble(B, B),
    MulDouble(B, B),
    DivDouble(B, B),
    /// string, string → string.
    Concat(B, B),

    /// int, int → bool.
    CmpInt(CmpOp, B, B),
    /// `var op k` for an int variable.
    CmpIntConst {
        var: VarRef,
        op: CmpOp,
        k: i64,
    },
    /// double, double → bool.
    CmpDouble(CmpOp, B, B),
    /// `var op k` for a double variable (an int constant is converted, which
    /// is how CEL compares a double with an int).
    CmpDoubleConst {
        var: VarRef,
        op: CmpOp,
        k: f64,
    },
    /// int, double → bool: a mixed comparison, the int converted to double
    /// as CEL does.
    CmpIntDouble(CmpOp, B, B),
    /// double, int → bool.
    CmpDoubleInt(CmpOp, B, B),
    /// string, string → bool, by bytes.
    CmpStr(CmpOp, B, B),
    /// bool, bool → bool, `false < true`.
    CmpBool(CmpOp, B, B),

    /// int `in` a list of int constants.
    InInts(B, Box<[i64]>),
    /// int `in` a list of int and double constants.
    InIntsDoubles(B, Box<[i64]>, Box<[f64]>),
    /// double `in` a list of numeric constants (ints converted).
    InDoubles(B, Box<[f64]>),
    /// string `in` a list of string constants.
    InStrs(B, Box<[Box<str>]>),
    /// bool `in` a list of bool constants.
    InBools(B, Box<[bool]>),
    /// `x in [e1, e2, ...]` with elements that are not all constants: every
    /// element is evaluated (an error in any of them is the result), then
    /// compared with CEL equality.
    InList(B, Box<[Node]>),

    /// int → double.
    IntToDouble(B),
    /// double → int, truncating; out of range is an error.
    DoubleToInt(B),
    /// string → double.
    StrToDouble(B),
    /// string → int.
    StrToInt(B),
    /// int → string.
    IntToStr(B),
    /// double → string, as `f64`'s `Display` (as the `cel` interpreter).
    DoubleToStr(B),
    /// bool → string.
    BoolToStr(B),
    /// string → int: the number of code points.
    Size(B),
    /// string, string → bool.
    StartsWith(B, B),
    EndsWith(B, B),
    Contains(B, B),

    /// Extension: double, int → double.
    Round(B, B),
    /// Extension: int, int → int.
    MinInt(B, B),
    MaxInt(B, B),
    /// Extension: double, double → double; NaN is an error.
    MinDouble(B, B),
    MaxDouble(B, B),
    /// Extension: int → int, checked.
    AbsInt(B),
    /// Extension: double → double.
    AbsDouble(B),
}

impl Node {
    /// The static type of the node's value.
    pub(crate) fn ty(&self) -> Type {
        match self {
            Node::Const(val) => val.ty(),
            Node::Var(_, ty) => *ty,
            Node::Cond(_, a, _) => a.ty(),
            Node::Has(_)
            | Node::Not(_)
            | Node::And(..)
            | Node::Or(..)
            | Node::CmpInt(..)
            | Node::CmpIntConst { .. }
            | Node::CmpDouble(..)
            | Node::CmpDoubleConst { .. }
            | Node::CmpIntDouble(..)
            | Node::CmpDoubleInt(..)
            | Node::CmpStr(..)
            | Node::CmpBool(..)
            | Node::InInts(..)
            | Node::InIntsDoubles(..)
            | Node::InDoubles(..)
            | Node::InStrs(..)
            | Node::InBools(..)
            | Node::InList(..)
            | Node::StartsWith(..)
            | Node::EndsWith(..)
            | Node::Contains(..) => Type::Bool,
            Node::NegInt(_)
            | Node::AddInt(..)
            | Node::SubInt(..)
            | Node::MulInt(..)
            | Node::DivInt(..)
            | Node::ModInt(..)
            | Node::DoubleToInt(_)
            | Node::StrToInt(_)
            | Node::Size(_)
            | Node::MinInt(..)
            | Node::MaxInt(..)
            | Node::AbsInt(_) => Type::Int,
            Node::NegDouble(_)
            | Node::AddDouble(..)
            | Node::SubDouble(..)
            | Node::MulDouble(..)
            | Node::DivDouble(..)
            | Node::IntToDouble(_)
            | Node::StrToDouble(_)
            | Node::Round(..)
            | Node::MinDouble(..)
            | Node::MaxDouble(..)
            | Node::AbsDouble(_) => Type::Double,
            Node::Concat(..) | Node::IntToStr(_) | Node::DoubleToStr(_) | Node::BoolToStr(_) => Type::String,
        }
    }
}

/// Evaluates `node`, whatever its type.
pub(crate) fn eval<'a, V: Vars + ?Sized>(node: &'a Node, vars: &'a V) -> Result<Val<'a>, EvalError> {
    Ok(match node.ty() {
        Type::Bool => Val::Bool(eval_bool(node, vars)?),
        Type::Int => Val::Int(eval_int(node, vars)?),
        Type::Double => Val::Double(eval_double(node, vars)?),
        Type::String => Val::Str(eval_str(node, vars)?),
    })
}

/// Evaluates a `bool` node.
pub(crate) fn eval_bool<V: Vars + ?Sized>(node: &Node, vars: &V) -> Result<bool, EvalError> {
    Ok(match node {
        Node::Const(Val::Bool(b)) => *b,
        Node::Var(var, _) => match vars.get(*var) {
            Val::Bool(b) => b,
            other => return Err(mismatch(Type::Bool, &other)),
        },
        Node::Has(var) => vars.has(*var),
        Node::Cond(c, a, b) => {
            if eval_bool(c, vars)? {
                eval_bool(a, vars)?
            } else {
                eval_bool(b, vars)?
            }
        }

        Node::Not(x) => !eval_bool(x, vars)?,
        // CEL's commutative error semantics: an error on one side is hidden
        // by a value that decides the result on the other.
        Node::And(l, r) => match eval_bool(l, vars) {
            Ok(false) => false,
            Ok(true) => eval_bool(r, vars)?,
            Err(error) => match eval_bool(r, vars) {
                Ok(false) => false,
                _ => return Err(error),
            },
        },
        Node::Or(l, r) => match eval_bool(l, vars) {
            Ok(true) => true,
            Ok(false) => eval_bool(r, vars)?,
            Err(error) => match eval_bool(r, vars) {
                Ok(true) => true,
                _ => return Err(error),
            },
        },

        Node::CmpInt(op, l, r) => op.int(eval_int(l, vars)?, eval_int(r, vars)?),
        Node::CmpIntConst { var, op, k } => match vars.get(*var) {
            Val::Int(i) => op.int(i, *k),
            other => return Err(mismatch(Type::Int, &other)),
        },
        Node::CmpDouble(op, l, r) => op.double(eval_double(l, vars)?, eval_double(r, vars)?)?,
        Node::CmpDoubleConst { var, op, k } => match vars.get(*var) {
            Val::Double(d) => op.double(d, *k)?,
            other => return Err(mismatch(Type::Double, &other)),
        },
        Node::CmpIntDouble(op, l, r) => op.double(eval_int(l, vars)? as f64, eval_double(r, vars)?)?,
        Node::CmpDoubleInt(op, l, r) => op.double(eval_double(l, vars)?, eval_int(r, vars)? as f64)?,
        Node::CmpStr(op, l, r) => op.ord(eval_str(l, vars)?.cmp(&eval_str(r, vars)?)),
        Node::CmpBool(op, l, r) => op.ord(eval_bool(l, vars)?.cmp(&eval_bool(r, vars)?)),

        Node::InInts(x, ks) => ks.contains(&eval_int(x, vars)?),
        Node::InIntsDoubles(x, ints, doubles) => {
            let i = eval_int(x, vars)?;
            ints.contains(&i) || doubles.contains(&(i as f64))
        }
        // `f64`'s `==`: IEEE equality, so NaN is in no list.
        Node::InDoubles(x, ks) => ks.contains(&eval_double(x, vars)?),
        Node::InStrs(x, ks) => {
            let s = eval_str(x, vars)?;
            ks.iter().any(|k| **k == *s)
        }
        Node::InBools(x, ks) => ks.contains(&eval_bool(x, vars)?),
        Node::InList(x, elements) => in_list(x, elements, vars)?,

        Node::StartsWith(l, r) => eval_str(l, vars)?.starts_with(eval_str(r, vars)?.as_ref()),
        Node::EndsWith(l, r) => eval_str(l, vars)?.ends_with(eval_str(r, vars)?.as_ref()),
        Node::Contains(l, r) => eval_str(l, vars)?.contains(eval_str(r, vars)?.as_ref()),

        other => return Err(wrong_node(Type::Bool, other)),
    })
}

/// Evaluates an `int` node.
pub(crate) fn eval_int<V: Vars + ?Sized>(node: &Node, vars: &V) -> Result<i64, EvalError> {
    Ok(match node {
        Node::Const(Val::Int(i)) => *i,
        Node::Var(var, _) => match vars.get(*var) {
            Val::Int(i) => i,
            other => return Err(mismatch(Type::Int, &other)),
        },
        Node::Cond(c, a, b) => {
            if eval_bool(c, vars)? {
                eval_int(a, vars)?
            } else {
                eval_int(b, vars)?
            }
        }

        Node::NegInt(x) => eval_int(x, vars)?
            .checked_neg()
            .ok_or(EvalError::Overflow("negation"))?,
        Node::AddInt(l, r) => eval_int(l, vars)?
            .checked_add(eval_int(r, vars)?)
            .ok_or(EvalError::Overflow("addition"))?,
        Node::SubInt(l, r) => eval_int(l, vars)?
            .checked_sub(eval_int(r, vars)?)
            .ok_or(EvalError::Overflow("subtraction"))?,
        Node::MulInt(l, r) => eval_int(l, vars)?
            .checked_mul(eval_int(r, vars)?)
            .ok_or(EvalError::Overflow("multiplication"))?,
        Node::DivInt(l, r) => div_int(eval_int(l, vars)?, eval_int(r, vars)?)?,
        Node::ModInt(l, r) => mod_int(eval_int(l, vars)?, eval_int(r, vars)?)?,

        Node::DoubleToInt(x) => double_to_int(eval_double(x, vars)?)?,
        Node::StrToInt(x) => parse_int(&eval_str(x, vars)?)?,
        Node::Size(x) => eval_str(x, vars)?.chars().count() as i64,
        Node::MinInt(l, r) => eval_int(l, vars)?.min(eval_int(r, vars)?),
        Node::MaxInt(l, r) => eval_int(l, vars)?.max(eval_int(r, vars)?),
        Node::AbsInt(x) => eval_int(x, vars)?.checked_abs().ok_or(EvalError::Overflow("abs"))?,

        other => return Err(wrong_node(Type::Int, other)),
    })
}

/// Evaluates a `double` node.
pub(crate) fn eval_double<V: Vars + ?Sized>(node: &Node, vars: &V) -> Result<f64, EvalError> {
    Ok(match node {
        Node::Const(Val::Double(d)) => *d,
        Node::Var(var, _) => match vars.get(*var) {
            Val::Double(d) => d,
            other => return Err(mismatch(Type::Double, &other)),
        },
        Node::Cond(c, a, b) => {
            if eval_bool(c, vars)? {
                eval_double(a, vars)?
            } else {
                eval_double(b, vars)?
            }
        }

        Node::NegDouble(x) => -eval_double(x, vars)?,
        Node::AddDouble(l, r) => eval_double(l, vars)? + eval_double(r, vars)?,
        Node::SubDouble(l, r) => eval_double(l, vars)? - eval_double(r, vars)?,
        Node::MulDouble(l, r) => eval_double(l, vars)? * eval_double(r, vars)?,
        Node::DivDouble(l, r) => eval_double(l, vars)? / eval_double(r, vars)?,

        Node::IntToDouble(x) => eval_int(x, vars)? as f64,
        Node::StrToDouble(x) => parse_double(&eval_str(x, vars)?)?,
        Node::Round(x, digits) => round(eval_double(x, vars)?, eval_int(digits, vars)?),
        Node::MinDouble(l, r) => min_double(eval_double(l, vars)?, eval_double(r, vars)?)?,
        Node::MaxDouble(l, r) => max_double(eval_double(l, vars)?, eval_double(r, vars)?)?,
        Node::AbsDouble(x) => eval_double(x, vars)?.abs(),

        other => return Err(wrong_node(Type::Double, other)),
    })
}

/// Evaluates a `string` node. The result borrows the node's constants or the
/// variables unless a new string is built.
pub(crate) fn eval_str<'a, V: Vars + ?Sized>(node: &'a Node, vars: &'a V) -> Result<Cow<'a, str>, EvalError> {
    Ok(match node {
        Node::Const(Val::Str(s)) => Cow::Borrowed(s),
        Node::Var(var, _) => match vars.get(*var) {
            Val::Str(s) => s,
            other => return Err(mismatch(Type::String, &other)),
        },
        Node::Cond(c, a, b) => {
            if eval_bool(c, vars)? {
                eval_str(a, vars)?
            } else {
                eval_str(b, vars)?
            }
        }

        Node::Concat(l, r) => concat(eval_str(l, vars)?, eval_str(r, vars)?),
        Node::IntToStr(x) => Cow::Owned(eval_int(x, vars)?.to_string()),
        Node::DoubleToStr(x) => Cow::Owned(eval_double(x, vars)?.to_string()),
        Node::BoolToStr(x) => Cow::Borrowed(if eval_bool(x, vars)? { "true" } else { "false" }),

        other => return Err(wrong_node(Type::String, other)),
    })
}

/// A variable whose value is not of the type its scope declared.
#[cold]
#[inline(never)]
fn mismatch(expected: Type, got: &Val<'_>) -> EvalError {
    EvalError::TypeMismatch {
        expected,
        got: got.ty(),
    }
}

/// A node of another type than the evaluator's: the compiler never builds
/// such a tree, but an error is better than a panic.
#[cold]
#[inline(never)]
fn wrong_node(expected: Type, node: &Node) -> EvalError {
    EvalError::TypeMismatch {
        expected,
        got: node.ty(),
    }
}

#[inline]
fn div_int(a: i64, b: i64) -> Result<i64, EvalError> {
    if b == 0 {
        return Err(EvalError::DivisionByZero);
    }
    a.checked_div(b).ok_or(EvalError::Overflow("division"))
}

#[inline]
fn mod_int(a: i64, b: i64) -> Result<i64, EvalError> {
    if b == 0 {
        return Err(EvalError::ModulusByZero);
    }
    a.checked_rem(b).ok_or(EvalError::Overflow("modulus"))
}

// The helpers below keep the arms of `eval` short: in a debug build every
// temporary of a function gets its own stack slot, and `eval` recurses.

#[inline(never)]
fn concat<'a>(a: Cow<'a, str>, b: Cow<'a, str>) -> Cow<'a, str> {
    if b.is_empty() {
        a
    } else if a.is_empty() {
        b
    } else {
        let mut s = String::with_capacity(a.len() + b.len());
        s.push_str(&a);
        s.push_str(&b);
        Cow::Owned(s)
    }
}

/// `x in [elements]`: every element is evaluated, as CEL builds the list
/// before looking into it, so an error in any element is the result.
#[inline(never)]
fn in_list<V: Vars + ?Sized>(x: &Node, elements: &[Node], vars: &V) -> Result<bool, EvalError> {
    let needle = eval(x, vars)?;
    let mut found = false;
    for element in elements {
        let element = eval(element, vars)?;
        found = found || equal(&needle, &element);
    }
    Ok(found)
}

#[inline]
fn double_to_int(d: f64) -> Result<i64, EvalError> {
    // As in CEL: the range is (i64::MIN, i64::MAX) exclusive, which also
    // rejects NaN and the infinities, and keeps `as` from saturating.
    if d > i64::MIN as f64 && d < i64::MAX as f64 {
        Ok(d as i64)
    } else {
        Err(conversion_error("int", &d, "value out of int range"))
    }
}

#[inline(never)]
fn parse_double(s: &str) -> Result<f64, EvalError> {
    s.parse::<f64>()
        .map_err(|e| conversion_error("double", &s, &format!("cannot parse as double: {e}")))
}

#[inline(never)]
fn parse_int(s: &str) -> Result<i64, EvalError> {
    s.parse::<i64>()
        .map_err(|e| conversion_error("int", &s, &format!("cannot parse as int: {e}")))
}

#[cold]
#[inline(never)]
fn conversion_error(function: &str, arg: &dyn std::fmt::Debug, why: &str) -> EvalError {
    EvalError::Conversion(format!("{function}({arg:?}): {why}"))
}

/// `min` of two doubles: the first if it is smaller, else the second (as the
/// `cel` crate's optional `min`); NaN is an error.
#[inline]
fn min_double(a: f64, b: f64) -> Result<f64, EvalError> {
    match CmpOp::Lt.double(a, b) {
        Ok(true) => Ok(a),
        Ok(false) => Ok(b),
        Err(_) => Err(EvalError::NotComparable("min")),
    }
}

/// `max` of two doubles: the first if it is larger, else the second; NaN is
/// an error.
#[inline]
fn max_double(a: f64, b: f64) -> Result<f64, EvalError> {
    match CmpOp::Gt.double(a, b) {
        Ok(true) => Ok(a),
        Ok(false) => Ok(b),
        Err(_) => Err(EvalError::NotComparable("max")),
    }
}

/// CEL equality between two values of compatible types (numbers compare
/// numerically, an int converted to double as CEL does).
fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Int(a), Val::Int(b)) => a == b,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Str(a), Val::Str(b)) => a == b,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
    }
}

/// `round(x, digits)`: the decimal at `digits` places nearest to the exact value of `x`, ties
/// to even — as Python's `round` and Rust's `{:.N}` formatting, so back-tests written in either
/// agree with the engine to the last digit.
fn round(x: f64, digits: i64) -> f64 {
    // Beyond ±400 the scale is 0 or infinite for every finite `x` anyway.
    let digits = digits.clamp(-400, 400) as i32;
    let scale = 10f64.powi(digits);
    if scale == 0.0 {
        // Rounding to a power of ten beyond f64's range: every finite value
        // rounds to zero.
        return if x.is_finite() { 0.0 * x.signum() } else { x };
    }
    let scaled = x * scale;
    if !scaled.is_finite() {
        // `x` has no digits left to round at this precision.
        return x;
    }
    let distance_to_tie = (scaled - scaled.floor() - 0.5).abs();
    if !(0..=22).contains(&digits) || distance_to_tie > 1e-6 {
        // far from a tie the product's rounding error cannot change the direction, and
        // dividing by an exact power of ten gives the nearest double
        return scaled.round() / scale;
    }
    // near a tie the product may have rounded across it: decide on the exact decimal value
    format!("{x:.*}", digits as usize).parse().unwrap_or(x)
}
