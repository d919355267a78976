//! Compiling `rules/sources/*.toml`.

use std::collections::BTreeSet;

use super::{is_identifier, Compiler};
use crate::engine::path::JsonPath;
use crate::rules::diagnostic::Finding;
use crate::rules::model::{Auth, FieldMapping, FieldType, SourceFile, Transform};
use crate::rules::ruleset::{FieldRule, Locator, Source};

/// Register the fields a source produces (before any rule is compiled, so
/// rules can be checked against them).
pub fn declare(c: &mut Compiler, name: &str, file: &SourceFile) {
    let mut set = BTreeSet::new();
    // Fields every event of the source has: a required one (the event is
    // refused without it) or one with a default.
    let mut always: BTreeSet<String> = super::ENVELOPE_FIELDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (field, mapping) in &file.fields {
        c.fields.intern(field);
        c.produced.insert(field.clone());
        set.insert(field.clone());
        if let FieldMapping::Full(spec) = mapping {
            let defaulted = spec
                .transforms
                .iter()
                .any(|t| matches!(t, Transform::Default(_)));
            if spec.required || defaulted {
                always.insert(field.clone());
            }
        }
    }
    c.produced_by.insert(name.to_string(), set);
    c.always_by.insert(name.to_string(), always);
}

pub fn compile(
    c: &mut Compiler,
    name: &str,
    file: &SourceFile,
    out: &mut Vec<Finding>,
) -> Option<Source> {
    if !is_identifier(name) {
        out.push(Finding::error("bad-name", "", format!("`{name}` can't be a source name: the file name becomes the URL /webhooks/{name}")).hint("rename the file using letters, digits and _ only"));
    }
    check_auth(&file.auth, out);
    let event_type = locator(
        file.event_type.path.as_deref(),
        file.event_type.header.as_deref(),
        file.event_type.value.as_deref(),
        "/event_type",
        true,
        out,
    )?;
    let idempotency = locator(
        file.idempotency.path.as_deref(),
        file.idempotency.header.as_deref(),
        None,
        "/idempotency",
        false,
        out,
    )?;
    let mut fields = Vec::new();
    for (fname, mapping) in &file.fields {
        let ptr = format!("/fields/{}", crate::rules::document::escape_segment(fname));
        if !is_identifier(fname) {
            out.push(
                Finding::error(
                    "bad-name",
                    ptr.clone(),
                    format!(
                        "`{fname}` can't be a field name: rules and templates refer to it by name"
                    ),
                )
                .hint("use letters, digits and _ only, e.g. first_name"),
            );
        }
        let (path_text, transforms, kind, required, path_ptr) = match mapping {
            FieldMapping::Path(p) => (p.as_str(), Vec::new(), FieldType::Any, false, ptr.clone()),
            FieldMapping::Full(spec) => (
                spec.path.as_str(),
                spec.transforms.clone(),
                spec.kind,
                spec.required,
                format!("{ptr}/path"),
            ),
        };
        let path = match JsonPath::compile(path_text) {
            Ok(p) => p,
            Err(msg) => {
                out.push(Finding::error("bad-jsonpath", path_ptr, msg).hint("paths look like \"$.form_response.token\" or \"$.answers[?@.field.ref == 'email'].email\""));
                continue;
            }
        };
        check_transforms(&transforms, kind, &ptr, out);
        let slot = c.fields.intern(fname);
        fields.push(FieldRule {
            name: fname.clone(),
            slot,
            path,
            transforms,
            kind,
            required,
            take: false,
        });
    }
    // A field may take its value out of the body when no other field reads
    // the same place or a place inside it.
    let texts: Vec<String> = fields
        .iter()
        .map(|f: &FieldRule| f.path.as_str().to_string())
        .collect();
    for (i, f) in fields.iter_mut().enumerate() {
        let me = &texts[i];
        let overlaps = texts
            .iter()
            .enumerate()
            .any(|(j, t)| j != i && (t.starts_with(me.as_str()) || me.starts_with(t.as_str())));
        f.take = f.path.is_simple() && !overlaps;
    }
    Some(Source {
        name: name.to_string(),
        auth: file.auth.clone(),
        format: file.format,
        event_type,
        event_type_map: file.event_type.map.clone(),
        idempotency,
        idempotency_window_s: file.idempotency.window.secs(),
        fields,
        ping_field: file.ping.as_ref().map(|p| p.form_field.clone()),
        verification_field: file.verification.as_ref().map(|v| v.json_field.clone()),
        enrich: super::enrich::compile(&file.enrich, out),
    })
}

