//! Which variables a template reads, and where: the analysis behind the
//! lint that a template names only fields its events have (and guards the
//! ones they may lack). A variable tested by `{{#if}}` / `{{#unless}}`
//! counts as guarded; names inside `{{#each}}` / `{{#with}}` are relative to
//! the element and not the event's.

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::Path as HbPath;

/// The top-level variables a template reads (`first_name`, `entity`), leaving
/// out those it only tests with `{{#if}}` / `{{#unless}}` (optional ones) and
/// anything inside `{{#each}}` / `{{#with}}` (relative to the element).
pub fn variables(t: &Template) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    let mut optional = BTreeSet::new();
    walk(t, &mut used, &mut optional);
    used.retain(|v| !optional.contains(v));
    used
}

fn walk(t: &Template, used: &mut BTreeSet<String>, optional: &mut BTreeSet<String>) {
    for el in &t.elements {
        match el {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                helper(h, used, optional)
            }
            TemplateElement::HelperBlock(h) => helper(h, used, optional),
            _ => {}
        }
    }
}

fn helper(h: &HelperTemplate, used: &mut BTreeSet<String>, optional: &mut BTreeSet<String>) {
    let name = match &h.name {
        Parameter::Name(n) => n.clone(),
        Parameter::Path(p) => {
            if h.params.is_empty() && !h.block {
                add_path(p, used);
            }
            path_root(p).unwrap_or_default()
        }
        _ => String::new(),
    };
    for p in &h.params {
        match p {
            Parameter::Path(path) => {
                add_path(path, used);
                if name == "if" || name == "unless" {
                    if let Some(root) = path_root(path) {
                        optional.insert(root);
                    }
                }
            }
            Parameter::Subexpression(s) => {
                if let TemplateElement::Expression(inner) = s.element.as_ref() {
                    helper(inner, used, optional);
                }
            }
            _ => {}
        }
    }
    let scoped = name == "each" || name == "with";
    if !scoped {
        if let Some(t) = &h.template {
            walk(t, used, optional);
        }
    }
    if let Some(t) = &h.inverse {
        walk(t, used, optional);
    }
}

/// Where each of `vars` is first used: (line, column) of the expression or
/// block that reads it, in source order.
pub(super) fn first_uses(
    t: &Template,
    vars: &BTreeSet<String>,
) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    sites_in(t, vars, &mut out);
    out
}

/// The expressions and blocks of `t` (not those nested in blocks), each
/// with its (line, column).
fn expressions(t: &Template) -> impl Iterator<Item = (&HelperTemplate, (usize, usize))> {
    t.elements
        .iter()
        .enumerate()
        .filter_map(|(i, el)| match el {
            TemplateElement::Expression(h)
            | TemplateElement::HtmlExpression(h)
            | TemplateElement::HelperBlock(h) => {
                Some((&**h, t.mapping.get(i).map(|m| (m.0, m.1)).unwrap_or((1, 1))))
            }
            _ => None,
        })
}

fn sites_in(t: &Template, vars: &BTreeSet<String>, out: &mut BTreeMap<String, (usize, usize)>) {
    for (h, at) in expressions(t) {
        let mut roots = BTreeSet::new();
        if let Parameter::Path(p) = &h.name {
            add_path(p, &mut roots);
        }
        for p in &h.params {
            if let Parameter::Path(p) = p {
                add_path(p, &mut roots);
            }
        }
        for r in roots {
            if vars.contains(&r) {
                out.entry(r).or_insert(at);
            }
        }
        let scoped = matches!(&h.name, Parameter::Name(n) if n == "each" || n == "with");
        if !scoped {
            if let Some(inner) = &h.template {
                sites_in(inner, vars, out);
            }
        }
        if let Some(inner) = &h.inverse {
            sites_in(inner, vars, out);
        }
    }
}

fn path_root(p: &HbPath) -> Option<String> {
    match p {
        HbPath::Relative((_, raw)) => {
            let raw = raw.trim_start_matches("./");
            let root = raw.split(['.', '/', '[']).next().unwrap_or("");
            (!root.is_empty() && root != "this" && !root.starts_with('@') && root != "..")
                .then(|| root.to_string())
        }
        HbPath::Local(_) => None,
    }
}

fn add_path(p: &HbPath, used: &mut BTreeSet<String>) {
    if let Some(root) = path_root(p) {
        used.insert(root);
    }
}

/// What templates can call: handlebars' own helpers and hsflow's `date`.
pub const HELPERS: &[&str] = &[
    "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte",
    "and", "or", "not", "len", "date",
];

/// Helpers a template calls that don't exist (`{{join tags ", "}}`), each
/// with where it is first called: they would fail every render.
pub(super) fn unknown_helpers(t: &Template) -> BTreeMap<String, (usize, usize)> {
    let mut out = BTreeMap::new();
    helpers_in(t, &mut out);
    out
}

fn helpers_in(t: &Template, out: &mut BTreeMap<String, (usize, usize)>) {
    for (h, at) in expressions(t) {
        called(h, at, out);
        for inner in [&h.template, &h.inverse].into_iter().flatten() {
            helpers_in(inner, out);
        }
    }
}

/// The helper `h` calls, if it calls one (a name with parameters, or a
/// block), and those of its subexpressions.
fn called(h: &HelperTemplate, at: (usize, usize), out: &mut BTreeMap<String, (usize, usize)>) {
    let calls = h.block || !h.params.is_empty() || !h.hash.is_empty();
    let name = match &h.name {
        Parameter::Name(n) => Some(n.clone()),
        Parameter::Path(p) if calls => path_root(p),
        _ => None,
    };
    if let Some(n) = name.filter(|n| calls && !HELPERS.contains(&n.as_str())) {
        out.entry(n).or_insert(at);
    }
    for p in &h.params {
        if let Parameter::Subexpression(s) = p {
            if let TemplateElement::Expression(inner) = s.element.as_ref() {
                called(inner, at, out);
            }
        }
    }
}
