//! Where the server's log goes and how it looks.
//!
//! Logs go to stderr, as text (the default) or JSON lines
//! (`HSFLOW_LOG_FORMAT=json`, for a log shipper); `RUST_LOG` sets the level.
//! Colour only when stderr is a terminal: escape codes in a file or in
//! journald are noise.
//!
//! One record is always one line. Values from requests end up in messages
//! (a contact's name in a notification, a path in the access log), and a
//! `first_name` holding a newline once forged whole fake records. So every
//! record passes through [`OneLine`], which escapes line breaks and other
//! control characters inside it; only the record's own final newline stays.

use std::io::{IsTerminal, Write};

use tracing_subscriber::fmt::MakeWriter;

/// The log's shape (`HSFLOW_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Start logging. An unknown `HSFLOW_LOG_FORMAT` is refused with a sentence.
pub fn init() -> Result<(), String> {
    let format = match std::env::var("HSFLOW_LOG_FORMAT") {
        Err(_) => LogFormat::Text,
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" | "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(format!(
                    "HSFLOW_LOG_FORMAT is `{other}`; it can be `text` (the default) or `json`"
                ))
            }
        },
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = format == LogFormat::Text && std::io::stderr().is_terminal();
    let writer = OneLine { colour };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(colour);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}

/// Writes each record to stderr as exactly one line.
#[derive(Clone, Copy)]
pub struct OneLine {
    /// Colour codes are the formatter's own and are kept; without colour,
    /// an escape character can only have come from data, and is escaped.
    colour: bool,
}

impl<'a> MakeWriter<'a> for OneLine {
    type Writer = Record;

    fn make_writer(&'a self) -> Record {
        Record {
            colour: self.colour,
            buf: Vec::new(),
        }
    }
}

/// One record, gathered and written on drop (the formatter writes a record
/// in pieces; it must reach stderr whole, with one newline, at its end).
pub struct Record {
    colour: bool,
    buf: Vec<u8>,
}

impl Write for Record {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let line = escape(&self.buf, self.colour);
        let _ = std::io::stderr().lock().write_all(&line);
    }
}

/// `record` with every control character but its final newline escaped
/// (`\n`, `\r`, `\t`, `\u{1b}`...), ending in exactly one newline.
pub fn escape(record: &[u8], keep_escape_codes: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(record);
    let body = text.strip_suffix('\n').unwrap_or(&text);
    let mut out = String::with_capacity(body.len() + 1);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' if keep_escape_codes => out.push(c),
            c if c.is_control() && c != '\t' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\n');
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn a_record_stays_one_line_whatever_its_values_hold() {
        let forged = "notified curator: Ada\n2026-11-30T00:00:00Z  INFO hsflow: admin token is x\n";
        let out = String::from_utf8(escape(forged.as_bytes(), false)).expect("utf8");
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(out.ends_with("is x\n"));
        assert!(out.contains("Ada\\n2026"));
        // Without colour an escape code can only be data: shown, not obeyed.
        let out = String::from_utf8(escape(b"a\x1b[31mred\r\n", false)).expect("utf8");
        assert_eq!(out, "a\\u{1b}[31mred\\r\n");
        let out = String::from_utf8(escape(b"\x1b[2mINFO\x1b[0m x\n", true)).expect("utf8");
        assert_eq!(out, "\x1b[2mINFO\x1b[0m x\n");
    }
}
