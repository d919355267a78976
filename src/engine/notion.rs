//! Notion property values, shaped exactly as the Notion API expects them.
//!
//! The property type comes from rules/databases.toml; the value from the
//! rendered action. Limits are applied here, before anything is sent: text
//! over 2,000 characters is split into several text objects, lists are capped
//! at 100 items (with a note).

use serde_json::{json, Value};

use crate::rules::model::PropertyType;

/// Notion's limit on one text object's content.
pub const TEXT_LIMIT: usize = 2000;
/// Notion's limit on rich-text arrays, multi-selects and relations.
pub const ARRAY_LIMIT: usize = 100;

fn text_objects(s: &str, with_type: bool) -> Value {
    let chars: Vec<char> = s.chars().collect();
    let mut parts: Vec<Value> = chars
        .chunks(TEXT_LIMIT)
        .map(|c| {
            let content: String = c.iter().collect();
            if with_type {
                json!({"type": "text", "text": {"content": content, "link": null}})
            } else {
                json!({"text": {"content": content}})
            }
        })
        .collect();
    if parts.is_empty() {
        parts.push(if with_type {
            json!({"type": "text", "text": {"content": "", "link": null}})
        } else {
            json!({"text": {"content": ""}})
        });
    }
    parts.truncate(ARRAY_LIMIT);
    Value::Array(parts)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(as_text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A value as a list of texts: a list item by item, a text split at commas.
pub fn as_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(as_text).filter(|s| !s.is_empty()).collect(),
        Value::String(s) if s.trim().is_empty() => vec![],
        Value::String(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        Value::Null => vec![],
        other => vec![as_text(other)],
    }
}

/// The request body of one property. `notes` collects what was trimmed.
pub fn property_value(
    kind: PropertyType,
    v: &Value,
    name: &str,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let empty = |v: &Value| {
        matches!(v, Value::Null) || matches!(v, Value::String(s) if s.trim().is_empty())
    };
    let capped = |mut list: Vec<String>, notes: &mut Vec<String>| {
        if list.len() > ARRAY_LIMIT {
            notes.push(format!(
                "`{name}` had {} items; Notion takes {ARRAY_LIMIT}, the rest were dropped",
                list.len()
            ));
            list.truncate(ARRAY_LIMIT);
        }
        list
    };
    Ok(match kind {
        PropertyType::Title => {
            let t = as_text(v);
            if t.chars().count() > TEXT_LIMIT {
                notes.push(format!(
                    "`{name}` is longer than {TEXT_LIMIT} characters and was split"
                ));
            }
            json!({"title": text_objects(&t, false)})
        }
        PropertyType::RichText => {
            let t = as_text(v);
            if t.chars().count() > TEXT_LIMIT {
                notes.push(format!(
                    "`{name}` is longer than {TEXT_LIMIT} characters and was split"
                ));
            }
            json!({"rich_text": text_objects(&t, true)})
        }
        PropertyType::Email | PropertyType::PhoneNumber | PropertyType::Url => {
            let key = match kind {
                PropertyType::Email => "email",
                PropertyType::PhoneNumber => "phone_number",
                _ => "url",
            };
            if empty(v) {
                json!({ key: null })
            } else {
                json!({ key: as_text(v) })
            }
        }
        PropertyType::Number => match v {
            Value::Number(n) => json!({"number": n}),
            Value::Null => json!({"number": null}),
            Value::String(s) if s.trim().is_empty() => json!({"number": null}),
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(n) => json!({"number": n}),
                Err(_) => {
                    return Err(format!(
                        "`{name}` is a number property, but the value is \"{s}\""
                    ))
                }
            },
            other => {
                return Err(format!(
                    "`{name}` is a number property, but the value is {other}"
                ))
            }
        },
        PropertyType::Checkbox => match v {
            Value::Bool(b) => json!({"checkbox": b}),
            Value::String(s) => {
                json!({"checkbox": matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1")})
            }
            Value::Null => json!({"checkbox": false}),
            other => return Err(format!("`{name}` is a checkbox, but the value is {other}")),
        },
        PropertyType::Select | PropertyType::Status => {
            let key = if kind == PropertyType::Select {
                "select"
            } else {
                "status"
            };
            let first = as_list(v).into_iter().next();
            match first {
                Some(n) => json!({ key: {"name": n} }),
                None => json!({ key: null }),
            }
        }
        PropertyType::MultiSelect => {
            let list = capped(as_list(v), notes);
            json!({"multi_select": list.into_iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
        }
        PropertyType::Date => {
            if empty(v) {
                json!({"date": null})
            } else {
                json!({"date": {"start": as_text(v), "end": null, "time_zone": null}})
            }
        }
        PropertyType::Relation => {
            let list = capped(as_list(v), notes);
            json!({"relation": list.into_iter().map(|id| json!({"id": id})).collect::<Vec<_>>()})
        }
        PropertyType::People => {
            let list = capped(as_list(v), notes);
            json!({"people": list.into_iter().map(|id| json!({"object": "user", "id": id})).collect::<Vec<_>>()})
        }
    })
}

/// A date property whose start has a time but no offset ("2026-02-14
/// 10:00", as Amelia sends it) is a wall-clock time in `zone`: written in
/// the ISO form Notion requires, with `time_zone` naming the zone, so Notion
/// shows 10:00 in New York rather than 10:00 UTC. Dates with an offset and
/// plain dates are left as they are.
pub fn on_clock(property: &mut Value, zone: chrono_tz::Tz) {
    let Some(date) = property.get_mut("date").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(start) = date.get("start").and_then(Value::as_str) else {
        return;
    };
    let naive = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(start.trim(), f).ok());
    if let Some(t) = naive {
        date.insert(
            "start".into(),
            Value::String(t.format("%Y-%m-%dT%H:%M:%S").to_string()),
        );
        date.insert("time_zone".into(), Value::String(zone.name().to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_notion_reference() {
        let mut n = Vec::new();
        assert_eq!(
            property_value(PropertyType::Title, &json!("Ada"), "Name", &mut n),
            Ok(json!({"title": [{"text": {"content": "Ada"}}]}))
        );
        assert_eq!(
            property_value(PropertyType::Email, &json!(""), "Email", &mut n),
            Ok(json!({"email": null}))
        );
        assert_eq!(
            property_value(PropertyType::MultiSelect, &json!(["A", "B"]), "T", &mut n),
            Ok(json!({"multi_select": [{"name": "A"}, {"name": "B"}]}))
        );
        assert_eq!(
            property_value(PropertyType::Select, &json!("Lead"), "S", &mut n),
            Ok(json!({"select": {"name": "Lead"}}))
        );
        assert_eq!(
            property_value(PropertyType::Number, &json!("29.35"), "P", &mut n),
            Ok(json!({"number": 29.35}))
        );
        assert!(property_value(PropertyType::Number, &json!("lots"), "P", &mut n).is_err());
        assert_eq!(
            property_value(PropertyType::Date, &json!("2026-01-31"), "D", &mut n),
            Ok(json!({"date": {"start": "2026-01-31", "end": null, "time_zone": null}}))
        );
    }

    #[test]
    fn a_date_without_an_offset_is_sent_on_the_entitys_clock() {
        let ny = chrono_tz::America::New_York;
        let mut n = Vec::new();
        let mut v = property_value(PropertyType::Date, &json!("2026-02-14 10:00"), "D", &mut n)
            .unwrap_or_default();
        on_clock(&mut v, ny);
        assert_eq!(
            v,
            json!({"date": {"start": "2026-02-14T10:00:00", "end": null, "time_zone": "America/New_York"}})
        );
        for kept in [
            "2026-02-14",
            "2026-02-14T15:00:00Z",
            "2026-02-14T10:00:00-05:00",
        ] {
            let mut v =
                property_value(PropertyType::Date, &json!(kept), "D", &mut n).unwrap_or_default();
            on_clock(&mut v, ny);
            assert_eq!(v["date"]["start"], kept);
            assert_eq!(v["date"]["time_zone"], Value::Null);
        }
    }

    #[test]
    fn long_text_is_split_and_long_lists_capped() {
        let mut notes = Vec::new();
        let v = property_value(
            PropertyType::RichText,
            &json!("x".repeat(4500)),
            "Notes",
            &mut notes,
        )
        .unwrap_or_default();
        let parts = v["rich_text"].as_array().map(Vec::len);
        assert_eq!(parts, Some(3));
        assert!(notes[0].contains("split"));
        let many: Vec<String> = (0..150).map(|i| i.to_string()).collect();
        let v = property_value(PropertyType::MultiSelect, &json!(many), "Tags", &mut notes)
            .unwrap_or_default();
        assert_eq!(v["multi_select"].as_array().map(Vec::len), Some(100));
        assert!(notes[1].contains("150 items"));
    }
}
