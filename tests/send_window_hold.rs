//! A send window is checked again when an action is about to run: the
//! office manager closes today in rules/calendar.toml while an email waits,
//! the server reloads, and when the email falls due it goes back to the
//! queue for the window's next opening (no attempt used) instead of going
//! out, with the reason in the API. The planner's notes about an action are
//! in the API too.

mod support;

use std::time::Duration;

use chrono::{Days, Utc};
use support::*;

const SECRET: &str = "hold-secret";

const FLOW: &str = r#"#:schema ../../schemas/flow.schema.json
id = "held"
description = "An email that keeps a window which is open when it is planned."

[[rules]]
id = "soon"
on = ["typeform:form_response"]
[[rules.actions]]
id = "note"
kind = "email"
template = "community_welcome"
delay = "10s"
window = "always"
"#;

fn calendar(closed_today: bool) -> String {
    let today = Utc::now().date_naive();
    let closure = if closed_today {
        // Yesterday to tomorrow, so the test can't straddle midnight UTC.
        format!(
            "closed = [\"training\"]\n\n[[closures]]\nid = \"training\"\ndates = [{{ from = \"{}\", to = \"{}\", name = \"Staff training\" }}]\n",
            today - Days::new(1),
            today + Days::new(1)
        )
    } else {
        String::new()
    };
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/calendar.toml"),
    )
    .expect("calendar.toml");
    format!("{shipped}\n[[windows]]\nid = \"always\"\nhours = [\"daily 00:00-24:00\"]\nzone = \"UTC\"\n{closure}")
}

/// Serve `rules`, post one signed Typeform lead, and return the server and
/// the id of the event whose `soon/note` email was planned.
async fn serve_and_post_a_lead(
    rules: &std::path::Path,
    data: &std::path::Path,
    key: &str,
) -> (Server, String) {
    let s = Server::start_with_env(data, rules, &[], &[("TYPEFORM_SECRET", SECRET.to_string())]);
    let lead = typeform_lead(key, &format!("{key}@example.org"), "Artist");
    assert_eq!(post_typeform(&s, SECRET, lead).await, 202);
    let listed = admin_get(&s, "/api/actions?kind=email").await;
    let event_id = listed["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["action"] == "soon/note"))
        .and_then(|x| x["event_id"].as_str())
        .expect("the email is planned")
        .to_string();
    (s, event_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_closed_while_an_email_waits_holds_it_when_it_falls_due() {
    let project = tempfile::tempdir().expect("tmp");
    copy_shipped_project(project.path());
    let rules = project.path().join("rules");
    std::fs::write(rules.join("flows/held.toml"), FLOW).expect("flow");
    std::fs::write(rules.join("calendar.toml"), calendar(false)).expect("calendar");
    let data = tempfile::tempdir().expect("tmp");
    let (s, event_id) = serve_and_post_a_lead(&rules, data.path(), "hold").await;

    // The office manager closes today while the email waits.
    let before = admin_get(&s, "/api/rules").await["version"].clone();
    std::fs::write(rules.join("calendar.toml"), calendar(true)).expect("calendar");
    eventually(Duration::from_secs(10), "the reload", || async {
        (admin_get(&s, "/api/rules").await["version"] != before).then_some(())
    })
    .await;

    let held = eventually(Duration::from_secs(40), "the email to be held", || async {
        actions_of(&s, &event_id).await.into_iter().find(|a| {
            a["action"] == "soon/note"
                && a["last_error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("held for always"))
        })
    })
    .await;
    assert_eq!(held["status"], "queued", "{held}");
    assert_eq!(held["attempts"], 0, "a hold uses no attempt: {held}");
    let why = held["last_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("is closed (Staff training), so it runs"),
        "{why}"
    );
    // It waits for the first day after the closure, at midnight UTC.
    let reopens = (Utc::now().date_naive() + Days::new(2)).to_string();
    assert!(
        held["due_at"]
            .as_str()
            .is_some_and(|d| d.starts_with(&reopens)),
        "{held}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_why_a_window_moved_an_action() {
    let project = tempfile::tempdir().expect("tmp");
    copy_shipped_project(project.path());
    let rules = project.path().join("rules");
    // A window open one hour a week, three days from now: whenever the test
    // runs, the email that keeps it (due in an hour) is moved, with a note.
    let day = (Utc::now() + chrono::Duration::days(3))
        .format("%a")
        .to_string();
    let text = std::fs::read_to_string(rules.join("calendar.toml")).expect("calendar");
    std::fs::write(
        rules.join("calendar.toml"),
        format!("{text}\n[[windows]]\nid = \"weekly\"\nhours = [\"{day} 03:00-04:00\"]\nzone = \"UTC\"\n"),
    )
    .expect("calendar");
    std::fs::write(
        rules.join("flows/held.toml"),
        FLOW.replace("window = \"always\"", "window = \"weekly\"")
            .replace("delay = \"10s\"", "delay = \"1h\""),
    )
    .expect("flow");
    let data = tempfile::tempdir().expect("tmp");
    let (s, event_id) = serve_and_post_a_lead(&rules, data.path(), "note").await;
    let actions = actions_of(&s, &event_id).await;
    let email = actions
        .iter()
        .find(|a| a["action"] == "soon/note")
        .expect("the email");
    let note = email["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.starts_with("held for weekly: it fell due")
            && note.contains(&format!("; it runs {day} ")),
        "{email}"
    );
    // Actions nothing moved carry no notes.
    assert!(actions
        .iter()
        .any(|a| a["kind"] == "notion" && a.get("notes").is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_what_if_names_waiting_actions_a_closed_day_would_hold() {
    let project = tempfile::tempdir().expect("tmp");
    copy_shipped_project(project.path());
    let rules = project.path().join("rules");
    // Due in an hour, so it is still waiting when the what-if runs.
    std::fs::write(
        rules.join("flows/held.toml"),
        FLOW.replace("delay = \"10s\"", "delay = \"1h\""),
    )
    .expect("flow");
    std::fs::write(rules.join("calendar.toml"), calendar(false)).expect("calendar");
    let data = tempfile::tempdir().expect("tmp");
    let (s, _) = serve_and_post_a_lead(&rules, data.path(), "whatif").await;

    let answer = |files: serde_json::Value| {
        let s = &s;
        async move {
            let r = client()
                .post(s.url("/api/whatif"))
                .bearer_auth(ADMIN)
                .json(&serde_json::json!({ "files": files }))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status().as_u16(), 200);
            r.json::<serde_json::Value>().await.expect("json")
        }
    };
    // The calendar as it is: nothing held.
    let same = answer(serde_json::json!({ "rules/calendar.toml": calendar(false) })).await;
    assert_eq!(same["held"], serde_json::json!([]), "{same}");
    // Today closed: the waiting email would be held, and the answer says why.
    let closed = answer(serde_json::json!({ "rules/calendar.toml": calendar(true) })).await;
    let held = closed["held"].as_array().expect("held");
    let mine: Vec<&serde_json::Value> =
        held.iter().filter(|h| h["action"] == "soon/note").collect();
    assert_eq!(mine.len(), 1, "{closed}");
    assert!(
        mine[0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("is closed (Staff training), so it runs")),
        "{closed}"
    );
    assert_eq!(closed["differences"], true);
    assert!(
        closed["said"]
            .as_str()
            .is_some_and(|s| s.contains("already waiting would be held for a send window")),
        "{closed}"
    );
}
