//! A stored event keeps which rules fired, its entities and notes; each
//! rule's conditions with their values and the routing step are rebuilt
//! from the stored request with the version that planned it when the event
//! is read (server::trace_later). What is read is what planning saw.

mod support;

use std::path::Path;

use chrono::{TimeZone, Utc};
use hsflow::server::rules::SharedRules;
use serde_json::{json, Value};
use support::shipped::{planned_event, EXAMPLES};
use support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn every_shipped_example_reads_back_with_the_trace_it_was_planned_with() {
    let rs = hsflow::rules::load_to_serve(&root().join("rules"), &root().join("templates"))
        .ruleset
        .expect("the shipped pack loads");
    let shared = SharedRules::new(rs);
    let rs = shared.current();
    let (_tmp, store) = support::events::sqlite_store().await;
    // An arrival time with nanoseconds, as a server's clock gives.
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 14, 5, 9).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);
    let mut requests: Vec<(&str, Vec<u8>, &[support::shipped::Header])> = EXAMPLES
        .iter()
        .map(|(s, f, h)| {
            (
                *s,
                std::fs::read(root().join("examples").join(f)).expect("example"),
                *h,
            )
        })
        .collect();
    for (i, t) in [
        "Artist",
        "Business Contact",
        "General Contact",
        "Media Contact",
    ]
    .iter()
    .enumerate()
    {
        requests.push((
            "typeform",
            typeform_lead(&format!("t{i}"), &format!("p{i}@example.org"), t),
            &[],
        ));
    }
    for (i, (source, body, headers)) in requests.iter().enumerate() {
        let (ne, planned) = planned_event(&rs, source, body, headers, at, Some(format!("k{i}")));
        let accepted = store.accept(ne).await.expect("accepted");
        let id = accepted.event_id.clone();
        let mut ev = store.event(&id).await.expect("read");
        assert_eq!(ev["trace"]["rules_later"], true, "{source}: stored compact");
        assert!(
            ev["trace"].get("routing").is_none(),
            "{source}: no routing stored"
        );
        let fired: Vec<&str> = planned
            .rules
            .iter()
            .filter(|r| r.matched)
            .map(|r| &*r.id)
            .collect();
        let stored: Vec<&str> = ev["trace"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(stored, fired, "{source}: the fired rules are stored");
        shared.explained(&store, &mut ev).await;
        assert_eq!(
            ev["trace"]["rules"],
            serde_json::to_value(&planned.rules).expect("json"),
            "{source}"
        );
        assert_eq!(
            ev["trace"]["routing"],
            serde_json::to_value(&planned.routing).expect("json"),
            "{source}"
        );
        assert!(ev["trace"].get("rules_later").is_none(), "{source}");
    }
}

#[tokio::test]
async fn an_events_trace_reads_as_planned_after_its_rule_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture(), &dir.path().join("project"));
    let rules = dir.path().join("project/rules");
    let s = Server::start(&dir.path().join("data"), &rules, &[]);
    let (status, body) = post_signed(
        &s,
        &json!({"id": "t1", "type": "signup", "email": "kim@b.example", "first_name": "Kim"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["event_id"].as_str().expect("event id").to_string();

    // The welcome rule now wants an email ending in .org: a replay with the
    // new rules would say it doesn't fire.
    let before = health(&s).await["rules"]["version"].clone();
    let flow = rules.join("flows/runtime.toml");
    let text = std::fs::read_to_string(&flow).expect("read");
    save(
        &flow,
        &text.replacen(
            "cancel_on = [\"form:reply\"]",
            "cancel_on = [\"form:reply\"]\nwhen = [{ field = \"email\", ends_with = \".org\" }]",
            1,
        ),
    );
    new_rules_live(&s, &before, "the edited rules to be live").await;

    let ev: Value = admin_get(&s, &format!("/api/events/{id}")).await;
    let welcome = ev["trace"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == "welcome")
        .unwrap_or_else(|| panic!("the welcome rule in {ev}"));
    assert_eq!(welcome["matched"], true, "as planned: {welcome}");
    assert_eq!(
        welcome["conditions"],
        json!([]),
        "the conditions it had then (none): {welcome}"
    );
    assert_eq!(ev["ruleset_version"], before, "{ev}");
    assert!(ev["trace"].get("rules_later").is_none(), "{ev}");
}
