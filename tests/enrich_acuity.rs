//! `[[enrich]]` with `on_failure = "reject"`: an Acuity webhook carries ids
//! only, and hsflow fetches the appointment from Acuity's API (a faithful
//! simulator, see support/acuity.rs) while the sender waits, before reading
//! its fields, over real HTTP; a failed fetch refuses the webhook (503) so
//! the sender sends it again. Offline tools never call the API:
//! `simulate --enriched` stands in for it. (The default, fetching after the
//! webhook is accepted, is tests/enrich_after_accept.rs.)

mod support;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::acuity::{appointment, post, rules, Acuity, KEY, USER};
use support::*;

/// A copy of the fixture project whose Acuity source fetches while the sender waits.
fn rejecting_project(dir: &Path) -> PathBuf {
    let project = dir.join("project");
    copy_dir(rules().parent().expect("project"), &project);
    let file = project.join("rules/sources/acuity.toml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("retries = 2", "retries = 2\non_failure = \"reject\""),
    )
    .expect("write");
    project.join("rules")
}

fn start(dir: &Path, api: &str, user: &str) -> Server {
    let rules = rejecting_project(dir);
    let data = dir.join("data");
    Server::start_with_env(&data, &rules, &[], &support::acuity::env(api, user))
}

#[tokio::test]
async fn an_id_only_webhook_is_read_with_the_appointment_the_api_returns() {
    let acuity = Acuity::new();
    let api = serve_local(acuity.router()).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start(tmp.path(), &api, USER);

    let (code, body) = post(
        &s,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let event = body["event_id"].as_str().expect("event id").to_string();
    let tell = settled(&s, &event, "booked/tell").await;
    assert_eq!(tell["status"], "succeeded", "{tell}");
    let notes =
        std::fs::read_to_string(tmp.path().join("data/notifications.jsonl")).unwrap_or_default();
    assert!(
        notes.contains("Bea <bea.okafor@example.com> booked Sound bath: Rest"),
        "{notes}"
    );
    // The explain trace keeps the request (no credentials) and what came back.
    let stored = admin_get(&s, &format!("/api/events/{event}")).await;
    let step = &stored["trace"]["enrich"][0];
    assert_eq!(step["url"], format!("{api}/appointments/123"), "{stored}");
    assert_eq!(step["status"], 200);
    assert_eq!(step["response"]["calendar"], "The 7 Space");
    assert!(
        !stored.to_string().contains(KEY),
        "a secret reached the trace"
    );

    // The console's event page says what was fetched.
    let page = console_page(&s, &format!("/ui/events/{event}")).await;
    assert!(
        page.contains(&format!(
            "it was fetched first: GET {api}/appointments/123 answered 200"
        )),
        "{page}"
    );

    // A replay (the what-if) reads the answer the trace kept: no API call, not refused.
    let calls = acuity.hits();
    let r = client()
        .post(s.url("/api/whatif"))
        .bearer_auth(ADMIN)
        .json(&json!({"source": "acuity"}))
        .send()
        .await
        .expect("whatif");
    let whatif: Value = r.json().await.expect("json");
    assert_eq!(whatif["summary"]["events_replayed"], 1, "{whatif}");
    assert_eq!(whatif["summary"]["events_refused"], 0, "{whatif}");
    assert_eq!(acuity.hits(), calls, "the replay called the API");

    // The same delivery again: a duplicate, answered without asking the API.
    let calls = acuity.hits();
    let (code, again) = post(
        &s,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["event_id"], event.as_str(), "{again}");
    assert_eq!(acuity.hits(), calls, "a duplicate called the API");

    // Rate limited once: waited for Retry-After and tried again, still accepted.
    let before = acuity.hits();
    let (code, body) = post(
        &s,
        "action=scheduled&id=429&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(acuity.hits(), before + 2, "one 429, then the appointment");

    // An id Acuity doesn't know: refused in words, nothing stored.
    let (code, body) = post(
        &s,
        "action=scheduled&id=404&calendarID=1&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("found nothing (404: Appointment not found.)"),
        "{body}"
    );
    s.kill();
}

#[tokio::test]
async fn wrong_credentials_refuse_the_webhook_with_a_reason() {
    let api = serve_local(Acuity::new().router()).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start(tmp.path(), &api, "not-the-user");
    let (code, body) = post(
        &s,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 503, "{body}");
    let why = body["error"].as_str().unwrap_or("");
    assert!(why.contains("refused hsflow's credentials (401"), "{why}");
    s.kill();
}

#[test]
fn simulate_reads_the_enriched_file_and_never_calls_the_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let body = tmp.path().join("hook.txt");
    std::fs::write(
        &body,
        "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1",
    )
    .expect("write");
    let fixture = tmp.path().join("appointment.json");
    std::fs::write(&fixture, appointment(123).to_string()).expect("write");
    let run = |extra: &[&str]| {
        let mut args = vec!["simulate", "--source", "acuity", "--rules"];
        let r = rules();
        let t = r.parent().expect("project").join("templates");
        let (r, t) = (r.display().to_string(), t.display().to_string());
        args.push(&r);
        args.push("--templates");
        args.push(&t);
        args.extend_from_slice(extra);
        let b = body.display().to_string();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hsflow"))
            .args(&args)
            .arg(&b)
            .output()
            .expect("run hsflow");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let f = fixture.display().to_string();
    let (code, out) = run(&["--enriched", &f]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Bea <bea.okafor@example.com> booked Sound bath: Rest"),
        "{out}"
    );
    assert!(out.contains("enrich `appointment`: GET https://acuityscheduling.com/api/v1/appointments/123 (answered from the --enriched file)"), "{out}");
    // Without the file, it says what to give.
    let (code, out) = run(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("simulate --enriched FILE"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_proves_the_credentials_with_one_cheap_call() {
    let api = serve_local(Acuity::new().router()).await;
    let r = rules();
    let t = r.parent().expect("project").join("templates");
    let url = api.clone();
    let run = move |user: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hsflow"))
            .args(["check", "--rules"])
            .arg(&r)
            .arg("--templates")
            .arg(&t)
            .env("HSFLOW_TEST_ACUITY_URL", &url)
            .env("HSFLOW_TEST_ACUITY_USER", user)
            .env("HSFLOW_TEST_ACUITY_KEY", KEY)
            .output()
            .expect("run hsflow check");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let ((code, out), (bad_code, bad_out)) =
        tokio::task::spawn_blocking(move || (run(USER), run("someone-else")))
            .await
            .expect("join");
    assert!(
        out.contains(&format!(
            "GET {api}/me answers 200 OK with these credentials"
        )),
        "{out}"
    );
    assert_eq!(code, 0, "{out}");
    // Credentials the API refuses: an error that says what to check.
    assert!(
        bad_out.contains("refused the credentials (401"),
        "{bad_out}"
    );
    assert_eq!(bad_code, 1, "{bad_out}");
}
