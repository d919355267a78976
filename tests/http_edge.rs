//! The HTTP edge under hostile or careless clients: a client that stalls
//! mid-header or sits idle is cut off, a flood of stalled connections can't
//! starve everyone else, a shutdown with a stalled client still ends within
//! its grace period (and says why), and a flood of unknown source names
//! can't grow /metrics.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{client, fixture, health, Server};

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Read until the server closes the connection (or `limit` passes); what came back.
fn read_until_closed(conn: &mut TcpStream, limit: Duration) -> Option<String> {
    conn.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            // Reset by the server: closed too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&got).into_owned())
            }
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn a_client_that_stalls_mid_header_is_cut_off_and_others_are_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        dir.path(),
        &fixture().join("rules"),
        &["--header-timeout", "1s"],
    );
    let mut stalled = TcpStream::connect(addr(&s)).expect("connect");
    stalled
        .write_all(b"POST /webhooks/form HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        .expect("half a header");
    // Everyone else is still served meanwhile.
    assert_eq!(health(&s).await["status"], "ok");
    let started = Instant::now();
    let answer = read_until_closed(&mut stalled, Duration::from_secs(10));
    assert!(answer.is_some(), "the stalled connection was never closed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed only after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        dir.path(),
        &fixture().join("rules"),
        &["--header-timeout", "1s"],
    );
    let mut conn = TcpStream::connect(addr(&s)).expect("connect");
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let answer = read_until_closed(&mut conn, Duration::from_secs(10))
        .expect("the idle connection was never closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_body_that_never_finishes_is_refused_after_the_body_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        dir.path(),
        &fixture().join("rules"),
        &["--body-timeout", "1s", "--header-timeout", "30s"],
    );
    let mut conn = TcpStream::connect(addr(&s)).expect("connect");
    conn.write_all(
        b"POST /webhooks/form HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":",
    )
    .expect("part of a body");
    let started = Instant::now();
    let answer = read_until_closed(&mut conn, Duration::from_secs(10))
        .expect("the trickling body was never cut off");
    assert!(started.elapsed() < Duration::from_secs(5));
    // An answer may or may not make it out before the close; if it does, it is a 4xx.
    if !answer.is_empty() {
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    }
}

#[tokio::test]
async fn stalled_clients_past_the_connection_limit_hold_no_descriptors_and_the_server_keeps_answering(
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        dir.path(),
        &fixture().join("rules"),
        &["--max-connections", "16", "--header-timeout", "2s"],
    );
    let pid = s.child.id();
    let fds = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let before = fds();
    // 64 clients connect and send nothing.
    let stalled: Vec<TcpStream> = (0..64)
        .filter_map(|_| TcpStream::connect(addr(&s)).ok())
        .collect();
    assert_eq!(stalled.len(), 64, "the backlog took {}", stalled.len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = fds();
    assert!(
        during <= before + 16 + 4,
        "{during} descriptors open with 64 stalled clients (before: {before}; the limit is 16)"
    );
    // A real client is answered once stalled ones time out, well within 30 s.
    let started = Instant::now();
    let r = client()
        .get(s.url("/health"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("answered despite the flood");
    assert_eq!(r.status().as_u16(), 200);
    assert!(started.elapsed() < Duration::from_secs(30));
    drop(stalled);
}

#[test]
fn sigterm_with_a_stalled_client_stops_within_the_grace_period_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut s = Server::start_logging_to(
        &dir.path().join("data"),
        &fixture().join("rules"),
        &["--header-timeout", "60s", "--shutdown-grace", "2s"],
        &[("RUST_LOG", "info".to_string())],
        Stdio::from(log),
    );
    let mut stalled = TcpStream::connect(addr(&s)).expect("connect");
    stalled
        .write_all(b"POST /webhooks/form HTTP/1.1\r\nHost: x\r\n")
        .expect("half a header");
    std::thread::sleep(Duration::from_millis(200));
    let (status, took) = s.terminate(Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(8));
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.contains("shutting down (SIGTERM)"), "{log}");
    assert!(log.contains("stopped (SIGTERM)"), "{log}");
    drop(stalled);
}

#[tokio::test]
async fn a_flood_of_unknown_source_names_adds_one_metrics_label() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(dir.path(), &fixture().join("rules"), &[]);
    let c = client();
    for i in 0..500 {
        let r = c
            .post(s.url(&format!("/webhooks/nope-{i}")))
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 404);
    }
    let metrics = support::metrics_text(&s).await;
    assert!(!metrics.contains("nope-"), "a URL became a label");
    let unknown: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("outcome=\"unknown_source\""))
        .collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert!(unknown[0].ends_with(" 500"), "{unknown:?}");
}
