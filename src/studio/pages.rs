//! The studio's console pages: edit a rule file or template in the browser
//! (`/ui/studio`), see what the change would do before saving (lint and the
//! what-if of the last 7 days), save it; and the history (`/ui/history`):
//! every version that went live, diffs, rollback, and who changed what.
//!
//! Like the rest of the console these pages work without JavaScript (the
//! editor is a text area, Check and Save are form posts); studio.js adds
//! lint as you type.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api;
use super::diff::diff;
use super::write::{self, Refused};
use crate::console::{
    back, chrome, field, form, may_change, may_look, page, problem, store_down, Signed,
};
use crate::server::reload::How;
use crate::server::App;

#[derive(Deserialize)]
pub struct FileQuery {
    file: Option<String>,
    notice: Option<String>,
}

/// Every file of the live set, for the picker.
fn file_list(app: &App, current: &str) -> Vec<Value> {
    app.rules
        .current()
        .text
        .all()
        .map(|(p, _)| json!({"path": p, "selected": p == current}))
        .collect()
}

fn short(v: &str) -> String {
    v.chars().take(12).collect()
}

/// The editor page, with what a check or a refused save found.
fn editor(
    app: &App,
    s: &crate::console::session::Session,
    path: &str,
    text: &str,
    extra: Value,
) -> Response {
    let mut data = chrome(s, "Edit rules");
    data["nav"] = json!({"studio": true});
    data["files"] = json!(file_list(app, path));
    data["path"] = json!(path);
    data["text"] = json!(text);
    data["kind"] = json!(if path.ends_with(".hbs") {
        "handlebars"
    } else {
        "toml"
    });
    data["version"] = json!(short(&app.rules.current().version));
    if let Value::Object(m) = extra {
        for (k, v) in m {
            data[k] = v;
        }
    }
    page("studio", data).into_response()
}

/// GET /ui/studio?file=rules/flows/x.toml
pub async fn show(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(q): Query<FileQuery>,
) -> Response {
    let live = app.rules.current();
    let path = q
        .file
        .clone()
        .unwrap_or_else(|| live.text.all().next().map(|(p, _)| p).unwrap_or_default());
    let Some(text) = live.text.get(&path) else {
        return problem(
            StatusCode::NOT_FOUND,
            "No such file",
            &format!("The rules in force have no file `{path}`. Pick one from the list on the studio page."),
        );
    };
    editor(&app, &s, &path, text, json!({"notice": q.notice}))
}

/// The 7-day what-if of a candidate set, shaped for the page.
async fn whatif_section(app: &App, cand: Arc<crate::rules::RuleSet>) -> Value {
    match api::run_with(app, cand, 7 * 86_400, 10_000, None).await {
        Ok(r) => {
            let mut v = serde_json::to_value(&r).unwrap_or(Value::Null);
            // Flows as a list, for the page's table.
            let flows: Vec<Value> = r
                .summary
                .flows
                .iter()
                .map(|(name, f)| json!({"name": name, "f": f}))
                .collect();
            v["flows"] = json!(flows);
            // Due times as people read them.
            let zone = crate::engine::send_window::zone_of(&app.rules.current(), None);
            let when = |t| json!(crate::engine::send_window::both_clocks(t, zone));
            if let Some(items) = v["pending"].as_array_mut() {
                for (item, w) in items.iter_mut().zip(&r.pending) {
                    item["due"] = when(w.waiting.due_at);
                }
            }
            if let Some(items) = v["held"].as_array_mut() {
                for (item, h) in items.iter_mut().zip(&r.held) {
                    item["due"] = when(h.waiting.due_at);
                }
            }
            v
        }
        Err(api::WhatIfError::Store(e)) => json!({"error": e.to_string()}),
        Err(api::WhatIfError::Bad(m)) | Err(api::WhatIfError::Failed(m)) => json!({"error": m}),
        Err(api::WhatIfError::Lint(_)) => Value::Null,
    }
}

