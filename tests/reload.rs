//! Hot reload over real files: a valid edit goes live, an invalid one is
//! refused whole while the last good rules keep serving.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

/// Save the way editors do: write a temporary file, rename it over the old one.
fn project() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture(), &dir.path().join("project"));
    let rules = dir.path().join("project/rules");
    (dir, rules)
}

#[tokio::test]
async fn a_valid_edit_takes_effect_without_a_restart() {
    let (dir, rules) = project();
    let s = Server::start(&dir.path().join("data"), &rules, &[]);
    let before = health(&s).await["rules"]["version"].clone();
    let flow = rules.join("flows/runtime.toml");
    let text = std::fs::read_to_string(&flow)
        .expect("read")
        .replace("New signup: {{email}}", "Fresh signup: {{email}}");
    save(&flow, &text);
    eventually(
        Duration::from_secs(10),
        "the new rules to be live",
        || async {
            let h = health(&s).await;
            (h["rules"]["version"] != before && h["last_reload_error"].is_null()).then_some(())
        },
    )
    .await;
    let (status, _) = post_signed(
        &s,
        &json!({"id": "v1", "type": "signup", "email": "n@b.example"}),
    )
    .await;
    assert_eq!(status, 202);
    let notes = dir.path().join("data/notifications.jsonl");
    eventually(
        Duration::from_secs(10),
        "the notification in the new words",
        || {
            let notes = notes.clone();
            async move {
                std::fs::read_to_string(&notes)
                    .ok()
                    .filter(|t| t.contains("Fresh signup: n@b.example"))
            }
        },
    )
    .await;
}

#[tokio::test]
async fn an_invalid_edit_is_refused_and_the_old_rules_keep_serving() {
    let (dir, rules) = project();
    let s = Server::start(&dir.path().join("data"), &rules, &[]);
    let before = health(&s).await["rules"]["version"].clone();
    let flow = rules.join("flows/runtime.toml");
    let good = std::fs::read_to_string(&flow).expect("read");
    save(
        &flow,
        &good.replace("delay = \"3s\"", "delay = \"3 seconds\""),
    );
    let h = eventually(
        Duration::from_secs(10),
        "the refusal at /health",
        || async {
            let h = health(&s).await;
            (!h["last_reload_error"].is_null()).then_some(h)
        },
    )
    .await;
    let err = h["last_reload_error"][0].as_str().unwrap_or("").to_string();
    assert!(
        err.contains("runtime.toml:22:9:") && err.contains("is not a duration"),
        "{err}"
    );
    assert_eq!(
        h["rules"]["version"], before,
        "the old rules are still in force"
    );
    assert_eq!(h["status"], "degraded");

    // Events keep flowing on the old rules.
    let (status, body) = post_signed(
        &s,
        &json!({"id": "i1", "type": "signup", "email": "o@b.example"}),
    )
    .await;
    assert_eq!((status, body["actions"].as_u64()), (202, Some(3)));

    // The explicit reload says the same; fixing the file clears the error.
    let (code, out) = admin_post(&s, "/api/reload").await;
    assert_eq!(code, 422);
    assert!(
        out["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("is not a duration"),
        "{out}"
    );
    // Undoing the edit puts back exactly the set in force: the error goes.
    save(&flow, &good);
    eventually(
        Duration::from_secs(10),
        "the undone edit to clear the error",
        || async {
            let h = health(&s).await;
            (h["last_reload_error"].is_null() && h["rules"]["version"] == before).then_some(())
        },
    )
    .await;
    save(
        &flow,
        &good.replace("delay = \"3s\"", "delay = \"3 seconds\""),
    );
    eventually(Duration::from_secs(10), "the refusal again", || async {
        (!health(&s).await["last_reload_error"].is_null()).then_some(())
    })
    .await;
    save(&flow, &good.replace("New signup", "Fixed signup"));
    eventually(
        Duration::from_secs(10),
        "the fixed rules to be live",
        || async {
            let h = health(&s).await;
            (h["last_reload_error"].is_null() && h["rules"]["version"] != before).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_template_edit_reloads_too() {
    let (dir, rules) = project();
    let s = Server::start(&dir.path().join("data"), &rules, &[]);
    let before = health(&s).await["rules"]["version"].clone();
    let tpl = rules
        .parent()
        .map(|p| p.join("templates/emails/welcome.subject.hbs"))
        .expect("templates");
    save(
        &tpl,
        "Welcome aboard{{#if first_name}}, {{first_name}}{{/if}}\n",
    );
    new_rules_live(&s, &before, "the template change to be live").await;
    // A broken template is refused like a broken rule.
    save(&tpl, "Welcome {{#if first_name}}\n");
    let h = eventually(Duration::from_secs(10), "the template refusal", || async {
        let h = health(&s).await;
        (!h["last_reload_error"].is_null()).then_some(h)
    })
    .await;
    assert!(
        h["last_reload_error"][0]
            .as_str()
            .unwrap_or("")
            .contains("welcome.subject.hbs"),
        "{h}"
    );
}

#[tokio::test]
async fn pending_actions_keep_the_text_they_were_planned_with_after_their_rule_is_deleted() {
    let (dir, rules) = project();
    let s = Server::start(&dir.path().join("data"), &rules, &[]);
    let (status, body) = post_signed(
        &s,
        &json!({"id": "p1", "type": "signup", "email": "keep@b.example", "first_name": "Kim"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    // Delete the rule (and change its template) before its 3-second email is due.
    let flow = rules.join("flows/runtime.toml");
    let text = std::fs::read_to_string(&flow).expect("read");
    let start = text
        .find("[[rules]]\nid = \"welcome\"")
        .expect("welcome rule");
    let end = text[start + 1..]
        .find("[[rules]]")
        .map(|i| i + start + 1)
        .expect("next rule");
    let before = health(&s).await["rules"]["version"].clone();
    save(&flow, &format!("{}{}", &text[..start], &text[end..]));
    let subject = rules
        .parent()
        .map(|p| p.join("templates/emails/welcome.subject.hbs"))
        .expect("templates");
    save(&subject, "Changed subject\n");
    new_rules_live(&s, &before, "the rule to be gone").await;

    let outbox = dir.path().join("data/outbox");
    let eml = eventually(Duration::from_secs(15), "the planned email", || {
        let outbox = outbox.clone();
        async move { first_eml(&outbox) }
    })
    .await;
    assert!(
        eml.contains("Subject: Welcome, Kim"),
        "sent as planned, with the old subject: {eml}"
    );
    // New events no longer plan it.
    let (status, body) = post_signed(
        &s,
        &json!({"id": "p2", "type": "signup", "email": "new@b.example"}),
    )
    .await;
    assert_eq!((status, body["actions"].as_u64()), (202, Some(0)), "{body}");
}
