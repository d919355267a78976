//! /metrics as Prometheus reads it, and the health routes as monitors and
//! orchestrators read them: promtool accepts the exposition, every series
//! exists from the start, latencies are histograms, the queue tells a
//! backlog from a schedule, and /health says 503 when something needs a look.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::*;

#[tokio::test]
async fn promtool_accepts_the_metrics_and_every_series_exists_from_the_start() {
    let promtool = debian_tool("promtool", "prometheus");
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);

    // Before any event: the counters are there, at zero.
    let first = metrics_text(&s).await;
    for series in [
        r#"hsflow_events_total{source="form",outcome="accepted"}"#,
        r#"hsflow_events_total{source="form",outcome="unauthorized"}"#,
        r#"hsflow_sink_results_total{kind="email",result="error"}"#,
        r#"hsflow_reloads_total{result="refused"}"#,
    ] {
        assert_eq!(sample(&first, series), Some(0.0), "{series} in\n{first}");
    }

    // An event: a notification now, an email in 3 s.
    let body = json!({"id": "p1", "type": "signup", "email": "p@example.org"});
    let event = accepted(&s, &body).await;
    settled(&s, &event, "welcome/notify_1").await;
    let text = metrics_text(&s).await;

    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    check
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = check.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics refused it:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    for help in [
        "# HELP hsflow_events_total",
        "# TYPE hsflow_events_total counter",
        "# TYPE hsflow_sink_duration_seconds histogram",
        "# TYPE hsflow_http_request_duration_seconds histogram",
        "# TYPE hsflow_queue_due gauge",
        "# TYPE process_resident_memory_bytes gauge",
    ] {
        assert!(text.contains(help), "no `{help}`");
    }
    assert!(
        text.contains(r#"hsflow_sink_duration_seconds_bucket{kind="notify",le="+Inf"} 1"#),
        "no histogram buckets for the notification"
    );
    assert!(
        text.contains(r#"hsflow_http_requests_total{route="/webhooks/{source}",status="202"} 1"#),
        "requests are counted by route pattern"
    );
    // A backlog is told apart from a schedule: the email waits, it is not late.
    assert_eq!(sample(&text, "hsflow_queue_due"), Some(0.0));
    assert_eq!(sample(&text, "hsflow_queue_scheduled"), Some(1.0));
    assert_eq!(
        sample(&text, "hsflow_queue_oldest_due_age_seconds"),
        Some(0.0)
    );
    let version = health(&s).await["rules"]["version"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert_eq!(
        sample(
            &text,
            &format!(r#"hsflow_rules_info{{version="{version}"}}"#)
        ),
        Some(1.0)
    );
    assert!(sample(&text, "process_resident_memory_bytes").is_some_and(|v| v > 1e6));
    assert!(text.contains("hsflow_build_info{version="));
}

#[tokio::test]
async fn health_is_503_when_a_reload_was_refused_but_the_server_stays_ready_and_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture(), &dir.path().join("project"));
    let rules = dir.path().join("project/rules");
    let s = Server::start(&dir.path().join("data"), &rules, &[]);
    let get = |path: &'static str| {
        let url = s.url(path);
        async move {
            client()
                .get(url)
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        }
    };
    assert_eq!(get("/health").await, 200);
    assert_eq!(get("/health/live").await, 200);
    assert_eq!(get("/health/ready").await, 200);

    let flow = rules.join("flows/runtime.toml");
    let good = std::fs::read_to_string(&flow).expect("read");
    std::fs::write(
        &flow,
        good.replace("delay = \"3s\"", "delay = \"3 seconds\""),
    )
    .expect("write");
    eventually(Duration::from_secs(10), "/health to say 503", || async {
        (get("/health").await == 503).then_some(())
    })
    .await;
    assert_eq!(health(&s).await["status"], "degraded");
    // It still takes webhooks on the last good rules: ready, and live.
    assert_eq!(get("/health/ready").await, 200);
    assert_eq!(get("/health/live").await, 200);
}
