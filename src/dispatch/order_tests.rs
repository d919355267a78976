//! A claim's linking jobs start after the jobs of their own event that
//! write the pages they link to, and after nothing else.

use std::path::Path;
use std::time::Duration;

use super::*;

fn rules() -> RuleSet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate::rules::load(&root.join("rules"), &root.join("templates"))
        .ruleset
        .expect("the shipped rules load")
}

fn job(event: &str, n: u32, kind: &str, contact: Option<&str>, payload: serde_json::Value) -> Job {
    Job {
        id: format!("{event}{n:02}"),
        event_id: event.into(),
        action_key: format!("r/a{n}"),
        kind: kind.into(),
        contact: contact.map(str::to_string),
        payload: payload.to_string(),
        attempts: 1,
        claim: 1,
        created_at: 0,
        ruleset_version: "v".into(),
        unreadable: None,
    }
}

fn base(kind: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "r/a", "rule": "r", "flow": "f", "entity": null, "delay_s": 0,
        "run_at": "2026-11-30T00:00:00Z", "kind": kind,
    })
}

fn with(mut v: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    for (k, x) in extra.as_object().expect("an object") {
        v[k] = x.clone();
    }
    v
}

fn contact_upsert(email: &str) -> serde_json::Value {
    with(
        base("notion"),
        serde_json::json!({"database": "contacts", "operation": "upsert",
            "match": {"property": "Email", "value": email}, "properties": {}}),
    )
}

fn member_linking(email: &str) -> serde_json::Value {
    with(
        base("notion"),
        serde_json::json!({"database": "community_hub", "operation": "upsert",
            "match": {"property": "Email", "value": email}, "properties": {},
            "links": [{"property": "Contact", "database": "contacts", "by": "Email", "values": [email]}]}),
    )
}

fn task() -> serde_json::Value {
    with(
        base("task"),
        serde_json::json!({"title": "Call back", "assignee": "Ops", "priority": "high",
            "due_at": "2026-12-01T00:00:00Z"}),
    )
}

fn position(out: &[Ordered], id: &str) -> usize {
    out.iter()
        .position(|o| o.job.id == id)
        .expect("every job is kept")
}

#[tokio::test]
async fn a_task_and_a_linking_page_wait_for_the_contact_their_event_writes() {
    let rs = rules();
    let ada = "ada@example.org";
    // Claimed in plan order, the linking jobs first.
    let jobs = vec![
        job("e1", 0, "task", Some(ada), task()),
        job("e1", 1, "notion", Some(ada), member_linking(ada)),
        job("e1", 2, "notion", Some(ada), contact_upsert(ada)),
        job("e1", 3, "notify", Some(ada), base("notify")),
        // Another event's contact: nobody here waits for it.
        job(
            "e2",
            0,
            "notion",
            Some("bo@example.org"),
            contact_upsert("bo@example.org"),
        ),
    ];
    let mut out = arrange(jobs, &rs);
    assert_eq!(out.len(), 5);
    let (t, m, c) = (
        position(&out, "e100"),
        position(&out, "e101"),
        position(&out, "e102"),
    );
    assert_eq!(out[t].after.len(), 1, "the task waits for the contact");
    assert_eq!(
        out[m].after.len(),
        1,
        "the member page waits for the contact"
    );
    assert!(out[c].after.is_empty() && out[c].done.is_some());
    assert!(c < t && c < m, "the writer starts first");
    let other = position(&out, "e200");
    assert!(out[other].after.is_empty() && out[other].done.is_none());
    assert!(
        out[position(&out, "e103")].action.is_none(),
        "a notify is read by its worker"
    );

    // The task can't start while the contact's job runs, and starts once it ends.
    let mut waiting = out.remove(t);
    let writer_at = position(&out, "e102");
    let writer = out.remove(writer_at);
    let mut started = Box::pin(waiting.wait_for_writers());
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut started)
            .await
            .is_err(),
        "started before the contact was written"
    );
    drop(writer.done);
    tokio::time::timeout(Duration::from_secs(5), started)
        .await
        .expect("starts once the writer is done");
}

#[test]
fn jobs_that_link_only_wait_for_writers_that_link_to_nothing() {
    let rs = rules();
    let ada = "ada@example.org";
    // Two pages that each write what the other links to, both linking:
    // neither waits (no two jobs may wait for each other).
    let mut a = member_linking(ada);
    a["database"] = "contacts".into();
    let jobs = vec![
        job("e1", 0, "notion", Some(ada), a),
        job("e1", 1, "notion", Some(ada), member_linking(ada)),
    ];
    let out = arrange(jobs, &rs);
    assert!(out.iter().all(|o| o.after.is_empty() && o.done.is_none()));
    // An update doesn't make the page, so nothing waits for it either.
    let mut update = contact_upsert(ada);
    update["operation"] = "update".into();
    let jobs = vec![
        job("e1", 0, "task", Some(ada), task()),
        job("e1", 1, "notion", Some(ada), update),
    ];
    let out = arrange(jobs, &rs);
    assert!(out.iter().all(|o| o.after.is_empty()));
}
