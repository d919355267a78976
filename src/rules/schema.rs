//! Validating a rule file against its JSON Schema, in words a rule author reads.
//!
//! jsonschema reports what failed in schema vocabulary ("additionalProperties",
//! "oneOf"). This module turns each failure into a [`Diagnostic`] at the
//! offending key or value, with a hint: the key you probably meant, the
//! values allowed, the duration format. For `oneOf` (action kinds, field
//! shorthands, transforms) it picks the alternative the author evidently
//! meant and reports that alternative's errors, not a wall of all of them.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::diagnostic::{did_you_mean, Diagnostic, Severity};
use super::document::{escape_segment, Document};
use super::kind::FileKind;
use super::model::time::{DURATION_PATTERN, RELATIVE_PATTERN};
use super::schema_hints;

/// Compiled validators, one per kind, built on first use.
fn validators() -> &'static HashMap<FileKind, (Value, Validator)> {
    static CELL: OnceLock<HashMap<FileKind, (Value, Validator)>> = OnceLock::new();
    CELL.get_or_init(|| {
        FileKind::ALL
            .iter()
            .filter_map(|k| {
                let schema = k.schema();
                // Our own generated schemas always compile; a failure here is a bug
                // in the model types, caught by the schema tests.
                let v = jsonschema::validator_for(&schema).ok()?;
                Some((*k, (schema, v)))
            })
            .collect()
    })
}

/// Validate a parsed document; every problem found is returned, not just the first.
pub fn validate(doc: &Document, kind: FileKind) -> Vec<Diagnostic> {
    let Some((schema, validator)) = validators().get(&kind) else {
        return vec![Diagnostic::whole_file(
            Severity::Error,
            "internal",
            &doc.path,
            format!(
                "hsflow could not compile its own {} schema; please report this",
                kind.schema_name()
            ),
        )];
    };
    // An empty file (or one of comments only) lacks every key at once; say so.
    if doc.value.as_object().is_some_and(|m| m.is_empty()) {
        let what = match kind {
            FileKind::Flow => "a flow file needs at least `id = \"...\"` and one [[rules]] table",
            FileKind::Source => "a source file needs at least an [auth] table and an [event_type]",
            FileKind::Tests => "a tests file needs at least one [[cases]] table",
            _ => "copy the shape of the shipped file of the same name",
        };
        return vec![Diagnostic::whole_file(
            Severity::Error,
            "empty-file",
            &doc.path,
            "this file is empty (or holds only comments)",
        )
        .with_hint(format!("{what}; or delete the file if it is not needed"))];
    }
    let errors: Vec<ValidationError<'_>> = validator.iter_errors(&doc.value).collect();
    // An unknown `kind` fails both the list of kinds (beside the alternatives,
    // for editors' completion) and every alternative; the alternatives' report
    // says it once, with "did you mean".
    let failed_alternatives: Vec<String> = errors
        .iter()
        .filter(|e| matches!(e.kind(), ValidationErrorKind::OneOfNotValid { .. }))
        .map(|e| format!("{}/kind", e.instance_path().as_str()))
        .collect();
    let mut out = Vec::new();
    for err in &errors {
        let repeated = matches!(err.kind(), ValidationErrorKind::Enum { .. })
            && failed_alternatives.contains(&err.instance_path().as_str().to_string());
        if !repeated {
            translate(doc, schema, err, &mut out);
        }
    }
    // `templat = ...` also makes `template` missing: the typo is the one report.
    let typos: Vec<(usize, String)> = out
        .iter()
        .filter(|d| d.code == "unknown-key")
        .filter_map(|d| {
            d.hint
                .as_deref()?
                .strip_prefix("did you mean `")?
                .strip_suffix("`?")
                .map(|k| (d.line, k.to_string()))
        })
        .collect();
    // And `[[rule]]` next to `[[rules.actions]]` makes `rules` a table: the
    // same typo again, not a second mistake.
    out.retain(|d| {
        let echo = |k: &String| {
            d.message.ends_with(&format!("needs a `{k}` key"))
                || (d.code == "wrong-type" && d.message.starts_with(&format!("`{k}` must be")))
        };
        !matches!(d.code, "missing-key" | "wrong-type") || !typos.iter().any(|(_, k)| echo(k))
    });
    out.sort_by_key(|d| (d.line, d.col));
    out.dedup_by(|a, b| a.line == b.line && a.col == b.col && a.message == b.message);
    out
}

