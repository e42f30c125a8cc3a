//! Static types and runtime values of Revenue Engine expressions.

use std::borrow::Cow;
use std::fmt;

/// The static type of an expression or variable, named as in CEL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `bool`.
    Bool,
    /// `int`: a signed 64-bit integer.
    Int,
    /// `double`: a 64-bit IEEE 754 float.
    Double,
    /// `string`: Unicode text.
    String,
}

impl Type {
    /// The CEL name of the type: `bool`, `int`, `double` or `string`.
    pub fn name(self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Double => "double",
            Type::String => "string",
        }
    }

    /// Whether the type is `int` or `double`.
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Double)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A runtime value. Strings borrow from the variables or the compiled
/// expression where they can, so evaluation only allocates when it builds a
/// new string.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    /// A `bool`.
    Bool(bool),
    /// An `int`.
    Int(i64),
    /// A `double`.
    Double(f64),
    /// A `string`, borrowed or owned.
    Str(Cow<'a, str>),
}

impl<'a> Val<'a> {
    /// The type of the value.
    pub fn ty(&self) -> Type {
        match self {
            Val::Bool(_) => Type::Bool,
            Val::Int(_) => Type::Int,
            Val::Double(_) => Type::Double,
            Val::Str(_) => Type::String,
        }
    }

    /// The value as an `f64` if it is an `int` or a `double`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(i) => Some(*i as f64),
            Val::Double(d) => Some(*d),
            _ => None,
        }
    }

    /// The value if it is a `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Val::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value if it is an `int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value if it is a `string`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value with no borrow left in it.
    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Bool(b) => Val::Bool(b),
            Val::Int(i) => Val::Int(i),
            Val::Double(d) => Val::Double(d),
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
        }
    }

    /// A copy of the value borrowing its string, if any, from `self`: no
    /// allocation.
    pub fn borrowed(&self) -> Val<'_> {
        match self {
            Val::Bool(b) => Val::Bool(*b),
            Val::Int(i) => Val::Int(*i),
            Val::Double(d) => Val::Double(*d),
            Val::Str(s) => Val::Str(Cow::Borrowed(s)),
        }
    }
}

/// Renders the value as a CEL literal would be written (strings quoted).
impl fmt::Display for Val<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Bool(b) => write!(f, "{b}"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Double(d) => write!(f, "{d:?}"),
            Val::Str(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<bool> for Val<'_> {
    fn from(b: bool) -> Self {
        Val::Bool(b)
    }
}

impl From<i64> for Val<'_> {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}

impl From<f64> for Val<'_> {
    fn from(d: f64) -> Self {
        Val::Double(d)
    }
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(s: &'a str) -> Self {
        Val::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Val<'_> {
    fn from(s: String) -> Self {
        Val::Str(Cow::Owned(s))
    }
}

/// An opaque slot id chosen by the [`Scope`](super::Scope) at compile time and
/// handed back to [`Vars`](super::Vars) at evaluation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VarRef(pub u32);
