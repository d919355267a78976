//! The small declarative transforms of a source's field mapping.

use serde_json::{Number, Value};

use crate::rules::model::{FieldType, Transform};

/// Apply transforms in order. `None` is "the field is absent".
pub fn apply(mut v: Option<Value>, transforms: &[Transform]) -> Result<Option<Value>, String> {
    for t in transforms {
        v = match (t, v) {
            (Transform::Default(d), cur) => match cur {
                Some(x) if !is_blank(&x) => Some(x),
                _ => Some(d.clone()),
            },
            (_, None) => None,
            (Transform::Lowercase, Some(Value::String(mut s))) if s.is_ascii() => {
                s.make_ascii_lowercase();
                Some(Value::String(s))
            }
            (Transform::Lowercase, Some(x)) => Some(map_text(x, |s| s.to_lowercase())),
            (Transform::Uppercase, Some(x)) => Some(map_text(x, |s| s.to_uppercase())),
            (Transform::Trim, Some(Value::String(s))) if s.trim().len() == s.len() => {
                Some(Value::String(s))
            }
            (Transform::Trim, Some(x)) => Some(map_text(x, |s| s.trim().to_string())),
            (Transform::ToNumber, Some(x)) => {
                Some(to_number(&x).ok_or_else(|| format!("{x} is not a number"))?)
            }
            (Transform::Split(sep), Some(Value::String(s))) => Some(Value::Array(
                s.split(sep.as_str())
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )),
            (Transform::Split(_), Some(x)) => Some(x),
            (Transform::First, Some(Value::Array(a))) => a.into_iter().next(),
            (Transform::First, Some(x)) => Some(x),
            (Transform::Join(sep), Some(Value::Array(a))) => Some(Value::String(
                a.iter().map(text_of).collect::<Vec<_>>().join(sep),
            )),
            (Transform::Join(_), Some(x)) => Some(x),
            (Transform::Map(m), Some(x)) => Some(map_text(x, |s| {
                m.get(s).cloned().unwrap_or_else(|| s.to_string())
            })),
        };
    }
    Ok(v)
}

/// Check (and gently coerce) a value to its declared type.
pub fn coerce(v: Value, kind: FieldType) -> Result<Value, String> {
    match (kind, v) {
        (FieldType::Any, v) => Ok(v),
        (FieldType::Text, Value::String(s)) => Ok(Value::String(s)),
        (FieldType::Text, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (FieldType::Text, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (FieldType::Number, v) => {
            to_number(&v).ok_or_else(|| format!("expected a number, found {v}"))
        }
        (FieldType::Boolean, Value::Bool(b)) => Ok(Value::Bool(b)),
        (FieldType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("expected true or false, found \"{s}\"")),
        },
        (FieldType::List, Value::Array(a)) => Ok(Value::Array(a)),
        (FieldType::List, other) => Ok(Value::Array(vec![other])),
        (FieldType::Date, Value::String(s)) => {
            if crate::engine::dates::parse(&s).is_some() {
                Ok(Value::String(s))
            } else {
                Err(format!(
                    "expected a date (RFC 3339 or YYYY-MM-DD HH:MM), found \"{s}\""
                ))
            }
        }
        (kind, v) => Err(format!(
            "expected {}, found {v}",
            match kind {
                FieldType::Text => "text",
                FieldType::Boolean => "true or false",
                FieldType::Date => "a date",
                _ => "another type",
            }
        )),
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn map_text(v: Value, f: impl Fn(&str) -> String) -> Value {
    map_text_dyn(v, &f)
}

fn map_text_dyn(v: Value, f: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| map_text_dyn(x, f)).collect()),
        other => other,
    }
}

fn to_number(v: &Value) -> Option<Value> {
    match v {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Some(Value::Number(i.into()));
            }
            // A whole number reads as one ("450.00" -> 450), so it renders without ".0".
            let f = t.parse::<f64>().ok()?;
            if f.fract() == 0.0 && f.abs() < 9.0e15 {
                return Some(Value::Number((f as i64).into()));
            }
            Number::from_f64(f).map(Value::Number)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn transforms_chain_in_order() {
        let t: Vec<Transform> = serde_json::from_value(
            json!(["trim", {"split": ","}, {"map": {"hot lead": "hot"}}, {"default": []}]),
        )
        .unwrap_or_default();
        assert_eq!(
            apply(Some(json!(" hot lead, vip ,, ")), &t),
            Ok(Some(json!(["hot", "vip"])))
        );
        assert_eq!(apply(None, &t), Ok(Some(json!([]))));
        let n: Vec<Transform> = serde_json::from_value(json!(["to_number"])).unwrap_or_default();
        assert_eq!(apply(Some(json!("29.35")), &n), Ok(Some(json!(29.35))));
        assert!(apply(Some(json!("abc")), &n).is_err());
    }

    #[test]
    fn coercion_names_what_it_found() {
        assert_eq!(coerce(json!("42"), FieldType::Number), Ok(json!(42)));
        assert_eq!(coerce(json!("x"), FieldType::List), Ok(json!(["x"])));
        assert!(coerce(json!("soon"), FieldType::Date).is_err_and(|e| e.contains("\"soon\"")));
        assert!(coerce(json!({"a": 1}), FieldType::Text).is_err());
    }
}