/// POST /ui/studio: `check` (lint, the what-if and a template's preview;
/// nothing written; viewers too), `save` or `send-test` (editors only).
pub async fn post(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let act = field(&f, "do").to_string();
    let allowed = if act == "save" || act == "send-test" {
        may_change(&app, &headers, &f)
    } else {
        may_look(&app, &headers, &f)
    };
    let s = match allowed {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let path = field(&f, "path").to_string();
    // Browsers send a text area's lines with \r\n; the files keep \n.
    let text = field(&f, "text").replace("\r\n", "\n");
    let live = app.rules.current();
    let Some(candidate) = live.text.with(&path, &text) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Not a rule file",
            &format!("`{path}` is not a file the studio can write."),
        );
    };
    // A save goes ahead only for exactly what a Check showed (same file
    // text, same rules live); anything else is checked first, so nobody
    // saves without having seen what the change would do.
    let digest = seen(&live.version, &path, &text);
    if act == "save" && field(&f, "checked") == digest {
        return save(&app, &s, &f, &path, &text).await;
    }
    let (cand, findings) = write::build(&app.reloader, Arc::new(candidate)).await;
    let mut extra = json!({"checked": true, "clean": cand.is_some(), "findings": findings});
    if cand.is_some() {
        extra["checked_digest"] = json!(digest);
    }
    if act == "save" {
        extra["save_error"] = json!(if cand.is_some() {
            "Not saved yet: below is what this change would do. Press Save again to save it."
        } else {
            "Not saved: fix the errors below first. Nothing was written."
        });
    }
    let chosen = Some(field(&f, "preview_event")).filter(|e| !e.is_empty());
    if let Some(cand) = cand {
        let cand = Arc::new(cand);
        if act == "send-test" {
            let to = field(&f, "test_to");
            let said = match super::preview::send_test(&app, &cand, &path, chosen, to).await {
                Ok(done) => {
                    app.audit(
                        &s.who(),
                        "test-send",
                        &path,
                        &format!("a test to {}: {done}", to.trim()),
                    )
                    .await;
                    json!({"notice": format!("Test sent to {}: {done}", to.trim())})
                }
                Err(why) => json!({"test_error": format!("The test was not sent: {why}")}),
            };
            merge(&mut extra, said);
        }
        extra["preview"] = super::preview::section(&app, &cand, &path, chosen).await;
        let w = whatif_section(&app, cand).await;
        if let Some(e) = w.get("error") {
            extra["whatif_error"] = e.clone();
        } else if !w.is_null() {
            extra["whatif"] = w;
        }
    }
    editor(&app, &s, &path, &text, extra)
}

/// Who, when nobody is named: what started it.
fn unnamed(how: &str) -> &'static str {
    match how {
        "start" => "hsflow, as it started",
        "file change" => "an edit of the files on the server",
        "sighup" => "a reload signal (SIGHUP)",
        _ => "not known",
    }
}

