//! The engine's explain trace in plain words, for people who don't read
//! conditions: `contact_types contains_any ["Artist","Gallery Contact"]`
//! with its value becomes "contact types contains any of Artist, Gallery
//! Contact: yes, it is Artist".

use serde_json::Value;

/// A value as a person reads it: text bare, lists joined, nothing as "missing".
pub fn value(v: &Value) -> String {
    match v {
        Value::Null => "missing".to_string(),
        Value::String(s) if s.is_empty() => "empty".to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "an empty list".to_string(),
        Value::Array(a) => a.iter().map(value).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn op(word: &str, arg: &str) -> Option<String> {
    Some(match (word, arg) {
        ("exists", "true") => "is there".to_string(),
        ("exists", "false") => "is missing".to_string(),
        ("is_empty", "true") => "is empty".to_string(),
        ("is_empty", "false") => "is not empty".to_string(),
        ("equals", _) => "is".to_string(),
        ("not_equals", _) => "is not".to_string(),
        ("in", _) => "is one of".to_string(),
        ("contains", _) => "contains".to_string(),
        ("contains_any", _) => "contains any of".to_string(),
        ("contains_all", _) => "contains all of".to_string(),
        ("contains_none", _) => "contains none of".to_string(),
        ("contains_other_than", _) => "contains something other than".to_string(),
        ("gt", _) => "is more than".to_string(),
        ("gte", _) => "is at least".to_string(),
        ("lt", _) => "is less than".to_string(),
        ("lte", _) => "is at most".to_string(),
        ("starts_with", _) => "starts with".to_string(),
        ("ends_with", _) => "ends with".to_string(),
        ("text_contains", _) => "contains the text".to_string(),
        _ => return None,
    })
}

/// What a test (`contact_types contains_any ["Artist"]`) checks, in words:
/// "contact types contains any of Artist". An expression stays as written.
pub fn test(body: &str) -> String {
    let mut parts = body.splitn(3, ' ');
    let (field, word, arg) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    match op(word, arg) {
        Some(o) => {
            let arg = match word {
                "exists" | "is_empty" => String::new(),
                _ => format!(
                    " {}",
                    serde_json::from_str::<Value>(arg)
                        .map(|v| value(&v))
                        .unwrap_or_else(|_| arg.to_string())
                ),
            };
            format!("{}{}{arg}", field.replace('_', " "), format_args!(" {o}"))
        }
        // An expression: shown as written.
        None => body.to_string(),
    }
}

/// One condition of the trace in words: what was tested, the verdict, and
/// what the event had.
pub fn condition(expr: &str, result: bool, values: &Value) -> String {
    // A rule's `for_entity`: the routing step, not a field test.
    if let Some(rest) = expr.strip_prefix(crate::engine::routing::FOR_ENTITY_EXPR) {
        let entity = values["for"]
            .as_str()
            .unwrap_or_else(|| rest.split('"').next().unwrap_or(""));
        let went: Vec<String> = values["routed_to"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let went = if went.is_empty() {
            "no route matched".to_string()
        } else {
            format!("routed to {}", went.join(", "))
        };
        let verdict = if result { "yes" } else { "no" };
        return format!(
            "the contact belongs to {entity} (routing in entities.toml): {verdict}, {went}"
        );
    }
    let (prefix, body) = match expr.strip_prefix("any: ") {
        Some(rest) => ("one of: ", rest),
        None => ("", expr),
    };
    let tested = test(body);
    let verdict = if result { "yes" } else { "no" };
    let seen: Vec<String> = values
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            if values.as_object().is_some_and(|o| o.len() == 1) {
                format!("it is {}", value(v))
            } else {
                format!("{} is {}", k.replace('_', " "), value(v))
            }
        })
        .collect();
    if seen.is_empty() {
        format!("{prefix}{tested}: {verdict}")
    } else {
        format!("{prefix}{tested}: {verdict}, {}", seen.join("; "))
    }
}

/// A duration in seconds as people say it (defined with the rule language's durations).
pub use crate::rules::model::time::in_words as span;

/// When an action runs, counted from its event: "at once", "after 2 days".
pub fn delay(secs: i64) -> String {
    if secs <= 0 {
        "at once".to_string()
    } else {
        format!("after {}", span(secs.unsigned_abs()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_read_as_sentences_with_what_the_event_had() {
        assert_eq!(
            condition(
                r#"contact_types contains_any ["Artist","Gallery Contact"]"#,
                false,
                &json!({"contact_types": ["Potential Client"]})
            ),
            "contact types contains any of Artist, Gallery Contact: no, it is Potential Client"
        );
        assert_eq!(
            condition("email is_empty false", true, &json!({"email": "a@b.org"})),
            "email is not empty: yes, it is a@b.org"
        );
        assert_eq!(
            condition(
                r#"any: source equals "circle""#,
                false,
                &json!({"source": "typeform"})
            ),
            "one of: source is circle: no, it is typeform"
        );
        assert_eq!(
            condition("score >= 50", true, &json!({"score": 60, "tags": null})),
            "score >= 50: yes, score is 60; tags is missing"
        );
    }
}
