//! Parsing, type checking and lowering of CEL source to [`Node`]s.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cel::common::ast::{operators, CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::parser::{ParseErrors, Parser};

use super::eval::{self, CmpOp, Node};
use super::{CompiledExpr, Expect, ExprError, Scope, Type, Val, VarRef, Vars};

/// How deeply expressions may nest. Lowering and evaluation recurse on the
/// tree, so this bounds their stack use. The parser already bounds nesting
/// through parentheses and `? :`, but not chains such as `a + b + c + ...`.
const MAX_DEPTH: u32 = 200;

const SUFFIX: &str = "unsupported in Revenue Engine expressions";

/// Global functions, offered in "did you mean" hints.
const FUNCTIONS: [&str; 8] = [
    "double", "int", "string", "size", "round", "min", "max", "abs",
];
/// Member functions, offered in "did you mean" hints.
const METHODS: [&str; 4] = ["startsWith", "endsWith", "contains", "size"];
/// CEL macros that expand to comprehensions.
const MACROS: [&str; 5] = ["all", "exists", "exists_one", "map", "filter"];

pub(crate) fn compile(
    source: &str,
    scope: &dyn Scope,
    expect: Expect,
) -> Result<CompiledExpr, ExprError> {
    let ast = parse(source)?;
    let mut lowerer = Lowerer {
        scope,
        references: Vec::new(),
        depth: 0,
    };
    let Typed { node, ty } = lowerer.lower(&ast)?;
    check_result(ty, expect)?;
    Ok(CompiledExpr {
        source: source.to_owned(),
        root: node,
        result_type: ty,
        references: lowerer.references,
    })
}

fn parse(source: &str) -> Result<IdedExpr, ExprError> {
    // The parser reports what it can't parse as errors; the guard makes sure
    // a bug in it can't take the caller down on some odd expression text.
    match catch_unwind(AssertUnwindSafe(|| Parser::new().parse(source))) {
        Ok(Ok(ast)) => Ok(ast),
        Ok(Err(errors)) => Err(parse_error(source, &errors)),
        Err(_) => Err(ExprError::new("invalid expression: the CEL parser failed on it")
            .with_hint("check the expression's syntax")),
    }
}

fn parse_error(source: &str, errors: &ParseErrors) -> ExprError {
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
        let text = usize::try_from(line - 1)
            .ok()
            .and_then(|line| source.lines().nth(line));
        if let (Some(text), Ok(column @ 1..)) = (text, usize::try_from(column)) {
            error = error.with_hint(format!(
                "check the syntax at line {line}, column {column}:\n  {text}\n  {:>column$}",
                "^"
            ));
        }
    }
    error
}

