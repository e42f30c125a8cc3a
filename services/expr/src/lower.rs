//! Type checking and lowering of a parsed CEL tree to [`Node`]s over variable
//! slots, folding constant subtrees.

use std::borrow::Cow;

use cel::common::ast::{operators, CallExpr, Expr, IdedExpr, LiteralValue};

use crate::errors::{
    arithmetic_error, call_error, comparison_error, conditional_error, element_error, function_error, logic_error,
    membership_error, method_error, select_error, string_method_error, too_deep, unary_error, unknown_identifier,
    unsupported, unsupported_expr,
};
use crate::eval::{self, CmpOp, Node};
use crate::render::render;
use crate::{Expect, ExprError, Scope, Type, Val, VarRef, Vars, MAX_DEPTH};

/// The lowered form of a parsed expression.
pub(crate) struct Lowered {
    /// The root of the node tree.
    pub root: Node,
    /// The static type of the result.
    pub ty: Type,
    /// The slots the expression refers to, each once, in order of first use.
    pub references: Vec<VarRef>,
}

/// Type-checks `ast` against `scope` and lowers it to nodes.
pub(crate) fn lower(ast: &IdedExpr, scope: &dyn Scope) -> Result<Lowered, ExprError> {
    let mut lowerer = Lowerer {
        scope,
        references: Vec::new(),
        depth: 0,
    };
    let Typed { node, ty } = lowerer.lower(ast)?;
    Ok(Lowered {
        root: node,
        ty,
        references: lowerer.references,
    })
}

/// Checks the result type `ty` is what `expect` asks for.
pub(crate) fn check_result(ty: Type, expect: Expect) -> Result<(), ExprError> {
    match expect {
        Expect::Bool if ty != Type::Bool => Err(ExprError::new(format!(
            "expression must be a bool condition, got {ty}"
        ))
        .with_hint(match ty {
            Type::String => "compare the value, e.g. `x == \"gold\"`",
            _ => "compare the value, e.g. `x > 0`",
        })),
        Expect::Number if !ty.is_numeric() => Err(ExprError::new(format!(
            "expression must be a number (int or double), got {ty}"
        ))
        .with_hint(match ty {
            Type::Bool => "turn the condition into a number, e.g. `c ? 1.0 : 0.0`",
            _ => "convert the value with double(x) or int(x)",
        })),
        _ => Ok(()),
    }
}

/// A lowered node and its static type.
struct Typed {
    node: Node,
    ty: Type,
}

impl Typed {
    fn new(node: Node, ty: Type) -> Self {
        Typed { node, ty }
    }

    fn is_const(&self) -> bool {
        matches!(self.node, Node::Const(_))
    }

    fn var(&self) -> Option<VarRef> {
        match self.node {
            Node::Var(var, _) => Some(var),
            _ => None,
        }
    }

    fn boxed(self) -> Box<Node> {
        Box::new(self.node)
    }
}

/// Vars for folding constants: never asked for anything, as constant subtrees
/// have no variables.
struct NoVars;

impl Vars for NoVars {
    fn get(&self, _: VarRef) -> Val<'_> {
        Val::Bool(false)
    }
}

/// Replaces `node`, whose operands are all constants, with its value; an
/// error is left to be raised at evaluation (`false && 1 / 0 == 1` is valid).
fn fold(node: Node, ty: Type) -> Typed {
    let value = match eval::eval(&node, &NoVars) {
        Ok(value) if value.ty() == ty => Some(value.into_owned()),
        _ => None,
    };
    match value {
        Some(value) => Typed::new(Node::Const(value), ty),
        None => Typed::new(node, ty),
    }
}

/// Folds `node` if all its operands are constants.
fn fold_if(all_const: bool, node: Node, ty: Type) -> Typed {
    if all_const {
        fold(node, ty)
    } else {
        Typed::new(node, ty)
    }
}

struct Lowerer<'s> {
    scope: &'s dyn Scope,
    references: Vec<VarRef>,
    depth: u32,
}

