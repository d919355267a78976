//! `[[enrich]]` in a source file: fetch what a webhook only points to.
//!
//! Some senders post ids only: Acuity's webhook is
//! `action=scheduled&id=123&calendarID=…`, and the person's email, name and
//! appointment are behind its API. An enrich step is one HTTP request made
//! after the webhook is authenticated and before its fields are read: the
//! response (JSON) is kept under the step's `name`, so field mappings read it
//! as `$.<name>.email`. Steps run in order, and a later step's endpoint may use
//! an earlier step's response.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::time::Duration;

/// One request to the sender's API.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrichStep {
    /// The name the response is kept under: fields read it as `$.<name>.…`, e.g. "appointment".
    pub name: String,
    /// "GET" (the default) or "POST".
    #[serde(default)]
    pub method: EnrichMethod,
    /// The API's address, e.g. "https://acuityscheduling.com/api/v1".
    pub base_url: String,
    /// An environment variable that, when set, replaces base_url (a sandbox, or a test double).
    #[serde(default)]
    pub base_url_env: Option<String>,
    /// The path after base_url, with {{field}} for a value of the webhook's body or of an earlier step, e.g. "/appointments/{{id}}". Values are URL-encoded.
    pub endpoint: String,
    /// Extra request headers, e.g. { Accept = "application/json" }.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How hsflow signs in to the API; secrets come from environment variables, never the file.
    #[serde(default)]
    pub auth: Option<EnrichAuth>,
    /// How long one try may take before it counts as failed, e.g. "10s".
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// A cheap request `hsflow check` makes to prove the credentials work, e.g. "/me" (Acuity's account details).
    #[serde(default)]
    pub check_endpoint: Option<String>,
    /// With on_failure = "reject": quick tries after the first, while the sender waits, when the API answers 429 or 5xx or does not answer. (With "retry" the fetch is a job, tried again like any action: after a growing pause or the API's Retry-After, for up to two days.)
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// What happens when the API can't be asked now: "retry" (the default) accepts the webhook at once and fetches afterwards, as a durable job that is tried again until the API answers, then plans the event; "reject" fetches while the sender waits and refuses the webhook (503) when the fetch fails, so the sender sends it again. Every step of a source says the same.
    #[serde(default)]
    pub on_failure: EnrichFailure,
}

/// When to fetch, and what a failed fetch does to the webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnrichFailure {
    /// Accept the webhook at once; fetch afterwards, durably, and plan when the answer arrives.
    #[default]
    Retry,
    /// Fetch while the sender waits; a failed fetch refuses the webhook (503).
    Reject,
}

fn default_timeout() -> Duration {
    Duration(10)
}

fn default_retries() -> u32 {
    3
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum EnrichMethod {
    #[default]
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
}

/// How the request signs in.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EnrichAuth {
    /// HTTP Basic: a user and a password, each from an environment variable (Acuity: user id and API key).
    Basic {
        /// The environment variable holding the user name.
        user_env: String,
        /// The environment variable holding the password or API key.
        password_env: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The environment variable holding the token.
        token_env: String,
    },
    /// A header of the API's own, e.g. "X-Api-Key".
    Header {
        /// The header's name.
        name: String,
        /// The environment variable holding its value.
        value_env: String,
    },
}
