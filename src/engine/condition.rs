//! Conditions compiled to a native form, and their evaluation.
//!
//! A structured test (`{ field = "lead_source", equals = "Website" }`) becomes
//! a [`Test`] over a pre-resolved field slot: no parsing, hashing or
//! allocation per event. `expr` conditions keep evalexpr, through
//! [`super::expr::Expr`]. Two evaluators share the tree: [`Condition::eval`]
//! for the hot path, and [`Condition::explain`], which records every verdict
//! with the values it compared, for the explain trace.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use super::expr::Expr;
use super::fields::{FieldTable, Fields};
use super::path::JsonPath;
use crate::rules::diagnostic::{did_you_mean, Finding};
use crate::rules::model::{ConditionSpec, Scalar};

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Test(Test),
    Expr(Box<Expr>),
}

/// A structured test on one field.
#[derive(Debug, Clone)]
pub struct Test {
    pub field: String,
    target: Target,
    op: Op,
    ignore_case: bool,
    /// How the test reads, for traces: `lead_source equals "Website"`.
    pub text: String,
}

#[derive(Debug, Clone)]
enum Target {
    Slot(usize),
    Payload(JsonPath),
}

#[derive(Debug, Clone)]
enum Op {
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

/// What the compiler needs to know about the rule set's fields.
pub struct CompileEnv<'a> {
    pub fields: &'a mut FieldTable,
    /// Field names some source produces (unknown ones are warned about).
    pub produced: &'a dyn Fn(&str) -> bool,
    /// All produced names, for "did you mean".
    pub produced_names: &'a [String],
}

/// Compile a list of conditions (implicitly all) found at `pointer`.
pub fn compile_all(
    specs: &[ConditionSpec],
    pointer: &str,
    env: &mut CompileEnv<'_>,
    out: &mut Vec<Finding>,
) -> Condition {
    let items = specs
        .iter()
        .enumerate()
        .filter_map(|(i, s)| compile(s, &format!("{pointer}/{i}"), env, out))
        .collect();
    Condition::All(items)
}

/// Compile one condition; problems go to `out` with their pointers.
pub fn compile(
    spec: &ConditionSpec,
    ptr: &str,
    env: &mut CompileEnv<'_>,
    out: &mut Vec<Finding>,
) -> Option<Condition> {
    let mut forms = Vec::new();
    if spec.field.is_some() {
        forms.push("field");
    }
    if spec.expr.is_some() {
        forms.push("expr");
    }
    if spec.all.is_some() {
        forms.push("all");
    }
    if spec.any.is_some() {
        forms.push("any");
    }
    if spec.not.is_some() {
        forms.push("not");
    }
    let ops = operators(spec);
    if forms.len() != 1 {
        let msg = if forms.is_empty() {
            "this condition says nothing to test".to_string()
        } else {
            format!(
                "this condition mixes {}; a condition is one of them",
                forms.join(" and ")
            )
        };
        out.push(Finding::error("bad-condition", ptr, msg).hint(
            "give `field` with one test (equals, contains_any, gte, ...), or `expr`, or `all` / `any` / `not`; nest to combine",
        ));
        return None;
    }
    if forms[0] != "field" && (!ops.is_empty() || spec.ignore_case.is_some()) {
        out.push(
            Finding::error(
                "bad-condition",
                ptr,
                format!(
                    "`{}` can't be combined with `{}`",
                    forms[0],
                    ops.first().map(|(n, _)| *n).unwrap_or("ignore_case")
                ),
            )
            .hint("put the field test in its own table inside `all`"),
        );
        return None;
    }
    if let Some(list) = &spec.all {
        return Some(Condition::All(
            list.iter()
                .enumerate()
                .filter_map(|(i, s)| compile(s, &format!("{ptr}/all/{i}"), env, out))
                .collect(),
        ));
    }
    if let Some(list) = &spec.any {
        if list.is_empty() {
            out.push(
                Finding::error(
                    "bad-condition",
                    format!("{ptr}/any"),
                    "`any` of nothing can never hold",
                )
                .hint("list at least one condition"),
            );
        }
        return Some(Condition::Any(
            list.iter()
                .enumerate()
                .filter_map(|(i, s)| compile(s, &format!("{ptr}/any/{i}"), env, out))
                .collect(),
        ));
    }
    if let Some(inner) = &spec.not {
        return compile(inner, &format!("{ptr}/not"), env, out)
            .map(|c| Condition::Not(Box::new(c)));
    }
    if let Some(text) = &spec.expr {
        let produced = env.produced;
        return match Expr::compile(text, env.fields, produced) {
            Ok((e, issues)) => {
                for name in issues.unknown_fields {
                    out.push(unknown_field(
                        &format!("{ptr}/expr"),
                        &name,
                        env.produced_names,
                    ));
                }
                Some(Condition::Expr(Box::new(e)))
            }
            Err(msg) => {
                out.push(Finding::error("bad-expression", format!("{ptr}/expr"), msg).hint(
                    "expressions look like `score >= 80 && has_any(tags, \"hot\", \"vip\")`; text goes in double quotes",
                ));
                None
            }
        };
    }
    // A field test.
    let field = spec.field.clone().unwrap_or_default();
    let (name, op) = match ops.len() {
        1 => ops.into_iter().next()?,
        0 => {
            out.push(Finding::error("bad-condition", ptr, format!("the test on `{field}` has no operator"))
                .hint("add one of: equals, not_equals, in, contains, contains_any, contains_all, contains_none, contains_other_than, gt, gte, lt, lte, starts_with, ends_with, text_contains, exists, is_empty"));
            return None;
        }
        _ => {
            let names: Vec<&str> = ops.iter().map(|(n, _)| *n).collect();
            out.push(
                Finding::error(
                    "bad-condition",
                    ptr,
                    format!(
                        "one condition can test one thing, but this one has {}",
                        names.join(" and ")
                    ),
                )
                .hint("split it into two conditions (a `when` list means all of them)"),
            );
            return None;
        }
    };
    let target = match field.strip_prefix("payload.") {
        Some(rest) => Target::Payload(JsonPath::from_dotted(rest)),
        None => {
            if !(env.produced)(&field) {
                out.push(unknown_field(
                    &format!("{ptr}/field"),
                    &field,
                    env.produced_names,
                ));
            }
            Target::Slot(env.fields.intern(&field))
        }
    };
    let ignore_case = spec.ignore_case.unwrap_or(false);
    let text = format!("{field} {name} {}", describe_op(&op));
    Some(Condition::Test(Test {
        field,
        target,
        op,
        ignore_case,
        text,
    }))
}

