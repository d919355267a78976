//! Real-shaped requests of every source of the shipped pack (examples/),
//! stored the way the server stores them. Shared by the what-if tests and
//! its bench (benches/whatif.rs includes this file).

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use hsflow::engine::plan::{plan, Options};
use hsflow::sources::enrich::from_fixture;
use hsflow::sources::normalise::{normalise_payload, parse_body, Request};
use hsflow::store::accept::{Envelope, NewEvent};

/// The contact types a shipped-pack Typeform lead can give (each routes
/// differently) and its lead sources (each times its follow-ups differently).
pub const CONTACT_TYPES: [&str; 6] = [
    "Artist",
    "Business Contact",
    "General Contact",
    "Academic Contact",
    "Gallery Contact",
    "Potential Client",
];
pub const LEAD_SOURCES: [&str; 3] = ["Website", "Event", "Referral"];

/// Header name and value.
pub type Header = (&'static str, &'static str);

/// (source, example file, headers): every source of the shipped pack.
pub const EXAMPLES: &[(&str, &str, &[Header])] = &[
    (
        "acuity",
        "acuity_scheduled.form",
        &[("content-type", "application/x-www-form-urlencoded")],
    ),
    ("amelia", "amelia_booking_pending.json", &[]),
    ("beehiiv", "beehiiv_subscription_created.json", &[]),
    ("circle", "circle_post_created.json", &[]),
    ("content", "content_stage_review.json", &[]),
    ("manual", "manual_new_contact.json", &[]),
    ("notion", "notion_campaign_active.json", &[]),
    ("schedule", "schedule_overdue_task.json", &[]),
    ("schedule", "schedule_segment_contact.json", &[]),
    ("snovio", "snovio_prospect.json", &[]),
    ("typeform", "typeform_artist.json", &[]),
    ("userfeedback", "userfeedback_feedback.json", &[]),
    (
        "woocommerce",
        "woocommerce_art_order.json",
        &[
            ("X-WC-Webhook-Topic", "order.created"),
            ("X-WC-Webhook-Delivery-ID", "d-1"),
        ],
    ),
    (
        "woocommerce",
        "woocommerce_mug_order.json",
        &[
            ("X-WC-Webhook-Topic", "order.created"),
            ("X-WC-Webhook-Delivery-ID", "d-2"),
        ],
    ),
];

/// A request to `source` of the shipped pack `rs`, stored as the server
/// stores it (normalised, planned, kept headers) at time `at`; `key`
/// replaces its idempotency key (to store one example many times).
pub fn stored_event(
    rs: &hsflow::rules::RuleSet,
    source: &str,
    body: &[u8],
    headers: &[Header],
    at: DateTime<Utc>,
    key: Option<String>,
) -> NewEvent {
    planned_event(rs, source, body, headers, at, key).0
}

/// [`stored_event`], with the plan it was made from (its full explain trace).
pub fn planned_event(
    rs: &hsflow::rules::RuleSet,
    source: &str,
    body: &[u8],
    headers: &[Header],
    at: DateTime<Utc>,
    key: Option<String>,
) -> (NewEvent, hsflow::engine::plan::Plan) {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    let src = &rs.sources[source];
    let mut payload =
        parse_body(src.format, body).unwrap_or_else(|e| panic!("{source} example: {e}"));
    // A source that fetches from its API (Acuity) gets the example answer, as the server keeps it.
    let fetched = if src.enrich.is_empty() {
        Vec::new()
    } else {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let answer = hsflow::sources::enrich::read_answers(
            &root.join(format!("examples/{source}_appointment.json")),
        )
        .unwrap_or_else(|e| panic!("{source}'s example API answer: {e}"));
        from_fixture(&src.enrich, &mut payload, &answer, &|_| None)
            .unwrap_or_else(|e| panic!("{source} example: {e}"))
    };
    let ev = normalise_payload(
        rs,
        src,
        payload,
        &Request {
            headers: &headers,
            body,
        },
        at,
    )
    .unwrap_or_else(|e| panic!("{source} example: {e}"));
    // Stored as intake stores it: planned without the conditions' verdicts.
    // Returned: the whole plan, explained, to compare a read-back with.
    let mut p = plan(rs, &ev, Options::TO_STORE);
    p.enrich = fetched.clone();
    let mut explained = plan(rs, &ev, Options::default());
    explained.enrich = fetched;
    assert_eq!(
        p.actions, explained.actions,
        "{source}: explaining changes no action"
    );
    assert_eq!(p.entities, explained.entities, "{source}: nor who acts");
    let contacts = p.contacts(rs, &ev);
    let kept: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into()))
        .collect();
    let env = Envelope {
        source: source.into(),
        event_type: ev.event_type.clone(),
        idem_key: key.unwrap_or_else(|| ev.id.clone()),
        window_s: src.idempotency_window_s,
        received_at: at,
        headers: kept.into(),
        body: body.to_vec(),
    };
    (
        NewEvent::new(env, &p, &contacts).expect("prepare"),
        explained,
    )
}
