//! The SMTP sink against a real SMTP server process (aiosmtpd, driven by
//! tests/support/smtp_server.py; installed under target/ on first use).

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Value};
use support::*;

struct Smtp {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Smtp {
    fn start(out: &Path, args: &[&str]) -> Smtp {
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
    fn messages(&self) -> Vec<Value> {
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

fn fixture_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sinks/rules")
}

fn start_hsflow(
    smtp: &Smtp,
    dir: &tempfile::TempDir,
    extra_env: &[(&'static str, String)],
) -> Server {
    let mut env = vec![
        ("HSFLOW_SMTP_HOST", "127.0.0.1".to_string()),
        ("HSFLOW_SMTP_PORT", smtp.port.to_string()),
        ("HSFLOW_SMTP_TLS", "none".to_string()),
    ];
    env.extend_from_slice(extra_env);
    Server::start_with_env(
        &dir.path().join("data"),
        &fixture_rules(),
        &["--retry-base", "1s"],
        &env,
    )
}

async fn send_mail(s: &Server, id: &str, email: &str) -> String {
    let (status, body) = post_signed(
        s,
        &json!({"id": id, "type": "mail", "email": email, "first_name": "Zoë"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    body["event_id"].as_str().expect("event id").to_string()
}

fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.lines()
        .find(|l| {
            l.len() > name.len()
                && l[..name.len()].eq_ignore_ascii_case(name)
                && l.as_bytes()[name.len()] == b':'
        })
        .map(|l| l[name.len() + 1..].trim())
}

/// The decoded body of the part with `content_type`.
fn part(data: &str, content_type: &str) -> String {
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

#[tokio::test]
async fn an_email_reaches_the_smtp_server_with_headers_both_parts_and_auth() {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(&tmp.path().join("mail"), &["--auth", "mailer:s3cret"]);
    let s = start_hsflow(
        &smtp,
        &tmp,
        &[
            ("HSFLOW_SMTP_USER", "mailer".into()),
            ("HSFLOW_SMTP_PASSWORD", "s3cret".into()),
        ],
    );
    let e = send_mail(&s, "m1", "zoe@example.com").await;
    let job = settled(&s, &e, "mail/welcome_email").await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let got = smtp.messages();
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m["mail_from"], "hello@example.org");
    assert_eq!(m["rcpt_tos"], json!(["zoe@example.com"]));
    assert_eq!(m["auth_user"], "mailer");
    let data = m["data"].as_str().unwrap_or("");
    assert_eq!(header(data, "From"), Some("hello@example.org"));
    assert_eq!(header(data, "Reply-To"), Some("team@example.org"));
    assert_eq!(header(data, "To"), Some("zoe@example.com"));
    let job_id = job["id"].as_str().expect("job id");
    assert_eq!(
        header(data, "Message-ID"),
        Some(format!("<{job_id}@example.org>").as_str())
    );
    assert!(header(data, "Content-Type").is_some_and(|c| c.starts_with("multipart/alternative")));
    assert_eq!(part(data, "text/plain").trim(), "Hello Zoë, welcome.");
    assert_eq!(part(data, "text/html").trim(), "<p>Hello Zoë, welcome.</p>");
    s.kill();
}

#[tokio::test]
async fn a_temporary_refusal_is_retried_and_delivered_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(&tmp.path().join("mail"), &["--fail-data", "1"]);
    let s = start_hsflow(&smtp, &tmp, &[]);
    let e = send_mail(&s, "t1", "zoe@example.com").await;
    let job = settled(&s, &e, "mail/welcome_email").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "{job}");
    assert_eq!(smtp.messages().len(), 1);
    s.kill();
}

#[tokio::test]
async fn a_send_lost_after_the_server_took_it_repeats_the_same_message_id() {
    // The server keeps the message but the client hears a failure (a dropped
    // connection): the retry sends a second copy, recognisable by its Message-ID.
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(&tmp.path().join("mail"), &["--store-then-fail", "1"]);
    let s = start_hsflow(&smtp, &tmp, &[]);
    let e = send_mail(&s, "d1", "zoe@example.com").await;
    let job = settled(&s, &e, "mail/welcome_email").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let got = smtp.messages();
    assert_eq!(got.len(), 2);
    let ids: Vec<Option<&str>> = got
        .iter()
        .map(|m| header(m["data"].as_str().unwrap_or(""), "Message-ID"))
        .collect();
    assert!(ids[0].is_some());
    assert_eq!(ids[0], ids[1], "both copies carry the job's Message-ID");
    s.kill();
}

#[tokio::test]
async fn a_permanent_refusal_parks_the_job_with_the_servers_words() {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(
        &tmp.path().join("mail"),
        &["--reject-rcpt", "nobody@example.com"],
    );
    let s = start_hsflow(&smtp, &tmp, &[]);
    let e = send_mail(&s, "p1", "nobody@example.com").await;
    let job = settled(&s, &e, "mail/welcome_email").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 1);
    let err = job["last_error"].as_str().unwrap_or("");
    assert!(
        err.contains("refused") && err.contains("User unknown"),
        "{err}"
    );
    assert!(smtp.messages().is_empty());
    s.kill();
}
