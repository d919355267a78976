//! Hints that read what the author meant from the shape of the value they wrote.
//!
//! "`equals` must be text, but it is a list" is true and useless: someone who
//! gives `equals` a list wants "any of these", which is `in`. "`gte` must be a
//! number, but it is the text \"50\"" wants the quotes gone. These hints say the
//! form that fits the intent, with the author's own value in it.

use serde_json::Value;

/// A hint for a value of the wrong shape under `key`, when its shape shows
/// what was meant; `None` leaves the generic "write it like this" hint.
pub fn from_shape(key: &str, here: Option<&Value>, expected: &str) -> Option<String> {
    let here = here?;
    match (key, here) {
        ("equals", Value::Array(items)) => Some(format!(
            "`equals` compares with one value; to accept any of several, write in = {} (or contains_any = {} when the field is a list, such as contact_types)",
            list(items),
            list(items)
        )),
        ("not_equals", Value::Array(items)) => Some(format!(
            "`not_equals` compares with one value; to refuse several, write not = {{ field = \"...\", in = {} }} (or contains_none = {} for a list field)",
            list(items),
            list(items)
        )),
        ("contains", Value::Array(items)) => Some(format!(
            "`contains` looks for one value; for any of several write contains_any = {}, for all of them contains_all = {}",
            list(items),
            list(items)
        )),
        (_, Value::Object(_)) if expected.starts_with("a list") => Some(format!(
            "a list goes in square brackets, even with one item: {key} = [ {{ ... }} ]; or, for a list of tables, repeat the header with double brackets [[{key}]]"
        )),
        (_, Value::String(s)) if expected.starts_with("a list") => {
            Some(format!("put it in square brackets, as a list of one: {key} = [\"{s}\"]"))
        }
        (_, Value::String(s)) if expected.contains("number") && s.trim().parse::<f64>().is_ok() => {
            Some(format!("numbers are written without quotes: {key} = {}", s.trim()))
        }
        (_, Value::String(s)) if expected.starts_with("true") => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(format!("write {key} = true, without quotes")),
            "false" | "no" | "off" => Some(format!("write {key} = false, without quotes")),
            _ => None,
        },
        (_, Value::Number(n)) if expected.starts_with("text") => Some(format!(
            "text goes in double quotes: {key} = \"{n}\"{}",
            if matches!(key, "delay" | "due" | "window" | "every" | "first_response") {
                " (with a unit: \"30m\", \"2h\", \"3d\", \"1w\")"
            } else {
                ""
            }
        )),
        _ => None,
    }
}

/// Turn a duration written in words ("2 hours", "1 week", "-2h") into advice.
pub fn duration(key: &str, found: &str) -> String {
    let t = found.trim();
    if let Some(rest) = t.strip_prefix('-').filter(|_| key == "delay") {
        return format!(
            "a delay can't be negative; to act before a date the event carries, write at = \"{} before <date field>\", e.g. at = \"{} before retreat_start\"",
            rest.trim(),
            rest.trim()
        );
    }
    let mut words = t.split_whitespace();
    let number = words.next().and_then(|n| n.parse::<u64>().ok());
    let unit = words.next().map(|u| u.to_ascii_lowercase());
    let short = unit.as_deref().and_then(|u| match u.trim_end_matches('s') {
        "minute" | "min" | "mn" => Some("m"),
        "hour" | "hr" | "h" => Some("h"),
        "day" | "d" => Some("d"),
        "week" | "wk" | "w" => Some("w"),
        "second" | "sec" => Some("s"),
        _ => None,
    });
    match (number, short) {
        (Some(n), Some(u)) => {
            format!("write it as \"{n}{u}\" (a whole number and a unit, no space)")
        }
        _ => "write a whole number and a unit: \"30m\", \"2h\", \"3d\", \"1w\"".into(),
    }
}

