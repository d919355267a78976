//! Schedules: a schedule added while the server runs fires at once, one
//! event per page of its database; a restart in the same slot fires nothing
//! again; and the `schedule` source refuses requests from outside.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sinks")
}

fn walked(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("notifications.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["channel"] == "ops")
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_schedule_walks_its_database_once_per_slot_across_restarts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let project = tmp.path().join("project");
    copy_dir(&fixture(), &project);
    let rules = project.join("rules");
    let data = tmp.path().join("data");
    let s = Server::start(&data, &rules, &["--scheduler-tick", "1s"]);
    for (i, email) in ["a@example.com", "b@example.com"].iter().enumerate() {
        let (status, body) = post_signed(
            &s,
            &json!({"id": format!("s{i}"), "type": "signup", "email": email}),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        settled(
            &s,
            body["event_id"].as_str().expect("event"),
            "contact/upsert_contact",
        )
        .await;
    }
    // Added while serving: live after the reload, fired at once.
    std::fs::write(
        rules.join("schedules.toml"),
        "#:schema ../schemas/schedules.schema.json\n[[schedules]]\nid = \"contacts_walk\"\ncalendar = \"daily at 08:00\"\nzone = \"Europe/London\"\nquery = \"contacts\"\n",
    )
    .expect("write schedules.toml");
    let mut got = eventually(Duration::from_secs(20), "both contacts walked", || async {
        let w = walked(&data);
        (w.len() >= 2).then_some(w)
    })
    .await;
    got.sort();
    assert_eq!(got, ["walked a@example.com", "walked b@example.com"]);
    s.kill();

    // Same day, new process: the slot has fired, nothing repeats.
    let s = Server::start(&data, &rules, &["--scheduler-tick", "1s"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        walked(&data).len(),
        2,
        "a restart in the same slot fires nothing again"
    );

    // The source is fed by hsflow only.
    let r = client()
        .post(s.url("/webhooks/schedule"))
        .header("content-type", "application/json")
        .body(r#"{"type":"contacts_walk","id":"forged"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 403);
    s.kill();
}