// Lowering recurses through `lower`, `lower_expr`, `call` and one operator
// method per level. In a debug build every local of a function gets its own
// stack slot, so these functions stay small, and build their errors in
// out-of-line functions (in `errors`): a level costs about 2 KiB of stack, well within a
// 2 MiB thread stack at `MAX_DEPTH`.
impl Lowerer<'_> {
    fn lower(&mut self, e: &IdedExpr) -> Result<Typed, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        self.depth += 1;
        let typed = self.lower_expr(e);
        self.depth -= 1;
        typed
    }

    fn lower_expr(&mut self, e: &IdedExpr) -> Result<Typed, ExprError> {
        match &e.expr {
            Expr::Literal(literal) => literal_value(literal, e),
            Expr::Ident(name) => self.variable(&[name.as_str()]),
            Expr::Select(select) => {
                let path = if select.test {
                    name_path(&select.operand).map(|mut path| {
                        path.push(select.field.as_str());
                        path
                    })
                } else {
                    name_path(e)
                };
                match path {
                    Some(path) => {
                        let (var, ty) = self.resolve(&path)?;
                        Ok(if select.test {
                            Typed::new(Node::Has(var), Type::Bool)
                        } else {
                            Typed::new(Node::Var(var, ty), ty)
                        })
                    }
                    None => Err(select_error(e)),
                }
            }
            Expr::Call(call) => self.call(call, e),
            _ => Err(unsupported_expr(e)),
        }
    }

    /// Resolves `path`, remembering the reference.
    fn resolve(&mut self, path: &[&str]) -> Result<(VarRef, Type), ExprError> {
        match self.scope.resolve(path) {
            Some((var, ty)) => {
                if !self.references.contains(&var) {
                    self.references.push(var);
                }
                Ok((var, ty))
            }
            None => Err(unknown_identifier(path, self.scope)),
        }
    }

    fn variable(&mut self, path: &[&str]) -> Result<Typed, ExprError> {
        let (var, ty) = self.resolve(path)?;
        Ok(Typed::new(Node::Var(var, ty), ty))
    }

    fn call(&mut self, call: &CallExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        if let Some(target) = &call.target {
            return self.method(call, target, e);
        }
        let args = call.args.as_slice();
        match (call.func_name.as_str(), args) {
            (operators::LOGICAL_AND, [l, r]) => self.logic(true, l, r, e),
            (operators::LOGICAL_OR, [l, r]) => self.logic(false, l, r, e),
            (operators::LOGICAL_NOT | operators::NEGATE, [x]) => self.unary_operator(call, x, e),
            (operators::CONDITIONAL, [c, a, b]) => self.conditional(c, a, b, e),
            (
                operators::ADD | operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                [l, r],
            ) => self.arithmetic(call, l, r, e),
            (
                operators::EQUALS
                | operators::NOT_EQUALS
                | operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                [l, r],
            ) => self.comparison(call, l, r, e),
            (operators::IN, [x, list]) => self.membership(x, list, e),
            ("double" | "int" | "string" | "size" | "abs", [x]) => self.function1(call, x, e),
            ("round" | "min" | "max", [a, b]) => self.function2(call, a, b, e),
            _ => Err(call_error(call, e)),
        }
    }

    fn method(&mut self, call: &CallExpr, target: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let name = call.func_name.as_str();
        match (name, call.args.as_slice()) {
            ("startsWith" | "endsWith" | "contains", [arg]) => {
                let s = self.lower(target)?;
                let t = self.lower(arg)?;
                if s.ty != Type::String || t.ty != Type::String {
                    return Err(string_method_error(name, s.ty, t.ty, e));
                }
                let all_const = s.is_const() && t.is_const();
                let node = match name {
                    "startsWith" => Node::StartsWith(s.boxed(), t.boxed()),
                    "endsWith" => Node::EndsWith(s.boxed(), t.boxed()),
                    _ => Node::Contains(s.boxed(), t.boxed()),
                };
                Ok(fold_if(all_const, node, Type::Bool))
            }
            ("size", []) => {
                let s = self.lower(target)?;
                size(s, e)
            }
            _ => Err(method_error(call, target, e, self.scope)),
        }
    }

    fn unary_operator(&mut self, call: &CallExpr, x: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let x = self.lower(x)?;
        let (all_const, ty) = (x.is_const(), x.ty);
        let node = match (call.func_name.as_str(), ty) {
            (operators::LOGICAL_NOT, Type::Bool) => Node::Not(x.boxed()),
            (operators::NEGATE, Type::Int) => Node::NegInt(x.boxed()),
            (operators::NEGATE, Type::Double) => Node::NegDouble(x.boxed()),
            (op, _) => return Err(unary_error(op, ty, e)),
        };
        Ok(fold_if(all_const, node, ty))
    }

    /// The standard conversions and `size`, and the `abs` extension.
    fn function1(&mut self, call: &CallExpr, x: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let x = self.lower(x)?;
        let all_const = x.is_const();
        let (node, ty) = match (call.func_name.as_str(), x.ty) {
            ("double", Type::Double) | ("int", Type::Int) | ("string", Type::String) => return Ok(x),
            ("double", Type::Int) => (Node::IntToDouble(x.boxed()), Type::Double),
            ("double", Type::String) => (Node::StrToDouble(x.boxed()), Type::Double),
            ("int", Type::Double) => (Node::DoubleToInt(x.boxed()), Type::Int),
            ("int", Type::String) => (Node::StrToInt(x.boxed()), Type::Int),
            ("string", Type::Int) => (Node::IntToStr(x.boxed()), Type::String),
            ("string", Type::Double) => (Node::DoubleToStr(x.boxed()), Type::String),
            ("string", Type::Bool) => (Node::BoolToStr(x.boxed()), Type::String),
            ("size", _) => return size(x, e),
            ("abs", Type::Int) => (Node::AbsInt(x.boxed()), Type::Int),
            ("abs", Type::Double) => (Node::AbsDouble(x.boxed()), Type::Double),
            (name, ty) => return Err(function_error(name, &[ty], e)),
        };
        Ok(fold_if(all_const, node, ty))
    }

    /// The `round`, `min` and `max` extensions.
    fn function2(&mut self, call: &CallExpr, a: &IdedExpr, b: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let a = self.lower(a)?;
        let b = self.lower(b)?;
        let all_const = a.is_const() && b.is_const();
        let (ta, tb) = (a.ty, b.ty);
        let (a, b) = (a.boxed(), b.boxed());
        let (node, ty) = match (call.func_name.as_str(), ta, tb) {
            ("round", Type::Double, Type::Int) => (Node::Round(a, b), Type::Double),
            ("min", Type::Int, Type::Int) => (Node::MinInt(a, b), Type::Int),
            ("max", Type::Int, Type::Int) => (Node::MaxInt(a, b), Type::Int),
            ("min", Type::Double, Type::Double) => (Node::MinDouble(a, b), Type::Double),
            ("max", Type::Double, Type::Double) => (Node::MaxDouble(a, b), Type::Double),
            (name, ta, tb) => return Err(function_error(name, &[ta, tb], e)),
        };
        Ok(fold_if(all_const, node, ty))
    }

    fn logic(&mut self, and: bool, l: &IdedExpr, r: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let l = self.lower(l)?;
        let r = self.lower(r)?;
        if l.ty != Type::Bool || r.ty != Type::Bool {
            return Err(logic_error(and, l.ty, r.ty, e));
        }
        let all_const = l.is_const() && r.is_const();
        let node = if and {
            Node::And(l.boxed(), r.boxed())
        } else {
            Node::Or(l.boxed(), r.boxed())
        };
        Ok(fold_if(all_const, node, Type::Bool))
    }

    fn conditional(&mut self, c: &IdedExpr, a: &IdedExpr, b: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let c = self.lower(c)?;
        let a = self.lower(a)?;
        let b = self.lower(b)?;
        if c.ty != Type::Bool || a.ty != b.ty {
            return Err(conditional_error(c.ty, a.ty, b.ty, e));
        }
        let ty = a.ty;
        // A constant condition picks its branch now: the other is never
        // evaluated, so nothing is lost.
        match c.node {
            Node::Const(Val::Bool(true)) => Ok(a),
            Node::Const(Val::Bool(false)) => Ok(b),
            c => Ok(Typed::new(Node::Cond(Box::new(c), a.boxed(), b.boxed()), ty)),
        }
    }

    fn arithmetic(&mut self, call: &CallExpr, l: &IdedExpr, r: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let l = self.lower(l)?;
        let r = self.lower(r)?;
        let all_const = l.is_const() && r.is_const();
        let (tl, tr) = (l.ty, r.ty);
        let (l, r) = (l.boxed(), r.boxed());
        let (node, ty) = match (call.func_name.as_str(), tl, tr) {
            (operators::ADD, Type::Int, Type::Int) => (Node::AddInt(l, r), Type::Int),
            (operators::SUBSTRACT, Type::Int, Type::Int) => (Node::SubInt(l, r), Type::Int),
            (operators::MULTIPLY, Type::Int, Type::Int) => (Node::MulInt(l, r), Type::Int),
            (operators::DIVIDE, Type::Int, Type::Int) => (Node::DivInt(l, r), Type::Int),
            (operators::MODULO, Type::Int, Type::Int) => (Node::ModInt(l, r), Type::Int),
            (operators::ADD, Type::Double, Type::Double) => (Node::AddDouble(l, r), Type::Double),
            (operators::SUBSTRACT, Type::Double, Type::Double) => (Node::SubDouble(l, r), Type::Double),
            (operators::MULTIPLY, Type::Double, Type::Double) => (Node::MulDouble(l, r), Type::Double),
            (operators::DIVIDE, Type::Double, Type::Double) => (Node::DivDouble(l, r), Type::Double),
            (operators::ADD, Type::String, Type::String) => (Node::Concat(l, r), Type::String),
            (op, tl, tr) => return Err(arithmetic_error(op, tl, tr, e)),
        };
        Ok(fold_if(all_const, node, ty))
    }

    fn comparison(&mut self, call: &CallExpr, l: &IdedExpr, r: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let l = self.lower(l)?;
        let r = self.lower(r)?;
        let op = match call.func_name.as_str() {
            operators::EQUALS => CmpOp::Eq,
            operators::NOT_EQUALS => CmpOp::Ne,
            operators::LESS => CmpOp::Lt,
            operators::LESS_EQUALS => CmpOp::Le,
            operators::GREATER => CmpOp::Gt,
            _ => CmpOp::Ge,
        };
        let all_const = l.is_const() && r.is_const();
        let node = match (l.ty, r.ty) {
            (Type::Int, Type::Int) => compare_ints(op, l, r),
            (a, b) if a.is_numeric() && b.is_numeric() => compare_numbers(op, l, r),
            (Type::String, Type::String) => Node::CmpStr(op, l.boxed(), r.boxed()),
            (Type::Bool, Type::Bool) => Node::CmpBool(op, l.boxed(), r.boxed()),
            (a, b) => return Err(comparison_error(a, b, e)),
        };
        Ok(fold_if(all_const, node, Type::Bool))
    }

    fn membership(&mut self, x: &IdedExpr, list: &IdedExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let needle = self.lower(x)?;
        let Expr::List(items) = &list.expr else {
            return Err(membership_error(list));
        };
        if !items.optional_indices.is_empty() {
            return Err(membership_error(list));
        }
        let mut elements = Vec::with_capacity(items.elements.len());
        for element in &items.elements {
            let lowered = self.lower(element)?;
            let compatible = lowered.ty == needle.ty || (lowered.ty.is_numeric() && needle.ty.is_numeric());
            if !compatible {
                return Err(element_error(element, lowered.ty, x, needle.ty, e));
            }
            elements.push(lowered);
        }
        Ok(membership_node(needle, elements))
    }
}

