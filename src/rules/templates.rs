//! Email and notification texts: Handlebars files under `templates/`.
//!
//! Layout: an email `welcome` is three files, `emails/welcome.subject.hbs`,
//! `emails/welcome.html.hbs` and `emails/welcome.txt.hbs`; a notification is
//! `notifications/<name>.hbs`. Short texts inside rule files (a task title,
//! an email address, a Notion property) are templates too, compiled here
//! when the rules load.
//!
//! Rendering is strict: a variable the data lacks fails the action with a
//! message naming it, so no email ever goes out with `{first_name}` or a gap.
//! HTML bodies are escaped; subjects and text bodies are not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use handlebars::template::Template;
use handlebars::{Context, Handlebars};

use super::template_syntax;
pub use super::template_vars::variables;
use super::template_vars::{first_uses, unknown_helpers, HELPERS};
use serde_json::Value;

use super::diagnostic::{Diagnostic, Severity};

/// Variables every render gets besides the event's fields.
pub const CONTEXT_ROOTS: &[&str] = &["entity", "event", "now", "unsubscribe_url"];

/// The parts of an email template.
pub const EMAIL_PARTS: [&str; 3] = ["subject", "html", "txt"];

/// All templates of a rule set, compiled.
#[derive(Debug, Default)]
pub struct Templates {
    escaped: Handlebars<'static>,
    plain: Handlebars<'static>,
    /// Email name -> variables its three parts use.
    pub emails: BTreeMap<String, BTreeSet<String>>,
    /// Notification name -> variables it uses.
    pub notifications: BTreeMap<String, BTreeSet<String>>,
    /// Where each template first uses each variable it reads unguarded,
    /// keyed `emails/<name>` or `notifications/<name>`: lint points there.
    pub sites: BTreeMap<String, BTreeMap<String, Site>>,
    /// Source text of every file, for the rule-set hash.
    pub files: Vec<(PathBuf, String)>,
    /// Files that don't parse (reported as template-syntax): the checks on a
    /// template's tags skip them, one mistake being one finding.
    pub broken: BTreeSet<PathBuf>,
    inline_count: usize,
}

/// A place in a template file.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
}

impl Site {
    /// A diagnostic at this place (with the source line, for the caret).
    pub fn diagnostic(
        &self,
        text: &str,
        severity: Severity,
        code: &'static str,
        message: String,
    ) -> Diagnostic {
        let offset = offset_of(text, self.line, self.col);
        Diagnostic::at_span(
            severity,
            code,
            &self.file,
            text,
            offset..offset + 1,
            message,
        )
    }
}

/// A text from a rule file: fixed, or a compiled template.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    Plain(String),
    Template {
        name: String,
        source: String,
        vars: BTreeSet<String>,
    },
}

impl Text {
    pub fn vars(&self) -> BTreeSet<String> {
        match self {
            Text::Plain(_) => BTreeSet::new(),
            Text::Template { vars, .. } => vars.clone(),
        }
    }

    pub fn source(&self) -> &str {
        match self {
            Text::Plain(s) => s,
            Text::Template { source, .. } => source,
        }
    }

    /// When the whole text is one variable (`"{{interests}}"`), its name: the
    /// value then passes through with its type (a list stays a list).
    pub fn sole_variable(&self) -> Option<&str> {
        let s = self.source().trim();
        let inner = s.strip_prefix("{{")?.strip_suffix("}}")?.trim();
        let ok = !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        ok.then_some(inner)
    }
}

/// Why a text from a rule file is not a template, and what to do.
#[derive(Debug, Default)]
pub struct InlineError {
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for InlineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.hint)
    }
}

/// The message for a helper that doesn't exist.
fn unknown_helper(name: &str) -> String {
    let close = super::diagnostic::did_you_mean(name, HELPERS.iter().copied())
        .map(|h| format!(" (did you mean `{h}`?)"))
        .unwrap_or_default();
    format!(
        "`{name}` is not something a template can do{close}: the only helpers are {}",
        HELPERS.join(", ")
    )
}

