//! The what-if: stored events of every source of the shipped pack, replayed
//! through the live rules and a candidate, through the real server's
//! POST /api/whatif and the `hsflow whatif` command.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use support::shipped::{stored_event, EXAMPLES};
use support::{client, Server, ADMIN};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the shipped rules and templates.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["rules", "templates"] {
        support::copy_dir(&root().join(sub), &dir.path().join(sub));
    }
    support::without_send_windows(&dir.path().join("rules"));
    dir
}

/// Typeform leads of mixed contact types.
const LEADS: &[(&str, &str)] = &[
    ("ana@example.org", "Artist"),
    ("ben@example.org", "Business Contact"),
    ("cy@example.org", "Potential Client"),
    ("dee@example.org", "Media Contact"),
    ("eli@example.org", "Artist"),
];

/// Store a week of events in `data` the way the server does; how many.
async fn a_week_of_events(data: &Path, project: &Path) -> usize {
    let rs = hsflow::rules::load_to_serve(&project.join("rules"), &project.join("templates"))
        .ruleset
        .expect("the shipped pack loads");
    let store = hsflow::store::Store::open(data, hsflow::store::Durability::Normal)
        .await
        .expect("store");
    let mut n = 0;
    let now = Utc::now();
    for (i, (source, file, headers)) in EXAMPLES.iter().enumerate() {
        let body = std::fs::read(root().join("examples").join(file)).expect("example");
        let at = now - Duration::hours(6 * (i as i64 + 1));
        let ev = stored_event(&rs, source, &body, headers, at, None);
        store.accept(ev).await.expect("stored");
        n += 1;
    }
    for (i, (email, kind)) in LEADS.iter().enumerate() {
        let body = support::typeform_lead(&format!("lead-{i}"), email, kind);
        let at = now - Duration::hours(5 * (i as i64 + 1));
        let ev = stored_event(&rs, "typeform", &body, &[], at, None);
        store.accept(ev).await.expect("stored");
        n += 1;
    }
    n
}

async fn whatif(s: &Server, body: Value) -> (u16, Value) {
    let r = client()
        .post(s.url("/api/whatif"))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .expect("send");
    (r.status().as_u16(), r.json().await.expect("json"))
}

fn flow_file(p: &Path) -> String {
    std::fs::read_to_string(p.join("rules/flows/contact_workflows.toml")).expect("flow")
}

struct Setup {
    project: tempfile::TempDir,
    _data: tempfile::TempDir,
    server: Server,
    events: usize,
}

