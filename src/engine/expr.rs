//! Free-form expressions: evalexpr, with its sharp edges filed off.
//!
//! Structured conditions cover most rules; `expr = "..."` is for the rest.
//! evalexpr 11.3.1 (the last MIT release) has habits a rule author must
//! never meet, so this module compiles each expression once and evaluates
//! it through its own walker:
//!
//! * `&&`, `||` and `!` short-circuit here (evalexpr evaluates both sides,
//!   so `true || missing` would be an error).
//! * `==`, `!=`, `<`, ... compare numbers by value (`5 == 5.0` is true; evalexpr
//!   says false) and a comparison with a missing field is false, with a note.
//! * A missing field reads as empty instead of failing the expression.
//! * `contains` works on text and lists, `len` counts characters, not bytes.
//! * Assignments and `;` chains are refused at load: conditions don't mutate.
//!
//! An expression that still fails at run time is false, with the reason in
//! the explain trace: it never drops the event.

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use evalexpr::{build_operator_tree, EvalexprError, EvalexprResult, Node, Operator, Value as EV};
use serde_json::Value;

use super::expr_helpers::helper_names;
use super::fields::{FieldTable, Fields};
use super::path::JsonPath;

/// evalexpr builtins that are safe and useful in conditions.
const BUILTINS: &[&str] = &[
    "min",
    "max",
    "floor",
    "round",
    "ceil",
    "if",
    "typeof",
    "str::trim",
    "str::to_lowercase",
    "str::to_uppercase",
    "str::regex_matches",
    "math::abs",
];

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    text: String,
    node: Node,
    vars: Vec<Var>,
}

/// A variable the expression reads, resolved at load.
#[derive(Debug, Clone)]
struct Var {
    name: String,
    source: VarSource,
}

#[derive(Debug, Clone)]
enum VarSource {
    Field(usize),
    Payload(JsonPath),
}

/// What compiling an expression found.
#[derive(Debug)]
pub struct ExprIssues {
    /// Identifiers no source produces (the lint warns).
    pub unknown_fields: Vec<String>,
}

/// The outcome of one evaluation, with what the trace needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprOutcome {
    pub result: bool,
    pub values: serde_json::Map<String, Value>,
    pub notes: Vec<String>,
}

/// The slips people make in expressions, in words: the operators of other
/// languages (`and`, `<>`, `=<`) and single-quoted text.
fn common_slip(text: &str) -> Option<String> {
    // Words outside "quoted text" only: `title == "rock and roll"` is fine.
    let code: String = text.split('"').step_by(2).collect::<Vec<_>>().join(" ");
    let padded = format!(" {} ", code.to_ascii_lowercase());
    let words = [
        (
            " and ",
            "write `&&` for \"and\", e.g. `score >= 50 && score < 90`",
        ),
        (
            " or ",
            "write `||` for \"or\", e.g. `score >= 80 || has(tags, \"vip\")`",
        ),
        (" not ", "write `!` for \"not\", e.g. `!has(tags, \"vip\")`"),
        ("<>", "write `!=` for \"is not equal to\""),
        ("=<", "write `<=` for \"at most\""),
        ("=>", "write `>=` for \"at least\""),
    ];
    if let Some((_, fix)) = words.iter().find(|(w, _)| padded.contains(w)) {
        return Some((*fix).to_string());
    }
    if text.split('"').step_by(2).any(|part| part.contains('\'')) {
        return Some("text goes in double quotes, e.g. `lead_source == \"Website\"` (in TOML: expr = \"lead_source == \\\"Website\\\"\")".into());
    }
    None
}