fn check_auth(auth: &Auth, out: &mut Vec<Finding>) {
    let env_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    match auth {
        Auth::None { local: false } => out.push(
            Finding::error("insecure-source", "/auth/local", "a source without authentication accepts requests from anyone")
                .hint("use kind = \"hmac_sha256\" or \"shared_secret\"; keep kind = \"none\" only for a local source and say so with local = true"),
        ),
        Auth::HmacSha256 { secret_env, header, .. } | Auth::SharedSecret { secret_env, header } => {
            if !env_ok(secret_env) {
                out.push(Finding::error("bad-env-name", "/auth/secret_env", format!("`{secret_env}` is not an environment variable name")).hint("write the variable's name in capitals, e.g. TYPEFORM_SECRET, not the secret itself"));
            }
            if header.trim().is_empty() || header.contains(char::is_whitespace) {
                out.push(Finding::error("bad-header", "/auth/header", format!("`{header}` is not a header name"))
                .hint("a header name is letters, digits and dashes, e.g. \"X-Signature\"; no spaces or colon"));
            }
        }
        Auth::None { local: true } | Auth::Internal {} => {}
    }
}

fn locator(
    path: Option<&str>,
    header: Option<&str>,
    value: Option<&str>,
    ptr: &str,
    required: bool,
    out: &mut Vec<Finding>,
) -> Option<Locator> {
    let given = [path.is_some(), header.is_some(), value.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given > 1 {
        out.push(
            Finding::error(
                "ambiguous",
                ptr,
                "give only one of `path`, `header` or `value`",
            )
            .hint("hsflow can read this from one place only"),
        );
        return None;
    }
    if let Some(p) = path {
        return match JsonPath::compile(p) {
            Ok(p) => Some(Locator::Path(p)),
            Err(msg) => {
                out.push(Finding::error("bad-jsonpath", format!("{ptr}/path"), msg).hint(
                    "a JSONPath starts at the body's top with $ and names keys with dots: \"$.form_response.hidden.email\"; a key with spaces goes in brackets: \"$.properties['Task Name']\"",
                ));
                None
            }
        };
    }
    if let Some(h) = header {
        return Some(Locator::Header(h.to_ascii_lowercase()));
    }
    if let Some(v) = value {
        return Some(Locator::Value(v.to_string()));
    }
    if required {
        out.push(
            Finding::error("missing-key", ptr, "say where the event type comes from").hint(
                "add path = \"$.event_type\", header = \"X-Event\" or value = \"form_response\"",
            ),
        );
        None
    } else {
        Some(Locator::BodyHash)
    }
}

fn check_transforms(ts: &[Transform], kind: FieldType, ptr: &str, out: &mut Vec<Finding>) {
    for (i, t) in ts.iter().enumerate() {
        if let Transform::Split(sep) | Transform::Join(sep) = t {
            if sep.is_empty() {
                out.push(
                    Finding::error(
                        "bad-transform",
                        format!("{ptr}/transforms/{i}"),
                        "the separator is empty",
                    )
                    .hint("write the separator, e.g. { split = \",\" }"),
                );
            }
        }
    }
    let ends_in_number = matches!(ts.last(), Some(Transform::ToNumber));
    if ends_in_number && !matches!(kind, FieldType::Number | FieldType::Any) {
        out.push(
            Finding::error(
                "bad-transform",
                format!("{ptr}/type"),
                "the last transform makes a number, but the field's type says otherwise",
            )
            .hint("set type = \"number\" or drop to_number"),
        );
    }
}
