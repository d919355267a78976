//! Checks on the templates themselves, beyond "does it parse".
//!
//! A template can parse and still fail or mislead when sent: an email whose
//! subject is empty, an `{{entity.vars.tema}}` no entity defines (rendering is
//! strict, so every such email fails), or `{{{field}}}`, which prints what a
//! contact typed into a form into the HTML unescaped. These run once per
//! template file, after entities.toml is known.

use std::collections::BTreeSet;

use super::super::diagnostic::{did_you_mean, Diagnostic, Severity};
use crate::rules::ruleset::EntityInfo;
use crate::rules::templates::Templates;

/// What `{{entity.*}}` offers a template (see `engine::plan`).
const ENTITY_KEYS: [&str; 6] = ["id", "name", "from_email", "reply_to", "vars", "zone"];

/// `entities` is `None` when entities.toml failed to load (its own errors say why).
pub fn check(templates: &Templates, entities: Option<&[EntityInfo]>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let vars: BTreeSet<&str> = entities
        .into_iter()
        .flatten()
        .flat_map(|e| e.vars.keys().map(String::as_str))
        .collect();
    for (path, text) in &templates.files {
        if templates.broken.contains(path) {
            continue; // its syntax error is the finding
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let subject = name.ends_with(".subject.hbs");
        if subject && text.trim().is_empty() {
            out.push(
                Diagnostic::whole_file(Severity::Error, "empty-subject", path, "this email's subject is empty")
                    .with_hint("write the subject line in this file, e.g. Welcome to {{entity.name}}, {{first_name}}: mail without a subject is often filed as spam"),
            );
        }
        for (start, inner, triple) in tags(text) {
            let span = start..start + inner.len() + if triple { 6 } else { 4 };
            let expr = inner.trim();
            if expr.starts_with('!') {
                continue; // a comment: {{! ... }} or {{!-- ... --}}
            }
            // entity.* values come from entities.toml, written by the operator.
            let own = expr.starts_with("entity.");
            if triple && !own && (subject || name.ends_with(".html.hbs")) {
                let d = if subject {
                    Diagnostic::at_span(
                        Severity::Warning,
                        "unescaped",
                        path,
                        text,
                        span.clone(),
                        format!(
                            "`{{{{{{{expr}}}}}}}` in a subject: subjects are plain text already"
                        ),
                    )
                    .with_hint(format!("write {{{{{expr}}}}}"))
                } else {
                    Diagnostic::at_span(Severity::Warning, "unescaped", path, text, span.clone(), format!("`{{{{{{{expr}}}}}}}` puts `{expr}` into the HTML without escaping, so whatever a contact typed (a <link>, a <script>) becomes part of the email"))
                        .with_hint(format!("write {{{{{expr}}}}} to show it as text; keep three braces only for HTML you wrote yourself"))
                };
                out.push(d);
            }
            for word in expr.split_whitespace() {
                let Some(rest) = word.strip_prefix("entity.") else {
                    continue;
                };
                let rest = rest.trim_end_matches(')');
                let (key, sub) = rest.split_once('.').unwrap_or((rest, ""));
                if !ENTITY_KEYS.contains(&key) {
                    out.push(
                        Diagnostic::at_span(Severity::Error, "unknown-entity-key", path, text, span.clone(), format!("`entity.{key}` is not something an entity has, so this template would fail to render"))
                            .with_hint(match did_you_mean(key, ENTITY_KEYS) {
                                Some(m) => format!("did you mean `entity.{m}`?"),
                                None => format!("an entity has: {}; your own values go under vars in rules/entities.toml (entity.vars.<name>)", ENTITY_KEYS.join(", ")),
                            }),
                    );
                } else if key == "vars"
                    && entities.is_some()
                    && !sub.is_empty()
                    && !vars.contains(sub)
                {
                    out.push(
                        Diagnostic::at_span(Severity::Error, "unknown-entity-var", path, text, span.clone(), format!("no entity in rules/entities.toml has a var `{sub}`, so every message from this template would fail"))
                            .with_hint(match did_you_mean(sub, vars.iter().copied()) {
                                Some(m) => format!("did you mean `entity.vars.{m}`?"),
                                None => format!("add `{sub} = \"...\"` to the vars of the entities that send this (rules/entities.toml)"),
                            }),
                    );
                }
            }
        }
    }
    out
}

/// Every `{{...}}` tag: (byte offset, inner text, whether it has three braces).
fn tags(text: &str) -> Vec<(usize, &str, bool)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find("{{") {
        let start = at + i;
        let triple = text[start..].starts_with("{{{");
        let open = if triple { 3 } else { 2 };
        let close = if triple { "}}}" } else { "}}" };
        // A comment {{!-- ... --}} may hold }} itself: it ends at --}}.
        let close = if text[start..].starts_with("{{!--") {
            "--}}"
        } else {
            close
        };
        let Some(j) = text[start + open..].find(close) else {
            break;
        };
        out.push((start, &text[start + open..start + open + j], triple));
        at = start + open + j + close.len();
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_comment_may_hold_braces_and_is_one_tag() {
        let t = super::tags("{{!-- old: {{entity.tema}} --}} {{x}}");
        let found: Vec<&str> = t.iter().map(|(_, s, _)| s.trim()).collect();
        assert_eq!(found, vec!["!-- old: {{entity.tema}}", "x"]);
    }

    #[test]
    fn tags_are_found_with_their_braces() {
        let t = super::tags("a {{x}} b {{{y}}} {{#if z}}c{{/if}}");
        let found: Vec<(&str, bool)> = t.iter().map(|(_, s, tr)| (*s, *tr)).collect();
        assert_eq!(
            found,
            vec![("x", false), ("y", true), ("#if z", false), ("/if", false)]
        );
    }
}