fn translate(doc: &Document, schema: &Value, err: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let ptr = err.instance_path().as_str().to_string();
    let here = instance_at(&doc.value, &ptr);
    let key_name = ptr.rsplit('/').next().unwrap_or("").to_string();
    let label = if key_name.is_empty() || key_name.chars().all(|c| c.is_ascii_digit()) {
        "this value".to_string()
    } else {
        format!("`{key_name}`")
    };
    match err.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed = allowed_keys(schema, err.schema_path().as_str(), here);
            for key in unexpected {
                let child = format!("{ptr}/{}", escape_segment(key));
                let mut d = doc.diag_key(
                    Severity::Error,
                    "unknown-key",
                    &child,
                    format!("`{key}` is not a key hsflow knows here"),
                );
                d = match did_you_mean(key, allowed.iter().map(String::as_str)) {
                    Some(m) => d.with_hint(format!("did you mean `{m}`?")),
                    None if !allowed.is_empty() => {
                        d.with_hint(match schema_hints::belongs_elsewhere(schema, key) {
                            Some(place) => format!(
                                "{place} (the keys allowed here are: {})",
                                allowed.join(", ")
                            ),
                            None => format!("the keys allowed here are: {}", allowed.join(", ")),
                        })
                    }
                    None => d.with_hint("remove it, or check the spelling against the README"),
                };
                out.push(d);
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or("?");
            let what = if ptr.is_empty() {
                "this file".to_string()
            } else {
                "this table".to_string()
            };
            out.push(
                doc.diag(
                    Severity::Error,
                    "missing-key",
                    &ptr,
                    format!("{what} needs a `{name}` key"),
                )
                .with_hint(
                    schema_hints::required_example(schema, err.schema_path().as_str(), name)
                        .unwrap_or_else(|| format!("add `{name} = ...`")),
                ),
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = describe_type_kind(kind);
            out.push(
                doc.diag(
                    Severity::Error,
                    "wrong-type",
                    &ptr,
                    format!(
                        "{label} must be {expected}, but it is {}",
                        describe_value(here)
                    ),
                )
                .with_hint(
                    schema_hints::from_shape(&key_name, here, &expected)
                        .unwrap_or_else(|| type_hint(kind)),
                ),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect()
                })
                .unwrap_or_default();
            let found = here.and_then(Value::as_str).unwrap_or("");
            let mut d = doc.diag(
                Severity::Error,
                "not-allowed",
                &ptr,
                format!("{} is not allowed for {label}", describe_value(here)),
            );
            d = match did_you_mean(found, opts.iter().map(String::as_str)) {
                Some(m) => d.with_hint(format!(
                    "did you mean \"{m}\"? allowed: {}",
                    opts.join(", ")
                )),
                None => d.with_hint(format!("use one of: {}", opts.join(", "))),
            };
            out.push(d);
        }
        ValidationErrorKind::Pattern { pattern } => {
            let found = here.and_then(Value::as_str).unwrap_or("");
            let (code, msg, hint) = if pattern == DURATION_PATTERN {
                (
                    "bad-duration",
                    format!("`{found}` is not a duration"),
                    schema_hints::duration(&key_name, found),
                )
            } else if pattern == RELATIVE_PATTERN {
                (
                    "bad-schedule",
                    format!("`{found}` is not a schedule"),
                    "write \"7d before retreat_start\", \"1d after retreat_end\" or \"at event_date\"".to_string(),
                )
            } else {
                (
                    "bad-format",
                    format!("`{found}` does not have the expected form"),
                    format!("it must match {pattern}"),
                )
            };
            out.push(doc.diag(Severity::Error, code, &ptr, msg).with_hint(hint));
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            one_of(doc, schema, &ptr, here, &label, context, out);
        }
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            out.push(
                doc.diag(
                    Severity::Error,
                    "out-of-range",
                    &ptr,
                    format!(
                        "{label} must be at least {limit}, but it is {}",
                        describe_value(here)
                    ),
                )
                .with_hint(format!("use {limit} or more")),
            );
        }
        _ => out.push(
            doc.diag(Severity::Error, "schema", &ptr, format!("{label} does not have the expected form ({err})"))
                .with_hint("compare it with the example your editor shows for this key, or with the same key in a shipped rule file"),
        ),
    }
}

