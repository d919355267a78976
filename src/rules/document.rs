//! A rule file as text, as JSON, and as a map from JSON pointer to source span.
//!
//! Rule files are TOML, but validation speaks JSON: JSON Schema reports an
//! instance path (`/rules/2/actions/0/template`) and the typed model is
//! deserialised from a JSON value. This module parses the TOML once, keeping
//! the byte span of every key and value, so that any later finding about a
//! pointer can be shown at the right line and column of the original file.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};
use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, Severity};
use super::toml_slip;

/// A parsed rule file.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: PathBuf,
    pub text: String,
    pub value: Value,
    spans: HashMap<String, Spans>,
}

#[derive(Debug, Clone)]
struct Spans {
    key: Option<Range<usize>>,
    value: Range<usize>,
}

impl Document {
    /// Parse `text`; a TOML syntax error comes back as one diagnostic that
    /// names the slip (the parser's later errors are its echoes).
    pub fn parse(path: &Path, text: String) -> Result<Document, Vec<Diagnostic>> {
        let (table, errors) = DeTable::parse_recoverable(&text);
        if !errors.is_empty() {
            // One slip often trips the parser many times over (after an
            // unclosed bracket, everything after looks wrong): the first error
            // is the slip; the rest are its echoes. One mistake, one finding.
            let mut out = Vec::new();
            if let Some(e) = errors.first() {
                let slip = toml_slip::explain(&text, e.span().unwrap_or(0..0), e.message());
                out.push(
                    Diagnostic::at_span(
                        Severity::Error,
                        "toml-syntax",
                        path,
                        &text,
                        slip.span,
                        slip.message,
                    )
                    .with_hint(slip.hint),
                );
            }
            return Err(out);
        }
        let mut spans = HashMap::new();
        let root_span = table.span();
        let value = convert_table(table.get_ref(), "", &mut spans);
        spans.insert(
            String::new(),
            Spans {
                key: None,
                value: root_span,
            },
        );
        Ok(Document {
            path: path.to_path_buf(),
            text,
            value,
            spans,
        })
    }

    /// The span of the value at `pointer`, falling back to the nearest
    /// ancestor that has one (a missing key is reported at its table).
    pub fn value_span(&self, pointer: &str) -> Range<usize> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.spans.get(p) {
                return s.value.clone();
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return 0..0,
            }
        }
    }

    /// The span of the key naming the value at `pointer` (for "unknown key"),
    /// or the value's span when it has no key (array elements).
    pub fn key_span(&self, pointer: &str) -> Range<usize> {
        match self.spans.get(pointer) {
            Some(Spans { key: Some(k), .. }) => k.clone(),
            _ => self.value_span(pointer),
        }
    }

    /// A diagnostic pointing at the value at `pointer`.
    pub fn diag(
        &self,
        severity: Severity,
        code: &'static str,
        pointer: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::at_span(
            severity,
            code,
            &self.path,
            &self.text,
            self.value_span(pointer),
            message,
        )
    }

    /// A diagnostic pointing at the key of the value at `pointer`.
    pub fn diag_key(
        &self,
        severity: Severity,
        code: &'static str,
        pointer: &str,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic::at_span(
            severity,
            code,
            &self.path,
            &self.text,
            self.key_span(pointer),
            message,
        )
    }

    /// The `#:schema` directive on the first lines, if any.
    pub fn schema_directive(&self) -> Option<&str> {
        self.text
            .lines()
            .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
            .find_map(|l| l.trim_start().strip_prefix("#:schema").map(str::trim))
    }
}

/// Escape one JSON-pointer segment (RFC 6901).
pub fn escape_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn convert_table(table: &DeTable<'_>, pointer: &str, spans: &mut HashMap<String, Spans>) -> Value {
    let mut map = Map::new();
    for (k, v) in table.iter() {
        let key: &str = k.get_ref();
        let child = format!("{pointer}/{}", escape_segment(key));
        let value = convert_value(v.get_ref(), &child, spans);
        spans.insert(
            child,
            Spans {
                key: Some(k.span()),
                value: v.span(),
            },
        );
        map.insert(key.to_string(), value);
    }
    Value::Object(map)
}

fn convert_value(v: &DeValue<'_>, pointer: &str, spans: &mut HashMap<String, Spans>) -> Value {
    match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => i
            .to_string()
            .replace('_', "")
            .parse::<i64>()
            .map(|n| Value::Number(n.into()))
            .unwrap_or_else(|_| Value::String(i.to_string())),
        DeValue::Float(f) => f
            .to_string()
            .replace('_', "")
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.to_string())),
        DeValue::Boolean(b) => Value::Bool(*b),
        // Datetimes become RFC 3339 strings: that is what every date field expects.
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let child = format!("{pointer}/{i}");
                    let value = convert_value(item.get_ref(), &child, spans);
                    spans.insert(
                        child,
                        Spans {
                            key: None,
                            value: item.span(),
                        },
                    );
                    value
                })
                .collect(),
        ),
        DeValue::Table(t) => convert_table(t, pointer, spans),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        match Document::parse(Path::new("t.toml"), text.to_string()) {
            Ok(d) => d,
            Err(e) => panic!("parse failed: {e:?}"),
        }
    }

    #[test]
    fn pointers_resolve_to_the_line_of_the_value() {
        let d = doc(
            "a = 1\n[[rules]]\nid = \"x\"\n[[rules]]\nid = \"y\"\nwhen = [{ field = \"f\" }]\n",
        );
        let span = d.value_span("/rules/1/when/0/field");
        let (line, col, _) = super::super::diagnostic::line_col(&d.text, span.start);
        assert_eq!((line, col), (6, 19));
        assert_eq!(d.value["rules"][1]["id"], "y");
    }

    #[test]
    fn missing_pointer_falls_back_to_parent() {
        let d = doc("[t]\nx = 1\n");
        let span = d.value_span("/t/missing");
        assert_eq!(span, d.value_span("/t"));
    }

    #[test]
    fn syntax_errors_carry_locations() {
        let err = Document::parse(Path::new("t.toml"), "a = \"x\nb = 2\n".to_string());
        match err {
            Err(d) => assert_eq!(d[0].line, 1),
            Ok(_) => panic!("should not parse"),
        }
    }

    #[test]
    fn schema_directive_is_read_from_the_header() {
        let d = doc("#:schema ../schemas/flow.schema.json\nid = \"x\"\n");
        assert_eq!(d.schema_directive(), Some("../schemas/flow.schema.json"));
    }
}
