//! Compiling `[[enrich]]` steps: each path template is parsed once into
//! literal text and `{{dotted.names}}`, checked against what the webhook and
//! the steps before it can hold, and the names and environment variables
//! are checked for what a person can get wrong.

use std::sync::Arc;

use crate::rules::diagnostic::Finding;
use crate::rules::model::{EnrichAuth, EnrichFailure, EnrichMethod, EnrichStep};

/// One piece of a path template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// A value of the webhook's body or an earlier step, by its dotted name.
    Value(Vec<String>),
}

/// A compiled enrich step.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: Arc<str>,
    pub method: EnrichMethod,
    pub base_url: String,
    pub base_url_env: Option<String>,
    pub path: Vec<Part>,
    /// The endpoint as written, for messages.
    pub path_text: String,
    pub headers: Vec<(String, String)>,
    pub auth: Option<EnrichAuth>,
    pub timeout: std::time::Duration,
    pub retries: u32,
    /// What `hsflow check` requests to prove the credentials work.
    pub check_endpoint: Option<String>,
    pub on_failure: EnrichFailure,
}

/// Whether a source's steps run after its webhooks are accepted, as a
/// durable job (`on_failure = "retry"`), rather than while the sender waits.
pub fn deferred(steps: &[Step]) -> bool {
    steps
        .first()
        .is_some_and(|s| s.on_failure == EnrichFailure::Retry)
}

/// Parse "/appointments/{{id}}" into its parts.
pub fn parse_path(text: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            format!(
                "`{{{{` at character {} is never closed with `}}}}`",
                text.len() - rest.len() + open + 1
            )
        })?;
        let name = after[..close].trim();
        if name.is_empty()
            || !name.split('.').all(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            })
        {
            return Err(format!(
                "`{{{{{}}}}}` is not a field name: write the name of a value in the webhook's body, e.g. {{{{id}}}}, or an earlier step's, e.g. {{{{appointment.calendarID}}}}",
                &after[..close]
            ));
        }
        parts.push(Part::Value(name.split('.').map(str::to_string).collect()));
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err("`}}` without a `{{` before it".into());
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