fn check_result(ty: Type, expect: Expect) -> Result<(), ExprError> {
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
            Node::Var(var) => Some(var),
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

impl Lowerer<'_> {
    fn lower(&mut self, e: &IdedExpr) -> Result<Typed, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(ExprError::new(format!(
                "expression nested too deeply (more than {MAX_DEPTH} levels)"
            ))
            .with_hint("split the expression into smaller features"));
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
            Expr::Select(select) if select.test => {
                let Some(mut path) = name_path(&select.operand) else {
                    return Err(ExprError::new(format!(
                        "`{}`: has() takes a field of a variable",
                        render(e)
                    ))
                    .with_hint("test a field such as `has(event.amount)`"));
                };
                path.push(select.field.as_str());
                let (var, _) = self.resolve(&path)?;
                Ok(Typed::new(Node::Has(var), Type::Bool))
            }
            Expr::Select(_) => match name_path(e) {
                Some(path) => self.variable(&path),
                None => Err(unsupported(
                    format!("field selection on a computed value `{}` is", render(e)),
                    "select fields of variables only, e.g. `event.amount`",
                )),
            },
            Expr::Call(call) => self.call(call, e),
            Expr::List(_) => Err(unsupported(
                format!("list `{}` is", render(e)),
                "lists are only supported on the right of `in`, e.g. `x in [1, 2]`",
            )),
            Expr::Map(_) => Err(unsupported(
                format!("map `{}` is", render(e)),
                "use variables and literals of type bool, int, double or string",
            )),
            Expr::Struct(_) => Err(unsupported(
                format!("message construction `{}` is", render(e)),
                "use variables and literals of type bool, int, double or string",
            )),
            Expr::Comprehension(_) => Err(unsupported(
                "comprehension macros (`all`, `exists`, `exists_one`, `map`, `filter`) are",
                "compute the aggregate as a feature, or use `x in [..]` for membership",
            )),
            Expr::Unspecified => Err(ExprError::new("invalid expression")),
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
            None => {
                let name = path.join(".");
                let candidates = self.scope.candidates();
                Err(ExprError::new(format!("unknown identifier `{name}`"))
                    .with_hint(suggest(&name, &candidates, "identifiers")))
            }
        }
    }

    fn variable(&mut self, path: &[&str]) -> Result<Typed, ExprError> {
        let (var, ty) = self.resolve(path)?;
        Ok(Typed::new(Node::Var(var), ty))
    }

    fn call(&mut self, call: &CallExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        if let Some(target) = &call.target {
            return self.method(call, target, e);
        }
        let args = &call.args;
        match (call.func_name.as_str(), args.len()) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, 2) => self.logic(call, e),
            (operators::LOGICAL_NOT, 1) => {
                let x = self.lower(&args[0])?;
                if x.ty != Type::Bool {
                    return Err(operand_error("!", &[x.ty], e)
                        .with_hint("`!` negates a bool; compare the value first, e.g. `!(x > 0)`"));
                }
                Ok(fold_if(x.is_const(), Node::Not(x.boxed()), Type::Bool))
            }
            (operators::NEGATE, 1) => {
                let x = self.lower(&args[0])?;
                let (all_const, ty) = (x.is_const(), x.ty);
                let node = match ty {
                    Type::Int => Node::NegInt(x.boxed()),
                    Type::Double => Node::NegDouble(x.boxed()),
                    _ => return Err(operand_error("-", &[ty], e)),
                };
                Ok(fold_if(all_const, node, ty))
            }
            (operators::CONDITIONAL, 3) => self.conditional(args, e),
            (
                operators::ADD
                | operators::SUBSTRACT
                | operators::MULTIPLY
                | operators::DIVIDE
                | operators::MODULO,
                2,
            ) => self.arithmetic(call, e),
            (
                operators::EQUALS
                | operators::NOT_EQUALS
                | operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                2,
            ) => self.comparison(call, e),
            (operators::IN, 2) => self.membership(args, e),
            (operators::INDEX | operators::OPT_INDEX, _) => Err(unsupported(
                format!("indexing `{}` is", render(e)),
                "select fields by name, e.g. `event.amount`",
            )),
            (operators::OPT_SELECT, _) => Err(unsupported(
                format!("optional selection `{}` is", render(e)),
                "test presence with has(), e.g. `has(event.amount)`",
            )),
            ("double", 1) => {
                let x = self.lower(&args[0])?;
                let all_const = x.is_const();
                match x.ty {
                    Type::Double => Ok(x),
                    Type::Int => Ok(fold_if(all_const, Node::IntToDouble(x.boxed()), Type::Double)),
                    Type::String => {
                        Ok(fold_if(all_const, Node::StrToDouble(x.boxed()), Type::Double))
                    }
                    Type::Bool => Err(no_overload(e, &[Type::Bool])
                        .with_hint("double() converts an int or a string")),
                }
            }
            ("int", 1) => {
                let x = self.lower(&args[0])?;
                let all_const = x.is_const();
                match x.ty {
                    Type::Int => Ok(x),
                    Type::Double => Ok(fold_if(all_const, Node::DoubleToInt(x.boxed()), Type::Int)),
                    Type::String => Ok(fold_if(all_const, Node::StrToInt(x.boxed()), Type::Int)),
                    Type::Bool => Err(no_overload(e, &[Type::Bool])
                        .with_hint("int() converts a double or a string; for a bool use `c ? 1 : 0`")),
                }
            }
            ("string", 1) => {
                let x = self.lower(&args[0])?;
                match x.ty {
                    Type::String => Ok(x),
                    _ => Ok(fold_if(x.is_const(), Node::ToStr(x.boxed()), Type::String)),
                }
            }
            ("size", 1) => {
                let x = self.lower(&args[0])?;
                self.size(x, e)
            }
            ("round", 2) => {
                let x = self.lower(&args[0])?;
                let digits = self.lower(&args[1])?;
                match (x.ty, digits.ty) {
                    (Type::Double, Type::Int) => {
                        let all_const = x.is_const() && digits.is_const();
                        Ok(fold_if(
                            all_const,
                            Node::Round(x.boxed(), digits.boxed()),
                            Type::Double,
                        ))
                    }
                    (Type::Int, Type::Int) => Err(no_overload(e, &[x.ty, digits.ty])
                        .with_hint("round() takes a double: convert with double(x)")),
                    (Type::Double, Type::Double) => Err(no_overload(e, &[x.ty, digits.ty])
                        .with_hint("the number of digits is an int: convert with int(x)")),
                    (a, b) => Err(no_overload(e, &[a, b])
                        .with_hint("round(x, digits) takes a double and an int")),
                }
            }
            (name @ ("min" | "max"), 2) => {
                let a = self.lower(&args[0])?;
                let b = self.lower(&args[1])?;
                let all_const = a.is_const() && b.is_const();
                let min = name == "min";
                match (a.ty, b.ty) {
                    (Type::Int, Type::Int) => {
                        let node = if min {
                            Node::MinInt(a.boxed(), b.boxed())
                        } else {
                            Node::MaxInt(a.boxed(), b.boxed())
                        };
                        Ok(fold_if(all_const, node, Type::Int))
                    }
                    (Type::Double, Type::Double) => {
                        let node = if min {
                            Node::MinDouble(a.boxed(), b.boxed())
                        } else {
                            Node::MaxDouble(a.boxed(), b.boxed())
                        };
                        Ok(fold_if(all_const, node, Type::Double))
                    }
                    (ta, tb) if ta.is_numeric() && tb.is_numeric() => {
                        Err(no_overload(e, &[ta, tb]).with_hint(MIX_HINT))
                    }
                    (ta, tb) => Err(no_overload(e, &[ta, tb])
                        .with_hint(format!("{name}() takes two ints or two doubles"))),
                }
            }
            ("abs", 1) => {
                let x = self.lower(&args[0])?;
                let all_const = x.is_const();
                match x.ty {
                    Type::Int => Ok(fold_if(all_const, Node::AbsInt(x.boxed()), Type::Int)),
                    Type::Double => {
                        Ok(fold_if(all_const, Node::AbsDouble(x.boxed()), Type::Double))
                    }
                    ty => Err(no_overload(e, &[ty]).with_hint("abs() takes an int or a double")),
                }
            }
            (name, n) if FUNCTIONS.contains(&name) => Err(ExprError::new(format!(
                "function `{name}` does not take {n} argument{} in `{}`",
                if n == 1 { "" } else { "s" },
                render(e)
            ))
            .with_hint(function_signature(name))),
            (name, _) if MACROS.contains(&name) || name == operators::HAS => Err(unsupported(
                format!("macro `{name}` in `{}` is", render(e)),
                "compute the aggregate as a feature, or use `x in [..]` for membership",
            )),
            (name, _) if name.starts_with('@') || name.starts_with('_') || name.ends_with('_') => {
                Err(unsupported(
                    format!("operator `{name}` in `{}` is", render(e)),
                    "see the supported operators in the expression documentation",
                ))
            }
            (name, _) => Err(ExprError::new(format!(
                "unknown function `{name}` in `{}`",
                render(e)
            ))
            .with_hint(suggest(name, &FUNCTIONS, "functions"))),
        }
    }

    fn method(
        &mut self,
        call: &CallExpr,
        target: &IdedExpr,
        e: &IdedExpr,
    ) -> Result<Typed, ExprError> {
        let name = call.func_name.as_str();
        match (name, call.args.len()) {
            ("startsWith" | "endsWith" | "contains", 1) => {
                let s = self.lower(target)?;
                let t = self.lower(&call.args[0])?;
                if s.ty != Type::String || t.ty != Type::String {
                    return Err(no_overload(e, &[s.ty, t.ty]).with_hint(format!(
                        "{name}() is a method of a string taking a string, e.g. `s.{name}(\"x\")`; convert with string(x)"
                    )));
                }
                let all_const = s.is_const() && t.is_const();
                let node = match name {
                    "startsWith" => Node::StartsWith(s.boxed(), t.boxed()),
                    "endsWith" => Node::EndsWith(s.boxed(), t.boxed()),
                    _ => Node::Contains(s.boxed(), t.boxed()),
                };
                Ok(fold_if(all_const, node, Type::Bool))
            }
            ("size", 0) => {
                let s = self.lower(target)?;
                self.size(s, e)
            }
            (name, _) if METHODS.contains(&name) => Err(ExprError::new(format!(
                "method `{name}` does not take {} argument{} in `{}`",
                call.args.len(),
                if call.args.len() == 1 { "" } else { "s" },
                render(e)
            ))
            .with_hint(function_signature(name))),
            (name, _) if MACROS.contains(&name) => Err(unsupported(
                format!("macro `{name}` in `{}` is", render(e)),
                "compute the aggregate as a feature, or use `x in [..]` for membership",
            )),
            (name, _) => {
                // `math.abs(x)` reads as a namespaced function, `s.foo()` as a
                // method.
                if let Some(path) = name_path(target).filter(|p| self.scope.resolve(p).is_none())
                {
                    let qualified = format!("{}.{name}", path.join("."));
                    return Err(ExprError::new(format!(
                        "unknown function `{qualified}` in `{}`",
                        render(e)
                    ))
                    .with_hint(suggest(name, &FUNCTIONS, "functions")));
                }
                Err(
                    ExprError::new(format!("unknown method `{name}` in `{}`", render(e)))
                        .with_hint(suggest(name, &METHODS, "methods")),
                )
            }
        }
    }

    fn size(&mut self, s: Typed, e: &IdedExpr) -> Result<Typed, ExprError> {
        if s.ty != Type::String {
            return Err(no_overload(e, &[s.ty])
                .with_hint("size() takes a string; convert with string(x)"));
        }
        Ok(fold_if(s.is_const(), Node::Size(s.boxed()), Type::Int))
    }

    fn logic(&mut self, call: &CallExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let l = self.lower(&call.args[0])?;
        let r = self.lower(&call.args[1])?;
        let and = call.func_name == operators::LOGICAL_AND;
        let symbol = if and { "&&" } else { "||" };
        if l.ty != Type::Bool || r.ty != Type::Bool {
            return Err(operand_error(symbol, &[l.ty, r.ty], e)
                .with_hint(format!("`{symbol}` joins bool conditions; compare values first, e.g. `x > 0`")));
        }
        let all_const = l.is_const() && r.is_const();
        let node = if and {
            Node::And(l.boxed(), r.boxed())
        } else {
            Node::Or(l.boxed(), r.boxed())
        };
        Ok(fold_if(all_const, node, Type::Bool))
    }

    fn conditional(&mut self, args: &[IdedExpr], e: &IdedExpr) -> Result<Typed, ExprError> {
        let c = self.lower(&args[0])?;
        let a = self.lower(&args[1])?;
        let b = self.lower(&args[2])?;
        if c.ty != Type::Bool {
            return Err(ExprError::new(format!(
                "the condition of `{}` must be a bool, got {}",
                render(e),
                c.ty
            ))
            .with_hint("compare the value, e.g. `x > 0 ? a : b`"));
        }
        if a.ty != b.ty {
            let error = ExprError::new(format!(
                "the branches of `{}` have different types: {} and {}",
                render(e),
                a.ty,
                b.ty
            ));
            return Err(if a.ty.is_numeric() && b.ty.is_numeric() {
                error.with_hint(MIX_HINT)
            } else {
                error.with_hint("both branches must have the same type")
            });
        }
        let ty = a.ty;
        // A constant condition picks its branch now: the other is never
        // evaluated, so nothing is lost.
        match c.node {
            Node::Const(Val::Bool(true)) => Ok(a),
            Node::Const(Val::Bool(false)) => Ok(b),
            c => Ok(Typed::new(
                Node::Cond(Box::new(c), a.boxed(), b.boxed()),
                ty,
            )),
        }
    }

    fn arithmetic(&mut self, call: &CallExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let l = self.lower(&call.args[0])?;
        let r = self.lower(&call.args[1])?;
        let op = call.func_name.as_str();
        let symbol = symbol(op);
        let all_const = l.is_const() && r.is_const();
        let (node, ty) = match (l.ty, r.ty) {
            (Type::Int, Type::Int) => {
                let (l, r) = (l.boxed(), r.boxed());
                let node = match op {
                    operators::ADD => Node::AddInt(l, r),
                    operators::SUBSTRACT => Node::SubInt(l, r),
                    operators::MULTIPLY => Node::MulInt(l, r),
                    operators::DIVIDE => Node::DivInt(l, r),
                    _ => Node::ModInt(l, r),
                };
                (node, Type::Int)
            }
            (Type::Double, Type::Double) => {
                let (lb, rb) = (l.boxed(), r.boxed());
                let node = match op {
                    operators::ADD => Node::AddDouble(lb, rb),
                    operators::SUBSTRACT => Node::SubDouble(lb, rb),
                    operators::MULTIPLY => Node::MulDouble(lb, rb),
                    operators::DIVIDE => Node::DivDouble(lb, rb),
                    _ => {
                        return Err(ExprError::new(format!(
                            "operator `%` is not defined for double in `{}`",
                            render(e)
                        ))
                        .with_hint("CEL has no double modulus; use int operands, e.g. `int(x) % 2`"))
                    }
                };
                (node, Type::Double)
            }
            (Type::String, Type::String) if op == operators::ADD => {
                (Node::Concat(l.boxed(), r.boxed()), Type::String)
            }
            (a, b) if a.is_numeric() && b.is_numeric() => {
                return Err(ExprError::new(format!(
                    "type mismatch in `{}`: `{symbol}` on {a} and {b}",
                    render(e)
                ))
                .with_hint(MIX_HINT))
            }
            (a, b) => return Err(operand_error(symbol, &[a, b], e)),
        };
        Ok(fold_if(all_const, node, ty))
    }

    fn comparison(&mut self, call: &CallExpr, e: &IdedExpr) -> Result<Typed, ExprError> {
        let l = self.lower(&call.args[0])?;
        let r = self.lower(&call.args[1])?;
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
            (Type::Int, Type::Int) => match (l.var(), r.var(), &l.node, &r.node) {
                (Some(var), _, _, Node::Const(Val::Int(k))) => Node::CmpIntConst { var, op, k: *k },
                (_, Some(var), Node::Const(Val::Int(k)), _) => Node::CmpIntConst {
                    var,
                    op: op.flip(),
                    k: *k,
                },
                _ => Node::CmpInt(op, l.boxed(), r.boxed()),
            },
            (a, b) if a.is_numeric() && b.is_numeric() => {
                // A double variable against a constant; an int constant
                // converts exactly as CEL's mixed comparison does.
                let as_f64 = |n: &Node| match n {
                    Node::Const(v) => v.as_f64(),
                    _ => None,
                };
                match (l.var(), r.var()) {
                    (Some(var), _) if a == Type::Double && as_f64(&r.node).is_some() => {
                        let k = as_f64(&r.node).unwrap_or_default();
                        Node::CmpDoubleConst { var, op, k }
                    }
                    (_, Some(var)) if b == Type::Double && as_f64(&l.node).is_some() => {
                        let k = as_f64(&l.node).unwrap_or_default();
                        Node::CmpDoubleConst {
                            var,
                            op: op.flip(),
                            k,
                        }
                    }
                    _ if a == b => Node::CmpDouble(op, l.boxed(), r.boxed()),
                    _ => Node::CmpNum(op, l.boxed(), r.boxed()),
                }
            }
            (Type::String, Type::String) => Node::CmpStr(op, l.boxed(), r.boxed()),
            (Type::Bool, Type::Bool) => Node::CmpBool(op, l.boxed(), r.boxed()),
            (a, b) => {
                let error = ExprError::new(format!(
                    "cannot compare {a} with {b} in `{}`",
                    render(e)
                ));
                return Err(if a == Type::String || b == Type::String {
                    error.with_hint("convert one side: string(x) for text, double(s) or int(s) for numbers")
                } else {
                    error.with_hint("compare values of the same type")
                });
            }
        };
        Ok(fold_if(all_const, node, Type::Bool))
    }

    fn membership(&mut self, args: &[IdedExpr], e: &IdedExpr) -> Result<Typed, ExprError> {
        let x = self.lower(&args[0])?;
        let Expr::List(list) = &args[1].expr else {
            return Err(unsupported(
                format!("`in` on `{}` is", render(&args[1])),
                "`in` tests membership in a list literal, e.g. `x in [1, 2, 3]`",
            ));
        };
        if !list.optional_indices.is_empty() {
            return Err(unsupported(
                format!("optional list elements in `{}` are", render(&args[1])),
                "list the elements plainly",
            ));
        }
        let mut elements = Vec::with_capacity(list.elements.len());
        for element in &list.elements {
            let lowered = self.lower(element)?;
            let compatible =
                lowered.ty == x.ty || (lowered.ty.is_numeric() && x.ty.is_numeric());
            if !compatible {
                return Err(ExprError::new(format!(
                    "list element `{}` is a {} but `{}` is a {} in `{}`",
                    render(element),
                    lowered.ty,
                    render(&args[0]),
                    x.ty,
                    render(e)
                ))
                .with_hint("list elements must have the type of the value tested"));
            }
            elements.push(lowered);
        }
        let x_const = x.is_const();
        if !elements.iter().all(Typed::is_const) {
            let elements = elements.into_iter().map(|t| t.node).collect();
            return Ok(Typed::new(Node::InList(x.boxed(), elements), Type::Bool));
        }
        let consts = elements.into_iter().filter_map(|t| match t.node {
            Node::Const(v) => Some(v),
            _ => None,
        });
        let node = match x.ty {
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
                    Node::InInts(x.boxed(), ints.into())
                } else {
                    Node::InIntsDoubles(x.boxed(), ints.into(), doubles.into())
                }
            }
            Type::Double => Node::InDoubles(x.boxed(), consts.filter_map(|v| v.as_f64()).collect()),
            Type::String => Node::InStrs(
                x.boxed(),
                consts
                    .filter_map(|v| match v {
                        Val::Str(s) => Some(Box::from(s.as_ref())),
                        _ => None,
                    })
                    .collect(),
            ),
            Type::Bool => Node::InBools(x.boxed(), consts.filter_map(|v| v.as_bool()).collect()),
        };
        Ok(fold_if(x_const, node, Type::Bool))
    }
}

