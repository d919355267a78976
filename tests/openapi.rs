//! The OpenAPI document matches the routes: every route in src/server is
//! documented with its method, and every documented route is served.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use support::*;

fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(hsflow::server::OPENAPI).expect("openapi.json is JSON");
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for method in ops.as_object().expect("operations").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// `.route("/path", get(handler))` and `post(...)` in the API's sources
/// (the server's, and the studio's API; the console's pages are not API).
fn routed() -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("src/server"))
        .expect("src/server")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.push(root.join("src/studio/api.rs"));
    files.push(root.join("src/email/api.rs"));
    let mut out = BTreeSet::new();
    for path in files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for chunk in text.split(".route(\"").skip(1) {
            let Some((path, rest)) = chunk.split_once('"') else {
                continue;
            };
            let rest = rest.trim_start_matches(',').trim_start();
            for method in ["get", "post", "put", "patch", "delete"] {
                if rest.starts_with(&format!("{method}(")) {
                    out.insert((method.to_uppercase(), path.to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists_in_the_code() {
    let (doc, code) = (documented(), routed());
    assert!(code.len() >= 19, "found the routes: {code:?}");
    let undocumented: Vec<_> = code.difference(&doc).collect();
    let missing: Vec<_> = doc.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from src/server/openapi.json: {undocumented:?}"
    );
    assert!(missing.is_empty(), "documented but not routed: {missing:?}");
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    for (method, path) in documented() {
        let url = s.url(
            &path
                .replace("{source}", "form")
                .replace("{id}", "none")
                .replace("{database}", "none")
                .replace("{email}", "none@example.com")
                .replace("{provider}", "ses"),
        );
        let req = match method.as_str() {
            "GET" => client().get(&url),
            "DELETE" => client().delete(&url),
            _ => client()
                .post(&url)
                .header("content-type", "application/json")
                .body("{}"),
        };
        let r = req.bearer_auth(ADMIN).send().await.expect("send");
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        // 404 is fine only as our own answer (a JSON error naming what is missing), never axum's "no route".
        assert!(
            status != 405 && (status != 404 || body.contains("\"error\"")),
            "{method} {path}: {status} {body}"
        );
    }
    let doc = client()
        .get(s.url("/openapi.json"))
        .send()
        .await
        .expect("send")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
}
