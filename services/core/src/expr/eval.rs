//! The lowered expression tree and its evaluator.
//!
//! Every node has a static type fixed by the compiler, so each variant knows
//! the types of its operands: evaluation never looks at a name or picks an
//! overload, and numeric and `bool` work allocates nothing.

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
    Var(VarRef),
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
    CmpIntConst { var: VarRef, op: CmpOp, k: i64 },
    /// double, double → bool.
    CmpDouble(CmpOp, B, B),
    /// `var op k` for a double variable (an int constant is converted, which
    /// is how CEL compares a double with an int).
    CmpDoubleConst { var: VarRef, op: CmpOp, k: f64 },
    /// int or double, int or double → bool: a mixed comparison, numerically.
    CmpNum(CmpOp, B, B),
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
    /// bool, int or double → string.
    ToStr(B),
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

/// Evaluates `node`.
pub(crate) fn eval<'a, V: Vars + ?Sized>(
    node: &'a Node,
    vars: &'a V,
) -> Result<Val<'a>, EvalError> {
    Ok(match node {
        Node::Const(val) => val.borrowed(),
        Node::Var(var) => vars.get(*var),
        Node::Has(var) => Val::Bool(vars.has(*var)),

        Node::Not(x) => Val::Bool(!eval_bool(x, vars)?),
        Node::And(l, r) => Val::Bool(match eval_bool(l, vars) {
            Ok(false) => false,
            Ok(true) => eval_bool(r, vars)?,
            Err(error) => match eval_bool(r, vars) {
                Ok(false) => false,
                _ => return Err(error),
            },
        }),
        Node::Or(l, r) => Val::Bool(match eval_bool(l, vars) {
            Ok(true) => true,
            Ok(false) => eval_bool(r, vars)?,
            Err(error) => match eval_bool(r, vars) {
                Ok(true) => true,
                _ => return Err(error),
            },
        }),
        Node::Cond(c, a, b) => {
            if eval_bool(c, vars)? {
                eval(a, vars)?
            } else {
                eval(b, vars)?
            }
        }

        Node::NegInt(x) => Val::Int(
            int(x, vars)?
                .checked_neg()
                .ok_or(EvalError::Overflow("negation"))?,
        ),
        Node::AddInt(l, r) => Val::Int(
            int(l, vars)?
                .checked_add(int(r, vars)?)
                .ok_or(EvalError::Overflow("addition"))?,
        ),
        Node::SubInt(l, r) => Val::Int(
            int(l, vars)?
                .checked_sub(int(r, vars)?)
                .ok_or(EvalError::Overflow("subtraction"))?,
        ),
        Node::MulInt(l, r) => Val::Int(
            int(l, vars)?
                .checked_mul(int(r, vars)?)
                .ok_or(EvalError::Overflow("multiplication"))?,
        ),
        Node::DivInt(l, r) => {
            let (a, b) = (int(l, vars)?, int(r, vars)?);
            if b == 0 {
                return Err(EvalError::DivisionByZero);
            }
            Val::Int(a.checked_div(b).ok_or(EvalError::Overflow("division"))?)
        }
        Node::ModInt(l, r) => {
            let (a, b) = (int(l, vars)?, int(r, vars)?);
            if b == 0 {
                return Err(EvalError::ModulusByZero);
            }
            Val::Int(a.checked_rem(b).ok_or(EvalError::Overflow("modulus"))?)
        }
        Node::NegDouble(x) => Val::Double(-double(x, vars)?),
        Node::AddDouble(l, r) => Val::Double(double(l, vars)? + double(r, vars)?),
        Node::SubDouble(l, r) => Val::Double(double(l, vars)? - double(r, vars)?),
        Node::MulDouble(l, r) => Val::Double(double(l, vars)? * double(r, vars)?),
        Node::DivDouble(l, r) => Val::Double(double(l, vars)? / double(r, vars)?),
        Node::Concat(l, r) => Val::Str(concat(string(l, vars)?, string(r, vars)?)),

        Node::CmpInt(op, l, r) => Val::Bool(op.int(int(l, vars)?, int(r, vars)?)),
        Node::CmpIntConst { var, op, k } => match vars.get(*var) {
            Val::Int(i) => Val::Bool(op.int(i, *k)),
            other => return Err(mismatch(Type::Int, &other)),
        },
        Node::CmpDouble(op, l, r) => Val::Bool(op.double(double(l, vars)?, double(r, vars)?)?),
        Node::CmpDoubleConst { var, op, k } => match vars.get(*var) {
            Val::Double(d) => Val::Bool(op.double(d, *k)?),
            other => return Err(mismatch(Type::Double, &other)),
        },
        Node::CmpNum(op, l, r) => Val::Bool(op.double(number(l, vars)?, number(r, vars)?)?),
        Node::CmpStr(op, l, r) => Val::Bool(op.ord(string(l, vars)?.cmp(&string(r, vars)?))),
        Node::CmpBool(op, l, r) => Val::Bool(op.ord(eval_bool(l, vars)?.cmp(&eval_bool(r, vars)?))),

        Node::InInts(x, ks) => Val::Bool(ks.contains(&int(x, vars)?)),
        Node::InIntsDoubles(x, ints, doubles) => {
            let i = int(x, vars)?;
            Val::Bool(ints.contains(&i) || doubles.iter().any(|d| *d == i as f64))
        }
        Node::InDoubles(x, ks) => {
            let d = double(x, vars)?;
            Val::Bool(ks.iter().any(|k| *k == d))
        }
        Node::InStrs(x, ks) => {
            let s = string(x, vars)?;
            Val::Bool(ks.iter().any(|k| **k == *s))
        }
        Node::InBools(x, ks) => Val::Bool(ks.contains(&eval_bool(x, vars)?)),
        Node::InList(x, elements) => Val::Bool(in_list(x, elements, vars)?),

        Node::IntToDouble(x) => Val::Double(int(x, vars)? as f64),
        Node::DoubleToInt(x) => Val::Int(double_to_int(double(x, vars)?)?),
        Node::StrToDouble(x) => Val::Double(parse_double(&string(x, vars)?)?),
        Node::StrToInt(x) => Val::Int(parse_int(&string(x, vars)?)?),
        Node::ToStr(x) => to_string(eval(x, vars)?),
        Node::Size(x) => Val::Int(string(x, vars)?.chars().count() as i64),
        Node::StartsWith(l, r) => {
            Val::Bool(string(l, vars)?.starts_with(string(r, vars)?.as_ref()))
        }
        Node::EndsWith(l, r) => Val::Bool(string(l, vars)?.ends_with(string(r, vars)?.as_ref())),
        Node::Contains(l, r) => Val::Bool(string(l, vars)?.contains(string(r, vars)?.as_ref())),

        Node::Round(x, digits) => Val::Double(round(double(x, vars)?, int(digits, vars)?)),
        Node::MinInt(l, r) => Val::Int(int(l, vars)?.min(int(r, vars)?)),
        Node::MaxInt(l, r) => Val::Int(int(l, vars)?.max(int(r, vars)?)),
        Node::MinDouble(l, r) => Val::Double(min_double(double(l, vars)?, double(r, vars)?)?),
        Node::MaxDouble(l, r) => Val::Double(max_double(double(l, vars)?, double(r, vars)?)?),
        Node::AbsInt(x) => Val::Int(
            int(x, vars)?
                .checked_abs()
                .ok_or(EvalError::Overflow("abs"))?,
        ),
        Node::AbsDouble(x) => Val::Double(double(x, vars)?.abs()),
    })
}

