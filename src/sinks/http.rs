//! What every HTTP sink shares: one way to read an answer as success,
//! "try again later" or "this will never work", and one limiter that spaces
//! requests to a service across all workers.
//!
//! The rule of thumb the real services document (Notion, Slack, webhooks in
//! general): 408, 409, 429 and 5xx are worth retrying, honouring Retry-After;
//! any other 4xx means the request itself is wrong and resending it changes
//! nothing, so the job is parked with the service's own message.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::SinkError;

/// One HTTP client for a sink: connection reuse, and a timeout so a hung
/// peer becomes a retryable failure instead of a stuck worker.
pub fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("hsflow/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("can't build the HTTP client: {e}"))
}

/// The longest Retry-After believed. A service may answer anything (a
/// misconfigured proxy, a hostile endpoint: `Retry-After: 100000000000000`);
/// past a day it is read as a day, so no time arithmetic can overflow. The
/// dispatcher then caps it again at its own, configurable, maximum.
pub const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 3600);

/// `Retry-After` as seconds or as an HTTP date, at most [`RETRY_AFTER_CEILING`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    read_retry_after(headers).map(|d| d.min(RETRY_AFTER_CEILING))
}

fn read_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Whether a status is worth another attempt.
pub fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::CONFLICT
}

/// A failed answer as a sink error; `what` names the service, `reason` is its message.
pub fn failure(what: &str, status: StatusCode, headers: &HeaderMap, reason: &str) -> SinkError {
    let reason = format!("{what} answered {status}: {}", reason.trim());
    if retryable(status) {
        SinkError::Retryable {
            reason,
            retry_after: retry_after(headers),
        }
    } else {
        SinkError::Permanent(reason)
    }
}

/// A request that got no answer (refused, reset, timed out): always retryable.
pub fn unreachable(what: &str, e: &reqwest::Error) -> SinkError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    // reqwest's Display includes the URL; keep the chain for the cause.
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        cause = e.to_string();
    }
    SinkError::retryable(format!("the request to {what} {kind}: {cause}"))
}

/// Send one request and read the answer: `(status, body)` on 2xx, else the
/// failure classified as retryable or permanent. `what` names the service.
///
/// A target that answered 429 or 503 with a Retry-After is paused for every
/// worker (see [`pauses`]): nothing more is sent to it until then.
pub async fn send(
    http: &reqwest::Client,
    what: &str,
    method: reqwest::Method,
    url: &str,
    headers: &[(String, String)],
    json_body: Option<Vec<u8>>,
) -> Result<(u16, String), SinkError> {
    let target = pauses::target_of(url);
    pauses::honour(&target, what).await?;
    let mut req = http.request(method, url);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    if let Some(b) = json_body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.map_err(|e| unreachable(what, &e))?;
    let status = resp.status();
    let hdrs = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    if status.is_success() {
        Ok((status.as_u16(), text))
    } else {
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            if let Some(wait) = retry_after(&hdrs) {
                pauses::pause(&target, wait);
            }
        }
        Err(failure(what, status, &hdrs, &reason_of(&text)))
    }
}

