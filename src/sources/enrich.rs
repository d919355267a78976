//! Running `[[enrich]]` steps: the requests that fetch what a webhook only
//! points to (an Acuity appointment behind its id), each response kept in
//! the payload under the step's name, so field mappings read it as
//! `$.<name>.…`.
//!
//! Two ways to run them: against the API ([`fetch`]: a timeout per try,
//! retries with backoff on 429, 5xx and no answer, Retry-After honoured),
//! or offline from a fixture ([`from_fixture`]: `hsflow simulate --enriched`
//! and rule tests, which must never call a vendor). Both leave a trace of
//! each step: the request as sent (never a secret: credentials go in
//! headers, which the trace leaves out) and what came back.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::rules::compile::enrich::{Part, Step};
use crate::rules::model::{EnrichAuth, EnrichMethod};

/// The longest Retry-After waited for between tries of one request.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(30);

/// One step as it ran.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepTrace {
    pub name: String,
    pub method: &'static str,
    /// The URL requested (credentials are never in it).
    pub url: String,
    /// The API's last status code; none when it never answered (or a fixture stood in).
    pub status: Option<u16>,
    pub tries: u32,
    /// What came back (the fixture, when it stood in for the API).
    pub response: Value,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_fixture: bool,
}

/// Why enrichment stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnrichError {
    /// Worth trying again later: no answer, 429, 5xx.
    #[error("{reason}")]
    Retryable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Will fail the same way again: the webhook lacks a value the path
    /// needs, the API refused the credentials, the record doesn't exist.
    #[error("{0}")]
    Permanent(String),
}

/// Path segments keep letters, digits and `-._~`; anything else is %XX.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The step's base URL: its `base_url_env` when set, else its `base_url`.
fn base(step: &Step, env: &dyn Fn(&str) -> Option<String>) -> String {
    let base = step
        .base_url_env
        .as_deref()
        .and_then(env)
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| step.base_url.clone());
    base.trim_end_matches('/').to_string()
}

/// The step's URL for `payload`, or why it can't be made.
pub fn url(
    step: &Step,
    payload: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = base(step, env);
    for part in &step.path {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Value(names) => {
                let v = names.iter().try_fold(payload, |v, k| v.get(k));
                match v {
                    Some(Value::String(s)) if !s.is_empty() => out.push_str(&encode(s)),
                    Some(Value::Number(n)) => out.push_str(&n.to_string()),
                    _ => {
                        return Err(format!(
                            "step `{}` needs `{}` for its endpoint {}, and the webhook has none",
                            step.name,
                            names.join("."),
                            step.path_text
                        ))
                    }
                }
            }
        }
    }
    Ok(out)
}

/// What an API said when it refused, in its own words when it gave some
/// (a JSON `message`, or the start of its text): ": Appointment not found.".
fn said(body: &str) -> String {
    let words = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    if words.is_empty() {
        String::new()
    } else {
        format!(": {words}")
    }
}

fn method_word(m: EnrichMethod) -> &'static str {
    match m {
        EnrichMethod::Get => "GET",
        EnrichMethod::Post => "POST",
    }
}

