//! `[[enrich]]` with `on_failure = "retry"` (the default): the sender is
//! answered at once, before the vendor's API is asked, and the fetch is a
//! durable job: retried after a 429 (its Retry-After) or an outage, parked
//! with the reason on a refusal or an unknown id, taken over after a crash.
//! When the answer arrives the event is planned, exactly once. Acuity's API
//! is the simulator in support/acuity.rs; all of it over real HTTP.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::acuity::{env, post, rules, Acuity, USER};
use support::*;

const BOOKING: &str = "action=scheduled&id=123&calendarID=27238&appointmentTypeID=1";

fn action<'a>(actions: &'a [Value], key: &str) -> Option<&'a Value> {
    actions.iter().find(|a| a["action"] == key)
}

/// The fetch job of `event` once its status is one of `statuses`.
async fn fetch_job(s: &Server, event: &str, statuses: &[&str]) -> Value {
    eventually(
        Duration::from_secs(30),
        &format!("the fetch to be {statuses:?}"),
        || async {
            let all = actions_of(s, event).await;
            action(&all, "enrich")
                .filter(|a| statuses.iter().any(|st| a["status"] == *st))
                .cloned()
        },
    )
    .await
}

#[tokio::test]
async fn the_sender_is_answered_before_the_api_and_the_event_is_planned_when_it_answers() {
    let acuity = Acuity::new();
    acuity.answer(false);
    let api = serve_local(acuity.router()).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(tmp.path(), &rules(), &[], &env(&api, USER));

    // The API holds every answer, and the webhook is acknowledged anyway.
    let (code, body) = tokio::time::timeout(Duration::from_secs(30), post(&s, BOOKING))
        .await
        .expect("the acknowledgement waited on the vendor's API");
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["awaiting_fetch"], true, "{body}");
    assert_eq!(body["actions"], 0, "{body}");
    let event = body["event_id"].as_str().expect("event id").to_string();

    // Stored, typed from the webhook, waiting for its fetch; nothing planned yet.
    eventually(Duration::from_secs(30), "the API to be asked", || async {
        (acuity.hits() >= 1).then_some(())
    })
    .await;
    let stored = admin_get(&s, &format!("/api/events/{event}")).await;
    assert_eq!(stored["type"], "appointment.scheduled", "{stored}");
    let request_id = stored["request_id"].clone();
    assert!(request_id.is_string(), "{stored}");
    let actions = actions_of(&s, &event).await;
    assert_eq!(actions.len(), 1, "only the fetch: {actions:?}");
    assert_eq!(actions[0]["kind"], "enrich");
    assert!(
        stored["trace"]["notes"][0]
            .as_str()
            .unwrap_or("")
            .contains("planned when the answer arrives"),
        "{stored}"
    );

    // The API answers: the event is read and planned, and its actions run.
    acuity.answer(true);
    let tell = settled(&s, &event, "booked/tell").await;
    assert_eq!(tell["status"], "succeeded", "{tell}");
    let notes = std::fs::read_to_string(tmp.path().join("notifications.jsonl")).unwrap_or_default();
    assert!(
        notes.contains("Bea <bea.okafor@example.com> booked Sound bath: Rest"),
        "{notes}"
    );
    let fetch = fetch_job(&s, &event, &["succeeded"]).await;
    assert_eq!(fetch["attempts"], 1, "{fetch}");
    let stored = admin_get(&s, &format!("/api/events/{event}")).await;
    assert_eq!(stored["trace"]["enrich"][0]["status"], 200, "{stored}");
    assert_eq!(
        stored["trace"]["enrich"][0]["url"],
        format!("{api}/appointments/123")
    );
    assert_eq!(
        stored["fields"]["email"], "bea.okafor@example.com",
        "{stored}"
    );
    // The request is stored again with the plan, whole: its kept headers.
    assert_eq!(stored["request_id"], request_id, "{stored}");

    // A repeat delivery is a duplicate: no second fetch, no second plan.
    let calls = acuity.hits();
    let (code, again) = post(&s, BOOKING).await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["event_id"], event.as_str());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(acuity.hits(), calls, "a duplicate called the API");
    let planned = actions_of(&s, &event).await;
    assert_eq!(
        planned
            .iter()
            .filter(|a| a["action"] == "booked/tell")
            .count(),
        1,
        "{planned:?}"
    );
    // The fetch took the event's first place; the actions planned when it
    // answered take the places after it (an action's id is its event's
    // and its place).
    let mut ids: Vec<&str> = planned.iter().filter_map(|a| a["id"].as_str()).collect();
    assert!(planned.len() > 1, "{planned:?}");
    assert_eq!(fetch["id"], format!("{event}00"), "{fetch}");
    assert!(ids.iter().all(|id| id.starts_with(&event)), "{ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), planned.len(), "{planned:?}");
    s.kill();
}