fn env_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Compile the steps of one source, reporting findings at `/enrich/<i>/…`.
pub fn compile(specs: &[EnrichStep], out: &mut Vec<Finding>) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let ptr = format!("/enrich/{i}");
        let mut ok = true;
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push(
                Finding::error(
                    "bad-name",
                    format!("{ptr}/name"),
                    format!("`{}` can't name a step: fields read it as $.<name>", s.name),
                )
                .hint("use letters, digits and _ only, e.g. name = \"appointment\""),
            );
            ok = false;
        } else if names.contains(&s.name.as_str()) {
            out.push(
                Finding::error(
                    "duplicate-name",
                    format!("{ptr}/name"),
                    format!(
                        "two steps are named `{}`; the second would hide the first",
                        s.name
                    ),
                )
                .hint("give each step its own name"),
            );
            ok = false;
        }
        if !(s.base_url.starts_with("https://") || s.base_url.starts_with("http://")) {
            out.push(
                Finding::error("bad-url", format!("{ptr}/base_url"), format!("`{}` is not a web address", s.base_url))
                    .hint("write the API's address with its scheme, e.g. base_url = \"https://acuityscheduling.com/api/v1\""),
            );
            ok = false;
        }
        let path = match parse_path(&s.endpoint) {
            Ok(p) => p,
            Err(why) => {
                out.push(
                    Finding::error("bad-endpoint", format!("{ptr}/endpoint"), why)
                        .hint("e.g. endpoint = \"/appointments/{{id}}\""),
                );
                ok = false;
                Vec::new()
            }
        };
        if !s.endpoint.starts_with('/') {
            out.push(
                Finding::error(
                    "bad-endpoint",
                    format!("{ptr}/endpoint"),
                    format!("the endpoint `{}` must start with /", s.endpoint),
                )
                .hint("e.g. endpoint = \"/appointments/{{id}}\""),
            );
            ok = false;
        }
        let envs: Vec<(&str, &str)> = match &s.auth {
            Some(EnrichAuth::Basic {
                user_env,
                password_env,
            }) => vec![("user_env", user_env), ("password_env", password_env)],
            Some(EnrichAuth::Bearer { token_env }) => vec![("token_env", token_env)],
            Some(EnrichAuth::Header { value_env, .. }) => vec![("value_env", value_env)],
            None => vec![],
        };
        for (key, name) in envs
            .into_iter()
            .chain(s.base_url_env.as_deref().map(|e| ("base_url_env", e)))
        {
            if !env_ok(name) {
                let at = if key == "base_url_env" {
                    format!("{ptr}/{key}")
                } else {
                    format!("{ptr}/auth/{key}")
                };
                out.push(
                    Finding::error("bad-env", at, format!("`{name}` is not an environment variable's name"))
                        .hint("environment variables are written in capitals, digits and _, e.g. ACUITY_API_KEY; the secret itself never goes in the file"),
                );
                ok = false;
            }
        }
        if s.check_endpoint
            .as_deref()
            .is_some_and(|c| !c.starts_with('/') || c.contains("{{"))
        {
            out.push(
                Finding::error("bad-endpoint", format!("{ptr}/check_endpoint"), "the check endpoint must be a fixed path starting with / (it has no webhook to take values from)")
                    .hint("e.g. check_endpoint = \"/me\""),
            );
            ok = false;
        }
        if s.timeout.secs() == 0 {
            out.push(
                Finding::error(
                    "bad-timeout",
                    format!("{ptr}/timeout"),
                    "a timeout of 0 seconds fails every request",
                )
                .hint("e.g. timeout = \"10s\""),
            );
            ok = false;
        }
        names.push(&s.name);
        if ok {
            steps.push(Step {
                name: s.name.as_str().into(),
                method: s.method,
                base_url: s.base_url.trim_end_matches('/').to_string(),
                base_url_env: s.base_url_env.clone(),
                path,
                path_text: s.endpoint.clone(),
                headers: s
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                auth: s.auth.clone(),
                timeout: std::time::Duration::from_secs(s.timeout.secs()),
                retries: s.retries,
                check_endpoint: s.check_endpoint.clone(),
                on_failure: s.on_failure,
            });
        }
    }
    // The steps of a webhook run together, either while the sender waits or
    // after the webhook is accepted: a source can't have it both ways.
    if let Some(first) = specs.first() {
        for (i, s) in specs.iter().enumerate().skip(1) {
            if s.on_failure != first.on_failure {
                let word = |f: EnrichFailure| match f {
                    EnrichFailure::Retry => "retry",
                    EnrichFailure::Reject => "reject",
                };
                out.push(
                    Finding::error(
                        "mixed-on-failure",
                        format!("/enrich/{i}/on_failure"),
                        format!(
                            "this step says on_failure = \"{}\" but the first step says \"{}\"; the steps of a source run together, either after the webhook is accepted (retry) or while the sender waits (reject)",
                            word(s.on_failure),
                            word(first.on_failure)
                        ),
                    )
                    .hint(format!(
                        "write on_failure = \"{}\" on every step of this source (or leave it out everywhere: \"retry\" is the default)",
                        word(first.on_failure)
                    )),
                );
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_text_and_dotted_names() {
        assert_eq!(
            parse_path("/appointments/{{id}}/x{{ a.b }}").expect("parses"),
            vec![
                Part::Text("/appointments/".into()),
                Part::Value(vec!["id".into()]),
                Part::Text("/x".into()),
                Part::Value(vec!["a".into(), "b".into()]),
            ]
        );
        let e = parse_path("/appointments/{{id").expect_err("unclosed");
        assert!(e.contains("never closed"), "{e}");
        assert!(parse_path("/a/{{}}").is_err());
        assert!(parse_path("/a/{{id | upper}}").is_err());
    }

    #[test]
    fn mistakes_are_reported_at_their_keys() {
        let spec: crate::rules::model::SourceFile = toml::from_str(
            r#"
auth = { kind = "none", local = true }
event_type = { value = "x" }
idempotency = { window = "1h" }
[[enrich]]
name = "appointment"
base_url = "acuityscheduling.com/api/v1"
endpoint = "/appointments/{{id}}"
auth = { kind = "basic", user_env = "acuity user", password_env = "ACUITY_API_KEY" }
[[enrich]]
name = "appointment"
base_url = "https://example.com"
endpoint = "appointments"
"#,
        )
        .expect("a source file");
        let mut out = Vec::new();
        let steps = compile(&spec.enrich, &mut out);
        assert!(steps.is_empty());
        let codes: Vec<(&str, &str)> = out.iter().map(|f| (f.code, f.pointer.as_str())).collect();
        assert!(
            codes.contains(&("bad-url", "/enrich/0/base_url")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("bad-env", "/enrich/0/auth/user_env")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("duplicate-name", "/enrich/1/name")),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("bad-endpoint", "/enrich/1/endpoint")),
            "{codes:?}"
        );
    }

    #[test]
    fn the_steps_of_a_source_agree_on_when_they_run() {
        let spec: crate::rules::model::SourceFile = toml::from_str(
            r#"
auth = { kind = "none", local = true }
event_type = { value = "x" }
idempotency = { window = "1h" }
[[enrich]]
name = "appointment"
base_url = "https://example.com"
endpoint = "/appointments/{{id}}"
[[enrich]]
name = "calendar"
base_url = "https://example.com"
endpoint = "/calendars/{{appointment.calendarID}}"
on_failure = "reject"
"#,
        )
        .expect("a source file");
        let mut out = Vec::new();
        let steps = compile(&spec.enrich, &mut out);
        assert_eq!(steps.len(), 2);
        let f = out
            .iter()
            .find(|f| f.code == "mixed-on-failure")
            .expect("reported");
        assert_eq!(f.pointer, "/enrich/1/on_failure");
        assert!(
            f.message.contains("the first step says \"retry\""),
            "{}",
            f.message
        );
        // Left out everywhere, the steps run after the webhook is accepted.
        assert!(deferred(&steps[..1]));
        assert!(!deferred(&[]));
    }
}
