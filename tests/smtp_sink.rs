//! The SMTP sink against a real SMTP server process (aiosmtpd, driven by
//! tests/support/smtp_server.py; installed under target/ on first use).

mod support;

use std::path::{Path, PathBuf};

use serde_json::json;
use support::smtp::{header, part, Smtp};
use support::*;

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
    // `welcome` is a marketing email: each part ends with the unsubscribe line.
    let text = part(data, "text/plain");
    assert!(
        text.starts_with(
            "Hello Zoë, welcome.\n\n--\nTo stop receiving these emails, open http://127.0.0.1:"
        ),
        "{text}"
    );
    let html = part(data, "text/html");
    assert!(html.starts_with("<p>Hello Zoë, welcome.</p>"), "{html}");
    assert!(html.contains("/email/unsubscribe/"), "{html}");
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
async fn a_refused_message_parks_the_job_with_the_servers_words() {
    // 554 at DATA: permanent, but the message's fault, not the address's.
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(&tmp.path().join("mail"), &["--refuse-data", "1"]);
    let s = start_hsflow(&smtp, &tmp, &[]);
    let e = send_mail(&s, "p1", "zoe@example.com").await;
    let job = settled(&s, &e, "mail/welcome_email").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempts"], 1);
    let err = job["last_error"].as_str().unwrap_or("");
    assert!(err.contains("refused") && err.contains("554"), "{err}");
    // The address is not suppressed for it.
    let list = admin_get(&s, "/api/suppressions").await;
    assert_eq!(list["total"], 0, "{list}");
    assert!(smtp.messages().is_empty());
    s.kill();
}