fn unknown_field(ptr: &str, name: &str, produced: &[String]) -> Finding {
    let f = Finding::warning(
        "unknown-field",
        ptr,
        format!(
            "no source produces a field called `{name}`, so this test will always see it missing"
        ),
    );
    match did_you_mean(name, produced.iter().map(String::as_str)) {
        Some(m) => f.hint(format!("did you mean `{m}`?")),
        None => {
            f.hint("add it to a source's [fields], or use `payload.<path>` to read the raw body")
        }
    }
}

fn operators(s: &ConditionSpec) -> Vec<(&'static str, Op)> {
    let mut v = Vec::new();
    let mut push = |n, o: Option<Op>| {
        if let Some(o) = o {
            v.push((n, o));
        }
    };
    push("equals", s.equals.clone().map(Op::Equals));
    push("not_equals", s.not_equals.clone().map(Op::NotEquals));
    push("in", s.in_.clone().map(Op::In));
    push("contains", s.contains.clone().map(Op::Contains));
    push("contains_any", s.contains_any.clone().map(Op::ContainsAny));
    push("contains_all", s.contains_all.clone().map(Op::ContainsAll));
    push(
        "contains_other_than",
        s.contains_other_than.clone().map(Op::ContainsOtherThan),
    );
    push(
        "contains_none",
        s.contains_none.clone().map(Op::ContainsNone),
    );
    push("gt", s.gt.map(Op::Gt));
    push("gte", s.gte.map(Op::Gte));
    push("lt", s.lt.map(Op::Lt));
    push("lte", s.lte.map(Op::Lte));
    push("starts_with", s.starts_with.clone().map(Op::StartsWith));
    push("ends_with", s.ends_with.clone().map(Op::EndsWith));
    push(
        "text_contains",
        s.text_contains.clone().map(Op::TextContains),
    );
    push("exists", s.exists.map(Op::Exists));
    push("is_empty", s.is_empty.map(Op::IsEmpty));
    v
}

fn scalar_json(s: &Scalar) -> Value {
    match s {
        Scalar::Bool(b) => Value::Bool(*b),
        Scalar::Int(i) => Value::from(*i),
        Scalar::Float(f) => Value::from(*f),
        Scalar::Text(t) => Value::String(t.clone()),
    }
}

fn describe_op(op: &Op) -> String {
    let list = |l: &[Scalar]| Value::Array(l.iter().map(scalar_json).collect()).to_string();
    match op {
        Op::Equals(s) | Op::NotEquals(s) | Op::Contains(s) => scalar_json(s).to_string(),
        Op::In(l)
        | Op::ContainsAny(l)
        | Op::ContainsAll(l)
        | Op::ContainsNone(l)
        | Op::ContainsOtherThan(l) => list(l),
        Op::Gt(n) | Op::Gte(n) | Op::Lt(n) | Op::Lte(n) => n.to_string(),
        Op::StartsWith(s) | Op::EndsWith(s) | Op::TextContains(s) => {
            Value::String(s.clone()).to_string()
        }
        Op::Exists(b) | Op::IsEmpty(b) => b.to_string(),
    }
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
    fn check(&self, v: Option<&Value>) -> Option<bool> {
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
            Op::Exists(_) | Op::IsEmpty(_) => unreachable_false(),
        })
    }
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
            Condition::Test(t) => t.check(t.read(fields, payload)).unwrap_or(false),
            Condition::Expr(e) => e.eval(fields, payload, now).result,
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
                let verdict = t.check(v);
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
        }
    }

    /// Leaf field tests of the form `field equals "X"` at the top of an `all`, for indexing.
    pub fn top_level_equalities(&self) -> Vec<(usize, &str)> {
        let Condition::All(items) = self else {
            return vec![];
        };
        items
            .iter()
            .filter_map(|c| match c {
                Condition::Test(Test {
                    target: Target::Slot(s),
                    op: Op::Equals(Scalar::Text(v)),
                    ignore_case: false,
                    ..
                }) => Some((*s, v.as_str())),
                _ => None,
            })
            .collect()
    }
}
