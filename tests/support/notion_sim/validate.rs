//! The simulator's validation: page property values checked per type against
//! the database schema, with Notion's limits and message style, and query
//! filters evaluated against stored pages.

use serde_json::{Map, Value};

use super::{Database, Page};

/// Notion's property types, kept apart from hsflow's own `PropertyType` on
/// purpose: the simulator is the reference the sink is checked against, so a
/// mistake in hsflow's model must not be mirrored here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropType {
    Title,
    RichText,
    Email,
    PhoneNumber,
    Url,
    Number,
    Checkbox,
    Select,
    MultiSelect,
    Status,
    Date,
    Relation,
    People,
}

impl PropType {
    pub fn key(self) -> &'static str {
        match self {
            PropType::Title => "title",
            PropType::RichText => "rich_text",
            PropType::Email => "email",
            PropType::PhoneNumber => "phone_number",
            PropType::Url => "url",
            PropType::Number => "number",
            PropType::Checkbox => "checkbox",
            PropType::Select => "select",
            PropType::MultiSelect => "multi_select",
            PropType::Status => "status",
            PropType::Date => "date",
            PropType::Relation => "relation",
            PropType::People => "people",
        }
    }

    pub fn parse(s: &str) -> Option<PropType> {
        [
            PropType::Title,
            PropType::RichText,
            PropType::Email,
            PropType::PhoneNumber,
            PropType::Url,
            PropType::Number,
            PropType::Checkbox,
            PropType::Select,
            PropType::MultiSelect,
            PropType::Status,
            PropType::Date,
            PropType::Relation,
            PropType::People,
        ]
        .into_iter()
        .find(|t| t.key() == s)
    }
}

/// A short stable id per property name, as Notion gives each property.
pub fn property_id(name: &str) -> String {
    let h = name
        .bytes()
        .fold(5381u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    format!("{:04x}", h & 0xffff)
}

fn fail(path: &str, what: &str, found: &Value) -> String {
    let found = found.to_string();
    let found: String = found.chars().take(60).collect();
    format!("body failed validation: body.properties.{path} {what}, instead was `{found}`.")
}

fn rich_text_array(path: &str, v: &Value) -> Result<(), String> {
    let Some(items) = v.as_array() else {
        return Err(fail(path, "should be an array", v));
    };
    if items.len() > 100 {
        return Err(format!(
            "body failed validation: body.properties.{path}.length should be ≤ `100`, instead was `{}`.",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        let Some(content) = item.pointer("/text/content") else {
            return Err(fail(
                &format!("{path}[{i}].text.content"),
                "should be defined",
                &Value::Null,
            ));
        };
        let Some(text) = content.as_str() else {
            return Err(fail(
                &format!("{path}[{i}].text.content"),
                "should be a string",
                content,
            ));
        };
        let n = text.chars().count();
        if n > 2000 {
            return Err(format!("body failed validation: body.properties.{path}[{i}].text.content.length should be ≤ `2000`, instead was `{n}`."));
        }
    }
    Ok(())
}

fn nullable_string(path: &str, v: &Value, max: usize) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if s.chars().count() <= max => Ok(()),
        Value::String(s) => Err(format!(
            "body failed validation: body.properties.{path}.length should be ≤ `{max}`, instead was `{}`.",
            s.chars().count()
        )),
        other => Err(fail(path, "should be a string or `null`", other)),
    }
}

fn named_option(path: &str, v: &Value) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Object(o) => match o.get("name").and_then(Value::as_str) {
            Some(n) if n.contains(',') => Err(fail(
                &format!("{path}.name"),
                "should not contain commas",
                &Value::String(n.into()),
            )),
            Some(_) => Ok(()),
            None => Err(fail(
                &format!("{path}.name"),
                "should be a string",
                o.get("name").unwrap_or(&Value::Null),
            )),
        },
        other => Err(fail(path, "should be an object or `null`", other)),
    }
}

