//! Conditions compiled to a native form, and their evaluation.
//!
//! A structured test (`{ field = "lead_source", equals = "Website" }`) becomes
//! a [`Test`] over a pre-resolved field slot: no parsing, hashing or
//! allocation per event. `expr` conditions keep evalexpr, through
//! [`super::expr::Expr`]. Two evaluators share the tree: [`Condition::eval`]
//! for the hot path, and [`Condition::explain`], which records every verdict
//! with the values it compared, for the explain trace. Building these from
//! rule files is [`super::condition_compile`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::expr::Expr;
use super::fields::Fields;
use super::path::JsonPath;
use crate::rules::model::Scalar;

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test(Test),
    Expr(Box<Expr>),
    /// When the event arrived (within a window, on a day).
    Time(Box<super::time_condition::TimeTest>),
}

/// A structured test on one field.
#[derive(Debug, Clone)]
pub struct Test {
    pub field: String,
    pub(super) target: Target,
    pub(super) op: Op,
    pub(super) ignore_case: bool,
    /// How the test reads, for traces: `lead_source equals "Website"`.
    pub text: String,
}

#[derive(Debug, Clone)]
pub(super) enum Target {
    Slot(usize),
    Payload(JsonPath),
}

#[derive(Debug, Clone)]
pub(super) enum Op {
    Equals(Scalar),
    NotEquals(Scalar),
    In(Vec<Scalar>),
    Contains(Scalar),
    ContainsAny(Vec<Scalar>),
    ContainsAll(Vec<Scalar>),
    ContainsNone(Vec<Scalar>),
    ContainsOtherThan(Vec<Scalar>),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    StartsWith(String),
    EndsWith(String),
    TextContains(String),
    Exists(bool),
    IsEmpty(bool),
    /// A date between now and this many seconds ahead, naive dates read in the zone.
    WithinNext(i64, chrono_tz::Tz),
    /// A date between this many seconds ago and now.
    WithinLast(i64, chrono_tz::Tz),
}

/// One verdict in the explain trace.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    pub expr: String,
    pub result: bool,
    pub values: Map<String, Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Does a field value equal a scalar? Numbers by value, text optionally ignoring case.
#[inline]
fn value_eq(v: &Value, s: &Scalar, ic: bool) -> bool {
    match (v, s) {
        (Value::String(a), Scalar::Text(b)) => {
            if ic {
                a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
            } else {
                a == b
            }
        }
        (Value::Number(n), Scalar::Int(i)) => n.as_f64() == Some(*i as f64),
        (Value::Number(n), Scalar::Float(f)) => n.as_f64() == Some(*f),
        (Value::Bool(a), Scalar::Bool(b)) => a == b,
        // A numeric string equals a number: form bodies carry numbers as text.
        (Value::String(a), Scalar::Int(i)) => a.trim().parse::<f64>().ok() == Some(*i as f64),
        (Value::String(a), Scalar::Float(f)) => a.trim().parse::<f64>().ok() == Some(*f),
        _ => false,
    }
}

/// The elements of a list field; a single value counts as a list of one.
#[inline]
fn elements(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => std::slice::from_ref(other),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A text test; on a list, true when any element passes.
fn text_test(v: &Value, needle: &str, ic: bool, f: fn(&str, &str) -> bool) -> bool {
    match v {
        Value::String(s) if ic => f(&s.to_lowercase(), &needle.to_lowercase()),
        Value::String(s) => f(s, needle),
        Value::Array(items) => items.iter().any(|e| text_test(e, needle, ic, f)),
        _ => false,
    }
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    }
}

impl Test {
    #[inline]
    fn read<'a>(&self, fields: &'a Fields, payload: &'a Value) -> Option<&'a Value> {
        match &self.target {
            Target::Slot(s) => fields.get(*s),
            Target::Payload(p) => p.select(payload).into_iter().next(),
        }
    }