impl Expr {
    /// Compile `text`, binding identifiers to field slots (interning new ones).
    pub fn compile(
        text: &str,
        fields: &mut FieldTable,
        known: &dyn Fn(&str) -> bool,
    ) -> Result<(Expr, ExprIssues), String> {
        if text.trim().is_empty() {
            return Err("the expression is empty: write a test such as `score >= 80`".into());
        }
        // evalexpr would read 'Website' as a field named `'Website'`; an
        // apostrophe inside "double-quoted text" is fine.
        let outside_quotes = text.split('"').step_by(2).any(|part| part.contains('\''));
        if outside_quotes {
            let slip = common_slip(text).unwrap_or_default();
            return Err(format!("`{text}` is not a valid expression: {slip}"));
        }
        let node = build_operator_tree(text).map_err(|e| match common_slip(text) {
            Some(slip) => format!("`{text}` is not a valid expression: {slip}"),
            None => format!("`{text}` is not a valid expression (the parser says: {e})"),
        })?;
        check_no_mutation(&node).map_err(|e| format!("`{text}` is not a valid expression: {e}"))?;
        for f in node.iter_function_identifiers() {
            if !helper_names().any(|h| h == f) && !BUILTINS.contains(&f) {
                let names: Vec<&str> = helper_names().chain(BUILTINS.iter().copied()).collect();
                let hint = crate::rules::diagnostic::did_you_mean(f, names.iter().copied())
                    .map(|m| format!(" (did you mean `{m}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "`{f}` is not a function hsflow knows{hint}; the helpers are: {}",
                    names.join(", ")
                ));
            }
        }
        let mut vars: Vec<Var> = Vec::new();
        let mut unknown = Vec::new();
        for id in node.iter_variable_identifiers() {
            if vars.iter().any(|v| v.name == id) {
                continue;
            }
            let source = match id.strip_prefix("payload.") {
                Some(rest) => VarSource::Payload(JsonPath::from_dotted(rest)),
                None => {
                    if !known(id) {
                        unknown.push(id.to_string());
                    }
                    VarSource::Field(fields.intern(id))
                }
            };
            vars.push(Var {
                name: id.to_string(),
                source,
            });
        }
        Ok((
            Expr {
                text: text.to_string(),
                node,
                vars,
            },
            ExprIssues {
                unknown_fields: unknown,
            },
        ))
    }

    pub fn reads_payload(&self) -> bool {
        self.vars
            .iter()
            .any(|v| matches!(v.source, VarSource::Payload(_)))
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The identifiers read, for the explain trace and lint.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|v| v.name.as_str())
    }

    /// Evaluate against an event. Never fails: failures are false with a note.
    pub fn eval(&self, fields: &Fields, payload: &Value, now: DateTime<Utc>) -> ExprOutcome {
        let mut values = serde_json::Map::new();
        let mut bound = Vec::with_capacity(self.vars.len());
        for v in &self.vars {
            let json = match &v.source {
                VarSource::Field(slot) => fields.get(*slot).cloned(),
                VarSource::Payload(p) => p.select_value(payload),
            };
            values.insert(v.name.clone(), json.clone().unwrap_or(Value::Null));
            bound.push((
                v.name.as_str(),
                json.as_ref().map(to_ev).unwrap_or(EV::Empty),
            ));
        }
        let ctx = Ctx {
            vars: bound,
            now,
            notes: RefCell::new(Vec::new()),
        };
        let result = match walk(&self.node, &ctx) {
            Ok(EV::Boolean(b)) => b,
            Ok(EV::Empty) => {
                ctx.note("the expression reads a missing field, so it is false".into());
                false
            }
            Ok(other) => {
                ctx.note(format!(
                    "the expression gave {other}, not true or false, so it counts as false"
                ));
                false
            }
            Err(e) => {
                ctx.note(format!(
                    "the expression failed ({e}), so it counts as false"
                ));
                false
            }
        };
        ExprOutcome {
            result,
            values,
            notes: ctx.notes.into_inner(),
        }
    }
}

fn check_no_mutation(node: &Node) -> Result<(), String> {
    use Operator::*;
    // evalexpr builds a tree even for "score >= " and fails only when run;
    // check every operator has its operands now, at load.
    let want = match node.operator() {
        Add | Sub | Mul | Div | Mod | Exp | Eq | Neq | Gt | Lt | Geq | Leq | And | Or => Some(2),
        Neg | Not => Some(1),
        _ => None,
    };
    if let Some(n) = want {
        if node.children().len() != n {
            return Err(
                format!("`{}` is missing an operand", node.operator()).replace("` is", "` here is")
            );
        }
    }
    match node.operator() {
        Assign | AddAssign | SubAssign | MulAssign | DivAssign | ModAssign | ExpAssign
        | AndAssign | OrAssign => {
            return Err("conditions can't assign values; use `==` to compare".into())
        }
        Chain => return Err("conditions are one expression; remove the `;`".into()),
        _ => {}
    }
    node.children().iter().try_for_each(check_no_mutation)
}

