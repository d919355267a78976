//! Engagement and A/B variants, over real HTTP: for an entity that tracks
//! engagement, an email's links pass through signed click-throughs and an
//! open pixel; opening and clicking are recorded, raise `email.opened` and
//! `email.clicked` for rules, and count in the stats; the click-through goes
//! only to a URL that was in that email. Variants split contacts stably.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

const LINK_KEY: &str = "a link key for the engagement test";

fn rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email/rules")
}

fn start(dir: &tempfile::TempDir) -> Server {
    Server::start_with_env(
        &dir.path().join("data"),
        &rules(),
        &[],
        &[("HSFLOW_LINK_SECRET", LINK_KEY.to_string())],
    )
}

/// The HTML part of the outbox message written for job `id`.
fn outbox_html(dir: &tempfile::TempDir, id: &str) -> String {
    let path = dir.path().join(format!("data/outbox/{id}.eml"));
    let text = std::fs::read_to_string(&path).expect("the message in the outbox");
    support::smtp::part(&text, "text/html")
}

/// Every href of an HTML text.
fn hrefs(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn notifications(s: &Server, rule: &str) -> Vec<Value> {
    actions_of_rule(s, "notify", rule).await
}

#[tokio::test]
async fn opens_and_clicks_are_recorded_raise_events_and_redirect_only_to_the_emails_links() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start(&tmp);
    let e = accepted(
        &s,
        &json!({"id": "c1", "type": "signup", "email": "cara@example.com"}),
    )
    .await;
    let welcome = settled(&s, &e, "signup/welcome").await;
    assert_eq!(welcome["status"], "succeeded", "{welcome}");
    let job = welcome["id"].as_str().expect("job id");
    let html = outbox_html(&tmp, job);
    let links = hrefs(&html);
    // The web link passes through hsflow; mailto and unsubscribe are left as they are.
    let click = links
        .iter()
        .find(|l| l.contains("/email/click/"))
        .expect("a click-through")
        .clone();
    assert!(
        links.iter().any(|l| l == "mailto:team@gallery.example"),
        "{links:?}"
    );
    assert!(
        links.iter().any(|l| l.contains("/email/unsubscribe/")),
        "{links:?}"
    );
    assert!(!html.contains("https://gallery.example/artists"), "{html}");
    let pixel = html
        .split("<img src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the open pixel")
        .to_string();

    // The pixel is an image, and the open is recorded and raised.
    let r = client().get(&pixel).send().await.expect("pixel");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/gif");
    let r = no_redirects().get(&click).send().await.expect("click");
    assert_eq!(r.status(), 303, "a click redirects");
    assert_eq!(
        r.headers()["location"],
        "https://gallery.example/artists?show=new&page=1"
    );
    // Opened twice: one event.
    client().get(&pixel).send().await.expect("pixel again");
    let opened = eventually(
        Duration::from_secs(30),
        "email.opened to reach its rule",
        || async {
            let n = notifications(&s, "opened").await;
            (!n.is_empty()).then_some(n)
        },
    )
    .await;
    drained(&s, Duration::from_secs(30)).await;
    assert_eq!(notifications(&s, "opened").await.len(), 1, "{opened:?}");
    assert_eq!(notifications(&s, "clicked").await.len(), 1);
    let notes =
        std::fs::read_to_string(tmp.path().join("data/notifications.jsonl")).unwrap_or_default();
    assert!(notes.contains("cara@example.com opened welcome"), "{notes}");
    assert!(
        notes.contains("cara@example.com clicked https://gallery.example/artists?show=new&page=1"),
        "{notes}"
    );

    // The event's own list says what became of the email.
    let event = admin_get(&s, &format!("/api/events/{e}")).await;
    let whats: Vec<String> = event["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["action"] == "signup/welcome"))
        .and_then(|a| a["email_activity"].as_array())
        .into_iter()
        .flatten()
        .map(|x| x["what"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        whats.starts_with(&["sent".to_string()])
            && whats.contains(&"opened".to_string())
            && whats.contains(&"clicked".to_string()),
        "{event}"
    );

    // A click-through to a URL that was not in the email is refused, even
    // with a valid signature (made here with the server's key).
    let signer = hsflow::email::token::Signer::new(LINK_KEY.as_bytes(), &s.url(""));
    let evil = signer.url(&hsflow::email::token::Link::Click {
        job: job.to_string(),
        url: "https://evil.example/login".into(),
    });
    let r = no_redirects().get(&evil).send().await.expect("click");
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("not in the email"));
    // And an altered one is refused for its signature.
    let altered = click.replacen("/email/click/", "/email/click/x", 1);
    assert_eq!(
        no_redirects()
            .get(&altered)
            .send()
            .await
            .expect("click")
            .status(),
        400
    );

    // The stats compare: one sent, opened and clicked for this variant.
    let stats = admin_get(&s, "/api/stats").await;
    let row = stats["emails"]["templates"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["template"] == "welcome").cloned())
        .expect("a welcome row");
    assert_eq!(
        (
            row["sent"].as_i64(),
            row["opened"].as_i64(),
            row["clicked"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{row}"
    );
    assert_eq!(row["open_rate"], 1.0);

    // An entity that doesn't track engagement: no pixel, links as written.
    let n = outcome(
        &s,
        &json!({"id": "c2", "type": "news", "email": "cara@example.com"}),
        "news/news",
    )
    .await;
    let html = outbox_html(&tmp, n["id"].as_str().expect("job id"));
    assert!(
        !html.contains("/email/open/") && !html.contains("/email/click/"),
        "{html}"
    );
    s.kill();
}

#[tokio::test]
async fn variants_split_contacts_stably_and_are_recorded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start(&tmp);
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..24 {
        let email = format!("person{i}@example.com");
        let e = accepted(
            &s,
            &json!({"id": format!("v{i}"), "type": "signup", "email": email}),
        )
        .await;
        let event = admin_get(&s, &format!("/api/events/{e}")).await;
        let note = event["actions"]
            .as_array()
            .and_then(|a| a.iter().find(|a| a["action"] == "signup/welcome"))
            .and_then(|a| a["notes"][0].as_str())
            .unwrap_or_default()
            .to_string();
        let variant = if note.starts_with("variant a of welcome") {
            "a"
        } else if note.starts_with("variant b of welcome") {
            "b"
        } else {
            panic!("no variant note: {event}")
        };
        seen.insert(email, variant);
    }
    let a = seen.values().filter(|v| **v == "a").count();
    assert!(a > 0 && a < 24, "both variants are used: {seen:?}");
    // The same contact again, in another event: the same variant, and the
    // message says which it is.
    let (email, variant) = seen
        .iter()
        .next()
        .map(|(e, v)| (e.clone(), *v))
        .expect("one");
    let again = outcome(
        &s,
        &json!({"id": "again", "type": "signup", "email": email}),
        "signup/welcome",
    )
    .await;
    let html = outbox_html(&tmp, again["id"].as_str().expect("job id"));
    assert!(html.contains(&format!("version {variant}.")), "{html}");
    drained(&s, Duration::from_secs(60)).await;
    let stats = admin_get(&s, "/api/stats").await;
    let sent: i64 = stats["emails"]["templates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["template"] == "welcome")
        .map(|r| {
            assert!(r["variant"] == "a" || r["variant"] == "b", "{r}");
            r["sent"].as_i64().unwrap_or(0)
        })
        .sum();
    assert_eq!(sent, 25, "{stats}");
    s.kill();
}
