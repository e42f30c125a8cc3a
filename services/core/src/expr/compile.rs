//! Parsing, type checking and lowering of CEL source to [`Node`]s.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cel::common::ast::{operators, CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::parser::{ParseErrors, Parser};

use super::eval::{self, CmpOp, Node};
use super::{CompiledExpr, Expect, ExprError, Scope, Type, Val, VarRef, Vars};

/// How deeply expressions may nest. Lowering and evaluation recurse on the
/// tree, on the caller's stack, so this bounds their stack use. The parser
/// bounds nesting through parentheses and `? :`, but not chains such as
/// `a + b + c + ...`.
const MAX_DEPTH: u32 = 100;

const SUFFIX: &str = "unsupported in Revenue Engine expressions";

/// Global functions, offered in "did you mean" hints.
const FUNCTIONS: [&str; 8] = ["double", "int", "string", "size", "round", "min", "max", "abs"];
/// Member functions, offered in "did you mean" hints.
const METHODS: [&str; 4] = ["startsWith", "endsWith", "contains", "size"];
/// CEL macros that expand to comprehensions.
const MACROS: [&str; 5] = ["all", "exists", "exists_one", "map", "filter"];

pub(crate) fn compile(source: &str, scope: &dyn Scope, expect: Expect) -> Result<CompiledExpr, ExprError> {
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

/// The longest source accepted. Revenue rules are short; the bound keeps the
/// parser, which recurses once per operator of a chain such as
/// `a + b + c + ...`, within the stack it is given.
const MAX_SOURCE_LEN: usize = 8 * 1024;

/// Stack of the thread the parser runs on. The `cel` parser (ANTLR-generated)
/// uses a lot of stack per nesting level: in a debug build about 100 KiB per
/// parenthesis, so 20 nested parentheses overflow a 2 MiB thread stack, and a
/// stack overflow aborts the process. 64 MiB (reserved, only touched as used)
/// covers the parser's own nesting limit and any source of `MAX_SOURCE_LEN`.
const PARSER_STACK: usize = 64 << 20;

/// Parses `source` on a helper thread with a large stack, and checks the
/// tree is shallow enough for lowering and evaluation to recurse on the
/// caller's stack. Compiling is a configuration-time operation, so the thread
/// costs little.
fn parse(source: &str) -> Result<IdedExpr, ExprError> {
    if source.len() > MAX_SOURCE_LEN {
        return Err(ExprError::new(format!(
            "expression too long: {} bytes, at most {MAX_SOURCE_LEN}",
            source.len()
        ))
        .with_hint("split the expression into smaller features"));
    }
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("expr-parse".to_owned())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, || parse_guarded(source));
        match spawned {
            Ok(handle) => handle.join().unwrap_or_else(|_| Err(parser_failed())),
            // No thread to be had: parse here, which is fine for the usual
            // short and shallow expression.
            Err(_) => parse_guarded(source),
        }
    })
}

fn parse_guarded(source: &str) -> Result<IdedExpr, ExprError> {
    // The parser reports what it can't parse as errors; the guard makes sure
    // a bug in it can't take the caller down on some odd expression text.
    let ast = match catch_unwind(AssertUnwindSafe(|| Parser::new().parse(source))) {
        Ok(Ok(ast)) => ast,
        Ok(Err(errors)) => return Err(parse_error(source, &errors)),
        Err(_) => return Err(parser_failed()),
    };
    if deeper_than(&ast, MAX_DEPTH) {
        // Dropped here, on the large stack: dropping recurses too.
        return Err(too_deep());
    }
    Ok(ast)
}

fn parser_failed() -> ExprError {
    ExprError::new("invalid expression: the CEL parser failed on it").with_hint("check the expression's syntax")
}

fn too_deep() -> ExprError {
    ExprError::new(format!("expression nested too deeply (more than {MAX_DEPTH} levels)"))
        .with_hint("split the expression into smaller features")
}