/// Evaluates a `bool` node.
#[inline]
pub(crate) fn eval_bool<V: Vars + ?Sized>(node: &Node, vars: &V) -> Result<bool, EvalError> {
    match eval(node, vars)? {
        Val::Bool(b) => Ok(b),
        other => Err(mismatch(Type::Bool, &other)),
    }
}

#[inline]
fn int<V: Vars + ?Sized>(node: &Node, vars: &V) -> Result<i64, EvalError> {
    match eval(node, vars)? {
        Val::Int(i) => Ok(i),
        other => Err(mismatch(Type::Int, &other)),
    }
}

#[inline]
fn double<V: Vars + ?Sized>(node: &Node, vars: &V) -> Result<f64, EvalError> {
    match eval(node, vars)? {
        Val::Double(d) => Ok(d),
        other => Err(mismatch(Type::Double, &other)),
    }
}

/// An int or double node, as an `f64`: how CEL compares the two.
#[inline]
fn number<V: Vars + ?Sized>(node: &Node, vars: &V) -> Result<f64, EvalError> {
    match eval(node, vars)? {
        Val::Int(i) => Ok(i as f64),
        Val::Double(d) => Ok(d),
        other => Err(mismatch(Type::Double, &other)),
    }
}

#[inline]
fn string<'a, V: Vars + ?Sized>(node: &'a Node, vars: &'a V) -> Result<Cow<'a, str>, EvalError> {
    match eval(node, vars)? {
        Val::Str(s) => Ok(s),
        other => Err(mismatch(Type::String, &other)),
    }
}

#[cold]
fn mismatch(expected: Type, got: &Val<'_>) -> EvalError {
    EvalError::TypeMismatch {
        expected,
        got: got.ty(),
    }
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

#[inline(never)]
fn to_string(val: Val<'_>) -> Val<'_> {
    match val {
        Val::Bool(b) => Val::Str(Cow::Borrowed(if b { "true" } else { "false" })),
        Val::Int(i) => Val::Str(Cow::Owned(i.to_string())),
        // `f64`'s `Display`, as the `cel` interpreter's `string(double)`.
        Val::Double(d) => Val::Str(Cow::Owned(d.to_string())),
        s @ Val::Str(_) => s,
    }
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

/// `round(x, digits)`: half away from zero at `digits` decimal places.
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
    scaled.round() / scale
}
