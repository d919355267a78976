//! HubSpot: create or update a contact by email (the older server's optional
//! CRM sync).
//!
//! `POST /crm/v3/objects/contacts/batch/upsert` with `idProperty: "email"`:
//! HubSpot itself finds the contact by email, so a repeated upsert updates
//! the same contact and never makes a second one.

use serde_json::{json, Value};

use super::{http, SinkError};
use crate::engine::action::Payload;

#[derive(Debug, Clone)]
pub struct HubspotConfig {
    pub base_url: String,
    pub token: String,
}

pub struct HubspotSink {
    http: reqwest::Client,
    cfg: HubspotConfig,
}

impl HubspotSink {
    pub fn new(cfg: HubspotConfig, timeout: std::time::Duration) -> Result<HubspotSink, String> {
        Ok(HubspotSink {
            http: http::client(timeout)?,
            cfg,
        })
    }

    pub async fn upsert(&self, payload: &Payload) -> Result<String, SinkError> {
        let Payload::Hubspot { email, properties } = payload else {
            return Err(SinkError::Permanent("not a HubSpot contact".into()));
        };
        let body =
            json!({"inputs": [{"id": email, "idProperty": "email", "properties": properties}]});
        let url = format!(
            "{}/crm/v3/objects/contacts/batch/upsert",
            self.cfg.base_url.trim_end_matches('/')
        );
        let (status, v) =
            http::post_json(&self.http, "HubSpot", &url, &self.cfg.token, &body).await?;
        // 207: some inputs failed; with one input, that one did.
        if status == 207 {
            let why = v
                .pointer("/errors/0/message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            return Err(SinkError::Permanent(format!(
                "HubSpot refused the contact {email}: {why}"
            )));
        }
        let result = v.pointer("/results/0");
        let id = result.and_then(|r| r["id"].as_str()).unwrap_or("?");
        let new = result.and_then(|r| r["new"].as_bool()).unwrap_or(false);
        Ok(format!(
            "HubSpot contact {id} {} for {email}",
            if new { "created" } else { "updated" }
        ))
    }
}