/// `l op r` on two ints, specialised when one side is a variable and the
/// other a constant.
fn compare_ints(op: CmpOp, l: Typed, r: Typed) -> Node {
    match (l.var(), r.var(), &l.node, &r.node) {
        (Some(var), _, _, Node::Const(Val::Int(k))) => Node::CmpIntConst { var, op, k: *k },
        (_, Some(var), Node::Const(Val::Int(k)), _) => Node::CmpIntConst {
            var,
            op: op.flip(),
            k: *k,
        },
        _ => Node::CmpInt(op, l.boxed(), r.boxed()),
    }
}

/// `l op r` on two numbers, not both ints.
fn compare_numbers(op: CmpOp, l: Typed, r: Typed) -> Node {
    // A double variable against a constant; an int constant converts exactly
    // as CEL's mixed comparison converts it.
    let constant = |t: &Typed| match &t.node {
        Node::Const(v) => v.as_f64(),
        _ => None,
    };
    let var_double = |t: &Typed| if t.ty == Type::Double { t.var() } else { None };
    match (var_double(&l), constant(&r), constant(&l), var_double(&r)) {
        (Some(var), Some(k), _, _) => Node::CmpDoubleConst { var, op, k },
        (_, _, Some(k), Some(var)) => Node::CmpDoubleConst { var, op: op.flip(), k },
        _ => match (l.ty, r.ty) {
            (Type::Int, _) => Node::CmpIntDouble(op, l.boxed(), r.boxed()),
            (_, Type::Int) => Node::CmpDoubleInt(op, l.boxed(), r.boxed()),
            _ => Node::CmpDouble(op, l.boxed(), r.boxed()),
        },
    }
}

