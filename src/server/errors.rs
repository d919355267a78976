//! One shape for every error the HTTP API answers: `{"error": "<sentence>"}`
//! with a JSON content type, whatever produced it: a handler ([`error`]),
//! or axum itself (a body that isn't JSON, a wrong content type, a body over
//! the limit, a method the route doesn't take, an unknown route), whose
//! answers are plain text and are rewritten here ([`as_json`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Why a request was refused, kept on the response for the access log.
#[derive(Debug, Clone)]
pub struct Reason(pub String);

/// An error answer: the status and a sentence saying what to do.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    let msg = msg.into();
    let mut resp = (status, Json(json!({ "error": msg }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"hsflow\""),
        );
    }
    resp.extensions_mut().insert(Reason(msg));
    resp
}

/// Longest error body read back when rewriting one (axum's are short).
const MAX_TEXT: usize = 4096;

/// An error answer that isn't JSON yet (axum's own) as the one shape; any
/// other answer as it is.
pub async fn as_json(resp: Response) -> Response {
    let status = resp.status();
    // axum's own refusals are plain text or empty; JSON is already the
    // shape, and an HTML page (the console's) is meant for a browser.
    let plain = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let msg = match (status, text.is_empty()) {
        (StatusCode::NOT_FOUND, true) => {
            "there is no such route; GET /openapi.json lists them".to_string()
        }
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            "this route doesn't take this method; the Allow header lists the ones it takes"
                .to_string()
        }
        (StatusCode::PAYLOAD_TOO_LARGE, _) => {
            "the body is larger than this server takes (HSFLOW_BODY_LIMIT)".to_string()
        }
        (_, true) => status
            .canonical_reason()
            .unwrap_or("the request was refused")
            .to_string(),
        (_, false) => text,
    };
    let mut out = error(status, msg);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
