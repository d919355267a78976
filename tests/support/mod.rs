//! Running the real `hsflow serve` for tests: a free port, a temporary data
//! directory, signed requests, and waiting for things to happen.

#![allow(dead_code)]

pub mod acuity;
pub mod events;
pub mod notion_sim;
pub mod postgres;
pub mod shipped;
pub mod smtp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const SECRET: &str = "test-secret";
pub const ADMIN: &str = "test-admin-token";

pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/runtime")
}

pub struct Server {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
    pub rules: PathBuf,
}

impl Server {
    /// Start `hsflow serve` on `data` (kept across restarts) with extra flags.
    pub fn start(data: &Path, rules: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data, rules, extra, &[])
    }

    /// [`Server::start`] with extra environment variables (sink settings).
    pub fn start_with_env(
        data: &Path,
        rules: &Path,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> Server {
        Server::start_logging_to(data, rules, extra, env, Stdio::inherit())
    }

    /// [`Server::start_with_env`], its log (stderr) going to `log`.
    pub fn start_logging_to(
        data: &Path,
        rules: &Path,
        extra: &[&str],
        env: &[(&str, String)],
        log: Stdio,
    ) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hsflow"))
            .arg("serve")
            .arg("--rules")
            .arg(rules)
            .arg("--templates")
            .arg(
                rules
                    .parent()
                    .map(|p| p.join("templates"))
                    .unwrap_or_default(),
            )
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env("HSFLOW_TEST_FORM_SECRET", SECRET)
            .env("HSFLOW_ADMIN_TOKEN", ADMIN)
            .env_remove("HSFLOW_TEST_NEVER_SET")
            .env(
                "RUST_LOG",
                std::env::var("TEST_LOG").unwrap_or("warn".into()),
            )
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start hsflow serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the address line");
        let base = line
            .trim()
            .strip_prefix("hsflow listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_string();
        Server {
            child,
            base,
            data: data.to_path_buf(),
            rules: rules.to_path_buf(),
        }
    }

    /// Stop it the hard way: no shutdown, as a crash or power cut would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stop it as `systemctl stop` does (SIGTERM) and wait for it to exit,
    /// failing the test if it still runs after `limit`: its exit status and
    /// how long the stop took.
    pub fn terminate(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < limit,
                "still running {} s after SIGTERM",
                limit.as_secs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait (up to 10 s) until the server runs rules other than version
/// `before` (as /health reports it): an edit of the files has gone live.
pub async fn new_rules_live(s: &Server, before: &Value, what: &str) {
    eventually(Duration::from_secs(10), what, || async {
        (health(s).await["rules"]["version"] != *before).then_some(())
    })
    .await;
}

/// Write `text` to `path` as an editor saves: to a temporary file, then
/// renamed over it (the file watcher sees one whole new file).
pub fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// Copy a directory tree (fixtures into a temporary project).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read").flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Run the hsflow binary in `dir` (a project) and wait for it.
#[allow(dead_code)]
pub fn hsflow_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run hsflow")
}

/// A copy of the shipped project (rules, templates, examples, schemas) in `dir`.
#[allow(dead_code)]
pub fn copy_shipped_project(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for d in ["rules", "templates", "examples", "schemas"] {
        copy_dir(&root.join(d), &dir.join(d));
    }
}

/// Take the send windows off a copied project's entities, so that emails
/// fall due exactly when their delays say. For tests of something else (the
/// what-if, the studio) whose events arrive at the real time the suite runs:
/// with office hours kept, their timing would depend on the hour of the run.
#[allow(dead_code)]
pub fn without_send_windows(rules: &Path) {
    let path = rules.join("entities.toml");
    let text = std::fs::read_to_string(&path).expect("entities.toml");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("email_window"))
        .collect();
    assert_ne!(
        kept.len(),
        text.lines().count(),
        "the shipped entities keep send windows"
    );
    std::fs::write(&path, kept.join("\n")).expect("write entities.toml");
}

/// The first message written to an outbox directory, if any.
pub fn first_eml(outbox: &Path) -> Option<String> {
    let entry = std::fs::read_dir(outbox)
        .ok()?
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "eml"))?;
    std::fs::read_to_string(entry.path()).ok()
}