/// How to do without it.
fn helper_hint(name: &str) -> String {
    format!("to list a field's values, write {{{{#each tags}}}}{{{{#unless @first}}}}, {{{{/unless}}}}{{{{this}}}}{{{{/each}}}}; to show a date, {{{{date start}}}}; or remove `{name}` and show the field itself, {{{{field}}}}")
}

fn registry(escape: bool) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    h.register_helper(
        super::template_dates::NAME,
        Box::new(super::template_dates::date),
    );
    if !escape {
        h.register_escape_fn(handlebars::no_escape);
    }
    h
}

impl Templates {
    /// An empty registry (rule files' inline texts only).
    pub fn new() -> Templates {
        Templates {
            escaped: registry(true),
            plain: registry(false),
            ..Default::default()
        }
    }

    /// Compile every template (`emails/welcome.html.hbs` -> text), named as
    /// if under `dir`. Problems come back as diagnostics; the templates that
    /// did compile are still registered so lint can go on.
    pub fn from_files(
        dir: &Path,
        files: &BTreeMap<String, String>,
    ) -> (Templates, Vec<Diagnostic>) {
        let mut t = Templates::new();
        let mut diags = Vec::new();
        let mut parts: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
        for (rel_str, text) in files {
            let rel_str = rel_str.as_str();
            let path = dir.join(rel_str);
            t.files.push((path.clone(), text.clone()));
            let (kind, name, part) = match classify(rel_str) {
                Some(c) => c,
                None => {
                    diags.push(
                        Diagnostic::whole_file(Severity::Error, "template-name", &path, format!("`{rel_str}` is not where hsflow looks for templates"))
                            .with_hint("emails are emails/<name>.subject.hbs, emails/<name>.html.hbs and emails/<name>.txt.hbs; notifications are notifications/<name>.hbs"),
                    );
                    continue;
                }
            };
            let compiled = match Template::compile(text) {
                Ok(c) => c,
                Err(e) => {
                    // Our own scan names the tag at fault; Handlebars' position
                    // (often the end of the file) is the fallback.
                    let (offset, message, hint) = match template_syntax::explain(text) {
                        Some(slip) => (slip.offset, slip.message, slip.hint),
                        None => {
                            let (line, col) = e.pos().unwrap_or((1, 1));
                            (
                                offset_of(text, line, col),
                                format!("this template does not parse: {}", e.reason()),
                                "check that every {{ has a matching }} and every {{#if}} / {{#each}} is closed".to_string(),
                            )
                        }
                    };
                    diags.push(
                        Diagnostic::at_span(
                            Severity::Error,
                            "template-syntax",
                            &path,
                            text,
                            offset..offset + 1,
                            message,
                        )
                        .with_hint(hint),
                    );
                    t.broken.insert(path.clone());
                    // It exists, broken: references to it are not "unknown".
                    if kind == "emails" {
                        parts.entry(name.clone()).or_default().insert(part);
                        t.emails.entry(name).or_default();
                    } else {
                        t.notifications.entry(name).or_default();
                    }
                    continue;
                }
            };
            for (helper, (line, col)) in unknown_helpers(&compiled) {
                let site = Site {
                    file: path.clone(),
                    line,
                    col,
                };
                diags.push(
                    site.diagnostic(
                        text,
                        Severity::Error,
                        "unknown-helper",
                        unknown_helper(&helper),
                    )
                    .with_hint(helper_hint(&helper)),
                );
            }
            let vars = variables(&compiled);
            let sites = t.sites.entry(format!("{kind}/{name}")).or_default();
            for (var, (line, col)) in first_uses(&compiled, &vars) {
                sites.entry(var).or_insert(Site {
                    file: path.clone(),
                    line,
                    col,
                });
            }
            let reg_name = format!("{kind}/{name}/{part}");
            if kind == "emails" {
                parts.entry(name.clone()).or_default().insert(part);
                t.emails.entry(name).or_default().extend(vars);
            } else {
                t.notifications.insert(name, vars);
            }
            if part == "html" {
                t.escaped.register_template(&reg_name, compiled);
            } else {
                t.plain.register_template(&reg_name, compiled);
            }
        }
        for (name, have) in parts {
            let missing: Vec<&str> = EMAIL_PARTS
                .iter()
                .copied()
                .filter(|p| !have.contains(p))
                .collect();
            if !missing.is_empty() {
                let files: Vec<String> = missing
                    .iter()
                    .map(|p| format!("emails/{name}.{p}.hbs"))
                    .collect();
                diags.push(
                    Diagnostic::whole_file(
                        Severity::Error,
                        "template-incomplete",
                        &dir.join("emails").join(format!(
                            "{name}.{}.hbs",
                            have.iter().next().copied().unwrap_or("html")
                        )),
                        format!("the email `{name}` has no {}", missing.join(" or ")),
                    )
                    .with_hint(format!("add {}", files.join(" and "))),
                );
                t.emails.remove(&name);
            }
        }
        (t, diags)
    }

