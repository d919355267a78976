//! What a rule author sees when something is wrong.
//!
//! Every problem hsflow finds in rule files, templates or test cases becomes a
//! [`Diagnostic`]: a severity, the file, a line and column pointing at the
//! offending value, a message written as a sentence, and a hint that names the
//! fix. The same value renders three ways (human with the source line and a
//! caret, JSON for tools, GitHub workflow commands for CI annotations).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a finding is. Errors refuse the rule set; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding, anchored to a place in a file.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A short stable code, e.g. `unknown-key`, so tools and tests can match on it.
    pub code: &'static str,
    pub file: PathBuf,
    /// 1-based line of the offending value (1 when the whole file is concerned).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The source line, kept for human rendering.
    #[serde(skip)]
    pub source_line: Option<String>,
    /// Width of the caret underline, in characters.
    #[serde(skip)]
    pub width: usize,
}

impl Diagnostic {
    /// A finding at a byte span of `text` (the file's contents).
    pub fn at_span(
        severity: Severity,
        code: &'static str,
        file: &Path,
        text: &str,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, col, source_line) = line_col(text, span.start);
        let end = span.end.min(text.len()).max(span.start);
        let width = text
            .get(span.start..end)
            .map(|s| s.lines().next().unwrap_or("").chars().count())
            .unwrap_or(1)
            .max(1);
        Diagnostic {
            severity,
            code,
            file: file.to_path_buf(),
            line,
            col,
            message: message.into(),
            hint: None,
            source_line: Some(source_line),
            width,
        }
    }

    /// A finding about a whole file (I/O errors, missing files).
    pub fn whole_file(
        severity: Severity,
        code: &'static str,
        file: &Path,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            code,
            file: file.to_path_buf(),
            line: 1,
            col: 1,
            message: message.into(),
            hint: None,
            source_line: None,
            width: 1,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: error: message`, then the source line with a caret, then the hint.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(
            out,
            "{}:{}:{}: {sev}[{}]: {}",
            self.file.display(),
            self.line,
            self.col,
            self.code,
            self.message
        );
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string().len();
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{} | {}", self.line, src);
            let _ = writeln!(
                out,
                "{:gutter$} | {}{}",
                "",
                " ".repeat(self.col.saturating_sub(1)),
                "^".repeat(self.width)
            );
        }
        if let Some(hint) = &self.hint {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        out
    }

    /// A GitHub Actions workflow command, so CI annotates the pull request.
    pub fn render_github(&self) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut msg = self.message.clone();
        if let Some(h) = &self.hint {
            msg.push_str(" (hint: ");
            msg.push_str(h);
            msg.push(')');
        }
        // Workflow commands end at a newline and treat % specially.
        let msg = msg
            .replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A");
        format!(
            "::{kind} file={},line={},col={}::{msg}",
            self.file.display(),
            self.line,
            self.col
        )
    }
}

/// 1-based line and character column of a byte offset, plus that line's text.
pub fn line_col(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(text.len());
    // Step back to a char boundary so slicing can't panic on odd spans.
    let mut offset = offset;
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text[line_start..offset].chars().count() + 1;
    let line_end = text[line_start..]
        .find('\n')
        .map(|i| line_start + i)
        .unwrap_or(text.len());
    let src = text[line_start..line_end]
        .trim_end_matches('\r')
        .to_string();
    (line, col, src)
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(f64, &str)> = None;
    let w = word.to_lowercase();
    for c in candidates {
        let cl = c.to_lowercase();
        let mut score = strsim::jaro_winkler(&w, &cl);
        // Transposed or doubled letters in short words ("nwe" for "new").
        if strsim::damerau_levenshtein(&w, &cl) <= 2.min(cl.len() / 2) {
            score = score.max(0.85);
        }
        if w != cl && score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_not_bytes() {
        let text = "a = 1\nnamé = \"x\"\n";
        let off = text.find('"').unwrap_or(0);
        let (line, col, src) = line_col(text, off);
        assert_eq!((line, col), (2, 8));
        assert_eq!(src, "namé = \"x\"");
    }

    #[test]
    fn did_you_mean_finds_typos_and_rejects_strangers() {
        let c = ["lead_source", "contact_types", "email"];
        assert_eq!(did_you_mean("lead_sorce", c), Some("lead_source"));
        assert_eq!(did_you_mean("zzz", c), None);
    }
}

/// A finding about a value inside one file, located by JSON pointer.
///
/// Compilers (conditions, paths, templates) know *where in the document* a
/// problem is, not the line; the loader resolves pointers to lines.
#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub pointer: String,
    pub message: String,
    pub hint: Option<String>,
    /// Point at the key naming the value rather than the value.
    pub on_key: bool,
    /// Already located in another file (a template a rule uses): reported
    /// as it is, in place of the pointer.
    pub located: Option<Box<Diagnostic>>,
}

impl Finding {
    pub fn on_key(mut self) -> Finding {
        self.on_key = true;
        self
    }

    pub fn error(
        code: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            severity: Severity::Error,
            code,
            pointer: pointer.into(),
            message: message.into(),
            hint: None,
            on_key: false,
            located: None,
        }
    }

    pub fn warning(
        code: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            severity: Severity::Warning,
            code,
            pointer: pointer.into(),
            message: message.into(),
            hint: None,
            on_key: false,
            located: None,
        }
    }

    /// A finding made while compiling one file about a place in another.
    pub fn located(d: Diagnostic) -> Finding {
        Finding {
            severity: d.severity,
            code: d.code,
            pointer: String::new(),
            message: d.message.clone(),
            hint: d.hint.clone(),
            on_key: false,
            located: Some(Box::new(d)),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }
}
