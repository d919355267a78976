//! An email is stored without its text and HTML and rendered when it is
//! sent or shown (engine::deferred), with the rule-set version that planned
//! it: what goes out is exactly what planning rendered, even after its
//! template was edited, and the stored row no longer carries the bodies.

mod support;

use std::path::Path;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hsflow::engine::deferred::{fill, for_storage, StoredEvent};
use hsflow::engine::payload::{Payload, PlannedAction};
use hsflow::engine::plan::{plan, Options};
use hsflow::sources::normalise::{normalise_payload, parse_body, Request};
use serde_json::{json, Value};
use support::shipped::EXAMPLES;
use support::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A request to a source: its name, body and kept headers.
type Req = (&'static str, Vec<u8>, Vec<(String, String)>);

/// Every shipped example, and Typeform leads of every contact type with
/// addresses that land on both A/B variants.
fn requests() -> Vec<Req> {
    let mut out = Vec::new();
    for (source, file, headers) in EXAMPLES {
        let body = std::fs::read(root().join("examples").join(file)).expect("example");
        let headers = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        out.push((*source, body, headers));
    }
    let types = support::shipped::CONTACT_TYPES;
    for i in 0..24 {
        let body = typeform_lead(
            &format!("lead-{i}"),
            &format!("person{i}@example.org"),
            types[i % types.len()],
        );
        out.push(("typeform", body, Vec::new()));
    }
    out
}

#[test]
fn an_email_rendered_from_its_stored_event_is_the_email_planning_rendered() {
    let rs = hsflow::rules::load_to_serve(&root().join("rules"), &root().join("templates"))
        .ruleset
        .expect("the shipped pack loads");
    // An arrival time with nanoseconds: stored to the millisecond, as the store does.
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 14, 5, 9).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);
    let (mut emails, mut variants) = (0, std::collections::BTreeSet::new());
    for (source, body, headers) in requests() {
        let src = &rs.sources[source];
        let Ok(payload) = parse_body(src.format, &body) else {
            continue;
        };
        let Ok(ev) = normalise_payload(
            &rs,
            src,
            payload,
            &Request {
                headers: &headers,
                body: &body,
            },
            at,
        ) else {
            continue; // a source that fetches first (Acuity) is covered by the server test below
        };
        let p = plan(&rs, &ev, Options::default());
        let stored_event = StoredEvent {
            source: ev.source.clone(),
            event_type: ev.event_type.clone(),
            idem_key: ev.id.clone(),
            received_at: hsflow::store::from_millis(hsflow::store::millis(at)),
            fields: serde_json::from_value(serde_json::to_value(&p.event.fields).expect("fields"))
                .expect("an object"),
        };
        for planned in p.actions.iter().filter(|a| a.error.is_none()) {
            let Some(stored) = for_storage(planned) else {
                assert!(
                    !matches!(planned.payload, Payload::Email { .. }),
                    "an email stored whole"
                );
                continue;
            };
            let text = serde_json::to_string(&stored).expect("serialise");
            assert!(text.contains("\"bodies_later\":true"), "{text}");
            let Payload::Email { html, variant, .. } = &planned.payload else {
                unreachable!("only emails are stored without bodies")
            };
            assert!(!text.contains(html.as_str()), "the HTML is not stored");
            let mut back: PlannedAction = serde_json::from_str(&text).expect("read back");
            fill(&rs, &mut back, &stored_event).expect("renders");
            assert_eq!(&back, planned, "{source}: {}", planned.id);
            emails += 1;
            variants.extend(variant.clone());
        }
    }
    assert!(emails >= 60, "only {emails} emails were compared");
    assert_eq!(
        variants.len(),
        2,
        "both A/B variants compared: {variants:?}"
    );
}

#[tokio::test]
async fn an_email_goes_out_with_the_text_of_the_version_that_planned_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture(), &dir.path().join("project"));
    let rules = dir.path().join("project/rules");
    let data = dir.path().join("data");
    let s = Server::start(&data, &rules, &[]);
    let (status, body) = post_signed(
        &s,
        &json!({"id": "b1", "type": "signup", "email": "kim@b.example", "first_name": "Kim"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");

    // Stored without its bodies.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}?mode=ro",
        data.join("hsflow.db").display()
    ))
    .await
    .expect("open the store");
    // The row keeps no payload: it is in its event's packed parts.
    let (own, plan): (String, Vec<u8>) = sqlx::query_as(
        "SELECT a.payload, e.packed FROM actions_named a JOIN events e ON e.id = a.event_id \
         WHERE a.action_key = 'welcome/welcome_email'",
    )
    .fetch_one(&db)
    .await
    .expect("the email's row");
    assert_eq!(own, "");
    let plan = hsflow::store::packed::unpack_plan(&plan).expect("the event's plan");
    let stored: Value = serde_json::from_str(&plan["welcome/welcome_email"]).expect("json");
    assert_eq!(
        (stored["bodies_later"].clone(), stored["text"].clone()),
        (json!(true), json!("")),
        "{stored}"
    );

    // Its template changes before the 3-second email is due.
    let before = health(&s).await["rules"]["version"].clone();
    let templates = dir.path().join("project/templates/emails");
    save(
        &templates.join("welcome.txt.hbs"),
        "Changed text for {{email}}\n",
    );
    save(&templates.join("welcome.html.hbs"), "<p>Changed HTML</p>\n");
    new_rules_live(&s, &before, "the new templates to be live").await;

    let outbox = data.join("outbox");
    let eml = eventually(Duration::from_secs(15), "the planned email", || {
        let outbox = outbox.clone();
        async move { first_eml(&outbox) }
    })
    .await;
    let text = support::smtp::part(&eml, "text/plain");
    let html = support::smtp::part(&eml, "text/html");
    assert!(
        text.starts_with("Hello Kim, welcome."),
        "the planned text, rendered at send: {text}"
    );
    assert!(
        html.starts_with("<p>Hello Kim, welcome.</p>"),
        "and its HTML: {html}"
    );
    assert!(
        !text.contains("Changed") && !html.contains("Changed"),
        "not the edited template: {eml}"
    );
}
