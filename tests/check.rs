//! `hsflow check` against the Notion simulator and a closed SMTP port: every
//! problem listed with what to do, exit 1; a ready configuration exits 0.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::notion_sim::{self, Database, NotionSim, PropType};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sinks")
}

/// The fixture's databases as Notion would describe them, changed by `edit`.
fn simulator(edit: impl Fn(&mut Database)) -> NotionSim {
    NotionSim::from_project(&fixture(), edit)
}

async fn check(env: Vec<(&'static str, String)>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
            .arg("check")
            .arg("--rules")
            .arg(fixture().join("rules"))
            .arg("--templates")
            .arg(fixture().join("templates"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env)
            .output()
            .expect("run hsflow check");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .expect("join")
}

fn base_env(sim: &str, version: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HSFLOW_TEST_FORM_SECRET", "s".into()),
        ("NOTION_WEBHOOK_SECRET", "s".into()),
        ("HSFLOW_ADMIN_TOKEN", "t".into()),
        ("NOTION_API_TOKEN", notion_sim::TOKEN.into()),
        ("HSFLOW_NOTION_URL", sim.into()),
        ("HSFLOW_NOTION_VERSION", version.into()),
        ("NOTION_CONTACTS_PROFILES_DB", "db-contacts".into()),
        ("NOTION_TASKS_DB", "db-tasks".into()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ready_configuration_passes() {
    for version in ["2022-06-28", "2025-09-03"] {
        let sim = simulator(|_| {});
        let base = sim.start().await;
        let (code, out) = check(base_env(&base, version)).await;
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("Notion \"Contacts & Profiles\": reachable, 8 properties as expected"),
            "{out}"
        );
        assert!(out.contains("check: ready"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_problem_is_listed_and_the_check_fails() {
    let sim = simulator(|db| {
        if db.id == "db-contacts" {
            db.properties.insert("Phone".into(), PropType::RichText);
            db.properties.remove("Tags");
        }
    });
    let base = sim.start().await;
    let mut env = base_env(&base, "2022-06-28");
    env.retain(|(k, _)| *k != "NOTION_TASKS_DB" && *k != "HSFLOW_TEST_FORM_SECRET");
    env.extend([
        ("HSFLOW_SMTP_HOST", "127.0.0.1".to_string()),
        ("HSFLOW_SMTP_PORT", "1".to_string()),
        ("HSFLOW_SMTP_TLS", "none".to_string()),
    ]);
    let (code, out) = check(env).await;
    assert_eq!(code, 1, "{out}");
    for expected in [
        "\"Contacts & Profiles\".\"Phone\" is a rich_text in Notion, but rules/databases.toml says phone_number",
        "\"Contacts & Profiles\" has no property \"Tags\" (rules/databases.toml expects a multi_select)",
        "Notion \"Tasks\": NOTION_TASKS_DB is not set",
        "source `form`: HSFLOW_TEST_FORM_SECRET is not set",
        "SMTP 127.0.0.1:1 is not reachable",
        "check: 5 problems to fix",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(!out.contains(notion_sim::TOKEN), "no secret is printed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notion_that_never_answers_is_reported_within_the_timeout_one_check_at_a_time() {
    // A server that takes connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            held.push(c);
        }
    });
    let mut env = base_env(&format!("http://{addr}"), "2022-06-28");
    env.push(("HSFLOW_HTTP_TIMEOUT_SECS", "1".into()));
    let started = std::time::Instant::now();
    let (code, out) = check(env).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    // Each database is announced before it is checked, then its verdict.
    assert!(
        out.contains("  ...   Notion \"Contacts & Profiles\""),
        "{out}"
    );
    assert!(out.contains("no answer within 1s"), "{out}");
}
