//! Test sends: one rendered email or notification of the live rules, sent
//! through the real sink to an address or channel typed by a person, marked
//! [TEST], with no job and no contact record touched (`hsflow send-test`
//! and POST /api/send-test).

mod support;

use std::path::PathBuf;

use support::*;

const SECRET: &str = "send-test-secret";

fn send_test(s: &Server, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["send-test"];
    all.extend_from_slice(args);
    hsflow_against(s, "ana", &all)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_send_goes_through_the_sink_marked_and_touches_no_record() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        data.path(),
        &root.join("rules"),
        &[],
        &[("TYPEFORM_SECRET", SECRET.to_string())],
    );
    let body = typeform_lead("t-1", "ada@example.org", "Artist");
    assert_eq!(post_typeform(&s, SECRET, body).await, 202);
    let before = admin_get(&s, "/api/actions?limit=1000").await["actions"]
        .as_array()
        .map(Vec::len);

    // An email: rendered for the lead, sent to the address typed, marked.
    let (code, out, err) = send_test(
        &s,
        &[
            "--template",
            "emails/artist_welcome",
            "--to",
            "curator@example.org",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("test sent to curator@example.org"), "{out}");
    let outbox = data.path().join("outbox");
    let tests: Vec<_> = std::fs::read_dir(&outbox)
        .expect("outbox")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("test-"))
        .collect();
    assert_eq!(tests.len(), 1);
    let eml = std::fs::read_to_string(tests[0].path()).expect("eml");
    assert!(eml.contains("Subject: [TEST] "), "{eml}");
    // artist_welcome has two versions: each can be sent as a test, rendered
    // for the same lead, whichever version that contact would get.
    for (variant, subject) in [
        ("a", "Subject: [TEST] Welcome to The 7 Space, Ada"),
        (
            "b",
            "Subject: [TEST] Ada, you're invited to our next open studio",
        ),
    ] {
        let template = format!("emails/artist_welcome.{variant}");
        let (code, out, err) = send_test(
            &s,
            &["--template", &template, "--to", "curator@example.org"],
        );
        assert_eq!(code, 0, "{out}{err}");
        let eml = std::fs::read_dir(&outbox)
            .expect("outbox")
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find(|m| m.contains(subject));
        assert!(eml.is_some(), "no test send with {subject}");
    }
    assert!(
        eml.contains("To: curator@example.org") && !eml.contains("To: ada@example.org"),
        "{eml}"
    );

    // A notification: to the channel typed.
    let (code, out, err) = send_test(
        &s,
        &[
            "--template",
            "notifications/new_artist",
            "--to",
            "test-channel",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let lines =
        std::fs::read_to_string(data.path().join("notifications.jsonl")).unwrap_or_default();
    let line = lines
        .lines()
        .find(|l| l.contains("\"channel\":\"test-channel\""))
        .expect("the test notification");
    assert!(line.contains("\"text\":\"[TEST] "), "{line}");

    // Nothing queued, nothing recorded as an action; the audit says who.
    let after = admin_get(&s, "/api/actions?limit=1000").await["actions"]
        .as_array()
        .map(Vec::len);
    assert_eq!(before, after);
    let audit = admin_get(&s, "/api/audit").await;
    let sends: Vec<_> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["what"] == "test-send")
        .collect();
    assert_eq!(sends.len(), 4);
    assert_eq!(sends[0]["who"], "ana (admin API)");

    // Refusals in words.
    let (code, _, err) = send_test(
        &s,
        &["--template", "emails/no_such", "--to", "x@example.org"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no rule in force uses emails/no_such"),
        "{err}"
    );
    let (code, _, err) = send_test(
        &s,
        &[
            "--template",
            "emails/artist_welcome",
            "--to",
            "not-an-address",
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("`not-an-address` is not an email address"),
        "{err}"
    );
    let (code, _, err) = send_test(&s, &["--template", "welcome", "--to", "x@example.org"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("write emails/<name> or notifications/<name>"),
        "{err}"
    );
}