/// `needle in [elements]`, over constants when the elements all are.
fn membership_node(needle: Typed, elements: Vec<Typed>) -> Typed {
    let needle_const = needle.is_const();
    if !elements.iter().all(Typed::is_const) {
        let elements = elements.into_iter().map(|t| t.node).collect();
        return Typed::new(Node::InList(needle.boxed(), elements), Type::Bool);
    }
    let consts = elements.into_iter().filter_map(|t| match t.node {
        Node::Const(v) => Some(v),
        _ => None,
    });
    let node = match needle.ty {
        Type::Int => {
            let (mut ints, mut doubles) = (Vec::new(), Vec::new());
            for v in consts {
                match v {
                    Val::Int(i) => ints.push(i),
                    Val::Double(d) => doubles.push(d),
                    _ => {}
                }
            }
            if doubles.is_empty() {
                Node::InInts(needle.boxed(), ints.into())
            } else {
                Node::InIntsDoubles(needle.boxed(), ints.into(), doubles.into())
            }
        }
        Type::Double => Node::InDoubles(needle.boxed(), consts.filter_map(|v| v.as_f64()).collect()),
        Type::String => Node::InStrs(
            needle.boxed(),
            consts
                .filter_map(|v| match v {
                    Val::Str(s) => Some(Box::from(s.as_ref())),
                    _ => None,
                })
                .collect(),
        ),
        Type::Bool => Node::InBools(needle.boxed(), consts.filter_map(|v| v.as_bool()).collect()),
    };
    fold_if(needle_const, node, Type::Bool)
}