    /// Compile a text from a rule file.
    pub fn inline(&mut self, source: &str) -> Result<Text, InlineError> {
        if !source.contains("{{") {
            return Ok(Text::Plain(source.to_string()));
        }
        let compiled = Template::compile(source).map_err(|e| InlineError {
            message: format!("`{source}` is not a valid template: {}", e.reason()),
            hint: "variables are written {{name}}; check the braces".into(),
        })?;
        if let Some(helper) = unknown_helpers(&compiled).into_keys().next() {
            return Err(InlineError {
                message: unknown_helper(&helper),
                hint: helper_hint(&helper),
            });
        }
        let vars = variables(&compiled);
        self.inline_count += 1;
        let name = format!("inline/{}", self.inline_count);
        self.plain.register_template(&name, compiled);
        Ok(Text::Template {
            name,
            source: source.to_string(),
            vars,
        })
    }

    /// Prepare render data once: rendering many texts from one `Context`
    /// avoids re-serialising the data for each of them.
    pub fn context(data: Value) -> Context {
        Context::wraps(data).unwrap_or_else(|_| Context::null())
    }

    /// Render a rule-file text.
    pub fn render_text(&self, text: &Text, data: &Context) -> Result<String, String> {
        match text {
            Text::Plain(s) => Ok(s.clone()),
            Text::Template { name, source, .. } => self
                .plain
                .render_with_context(name, data)
                .map_err(|e| render_error(source, e)),
        }
    }

    /// Render one part of an email ("subject", "html" or "txt").
    pub fn render_email(&self, name: &str, part: &str, data: &Context) -> Result<String, String> {
        let reg = format!("emails/{name}/{part}");
        let h = if part == "html" {
            &self.escaped
        } else {
            &self.plain
        };
        h.render_with_context(&reg, data)
            .map_err(|e| render_error(&format!("emails/{name}.{part}.hbs"), e))
    }

    pub fn render_notification(&self, name: &str, data: &Context) -> Result<String, String> {
        self.plain
            .render_with_context(&format!("notifications/{name}/text"), data)
            .map_err(|e| render_error(&format!("notifications/{name}.hbs"), e))
    }
}

fn render_error(what: &str, e: handlebars::RenderError) -> String {
    let reason = e.reason().to_string();
    // Strict mode names the missing variable; keep that, drop the internals.
    if let Some(var) = reason.strip_prefix("Failed to access variable in strict mode ") {
        // handlebars writes the name as `Some("last_name")`.
        let var = var
            .trim()
            .trim_start_matches("Some(")
            .trim_end_matches(')')
            .trim_matches('"');
        let var = format!("`{var}`");
        format!("{what} uses {var}, which this event does not have; nothing was sent")
    } else {
        format!("{what} could not be rendered: {reason}; nothing was sent")
    }
}

