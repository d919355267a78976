//! The console's pages with 100,000 events (300,000 actions) in the store:
//! how long each page takes to answer, the median and the slowest of 20.
//! The target is under 100 ms a page; pages read one page of rows through
//! indexes, never a table.
//!
//! Run: `cargo bench --bench console` (HSFLOW_BENCH_EVENTS changes the size).

use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

#[tokio::main]
async fn main() {
    let n: i64 = std::env::var("HSFLOW_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = hsflow::store::Store::open(dir.path(), hsflow::store::Durability::Normal)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let now = chrono::Utc::now().timestamp_millis();
    let t = Instant::now();
    // Events over the last 7 days, each with a contact, a fired rule and three
    // actions (done, parked, scheduled): what a busy week leaves behind.
    let fields = r#"{"email":"c' || x || '@example.org","event_type":"signup","source":"form"}"#;
    let trace = r#"{"rules":[{"id":"welcome","flow":"runtime","matched":true,"conditions":[{"expr":"email exists true","result":true,"values":{"email":"x"}}]}],"entities":["Main"]}"#;
    let events = format!(
        "INSERT INTO events (id, source, event_type, idem_key, received_at, headers, body, fields, trace, ruleset_version) \
         WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}) \
         SELECT 'ev-' || x, 'form', 'signup', 'k' || x, {now} - x * 6000, '{{}}', X'7B7D', '{fields}', '{trace}', 'bench' FROM seq; \
         INSERT INTO contacts (contact_id, contact) \
         WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}) \
         SELECT x, 'c' || x || '@example.org' FROM seq"
    );
    let payload = r#"{"id":"welcome/notify_1","rule":"welcome","flow":"runtime","entity":"Main","delay_s":0,"run_at":"2026-12-01T00:00:00Z","kind":"notify","channel":"team","text":"New signup","urgent":false}"#;
    let actions = |suffix: &str, status: &str, due: &str, error: &str| {
        format!(
            "INSERT INTO action_names (rule, flow, entity, action_key, kind) VALUES ('welcome', 'runtime', 'Main', 'welcome/{suffix}', 'notify'); \
             INSERT INTO actions (id, old_event_id, name_id, contact_id, payload, due_at, status, attempts, last_error, ruleset_version, created_at, updated_at) \
             WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {n}) \
             SELECT 'job-{suffix}-' || x, 'ev-' || x, (SELECT name_id FROM action_names WHERE action_key = 'welcome/{suffix}'), x, '{payload}', {due}, '{status}', 1, {error}, 'bench', {now} - x * 6000, {now} - x * 6000 FROM seq"
        )
    };
    for sql in [
        events,
        actions("done", "succeeded", &format!("{now} - x * 6000"), "NULL"),
        actions(
            "parked",
            "dead",
            &format!("{now} - x * 6000"),
            "'the request to Slack could not connect'",
        ),
        actions("later", "queued", &format!("{now} + x * 6000"), "NULL"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&store.pool)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    println!(
        "console: {n} events and {} actions written in {:.1} s",
        3 * n,
        t.elapsed().as_secs_f64()
    );
    drop(store);

    let (rules, templates) = support::fixture();
    let (mut child, base, _) = support::serve(
        &rules,
        &templates,
        dir.path(),
        &[
            ("HSFLOW_TEST_FORM_SECRET", "x"),
            ("HSFLOW_ADMIN_TOKEN", "bench"),
        ],
        &[],
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let signed = client
        .post(format!("{base}/ui/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=bench")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cookie = signed
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie"))
        .to_string();
    let mid = n / 2;
    for path in [
        "/ui/".to_string(),
        "/ui/events".to_string(),
        format!("/ui/events?contact=c{mid}@example.org"),
        "/ui/events?q=c4242".to_string(),
        format!("/ui/events/ev-{mid}"),
        "/ui/failed".to_string(),
        "/ui/followups".to_string(),
        format!("/ui/contacts/c{mid}@example.org"),
        "/ui/rules".to_string(),
    ] {
        let mut took: Vec<Duration> = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = r.status();
            let _ = r.bytes().await;
            took.push(t.elapsed());
            assert!(status.is_success(), "{path}: {status}");
        }
        took.sort();
        println!(
            "{path:<40} median {:>7.1} ms   slowest {:>7.1} ms",
            took[10].as_secs_f64() * 1000.0,
            took[19].as_secs_f64() * 1000.0
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