fn size(s: Typed, e: &IdedExpr) -> Result<Typed, ExprError> {
    if s.ty != Type::String {
        return Err(function_error("size", &[s.ty], e));
    }
    Ok(fold_if(s.is_const(), Node::Size(s.boxed()), Type::Int))
}

fn literal_value(literal: &LiteralValue, e: &IdedExpr) -> Result<Typed, ExprError> {
    let val = match literal {
        LiteralValue::Boolean(b) => Val::Bool(*b.inner()),
        LiteralValue::Int(i) => Val::Int(*i.inner()),
        LiteralValue::UInt(u) => match i64::try_from(*u.inner()) {
            Ok(i) => Val::Int(i),
            Err(_) => {
                return Err(
                    ExprError::new(format!("unsigned literal `{}` does not fit in an int", render(e)))
                        .with_hint(format!("ints range up to {}", i64::MAX)),
                )
            }
        },
        LiteralValue::Double(d) => Val::Double(*d.inner()),
        LiteralValue::String(s) => Val::Str(Cow::Owned(s.inner().to_owned())),
        LiteralValue::Null => {
            return Err(unsupported(
                "`null` is",
                "test presence with has(), e.g. `has(event.amount)`",
            ))
        }
        LiteralValue::Bytes(_) => {
            return Err(unsupported(
                format!("bytes literal `{}` is", render(e)),
                "use a string literal",
            ))
        }
    };
    let ty = val.ty();
    Ok(Typed::new(Node::Const(val), ty))
}

/// The qualified name `e` spells, if it is an identifier or field selections
/// on one: `a.b.c` is `["a", "b", "c"]`.
pub(crate) fn name_path(e: &IdedExpr) -> Option<Vec<&str>> {
    let mut path = Vec::new();
    let mut e = e;
    loop {
        match &e.expr {
            Expr::Ident(name) => {
                path.push(name.as_str());
                path.reverse();
                return Some(path);
            }
            Expr::Select(select) if !select.test => {
                path.push(select.field.as_str());
                e = &select.operand;
            }
            _ => return None,
        }
    }
}