/// POST a JSON body with a bearer token; the status and the parsed answer.
pub async fn post_json(
    http: &reqwest::Client,
    what: &str,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> Result<(u16, serde_json::Value), SinkError> {
    let auth = [("Authorization".to_string(), format!("Bearer {token}"))];
    let body = Some(body.to_string().into_bytes());
    let (status, answer) = send(http, what, reqwest::Method::POST, url, &auth, body).await?;
    Ok((status, serde_json::from_str(&answer).unwrap_or_default()))
}

/// The service's own words from an error body: `message` (HubSpot, Notion),
/// `errors[0].message` (Beehiiv), else the text itself (Slack's plain strings).
pub fn reason_of(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let msg = v["message"]
        .as_str()
        .or_else(|| v.pointer("/errors/0/message").and_then(|m| m.as_str()));
    match msg {
        Some(m) => m.to_string(),
        None => body.chars().take(300).collect(),
    }
}

/// Requests spaced evenly at a rate, shared by every worker of a sink.
///
/// Notion allows an average of 3 requests/s per integration; spacing them
/// (rather than bursting and collecting 429s) is what its docs ask for. A 429
/// pauses everyone: a worker already waiting for its slot looks at the pause
/// again when its slot comes, and takes a new slot after it, so nothing is
/// sent inside the window the service asked for.
pub struct Spacing {
    interval: Duration,
    next: Mutex<Instant>,
    /// Nothing is sent before this instant (a 429's Retry-After).
    paused_until: std::sync::Mutex<Instant>,
}

impl Spacing {
    pub fn per_second(rate: f64) -> Spacing {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            3.0
        };
        Spacing {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(Instant::now()),
            paused_until: std::sync::Mutex::new(Instant::now()),
        }
    }

    fn paused_until(&self) -> Instant {
        *self.paused_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for this caller's slot. A pause longer than `inline_max` is not
    /// waited out here (a worker would hold its job for that long): the
    /// remaining pause comes back as the error, for the dispatcher to retry
    /// the job after it.
    pub async fn wait(&self, inline_max: Duration) -> Result<(), Duration> {
        loop {
            let left = self
                .paused_until()
                .saturating_duration_since(Instant::now());
            if left > inline_max {
                return Err(left);
            }
            let at = {
                let mut next = self.next.lock().await;
                let at = (*next).max(Instant::now()).max(self.paused_until());
                *next = at + self.interval;
                at
            };
            tokio::time::sleep_until(at).await;
            // A pause may have begun while this caller slept: honour it too.
            if self.paused_until() <= Instant::now() {
                return Ok(());
            }
        }
    }

    /// The service asked everyone to wait `d`.
    pub async fn pause(&self, d: Duration) {
        let until = Instant::now() + d.min(RETRY_AFTER_CEILING);
        {
            let mut p = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            *p = (*p).max(until);
        }
        let mut next = self.next.lock().await;
        *next = (*next).max(until);
    }
}

/// Pauses per target (scheme, host and port) for the sinks that have no
/// [`Spacing`] of their own: Slack, webhooks, Beehiiv, HubSpot. One map for
/// the process; a 429 from one host never slows another.
pub mod pauses {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::time::Instant;

    use crate::sinks::SinkError;

    /// Pauses up to this long are waited out by the worker; longer ones send
    /// the job back to the dispatcher with the time left.
    pub const INLINE_MAX: Duration = Duration::from_secs(10);

    static PAUSED: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

    /// The part of a URL a pause applies to.
    pub fn target_of(url: &str) -> String {
        match reqwest::Url::parse(url) {
            Ok(u) => format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port_or_known_default().unwrap_or(0)
            ),
            Err(_) => url.to_string(),
        }
    }

    fn until(target: &str) -> Option<Instant> {
        let map = PAUSED.lock().unwrap_or_else(|p| p.into_inner());
        map.as_ref()?.get(target).copied()
    }

    /// Pause `target` for `d` (never shortening a pause already running).
    pub fn pause(target: &str, d: Duration) {
        let at = Instant::now() + d.min(super::RETRY_AFTER_CEILING);
        let mut map = PAUSED.lock().unwrap_or_else(|p| p.into_inner());
        let map = map.get_or_insert_with(HashMap::new);
        let now = Instant::now();
        // Pauses that ended are forgotten, so the map holds only live ones.
        map.retain(|_, t| *t > now);
        let e = map.entry(target.to_string()).or_insert(at);
        *e = (*e).max(at);
    }

    /// Wait out a short pause of `target`; a long one is a retryable error
    /// carrying the time left, and nothing is sent.
    pub async fn honour(target: &str, what: &str) -> Result<(), SinkError> {
        while let Some(t) = until(target) {
            let left = t.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if left > INLINE_MAX {
                return Err(SinkError::Retryable {
                    reason: format!(
                        "{what} asked for a pause ({}s left); nothing was sent",
                        left.as_secs()
                    ),
                    retry_after: Some(left),
                });
            }
            tokio::time::sleep_until(t).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert("retry-after", later.parse().expect("header"));
        let d = retry_after(&h).map(|d| d.as_secs()).unwrap_or(0);
        assert!((25..=30).contains(&d), "{d}");
        h.insert("retry-after", "soon".parse().expect("header"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn rate_limits_and_server_errors_are_retried_but_bad_requests_are_not() {
        let h = HeaderMap::new();
        for s in [429, 500, 502, 503, 504, 529, 408, 409] {
            let status = StatusCode::from_u16(s).expect("status");
            assert!(
                matches!(failure("x", status, &h, "m"), SinkError::Retryable { .. }),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 410, 422] {
            let status = StatusCode::from_u16(s).expect("status");
            assert!(
                matches!(failure("x", status, &h, "m"), SinkError::Permanent(_)),
                "{s}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn spacing_spreads_requests_evenly() {
        let s = Spacing::per_second(4.0);
        let t = tokio::time::Instant::now();
        let inline = Duration::from_secs(10);
        for _ in 0..5 {
            s.wait(inline).await.expect("no pause");
        }
        // 5 slots at 250 ms intervals: the last starts 1 s after the first.
        assert_eq!(t.elapsed().as_millis(), 1000);
        s.pause(Duration::from_secs(3)).await;
        let t = tokio::time::Instant::now();
        s.wait(inline).await.expect("a short pause is waited out");
        assert!(t.elapsed() >= Duration::from_secs(3));
        // A pause longer than the caller may wait comes back as the time left.
        s.pause(Duration::from_secs(60)).await;
        let left = s.wait(inline).await.expect_err("too long to wait inline");
        assert!(left > Duration::from_secs(50), "{left:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_stops_callers_already_waiting_for_their_slot() {
        let s = std::sync::Arc::new(Spacing::per_second(10.0));
        let t = tokio::time::Instant::now();
        // Five callers reserve slots at 0, 100, ... 400 ms.
        let mut waiting = Vec::new();
        for _ in 0..5 {
            let s = s.clone();
            waiting.push(tokio::spawn(async move {
                s.wait(Duration::from_secs(10)).await.expect("short pause");
                tokio::time::Instant::now()
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The first request got a 429 asking for 2 s.
        s.pause(Duration::from_secs(2)).await;
        let mut sent = Vec::new();
        for w in waiting {
            sent.push(w.await.expect("task"));
        }
        sent.sort();
        // The first went before the 429; every other one waits out the pause.
        assert_eq!(sent[0] - t, Duration::ZERO);
        for at in &sent[1..] {
            assert!(*at - t >= Duration::from_millis(2050), "{:?}", *at - t);
        }
    }

    #[test]
    fn a_huge_retry_after_is_read_as_a_day() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "100000000000000".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(RETRY_AFTER_CEILING));
        h.insert(
            "retry-after",
            "99999999999999999999999".parse().expect("header"),
        );
        // Too big for a number at all: not a Retry-After hsflow can use.
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_target_sends_nothing_until_the_pause_ends() {
        let target = pauses::target_of("https://hooks.example.test:8443/x");
        assert_eq!(target, "https://hooks.example.test:8443");
        pauses::pause(&target, Duration::from_secs(3));
        let t = tokio::time::Instant::now();
        pauses::honour(&target, "Slack").await.expect("short");
        assert!(t.elapsed() >= Duration::from_secs(3));
        pauses::pause(&target, Duration::from_secs(600));
        match pauses::honour(&target, "Slack").await {
            Err(SinkError::Retryable {
                retry_after: Some(d),
                ..
            }) => {
                assert!(d > Duration::from_secs(590), "{d:?}")
            }
            other => panic!("expected a retryable pause, got {other:?}"),
        }
        // Another host is not paused.
        pauses::honour("https://other.example.test:443", "Slack")
            .await
            .expect("other host");
    }
}
