//! Parsing CEL source with the `cel` crate's parser, within bounds of length
//! and depth that keep every later pass on a small stack.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::parser::Parser;

use crate::errors::{parse_error, parser_failed, too_deep};
use crate::{ExprError, MAX_DEPTH};

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
pub(crate) fn parse(source: &str) -> Result<IdedExpr, ExprError> {
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