async fn setup() -> Setup {
    let project = project();
    let data = tempfile::tempdir().expect("tmp");
    let events = a_week_of_events(data.path(), project.path()).await;
    let server = Server::start(data.path(), &project.path().join("rules"), &[]);
    Setup {
        project,
        _data: data,
        server,
        events,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_rules_replay_every_source_with_no_difference() {
    let s = setup().await;
    let (status, r) = whatif(&s.server, json!({})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["differences"], false, "{r:#}");
    // The stored week, and what the server raised itself since it started.
    assert!(
        r["summary"]["events_replayed"].as_u64().unwrap() >= s.events as u64,
        "{r:#}"
    );
    assert_eq!(r["summary"]["events_refused"], 0);
    assert_eq!(r["live_version"], r["candidate_version"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_delay_names_the_changed_actions_and_their_flow() {
    let s = setup().await;
    let flow = flow_file(s.project.path()).replacen(
        "template = \"artist_welcome\"\ndelay = \"24h\"",
        "template = \"artist_welcome\"\ndelay = \"12h\"",
        1,
    );
    let (status, r) = whatif(
        &s.server,
        json!({"files": {"rules/flows/contact_workflows.toml": flow}}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["differences"], true);
    // The two artists' leads, and nothing else.
    let events = r["events"].as_array().expect("events");
    let emails: Vec<&str> = events
        .iter()
        .filter_map(|e| e["contact"].as_str())
        .collect();
    assert!(
        emails.contains(&"ana@example.org") && emails.contains(&"eli@example.org"),
        "{emails:?}"
    );
    for e in events {
        assert!(
            e["added"].as_array().unwrap().is_empty()
                && e["removed"].as_array().unwrap().is_empty(),
            "{e:#}"
        );
        let changed = e["changed"].as_array().expect("changed");
        assert_eq!(changed.len(), 1, "{e:#}");
        assert_eq!(changed[0]["kind"], "email");
        assert!(changed[0]["id"]
            .as_str()
            .unwrap()
            .starts_with("artist_discovery/"));
        assert_eq!(
            changed[0]["changes"][0],
            json!({"field": "timing", "before": "after 1 day", "after": "after 12 hours", "said": "after 1 day → after 12 hours"})
        );
    }
    let flows = r["summary"]["flows"].as_object().expect("flows");
    assert_eq!(flows.keys().collect::<Vec<_>>(), ["contact_workflows"]);
    assert_eq!(flows["contact_workflows"]["actions_changed"], events.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn events_the_new_rules_refuse_are_reported_not_dropped() {
    let s = setup().await;
    let path = s.project.path().join("rules/sources/snovio.toml");
    let snovio = std::fs::read_to_string(path)
        .expect("source")
        .replace("path = \"$.emails[0].email\"", "path = \"$.email\"");
    let (status, r) = whatif(
        &s.server,
        json!({"files": {"rules/sources/snovio.toml": snovio}}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["summary"]["events_refused"], 1, "{r:#}");
    let e = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "snovio")
        .expect("the snovio event is listed");
    assert!(e["refused"].as_str().unwrap().contains("email"), "{e:#}");
    assert!(
        !e["removed"].as_array().unwrap().is_empty(),
        "its actions count as removed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_follow_ups_the_new_rules_would_drop_are_listed() {
    let s = setup().await;
    let flow = flow_file(s.project.path()).replacen(
        "when = [{ field = \"email\", is_empty = false }]\ncancel_on = [\"manual:contact.replied\"]",
        "when = [{ field = \"email\", equals = \"nobody@example.org\" }]\ncancel_on = [\"manual:contact.replied\"]",
        1,
    );
    let (status, r) = whatif(
        &s.server,
        json!({"files": {"rules/flows/contact_workflows.toml": flow}}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let stopping = &r["summary"]["flows"]["contact_workflows"]["rules_stopping"];
    assert_eq!(stopping, &json!(["artist_discovery"]), "{r:#}");
    let pending = r["pending"].as_array().expect("pending");
    assert!(!pending.is_empty(), "{r:#}");
    for p in pending {
        assert!(
            p["action"]
                .as_str()
                .unwrap()
                .starts_with("artist_discovery/"),
            "{p}"
        );
        assert!(p["why"].as_str().unwrap().contains("no longer plan"), "{p}");
        assert!(p["id"].is_string() && p["due_at"].is_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_candidate_is_refused_with_its_findings() {
    let s = setup().await;
    let flow = flow_file(s.project.path()).replacen("delay = \"24h\"", "delay = \"tomorrow\"", 1);
    let (status, r) = whatif(
        &s.server,
        json!({"files": {"rules/flows/contact_workflows.toml": flow}}),
    )
    .await;
    assert_eq!(status, 422, "{r}");
    let f = &r["findings"][0];
    assert_eq!(f["path"], "rules/flows/contact_workflows.toml");
    assert!(
        f["line"].as_u64().unwrap() > 1 && f["message"].is_string(),
        "{f}"
    );
    let (status, r) = whatif(&s.server, json!({"files": {"../etc/passwd": "x"}})).await;
    assert_eq!(status, 400, "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_exits_0_without_differences_and_1_with_them() {
    let s = setup().await;
    let run = |project: &Path| {
        Command::new(env!("CARGO_BIN_EXE_hsflow"))
            .args(["whatif", "--json", "--server", &s.server.base])
            .arg("--rules")
            .arg(project.join("rules"))
            .arg("--templates")
            .arg(project.join("templates"))
            .env("HSFLOW_ADMIN_TOKEN", ADMIN)
            .output()
            .expect("run hsflow whatif")
    };
    // A working copy of the rules, apart from those the server runs.
    let mine = project();
    let same = run(mine.path());
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    let report: Value = serde_json::from_slice(&same.stdout).expect("JSON out");
    assert_eq!(report["differences"], false);
    let flow = flow_file(mine.path()).replacen("delay = \"24h\"", "delay = \"36h\"", 1);
    std::fs::write(mine.path().join("rules/flows/contact_workflows.toml"), flow).expect("edit");
    let changed = run(mine.path());
    assert_eq!(
        changed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&changed.stderr)
    );
    // Words without --json.
    let words = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(["whatif", "--server", &s.server.base])
        .arg("--rules")
        .arg(mine.path().join("rules"))
        .arg("--templates")
        .arg(mine.path().join("templates"))
        .env("HSFLOW_ADMIN_TOKEN", ADMIN)
        .output()
        .expect("run");
    assert_eq!(words.status.code(), Some(1));
    let text = String::from_utf8_lossy(&words.stdout);
    assert!(
        text.contains("would change (0 actions added, 0 removed, 3 changed)")
            && text.contains("changed: the email “artist_welcome”")
            && text.contains("timing: after 1 day → after 1 day 12 hours"),
        "{text}"
    );
}
