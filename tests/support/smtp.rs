//! A real SMTP server for the email tests (aiosmtpd, driven by
//! tests/support/smtp_server.py; installed under target/ on first use), and
//! readers for the messages it took.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::Value;

use super::python_package;

pub struct Smtp {
    child: Child,
    pub port: u16,
    out: PathBuf,
}

impl Smtp {
    pub fn start(out: &Path, args: &[&str]) -> Smtp {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_server.py");
        let packages = python_package("aiosmtpd", "aiosmtpd==1.4.6");
        let mut child = Command::new("python3")
            .env("PYTHONPATH", packages)
            .arg(script)
            .arg(out)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3 (the SMTP test server)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the SMTP server's port");
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!("the SMTP test server did not start (see its message above): {line:?}")
            });
        Smtp {
            child,
            port,
            out: out.to_path_buf(),
        }
    }

    /// Every message the server took, in order.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of header `name` in a message's text (unfolded lines only).
pub fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l.as_bytes()[name.len()] == b':'
        })
        .map(|l| l[name.len() + 1..].trim())
}

/// The decoded body of the part with `content_type`.
pub fn part(data: &str, content_type: &str) -> String {
    let start = data
        .find(&format!("Content-Type: {content_type}"))
        .expect("part present");
    let rest = &data[start..];
    let body_start = rest.find("\r\n\r\n").expect("part body") + 4;
    let body_end = rest[body_start..]
        .find("\r\n--")
        .map(|e| body_start + e)
        .unwrap_or(rest.len());
    let b64: String = rest[body_start..body_end].split_whitespace().collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64"),
    )
    .expect("utf-8")
}