const MIX_HINT: &str =
    "CEL does not mix int and double here: convert with double(x) or int(x)";

fn literal_value(literal: &LiteralValue, e: &IdedExpr) -> Result<Typed, ExprError> {
    let val = match literal {
        LiteralValue::Boolean(b) => Val::Bool(*b.inner()),
        LiteralValue::Int(i) => Val::Int(*i.inner()),
        LiteralValue::UInt(u) => match i64::try_from(*u.inner()) {
            Ok(i) => Val::Int(i),
            Err(_) => {
                return Err(ExprError::new(format!(
                    "unsigned literal `{}` does not fit in an int",
                    render(e)
                ))
                .with_hint(format!("ints range up to {}", i64::MAX)))
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

fn unsupported(what: impl AsRef<str>, hint: &str) -> ExprError {
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

/// The qualified name `e` spells, if it is an identifier or field selections
/// on one: `a.b.c` is `["a", "b", "c"]`.
fn name_path(e: &IdedExpr) -> Option<Vec<&str>> {
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

/// A "did you mean" hint: the closest candidate within an edit distance of 3,
/// or a few of the candidates.
fn suggest<S: AsRef<str>>(name: &str, candidates: &[S], kind: &str) -> String {
    let name_len = name.chars().count();
    let best = candidates
        .iter()
        .map(|c| (levenshtein(name, c.as_ref()), c.as_ref()))
        .filter(|(d, _)| *d <= 3 && *d < name_len)
        .min_by_key(|(d, _)| *d);
    if let Some((_, best)) = best {
        return format!("did you mean `{best}`?");
    }
    if candidates.is_empty() {
        return format!("no {kind} are defined here");
    }
    let mut sorted: Vec<&str> = candidates.iter().map(|c| c.as_ref()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    const SHOWN: usize = 8;
    let mut hint = format!("known {kind}: ");
    for (i, c) in sorted.iter().take(SHOWN).enumerate() {
        if i > 0 {
            hint.push_str(", ");
        }
        let _ = write!(hint, "`{c}`");
    }
    if sorted.len() > SHOWN {
        let _ = write!(hint, ", … ({} more)", sorted.len() - SHOWN);
    }
    hint
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The symbol of an operator function name: `_+_` is `+`.
fn symbol(func_name: &str) -> &str {
    match func_name {
        operators::IN => "in",
        operators::LOGICAL_NOT => "!",
        operators::NEGATE => "-",
        name => name.trim_matches('_'),
    }
}

/// Precedence of an expression when rendered, higher binds tighter.
fn precedence(e: &Expr) -> u8 {
    match e {
        Expr::Call(call) if call.target.is_none() => match call.func_name.as_str() {
            operators::CONDITIONAL => 1,
            operators::LOGICAL_OR => 2,
            operators::LOGICAL_AND => 3,
            operators::EQUALS
            | operators::NOT_EQUALS
            | operators::LESS
            | operators::LESS_EQUALS
            | operators::GREATER
            | operators::GREATER_EQUALS
            | operators::IN => 4,
            operators::ADD | operators::SUBSTRACT => 5,
            operators::MULTIPLY | operators::DIVIDE | operators::MODULO => 6,
            operators::LOGICAL_NOT | operators::NEGATE => 7,
            _ => 8,
        },
        _ => 8,
    }
}

/// Renders `e` back to CEL source, for messages.
pub(crate) fn render(e: &IdedExpr) -> String {
    let mut out = String::new();
    write_expr(&mut out, e, 0, 0);
    out
}

fn write_expr(out: &mut String, e: &IdedExpr, min_precedence: u8, depth: u32) {
    if depth > MAX_DEPTH {
        out.push('…');
        return;
    }
    let precedence = precedence(&e.expr);
    if precedence < min_precedence {
        out.push('(');
        write_inner(out, e, precedence, depth + 1);
        out.push(')');
    } else {
        write_inner(out, e, precedence, depth + 1);
    }
}

fn write_list(out: &mut String, items: &[IdedExpr], depth: u32) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_expr(out, item, 0, depth);
    }
}

fn write_inner(out: &mut String, e: &IdedExpr, precedence: u8, depth: u32) {
    match &e.expr {
        Expr::Call(call) => match (&call.target, call.func_name.as_str(), call.args.as_slice()) {
            (None, operators::CONDITIONAL, [c, a, b]) => {
                write_expr(out, c, 2, depth);
                out.push_str(" ? ");
                write_expr(out, a, 2, depth);
                out.push_str(" : ");
                write_expr(out, b, 1, depth);
            }
            (None, op @ (operators::LOGICAL_NOT | operators::NEGATE), [x]) => {
                out.push_str(symbol(op));
                write_expr(out, x, 7, depth);
            }
            (None, operators::INDEX, [a, i]) => {
                write_expr(out, a, 8, depth);
                out.push('[');
                write_expr(out, i, 0, depth);
                out.push(']');
            }
            (None, op, [l, r]) if precedence < 8 => {
                write_expr(out, l, precedence, depth);
                let _ = write!(out, " {} ", symbol(op));
                write_expr(out, r, precedence + 1, depth);
            }
            (None, operators::NOT_STRICTLY_FALSE, [x]) => write_expr(out, x, 0, depth),
            (None, name, args) => {
                let _ = write!(out, "{name}(");
                write_list(out, args, depth);
                out.push(')');
            }
            (Some(target), name, args) => {
                write_expr(out, target, 8, depth);
                let _ = write!(out, ".{name}(");
                write_list(out, args, depth);
                out.push(')');
            }
        },
        Expr::Ident(name) => out.push_str(name),
        Expr::Select(select) if select.test => {
            out.push_str("has(");
            write_expr(out, &select.operand, 8, depth);
            let _ = write!(out, ".{})", select.field);
        }
        Expr::Select(select) => {
            write_expr(out, &select.operand, 8, depth);
            let _ = write!(out, ".{}", select.field);
        }
        Expr::Literal(literal) => match literal {
            LiteralValue::Boolean(b) => {
                let _ = write!(out, "{}", b.inner());
            }
            LiteralValue::Int(i) => {
                let _ = write!(out, "{}", i.inner());
            }
            LiteralValue::UInt(u) => {
                let _ = write!(out, "{}u", u.inner());
            }
            LiteralValue::Double(d) => {
                let _ = write!(out, "{:?}", d.inner());
            }
            LiteralValue::String(s) => {
                let _ = write!(out, "{:?}", s.inner());
            }
            LiteralValue::Bytes(b) => {
                let _ = write!(out, "b{:?}", String::from_utf8_lossy(b.inner()));
            }
            LiteralValue::Null => out.push_str("null"),
        },
        Expr::List(list) => {
            out.push('[');
            write_list(out, &list.elements, depth);
            out.push(']');
        }
        Expr::Map(map) => {
            out.push('{');
            for (i, entry) in map.entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let EntryExpr::MapEntry(entry) = &entry.expr {
                    write_expr(out, &entry.key, 0, depth);
                    out.push_str(": ");
                    write_expr(out, &entry.value, 0, depth);
                }
            }
            out.push('}');
        }
        Expr::Struct(s) => {
            let _ = write!(out, "{}{{", s.type_name);
            for (i, entry) in s.entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let EntryExpr::StructField(field) = &entry.expr {
                    let _ = write!(out, "{}: ", field.field);
                    write_expr(out, &field.value, 0, depth);
                }
            }
            out.push('}');
        }
        Expr::Comprehension(c) => {
            write_expr(out, &c.iter_range, 8, depth);
            let _ = write!(out, ".<macro>({}, …)", c.iter_var);
        }
        Expr::Unspecified => out.push('?'),
    }
}
