//! The console's Email page in a real browser (tests/browser/email.cjs):
//! the A/B versions side by side, the suppression list in words,
//! re-subscribing and adding an address by hand.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use support::*;

#[tokio::test]
async fn the_email_page_compares_versions_and_manages_the_suppression_list() {
    let tmp = tempfile::tempdir().expect("tmp");
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/email/rules");
    let s = Server::start(tmp.path(), &rules, &[]);
    // Welcomes to enough people for both versions, and news to one of them.
    for i in 0..12 {
        accepted(
            &s,
            &json!({"id": format!("w{i}"), "type": "signup", "email": format!("p{i}@example.com")}),
        )
        .await;
    }
    accepted(
        &s,
        &json!({"id": "n0", "type": "news", "email": "p0@example.com"}),
    )
    .await;
    drained(&s, Duration::from_secs(60)).await;
    for (email, reason) in [
        ("ada@example.com", "unsubscribed"),
        ("gone@example.com", "bounced"),
    ] {
        let r = client()
            .post(s.url("/api/suppressions"))
            .bearer_auth(ADMIN)
            .json(&json!({"email": email, "reason": reason}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201);
    }
    run_browser_script(&s, "email.cjs", "", &[]).await;
    s.kill();
}
