//! Flow 6 end to end on the shipped rules and the local sinks: a member joins
//! at 10 points, four posts take them to 50, the crossing raises an event and
//! the reward rule writes Rewards & Bounties. And an addition runs once per
//! job, however often the job is retried.

mod support;

use std::path::Path;
use std::time::Duration;

use hsflow::engine::action::Increment;
use hsflow::rules::model::IncrementSpec;
use serde_json::{json, Map, Value};
use support::events::sqlite_store;
use support::*;

const TOKEN: &str = "circle-test-token";

async fn circle(s: &Server, id: &str, event: &str) -> u16 {
    client()
        .post(s.url("/webhooks/circle"))
        .header("content-type", "application/json")
        .header("X-Circle-Token", TOKEN)
        .body(json!({"id": id, "event": event, "member": {"id": "m_1", "email": "sam@example.org", "name": "Sam Rivera"}}).to_string())
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

fn score(pages: &Value) -> Option<f64> {
    pages["results"][0]["properties"]["Engagement Score"]["number"].as_f64()
}

#[tokio::test]
async fn four_posts_take_a_new_member_to_50_and_earn_a_reward() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let s = Server::start_with_env(
        &tmp.path().join("data"),
        &root.join("rules"),
        &[],
        &[("CIRCLE_WEBHOOK_TOKEN", TOKEN.into())],
    );
    assert_eq!(circle(&s, "j1", "member.joined").await, 202);
    eventually(Duration::from_secs(20), "the member at 10", || async {
        (score(&admin_get(&s, "/api/notion/community_hub").await) == Some(10.0)).then_some(())
    })
    .await;
    for i in 0..4 {
        assert_eq!(circle(&s, &format!("p{i}"), "post.created").await, 202);
    }
    eventually(Duration::from_secs(20), "the score at 50", || async {
        (score(&admin_get(&s, "/api/notion/community_hub").await) == Some(50.0)).then_some(())
    })
    .await;
    let rewards = eventually(Duration::from_secs(20), "the reward", || async {
        let r = admin_get(&s, "/api/notion/rewards_bounties").await;
        r["results"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            .then_some(r)
    })
    .await;
    assert_eq!(rewards["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        rewards["results"][0]["properties"]["Title"]["title"][0]["text"]["content"],
        "Engaged member: sam@example.org"
    );
    // One more post: 60, no second reward.
    assert_eq!(circle(&s, "p9", "post.created").await, 202);
    eventually(Duration::from_secs(20), "the score at 60", || async {
        (score(&admin_get(&s, "/api/notion/community_hub").await) == Some(60.0)).then_some(())
    })
    .await;
    assert_eq!(
        admin_get(&s, "/api/notion/rewards_bounties").await["results"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    s.kill();
}

#[tokio::test]
async fn an_addition_runs_once_per_job_however_often_it_is_retried() {
    let (_tmp, store) = sqlite_store().await;
    let inc = [Increment {
        property: "Score".into(),
        how: IncrementSpec {
            by: 30.0,
            start: 10.0,
            min: None,
            max: Some(100.0),
            events_at: vec![25.0, 50.0],
        },
    }];
    let props = Map::new();
    let key = Some(("Email", "sam@example.org"));
    let (_, first) = store
        .write_page_adding("hub", key, &props, false, &inc, "job-1")
        .await
        .expect("write");
    let (_, again) = store
        .write_page_adding("hub", key, &props, false, &inc, "job-1")
        .await
        .expect("retry");
    let (_, next) = store
        .write_page_adding("hub", key, &props, false, &inc, "job-2")
        .await
        .expect("next job");
    let pages = store.pages("hub").await.expect("pages");
    assert_eq!(
        pages[0]["properties"]["Score"]["number"].as_f64(),
        Some(70.0),
        "10 + 30 + 30: the retry added nothing"
    );
    assert_eq!(
        first.iter().map(|c| c.threshold).collect::<Vec<_>>(),
        [25.0]
    );
    assert_eq!(again, first, "a retry reports the same crossings");
    assert_eq!(next.iter().map(|c| c.threshold).collect::<Vec<_>>(), [50.0]);

    // A job that succeeded never runs again: its record goes with its success.
    // (job-1 as a running Notion action, on its first claim.)
    sqlx::raw_sql("INSERT INTO action_names (name_id, rule, flow, entity, action_key, kind) VALUES (1000, 'r', 'f', '', 'a', 'notion'); \
                   INSERT INTO actions (id, old_event_id, name_id, payload, due_at, status, attempts, ruleset_version, created_at, updated_at, claims) VALUES ('job-1', 'e', 1000, '{}', 0, 'running', 1, 'v', 0, 0, 1)")
        .execute(&store.pool)
        .await
        .expect("a running job");
    let job = |id: &str, kind: &str| hsflow::store::jobs::Job {
        id: id.into(),
        event_id: "e".into(),
        action_key: "a".into(),
        kind: kind.into(),
        contact: None,
        payload: "{}".into(),
        attempts: 1,
        claim: 1,
        created_at: 0,
        ruleset_version: "v".into(),
        unreadable: None,
    };
    store
        .succeed(&job("job-1", "notion"))
        .await
        .expect("succeed");
    let left: Vec<String> = sqlx::query_scalar("SELECT job_id FROM applied_increments")
        .fetch_all(&store.pool)
        .await
        .expect("records");
    assert_eq!(left, ["job-2"], "job-2 has not succeeded yet");
}
