//! Problems found while loading a use-case directory, each with its place and a hint.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// File the problem is in, as given by the loader (relative to the directory).
    pub file: String,
    /// Key path inside the file, e.g. `action.tiers[1].when`; empty for the whole file.
    pub key_path: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &str, key_path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            key_path: key_path.into(),
            line: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key_path.is_empty() {
            write!(f, ": {}", self.key_path)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Finds the line of a key path such as `action.tiers[1].when` in block-style YAML text.
/// Best effort: where the path goes into flow style (`{a: 1}`, `[x, y]`) it stops at the
/// deepest key it found; `None` when not even the first key is found.
pub fn locate(text: &str, key_path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0usize;
    let mut min_indent = 0usize;
    let mut found = None;
    for segment in key_path.split('.') {
        let (key, indices) = split_indices(segment);
        if !key.is_empty() {
            let Some((line, indent)) = find_key(&lines, start, min_indent, key) else {
                break;
            };
            found = Some(line);
            start = line + 1;
            min_indent = indent + 1;
        }
        for index in indices {
            let Some((line, indent)) = find_item(&lines, start, min_indent.saturating_sub(1), index) else {
                return found.map(|line| line + 1);
            };
            found = Some(line);
            // keys of the item sit on the dash line or below it, indented past the dash
            start = line;
            min_indent = indent + 1;
        }
    }
    found.map(|line| line + 1)
}

fn split_indices(segment: &str) -> (&str, Vec<usize>) {
    let key_end = segment.find('[').unwrap_or(segment.len());
    let indices = segment[key_end..]
        .split(['[', ']'])
        .filter_map(|part| part.parse().ok())
        .collect();
    (&segment[..key_end], indices)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn find_key(lines: &[&str], start: usize, min_indent: usize, key: &str) -> Option<(usize, usize)> {
    for (offset, line) in lines.iter().enumerate().skip(start) {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut indent = indent_of(line);
        let mut body = trimmed;
        // `- key: value` opens an item whose first key sits after the dash
        while let Some(rest) = body.strip_prefix("- ") {
            indent += 2;
            body = rest.trim_start_matches(' ');
        }
        if indent < min_indent && offset > start {
            return None;
        }
        let unquoted = body.trim_start_matches(['"', '\'']);
        if let Some(rest) = unquoted.strip_prefix(key) {
            let rest = rest.trim_start_matches(['"', '\'']);
            if rest.starts_with(':') && indent >= min_indent {
                return Some((offset, indent));
            }
        }
    }
    None
}

fn find_item(lines: &[&str], start: usize, min_indent: usize, index: usize) -> Option<(usize, usize)> {
    let mut seen = 0usize;
    let mut item_indent = None;
    for (offset, line) in lines.iter().enumerate().skip(start) {
        let trimmed = line.trim_start_matches(' ');
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = indent_of(line);
        if indent < min_indent {
            return None;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match item_indent {
                None => item_indent = Some(indent),
                Some(i) if i != indent => continue,
                _ => {}
            }
            if seen == index {
                return Some((offset, indent));
            }
            seen += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "id: x\naction:\n  tiers:\n    - name: high\n      when: a > 1\n    - name: low\n      # comment\n      when: a > 0\n      topic: t\n";

    #[test]
    fn locates_nested_keys_and_list_items() {
        assert_eq!(locate(TEXT, "id"), Some(1));
        assert_eq!(locate(TEXT, "action.tiers"), Some(3));
        assert_eq!(locate(TEXT, "action.tiers[0].name"), Some(4));
        assert_eq!(locate(TEXT, "action.tiers[1]"), Some(6));
        assert_eq!(locate(TEXT, "action.tiers[1].when"), Some(8));
        assert_eq!(locate(TEXT, "action.tiers[1].topic"), Some(9));
        assert_eq!(
            locate(TEXT, "action.missing"),
            Some(2),
            "falls back to the deepest key found"
        );
        assert_eq!(locate(TEXT, "nothing.here"), None);
    }

    #[test]
    fn displays_file_line_path_and_hint() {
        let mut d = Diagnostic::new("uc.yaml", "algo.score", "unknown feature `x`").hint("declare it");
        d.line = Some(7);
        assert_eq!(
            d.to_string(),
            "uc.yaml:7: algo.score: unknown feature `x`\n    hint: declare it"
        );
    }
}