/// JSON -> evalexpr. Numbers are always floats so that types never clash.
fn to_ev(v: &Value) -> EV {
    match v {
        Value::Null => EV::Empty,
        Value::Bool(b) => EV::Boolean(*b),
        Value::Number(n) => EV::Float(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => EV::String(s.clone()),
        Value::Array(a) => EV::Tuple(a.iter().map(to_ev).collect()),
        Value::Object(_) => EV::String(v.to_string()),
    }
}

pub(super) struct Ctx<'a> {
    pub(super) vars: Vec<(&'a str, EV)>,
    pub(super) now: DateTime<Utc>,
    pub(super) notes: RefCell<Vec<String>>,
}

impl Ctx<'_> {
    fn note(&self, n: String) {
        let mut notes = self.notes.borrow_mut();
        if !notes.contains(&n) {
            notes.push(n);
        }
    }
}

/// The walker: logic and comparisons here, everything else delegated to evalexpr.
fn walk(node: &Node, ctx: &Ctx<'_>) -> EvalexprResult<EV> {
    use Operator::*;
    let ch = node.children();
    match node.operator() {
        RootNode if ch.len() == 1 => walk(&ch[0], ctx),
        And => Ok(EV::Boolean(truthy(&ch[0], ctx)? && truthy(&ch[1], ctx)?)),
        Or => Ok(EV::Boolean(truthy(&ch[0], ctx)? || truthy(&ch[1], ctx)?)),
        Not => Ok(EV::Boolean(!truthy(&ch[0], ctx)?)),
        Eq | Neq | Gt | Lt | Geq | Leq => {
            let (a, b) = (walk(&ch[0], ctx)?, walk(&ch[1], ctx)?);
            if matches!(a, EV::Empty) || matches!(b, EV::Empty) {
                let side = if matches!(a, EV::Empty) {
                    &ch[0]
                } else {
                    &ch[1]
                };
                ctx.note(format!(
                    "`{}` is missing, so `{node}` is false",
                    side.to_string().trim()
                ));
                return Ok(EV::Boolean(false));
            }
            Ok(EV::Boolean(compare(node.operator(), &a, &b)))
        }
        _ => node.eval_with_context(ctx),
    }
}

fn truthy(node: &Node, ctx: &Ctx<'_>) -> EvalexprResult<bool> {
    match walk(node, ctx)? {
        EV::Boolean(b) => Ok(b),
        EV::Empty => {
            ctx.note(format!(
                "`{}` is missing, so it counts as false",
                node.to_string().trim()
            ));
            Ok(false)
        }
        other => Err(EvalexprError::expected_boolean(other)),
    }
}

fn num(v: &EV) -> Option<f64> {
    match v {
        EV::Int(i) => Some(*i as f64),
        EV::Float(f) => Some(*f),
        _ => None,
    }
}

