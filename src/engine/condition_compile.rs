//! Compiling conditions as written in rule files into the engine's native
//! form, reporting every malformed condition at its place in the file.

use super::condition::{Condition, Op, Target, Test};
use super::expr::Expr;
use super::fields::FieldTable;
use super::path::JsonPath;
use super::time_condition::{day_set, day_words, Arrived, TimeTest};
use crate::rules::diagnostic::{did_you_mean, Finding};
use crate::rules::model::{ConditionSpec, Scalar};
use serde_json::Value;

/// What the compiler needs to know about the rule set's fields.
pub struct CompileEnv<'a> {
    pub fields: &'a mut FieldTable,
    /// Field names some source produces (unknown ones are warned about).
    pub produced: &'a dyn Fn(&str) -> bool,
    /// All produced names, for "did you mean".
    pub produced_names: &'a [String],
    /// Send windows (calendar.toml) `arrived_within` may name.
    pub windows: &'a crate::rules::compile::send_windows::Windows,
    /// calendar.toml failed to load: unknown window names aren't reported.
    pub windows_broken: bool,
    /// The zone arrival times and dates without an offset are read in.
    pub zone: chrono_tz::Tz,
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
    if spec.arrived_within.is_some() {
        forms.push("arrived_within");
    }
    if spec.arrived_on.is_some() {
        forms.push("arrived_on");
    }
    let ops = operators(spec, env.zone);
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
            "give `field` with one test (equals, contains_any, gte, ...), or `expr`, or `all` / `any` / `not`, or `arrived_within` / `arrived_on`; nest to combine",
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
    if let Some(name) = &spec.arrived_within {
        let window = env.windows.get(name).cloned();
        if window.is_none() && !env.windows_broken {
            let known: Vec<&str> = env.windows.keys().map(String::as_str).collect();
            out.push(
                Finding::error(
                    "unknown-window",
                    format!("{ptr}/arrived_within"),
                    format!("there is no send window `{name}`"),
                )
                .hint(match did_you_mean(name, known.iter().copied()) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None if known.is_empty() => "send windows are defined in rules/calendar.toml ([[windows]] with an id and hours)".to_string(),
                    None => format!("the windows are: {}", known.join(", ")),
                }),
            );
        }
        let window = window?;
        return Some(Condition::Time(Box::new(TimeTest {
            zone: window.zone_or(env.zone),
            text: format!("arrived within {name}"),
            arrived: Arrived::Within(window),
        })));
    }
    if let Some(days) = &spec.arrived_on {
        return match day_set(days) {
            Ok(set) if set != 0 => Some(Condition::Time(Box::new(TimeTest {
                arrived: Arrived::On(set),
                zone: env.zone,
                text: format!("arrived on {}", day_words(set)),
            }))),
            Ok(_) => {
                out.push(
                    Finding::error(
                        "bad-condition",
                        format!("{ptr}/arrived_on"),
                        "`arrived_on` lists no days, so it can never hold",
                    )
                    .hint("list days, e.g. arrived_on = [\"Mon-Fri\"]"),
                );
                None
            }
            Err(why) => {
                out.push(
                    Finding::error("bad-condition", format!("{ptr}/arrived_on"), why)
                        .hint("e.g. arrived_on = [\"Mon-Fri\"] or [\"Sat\", \"Sun\"]"),
                );
                None
            }
        };
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

fn operators(s: &ConditionSpec, zone: chrono_tz::Tz) -> Vec<(&'static str, Op)> {
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
    let secs = |d: crate::rules::model::Duration| i64::try_from(d.secs()).unwrap_or(i64::MAX / 2);
    push(
        "within_next",
        s.within_next.map(|d| Op::WithinNext(secs(d), zone)),
    );
    push(
        "within_last",
        s.within_last.map(|d| Op::WithinLast(secs(d), zone)),
    );
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
        Op::WithinNext(s, _) | Op::WithinLast(s, _) => {
            format!("\"{}\"", crate::rules::model::Duration(s.unsigned_abs()))
        }
    }
}
