//! Every refusal is one JSON shape with a sentence saying why: the
//! handlers' own and axum's (wrong content type, broken JSON, unknown route,
//! wrong method, body too large), with WWW-Authenticate on a 401, and an
//! email that isn't one is refused before anything is planned.

mod support;

use serde_json::{json, Value};
use support::{client, fixture, Server, ADMIN};

async fn refusal(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/json"), "{status} came as {ct}");
    let v: Value = r.json().await.expect("a JSON body");
    let msg = v["error"].as_str().unwrap_or("").to_string();
    assert!(!msg.is_empty(), "no reason in {v}");
    msg
}

#[tokio::test]
async fn every_refusal_is_json_with_a_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = Server::start(
        dir.path(),
        &fixture().join("rules"),
        &["--body-limit", "1024"],
    );
    let c = client();
    let url = s.url("/contact-workflows/new-contact");

    let r = c
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .expect("send");
    assert!(refusal(r, 415).await.contains("application/json"));
    let r = c
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    refusal(r, 400).await;
    let r = c
        .post(&url)
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(vec![b' '; 4096])
        .send()
        .await
        .expect("send");
    assert!(refusal(r, 413).await.contains("HSFLOW_BODY_LIMIT"));
    let r = c.get(s.url("/no/such/route")).send().await.expect("send");
    assert!(refusal(r, 404).await.contains("openapi.json"));
    let r = c.delete(s.url("/health")).send().await.expect("send");
    refusal(r, 405).await;

    let r = c.get(s.url("/api/actions")).send().await.expect("send");
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer realm=\"hsflow\"")
    );
    refusal(r, 401).await;
}

#[tokio::test]
async fn a_new_contact_needs_a_real_email_address() {
    let dir = tempfile::tempdir().expect("tmp");
    // The shipped rules: their `manual` source feeds the contact-workflow API.
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let s = Server::start(dir.path(), &shipped, &[]);
    let c = client();
    for bad in [
        json!(""),
        json!("not an email"),
        json!("ada@"),
        json!("ada@example"),
        json!(42),
    ] {
        let r = c
            .post(s.url("/contact-workflows/new-contact"))
            .bearer_auth(ADMIN)
            .json(&json!({"email": bad, "contact_types": ["Artist"], "lead_source": "Website"}))
            .send()
            .await
            .expect("send");
        let why = refusal(r, 400).await;
        assert!(why.contains("`email`"), "{bad}: {why}");
    }
    let r = c
        .post(s.url("/contact-workflows/new-contact"))
        .bearer_auth(ADMIN)
        .json(&json!({"contact_types": ["Artist"]}))
        .send()
        .await
        .expect("send");
    assert!(refusal(r, 400).await.contains("needs an `email`"));
}

#[tokio::test]
async fn a_trigger_names_one_of_the_known_events_and_each_reaches_its_rules() {
    let dir = tempfile::tempdir().expect("tmp");
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let s = Server::start(dir.path(), &shipped, &[]);
    let c = client();
    let post = |event: &str| {
        c.post(s.url("/api/contact-workflows/trigger"))
            .bearer_auth(ADMIN)
            .json(&json!({"email": "ada@example.org", "event": event}))
            .send()
    };
    let why = refusal(post("waved").await.expect("send"), 400).await;
    assert!(why.contains("replied, booked, bought"), "{why}");
    // Each known event arrives as the event type the shipped rules listen to.
    for (event, kind) in [
        ("booked", "contact.booked"),
        ("bought", "contact.bought"),
        ("replied", "contact.replied"),
        ("consultation.completed", "consultation.completed"),
    ] {
        let r = post(event).await.expect("send");
        assert_eq!(r.status().as_u16(), 202, "{event}");
        let v: Value = r.json().await.expect("json");
        let id = v["event_id"].as_str().unwrap_or("").to_string();
        let e = support::admin_get(&s, &format!("/api/events/{id}")).await;
        assert_eq!(e["type"], kind, "{event}");
    }
}