pub fn sign(body: &[u8]) -> String {
    hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Hex,
        Some("sha256="),
        SECRET,
        body,
    )
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POST a signed JSON body to /webhooks/form; the status and the JSON answer.
pub async fn post_signed(s: &Server, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).expect("json");
    let r = client()
        .post(s.url("/webhooks/form"))
        .header("content-type", "application/json")
        .header("x-signature", sign(&bytes))
        .body(bytes)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn admin_get(s: &Server, path: &str) -> Value {
    client()
        .get(s.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

pub async fn admin_post(s: &Server, path: &str) -> (u16, Value) {
    let r = client()
        .post(s.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Poll `check` until it returns Some, or fail after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET /health.
pub async fn health(s: &Server) -> Value {
    client()
        .get(s.url("/health"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

/// The actions of an event, as the admin API reports them.
pub async fn actions_of(s: &Server, event_id: &str) -> Vec<Value> {
    admin_get(s, &format!("/api/events/{event_id}")).await["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A console page's HTML, read as the admin (signed in with the token).
pub async fn console_page(s: &Server, path: &str) -> String {
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signin = no_redirect
        .post(s.url("/ui/signin"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN}"))
        .send()
        .await
        .expect("sign in");
    let cookie = signin.headers()["set-cookie"]
        .to_str()
        .expect("a cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    no_redirect
        .get(s.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .expect("the page")
        .text()
        .await
        .unwrap_or_default()
}

/// The actions of `kind` planned by `rule` (any event), as the admin API lists them.
pub async fn actions_of_rule(s: &Server, kind: &str, rule: &str) -> Vec<Value> {
    admin_get(s, &format!("/api/actions?kind={kind}&limit=1000")).await["actions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a["rule"] == rule)
        .collect()
}

pub fn status_of<'a>(actions: &'a [Value], action: &str) -> Option<&'a str> {
    actions
        .iter()
        .find(|a| a["action"] == action)
        .and_then(|a| a["status"].as_str())
}

/// Wait until `action` of `event_id` has finished (succeeded, dead or
/// suppressed) and return it.
pub async fn settled(s: &Server, event_id: &str, action: &str) -> Value {
    eventually(
        Duration::from_secs(60),
        &format!("{action} to finish"),
        || async {
            actions_of(s, event_id).await.into_iter().find(|a| {
                a["action"] == action
                    && matches!(
                        a["status"].as_str(),
                        Some("succeeded" | "dead" | "suppressed")
                    )
            })
        },
    )
    .await
}

/// POST a signed event that must be accepted (202); its event id.
pub async fn accepted(s: &Server, body: &Value) -> String {
    let (status, answer) = post_signed(s, body).await;
    assert_eq!(status, 202, "{answer}");
    answer["event_id"].as_str().expect("event id").to_string()
}

/// POST a signed event and wait for one of its actions to finish; the action.
pub async fn outcome(s: &Server, body: &Value, action: &str) -> Value {
    let event = accepted(s, body).await;
    settled(s, &event, action).await
}

/// Serve a test peer (a simulator, a receiver) on a free local port; its base URL.
pub async fn serve_local(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Wait until no action due by now is waiting or running (delayed ones
/// stay queued), or fail after `limit`.
pub async fn drained(s: &Server, limit: Duration) {
    eventually(limit, "the due actions to finish", || async {
        let mut waiting = 0;
        for status in ["queued", "failed", "running"] {
            let v = admin_get(s, &format!("/api/actions?status={status}&limit=1000")).await;
            let horizon = chrono::Utc::now() + chrono::Duration::seconds(30);
            waiting += v["actions"].as_array().map_or(0, |a| {
                a.iter()
                    .filter(|x| {
                        x["due_at"]
                            .as_str()
                            .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                            .is_some_and(|d| d <= horizon)
                    })
                    .count()
            });
        }
        (waiting == 0).then_some(())
    })
    .await
}

/// A directory holding the Python package `requirement` (e.g.
/// `aiosmtpd==1.4.6`), for `PYTHONPATH`: installed by pip on first use
/// under `target/`, so the test command needs nothing installed by hand.
/// Tests run as separate processes; a lock directory makes one of them
/// install while the others wait for it.
pub fn python_package(module: &str, requirement: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-python");
    let dir = target.join(requirement.replace(['=', '<', '>'], "_"));
    let done = dir.join(".installed");
    let lock = target.join(format!("{module}.lock"));
    let _ = std::fs::create_dir_all(&target);
    let started = Instant::now();
    while !done.exists() {
        if std::fs::create_dir(&lock).is_ok() {
            if !done.exists() {
                let status = Command::new("python3")
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "--target",
                    ])
                    .arg(&dir)
                    .arg(requirement)
                    .status();
                let ok = status.is_ok_and(|s| s.success());
                if ok {
                    let _ = std::fs::write(&done, requirement);
                }
                let _ = std::fs::remove_dir(&lock);
                assert!(ok, "could not install {requirement} with pip (python3 -m pip install {requirement})");
            }
            let _ = std::fs::remove_dir(&lock);
        } else {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "waited 5 minutes for another test to install {requirement}; remove {} if no test is running",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    dir
}

/// The path of command `cmd`, installing Debian's `package` for it on first
/// use (these machines run tests as root with Debian's archive reachable),
/// so the test command needs nothing installed by hand.
pub fn debian_tool(cmd: &str, package: &str) -> PathBuf {
    let find = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(cmd))
                .find(|p| p.is_file())
        })
    };
    if let Some(p) = find() {
        return p;
    }
    let lock = std::env::temp_dir().join(format!("hsflow-apt-{package}.lock"));
    let started = Instant::now();
    loop {
        if let Some(p) = find() {
            return p;
        }
        if std::fs::create_dir(&lock).is_ok() {
            let install = || {
                Command::new("apt-get")
                    .args(["install", "-y", "--no-install-recommends", package])
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .stdout(Stdio::null())
                    .status()
            };
            let mut status = install();
            // A fresh machine may have empty package lists: fetch them once.
            if !status.as_ref().is_ok_and(|s| s.success()) {
                let _ = Command::new("apt-get")
                    .arg("update")
                    .stdout(Stdio::null())
                    .status();
                status = install();
            }
            let _ = std::fs::remove_dir(&lock);
            if let Some(p) = find() {
                return p;
            }
            panic!("{cmd} is needed and `apt-get install {package}` did not provide it ({status:?}); install it and run again");
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "waited 5 minutes for another test to install {package}; remove {} if none is running",
            lock.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// GET /metrics, as text.
pub async fn metrics_text(s: &Server) -> String {
    client()
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// The value of the sample called exactly `name` (with its labels) in a
/// Prometheus text, if it is there.
pub fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The example Typeform lead (examples/typeform_artist.json) as lead `key`:
/// its own event id and email, and the contact type given.
pub fn typeform_lead(key: &str, email: &str, contact_type: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/typeform_artist.json");
    let text = std::fs::read_to_string(path).expect("the example lead");
    let mut b: Value = serde_json::from_str(&text).expect("json");
    b["event_id"] = key.into();
    let answers = &mut b["form_response"]["answers"];
    answers[0]["email"] = email.into();
    answers[3]["choices"]["labels"] = serde_json::json!([contact_type]);
    serde_json::to_vec(&b).expect("json")
}

/// Run the browser script tests/browser/SCRIPT (Chromium driven by
/// playwright-core, both installed on first use) against `s` with
/// `BASE ADMIN VIEWER SCREENSHOT_DIR EXTRA...`; fails the test with what it
/// printed unless it succeeds, and returns what it printed.
pub async fn run_browser_script(s: &Server, script: &str, viewer: &str, extra: &[&Path]) -> String {
    debian_tool("chromium", "chromium");
    let modules = npm_package("playwright-core", "playwright-core@1");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots = root.join("target/screenshots");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let mut cmd = Command::new("node");
    cmd.arg(root.join("tests/browser").join(script))
        .args([s.base.as_str(), ADMIN, viewer])
        .arg(&shots)
        .args(extra)
        .env("NODE_PATH", &modules);
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run node"))
        .await
        .expect("join");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{said}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    said
}

/// POST a Typeform webhook signed with `secret`; the status.
pub async fn post_typeform(s: &Server, secret: &str, body: Vec<u8>) -> u16 {
    client()
        .post(s.url("/webhooks/typeform"))
        .header("content-type", "application/json")
        .header("typeform-signature", typeform_signature(secret, &body))
        .body(body)
        .send()
        .await
        .expect("send")
        .status()
        .as_u16()
}

/// Run `hsflow ARGS --server <s>` as the login `user` with the admin token:
/// (exit code, stdout, stderr).
pub fn hsflow_against(s: &Server, user: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hsflow"))
        .args(args)
        .args(["--server", &s.base])
        .env("HSFLOW_ADMIN_TOKEN", ADMIN)
        .env("USER", user)
        .output()
        .expect("run hsflow");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Typeform's signature of `body` with `secret`.
pub fn typeform_signature(secret: &str, body: &[u8]) -> String {
    hsflow::sources::auth::sign(
        hsflow::rules::model::SignatureEncoding::Base64,
        Some("sha256="),
        secret,
        body,
    )
}

/// A folder whose `node_modules` holds the npm package `spec` (e.g.
/// `playwright-core@1`), installed under `target/` on first use.
pub fn npm_package(name: &str, spec: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-node");
    let done = dir.join("node_modules").join(name).join("package.json");
    let lock = dir.with_extension("lock");
    let _ = std::fs::create_dir_all(&dir);
    let started = Instant::now();
    while !done.exists() {
        if std::fs::create_dir(&lock).is_ok() {
            let status = Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg(spec)
                .status();
            let _ = std::fs::remove_dir(&lock);
            assert!(
                status.is_ok_and(|s| s.success()) && done.exists(),
                "could not install {spec} with npm (npm install {spec})"
            );
        } else {
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "waited 5 minutes for another test to install {spec}; remove {} if none is running",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    dir.join("node_modules")
}
