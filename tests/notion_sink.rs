//! The Notion sink against the Notion simulator (tests/support/notion_sim):
//! the real `hsflow serve`, configured by environment as a user would, writes
//! to a local server that enforces the Notion API's headers, shapes, limits
//! and rate limit.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::notion_sim::{self, NotionSim};
use support::*;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sinks")
}

/// A simulator serving the fixture's databases (ids `db-<key>`, data sources `ds-<key>`).
fn simulator() -> NotionSim {
    NotionSim::from_project(&fixture_dir(), |_| {})
}

fn notion_env(base: &str, version: &str) -> Vec<(&'static str, String)> {
    vec![
        ("NOTION_API_TOKEN", notion_sim::TOKEN.to_string()),
        ("HSFLOW_NOTION_URL", base.to_string()),
        ("HSFLOW_NOTION_VERSION", version.to_string()),
        ("HSFLOW_NOTION_RATE", "50".to_string()),
        ("NOTION_CONTACTS_PROFILES_DB", "db-contacts".to_string()),
        ("NOTION_TASKS_DB", "db-tasks".to_string()),
    ]
}

fn start(sim_base: &str, version: &str, dir: &tempfile::TempDir) -> Server {
    Server::start_with_env(
        &dir.path().join("data"),
        &fixture_dir().join("rules"),
        &["--retry-base", "1s", "--max-attempts", "10"],
        &notion_env(sim_base, version),
    )
}

fn title(page: &notion_sim::Page, prop: &str) -> String {
    page.properties[prop]["title"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.pointer("/text/content")?.as_str())
                .collect()
        })
        .unwrap_or_default()
}

async fn signup(s: &Server, id: &str, email: &str, name: &str) -> String {
    accepted(
        s,
        &json!({"id": id, "type": "signup", "email": email, "first_name": name, "notes": "from the test"}),
    )
    .await
}

#[tokio::test]
async fn upsert_creates_the_page_once_then_updates_it() {
    let sim = simulator();
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, "2022-06-28", &dir);

    let first = signup(&s, "e1", "ada@example.com", "Ada").await;
    settled(&s, &first, "contact/upsert_contact").await;
    let second = signup(&s, "e2", "ADA@example.com", "Ada Lovelace").await;
    let job = settled(&s, &second, "contact/upsert_contact").await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let pages = sim.pages("db-contacts");
    assert_eq!(pages.len(), 1, "one contact, updated in place: {pages:?}");
    assert_eq!(title(&pages[0], "Name"), "Ada Lovelace");
    assert_eq!(pages[0].properties["Email"]["email"], "ada@example.com");
    assert_eq!(pages[0].properties["Status"]["select"]["name"], "Lead");
    // What went over the wire: query, create; then query, update.
    let calls: Vec<String> = sim
        .requests()
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert_eq!(
        calls,
        [
            "POST /v1/databases/db-contacts/query",
            "POST /v1/pages",
            "POST /v1/databases/db-contacts/query",
            format!("PATCH /v1/pages/{}", pages[0].id).as_str(),
        ]
    );
    s.kill();
}

