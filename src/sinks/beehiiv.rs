//! Beehiiv: subscribe a contact to the newsletter (flows 4 and 8 sync new
//! contacts and segments there).
//!
//! `POST /v2/publications/{publication}/subscriptions` with a bearer key.
//! Beehiiv keys subscriptions by email, so sending the same subscription
//! twice (a retry after a lost answer) leaves one subscriber: the call is
//! idempotent by nature. Custom fields must already exist in the publication;
//! an unknown one is Beehiiv's 400, and the job is parked with its message.

use serde_json::{json, Value};

use super::{http, SinkError};
use crate::engine::action::Payload;

#[derive(Debug, Clone)]
pub struct BeehiivConfig {
    pub base_url: String,
    pub api_key: String,
    pub publication_id: String,
}

pub struct BeehiivSink {
    http: reqwest::Client,
    cfg: BeehiivConfig,
}

impl BeehiivSink {
    pub fn new(cfg: BeehiivConfig, timeout: std::time::Duration) -> Result<BeehiivSink, String> {
        Ok(BeehiivSink {
            http: http::client(timeout)?,
            cfg,
        })
    }

    /// The request body of a subscription.
    pub fn body(payload: &Payload) -> Option<Value> {
        let Payload::Beehiiv {
            email,
            utm_source,
            utm_campaign,
            custom_fields,
            send_welcome_email,
            reactivate_existing,
        } = payload
        else {
            return None;
        };
        let mut body = json!({
            "email": email,
            "reactivate_existing": reactivate_existing,
            "send_welcome_email": send_welcome_email,
        });
        if let Some(s) = utm_source {
            body["utm_source"] = json!(s);
        }
        if let Some(c) = utm_campaign {
            body["utm_campaign"] = json!(c);
        }
        if !custom_fields.is_empty() {
            body["custom_fields"] = custom_fields
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
        }
        Some(body)
    }

    pub async fn subscribe(&self, payload: &Payload) -> Result<String, SinkError> {
        let body = Self::body(payload)
            .ok_or_else(|| SinkError::Permanent("not a Beehiiv subscription".into()))?;
        let url = format!(
            "{}/v2/publications/{}/subscriptions",
            self.cfg.base_url.trim_end_matches('/'),
            self.cfg.publication_id
        );
        let (_, v) = http::post_json(&self.http, "Beehiiv", &url, &self.cfg.api_key, &body).await?;
        Ok(format!(
            "Beehiiv subscription {} for {} ({})",
            v.pointer("/data/id").and_then(Value::as_str).unwrap_or("?"),
            body["email"].as_str().unwrap_or(""),
            v.pointer("/data/status")
                .and_then(Value::as_str)
                .unwrap_or("?")
        ))
    }
}