/// Whether the tree under `e` has more than `limit` levels.
fn deeper_than(e: &IdedExpr, limit: u32) -> bool {
    let Some(limit) = limit.checked_sub(1) else {
        return true;
    };
    let deeper = |e: &IdedExpr| deeper_than(e, limit);
    match &e.expr {
        Expr::Call(call) => call.target.as_deref().is_some_and(deeper) || call.args.iter().any(deeper),
        Expr::Select(select) => deeper(&select.operand),
        Expr::List(list) => list.elements.iter().any(deeper),
        Expr::Map(map) => map.entries.iter().any(|entry| match &entry.expr {
            EntryExpr::MapEntry(entry) => deeper(&entry.key) || deeper(&entry.value),
            EntryExpr::StructField(field) => deeper(&field.value),
        }),
        Expr::Struct(s) => s.entries.iter().any(|entry| match &entry.expr {
            EntryExpr::MapEntry(entry) => deeper(&entry.key) || deeper(&entry.value),
            EntryExpr::StructField(field) => deeper(&field.value),
        }),
        Expr::Comprehension(c) => [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result]
            .into_iter()
            .any(deeper),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => false,
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
// out-of-line functions: a level costs about 2 KiB of stack, well within a
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

// ---------------------------------------------------------------------------
// Errors, built out of line (see the note on `Lowerer`).
// ---------------------------------------------------------------------------

const MIX_HINT: &str = "CEL does not mix int and double here: convert with double(x) or int(x)";
const MACRO_HINT: &str = "compute the aggregate as a feature, or use `x in [..]` for membership";

#[cold]
#[inline(never)]
fn unknown_identifier(path: &[&str], scope: &dyn Scope) -> ExprError {
    let name = path.join(".");
    let candidates = scope.candidates();
    ExprError::new(format!("unknown identifier `{name}`")).with_hint(suggest(&name, &candidates, "identifiers"))
}

#[cold]
#[inline(never)]
fn select_error(e: &IdedExpr) -> ExprError {
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
fn unsupported_expr(e: &IdedExpr) -> ExprError {
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
fn call_error(call: &CallExpr, e: &IdedExpr) -> ExprError {
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
        name => ExprError::new(format!("unknown function `{name}` in `{}`", render(e))).with_hint(suggest(
            name,
            &FUNCTIONS,
            "functions",
        )),
    }
}

/// A member call `method` doesn't handle.
#[cold]
#[inline(never)]
fn method_error(call: &CallExpr, target: &IdedExpr, e: &IdedExpr, scope: &dyn Scope) -> ExprError {
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
        return ExprError::new(format!("unknown function `{qualified}` in `{}`", render(e))).with_hint(suggest(
            name,
            &FUNCTIONS,
            "functions",
        ));
    }
    ExprError::new(format!("unknown method `{name}` in `{}`", render(e))).with_hint(suggest(name, &METHODS, "methods"))
}

#[cold]
#[inline(never)]
fn string_method_error(name: &str, target: Type, arg: Type, e: &IdedExpr) -> ExprError {
    no_overload(e, &[target, arg]).with_hint(format!(
        "{name}() is a method of a string taking a string, e.g. `s.{name}(\"x\")`; convert with string(x)"
    ))
}

#[cold]
#[inline(never)]
fn unary_error(op: &str, ty: Type, e: &IdedExpr) -> ExprError {
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
fn function_error(name: &str, types: &[Type], e: &IdedExpr) -> ExprError {
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
fn logic_error(and: bool, l: Type, r: Type, e: &IdedExpr) -> ExprError {
    let symbol = if and { "&&" } else { "||" };
    operand_error(symbol, &[l, r], e).with_hint(format!(
        "`{symbol}` joins bool conditions; compare values first, e.g. `x > 0`"
    ))
}

#[cold]
#[inline(never)]
fn conditional_error(c: Type, a: Type, b: Type, e: &IdedExpr) -> ExprError {
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
fn arithmetic_error(op: &str, l: Type, r: Type, e: &IdedExpr) -> ExprError {
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
fn comparison_error(l: Type, r: Type, e: &IdedExpr) -> ExprError {
    let error = ExprError::new(format!("cannot compare {l} with {r} in `{}`", render(e)));
    if l == Type::String || r == Type::String {
        error.with_hint("convert one side: string(x) for text, double(s) or int(s) for numbers")
    } else {
        error.with_hint("compare values of the same type")
    }
}

#[cold]
#[inline(never)]
fn membership_error(list: &IdedExpr) -> ExprError {
    unsupported(
        format!("`in` on `{}` is", render(list)),
        "`in` tests membership in a list literal, e.g. `x in [1, 2, 3]`",
    )
}

#[cold]
#[inline(never)]
fn element_error(element: &IdedExpr, element_ty: Type, x: &IdedExpr, x_ty: Type, e: &IdedExpr) -> ExprError {
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

/// "an int", "a double", ...
fn with_article(ty: Type) -> String {
    match ty {
        Type::Int => format!("an {ty}"),
        _ => format!("a {ty}"),
    }
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