/// `emails/welcome.html.hbs` -> ("emails", "welcome", "html").
fn classify(rel: &str) -> Option<(&'static str, String, &'static str)> {
    if let Some(f) = rel.strip_prefix("emails/") {
        let stem = f.strip_suffix(".hbs")?;
        for part in EMAIL_PARTS {
            if let Some(name) = stem.strip_suffix(&format!(".{part}")) {
                if !name.is_empty() && !name.contains('/') {
                    return Some(("emails", name.to_string(), part));
                }
            }
        }
        return None;
    }
    let name = rel.strip_prefix("notifications/")?.strip_suffix(".hbs")?;
    (!name.is_empty() && !name.contains(['/', '.']))
        .then(|| ("notifications", name.to_string(), "text"))
}

fn offset_of(text: &str, line: usize, col: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + col.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(src: &str) -> Vec<String> {
        let t = Template::compile(src).unwrap_or_else(|e| panic!("{e}"));
        variables(&t).into_iter().collect()
    }

    #[test]
    fn variables_are_found_and_guarded_ones_are_optional() {
        assert_eq!(
            vars("Hi {{first_name}}, from {{entity.name}}"),
            ["entity", "first_name"]
        );
        assert_eq!(
            vars("{{#if company}}at {{company}}{{/if}} {{email}}"),
            ["email"]
        );
        assert_eq!(
            vars("{{#each interests}}{{this}} {{name}}{{/each}}"),
            ["interests"]
        );
    }

    #[test]
    fn strict_rendering_names_the_missing_variable() {
        let mut t = Templates::new();
        let text = t
            .inline("Hello {{first_name}}")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.render_text(&text, &Templates::context(json!({"first_name": "Ada"}))),
            Ok("Hello Ada".into())
        );
        let err = t
            .render_text(&text, &Templates::context(json!({})))
            .err()
            .unwrap_or_default()
            .to_string();
        assert!(
            err.contains("first_name") && err.contains("nothing was sent"),
            "{err}"
        );
    }

    #[test]
    fn text_is_not_html_escaped() {
        let mut t = Templates::new();
        let text = t.inline("{{name}}").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            t.render_text(
                &text,
                &Templates::context(json!({"name": "Tom & Jerry <3"}))
            ),
            Ok("Tom & Jerry <3".into())
        );
        assert_eq!(text.sole_variable(), Some("name"));
    }

    #[test]
    fn a_helper_that_does_not_exist_is_found_before_it_fails_a_render() {
        let mut t = Templates::new();
        for ok in [
            "{{#each tags}}{{#unless @first}}, {{/unless}}{{this}}{{/each}}",
            "{{#if (eq source \"acuity\")}}Acuity{{/if}} {{date start}}",
            "{{lookup fields \"email\"}} {{first_name}}",
        ] {
            assert!(t.inline(ok).is_ok(), "{ok}");
        }
        let e = t
            .inline("They wrote: {{join answers \"; \"}}")
            .err()
            .unwrap_or_default()
            .to_string();
        assert!(
            e.contains("`join` is not something a template can do"),
            "{e}"
        );
        assert!(e.contains("{{#each tags}}"), "{e}");
        let e = t
            .inline("{{#iff vip}}VIP{{/iff}}")
            .err()
            .unwrap_or_default()
            .to_string();
        assert!(e.contains("did you mean `if`?"), "{e}");
        let e = t
            .inline("{{#if (contains tags \"vip\")}}VIP{{/if}}")
            .err()
            .unwrap_or_default()
            .to_string();
        assert!(e.contains("`contains`"), "{e}");

        // In a template file: at the helper's own line and column.
        let files = BTreeMap::from([(
            "emails/hello.txt.hbs".to_string(),
            "Hello {{first_name}},\nYou chose {{upper choice}}.\n".to_string(),
        )]);
        let (_, diags) = Templates::from_files(Path::new("templates"), &files);
        let d = diags
            .iter()
            .find(|d| d.code == "unknown-helper")
            .unwrap_or_else(|| panic!("not found: {diags:?}"));
        assert_eq!((d.line, d.col), (2, 11), "{d:?}");
    }
}