/// What a Check looked at, as a digest: the live version, the file, its text.
fn seen(live: &str, path: &str, text: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [live, path, text] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

fn merge(into: &mut Value, from: Value) {
    if let Value::Object(m) = from {
        for (k, v) in m {
            into[k] = v;
        }
    }
}

/// GET /ui/studio/frame/{id}: a previewed email's HTML part, for the
/// sandboxed frame: no script runs, nothing loads, nothing navigates.
pub async fn frame(
    Signed(_s): Signed,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    match super::preview::frame(&id) {
        Some(html) => (
            [
                (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (
                    axum::http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox",
                ),
            ],
            html,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn save(
    app: &App,
    s: &crate::console::session::Session,
    f: &[(String, String)],
    path: &str,
    text: &str,
) -> Response {
    let who = s.who();
    let result = write::apply(&app.reloader, How::Studio, &who, |current| {
        write::with_file(current, path, text)
    })
    .await;
    match result {
        Ok(outcome) if outcome.ok => {
            app.audit(
                &who,
                "save",
                path,
                &format!("saved; version {} is live", short(&outcome.version)),
            )
            .await;
            // Waiting actions the author chose to cancel with the save.
            let mut cancelled = 0;
            for (_, id) in f.iter().filter(|(k, _)| k == "cancel") {
                if let Ok(true) = app.store.cancel(id).await {
                    cancelled += 1;
                    app.audit(
                        &who,
                        "cancel",
                        id,
                        &format!("cancelled with the save of {path}"),
                    )
                    .await;
                }
            }
            let also = if cancelled > 0 {
                format!(" {cancelled} waiting actions were cancelled.")
            } else {
                String::new()
            };
            let to = format!(
                "/ui/studio?file={}",
                form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
            );
            let f = vec![("back".to_string(), to.clone())];
            back(
                &f,
                &to,
                &format!("Saved. Version {} is live.{also}", short(&outcome.version)),
            )
        }
        Ok(outcome) => editor(
            app,
            s,
            path,
            text,
            json!({"checked": true, "save_error": format!("The file was written but the reload refused it: {}", outcome.errors.join("; "))}),
        ),
        Err(Refused::Lint(findings)) => editor(
            app,
            s,
            path,
            text,
            json!({"checked": true, "findings": findings, "clean": false, "save_error": "Not saved: fix the errors below first. Nothing was written."}),
        ),
        Err(Refused::Bad(m)) | Err(Refused::Io(m)) => editor(
            app,
            s,
            path,
            text,
            json!({"checked": true, "save_error": format!("Not saved: {m}")}),
        ),
    }
}

/// POST /ui/studio/lint (JSON {path, text}): the findings for the editor, as you type.
pub async fn lint(State(app): State<Arc<App>>, Signed(_s): Signed, body: Bytes) -> Response {
    #[derive(Deserialize)]
    struct Req {
        path: String,
        text: String,
    }
    let Ok(req) = serde_json::from_slice::<Req>(&body) else {
        return crate::server::errors::error(
            StatusCode::BAD_REQUEST,
            "send JSON {\"path\": ..., \"text\": ...}",
        );
    };
    let live = app.rules.current();
    let Some(candidate) = live.text.with(&req.path, &req.text) else {
        return crate::server::errors::error(
            StatusCode::BAD_REQUEST,
            format!("`{}` is not a rule or template path", req.path),
        );
    };
    let (ok, findings) = write::lint(&app.reloader, Arc::new(candidate)).await;
    Json(json!({"clean": ok, "findings": findings})).into_response()
}

/// GET /ui/studio/schema?file=rules/flows/x.toml: the JSON Schema of that
/// kind of rule file (the one editors use), for the editor's completion.
pub async fn schema(Signed(_s): Signed, Query(q): Query<FileQuery>) -> Response {
    let path = q.file.unwrap_or_default();
    let kind = crate::rules::files::split(&path).and_then(|(dir, rel)| match dir {
        crate::rules::files::Dir::Rules => {
            crate::rules::kind::FileKind::of(std::path::Path::new(rel))
        }
        crate::rules::files::Dir::Templates => None,
    });
    match kind {
        Some(k) => Json(k.schema()).into_response(),
        None => crate::server::errors::error(
            StatusCode::NOT_FOUND,
            format!("`{path}` is not a rule file with a schema (templates have none)"),
        ),
    }
}

/// GET /ui/history: the versions, and the audit log.
pub async fn history(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(q): Query<FileQuery>,
) -> Response {
    let (deploys, audit) = match (app.store.deploys(100).await, app.store.audit_log(100).await) {
        (Ok(d), Ok(a)) => (d, a),
        (Err(e), _) | (_, Err(e)) => return store_down(e),
    };
    let live = app.rules.current().version.clone();
    let mut anchored = std::collections::HashSet::new();
    let versions: Vec<Value> = deploys
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let previous = deploys.get(i + 1).map(|p| p.version.clone());
            // Links from events land on the latest time a version went live.
            let anchor = anchored.insert(d.version.clone());
            json!({
                "anchor": anchor,
                "version": d.version, "short": short(&d.version), "at": d.went_live_at.format("%a %-d %b %Y, %H:%M:%S UTC").to_string(),
                "how": d.how, "who": d.who.clone().unwrap_or_else(|| unnamed(&d.how).to_string()),
                "live": d.version == live && i == 0,
                // Rolling back to the version in force would change nothing.
                "current": d.version == live,
                "previous": previous.filter(|p| *p != d.version),
            })
        })
        .collect();
    let entries: Vec<Value> = audit
        .iter()
        .map(|e| json!({"at": e.at.format("%a %-d %b %Y, %H:%M:%S UTC").to_string(), "who": e.who, "what": e.what, "subject": e.subject, "detail": e.detail}))
        .collect();
    let mut data = chrome(&s, "History");
    data["nav"] = json!({"history": true});
    data["versions"] = json!(versions);
    data["entries"] = json!(entries);
    data["notice"] = json!(q.notice);
    page("history", data).into_response()
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: String,
    to: Option<String>,
}

/// GET /ui/history/diff?from=V&to=W
pub async fn diff_page(
    State(app): State<Arc<App>>,
    Signed(s): Signed,
    Query(q): Query<DiffQuery>,
) -> Response {
    let to = q.to.as_deref().unwrap_or("live");
    let (a, b) = match (api::files_of(&app, &q.from).await, api::files_of(&app, to).await) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return problem(StatusCode::NOT_FOUND, "No such version", "One of the versions is not in the store. Go back to History and pick one from the list."),
    };
    let files: Vec<Value> = diff(&a.1, &b.1)
        .into_iter()
        .map(|f| {
            let lines: Vec<Value> = f
                .unified
                .lines()
                .map(|l| {
                    let class = match l.chars().next() {
                        Some('+') if !l.starts_with("+++") => "add",
                        Some('-') if !l.starts_with("---") => "del",
                        Some('@') => "hunk",
                        _ => "",
                    };
                    json!({"text": l, "class": class})
                })
                .collect();
            json!({"path": f.path, "change": f.change, "added": f.lines_added, "removed": f.lines_removed, "lines": lines})
        })
        .collect();
    let mut data = chrome(&s, "What changed");
    data["nav"] = json!({"history": true});
    data["from"] = json!(short(&a.0));
    data["to"] = json!(short(&b.0));
    data["from_full"] = json!(a.0);
    data["files"] = json!(files);
    page("diff", data).into_response()
}

/// POST /ui/history/rollback (version, csrf).
pub async fn rollback(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let f = form(&body);
    let s = match may_change(&app, &headers, &f) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let version = field(&f, "version").to_string();
    let notice = match api::roll_back(&app, &version, &s.who()).await {
        Ok(outcome) if outcome.ok => format!(
            "Rolled back: version {} is live again.",
            short(&outcome.version)
        ),
        Ok(outcome) => format!(
            "The files were written back but the reload refused them: {}",
            outcome.errors.join("; ")
        ),
        Err(why) => format!("Not rolled back: {}", why.words()),
    };
    back(&f, "/ui/history", &notice)
}