/// Pick the alternative of a oneOf/anyOf the author meant, and report its errors.
fn one_of(
    doc: &Document,
    schema: &Value,
    ptr: &str,
    here: Option<&Value>,
    label: &str,
    context: &[Vec<ValidationError<'static>>],
    out: &mut Vec<Diagnostic>,
) {
    // Tagged alternatives (`kind = "email"`): the branch whose tag matched.
    let tag_ptr = format!("{ptr}/kind");
    let tag_failed = |branch: &Vec<ValidationError<'static>>| {
        branch.iter().any(|e| {
            e.instance_path().as_str() == tag_ptr
                && matches!(e.kind(), ValidationErrorKind::Constant { .. })
        })
    };
    if here.and_then(|v| v.get("kind")).is_some() && context.iter().any(&tag_failed) {
        let matching: Vec<_> = context.iter().filter(|b| !tag_failed(b)).collect();
        if let Some(branch) = matching.first() {
            for e in branch.iter() {
                translate(doc, schema, e, out);
            }
            return;
        }
        let kinds: Vec<String> = context
            .iter()
            .flat_map(|b| b.iter())
            .filter_map(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value } => {
                    expected_value.as_str().map(str::to_string)
                }
                _ => None,
            })
            .collect();
        let found = here
            .and_then(|v| v.get("kind"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut d = doc.diag(
            Severity::Error,
            "unknown-kind",
            &tag_ptr,
            format!("`{found}` is not a kind hsflow knows"),
        );
        d = match did_you_mean(found, kinds.iter().map(String::as_str)) {
            Some(m) => d.with_hint(format!("did you mean \"{m}\"? kinds: {}", kinds.join(", "))),
            None => d.with_hint(format!("use one of: {}", kinds.join(", "))),
        };
        out.push(d);
        return;
    }
    // Otherwise: the branches whose type fits the value; of those, the one with fewest errors.
    let type_fits = |branch: &Vec<ValidationError<'static>>| {
        !branch.iter().any(|e| {
            e.instance_path().as_str() == ptr
                && matches!(
                    e.kind(),
                    ValidationErrorKind::Type { .. }
                        | ValidationErrorKind::Enum { .. }
                        | ValidationErrorKind::Constant { .. }
                )
        })
    };
    if let Some(best) = context
        .iter()
        .filter(|b| type_fits(b))
        .min_by_key(|b| b.len())
    {
        for e in best.iter() {
            translate(doc, schema, e, out);
        }
        return;
    }
    // Nothing fits: say what would. Named values (`"list"`, `"trim"`) and
    // shapes (a table, a list) are told apart: a value one letter off a name
    // gets "did you mean", a value of the wrong shape gets the shape.
    let mut values: Vec<String> = Vec::new();
    let mut shapes: Vec<String> = Vec::new();
    for branch in context {
        for e in branch.iter().filter(|e| e.instance_path().as_str() == ptr) {
            match e.kind() {
                ValidationErrorKind::Type { kind } => shapes.push(describe_type_kind(kind)),
                ValidationErrorKind::Constant { expected_value } => {
                    values.push(
                        expected_value
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| expected_value.to_string()),
                    );
                }
                ValidationErrorKind::Enum { options } => {
                    values.extend(options.as_array().into_iter().flatten().map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    }))
                }
                _ => {}
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(v.clone())); // keep the schema's order
    shapes.retain(|s| !s.starts_with("text") || values.is_empty());
    shapes.sort();
    shapes.dedup();
    let found = here.and_then(Value::as_str).unwrap_or("");
    let key = ptr.rsplit('/').next().unwrap_or("");
    let guess = did_you_mean(found, values.iter().map(String::as_str));
    let d = if !values.is_empty() && here.is_some_and(Value::is_string) {
        let allowed = values.join(", ");
        let hint = match guess {
            Some(m) => format!("did you mean \"{m}\"? allowed: {allowed}"),
            None => format!("use one of: {allowed}"),
        };
        doc.diag(
            Severity::Error,
            "not-allowed",
            ptr,
            format!("{} is not allowed for {label}", describe_value(here)),
        )
        .with_hint(hint)
    } else {
        // "a whole number or a number" says one thing twice.
        if shapes.iter().any(|s| s == "a number") {
            shapes.retain(|s| s != "a whole number");
        }
        let scalar = shapes.len() == 3
            && ["text (in \"quotes\")", "a number", "true or false"]
                .iter()
                .all(|k| shapes.iter().any(|s| s == k));
        let mut forms = if scalar {
            vec!["one value (text, a number, or true or false)".to_string()]
        } else {
            shapes.clone()
        };
        if !values.is_empty() {
            forms.push(format!("one of {}", values.join(", ")));
        }
        let expected = forms.join(" or ");
        let d = doc.diag(
            Severity::Error,
            "wrong-type",
            ptr,
            format!(
                "{label} must be {expected}, but it is {}",
                describe_value(here)
            ),
        );
        match schema_hints::from_shape(key, here, &expected) {
            Some(h) => d.with_hint(h),
            None => d.with_hint(format!("write {expected}")),
        }
    };
    out.push(d);
}

