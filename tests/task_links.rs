//! A task links to the contact its own event upserts, however the two jobs
//! race: the task waits for the contact page instead of dropping the link,
//! and while the contact is being written it waits in place, not as a job
//! given back to the queue and claimed again.
//! Run on the shipped rule pack, where every Typeform lead upserts its
//! contact and makes tasks beside it, with many leads at once.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::{
    admin_get, client, drained, metrics_text, sample, typeform_lead, typeform_signature, Server,
};

const TYPEFORM_SECRET: &str = "typeform-test-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_links_to_the_contact_its_event_upserts_under_concurrency() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(
        tmp.path(),
        &root.join("rules"),
        &["--workers", "16"],
        &[("TYPEFORM_SECRET", TYPEFORM_SECRET.to_string())],
    );
    let types = [
        "Artist",
        "Business Contact",
        "Potential Client",
        "Gallery Contact",
    ];
    let mut sent = Vec::new();
    for i in 0..120 {
        let body = typeform_lead(
            &format!("links-{i}"),
            &format!("lead{i}@example.org"),
            types[i % types.len()],
        );
        let sig = typeform_signature(TYPEFORM_SECRET, &body);
        let url = s.url("/webhooks/typeform");
        sent.push(tokio::spawn(async move {
            client()
                .post(url)
                .header("content-type", "application/json")
                .header("typeform-signature", sig)
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    for r in sent {
        assert_eq!(r.await.expect("task").expect("sent"), 202);
    }
    // Every task due now has run (none waiting, none parked).
    drained(&s, Duration::from_secs(120)).await;
    let dead = admin_get(&s, "/api/actions?kind=task&status=dead&limit=1000").await;
    assert_eq!(
        dead["actions"].as_array().map(Vec::len),
        Some(0),
        "parked tasks: {dead}"
    );
    let pages = admin_get(&s, "/api/notion/tasks").await;
    let pages = pages["results"].as_array().cloned().unwrap_or_default();
    assert!(pages.len() >= 120, "{} task pages", pages.len());
    let unlinked: Vec<&Value> = pages
        .iter()
        .filter(|p| {
            p["properties"]["Contact"]["relation"]
                .as_array()
                .is_none_or(|r| r.is_empty())
        })
        .collect();
    assert!(
        unlinked.is_empty(),
        "{} of {} tasks lost their contact link, e.g. {}",
        unlinked.len(),
        pages.len(),
        unlinked[0]
    );
    // Claimed side by side, the task finds its contact being written and
    // waits for it in place: hardly any task is given back to wait its turn
    // again (each one that is counts as a `waiting` result).
    let metrics = metrics_text(&s).await;
    let count = |result: &str| {
        let name = format!("hsflow_sink_results_total{{kind=\"task\",result=\"{result}\"}}");
        sample(&metrics, &name).unwrap_or_else(|| panic!("no {name} in /metrics"))
    };
    let (ok, waiting) = (count("ok"), count("waiting"));
    eprintln!("task attempts: {ok} ok, {waiting} given back to wait");
    assert!(ok >= 120.0, "{ok} tasks done");
    assert!(
        waiting * 20.0 <= ok,
        "{waiting} task attempts were given back to wait for their contact, for {ok} tasks done"
    );
    s.kill();
}
