//! The PostgreSQL store: the same behaviour as SQLite (duplicates, windows,
//! claims), and what only it offers: several servers sharing one database,
//! each job carried out by exactly one of them.

mod support;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{Duration as Span, Utc};
use hsflow::store::{Backend, Store};
use serde_json::{json, Value};
use support::events::{new_event, same_key_twice_in_one_batch, windows, work, work_until_idle};
use support::postgres::TestDb;
use support::*;

#[tokio::test]
async fn duplicates_and_windows_behave_as_on_sqlite() {
    let db = TestDb::create().await;
    let store = Store::connect(&db.url).await.expect("connect");
    assert_eq!(store.backend(), Backend::Postgres);
    same_key_twice_in_one_batch(&store).await;
    windows(&store).await;
    // Keys past their window are pruned (only `k`'s: the 60-second window).
    let pruned = store
        .prune_all_expired_keys(Utc::now() + Span::seconds(200))
        .await
        .expect("prune");
    assert_eq!(pruned, 1);
    drop(store);
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_database_never_claim_the_same_job() {
    let db = TestDb::create().await;
    let a = Store::connect(&db.url).await.expect("a");
    let b = Store::connect(&db.url).await.expect("b");
    let now = Utc::now();
    let mut intake = Vec::new();
    for i in 0..200 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        intake.push(tokio::spawn(async move {
            store.accept(new_event(&format!("k{i}"), now, 3600)).await
        }));
    }
    // Three claimers per "server", racing each other and the intake.
    let mut claimers = Vec::new();
    for n in 0..6 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        claimers.push(tokio::spawn(async move {
            work(&store, 60, 8, Duration::from_millis(2)).await
        }));
    }
    for t in intake {
        assert!(!t.await.expect("task").expect("accepted").duplicate);
    }
    let mut claimed = Vec::new();
    for t in claimers {
        claimed.extend(t.await.expect("claimer"));
    }
    let idle_at = Utc::now();
    claimed.extend(work_until_idle(&a).await);
    let distinct: HashSet<&String> = claimed.iter().collect();
    assert_eq!(distinct.len(), claimed.len(), "a job was claimed twice");
    // Each signup plans a notify and a workflow move now, an email in 3 s
    // (on a slow machine some fall due before the end, and run too).
    assert!(
        claimed.len() >= 400,
        "every job due now ran: {}",
        claimed.len()
    );
    let counts = a.counts().await.expect("counts");
    assert_eq!(
        (counts.succeeded, counts.queued, counts.running),
        (claimed.len() as i64, 600 - claimed.len() as i64, 0)
    );
    let left = a.backlog(idle_at).await.expect("backlog");
    assert_eq!(left.due, 0, "nothing due was left behind: {left:?}");
    drop((a, b));
    db.drop_now().await;
}

fn notifications(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("notifications.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect()
}

fn emails(data: &Path) -> usize {
    std::fs::read_dir(data.join("outbox"))
        .map(|d| d.flatten().count())
        .unwrap_or(0)
}

#[tokio::test]
async fn two_servers_share_one_database_and_each_action_runs_once() {
    let db = TestDb::create().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = fixture().join("rules");
    let (data_a, data_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let flags = ["--database-url", db.url.as_str()];
    let a = Server::start(&data_a, &rules, &flags);
    let b = Server::start(&data_b, &rules, &flags);

    // 30 signups, alternately to each server; each then delivered again to
    // the other one, which must know it already.
    for i in 0..30 {
        let body = json!({"id": format!("pg-{i}"), "type": "signup", "email": format!("u{i}@example.org")});
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let (status, answer) = post_signed(first, &body).await;
        assert_eq!(status, 202, "{answer}");
        let (status, again) = post_signed(second, &body).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["event_id"], answer["event_id"]);
    }

    // The notify actions run at once and the emails 3 s later: wherever they
    // ran, each ran once.
    eventually(Duration::from_secs(30), "every action done", || async {
        let done = notifications(&data_a).len() + notifications(&data_b).len() == 30
            && emails(&data_a) + emails(&data_b) == 30;
        done.then_some(())
    })
    .await;
    let mut all: Vec<String> = notifications(&data_a);
    all.extend(notifications(&data_b));
    let distinct: HashSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), 30, "a notification was sent twice");
    let status = admin_get(&a, "/contact-workflows/status").await;
    assert_eq!(status["events"]["form"], 30, "{status}");
    assert_eq!(status["actions"]["workflow"]["succeeded"], 30, "{status}");
    assert_eq!(
        status["workflow_instances"]["onboarding"]["new"], 30,
        "{status}"
    );

    // One server gone: the other keeps serving the shared queue.
    a.kill();
    let body = json!({"id": "pg-late", "type": "signup", "email": "late@example.org"});
    let event = accepted(&b, &body).await;
    settled(&b, &event, "welcome/welcome_email").await;
    b.kill();
    db.drop_now().await;
}

