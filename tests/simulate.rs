//! `hsflow simulate` and `hsflow test` on a fixture project: the JSON
//! contract, explanations, scheduling, strict rendering and signatures.

mod support;

use support::copy_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine")
}

fn hsflow(args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write as _;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hsflow"));
    cmd.args(args)
        .current_dir(project())
        .env_remove("HSFLOW_TEST_BOOKING_SECRET");
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hsflow");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

fn simulate_json(body: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "simulate",
        "--source",
        "booking",
        "--at",
        "2026-03-01T10:00:00Z",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args.push("-");
    let out = hsflow(&args, Some(body.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON plan")
}

fn example() -> String {
    std::fs::read_to_string(project().join("examples/booking.json")).expect("example")
}

fn action<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("no action {id} in {plan:#}"))
}

#[test]
fn json_output_keeps_the_documented_contract() {
    let p = simulate_json(&example(), &[]);
    for key in ["id", "source", "type", "received_at", "fields"] {
        assert!(p["event"].get(key).is_some(), "event.{key}");
    }
    assert_eq!(
        p["event"]["fields"]["email"], "ana@example.org",
        "normalised by the source's transforms"
    );
    assert_eq!(p["entities"], serde_json::json!(["Retreats"]));
    let rule = &p["rules"][0];
    for key in ["id", "flow", "matched", "conditions"] {
        assert!(rule.get(key).is_some(), "rules[].{key}");
    }
    for key in ["expr", "result", "values"] {
        assert!(
            rule["conditions"][0].get(key).is_some(),
            "conditions[].{key}"
        );
    }
    let email = action(&p, "preparation/email_2");
    for key in [
        "id", "rule", "flow", "entity", "kind", "delay_s", "run_at", "to", "template", "subject",
        "text", "html",
    ] {
        assert!(email.get(key).is_some(), "email action .{key}: {email:#}");
    }
    let task = action(&p, "preparation/task_1");
    for key in ["title", "assignee", "priority", "due_at"] {
        assert!(task.get(key).is_some(), "task action .{key}");
    }
    assert_eq!(task["priority"], "high");
}

#[test]
fn a_date_relative_schedule_counts_from_the_date_field() {
    let p = simulate_json(&example(), &[]);
    let email = action(&p, "preparation/email_2");
    assert_eq!(
        email["delay_s"],
        7 * 86_400,
        "7 days before 15 March, seen on 1 March"
    );
    assert_eq!(email["run_at"], "2026-03-08T10:00:00Z");
    // The task runs now but is due one day before the start.
    let task = action(&p, "preparation/task_1");
    assert_eq!(task["delay_s"], 0);
    assert_eq!(task["due_at"], "2026-03-14T10:00:00Z");
}

#[test]
fn a_past_schedule_runs_at_once_and_says_so() {
    let body = example().replace("2026-03-15T10:00:00Z", "2026-03-04T10:00:00Z");
    let p = simulate_json(&body, &[]);
    let email = action(&p, "preparation/email_2");
    assert_eq!(email["delay_s"], 0);
    assert!(
        email["notes"][0]
            .as_str()
            .unwrap_or("")
            .contains("already past"),
        "{email:#}"
    );
}

#[test]
fn a_render_failure_is_reported_and_not_sent() {
    let p = simulate_json(&example(), &[]);
    let email = action(&p, "company_welcome/email_1");
    let err = email["error"].as_str().unwrap_or("");
    assert!(
        err.contains("company") && err.contains("nothing was sent"),
        "{email:#}"
    );
    assert_eq!(email["subject"], "", "no half-rendered text");
    let human = hsflow(
        &[
            "simulate",
            "--source",
            "booking",
            "--at",
            "2026-03-01T10:00:00Z",
            "examples/booking.json",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("NOT SENT:") && text.contains("company"),
        "{text}"
    );
}

#[test]
fn a_missing_field_makes_a_condition_false_and_says_so() {
    let body = example().replace(
        r#""retreat": {"start": "2026-03-15T10:00:00Z"}"#,
        r#""retreat": {}"#,
    );
    let p = simulate_json(&body, &[]);
    let rule = p["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["id"] == "preparation"))
        .expect("rule traced");
    assert_eq!(rule["matched"], false);
    let c = &rule["conditions"][0];
    assert_eq!(c["result"], false);
    assert_eq!(c["values"]["retreat_start"], Value::Null);
    assert!(
        c["notes"][0].as_str().unwrap_or("").contains("missing"),
        "{c:#}"
    );
}

#[test]
fn integers_and_floats_compare_by_value_and_nesting_works() {
    // score arrives as the text "80.0"; the expression compares with the integer 80.
    let p = simulate_json(&example(), &[]);
    let vip = p["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["id"] == "vip"))
        .expect("vip traced");
    assert_eq!(vip["matched"], true, "{vip:#}");
    // tags contain "cold" and not "vip": the any/not branch fails.
    let cold = simulate_json(&example().replace(r#"["returning"]"#, r#"["cold"]"#), &[]);
    let vip = cold["rules"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["id"] == "vip"))
        .expect("vip traced");
    assert_eq!(vip["matched"], false);
}

#[test]
fn verify_refuses_a_bad_signature_and_accepts_a_good_one() {
    let body = example();
    let bad = hsflow(
        &[
            "simulate",
            "--source",
            "booking",
            "--verify",
            "--header",
            "X-Booking-Signature=00",
            "-",
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("HSFLOW_TEST_BOOKING_SECRET"),
        "unset secret is named"
    );
    let sig = hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Hex,
        None,
        "s3cret",
        body.as_bytes(),
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hsflow"));
    let out = cmd
        .current_dir(project())
        .env("HSFLOW_TEST_BOOKING_SECRET", "s3cret")
        .args([
            "simulate", "--source", "booking", "--verify", "--format", "json", "--header",
        ])
        .arg(format!("X-Booking-Signature={sig}"))
        .arg("examples/booking.json")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wrong = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .current_dir(project())
        .env("HSFLOW_TEST_BOOKING_SECRET", "other")
        .args(["simulate", "--source", "booking", "--verify", "--header"])
        .arg(format!("X-Booking-Signature={sig}"))
        .arg("examples/booking.json")
        .output()
        .expect("run");
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not match"));
}

#[test]
fn a_malformed_body_is_refused_with_the_reason() {
    let out = hsflow(
        &["simulate", "--source", "booking", "-"],
        Some(b"{not json"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
    let out = hsflow(
        &["simulate", "--source", "booking", "-"],
        Some(br#"{"id":"1","type":"booking.created","customer":{}}"#),
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("`email`") && err.contains("$.customer.email"),
        "{err}"
    );
    let out = hsflow(
        &["simulate", "--source", "booking", "-"],
        Some(br#"{"id":"1","type":"booking.created","score":"lots","customer":{"email":"a@b.c"}}"#),
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("`score`") && err.contains("\"lots\""), "{err}");
}

#[test]
fn hsflow_test_passes_the_fixture_cases_and_counts_them() {
    let out = hsflow(&["test"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.lines().any(|l| l == "1 passed, 0 failed"), "{text}");
}

#[test]
fn hsflow_test_fails_with_a_readable_diff() {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["rules", "templates", "examples"] {
        copy_dir(&project().join(sub), &dir.path().join(sub));
    }
    let t = dir.path().join("rules/tests/retreat.toml");
    let text = std::fs::read_to_string(&t)
        .expect("read")
        .replace("delay = \"1w\"", "delay = \"6d\"");
    std::fs::write(&t, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .current_dir(dir.path())
        .arg("test")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL a booking two weeks out"), "{text}");
    assert!(
        text.contains("delay: expected 6 days (6d), got 7 days (runs "),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "0 passed, 1 failed"), "{text}");
}
