//! The helper functions expressions can call, and the context that serves
//! them and the event's fields to evalexpr.
//!
//! Helpers are shadows of evalexpr's builtins where those misbehave for rule
//! authors (`contains` only on tuples, `len` counting bytes) and additions
//! for what rules need (list membership, text tests, dates).

use evalexpr::{Context, EvalexprError, EvalexprResult, Operator, Value as EV};

use super::expr::{compare, Ctx};

/// Helper functions rule authors can call, with a one-line description each (README and lint).
pub const HELPERS: &[(&str, &str)] = &[
    ("has(list, value)", "the list contains the value"),
    (
        "has_any(list, v1, v2, ...)",
        "the list contains at least one of the values",
    ),
    (
        "has_all(list, v1, v2, ...)",
        "the list contains every one of the values",
    ),
    (
        "contains(text_or_list, value)",
        "text contains the text, or a list contains the value",
    ),
    ("starts_with(text, prefix)", "text starts with prefix"),
    ("ends_with(text, suffix)", "text ends with suffix"),
    ("lower(text)", "text in lower case"),
    ("upper(text)", "text in upper case"),
    ("is_empty(value)", "missing, empty text or empty list"),
    ("len(text_or_list)", "number of characters or elements"),
    ("now()", "the event's time, as an RFC 3339 string"),
    (
        "hours_between(a, b)",
        "hours from date a to date b (negative if b is earlier)",
    ),
    ("days_between(a, b)", "days from date a to date b"),
];

pub fn helper_names() -> impl Iterator<Item = &'static str> {
    HELPERS.iter().filter_map(|(sig, _)| sig.split('(').next())
}

fn ev_eq(a: &EV, b: &EV) -> bool {
    compare(&Operator::Eq, a, b)
}

fn args(argument: &EV) -> Vec<EV> {
    match argument {
        EV::Tuple(t) => t.clone(),
        EV::Empty => vec![],
        other => vec![other.clone()],
    }
}

fn list(v: &EV) -> Vec<EV> {
    match v {
        EV::Tuple(t) => t.clone(),
        EV::Empty => vec![],
        other => vec![other.clone()],
    }
}

fn text(v: &EV) -> String {
    match v {
        EV::String(s) => s.clone(),
        EV::Empty => String::new(),
        other => other.to_string(),
    }
}

impl Context for Ctx<'_> {
    fn get_value(&self, identifier: &str) -> Option<&EV> {
        self.vars
            .iter()
            .find(|(n, _)| *n == identifier)
            .map(|(_, v)| v)
    }

    fn call_function(&self, identifier: &str, argument: &EV) -> EvalexprResult<EV> {
        let a = args(argument);
        let arg = |i: usize| a.get(i).cloned().unwrap_or(EV::Empty);
        let need = |n: usize| {
            if a.len() < n {
                Err(EvalexprError::wrong_function_argument_amount(a.len(), n))
            } else {
                Ok(())
            }
        };
        Ok(match identifier {
            "has" => {
                need(2)?;
                EV::Boolean(list(&arg(0)).iter().any(|x| ev_eq(x, &arg(1))))
            }
            "has_any" => {
                need(2)?;
                let l = list(&arg(0));
                EV::Boolean(a[1..].iter().any(|want| l.iter().any(|x| ev_eq(x, want))))
            }
            "has_all" => {
                need(2)?;
                let l = list(&arg(0));
                EV::Boolean(a[1..].iter().all(|want| l.iter().any(|x| ev_eq(x, want))))
            }
            "contains" => {
                need(2)?;
                match arg(0) {
                    EV::String(s) => EV::Boolean(s.contains(&text(&arg(1)))),
                    other => EV::Boolean(list(&other).iter().any(|x| ev_eq(x, &arg(1)))),
                }
            }
            "starts_with" => {
                need(2)?;
                EV::Boolean(
                    !matches!(arg(0), EV::Empty) && text(&arg(0)).starts_with(&text(&arg(1))),
                )
            }
            "ends_with" => {
                need(2)?;
                EV::Boolean(!matches!(arg(0), EV::Empty) && text(&arg(0)).ends_with(&text(&arg(1))))
            }
            "lower" => EV::String(text(&arg(0)).to_lowercase()),
            "upper" => EV::String(text(&arg(0)).to_uppercase()),
            "is_empty" => EV::Boolean(match arg(0) {
                EV::Empty => true,
                EV::String(s) => s.trim().is_empty(),
                EV::Tuple(t) => t.is_empty(),
                _ => false,
            }),
            "len" => EV::Int(match arg(0) {
                EV::String(s) => s.chars().count() as i64,
                EV::Tuple(t) => t.len() as i64,
                EV::Empty => 0,
                _ => 1,
            }),
            "now" => EV::String(self.now.to_rfc3339()),
            "hours_between" | "days_between" => {
                need(2)?;
                let (Some(x), Some(y)) = (
                    super::dates::parse(&text(&arg(0))),
                    super::dates::parse(&text(&arg(1))),
                ) else {
                    return Err(EvalexprError::CustomMessage(format!(
                        "{identifier} needs two dates (RFC 3339 or YYYY-MM-DD), got {} and {}",
                        arg(0),
                        arg(1)
                    )));
                };
                let secs = (y - x).num_seconds() as f64;
                EV::Float(if identifier == "hours_between" {
                    secs / 3600.0
                } else {
                    secs / 86_400.0
                })
            }
            other => return Err(EvalexprError::FunctionIdentifierNotFound(other.to_string())),
        })
    }

    fn are_builtin_functions_disabled(&self) -> bool {
        false
    }

    fn set_builtin_functions_disabled(&mut self, _disabled: bool) -> EvalexprResult<()> {
        Err(EvalexprError::ContextNotMutable)
    }
}
