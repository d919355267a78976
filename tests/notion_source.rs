//! Notion as a source: staff edits in the Notion simulator, found by the
//! poller, become events that trigger rules; hsflow's own writes and
//! re-polled edits do not.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map, Value};
use support::notion_sim::{self, NotionSim};
use support::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sinks")
}

fn simulator() -> NotionSim {
    NotionSim::from_project(&fixture(), |_| {})
}

fn contact(email: &str, status: &str) -> Map<String, Value> {
    json!({
        "Name": {"type": "title", "title": [{"type": "text", "text": {"content": "Ada"}, "plain_text": "Ada"}]},
        "Email": {"type": "email", "email": email},
        "Status": {"type": "select", "select": {"name": status}},
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn notifications(data: &Path) -> Vec<Value> {
    std::fs::read_to_string(data.join("notifications.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn queries(sim: &NotionSim) -> usize {
    sim.requests()
        .iter()
        .filter(|(_, p, _)| p.ends_with("/query"))
        .count()
}

#[tokio::test]
async fn a_staff_edit_in_notion_triggers_rules_once_and_hsflows_own_writes_do_not() {
    let sim = simulator();
    // Edited before hsflow started: history is not replayed.
    let ada = sim.staff_create("db-contacts", contact("ada@example.com", "Lead"));
    let base = sim.start().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let s = Server::start_with_env(
        &data,
        &fixture().join("rules"),
        &[],
        &[
            ("NOTION_API_TOKEN", notion_sim::TOKEN.to_string()),
            ("HSFLOW_NOTION_URL", base.clone()),
            ("HSFLOW_NOTION_RATE", "50".into()),
            ("NOTION_CONTACTS_PROFILES_DB", "db-contacts".into()),
            ("HSFLOW_NOTION_POLL", "contacts".into()),
            ("HSFLOW_NOTION_POLL_INTERVAL", "1s".into()),
        ],
    );
    // The first poll only sets the cursor.
    eventually(Duration::from_secs(10), "the first poll", || async {
        (queries(&sim) >= 1).then_some(())
    })
    .await;
    // hsflow writes a contact itself (a signup): its own edit must not come back as an event.
    let (status, body) = post_signed(
        &s,
        &json!({"id": "s1", "type": "signup", "email": "own@example.com", "first_name": "Own"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    settled(
        &s,
        body["event_id"].as_str().expect("event"),
        "contact/upsert_contact",
    )
    .await;
    // Staff mark Ada a client in Notion.
    tokio::time::sleep(Duration::from_millis(20)).await;
    sim.staff_edit(&ada, contact("ada@example.com", "Client"));
    let got = eventually(
        Duration::from_secs(15),
        "the staff edit to become a notification",
        || async {
            let n = notifications(&data);
            (!n.is_empty()).then_some(n)
        },
    )
    .await;
    assert_eq!(
        got[0]["text"],
        "ada@example.com is now Client (page.properties_updated)"
    );
    // Several more polls see the same edit again (minute precision): still one notification.
    let seen = queries(&sim);
    eventually(Duration::from_secs(15), "three more polls", || async {
        (queries(&sim) >= seen + 3).then_some(())
    })
    .await;
    let all = notifications(&data);
    assert_eq!(
        all.len(),
        1,
        "one edit, one event; hsflow's own write ignored: {all:?}"
    );
    s.kill();
}

#[tokio::test]
async fn notions_webhook_handshake_is_kept_while_unverified_then_only_signed_requests_are_taken() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let token = "secret_VerificationToken123";
    // Before verification: the source's secret is not set yet.
    let s = Server::start(&data, &fixture().join("rules"), &[]);
    let c = client();
    let handshake = |t: &str| {
        c.post(s.url("/webhooks/notion"))
            .header("content-type", "application/json")
            .body(json!({"verification_token": t}).to_string())
            .send()
    };
    // The handshake: unsigned, one field; kept with when and where it came from.
    assert_eq!(handshake(token).await.expect("send").status().as_u16(), 200);
    let kept = std::fs::read_to_string(data.join("verification/notion.txt")).unwrap_or_default();
    assert!(kept.trim_end().ends_with(&format!(" {token}")), "{kept}");
    assert!(kept.contains(" from 127.0.0.1 "), "{kept}");
    // A second, unsigned "handshake" from anyone is added beside it, never over it.
    let r = handshake("secret_forged").await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let kept = std::fs::read_to_string(data.join("verification/notion.txt")).unwrap_or_default();
    assert_eq!(kept.lines().count(), 2);
    assert!(
        kept.lines().next().is_some_and(|l| l.ends_with(token)),
        "{kept}"
    );
    // A flood stops at the cap, with a reason; the real token is still there.
    let mut refused = 0;
    for i in 0..40 {
        let r = handshake(&format!("secret_flood{i}")).await.expect("send");
        if r.status().as_u16() == 503 {
            refused += 1;
            let why = r.text().await.unwrap_or_default();
            assert!(
                why.contains("already holds 20 verification tokens"),
                "{why}"
            );
        }
    }
    assert_eq!(refused, 22);
    let kept = std::fs::read_to_string(data.join("verification/notion.txt")).unwrap_or_default();
    assert_eq!(kept.lines().count(), 20);
    assert!(kept.lines().next().is_some_and(|l| l.ends_with(token)));
    s.kill();

    // Verified: the operator set the secret to the token.
    let s = Server::start_with_env(
        &data,
        &fixture().join("rules"),
        &[],
        &[("NOTION_WEBHOOK_SECRET", token.to_string())],
    );
    let c = client();
    // An unsigned handshake is now refused, and nothing more is kept.
    let r = c
        .post(s.url("/webhooks/notion"))
        .header("content-type", "application/json")
        .body(json!({"verification_token": "secret_late"}).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("already verified"));
    // Anything else unsigned is refused.
    let r = c
        .post(s.url("/webhooks/notion"))
        .header("content-type", "application/json")
        .body(json!({"verification_token": token, "type": "page.created"}).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    // A signed event, as Notion sends them.
    let body = json!({"id": "evt-1", "timestamp": "2026-11-22T08:00:00.000Z", "type": "page.properties_updated",
                      "entity": {"id": "page-1", "type": "page"}, "data": {"parent": {"id": "db-contacts", "type": "database"}}})
    .to_string();
    let sig = hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Hex,
        Some("sha256="),
        token,
        body.as_bytes(),
    );
    let r = c
        .post(s.url("/webhooks/notion"))
        .header("content-type", "application/json")
        .header("X-Notion-Signature", sig)
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 202);
    s.kill();
}