#[tokio::test]
async fn a_server_starting_on_a_shared_database_leaves_the_others_running_actions_alone() {
    let db = TestDb::create().await;
    // "Server A": holds two actions under a 5-minute lease, mid-run.
    let a = Store::connect(&db.url).await.expect("a");
    a.accept(new_event("busy", Utc::now(), 3600))
        .await
        .expect("accept");
    let held: HashSet<String> = a
        .claim(10, 300_000)
        .await
        .expect("claim")
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(
        held.len(),
        2,
        "the notify and the workflow move are due now"
    );

    // Server B starts on the same database: A's actions stay A's.
    let tmp = tempfile::tempdir().expect("tmp");
    let b = Server::start(
        &tmp.path().join("data"),
        &fixture().join("rules"),
        &["--database-url", db.url.as_str()],
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let running = admin_get(&b, "/api/actions?status=running").await;
    let still: HashSet<String> = running["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(still, held, "{running}");
    b.kill();
    drop(a);
    db.drop_now().await;
}

#[tokio::test]
async fn servers_on_one_database_share_the_link_key_and_the_suppression_list() {
    let db = TestDb::create().await;
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email/rules");
    let (data_a, data_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let flags = ["--database-url", db.url.as_str()];
    let a = Server::start(&data_a, &rules, &flags);
    let b = Server::start(&data_b, &rules, &flags);
    let signup = accepted(
        &a,
        &json!({"id": "s1", "type": "signup", "email": "ada@example.com"}),
    )
    .await;
    let welcome = settled(&a, &signup, "signup/welcome").await;
    assert_eq!(welcome["status"], "succeeded", "{welcome}");
    // Whichever server sent it, the link's key is the one both share.
    let job = welcome["id"].as_str().expect("job id");
    let eml = [&data_a, &data_b]
        .iter()
        .find_map(|d| std::fs::read_to_string(d.join(format!("outbox/{job}.eml"))).ok())
        .expect("the welcome in an outbox");
    let text = support::smtp::part(&eml, "text/plain");
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/email/unsubscribe/"))
        .expect("the unsubscribe link");
    let token = link.rsplit('/').next().expect("a token");
    // Followed on the other server: it knows the key and records it for both.
    let r = client()
        .post(b.url(&format!("/email/unsubscribe/{token}")))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let list = admin_get(&a, "/api/suppressions").await;
    assert_eq!(
        list["suppressions"][0]["address"], "ada@example.com",
        "{list}"
    );
    assert_eq!(
        status_of(&actions_of(&a, &signup).await, "signup/nudge"),
        Some("cancelled")
    );
    let news = outcome(
        &a,
        &json!({"id": "n1", "type": "news", "email": "ada@example.com"}),
        "news/news",
    )
    .await;
    assert_eq!(news["status"], "suppressed", "{news}");
    let stats = admin_get(&b, "/api/stats").await;
    let rows = stats["emails"]["templates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        rows.iter()
            .any(|r| r["template"] == "welcome" && r["unsubscribed"] == 1),
        "{stats}"
    );
    assert!(
        rows.iter()
            .any(|r| r["template"] == "news" && r["suppressed"] == 1),
        "{stats}"
    );
    a.kill();
    b.kill();
    db.drop_now().await;
}