/// Add the step's credentials to `req`, or say which variable is missing.
fn sign_in(
    req: reqwest::RequestBuilder,
    auth: Option<&EnrichAuth>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<reqwest::RequestBuilder, String> {
    let get = |name: &str| {
        env(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{name} is not set, so hsflow can't sign in to the API; set it to the API's credential"))
    };
    Ok(match auth {
        None => req,
        Some(EnrichAuth::Basic {
            user_env,
            password_env,
        }) => req.basic_auth(get(user_env)?, Some(get(password_env)?)),
        Some(EnrichAuth::Bearer { token_env }) => req.bearer_auth(get(token_env)?),
        Some(EnrichAuth::Header { name, value_env }) => req.header(name.as_str(), get(value_env)?),
    })
}

/// Seconds from a Retry-After header (seconds only; a date counts as none).
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Run `steps` against their APIs, each response put into `payload` under
/// its name. `retries` says whether each step's own retries are made here
/// (false: one try, and the caller retries later).
pub async fn fetch(
    client: &reqwest::Client,
    steps: &[Step],
    payload: &mut Value,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    retries: bool,
) -> Result<Vec<StepTrace>, (EnrichError, Vec<StepTrace>)> {
    let mut trace = Vec::new();
    for step in steps {
        let url = match url(step, payload, env) {
            Ok(u) => u,
            Err(why) => return Err((EnrichError::Permanent(why), trace)),
        };
        let mut t = StepTrace {
            name: step.name.to_string(),
            method: method_word(step.method),
            url: url.clone(),
            status: None,
            tries: 0,
            response: Value::Null,
            from_fixture: false,
        };
        let most = if retries { step.retries + 1 } else { 1 };
        let outcome = loop {
            t.tries += 1;
            let req = match step.method {
                EnrichMethod::Get => client.get(&url),
                EnrichMethod::Post => client.post(&url),
            }
            .timeout(step.timeout)
            .header("accept", "application/json");
            let req = step
                .headers
                .iter()
                .fold(req, |r, (k, v)| r.header(k.as_str(), v.as_str()));
            let req = match sign_in(req, step.auth.as_ref(), env) {
                Ok(r) => r,
                Err(why) => break Err(EnrichError::Permanent(why)),
            };
            let failure = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    t.status = Some(status.as_u16());
                    let wait = retry_after(&resp);
                    if status.is_success() {
                        match resp.json::<Value>().await {
                            Ok(v) => break Ok(v),
                            Err(e) => {
                                break Err(EnrichError::Permanent(format!(
                                    "step `{}`: {url} answered {status} with something that is not JSON ({e})",
                                    step.name
                                )))
                            }
                        }
                    }
                    let words = resp.text().await.unwrap_or_default();
                    let words: String = words.chars().take(200).collect();
                    match status.as_u16() {
                        429 | 500..=599 => EnrichError::Retryable {
                            reason: format!("step `{}`: {url} answered {status}: {words}", step.name),
                            retry_after: wait,
                        },
                        401 | 403 => break Err(EnrichError::Permanent(format!(
                            "step `{}`: {url} refused hsflow's credentials ({status}{}); check the variables its `auth` names",
                            step.name, said(&words)
                        ))),
                        404 => break Err(EnrichError::Permanent(format!(
                            "step `{}`: {url} found nothing (404{}): the webhook points to a record the API doesn't have",
                            step.name, said(&words)
                        ))),
                        _ => break Err(EnrichError::Permanent(format!(
                            "step `{}`: {url} answered {status}: {words}",
                            step.name
                        ))),
                    }
                }
                Err(e) => EnrichError::Retryable {
                    reason: if e.is_timeout() {
                        format!(
                            "step `{}`: {url} did not answer within {}s",
                            step.name,
                            step.timeout.as_secs()
                        )
                    } else {
                        format!("step `{}`: {url} could not be reached ({e})", step.name)
                    },
                    retry_after: None,
                },
            };
            if t.tries >= most {
                break Err(failure);
            }
            // Backoff: half a second, doubling; the API's Retry-After when it says (capped).
            let backoff = Duration::from_millis(500 * 2u64.pow(t.tries.min(6) - 1));
            let wait = match &failure {
                EnrichError::Retryable {
                    retry_after: Some(d),
                    ..
                } => (*d).min(RETRY_AFTER_MAX),
                _ => backoff,
            };
            tokio::time::sleep(wait).await;
        };
        match outcome {
            Ok(v) => {
                t.response = v.clone();
                if let Value::Object(m) = payload {
                    m.insert(step.name.to_string(), v);
                }
                trace.push(t);
            }
            Err(e) => {
                trace.push(t);
                return Err((e, trace));
            }
        }
    }
    Ok(trace)
}

/// Put each step's response from `fixture` into `payload`, offline: the
/// fixture holds one key per step name, or (with one step) the response itself.
pub fn from_fixture(
    steps: &[Step],
    payload: &mut Value,
    fixture: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<StepTrace>, String> {
    let mut trace = Vec::new();
    for step in steps {
        let response = match fixture.get(&*step.name) {
            Some(v) => v.clone(),
            None if steps.len() == 1 => fixture.clone(),
            None => {
                return Err(format!(
                    "the enriched fixture has no `{}` (it needs one key per step: {})",
                    step.name,
                    steps
                        .iter()
                        .map(|s| s.name.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        };
        let url = url(step, payload, env)?;
        if let Value::Object(m) = payload {
            m.insert(step.name.to_string(), response.clone());
        }
        trace.push(StepTrace {
            name: step.name.to_string(),
            method: method_word(step.method),
            url,
            status: None,
            tries: 0,
            response,
            from_fixture: true,
        });
    }
    Ok(trace)
}

/// Read a file of the API's answers (`simulate --enriched`, a rule test's
/// `enriched`): JSON, one key per step name, or the response itself.
pub fn read_answers(path: &std::path::Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| format!("it is not JSON: {e}"))
}

/// The answers an event's explain trace kept (`trace.enrich`), as a fixture
/// for [`from_fixture`]: one key per step name. None when nothing was fetched.
pub fn answers(trace: &Value) -> Option<Value> {
    let steps = trace.get("enrich")?.as_array()?;
    let map: serde_json::Map<String, Value> = steps
        .iter()
        .filter_map(|s| {
            Some((
                s.get("name")?.as_str()?.to_string(),
                s.get("response")?.clone(),
            ))
        })
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

/// `hsflow check`: request the step's `check_endpoint` with its credentials
/// once; what it proved, or what to fix. None when the step names none.
pub async fn probe(
    client: &reqwest::Client,
    step: &Step,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Option<Result<String, String>> {
    let path = step.check_endpoint.as_deref()?;
    let url = format!("{}{path}", base(step, env));
    let req = match sign_in(
        client.get(&url).timeout(step.timeout),
        step.auth.as_ref(),
        env,
    ) {
        Ok(r) => r,
        Err(why) => return Some(Err(why)),
    };
    Some(match req.send().await {
        Ok(r) if r.status().is_success() => Ok(format!(
            "GET {url} answers {} with these credentials",
            r.status()
        )),
        Ok(r) if matches!(r.status().as_u16(), 401 | 403) => Err(format!(
            "GET {url} refused the credentials ({}); check the variables the step's `auth` names",
            r.status()
        )),
        Ok(r) => Err(format!("GET {url} answered {}", r.status())),
        Err(e) => Err(format!("GET {url} could not be reached: {e}")),
    })
}