/// Where a key that doesn't belong here does belong, in the author's terms:
/// "`delay` belongs to an action ([[rules.actions]])".
pub fn belongs_elsewhere(schema: &Value, key: &str) -> Option<String> {
    let defs = schema.get("$defs")?.as_object()?;
    let mut places: Vec<&'static str> = Vec::new();
    let mut visit = |name: &str, node: &Value| {
        let has = node.pointer(&format!("/properties/{key}")).is_some()
            || node
                .get("oneOf")
                .and_then(Value::as_array)
                .is_some_and(|b| {
                    b.iter()
                        .any(|b| b.pointer(&format!("/properties/{key}")).is_some())
                });
        if has {
            places.push(place(name));
        }
    };
    for (name, node) in defs {
        visit(name, node);
    }
    visit("", schema);
    places.sort_unstable();
    places.dedup();
    (!places.is_empty())
        .then(|| format!("`{key}` belongs in {}; move it there", places.join(" or ")))
}

/// A schema definition, as the author sees it in the file.
fn place(def: &str) -> &'static str {
    match def {
        "" => "the top of the file (before any [table])",
        "ActionSpec" => "an action ([[rules.actions]])",
        "RuleSpec" => "a rule ([[rules]])",
        "ConditionSpec" => "a condition ({ field = ..., equals = ... })",
        "WorkflowDef" => "a workflow ([workflows.<name>])",
        "FieldSpec" => "a field ([fields.<name>])",
        "Auth" => "[auth]",
        "Idempotency" => "[idempotency]",
        "Locator" => "[event_type]",
        "Database" => "a database ([[databases]])",
        "Entity" => "an entity ([[entities]])",
        "Route" => "a route ([[routes]])",
        "LeadSource" => "a lead source ([[lead_sources]])",
        "ScheduleSpec" => "a schedule ([[schedules]])",
        "TestCase" => "a test case ([[cases]])",
        "Expect" => "a case's expectations ([cases.expect])",
        _ => "another table",
    }
}

/// For a missing key: a line to copy, from the schema's own example or values.
pub fn required_example(schema: &Value, schema_path: &str, key: &str) -> Option<String> {
    let parent = schema_path.strip_suffix("/required").unwrap_or(schema_path);
    let node = schema.pointer(parent)?;
    let prop = node.pointer(&format!("/properties/{key}"))?;
    if let Some(values) = prop.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values.iter().map(Value::to_string).collect();
        return Some(format!(
            "add {key} = {} (one of {})",
            names.first()?,
            names.join(", ")
        ));
    }
    if prop.get("const").is_some() {
        // One alternative of several (an action's kind): offer them all.
        let (union, _) = parent.rsplit_once("/oneOf/")?;
        let values = schema
            .pointer(&format!("{union}/properties/{key}/enum"))?
            .as_array()?;
        let names: Vec<String> = values.iter().map(Value::to_string).collect();
        return Some(format!(
            "add {key} = ... with what this does, one of {}",
            names.join(", ")
        ));
    }
    let example = prop.pointer("/examples/0")?;
    let shown = match example {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => example.to_string(),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            example.to_string().replace(',', ", ")
        }
        _ => {
            return Some(format!(
                "add `{key} = ...` (see the schema's example for `{key}`)"
            ))
        }
    };
    Some(format!("add {key} = {shown}"))
}

fn list(items: &[Value]) -> String {
    let parts: Vec<String> = items.iter().map(Value::to_string).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_for_equals_points_to_in_and_contains_any() {
        let h = from_shape("equals", Some(&json!(["A", "B"])), "text").unwrap_or_default();
        assert!(
            h.contains("in = [\"A\", \"B\"]") && h.contains("contains_any"),
            "{h}"
        );
    }

    #[test]
    fn quoted_numbers_and_booleans_lose_their_quotes() {
        let n = from_shape("gte", Some(&json!("50")), "a number").unwrap_or_default();
        assert!(n.contains("gte = 50"), "{n}");
        let b = from_shape("required", Some(&json!("yes")), "true or false").unwrap_or_default();
        assert!(b.contains("required = true"), "{b}");
        let l = from_shape("on", Some(&json!("form:x")), "a list [ ... ]").unwrap_or_default();
        assert!(l.contains("on = [\"form:x\"]"), "{l}");
    }

    #[test]
    fn durations_in_words_and_negative_delays_get_the_right_form() {
        assert!(duration("delay", "2 hours").contains("\"2h\""));
        assert!(duration("every", "1 week").contains("\"1w\""));
        assert!(duration("delay", "-2h").contains("at = \"2h before"));
        assert!(!duration("window", "-2h").contains("before"));
    }
}
