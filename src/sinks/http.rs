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

/// `Retry-After` as seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
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
pub async fn send(
    http: &reqwest::Client,
    what: &str,
    method: reqwest::Method,
    url: &str,
    headers: &[(String, String)],
    json_body: Option<Vec<u8>>,
) -> Result<(u16, String), SinkError> {
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
/// pushes the next slot back for everyone, not just the worker that got it.
pub struct Spacing {
    interval: Duration,
    next: Mutex<Instant>,
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
        }
    }

    /// Wait for this caller's slot.
    pub async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// The service asked everyone to wait `d`.
    pub async fn pause(&self, d: Duration) {
        let mut next = self.next.lock().await;
        *next = (*next).max(Instant::now() + d);
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
        for _ in 0..5 {
            s.wait().await;
        }
        // 5 slots at 250 ms intervals: the last starts 1 s after the first.
        assert_eq!(t.elapsed().as_millis(), 1000);
        s.pause(Duration::from_secs(3)).await;
        let t = tokio::time::Instant::now();
        s.wait().await;
        assert!(t.elapsed() >= Duration::from_secs(3));
    }
}