    /// The verdict on a value; `None` means the field is missing (and the test false).
    #[inline]
    fn check(&self, v: Option<&Value>, now: DateTime<Utc>) -> Option<bool> {
        let ic = self.ignore_case;
        match &self.op {
            Op::Exists(want) => return Some(v.is_some_and(|v| !v.is_null()) == *want),
            Op::IsEmpty(want) => return Some(is_empty(v) == *want),
            _ => {}
        }
        let v = v?;
        Some(match &self.op {
            Op::Equals(s) => value_eq(v, s, ic),
            Op::NotEquals(s) => !value_eq(v, s, ic),
            Op::In(l) => l.iter().any(|s| value_eq(v, s, ic)),
            Op::Contains(s) => elements(v).iter().any(|e| value_eq(e, s, ic)),
            Op::ContainsAny(l) => elements(v)
                .iter()
                .any(|e| l.iter().any(|s| value_eq(e, s, ic))),
            Op::ContainsAll(l) => l
                .iter()
                .all(|s| elements(v).iter().any(|e| value_eq(e, s, ic))),
            Op::ContainsNone(l) => !elements(v)
                .iter()
                .any(|e| l.iter().any(|s| value_eq(e, s, ic))),
            Op::ContainsOtherThan(l) => elements(v)
                .iter()
                .any(|e| !l.iter().any(|s| value_eq(e, s, ic))),
            Op::Gt(n) => number(v).is_some_and(|x| x > *n),
            Op::Gte(n) => number(v).is_some_and(|x| x >= *n),
            Op::Lt(n) => number(v).is_some_and(|x| x < *n),
            Op::Lte(n) => number(v).is_some_and(|x| x <= *n),
            Op::StartsWith(s) => text_test(v, s, ic, |a, b| a.starts_with(b)),
            Op::EndsWith(s) => text_test(v, s, ic, |a, b| a.ends_with(b)),
            Op::TextContains(s) => text_test(v, s, ic, |a, b| a.contains(b)),
            Op::WithinNext(secs, zone) => date_of(v, *zone)
                .is_some_and(|d| d >= now && d <= now + chrono::Duration::seconds(*secs)),
            Op::WithinLast(secs, zone) => date_of(v, *zone)
                .is_some_and(|d| d <= now && d >= now - chrono::Duration::seconds(*secs)),
            Op::Exists(_) | Op::IsEmpty(_) => unreachable_false(),
        })
    }
}

/// A field's value as a date, in the forms senders use.
fn date_of(v: &Value, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    v.as_str().and_then(|s| super::dates::parse_in(s, zone))
}

// Exists and IsEmpty return early above; kept as a function so the match is total without a panic.
fn unreachable_false() -> bool {
    false
}

impl Condition {
    /// The hot path: a verdict and nothing else.
    pub fn eval(&self, fields: &Fields, payload: &Value, now: DateTime<Utc>) -> bool {
        match self {
            Condition::All(c) => c.iter().all(|c| c.eval(fields, payload, now)),
            Condition::Any(c) => c.iter().any(|c| c.eval(fields, payload, now)),
            Condition::Not(c) => !c.eval(fields, payload, now),
            Condition::Test(t) => t.check(t.read(fields, payload), now).unwrap_or(false),
            Condition::Expr(e) => e.eval(fields, payload, now).result,
            Condition::Time(t) => t.holds(now),
        }
    }

    /// The traced path: the verdict, and every leaf's verdict with its values.
    pub fn explain(
        &self,
        fields: &Fields,
        payload: &Value,
        now: DateTime<Utc>,
        out: &mut Vec<Verdict>,
    ) -> bool {
        match self {
            Condition::All(c) => {
                // Explain every member, even after one fails: the author wants to see them all.
                let mut ok = true;
                for c in c {
                    ok &= c.explain(fields, payload, now, out);
                }
                ok
            }
            Condition::Any(c) => {
                let start = out.len();
                let mut ok = false;
                for c in c {
                    ok |= c.explain(fields, payload, now, out);
                }
                for v in &mut out[start..] {
                    v.expr = format!("any: {}", v.expr);
                }
                ok
            }
            Condition::Not(c) => {
                let start = out.len();
                let ok = !c.explain(fields, payload, now, out);
                for v in &mut out[start..] {
                    v.expr = format!("not: {}", v.expr);
                }
                // A single negated leaf reads as one verdict: show the negated result.
                if out.len() == start + 1 {
                    if let Some(last) = out.last_mut() {
                        last.result = ok;
                    }
                }
                ok
            }
            Condition::Test(t) => {
                let v = t.read(fields, payload);
                let verdict = t.check(v, now);
                let mut values = Map::new();
                values.insert(t.field.clone(), v.cloned().unwrap_or(Value::Null));
                let notes = match (v, verdict) {
                    (None, None) => vec![format!(
                        "`{}` is missing from the event, so this test is false",
                        t.field
                    )],
                    (None, Some(_)) => vec![format!("`{}` is missing from the event", t.field)],
                    _ => vec![],
                };
                let result = verdict.unwrap_or(false);
                out.push(Verdict {
                    expr: t.text.clone(),
                    result,
                    values,
                    notes,
                });
                result
            }
            Condition::Time(t) => {
                let v = t.verdict(now);
                let result = v.result;
                out.push(v);
                result
            }
            Condition::Expr(e) => {
                let o = e.eval(fields, payload, now);
                out.push(Verdict {
                    expr: e.text().to_string(),
                    result: o.result,
                    values: o.values,
                    notes: o.notes,
                });
                o.result
            }
        }
    }

    /// Does any part of this condition read the raw payload?
    pub fn reads_payload(&self) -> bool {
        match self {
            Condition::All(c) | Condition::Any(c) => c.iter().any(Condition::reads_payload),
            Condition::Not(c) => c.reads_payload(),
            Condition::Test(t) => matches!(t.target, Target::Payload(_)),
            Condition::Expr(e) => e.reads_payload(),
            Condition::Time(_) => false,
        }
    }
}
