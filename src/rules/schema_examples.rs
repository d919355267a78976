//! An example value for every key a rule file may hold, shown by editors.
//!
//! A description says what a key means; an example shows how to write it,
//! which is what a rule author copies. The examples come from the shipped rule
//! pack. They are kept here, one line per key, rather than as attributes on
//! the model's fields, because most keys (`template`, `delay`, `entity`) recur
//! across many types with the same example; a key whose meaning differs by
//! file gets a line for that file. The schema tests fail when a key has none.

use serde_json::Value;

/// (schema name or `*` for any, key, example as JSON).
const EXAMPLES: &[(&str, &str, &str)] = &[
    // databases.toml
    (
        "databases",
        "databases",
        r#"[{"key": "contacts", "name": "Contacts & Profiles", "env": "NOTION_CONTACTS_PROFILES_DB", "properties": {"Name": "title", "Email": "email"}}]"#,
    ),
    ("databases", "key", r#""contacts""#),
    ("databases", "name", r#""Contacts & Profiles""#),
    ("databases", "env", r#""NOTION_CONTACTS_PROFILES_DB""#),
    ("databases", "optional", "true"),
    (
        "databases",
        "properties",
        r#"{"Name": "title", "Email": "email", "Status": "select"}"#,
    ),
    ("databases", "options", r#"{"Status": ["Lead", "Client"]}"#),
    (
        "databases",
        "relations",
        r#"{"Contact": {"database": "contacts", "by": "Email"}}"#,
    ),
    ("databases", "database", r#""contacts""#),
    ("databases", "by", r#""Email""#),
    // entities.toml
    ("entities", "fallback", r#""higherself_core""#),
    ("entities", "explicit_field", r#""business_entities""#),
    (
        "entities",
        "entities",
        r#"[{"id": "the_7_space", "name": "The 7 Space", "from_email": "hello@the7space.example"}]"#,
    ),
    (
        "entities",
        "routes",
        r#"[{"entity": "the_7_space", "when": [{"field": "contact_types", "contains_any": ["Artist", "Gallery Contact"]}]}]"#,
    ),
    ("entities", "name", r#""The 7 Space""#),
    ("entities", "id", r#""the_7_space""#),
    ("entities", "from_email", r#""hello@the7space.example""#),
    ("entities", "reply_to", r#""gallery@the7space.example""#),
    (
        "entities",
        "vars",
        r#"{"team": "Gallery team", "curator_name": "the gallery curator"}"#,
    ),
    ("entities", "entity", r#""the_7_space""#),
    // conditions (flows, entities, lead sources)
    ("*", "field", r#""contact_types""#),
    (
        "*",
        "all",
        r#"[{"field": "score", "gte": 50}, {"field": "interests", "contains": "Wellness"}]"#,
    ),
    (
        "*",
        "any",
        r#"[{"field": "lead_source", "equals": "Referral"}, {"field": "score", "gte": 80}]"#,
    ),
    (
        "*",
        "not",
        r#"{"field": "email", "ends_with": "@example.com"}"#,
    ),
    ("*", "equals", r#""Website""#),
    ("*", "within_next", r#""14d""#),
    ("*", "within_last", r#""30d""#),
    ("*", "arrived_within", r#""business_hours""#),
    ("*", "arrived_on", r#"["Mon-Fri"]"#),
    ("*", "not_equals", r#""Spam""#),
    ("*", "in", r#"["cancelled", "refunded", "failed"]"#),
    ("*", "contains", r#""Artist""#),
    (
        "*",
        "contains_any",
        r#"["Business Contact", "Potential Client"]"#,
    ),
    ("*", "contains_all", r#"["Artist", "Gallery Contact"]"#),
    ("*", "contains_none", r#"["Vendor"]"#),
    (
        "*",
        "contains_other_than",
        r#"["Artist", "Gallery Contact", "Media Contact"]"#,
    ),
    ("*", "starts_with", r#""ART-""#),
    ("*", "ends_with", r#""@the7space.example""#),
    ("*", "text_contains", r#""retreat""#),
    ("*", "ignore_case", "true"),
    ("*", "exists", "true"),
    ("*", "is_empty", "false"),
    ("*", "gt", "0"),
    ("*", "gte", "50"),
    ("*", "lt", "100"),
    ("*", "lte", "90"),
    (
        "*",
        "expr",
        r#""score >= 50 && has(contact_types, \"Artist\")""#,
    ),
    (
        "*",
        "when",
        r#"[{"field": "contact_types", "contains": "Artist"}]"#,
    ),
    // flows
    ("flow", "id", r#""artist_discovery""#),
    (
        "flow",
        "description",
        r#""A new artist is welcomed and the curator is told""#,
    ),
    ("flow", "entity", r#""the_7_space""#),
    ("flow", "for_entity", r#""am_consulting""#),
    (
        "flow",
        "rules",
        r#"[{"id": "artist_discovery", "on": ["typeform:contact.created"], "actions": [{"kind": "email", "template": "artist_welcome"}]}]"#,
    ),
    (
        "flow",
        "workflows",
        r#"{"art_sale": {"initial": "new_order", "states": ["new_order", "completed", "canceled"]}}"#,
    ),
    ("flow", "initial", r#""new_order""#),
    (
        "flow",
        "states",
        r#"["new_order", "payment_received", "shipped", "completed", "canceled"]"#,
    ),
    ("flow", "terminal", r#"["completed", "canceled"]"#),
    ("flow", "contact_field", r#""email""#),
    (
        "flow",
        "on",
        r#"["typeform:contact.created", "manual:contact.*"]"#,
    ),
    ("flow", "enabled", "false"),
    ("flow", "cancel_on", r#"["*:contact.replied"]"#),
    (
        "flow",
        "cancel_when",
        r#"[{"field": "order_status", "in": ["cancelled", "refunded"]}]"#,
    ),
    (
        "flow",
        "actions",
        r#"[{"kind": "email", "template": "artist_welcome", "delay": "2h"}]"#,
    ),
    ("flow", "delay", r#""2h""#),
    ("flow", "at", r#""7d before retreat_start""#),
    ("flow", "database", r#""contacts""#),
    ("flow", "operation", r#""upsert""#),
    ("flow", "match", r#""Email""#),
    (
        "flow",
        "properties",
        r#"{"Name": "{{first_name}} {{last_name}}", "Email": "{{email}}", "Status": "Lead"}"#,
    ),
    (
        "flow",
        "add",
        r#"{"Engagement Score": {"by": 10, "start": 10, "max": 100, "events_at": [50]}}"#,
    ),
    ("flow", "by", "10"),
    ("flow", "start", "10"),
    ("flow", "min", "0"),
    ("flow", "max", "100"),
    ("flow", "events_at", "[50]"),
    ("*", "template", r#""artist_welcome""#),
    ("flow", "channel", r#""lead-inbox""#),
    ("flow", "text", r#""New lead: {{first_name}} ({{email}})""#),
    ("flow", "urgent", "true"),
    (
        "flow",
        "title",
        r#""Call {{first_name}} about their enquiry""#,
    ),
    ("*", "assignee", r#""Gallery Curator""#),
    ("flow", "priority", r#""high""#),
    ("flow", "due", r#""1d""#),
    ("flow", "due_at", r#""1d before retreat_start""#),
    ("flow", "url", r#""https://hooks.example.com/hsflow""#),
    ("flow", "method", r#""POST""#),
    ("*", "headers", r#"{"X-Source": "hsflow"}"#),
    (
        "flow",
        "body",
        r#"{"email": "{{email}}", "event": "{{event_type}}"}"#,
    ),
    ("flow", "sign_secret_env", r#""PARTNER_WEBHOOK_SECRET""#),
    ("flow", "workflow", r#""art_sale""#),
    ("flow", "to", r#""payment_received""#),
    ("flow", "from", r#"["new_order"]"#),
    ("flow", "email", r#""{{email}}""#),
    ("flow", "utm_source", r#""{{lead_source}}""#),
    ("flow", "utm_campaign", r#""welcome""#),
    (
        "flow",
        "custom_fields",
        r#"{"first_name": "{{first_name}}"}"#,
    ),
    ("flow", "send_welcome_email", "true"),
    ("flow", "reactivate_existing", "false"),
    // lead_sources.toml
    ("lead_sources", "field", r#""lead_source""#),
    ("lead_sources", "default", r#""website""#),
    (
        "lead_sources",
        "lead_sources",
        r#"[{"id": "website", "values": ["Website"], "first_response": "12h", "follow_ups": [{"day": 1, "template": "followup_website"}]}]"#,
    ),
    ("lead_sources", "id", r#""website""#),
    ("lead_sources", "values", r#"["Website", "Web form"]"#),
    ("lead_sources", "first_response", r#""12h""#),
    (
        "lead_sources",
        "follow_ups",
        r#"[{"day": 1, "template": "followup_website"}, {"day": 7, "template": "followup_website"}]"#,
    ),
    ("lead_sources", "day", "7"),
    (
        "lead_sources",
        "overrides",
        r#"[{"when": [{"field": "score", "gte": 80}], "first_response": "2h"}]"#,
    ),
    // schedules.toml
    (
        "schedules",
        "schedules",
        r#"[{"id": "overdue_tasks", "calendar": "daily at 08:00", "query": "tasks"}]"#,
    ),
    ("schedules", "id", r#""overdue_tasks""#),
    (
        "schedules",
        "description",
        r#""Walk the Tasks database once a day""#,
    ),
    ("schedules", "every", r#""1h""#),
    ("schedules", "calendar", r#""daily at 08:00""#),
    ("schedules", "cron", r#""0 8 * * 1-5""#),
    ("schedules", "zone", r#""America/New_York""#),
    ("entities", "zone", r#""America/New_York""#),
    ("entities", "email_window", r#""business_hours""#),
    ("entities", "track_engagement", "true"),
    ("flow", "window", r#""business_hours""#),
    // emails.toml
    (
        "emails",
        "emails",
        r#"{"booking_confirmation": {"category": "transactional"}, "followup_website": {"category": "marketing"}}"#,
    ),
    ("emails", "category", r#""marketing""#),
    ("emails", "variants", r#"{"a": 50, "b": 50}"#),
    (
        "emails",
        "description",
        r#""Lead follow-up for website leads""#,
    ),
    // calendar.toml
    (
        "calendar",
        "windows",
        r#"[{"id": "business_hours", "hours": ["Mon-Fri 09:00-17:00"], "closed": ["us_federal_holidays"]}]"#,
    ),
    (
        "calendar",
        "closures",
        r#"[{"id": "us_federal_holidays", "dates": [{"on": "2026-12-25", "name": "Christmas Day"}]}]"#,
    ),
    ("calendar", "id", r#""business_hours""#),
    (
        "calendar",
        "description",
        r#""When contacts hear from us: weekdays, office hours""#,
    ),
    (
        "calendar",
        "hours",
        r#"["Mon-Fri 09:00-17:00", "Sat 10:00-14:00"]"#,
    ),
    ("calendar", "zone", r#""America/New_York""#),
    ("calendar", "closed", r#"["us_federal_holidays"]"#),
    (
        "calendar",
        "dates",
        r#"[{"on": "2026-11-26", "name": "Thanksgiving Day"}, {"from": "2026-12-24", "to": "2026-12-31", "name": "Winter closure"}]"#,
    ),
    ("calendar", "on", r#""2026-12-25""#),
    ("calendar", "from", r#""2026-12-24""#),
    ("calendar", "to", r#""2026-12-31""#),
    ("calendar", "name", r#""Christmas Day""#),
    ("schedules", "query", r#""tasks""#),
    // sources/*.toml
    ("source", "description", r#""Typeform contact forms""#),
    (
        "source",
        "auth",
        r#"{"kind": "hmac_sha256", "header": "Typeform-Signature", "prefix": "sha256=", "encoding": "base64", "secret_env": "TYPEFORM_SECRET"}"#,
    ),
    ("source", "header", r#""Typeform-Signature""#),
    ("source", "prefix", r#""sha256=""#),
    ("source", "encoding", r#""base64""#),
    ("source", "secret_env", r#""TYPEFORM_SECRET""#),
    ("source", "local", "true"),
    ("source", "format", r#""json""#),
    ("source", "event_type", r#"{"value": "contact.created"}"#),
    (
        "source",
        "idempotency",
        r#"{"path": "$.event_id", "window": "24h"}"#,
    ),
    ("source", "window", r#""24h""#),
    ("source", "ping", r#"{"form_field": "ping"}"#),
    ("source", "form_field", r#""ping""#),
    (
        "source",
        "verification",
        r#"{"json_field": "verification_token"}"#,
    ),
    ("source", "json_field", r#""verification_token""#),
    (
        "source",
        "enrich",
        r#"[{"name": "appointment", "base_url": "https://acuityscheduling.com/api/v1", "endpoint": "/appointments/{{id}}", "auth": {"kind": "basic", "user_env": "ACUITY_USER_ID", "password_env": "ACUITY_API_KEY"}}]"#,
    ),
    ("source", "name", r#""appointment""#),
    ("source", "method", r#""GET""#),
    (
        "source",
        "base_url",
        r#""https://acuityscheduling.com/api/v1""#,
    ),
    ("source", "base_url_env", r#""ACUITY_API_URL""#),
    ("source", "endpoint", r#""/appointments/{{id}}""#),
    ("source", "headers", r#"{"Accept": "application/json"}"#),
    ("source", "timeout", r#""10s""#),
    ("source", "retries", "3"),
    ("source", "check_endpoint", r#""/me""#),
    ("source", "on_failure", r#""retry""#),
    ("source", "user_env", r#""ACUITY_USER_ID""#),
    ("source", "password_env", r#""ACUITY_API_KEY""#),
    ("source", "token_env", r#""SNOVIO_ACCESS_TOKEN""#),
    ("source", "value_env", r#""VENDOR_API_KEY""#),
    (
        "source",
        "fields",
        r#"{"email": {"path": "$.form_response.hidden.email", "transforms": ["trim", "lowercase"], "required": true}}"#,
    ),
    ("source", "path", r#""$.form_response.hidden.email""#),
    ("source", "value", r#""contact.created""#),
    ("source", "required", "true"),
    ("source", "type", r#""list""#),
    ("source", "transforms", r#"["trim", "lowercase"]"#),
    ("source", "split", r#"",""#),
    ("source", "join", r#"" ""#),
    ("source", "default", r#""Website""#),
    (
        "source",
        "map",
        r#"{"web": "Website", "ig": "Social Media"}"#,
    ),
    // tests/*.toml
    (
        "tests",
        "cases",
        r#"[{"name": "an artist is welcomed", "source": "typeform", "payload_file": "examples/typeform_artist.json", "expect": {"matched": ["artist_discovery"]}}]"#,
    ),
    ("tests", "name", r#""an artist is welcomed""#),
    ("tests", "source", r#""typeform""#),
    (
        "tests",
        "payload",
        r#"{"type": "contact.created", "email": "ann@example.com", "first_name": "Ann"}"#,
    ),
    (
        "tests",
        "payload_file",
        r#""examples/typeform_artist.json""#,
    ),
    ("tests", "headers", r#"{"X-Event": "booking.created"}"#),
    ("tests", "enriched", r#""examples/acuity_appointment.json""#),
    (
        "tests",
        "expect",
        r#"{"matched": ["artist_discovery"], "actions": [{"kind": "email", "template": "artist_welcome", "delay": "2h"}]}"#,
    ),
    ("tests", "matched", r#"["artist_discovery"]"#),
    ("tests", "not_matched", r#"["wellness_inquiry"]"#),
    ("tests", "entities", r#"["The 7 Space"]"#),
    (
        "tests",
        "actions",
        r#"[{"kind": "email", "template": "artist_welcome"}]"#,
    ),
    ("tests", "no_actions", r#"["notify"]"#),
    ("tests", "cancels", r#"["lead_nurture"]"#),
    ("tests", "error", r#""missing required field `email`""#),
    ("tests", "rule", r#""artist_discovery""#),
    ("tests", "kind", r#""email""#),
    ("tests", "delay", r#""2h""#),
    ("tests", "at", r#""2026-05-12T10:00:00Z""#),
    ("tests", "contains", r#""Welcome""#),
];

/// The example for `key` in a schema named `schema` (e.g. "flow"), if any.
pub fn example(schema: &str, key: &str) -> Option<Value> {
    EXAMPLES
        .iter()
        .find(|(s, k, _)| *s == schema && *k == key)
        .or_else(|| EXAMPLES.iter().find(|(s, k, _)| *s == "*" && *k == key))
        .and_then(|(_, _, json)| serde_json::from_str(json).ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_is_valid_json() {
        for (schema, key, json) in super::EXAMPLES {
            assert!(
                serde_json::from_str::<serde_json::Value>(json).is_ok(),
                "{schema}.{key}: {json}"
            );
        }
    }
}