/// The value at a JSON pointer.
fn instance_at<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    if ptr.is_empty() {
        Some(root)
    } else {
        root.pointer(ptr)
    }
}

/// The keys a table may hold, from the schema location of an
/// additional/unevaluatedProperties failure (used for "did you mean").
fn allowed_keys(schema: &Value, schema_path: &str, instance: Option<&Value>) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    let Some(node) = resolve(schema, schema.pointer(parent).unwrap_or(&Value::Null)) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = Vec::new();
    collect_keys(schema, node, instance, &mut keys);
    keys.sort();
    keys.dedup();
    keys
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => root.pointer(r.trim_start_matches('#')),
        None => Some(node),
    }
}

fn collect_keys(root: &Value, node: &Value, instance: Option<&Value>, keys: &mut Vec<String>) {
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        keys.extend(props.keys().cloned());
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for branch in node
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(branch) = resolve(root, branch) else {
                continue;
            };
            // For tagged alternatives, only the branch the instance's kind selects.
            let tag = branch.pointer("/properties/kind/const");
            let inst_kind = instance.and_then(|i| i.get("kind"));
            if let (Some(t), Some(k)) = (tag, inst_kind) {
                if t != k {
                    continue;
                }
            }
            collect_keys(root, branch, instance, keys);
        }
    }
}

fn describe_type_kind(kind: &TypeKind) -> String {
    let one = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "string" => "text (in \"quotes\")".to_string(),
        "integer" => "a whole number".to_string(),
        "number" => "a number".to_string(),
        "boolean" => "true or false".to_string(),
        "array" => "a list [ ... ]".to_string(),
        "object" => "a table".to_string(),
        "null" => "empty".to_string(),
        other => other.to_string(),
    };
    match kind {
        TypeKind::Single(t) => one(t),
        TypeKind::Multiple(set) => set
            .iter()
            .filter(|t| t.to_string() != "null")
            .map(|t| one(&t))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn type_hint(kind: &TypeKind) -> String {
    let s = describe_type_kind(kind);
    if s.starts_with("text") {
        "put the value in double quotes, e.g. \"2h\"".into()
    } else if s.starts_with("a list") {
        "write a list in square brackets, e.g. [\"Artist\", \"Gallery Contact\"]".into()
    } else if s.starts_with("a table") {
        "write a table, e.g. { field = \"lead_source\", equals = \"Website\" }".into()
    } else if s.starts_with("true") {
        "write true or false without quotes".into()
    } else {
        "write a number without quotes".into()
    }
}

/// A short description of a value for messages: `text "2 hours"`, `the number 5`.
pub fn describe_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "missing".into(),
        Some(Value::String(s)) => format!("the text \"{s}\""),
        Some(Value::Number(n)) => format!("the number {n}"),
        Some(Value::Bool(b)) => format!("{b}"),
        Some(Value::Array(_)) => "a list".into(),
        Some(Value::Object(_)) => "a table".into(),
    }
}
