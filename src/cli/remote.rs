//! Commands that ask a running server through its admin API: the rule
//! versions it has run (`versions`, `diff`, `rollback`) and the what-if of
//! local files against its stored events (`whatif`).
//!
//! They send `X-Hsflow-User: <login name>` so the audit log says who.

use std::process::ExitCode;

use serde_json::{json, Value};

use super::{runtime, RuleDirs, Threads};
use crate::rules::RuleFiles;

/// Which server, and its admin token.
#[derive(clap::Args, Clone)]
pub struct Server {
    /// The running server's address.
    #[arg(long, env = "HSFLOW_SERVER", default_value = "http://127.0.0.1:8000")]
    pub server: String,
    /// The admin token (HSFLOW_ADMIN_TOKEN of that server).
    #[arg(long, env = "HSFLOW_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(clap::Args)]
pub struct WhatIfArgs {
    #[command(flatten)]
    pub dirs: RuleDirs,
    #[command(flatten)]
    pub server: Server,
    /// How far back to replay: 7d, 24h...
    #[arg(long, default_value = "7d")]
    pub since: String,
    /// At most this many events (the latest).
    #[arg(long)]
    pub events: Option<i64>,
    /// Only events of this source.
    #[arg(long)]
    pub source: Option<String>,
    /// Print the whole report as JSON instead of words.
    #[arg(long)]
    pub json: bool,
}

/// Send one request; the JSON answer, or a sentence saying what went wrong.
async fn call(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let Some(token) = server.token.as_deref().filter(|t| !t.is_empty()) else {
        return Err("set HSFLOW_ADMIN_TOKEN (or pass --token) to the server's admin token".into());
    };
    let url = format!("{}{path}", server.server.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let mut req = match method {
        "POST" => client.post(&url),
        _ => client.get(&url),
    }
    .bearer_auth(token)
    .header("x-hsflow-user", whoami());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("can't reach the server at {}: {e}", server.server))?;
    let status = resp.status();
    let v: Value = resp
        .json()
        .await
        .map_err(|e| format!("the server's answer is not JSON ({status}): {e}"))?;
    if status.is_success() {
        Ok(v)
    } else {
        let mut msg = v["error"].as_str().unwrap_or("no reason given").to_string();
        if let Some(findings) = v["findings"].as_array() {
            for f in findings {
                msg.push_str(&format!(
                    "\n  {}:{}:{}: {}",
                    f["path"].as_str().unwrap_or(""),
                    f["line"],
                    f["col"],
                    f["message"].as_str().unwrap_or("")
                ));
            }
        }
        Err(format!("the server refused ({status}): {msg}"))
    }
}

fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "cli".into())
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T, String>>) -> Result<T, ExitCode> {
    let rt = runtime(Threads::One)?;
    rt.block_on(f).map_err(|e| {
        eprintln!("hsflow: {e}");
        ExitCode::from(2)
    })
}

fn short(v: &Value) -> &str {
    let s = v.as_str().unwrap_or("");
    &s[..12.min(s.len())]
}

pub fn versions(server: &Server) -> ExitCode {
    let v = match block_on(call(server, "GET", "/api/versions?limit=50", None)) {
        Ok(v) => v,
        Err(code) => return code,
    };
    println!("live: {}", v["live"].as_str().unwrap_or("?"));
    for d in v["versions"].as_array().into_iter().flatten() {
        let who = d["who"]
            .as_str()
            .map(|w| format!(" by {w}"))
            .unwrap_or_default();
        println!(
            "{}  {}  {}{who}",
            short(&d["version"]),
            d["went_live_at"].as_str().unwrap_or(""),
            d["how"].as_str().unwrap_or("")
        );
    }
    ExitCode::SUCCESS
}

pub fn diff(server: &Server, from: &str, to: &str) -> ExitCode {
    let path = format!("/api/diff?from={}&to={}", enc(from), enc(to));
    let v = match block_on(call(server, "GET", &path, None)) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let files = v["files"].as_array().cloned().unwrap_or_default();
    if files.is_empty() {
        println!(
            "{} and {} have the same files",
            short(&v["from"]),
            short(&v["to"])
        );
        return ExitCode::SUCCESS;
    }
    for f in &files {
        print!("{}", f["unified"].as_str().unwrap_or(""));
    }
    ExitCode::from(1)
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn rollback(server: &Server, version: &str) -> ExitCode {
    let path = format!("/api/versions/{}/rollback", enc(version));
    match block_on(call(server, "POST", &path, Some(json!({})))) {
        Ok(v) if v["ok"] == true => {
            println!("rolled back: version {} is live", short(&v["version"]));
            ExitCode::SUCCESS
        }
        Ok(v) => {
            eprintln!("hsflow: the files were written but the reload refused them:");
            for e in v["errors"].as_array().into_iter().flatten() {
                eprintln!("  {}", e.as_str().unwrap_or(""));
            }
            ExitCode::from(1)
        }
        Err(code) => code,
    }
}

pub fn whatif(a: &WhatIfArgs) -> ExitCode {
    let (files, unreadable) = RuleFiles::read(&a.dirs.rules, &a.dirs.templates);
    if !a.dirs.rules.is_dir() || !unreadable.is_empty() {
        for d in &unreadable {
            eprintln!("{}", d.render_human());
        }
        eprintln!("hsflow: can't read the rules in {}", a.dirs.rules.display());
        return ExitCode::from(2);
    }
    let body = json!({
        "files": files.all().collect::<std::collections::BTreeMap<String, &str>>(),
        "complete": true,
        "since": a.since,
        "events": a.events,
        "source": a.source,
    });
    let report = match block_on(call(&a.server, "POST", "/api/whatif", Some(body))) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print!("{}", super::whatif_words::report(&report));
    }
    if report["differences"] == true {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(clap::Args)]
pub struct SendTestArgs {
    #[command(flatten)]
    pub server: Server,
    /// The template: emails/<name> or notifications/<name>.
    #[arg(long)]
    pub template: String,
    /// Where to send it: an address (emails) or a channel (notifications).
    #[arg(long)]
    pub to: String,
    /// The stored event to render it for (the latest that uses it when not given).
    #[arg(long)]
    pub event: Option<String>,
}

pub fn send_test(a: &SendTestArgs) -> ExitCode {
    let body = json!({"template": a.template, "to": a.to, "event_id": a.event});
    match block_on(call(&a.server, "POST", "/api/send-test", Some(body))) {
        Ok(v) => {
            println!(
                "test sent to {}: {}",
                v["to"].as_str().unwrap_or(""),
                v["said"].as_str().unwrap_or("")
            );
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}
