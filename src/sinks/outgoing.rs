//! Outgoing HTTP: notifications to Slack (incoming webhooks) or to any JSON
//! endpoint, and the `webhook` action.
//!
//! Every request carries `Idempotency-Key: <job id>`, so a receiver that
//! keeps keys can drop the second copy of a retried delivery. A `webhook`
//! action with `sign_secret_env` also carries
//! `X-Hsflow-Signature: sha256=<hex HMAC-SHA256 of the body>`, the scheme
//! hsflow itself accepts from senders, so two hsflow servers can talk.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::http;
use super::SinkError;
use crate::rules::model::{HttpMethod, SignatureEncoding};
use crate::sources::auth::sign;

/// Where notifications go.
#[derive(Debug, Clone, PartialEq)]
pub enum NotifyTarget {
    /// A Slack incoming webhook URL; [`channel_env`] overrides it for one channel.
    Slack { url: String },
    /// Any endpoint taking `{channel, text, urgent, entity, job}` as JSON.
    Json { url: String },
}

pub struct Outgoing {
    http: reqwest::Client,
    pub notify: Option<NotifyTarget>,
}

/// The env var that overrides the Slack URL for `channel`:
/// "gallery curator" -> `HSFLOW_SLACK_WEBHOOK_URL_GALLERY_CURATOR`.
pub fn channel_env(channel: &str) -> String {
    let tail: String = channel
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("HSFLOW_SLACK_WEBHOOK_URL_{tail}")
}

impl Outgoing {
    pub fn new(notify: Option<NotifyTarget>, timeout: Duration) -> Result<Outgoing, String> {
        Ok(Outgoing {
            http: http::client(timeout)?,
            notify,
        })
    }

    async fn send(
        &self,
        what: &str,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<(u16, String), SinkError> {
        http::send(&self.http, what, method, url, headers, body).await
    }

    /// A staff notification.
    pub async fn notify(
        &self,
        job_id: &str,
        channel: &str,
        text: &str,
        urgent: bool,
        entity: Option<&str>,
    ) -> Result<String, SinkError> {
        let idem = [("Idempotency-Key".to_string(), job_id.to_string())];
        match &self.notify {
            None => Err(SinkError::Permanent(
                "no notification target is configured".into(),
            )),
            Some(NotifyTarget::Slack { url }) => {
                // Read at send time, so a channel's own webhook can be added without a restart.
                let own = std::env::var(channel_env(channel))
                    .ok()
                    .filter(|u| !u.is_empty());
                let url = own.as_deref().unwrap_or(url);
                let headline = if urgent {
                    format!(":rotating_light: *{channel}*")
                } else {
                    format!("*{channel}*")
                };
                let context = format!("{} · job {job_id}", entity.unwrap_or("HigherSelf Network"));
                let body = json!({
                    "text": format!("[{channel}] {text}"),
                    "blocks": [
                        {"type": "section", "text": {"type": "mrkdwn", "text": format!("{headline}\n{text}")}},
                        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}
                    ]
                });
                let (_, answer) = self
                    .send(
                        "Slack",
                        Method::POST,
                        url,
                        &idem,
                        Some(body.to_string().into_bytes()),
                    )
                    .await?;
                // Slack answers a plain `ok`; anything else is its reason for refusing.
                if answer.trim() == "ok" {
                    Ok(format!("notified {channel} on Slack"))
                } else {
                    Err(SinkError::Permanent(format!(
                        "Slack did not accept the message: {}",
                        answer.trim()
                    )))
                }
            }
            Some(NotifyTarget::Json { url }) => {
                let body = json!({"channel": channel, "text": text, "urgent": urgent, "entity": entity, "job": job_id});
                self.send(
                    "the notification webhook",
                    Method::POST,
                    url,
                    &idem,
                    Some(body.to_string().into_bytes()),
                )
                .await?;
                Ok(format!("notified {channel} at {url}"))
            }
        }
    }

    /// The `webhook` action.
    pub async fn webhook(
        &self,
        job_id: &str,
        url: &str,
        method: HttpMethod,
        headers: &BTreeMap<String, String>,
        body: &Value,
        sign_secret_env: Option<&str>,
    ) -> Result<String, SinkError> {
        let method = match method {
            HttpMethod::Post => Method::POST,
            HttpMethod::Put => Method::PUT,
            HttpMethod::Patch => Method::PATCH,
            HttpMethod::Delete => Method::DELETE,
            HttpMethod::Get => Method::GET,
        };
        let bytes = (method != Method::GET).then(|| body.to_string().into_bytes());
        let mut hdrs: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        hdrs.push(("Idempotency-Key".into(), job_id.into()));
        if let Some(env) = sign_secret_env {
            let secret = std::env::var(env)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    SinkError::Permanent(format!(
                        "the webhook must be signed, but {env} is not set"
                    ))
                })?;
            let signed = bytes.as_deref().unwrap_or_default();
            hdrs.push((
                "X-Hsflow-Signature".into(),
                sign(SignatureEncoding::Hex, Some("sha256="), &secret, signed),
            ));
        }
        let (status, _) = self
            .send(
                &format!("the webhook {url}"),
                method.clone(),
                url,
                &hdrs,
                bytes,
            )
            .await?;
        Ok(format!("{method} {url}: {status}"))
    }
}
