//! Unsubscribing and suppression, over real HTTP with a real SMTP server
//! (aiosmtpd): a marketing email carries a signed unsubscribe link and the
//! List-Unsubscribe headers; one click suppresses the address, cancels its
//! waiting follow-ups and raises `hsflow:contact.unsubscribed`; later
//! marketing email is `suppressed` while a receipt still goes; a 550 at send
//! time suppresses; a forged or altered link is refused.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use support::smtp::{header, part, Smtp};
use support::*;

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email/rules")
}

fn start(smtp: &Smtp, dir: &tempfile::TempDir, env: &[(&'static str, String)]) -> Server {
    let mut all = vec![
        ("HSFLOW_SMTP_HOST", "127.0.0.1".to_string()),
        ("HSFLOW_SMTP_PORT", smtp.port.to_string()),
        ("HSFLOW_SMTP_TLS", "none".to_string()),
    ];
    all.extend_from_slice(env);
    Server::start_with_env(
        &dir.path().join("data"),
        &rules(),
        &["--retry-base", "1s"],
        &all,
    )
}

/// The message the SMTP server took for `to` whose subject starts with `subject`.
async fn delivered(smtp: &Smtp, to: &str, subject: &str) -> String {
    eventually(
        Duration::from_secs(30),
        &format!("{subject} to reach {to}"),
        || async {
            smtp.messages().into_iter().find_map(|m| {
                let data = m["data"].as_str()?.to_string();
                (m["rcpt_tos"] == json!([to])
                    && header(&data, "Subject").is_some_and(|s| s.starts_with(subject)))
                .then_some(data)
            })
        },
    )
    .await
}

/// The unsubscribe URL of a message, from its List-Unsubscribe header.
fn unsubscribe_url(data: &str) -> String {
    let list = header(data, "List-Unsubscribe").expect("a List-Unsubscribe header");
    list.trim_start_matches('<')
        .split('>')
        .next()
        .expect("an https/http URL first")
        .to_string()
}

async fn post_one_click(url: &str) -> (u16, String) {
    let r = client()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("send");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

async fn suppressions(s: &Server) -> Value {
    admin_get(s, "/api/suppressions").await
}

#[tokio::test]
async fn one_click_suppresses_cancels_follow_ups_and_only_marketing_email_stops() {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(&tmp.path().join("mail"), &[]);
    let s = start(&smtp, &tmp, &[]);
    let signup = accepted(
        &s,
        &json!({"id": "u1", "type": "signup", "email": "ada@example.com"}),
    )
    .await;
    let data = delivered(&smtp, "ada@example.com", "Welcome").await;

    // The headers a mail program's unsubscribe button needs, and the link in both parts.
    let url = unsubscribe_url(&data);
    assert!(url.starts_with(&s.url("/email/unsubscribe/")), "{url}");
    assert_eq!(
        header(&data, "List-Unsubscribe"),
        Some(format!("<{url}>, <mailto:team@gallery.example?subject=unsubscribe>").as_str())
    );
    assert_eq!(
        header(&data, "List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(part(&data, "text/plain").contains(&format!("Unsubscribe: {url}")));
    assert!(part(&data, "text/html").contains(&format!("<a href=\"{url}\">Unsubscribe</a>")));
    assert_eq!(
        status_of(&actions_of(&s, &signup).await, "signup/nudge"),
        Some("queued")
    );

    // Opening the link changes nothing (link scanners open links): it asks.
    let page = client().get(&url).send().await.expect("get");
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap_or_default();
    assert!(
        html.contains("ada@example.com") && html.contains("<form method=\"post\">"),
        "{html}"
    );
    assert_eq!(suppressions(&s).await["total"], 0);

    // One click from the mail program: suppressed, the nudge cancelled.
    let (code, body) = post_one_click(&url).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("You’re unsubscribed"), "{body}");
    let list = suppressions(&s).await;
    assert_eq!(list["total"], 1, "{list}");
    let entry = &list["suppressions"][0];
    assert_eq!(entry["address"], "ada@example.com");
    assert_eq!(entry["reason"], "unsubscribed");
    assert!(
        entry["detail"]
            .as_str()
            .unwrap_or("")
            .contains("mail program in `welcome`"),
        "{entry}"
    );
    let nudge = actions_of(&s, &signup)
        .await
        .into_iter()
        .find(|a| a["action"] == "signup/nudge")
        .expect("the nudge");
    assert_eq!(nudge["status"], "cancelled", "{nudge}");
    assert!(
        nudge["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("suppressed"),
        "{nudge}"
    );

    // The raised event reached the rules: the contact's page says so.
    eventually(
        Duration::from_secs(30),
        "the opt-out to reach Notion",
        || async {
            let pages = admin_get(&s, "/api/notion/contacts").await;
            pages["results"].as_array().and_then(|ps| {
                ps.iter()
                    .find(|p| p["properties"]["Email Opt-Out"]["checkbox"] == true)
                    .cloned()
            })
        },
    )
    .await;
    // A second click changes nothing and raises nothing more.
    assert_eq!(post_one_click(&url).await.0, 200);
    drained(&s, Duration::from_secs(30)).await;
    assert_eq!(actions_of_rule(&s, "notion", "opted_out").await.len(), 1);

    // Later marketing email is not sent; a receipt still is.
    let news = outcome(
        &s,
        &json!({"id": "n1", "type": "news", "email": "Ada@Example.com"}),
        "news/news",
    )
    .await;
    assert_eq!(news["status"], "suppressed", "{news}");
    assert!(
        news["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("suppression list"),
        "{news}"
    );
    let receipt = outcome(
        &s,
        &json!({"id": "b1", "type": "booked", "email": "ada@example.com"}),
        "booked/receipt",
    )
    .await;
    assert_eq!(receipt["status"], "succeeded", "{receipt}");
    let data = delivered(&smtp, "ada@example.com", "Your booking").await;
    assert!(
        header(&data, "List-Unsubscribe").is_none(),
        "transactional mail has no unsubscribe"
    );
    assert!(!smtp.messages().iter().any(|m| m["data"]
        .as_str()
        .unwrap_or("")
        .contains("News from the Core")));

    // The stats count what happened, per template.
    let stats = admin_get(&s, "/api/stats").await;
    let row = |t: &str| {
        stats["emails"]["templates"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["template"] == t).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(row("welcome")["sent"], 1, "{stats}");
    assert_eq!(row("welcome")["unsubscribed"], 1, "{stats}");
    assert_eq!(row("welcome")["unsubscribe_rate"], 1.0, "{stats}");
    assert_eq!(row("news")["suppressed"], 1, "{stats}");
    // The nudge cancelled while it waited counts as not sent too.
    assert_eq!(row("nudge")["suppressed"], 1, "{stats}");

    // Re-subscribing is an admin's act; then marketing email goes again.
    let r = client()
        .delete(s.url("/api/suppressions/ada@example.com"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 200);
    let news = outcome(
        &s,
        &json!({"id": "n2", "type": "news", "email": "ada@example.com"}),
        "news/news",
    )
    .await;
    assert_eq!(news["status"], "succeeded", "{news}");
    s.kill();
}

#[tokio::test]
async fn a_forged_or_altered_link_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(&tmp.path().join("mail"), &[]);
    let s = start(&smtp, &tmp, &[]);
    accepted(
        &s,
        &json!({"id": "f1", "type": "signup", "email": "bo@example.com"}),
    )
    .await;
    let url = unsubscribe_url(&delivered(&smtp, "bo@example.com", "Welcome").await);
    let (prefix, token) = url.rsplit_once('/').expect("a token");
    let (payload, mac) = token.split_once('.').expect("payload.mac");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let fields = String::from_utf8(b64.decode(payload).expect("base64")).expect("utf-8");
    // Someone else's address under bo's signature.
    let other = fields.replace("bo@example.com", "victim@example.com");
    let forged = format!("{prefix}/{}.{mac}", b64.encode(other.as_bytes()));
    // A signature one character off.
    let flipped = {
        let mut t = mac.to_string();
        let last = t.pop().expect("a character");
        t.push(if last == 'A' { 'B' } else { 'A' });
        format!("{prefix}/{payload}.{t}")
    };
    for bad in [forged, flipped, format!("{prefix}/nonsense")] {
        let (code, body) = post_one_click(&bad).await;
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body.contains("changed on the way"), "{body}");
        let page = client().get(&bad).send().await.expect("get");
        assert_eq!(page.status(), 400);
    }
    assert_eq!(suppressions(&s).await["total"], 0);
    s.kill();
}

#[tokio::test]
async fn a_mailbox_the_server_refuses_is_suppressed_as_a_hard_bounce() {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(
        &tmp.path().join("mail"),
        &["--reject-rcpt", "gone@example.com"],
    );
    let s = start(&smtp, &tmp, &[]);
    let e = accepted(
        &s,
        &json!({"id": "h1", "type": "signup", "email": "gone@example.com"}),
    )
    .await;
    let welcome = settled(&s, &e, "signup/welcome").await;
    assert_eq!(welcome["status"], "suppressed", "{welcome}");
    assert_eq!(welcome["attempts"], 1);
    let why = welcome["last_error"].as_str().unwrap_or("");
    assert!(
        why.contains("550") && why.contains("suppression list"),
        "{why}"
    );
    let list = suppressions(&s).await;
    assert_eq!(list["suppressions"][0]["reason"], "bounced", "{list}");
    assert_eq!(
        status_of(&actions_of(&s, &e).await, "signup/nudge"),
        Some("cancelled")
    );
    assert!(smtp.messages().is_empty());
    s.kill();
}

#[tokio::test]
async fn the_api_and_providers_bounce_notifications_suppress_too() {
    let tmp = tempfile::tempdir().expect("tmp");
    let smtp = Smtp::start(&tmp.path().join("mail"), &[]);
    let s = start(
        &smtp,
        &tmp,
        &[("HSFLOW_BOUNCE_TOKEN", "bounce-token".into())],
    );
    // The contact-workflow API's "unsubscribed" event.
    let r = client()
        .post(s.url("/contact-workflows/trigger"))
        .bearer_auth(ADMIN)
        .json(&json!({"email": "Phone@Example.com", "event": "unsubscribed"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["address"], "phone@example.com");
    assert_eq!(body["newly_suppressed"], true);

    // A SendGrid event webhook: the hard bounce and the complaint count,
    // the temporary block does not.
    let events = json!([
        {"email": "gone@example.com", "event": "bounce", "type": "bounce", "reason": "550 5.1.1 unknown"},
        {"email": "later@example.com", "event": "bounce", "type": "blocked"},
        {"email": "angry@example.com", "event": "spamreport"}
    ]);
    let post = |token: Option<&'static str>| {
        let mut req = client().post(s.url("/email/events/sendgrid")).json(&events);
        if let Some(t) = token {
            req = req.basic_auth("sendgrid", Some(t));
        }
        req.send()
    };
    assert_eq!(post(None).await.expect("send").status(), 401);
    assert_eq!(post(Some("wrong")).await.expect("send").status(), 401);
    let r = post(Some("bounce-token")).await.expect("send");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["suppressed"], 2, "{body}");
    assert_eq!(body["ignored"], 1, "{body}");
    let list = suppressions(&s).await;
    let reasons: std::collections::BTreeMap<String, String> = list["suppressions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["address"].as_str().unwrap_or("").to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons.get("angry@example.com").map(String::as_str),
        Some("complained")
    );
    assert_eq!(
        reasons.get("gone@example.com").map(String::as_str),
        Some("bounced")
    );
    assert_eq!(
        reasons.get("phone@example.com").map(String::as_str),
        Some("unsubscribed")
    );
    assert!(!reasons.contains_key("later@example.com"));
    // Each new suppression raised its event: three opt-outs ticked.
    drained(&s, Duration::from_secs(30)).await;
    assert_eq!(actions_of_rule(&s, "notion", "opted_out").await.len(), 3);
    s.kill();
}