fn list_of(
    path: &str,
    v: &Value,
    each: impl Fn(&str, &Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some(items) = v.as_array() else {
        return Err(fail(path, "should be an array", v));
    };
    if items.len() > 100 {
        return Err(format!(
            "body failed validation: body.properties.{path}.length should be ≤ `100`, instead was `{}`.",
            items.len()
        ));
    }
    for (i, item) in items.iter().enumerate() {
        each(&format!("{path}[{i}]"), item)?;
    }
    Ok(())
}

fn one(name: &str, t: PropType, body: &Value) -> Result<(), String> {
    let key = t.key();
    let Some(obj) = body.as_object() else {
        return Err(fail(name, "should be an object", body));
    };
    let Some(v) = obj.get(key) else {
        return Err(format!(
            "body failed validation: body.properties.{name}.{key} should be defined, instead was `undefined`."
        ));
    };
    let path = format!("{name}.{key}");
    match t {
        PropType::Title | PropType::RichText => rich_text_array(&path, v),
        PropType::Email | PropType::PhoneNumber => nullable_string(&path, v, 200),
        PropType::Url => nullable_string(&path, v, 2000),
        PropType::Number => match v {
            Value::Null | Value::Number(_) => Ok(()),
            other => Err(fail(&path, "should be a number or `null`", other)),
        },
        PropType::Checkbox => match v {
            Value::Bool(_) => Ok(()),
            other => Err(fail(&path, "should be a boolean", other)),
        },
        PropType::Select | PropType::Status => named_option(&path, v),
        PropType::MultiSelect => list_of(&path, v, |p, item| match item {
            Value::Null => Err(fail(p, "should be an object", item)),
            _ => named_option(p, item),
        }),
        PropType::Date => match v {
            Value::Null => Ok(()),
            Value::Object(o) => match o.get("start").and_then(Value::as_str) {
                Some(s)
                    if chrono::DateTime::parse_from_rfc3339(s).is_ok()
                        || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() =>
                {
                    Ok(())
                }
                _ => Err(fail(
                    &format!("{path}.start"),
                    "should be a valid ISO 8601 date string",
                    o.get("start").unwrap_or(&Value::Null),
                )),
            },
            other => Err(fail(&path, "should be an object or `null`", other)),
        },
        PropType::Relation => list_of(&path, v, |p, item| match item.get("id") {
            Some(Value::String(_)) => Ok(()),
            _ => Err(fail(&format!("{p}.id"), "should be a string", item)),
        }),
        PropType::People => list_of(&path, v, |p, item| match item.get("id") {
            Some(Value::String(_)) => Ok(()),
            _ => Err(fail(&format!("{p}.id"), "should be a string", item)),
        }),
    }
}

/// Check a `properties` object against the schema; returns what to store.
pub fn properties(
    db: &Database,
    props: &Value,
    creating: bool,
) -> Result<Map<String, Value>, String> {
    let Some(map) = props.as_object() else {
        return Err(fail("", "should be an object", props));
    };
    let mut out = Map::new();
    for (name, body) in map {
        let Some(t) = db.properties.get(name) else {
            return Err(format!("{name} is not a property that exists."));
        };
        one(name, *t, body)?;
        out.insert(name.clone(), body.clone());
    }
    if creating && !db.properties.values().any(|t| *t == PropType::Title) {
        return Err("The database has no title property.".into());
    }
    Ok(out)
}

/// The comparable text of a stored property value.
fn plain(v: &Value) -> Option<Value> {
    let obj = v.as_object()?;
    let (key, inner) = obj.iter().find(|(k, _)| *k != "id" && *k != "type")?;
    Some(match key.as_str() {
        "title" | "rich_text" => Value::String(
            inner
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.pointer("/text/content")?.as_str())
                        .collect::<String>()
                })
                .unwrap_or_default(),
        ),
        "select" | "status" => inner.get("name").cloned().unwrap_or(Value::Null),
        _ => inner.clone(),
    })
}

/// Does `page` match a query filter (property filters, timestamps, and/or)?
pub fn filter_matches(db: &Database, filter: Option<&Value>, page: &Page) -> Result<bool, String> {
    let Some(f) = filter else { return Ok(true) };
    if let Some(all) = f.get("and").and_then(Value::as_array) {
        for g in all {
            if !filter_matches(db, Some(g), page)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = f.get("or").and_then(Value::as_array) {
        for g in any {
            if filter_matches(db, Some(g), page)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if f.get("timestamp").and_then(Value::as_str) == Some("last_edited_time") {
        let cond = f.get("last_edited_time").cloned().unwrap_or(Value::Null);
        let after = cond
            .get("on_or_after")
            .or_else(|| cond.get("after"))
            .and_then(Value::as_str);
        let Some(after) = after.and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok()) else {
            return Err("body failed validation: body.filter.last_edited_time should have on_or_after or after as an ISO 8601 date.".into());
        };
        let edited = chrono::DateTime::parse_from_rfc3339(&page.last_edited_time)
            .map_err(|e| e.to_string())?;
        return Ok(edited >= after);
    }
    let Some(name) = f.get("property").and_then(Value::as_str) else {
        return Err("body failed validation: body.filter.property should be defined, instead was `undefined`.".into());
    };
    let Some(t) = db.properties.get(name) else {
        return Err(format!("Could not find property with name or id: {name}"));
    };
    let Some(cond) = f.get(t.key()) else {
        return Err(format!(
            "body failed validation: body.filter.{} should be defined, instead was `undefined`.",
            t.key()
        ));
    };
    let actual = page
        .properties
        .get(name)
        .and_then(plain)
        .unwrap_or(Value::Null);
    if let Some(want) = cond.get("equals") {
        return Ok(match (&actual, want) {
            (Value::String(a), Value::String(b)) if matches!(t, PropType::Email) => {
                a.eq_ignore_ascii_case(b)
            }
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (a, b) => a == b,
        });
    }
    if let Some(Value::String(part)) = cond.get("contains") {
        return Ok(actual.as_str().is_some_and(|a| a.contains(part.as_str())));
    }
    if cond.get("is_empty") == Some(&Value::Bool(true)) {
        return Ok(actual.is_null() || actual == Value::String(String::new()));
    }
    Err(format!(
        "body failed validation: the simulator does not support the filter {cond}"
    ))
}
