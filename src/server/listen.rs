//! The HTTP edge: accepting connections with the bounds a server facing the
//! open internet needs.
//!
//! `axum::serve` has none: a client that sends half a header is held
//! forever, a thousand such clients use up the process's file descriptors
//! (and then nobody is answered), and a graceful shutdown waits for them
//! without end. Here each connection is served by hyper's HTTP/1 server with:
//! - a **header timeout**, which also bounds the idle wait between two
//!   requests on a kept-alive connection (hyper starts it whenever it waits
//!   for a request head);
//! - a **body timeout** (tower-http), so a body that trickles in is cut off;
//! - a **connection limit**: past it, new connections wait in the kernel's
//!   backlog until one closes, instead of costing a descriptor each;
//! - a **bounded graceful shutdown**: on SIGTERM or Ctrl-C the listener
//!   closes, connections finish the request they are serving and close, and
//!   whatever is still open after the grace period is cut. Each step is
//!   logged with its reason.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The edge's bounds (see `hsflow serve --help`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// A request's head must arrive within this; also the longest idle wait.
    pub header_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Why the server stopped taking requests.
pub type Reason = String;

/// Serve `router` on `listener` until `shutdown` yields its reason; then stop
/// within `limits.shutdown_grace`. The peer's address is in each request's
/// extensions (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: impl Future<Output = Reason>,
) -> Reason {
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        limits.body_timeout,
    ));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let mut warned_full = false;
    tokio::pin!(shutdown);
    let reason = loop {
        // A slot first: at the limit, stop accepting until a connection closes.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break "the connection limit was closed".to_string(),
            },
            r = &mut shutdown => break r,
        };
        let (stream, peer) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a reset before accept:
                    // wait a moment rather than spin, and keep serving.
                    tracing::warn!("could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            r = &mut shutdown => break r,
        };
        if slots.available_permits() == 0 && !warned_full {
            tracing::warn!(
                "{} connections are open, the limit: new ones wait until one closes (HSFLOW_MAX_CONNECTIONS)",
                limits.max_connections
            );
        }
        warned_full = slots.available_permits() == 0;
        // The peer's address goes into each request, for the access log.
        let service = TowerToHyperService::new(tower::util::MapRequest::new(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            },
        ));
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            drop(slot);
        });
    };
    drop(listener);
    let open = limits.max_connections.max(1) - slots.available_permits();
    tracing::info!(
        "shutting down ({reason}): no new connections; {open} open, given {}s to finish their requests",
        limits.shutdown_grace.as_secs()
    );
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("every connection finished"),
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            let left = limits.max_connections.max(1) - slots.available_permits();
            tracing::warn!("{left} connections were still open after {}s and were cut", limits.shutdown_grace.as_secs());
        }
    }
    reason
}

/// Ctrl-C or SIGTERM, named.
pub async fn signal() -> Reason {
    let ctrl_c = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C (SIGINT)".to_string(),
            // No signal handling here: never stop on our own.
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                r = ctrl_c => r,
                _ = term.recv() => "SIGTERM".to_string(),
            },
            Err(_) => ctrl_c.await,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await
}

/// Where the server listens, for the log.
pub fn describe(addr: SocketAddr, limits: &Limits) -> String {
    format!(
        "http://{addr} (header/idle timeout {}s, body timeout {}s, at most {} connections)",
        limits.header_timeout.as_secs(),
        limits.body_timeout.as_secs(),
        limits.max_connections
    )
}
