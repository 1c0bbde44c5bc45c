//! Diagnostics an administrator can act on: file, line, column, what is wrong and what to do.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based position in a source file (column counted in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub const fn new(line: u32, col: u32) -> Self {
        Self { line, col }
    }

    /// Position of a byte offset inside `text`.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = &text[..text.floor_char_boundary(offset)];
        let line = before.matches('\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() as u32 + 1;
        Self { line, col }
    }
}

/// How serious a finding is: errors stop a file from entering service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding about a configuration or tree file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    pub pos: Pos,
    pub message: String,
    /// What the administrator should do about it.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Self { severity: Severity::Error, file: file.to_path_buf(), pos, message: message.into(), hint: None }
    }

    pub fn warning(file: &Path, pos: Pos, message: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(file, pos, message) }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}:{}: {level}: {}", self.file.display(), self.pos.line, self.pos.col, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n    help: {hint}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics while a file is checked, so that every problem is reported at once.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Sorted by file then position, the order an editor shows them in.
    pub fn sorted(mut self) -> Vec<Diagnostic> {
        self.0.sort_by(|a, b| (&a.file, a.pos).cmp(&(&b.file, b.pos)));
        self.0
    }
}

/// "did you mean `x`?" for a misspelt name, when one known name is close enough.
pub fn did_you_mean<'a>(wrong: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(wrong, k), k))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("did you mean `{k}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let text = "a = 1\nbè = 2\n";
        assert_eq!(Pos::of_offset(text, 0), Pos::new(1, 1));
        assert_eq!(Pos::of_offset(text, 6), Pos::new(2, 1));
        // 'è' is two bytes but one column.
        assert_eq!(Pos::of_offset(text, 9), Pos::new(2, 3));
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("main_menuu", ["main_menu", "welcome"]), Some("did you mean `main_menu`?".into()));
        assert_eq!(did_you_mean("zzz", ["main_menu"]), None);
    }
}