pub(super) fn compare(op: &Operator, a: &EV, b: &EV) -> bool {
    use std::cmp::Ordering;
    let ord = match (num(a), num(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (a, b) {
            (EV::String(x), EV::String(y)) => Some(x.cmp(y)),
            (EV::Boolean(x), EV::Boolean(y)) => Some(x.cmp(y)),
            _ => None,
        },
    };
    match op {
        Operator::Eq => ord == Some(Ordering::Equal) || (ord.is_none() && a == b),
        Operator::Neq => !(ord == Some(Ordering::Equal) || (ord.is_none() && a == b)),
        Operator::Gt => ord == Some(Ordering::Greater),
        Operator::Lt => ord == Some(Ordering::Less),
        Operator::Geq => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        Operator::Leq => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, fields: Value) -> ExprOutcome {
        let mut table = FieldTable::default();
        let (e, _) = Expr::compile(text, &mut table, &|_| true).unwrap_or_else(|e| panic!("{e}"));
        let obj = fields.as_object().cloned().unwrap_or_default();
        let f = table.from_object(&obj);
        let now = DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        e.eval(&f, &json!({"form": {"token": "abc"}}), now)
    }

    #[test]
    fn an_apostrophe_inside_quoted_text_is_fine_and_single_quotes_are_named() {
        assert!(eval("name == \"O'Brien\"", json!({"name": "O'Brien"})).result);
        assert!(
            eval(
                "title == \"rock and roll\"",
                json!({"title": "rock and roll"})
            )
            .result
        );
        let mut table = FieldTable::default();
        let err = Expr::compile("lead_source == 'Website'", &mut table, &|_| true)
            .err()
            .unwrap_or_default();
        assert!(err.contains("double quotes"), "{err}");
        let err = Expr::compile("score >= 50 and score < 90", &mut table, &|_| true)
            .err()
            .unwrap_or_default();
        assert!(err.contains("`&&`"), "{err}");
    }

    #[test]
    fn integers_equal_floats() {
        assert!(eval("score == 5", json!({"score": 5.0})).result);
        assert!(eval("score == 5.0", json!({"score": 5})).result);
        assert!(eval("score >= 80", json!({"score": 80.0})).result);
    }

    #[test]
    fn or_short_circuits_over_a_missing_field() {
        let o = eval("true || missing", json!({}));
        assert!(o.result, "{o:?}");
        let o = eval("false || missing", json!({}));
        assert!(!o.result);
        assert!(o.notes.iter().any(|n| n.contains("missing")), "{o:?}");
    }

    #[test]
    fn a_missing_field_makes_a_comparison_false_with_a_note() {
        let o = eval("lead_source == \"Website\"", json!({}));
        assert!(!o.result);
        assert_eq!(o.values.get("lead_source"), Some(&Value::Null));
        assert!(o.notes[0].contains("`lead_source` is missing"), "{o:?}");
        // ...and `!=` is false too: a missing value is not "different".
        assert!(!eval("lead_source != \"Website\"", json!({})).result);
    }

    #[test]
    fn helpers_cover_lists_text_and_dates() {
        let f = json!({"tags": ["hot", "vip"], "email": "Ada@Example.org", "start": "2026-01-12", "name": "Zoë"});
        assert!(eval("has_any(tags, \"cold\", \"vip\")", f.clone()).result);
        assert!(!eval("has_all(tags, \"hot\", \"cold\")", f.clone()).result);
        assert!(eval("has(tags, \"hot\") && !has(tags, \"cold\")", f.clone()).result);
        assert!(eval("ends_with(lower(email), \"@example.org\")", f.clone()).result);
        assert!(
            eval(
                "contains(email, \"@\") && starts_with(email, \"Ada\")",
                f.clone()
            )
            .result
        );
        assert!(
            eval("len(name) == 3", f.clone()).result,
            "len counts characters"
        );
        assert!(eval("days_between(now(), start) > 6.5", f.clone()).result);
        assert!(eval("hours_between(now(), start) == 159", f.clone()).result);
        assert!(eval("is_empty(nothing) && !is_empty(tags)", f).result);
    }

    #[test]
    fn payload_is_reachable_under_its_prefix() {
        assert!(eval("payload.form.token == \"abc\"", json!({})).result);
    }

    #[test]
    fn broken_expressions_are_refused_at_load() {
        let mut t = FieldTable::default();
        for bad in ["score >= ", "a = 5", "a == 1; b == 2", "nope(a)", ""] {
            assert!(
                Expr::compile(bad, &mut t, &|_| true).is_err(),
                "{bad:?} compiled"
            );
        }
    }

    #[test]
    fn a_runtime_failure_is_false_with_the_reason() {
        let o = eval(
            "days_between(a, b) > 1",
            json!({"a": "not a date", "b": "2026-01-01"}),
        );
        assert!(!o.result);
        assert!(o.notes[0].contains("failed"), "{o:?}");
    }
}
