//! Every rule set that goes live is kept: listed with when and how, diffed,
//! and rolled back to (its files written back, lint-gated, then reloaded),
//! through the admin API and the `hsflow versions / diff / rollback` commands.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use support::{admin_get, admin_post, client, eventually, hsflow_against, Server, ADMIN};

fn project() -> tempfile::TempDir {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["rules", "templates"] {
        support::copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    dir
}

fn hsflow(s: &Server, args: &[&str]) -> (i32, String, String) {
    hsflow_against(s, "ana", args)
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_are_kept_diffed_and_rolled_back() {
    let p = project();
    let data = tempfile::tempdir().expect("tmp");
    let s = Server::start(data.path(), &p.path().join("rules"), &[]);

    // Start is the first version.
    let v = admin_get(&s, "/api/versions").await;
    let first = v["live"].as_str().expect("live").to_string();
    assert_eq!(v["versions"][0]["version"], first.as_str());
    assert_eq!(v["versions"][0]["how"], "start");

    // An edit on disk goes live and is kept as a file change.
    let file = p.path().join("templates/notifications/new_artist.hbs");
    let before = std::fs::read_to_string(&file).expect("template");
    std::fs::write(&file, format!("{before}\nChanged by hand.\n")).expect("edit");
    // The new set is swapped in first and recorded just after: wait for the record.
    let second = eventually(Duration::from_secs(10), "the edit goes live", || async {
        let v = admin_get(&s, "/api/versions").await;
        let recorded = v["versions"][0]["version"] == v["live"];
        (v["live"] != first.as_str() && recorded).then_some(v)
    })
    .await;
    assert_eq!(second["versions"][0]["how"], "file change");
    let second_v = second["live"].as_str().unwrap().to_string();

    // The diff names the one file, unified.
    let d = admin_get(&s, &format!("/api/diff?from={}&to=live", &first[..8])).await;
    let files = d["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{d:#}");
    assert_eq!(files[0]["path"], "templates/notifications/new_artist.hbs");
    assert!(files[0]["unified"]
        .as_str()
        .unwrap()
        .contains("+Changed by hand."));
    let (code, out, _) = hsflow(&s, &["diff", &first[..10]]);
    assert_eq!(code, 1, "the versions differ");
    assert!(
        out.contains("--- a/templates/notifications/new_artist.hbs")
            && out.contains("+Changed by hand."),
        "{out}"
    );

    // The command lists both, newest first.
    let (code, out, err) = hsflow(&s, &["versions"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[1].starts_with(&second_v[..12]) && lines[1].contains("file change"),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&first[..12]) && lines[2].contains("start"),
        "{out}"
    );

    // Roll back: the file is as it was, the first version is live again,
    // and the history and the audit log say who.
    let (code, out, err) = hsflow(&s, &["rollback", &first[..12]]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&first[..12]), "{out}");
    assert_eq!(std::fs::read_to_string(&file).expect("template"), before);
    let v = admin_get(&s, "/api/versions").await;
    assert_eq!(v["live"], first.as_str());
    assert_eq!(v["versions"][0]["how"], "rollback");
    assert_eq!(v["versions"][0]["who"], "ana (admin API)");
    let audit = admin_get(&s, "/api/audit").await;
    let e = &audit["entries"][0];
    assert_eq!(
        (e["what"].as_str(), e["who"].as_str()),
        (Some("rollback"), Some("ana (admin API)"))
    );
    assert_eq!(e["subject"], first.as_str());

    // No stray temporary files beside the rules.
    let stray = std::fs::read_dir(p.path().join("templates/notifications"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(stray, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_that_is_not_there_is_refused_in_words() {
    let p = project();
    let data = tempfile::tempdir().expect("tmp");
    let s = Server::start(data.path(), &p.path().join("rules"), &[]);
    for (path, status, words) in [
        (
            "/api/versions/abc/rollback",
            404,
            "at least its first 6 hex digits",
        ),
        (
            "/api/versions/ffffff000000/rollback",
            404,
            "no stored version starts with",
        ),
    ] {
        let (code, body) = admin_post(&s, path).await;
        assert_eq!(code, status);
        assert!(body["error"].as_str().unwrap().contains(words), "{body}");
    }
    let r = client()
        .get(s.url("/api/diff"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    let r = client()
        .get(s.url("/api/versions"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
}
