//! `rules/sources/<name>.toml`: one inbound webhook source.
//!
//! A source file says how to trust a request (signature or shared secret),
//! how to read its body, where the event type and idempotency key live, and
//! how raw payload fields become the normalised fields that rules test. The
//! source's name is its file name: `rules/sources/typeform.toml` serves
//! `POST /webhooks/typeform`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::time::Duration;

/// One inbound source.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow source",
    description = "One inbound webhook source: authentication, body format, event type, idempotency and field mapping."
)]
pub struct SourceFile {
    /// What this source is, in a sentence, for the people who edit it.
    #[serde(default)]
    pub description: Option<String>,
    /// How requests prove they come from the sender.
    pub auth: Auth,
    /// How the request body is encoded.
    #[serde(default)]
    pub format: BodyFormat,
    /// Where the event type comes from.
    pub event_type: Locator,
    /// Where the idempotency key comes from, and how long a repeat counts as a duplicate.
    pub idempotency: Idempotency,
    /// Normalised field name -> where its value comes from in the payload.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldMapping>,
    /// The sender's "is this URL alive?" request, answered 200 and not stored.
    #[serde(default)]
    pub ping: Option<Ping>,
    /// The sender's subscription handshake, answered 200 and shown to the operator.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// Requests to the sender's API for what the webhook only points to (its ids), in order; fields then read each response as `$.<name>.…`.
    #[serde(default)]
    pub enrich: Vec<super::enrich::EnrichStep>,
}

/// A subscription handshake: an unsigned JSON body holding only this field,
/// whose value the operator must confirm with the sender (Notion sends
/// `{"verification_token": "..."}` when a webhook subscription is created; the
/// token is then pasted into Notion and becomes the signing secret). hsflow
/// appends the value to `<data>/verification/<source>.txt` and logs where it is.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// The top-level JSON key holding the verification token the vendor sends once.
    pub json_field: String,
}

/// A creation ping: a form body holding only this field, sent without the
/// signature header (WooCommerce sends `webhook_id=N` when a webhook is created).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    /// The form field whose presence marks a ping (a test request that is answered and not processed).
    pub form_field: String,
}

/// How a request is authenticated. Every source must say; `none` is only for local sources.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// HMAC-SHA256 of the raw body, keyed by the secret, in a header.
    HmacSha256 {
        /// The request header carrying the signature, e.g. "Typeform-Signature".
        header: String,
        /// How the signature bytes are written in the header.
        encoding: SignatureEncoding,
        /// Text before the encoded signature, e.g. "sha256=".
        #[serde(default)]
        prefix: Option<String>,
        /// The environment variable holding the secret.
        secret_env: String,
    },
    /// A shared secret sent verbatim in a header.
    SharedSecret {
        /// The request header carrying the secret.
        header: String,
        /// The environment variable holding the secret.
        secret_env: String,
    },
    /// Fed by hsflow itself (the scheduler): never accepted over HTTP.
    Internal {},
    /// No authentication. Allowed only for a source marked `local = true`.
    None {
        /// Must be true: a reminder that this source accepts anything and must not face the internet.
        local: bool,
    },
}

/// How an HMAC signature is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    Base64,
    Hex,
}

/// Request body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BodyFormat {
    #[default]
    Json,
    /// `application/x-www-form-urlencoded`.
    FormUrlencoded,
}

/// Where a value comes from: a JSONPath into the body, a request header, or a constant.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Locator {
    /// A JSONPath into the body, e.g. "$.event_type".
    #[serde(default)]
    pub path: Option<String>,
    /// A request header, e.g. "X-WC-Webhook-Topic".
    #[serde(default)]
    pub header: Option<String>,
    /// A fixed value, for sources that send one kind of event.
    #[serde(default)]
    pub value: Option<String>,
    /// Rename values: what the sender says -> what rules see.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
}

/// Deduplication of repeated deliveries.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Idempotency {
    /// A JSONPath into the body for the key.
    #[serde(default)]
    pub path: Option<String>,
    /// A request header for the key.
    #[serde(default)]
    pub header: Option<String>,
    /// How long a delivery with the same key counts as a duplicate.
    pub window: Duration,
}

/// A normalised field: a JSONPath alone, or a table with transforms.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldMapping {
    /// Shorthand: just the JSONPath.
    Path(String),
    Full(FieldSpec),
}

/// A normalised field with its transforms.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// A JSONPath into the body. Several matches make a list.
    pub path: String,
    /// Applied in order to the value found.
    #[serde(default)]
    pub transforms: Vec<Transform>,
    /// The type the field must have after the transforms.
    #[serde(default, rename = "type")]
    pub kind: FieldType,
    /// An event without this field is refused with a 400 naming the path.
    #[serde(default)]
    pub required: bool,
}

/// The type of a normalised field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Whatever the payload holds.
    #[default]
    Any,
    Text,
    Number,
    Boolean,
    List,
    /// A date or date-time (RFC 3339, or "YYYY-MM-DD HH:MM").
    Date,
}

/// A small declarative transform on a field value.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Lowercase,
    Uppercase,
    Trim,
    /// Text to a number ("29.35" -> 29.35).
    ToNumber,
    /// Text to a list of text, split on this separator (each part trimmed).
    Split(String),
    /// The first element of a list.
    First,
    /// Join a list of text with this separator.
    Join(String),
    /// Use this value when the field is missing or empty.
    Default(serde_json::Value),
    /// Replace values: from -> to. Values not in the map pass through.
    Map(BTreeMap<String, String>),
}