#[tokio::test]
async fn a_429_storm_ends_in_every_page_written_exactly_once() {
    let sim = simulator();
    sim.faults(|f| {
        f.rate_limit = Some((3, Duration::from_secs(1)));
        f.retry_after_s = 1;
    });
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, "2022-06-28", &dir);

    // Eight contacts, two of them twice at once: the duplicates must not race into two pages.
    let mut events = Vec::new();
    for i in 0..8 {
        events.push(signup(&s, &format!("a{i}"), &format!("p{i}@example.com"), "P").await);
    }
    events.push(signup(&s, "b0", "p0@example.com", "P again").await);
    events.push(signup(&s, "b1", "p1@example.com", "P again").await);
    for e in &events {
        let job = settled(&s, e, "contact/upsert_contact").await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    let pages = sim.pages("db-contacts");
    let mut emails: Vec<String> = pages
        .iter()
        .map(|p| {
            p.properties["Email"]["email"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    emails.sort();
    let expected: Vec<String> = (0..8).map(|i| format!("p{i}@example.com")).collect();
    assert_eq!(emails, expected, "each contact once");
    let statuses = sim.statuses();
    assert!(
        statuses.get(&429).copied().unwrap_or(0) > 0,
        "the storm happened: {statuses:?}"
    );
    s.kill();
}

#[tokio::test]
async fn upserts_of_one_contact_at_once_make_one_page() {
    let sim = simulator();
    // Slow answers: every worker's query is in flight before any create lands.
    sim.faults(|f| f.latency = Duration::from_millis(150));
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, "2022-06-28", &dir);
    let mut events = Vec::new();
    for i in 0..6 {
        events.push(
            signup(
                &s,
                &format!("r{i}"),
                "same@example.com",
                &format!("Same {i}"),
            )
            .await,
        );
    }
    for e in &events {
        assert_eq!(
            settled(&s, e, "contact/upsert_contact").await["status"],
            "succeeded"
        );
    }
    assert_eq!(sim.pages("db-contacts").len(), 1);
    s.kill();
}

#[tokio::test]
async fn a_validation_error_parks_the_job_with_notions_message() {
    let sim = simulator();
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, "2022-06-28", &dir);

    // Notion takes at most 200 characters in a phone number.
    let (status, body) = post_signed(
        &s,
        &json!({"id": "v1", "type": "signup", "email": "long@example.com", "phone": "1".repeat(250)}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let event = body["event_id"].as_str().expect("event id");
    let job = settled(&s, event, "contact/upsert_contact").await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(
        job["attempts"], 1,
        "a validation error is not retried: {job}"
    );
    let err = job["last_error"].as_str().unwrap_or("");
    assert!(
        err.contains("validation_error")
            && err.contains("Phone.phone_number.length should be ≤ `200`"),
        "{err}"
    );
    assert!(sim.pages("db-contacts").is_empty());
    s.kill();
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_not_written_twice() {
    let sim = simulator();
    sim.faults(|f| f.crash_after_write = 1);
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, "2022-06-28", &dir);

    let e = signup(&s, "c1", "grace@example.com", "Grace").await;
    let job = settled(&s, e.as_str(), "contact/upsert_contact").await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2, "the lost answer made it retry: {job}");
    let pages = sim.pages("db-contacts");
    assert_eq!(pages.len(), 1, "the retry found the page and updated it");
    s.kill();
}

#[tokio::test]
async fn data_source_mode_queries_and_creates_through_the_data_source() {
    let sim = simulator();
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, "2025-09-03", &dir);

    let e = signup(&s, "d1", "lin@example.com", "Lin").await;
    assert_eq!(
        settled(&s, &e, "contact/upsert_contact").await["status"],
        "succeeded"
    );
    let (status, body) = post_signed(
        &s,
        &json!({"id": "d2", "type": "task", "email": "lin@example.com"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let task_event = body["event_id"].as_str().expect("event id");
    let job = settled(&s, task_event, "task/call_back").await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let tasks = sim.pages("db-tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        title(&tasks[0], "Task ID"),
        job["id"].as_str().unwrap_or(""),
        "keyed by the job"
    );
    assert_eq!(tasks[0].properties["Priority"]["select"]["name"], "High");
    let contact = &sim.pages("db-contacts")[0];
    assert_eq!(
        tasks[0].properties["Contact"]["relation"],
        json!([{"id": contact.id}]),
        "the task links to its contact"
    );
    let paths: Vec<String> = sim.requests().into_iter().map(|(_, p, _)| p).collect();
    assert!(
        paths.contains(&"/v1/databases/db-contacts".to_string()),
        "looked up the data source: {paths:?}"
    );
    assert!(
        paths.contains(&"/v1/data_sources/ds-contacts/query".to_string()),
        "{paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("/v1/databases/") && p.ends_with("/query")),
        "{paths:?}"
    );
    s.kill();
}

#[tokio::test]
async fn a_database_without_an_id_parks_its_actions_and_says_which_variable() {
    let sim = simulator();
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let mut env = notion_env(&base, "2022-06-28");
    env.retain(|(k, _)| *k != "NOTION_TASKS_DB");
    let s = Server::start_with_env(
        &dir.path().join("data"),
        &fixture_dir().join("rules"),
        &[],
        &env,
    );
    let job = outcome(
        &s,
        &json!({"id": "t1", "type": "task", "email": "x@example.com"}),
        "task/call_back",
    )
    .await;
    assert_eq!(job["status"], "dead");
    assert!(
        job["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("set NOTION_TASKS_DB"),
        "{job}"
    );
    s.kill();
}

#[tokio::test]
async fn the_simulator_is_as_strict_as_notion_about_headers() {
    let sim = simulator();
    let base = sim.start().await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{base}/v1/databases/db-contacts/query"))
        .bearer_auth(notion_sim::TOKEN)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["code"], "missing_version");
    let r = c
        .post(format!("{base}/v1/pages"))
        .bearer_auth("wrong")
        .header("Notion-Version", "2022-06-28")
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .post(format!("{base}/v1/pages"))
        .bearer_auth(notion_sim::TOKEN)
        .header("Notion-Version", "2022-06-28")
        .json(&json!({"parent": {"database_id": "db-contacts"}, "properties": {"Name": {"title": [{"text": {"content": "x".repeat(2001)}}]}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("should be ≤ `2000`"),
        "{body}"
    );
}

#[tokio::test]
async fn a_task_links_to_its_contact_in_the_local_store_too() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(&dir.path().join("data"), &fixture_dir().join("rules"), &[]);
    let e = signup(&s, "l1", "kim@example.com", "Kim").await;
    assert_eq!(
        settled(&s, &e, "contact/upsert_contact").await["status"],
        "succeeded"
    );
    let job = outcome(
        &s,
        &json!({"id": "l2", "type": "task", "email": "kim@example.com"}),
        "task/call_back",
    )
    .await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let contacts = admin_get(&s, "/api/notion/contacts").await;
    let tasks = admin_get(&s, "/api/notion/tasks").await;
    let contact_id = contacts["results"][0]["id"].clone();
    assert!(contact_id.is_string(), "{contacts}");
    assert_eq!(
        tasks["results"][0]["properties"]["Contact"]["relation"],
        json!([{"id": contact_id}]),
        "{tasks}"
    );
    s.kill();
}

#[tokio::test]
async fn additions_read_the_pages_current_value() {
    let sim = simulator();
    let base = sim.start().await;
    let dir = tempfile::tempdir().expect("tmp");
    let s = start(&base, "2022-06-28", &dir);
    for i in 0..3 {
        let (status, body) = post_signed(
            &s,
            &json!({"id": format!("sc{i}"), "type": "score", "email": "pat@example.com"}),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        let job = settled(
            &s,
            body["event_id"].as_str().expect("event"),
            "score/add_points",
        )
        .await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    let pages = sim.pages("db-contacts");
    assert_eq!(pages.len(), 1);
    assert_eq!(
        pages[0].properties["Score"]["number"].as_f64(),
        Some(25.0),
        "10 + 5 + 5 + 5"
    );
    s.kill();
}
