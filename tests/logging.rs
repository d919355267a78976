//! The server's log as an operator reads it: JSON lines on request, no
//! colour codes in a file, one line per record whatever a contact typed,
//! a request id in the answer, the log and the stored event, an access
//! line for every refused request, and a line saying why the server stopped.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use support::{admin_get, client, drained, Server, ADMIN};

fn start(dir: &std::path::Path, format: &str) -> (Server, std::path::PathBuf) {
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let s = Server::start_logging_to(
        &dir.join("data"),
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules"),
        &[],
        &[
            ("RUST_LOG", "info".to_string()),
            ("HSFLOW_LOG_FORMAT", format.to_string()),
            ("TYPEFORM_SECRET", "log-test-secret".to_string()),
        ],
        Stdio::from(log),
    );
    (s, log_path)
}

/// A contact whose first name tries to forge a log record.
async fn forged_contact(s: &Server) -> Value {
    let r = client()
        .post(s.url("/contact-workflows/new-contact"))
        .bearer_auth(ADMIN)
        .header("x-request-id", "req-forge-1")
        .json(&json!({
            "email": "mallory@example.org",
            "first_name": "Mal\n2026-11-30T00:00:00Z  INFO hsflow: FORGED admin token is 123",
            "contact_types": ["Artist"],
            "lead_source": "Website"
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 202);
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-forge-1"),
        "the caller's request id is echoed"
    );
    r.json().await.expect("json")
}

async fn refused(s: &Server) {
    let r = client()
        .post(s.url("/webhooks/typeform"))
        .header("content-type", "application/json")
        .header("typeform-signature", "sha256=not-it")
        .header("x-request-id", "req-refused-1")
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        r.headers().get("x-request-id").is_some(),
        "every answer has an id"
    );
}

fn stop(s: Server) {
    let pid = s.child.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let mut s = s;
    for _ in 0..100 {
        if s.child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not stop within 10 s of SIGTERM");
}

#[tokio::test]
async fn json_logs_are_one_record_per_line_with_the_request_id_and_the_refusals() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, log_path) = start(dir.path(), "json");
    let answer = forged_contact(&s).await;
    refused(&s).await;
    drained(&s, Duration::from_secs(30)).await;
    // The stored event keeps the request id.
    let event = admin_get(
        &s,
        &format!("/api/events/{}", answer["event_id"].as_str().unwrap_or("")),
    )
    .await;
    assert_eq!(event["request_id"], "req-forge-1");
    stop(s);

    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(!log.contains('\u{1b}'), "colour codes in a file");
    let records: Vec<Value> = log
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON record ({e}): {l}"))
        })
        .collect();
    // Nothing forged: the name's newline stayed inside its record.
    assert!(records
        .iter()
        .all(|r| !r["message"].as_str().unwrap_or("").starts_with("FORGED")));
    assert!(
        log.contains("FORGED"),
        "the curator's notification is logged"
    );
    // The refused webhook has its access line, with status and reason, and no secret.
    let access = records
        .iter()
        .find(|r| r["target"] == "hsflow::access" && r["status"] == 401)
        .expect("an access line for the 401");
    assert_eq!(access["path"], "/webhooks/typeform");
    assert_eq!(
        access["span"]["id"], "req-refused-1",
        "the request's id: {access}"
    );
    assert!(
        access["message"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("signature"),
        "{access}"
    );
    assert!(!log.contains("not-it"), "a signature value was logged");
    // And why it stopped.
    assert!(records.iter().any(|r| r["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("stopped (SIGTERM)")));
}

#[tokio::test]
async fn text_logs_in_a_file_have_no_colour_and_no_forged_lines() {
    let dir = tempfile::tempdir().expect("tmp");
    let (s, log_path) = start(dir.path(), "text");
    forged_contact(&s).await;
    refused(&s).await;
    drained(&s, Duration::from_secs(30)).await;
    stop(s);
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(!log.contains('\u{1b}'), "colour codes in a file");
    for line in log.lines() {
        assert!(
            !line.contains("FORGED") || line.contains("Mal\\n"),
            "a forged record: {line}"
        );
        assert!(line.starts_with("20"), "a line that isn't a record: {line}");
    }
    assert!(log.contains("status=401"));
    assert!(log.contains("shutting down (SIGTERM)"));
}

#[test]
fn an_unknown_log_format_is_refused_with_the_choices() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("HSFLOW_LOG_FORMAT", "yaml")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`text` (the default) or `json`"), "{err}");
}
