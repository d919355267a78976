//! The contact-workflow API of the older server, /api/simulate and /api/rules,
//! served from the shipped rules.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::*;

fn shipped() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")
}

async fn admin_json(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    let r = client()
        .post(s.url(path))
        .bearer_auth(ADMIN)
        .json(body)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_new_contact_runs_its_workflows_and_a_reply_cancels_the_follow_ups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &shipped(), &[]);
    let contact = json!({"email": "grace@hopper.example", "first_name": "Grace", "last_name": "Hopper", "contact_types": ["Business Contact"], "lead_source": "Referral"});
    let (status, body) = admin_json(&s, "/contact-workflows/new-contact", &contact).await;
    assert_eq!(status, 202, "{body}");
    assert!(
        body["actions"].as_u64().unwrap_or(0) >= 8,
        "lead capture, follow-ups and qualification: {body}"
    );

    let (status, body) = admin_json(
        &s,
        "/contact-workflows/trigger",
        &json!({"email": "grace@hopper.example", "event": "replied"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert!(
        body["cancelled"].as_u64().unwrap_or(0) >= 3,
        "the pending follow-ups: {body}"
    );

    let (status, body) = admin_json(
        &s,
        "/contact-workflows/trigger",
        &json!({"email": "grace@hopper.example"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    let totals = admin_get(&s, "/contact-workflows/status").await;
    assert_eq!(totals["events"]["manual"], 2, "{totals}");
    assert!(
        totals["actions"]["email"]["cancelled"]
            .as_u64()
            .unwrap_or(0)
            >= 3,
        "{totals}"
    );
    assert_eq!(totals["contacts"], 1);

    let stats = admin_get(&s, "/api/stats").await;
    let qual = stats["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["rule"] == "lead_qualification")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (qual["runs"].as_i64(), qual["actions"].as_i64()),
        (Some(1), Some(4)),
        "{stats}"
    );

    // The contact was upserted into the local Contacts database, in Notion's property shapes.
    let pages = eventually(
        std::time::Duration::from_secs(10),
        "the contact page",
        || async {
            let p = admin_get(&s, "/api/notion/contacts").await;
            (p["results"].as_array().map(Vec::len) == Some(1)).then_some(p)
        },
    )
    .await;
    assert_eq!(
        pages["results"][0]["properties"]["Email"],
        json!({"email": "grace@hopper.example"})
    );
    assert_eq!(
        pages["results"][0]["properties"]["Status"],
        json!({"select": {"name": "Lead"}})
    );

    let t = admin_get(&s, "/contact-workflows/templates").await;
    let names: Vec<&str> = t["emails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        names.contains(&"artist_welcome") && names.contains(&"retreat_preparation"),
        "{names:?}"
    );
}

#[tokio::test]
async fn simulate_over_http_plans_without_side_effects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &shipped(), &[]);
    let body: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/typeform_artist.json"),
        )
        .expect("example"),
    )
    .expect("json");
    let (status, p) = admin_json(
        &s,
        "/api/simulate",
        &json!({"source": "typeform", "body": body, "at": "2026-01-05T15:00:00Z"}),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["entities"], json!(["The 7 Space"]));
    assert!(p["rules"].as_array().is_some_and(|r| r
        .iter()
        .any(|x| x["id"] == "artist_discovery" && x["matched"] == true)));
    assert!(p["actions"].as_array().is_some_and(|a| a
        .iter()
        .any(|x| x["kind"] == "email" && x["delay_s"] == 86_400)));
    let all = admin_get(&s, "/api/actions").await;
    assert_eq!(
        all["actions"].as_array().map(Vec::len),
        Some(0),
        "nothing stored"
    );

    let rules = admin_get(&s, "/api/rules").await;
    assert_eq!(rules["version"].as_str().map(str::len), Some(64));
    assert!(
        rules["flows"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["id"] == "retreat_booking")),
        "{rules}"
    );
}
