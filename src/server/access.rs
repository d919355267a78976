//! Every request's id and its line in the access log.
//!
//! A request carries an id: the caller's `X-Request-Id` when it sent one
//! (a proxy's, say), else a new one ([`MakeId`]; tower-http's request-id
//! layers set it and echo it in the answer). Every log line written while the request is
//! served carries it (a `request` span), and the stored event keeps it among
//! its headers, so a line in the log, an answer a sender got and an event
//! in the store can be matched.
//!
//! The access log: a refused request (4xx or 5xx) always gets a line, with
//! its status, method, path, peer and the reason it was given, never a
//! header or a body (secrets live there). Accepted requests are logged at
//! debug level: at thousands per second, a line each would cost intake.
//! Every error answer leaves here in the one JSON shape (see errors.rs).

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::errors::{self, Reason};

/// Request ids made here: a random prefix per process and a counter, so
/// each is unique across restarts and costs no system call (a UUID per
/// request read the OS's random source each time).
#[derive(Clone, Copy, Default)]
pub struct MakeId;

impl tower_http::request_id::MakeRequestId for MakeId {
    fn make_request_id<B>(
        &mut self,
        _request: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::sync::OnceLock;
        static PREFIX: OnceLock<String> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let prefix =
            PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_string());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{prefix}-{n}"))
            .ok()
            .map(tower_http::request_id::RequestId::new)
    }
}

/// The longest id or path written to the log.
const MAX_LOGGED: usize = 120;

fn clip(s: &str) -> &str {
    match s.char_indices().nth(MAX_LOGGED) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub async fn log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| clip(v).to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    // The route's pattern, not the path: a metric label from a URL would
    // let anyone add series.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let path = clip(req.uri().path()).to_string();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
        .unwrap_or_default();
    let span = tracing::info_span!("request", id = %id);
    let resp = next.run(req).instrument(span.clone()).await;
    let resp = errors::as_json(resp).await;
    let status = resp.status().as_u16();
    let took = started.elapsed();
    super::metrics::record_request(&route, status, took);
    // Milliseconds to the microsecond: enough to read, no float noise.
    let ms = (took.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    let _in = span.enter();
    if status >= 400 {
        let reason = resp
            .extensions()
            .get::<Reason>()
            .map(|r| format!("refused: {}", r.0))
            // A status without a reason of its own (/health's 503 when degraded).
            .unwrap_or_else(|| "refused".to_string());
        if status >= 500 {
            tracing::warn!(target: "hsflow::access", %method, path, status, ms, peer, "{reason}");
        } else {
            tracing::info!(target: "hsflow::access", %method, path, status, ms, peer, "{reason}");
        }
    } else {
        tracing::debug!(target: "hsflow::access", %method, path, status, ms, peer, "served");
    }
    resp
}