#[tokio::test]
async fn a_failed_fetch_is_retried_as_a_job_or_parked_with_its_reason() {
    let acuity = Acuity::new();
    let api = serve_local(acuity.router()).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with_env(tmp.path(), &rules(), &[], &env(&api, USER));

    // Rate limited once (Retry-After: 1): the job waits and tries again.
    let (code, body) = post(
        &s,
        "action=scheduled&id=429&calendarID=1&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let limited = body["event_id"].as_str().expect("id").to_string();
    let fetch = fetch_job(&s, &limited, &["succeeded"]).await;
    assert_eq!(fetch["attempts"], 2, "one 429, then the answer: {fetch}");
    let stored = admin_get(&s, &format!("/api/events/{limited}")).await;
    assert!(
        stored["trace"]["notes"]
            .to_string()
            .contains("fetched on attempt 2"),
        "{stored}"
    );
    assert_eq!(
        settled(&s, &limited, "booked/tell").await["status"],
        "succeeded"
    );

    // An id Acuity doesn't know: parked at once, the reason in words.
    let (code, body) = post(
        &s,
        "action=scheduled&id=404&calendarID=1&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let unknown = body["event_id"].as_str().expect("id").to_string();
    let dead = fetch_job(&s, &unknown, &["dead"]).await;
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("found nothing (404: Appointment not found.)"),
        "{dead}"
    );
    assert_eq!(
        actions_of(&s, &unknown).await.len(),
        1,
        "nothing was planned"
    );
    // The console's event page says so in words, and what to do.
    let page = console_page(&s, &format!("/ui/events/{unknown}")).await;
    let title = format!("Fetch the appointment from {api}/appointments/404");
    for words in [
        "hsflow could not fetch what this webhook points to, so no rule has read it yet",
        "No rule has read this event yet",
        "Nothing read yet",
        title.as_str(),
        "found nothing (404: Appointment not found.)",
    ] {
        assert!(
            page.contains(words),
            "{words:?} is not on the page:\n{page}"
        );
    }

    // A webhook without the id the request needs: refused now, nothing stored.
    let (code, body) = post(&s, "action=scheduled&calendarID=1&appointmentTypeID=1").await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap_or("").contains("needs `id`"),
        "{body}"
    );

    // Credentials the API refuses: parked; once they are fixed, a retry plans it.
    acuity.accept_user("the-new-user-id");
    let (code, body) = post(
        &s,
        "action=scheduled&id=77&calendarID=1&appointmentTypeID=1",
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let refused = body["event_id"].as_str().expect("id").to_string();
    let dead = fetch_job(&s, &refused, &["dead"]).await;
    assert!(
        dead["last_error"]
            .as_str()
            .unwrap_or("")
            .contains("refused hsflow's credentials (401"),
        "{dead}"
    );
    acuity.accept_user(USER);
    let job = dead["id"].as_str().expect("job id");
    let r = client()
        .post(s.url(&format!("/api/actions/{job}/retry")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("retry");
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        settled(&s, &refused, "booked/tell").await["status"],
        "succeeded"
    );
    s.kill();
}

#[tokio::test]
async fn a_fetch_interrupted_by_a_crash_is_taken_over_and_plans_the_event_once() {
    let acuity = Acuity::new();
    acuity.answer(false);
    let api = serve_local(acuity.router()).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let lease = ["--lease", "2s"];
    let s = Server::start_with_env(tmp.path(), &rules(), &lease, &env(&api, USER));
    let (code, body) = post(&s, BOOKING).await;
    assert_eq!(code, 202, "{body}");
    let event = body["event_id"].as_str().expect("id").to_string();
    eventually(Duration::from_secs(30), "the API to be asked", || async {
        (acuity.hits() >= 1).then_some(())
    })
    .await;
    // Killed while the API is still thinking: the fetch never finished.
    s.kill();

    acuity.answer(true);
    let s = Server::start_with_env(tmp.path(), &rules(), &lease, &env(&api, USER));
    assert_eq!(
        settled(&s, &event, "booked/tell").await["status"],
        "succeeded"
    );
    fetch_job(&s, &event, &["succeeded"]).await;
    let actions = actions_of(&s, &event).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a["action"] == "booked/tell")
            .count(),
        1,
        "planned once: {actions:?}"
    );
    s.kill();
}
