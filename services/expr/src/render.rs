//! Printing a CEL tree back to source, for error messages.

use std::fmt::Write as _;

use cel::common::ast::{operators, EntryExpr, Expr, IdedExpr, LiteralValue};

use crate::MAX_DEPTH;

/// The symbol of an operator function name: `_+_` is `+`.
pub(crate) fn symbol(func_name: &str) -> &str {
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
