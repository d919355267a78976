//! Compiling a rule's actions, checking every reference they make.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::flow::FlowEnv;
use super::routing::unknown_email;
use super::window::WindowChoice;
use super::{suggest, Compiler};
use crate::rules::diagnostic::{Finding, Severity};
use crate::rules::model::{ActionKindSpec, ActionSpec};
use crate::rules::ruleset::{Action, ActionKind, JsonTemplate, NotifyBody};
use crate::rules::templates::{Site, Text, CONTEXT_ROOTS};

pub struct ActionEnv<'a> {
    pub flow: &'a FlowEnv<'a>,
    /// Fields the rule's sources produce.
    pub available: &'a BTreeSet<String>,
    pub reached: &'a [String],
    /// Per source: the fields every one of its events has.
    pub always_by: &'a BTreeMap<String, BTreeSet<String>>,
    /// Fields the rule's `when` can only be true with (see `flow::present_when`).
    pub present: &'a BTreeSet<String>,
    pub rule_id: &'a str,
}

/// Where a variable's use is reported: the rule file (at a pointer), or the
/// template file the rule names (at the variable's first use).
pub(super) enum UsedIn<'a> {
    Rule,
    /// A Notion property: one whose value is missing is left out of the
    /// page (with a note), so only a variable no event has is an error.
    LeftOutIfMissing,
    Template {
        sites: Option<&'a BTreeMap<String, Site>>,
        files: &'a [(std::path::PathBuf, String)],
    },
}

impl ActionEnv<'_> {
    /// `at` / `due_at` name a date field no event reaching this rule has.
    fn unknown_date_field(&self, field: &str, ptr: String) -> Finding {
        Finding::error(
            "unknown-field",
            ptr,
            format!("`{field}` is not a field the events reaching this rule carry"),
        )
        .hint(suggest(
            field,
            self.available.iter().map(String::as_str),
            "available field",
        ))
    }

    /// The sources reaching this rule whose events may come without `v`.
    fn lacking(&self, v: &str) -> Vec<&str> {
        if self.present.contains(v) {
            return Vec::new();
        }
        self.reached
            .iter()
            .filter(|s| !self.always_by.get(*s).is_some_and(|a| a.contains(v)))
            .map(String::as_str)
            .collect()
    }

    /// A template (or text) variable that no event reaching this rule can
    /// have, or that some may lack, is an error now, rather than a failed
    /// send later (rendering is strict: a missing variable fails the action).
    /// A variable tested with `{{#if}}` / `{{#unless}}` is guarded and never
    /// counted here (see `templates::variables`).
    pub(super) fn check_vars(
        &self,
        vars: &BTreeSet<String>,
        what: &str,
        ptr: &str,
        used_in: UsedIn<'_>,
        out: &mut Vec<Finding>,
    ) {
        // A rule that reaches no source already has an error saying so.
        if self.reached.is_empty() {
            return;
        }
        for v in vars {
            if CONTEXT_ROOTS.contains(&v.as_str()) {
                continue;
            }
            // Where the template first uses `v`: a finding about it belongs there.
            let site = match &used_in {
                UsedIn::Template { sites, files } => {
                    sites.and_then(|s| s.get(v)).and_then(|site| {
                        let text = files.iter().find(|(p, _)| *p == site.file)?;
                        Some((site, &text.1))
                    })
                }
                UsedIn::Rule | UsedIn::LeftOutIfMissing => None,
            };
            if !self.available.contains(v) {
                let from = self.reached.join(", ");
                let guess = suggest(
                    v,
                    self.available.iter().map(String::as_str),
                    "available field",
                );
                let stop = if guess.ends_with('?') { "" } else { "." };
                let hint = format!("{guess}{stop} Otherwise map `{v}` in those sources' [fields], or show it only when present with {{{{#if {v}}}}}...{{{{/if}}}}");
                out.push(match site {
                    Some((site, text)) => Finding::located(
                        site.diagnostic(text, Severity::Error, "missing-variable", format!("`{v}` is not a field any event reaching rule `{}` has (its sources: {from}), so {what} would fail to render", self.rule_id))
                            .with_hint(hint),
                    ),
                    None => Finding::error("missing-variable", ptr, format!("{what} uses `{v}`, which no event reaching rule `{}` has (its sources: {from})", self.rule_id)).hint(hint),
                });
                continue;
            }
            let lacking = self.lacking(v);
            if lacking.is_empty() || matches!(used_in, UsedIn::LeftOutIfMissing) {
                continue;
            }
            let sources = lacking
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let files = lacking
                .iter()
                .map(|s| format!("rules/sources/{s}.toml"))
                .collect::<Vec<_>>()
                .join(" and ");
            let hint = format!(
                "show it only when it is there, e.g. {{{{#if {v}}}}}{{{{{v}}}}}{{{{else}}}}there{{{{/if}}}}; or, if every sender always fills it in, mark it `required = true` (or give it a `default`) under [fields.{v}] in {files}"
            );
            match site {
                Some((site, text)) => out.push(Finding::located(
                    site.diagnostic(
                        text,
                        Severity::Error,
                        "may-be-missing",
                        format!("`{v}` may be missing here: rule `{}` uses {what} for events from {sources}, which can arrive without `{v}` (not required, no default), and the action would then fail", self.rule_id),
                    )
                    .with_hint(hint),
                )),
                None => out.push(
                    Finding::error("may-be-missing", ptr, format!("{what} uses `{v}`, which events from {sources} can arrive without (not required, no default); the action would then fail"))
                        .hint(hint),
                ),
            }
        }
    }
}

pub fn compile(
    c: &mut Compiler,
    a: &ActionSpec,
    index: usize,
    ptr: &str,
    env: &ActionEnv<'_>,
    out: &mut Vec<Finding>,
) -> Option<Action> {
    let id =
        a.id.clone()
            .unwrap_or_else(|| format!("{}_{}", a.kind.name(), index + 1));
    if a.delay.is_some() && a.at.is_some() {
        out.push(
            Finding::error(
                "ambiguous",
                format!("{ptr}/at"),
                "give either `delay` or `at`, not both",
            )
            .hint("`delay` counts from the event; `at` from a date the event carries"),
        );
    }
    if let Some(at) = &a.at {
        if !env.available.contains(&at.field) {
            out.push(env.unknown_date_field(&at.field, format!("{ptr}/at")));
        }
    }
    if let Some(e) = &a.entity {
        if !env.flow.entities_broken && !env.flow.entities.iter().any(|x| x == e) {
            out.push(
                Finding::error(
                    "unknown-entity",
                    format!("{ptr}/entity"),
                    format!("there is no entity `{e}`"),
                )
                .hint(suggest(
                    e,
                    env.flow.entities.iter().map(String::as_str),
                    "entity",
                )),
            );
        }
    }
    let kind = match &a.kind {
        ActionKindSpec::Email(e) => {
            // A template with A/B variants: each variant is checked as the template it is.
            let names: Vec<String> = match c.email_variants.get(&e.template) {
                Some(vs) => vs.iter().map(|v| v.template.to_string()).collect(),
                None => vec![e.template.clone()],
            };
            if !c.templates.emails.contains_key(&e.template) {
                out.push(unknown_email(c, &e.template, format!("{ptr}/template")));
            }
            for name in &names {
                if let Some(vars) = c.templates.emails.get(name) {
                    env.check_vars(
                        &vars.clone(),
                        &format!("the email template `{name}`"),
                        &format!("{ptr}/template"),
                        UsedIn::Template {
                            sites: c.templates.sites.get(&format!("emails/{name}")),
                            files: &c.templates.files,
                        },
                        out,
                    );
                }
            }
            let to = c.text(
                e.to.as_deref().unwrap_or("{{email}}"),
                &format!("{ptr}/to"),
                out,
            );
            env.check_vars(
                &to.vars(),
                "the recipient",
                &format!("{ptr}/to"),
                UsedIn::Rule,
                out,
            );
            ActionKind::Email {
                template: e.template.as_str().into(),
                to,
            }
        }
        ActionKindSpec::Notify(n) => {
            let body = match (&n.template, &n.text) {
                (Some(t), None) => {
                    match c.templates.notifications.get(t) {
                        None => out.push(
                            Finding::error(
                                "unknown-template",
                                format!("{ptr}/template"),
                                format!("there is no notification template `{t}`"),
                            )
                            .hint(format!(
                                "{} (a notification is templates/notifications/{t}.hbs)",
                                suggest(
                                    t,
                                    c.templates.notifications.keys().map(String::as_str),
                                    "notification template"
                                )
                            )),
                        ),
                        Some(vars) => env.check_vars(
                            &vars.clone(),
                            &format!("the notification template `{t}`"),
                            &format!("{ptr}/template"),
                            UsedIn::Template {
                                sites: c.templates.sites.get(&format!("notifications/{t}")),
                                files: &c.templates.files,
                            },
                            out,
                        ),
                    }
                    NotifyBody::Template(t.clone())
                }
                (None, Some(text)) => {
                    let t = c.text(text, &format!("{ptr}/text"), out);
                    env.check_vars(
                        &t.vars(),
                        "the notification text",
                        &format!("{ptr}/text"),
                        UsedIn::Rule,
                        out,
                    );
                    NotifyBody::Text(t)
                }
                _ => {
                    out.push(
                        Finding::error(
                            "ambiguous",
                            ptr,
                            "a notification needs either `template` or `text`, and only one",
                        )
                        .hint("text = \"New artist: {{first_name}}\" or template = \"new_artist\""),
                    );
                    NotifyBody::Text(Text::Plain(String::new()))
                }
            };
            ActionKind::Notify {
                channel: n.channel.clone(),
                body,
                urgent: n.urgent,
            }
        }
        ActionKindSpec::Task(t) => {
            if t.due.is_some() && t.due_at.is_some() {
                out.push(Finding::error(
                    "ambiguous",
                    format!("{ptr}/due_at"),
                    "give either `due` or `due_at`, not both",
                )
                .hint("`due` counts from the event (due = \"1d\"); `due_at` from a date it carries (due_at = \"1d before retreat_start\"); keep one"));
            }
            if let Some(at) = &t.due_at {
                if !env.available.contains(&at.field) {
                    out.push(env.unknown_date_field(&at.field, format!("{ptr}/due_at")));
                }
            }
            let title = c.text(&t.title, &format!("{ptr}/title"), out);
            env.check_vars(
                &title.vars(),
                "the task title",
                &format!("{ptr}/title"),
                UsedIn::Rule,
                out,
            );
            let description = t
                .description
                .as_ref()
                .map(|d| c.text(d, &format!("{ptr}/description"), out));
            if let Some(d) = &description {
                env.check_vars(
                    &d.vars(),
                    "the task description",
                    &format!("{ptr}/description"),
                    UsedIn::Rule,
                    out,
                );
            }
            let assignee = c.text(&t.assignee, &format!("{ptr}/assignee"), out);
            ActionKind::Task {
                title,
                description,
                assignee,
                priority: t.priority,
                due_s: t.due.map(|d| d.secs()),
                due_at: t.due_at.clone(),
            }
        }
        ActionKindSpec::Notion(n) => super::notion_action::compile(c, env, n, ptr, out),
        ActionKindSpec::Webhook(w) => {
            let url = c.text(&w.url, &format!("{ptr}/url"), out);
            if !(w.url.starts_with("https://")
                || w.url.starts_with("http://")
                || w.url.starts_with("{{"))
            {
                out.push(Finding::error(
                    "bad-url",
                    format!("{ptr}/url"),
                    format!("`{}` is not an http(s) URL", w.url),
                )
                .hint("write the whole address, starting with https:// (or http:// for a server on this network)"));
            }
            env.check_vars(
                &url.vars(),
                "the URL",
                &format!("{ptr}/url"),
                UsedIn::Rule,
                out,
            );
            let headers = w
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), c.text(v, &format!("{ptr}/headers/{k}"), out)))
                .collect();
            let body = w
                .body
                .as_ref()
                .map(|b| json_template(c, b, &format!("{ptr}/body"), out));
            if let Some(b) = &body {
                env.check_vars(
                    &b.vars(),
                    "the body",
                    &format!("{ptr}/body"),
                    UsedIn::Rule,
                    out,
                );
            }
            ActionKind::Webhook {
                url,
                method: w.method,
                headers,
                body,
                sign_secret_env: w.sign_secret_env.clone(),
            }
        }
        ActionKindSpec::Workflow(w) => {
            match env.flow.workflows.get(&w.workflow) {
                // A flow file that failed to load may define it: its own error comes first.
                None if env.flow.unreadable_flow => {}
                None => out.push(
                    Finding::error(
                        "unknown-workflow",
                        format!("{ptr}/workflow"),
                        format!("there is no workflow `{}`", w.workflow),
                    )
                    .hint(suggest(
                        &w.workflow,
                        env.flow.workflows.keys().map(String::as_str),
                        "workflow",
                    )),
                ),
                Some(def) => {
                    let states = || def.states.iter().map(String::as_str);
                    if !def.states.contains(&w.to) {
                        out.push(
                            Finding::error(
                                "unknown-state",
                                format!("{ptr}/to"),
                                format!("`{}` is not a state of `{}`", w.to, w.workflow),
                            )
                            .hint(suggest(&w.to, states(), "state")),
                        );
                    }
                    for (i, f) in w.from.iter().enumerate() {
                        if !def.states.contains(f) {
                            out.push(
                                Finding::error(
                                    "unknown-state",
                                    format!("{ptr}/from/{i}"),
                                    format!("`{f}` is not a state of `{}`", w.workflow),
                                )
                                .hint(suggest(
                                    f,
                                    states(),
                                    "state",
                                )),
                            );
                        }
                    }
                }
            }
            ActionKind::Workflow {
                workflow: w.workflow.clone(),
                to: w.to.clone(),
                from: w.from.clone(),
            }
        }
        ActionKindSpec::FollowUp(f) => {
            if !env.flow.has_lead_sources {
                out.push(
                    Finding::error(
                        "no-lead-sources",
                        ptr,
                        "a follow_up action needs rules/lead_sources.toml",
                    )
                    .hint("add rules/lead_sources.toml with the timing per lead source"),
                );
            }
            for t in env.flow.follow_up_templates {
                if let Some(vars) = c.templates.emails.get(t) {
                    env.check_vars(
                        &vars.clone(),
                        &format!("the follow-up email `{t}`"),
                        ptr,
                        UsedIn::Template {
                            sites: c.templates.sites.get(&format!("emails/{t}")),
                            files: &c.templates.files,
                        },
                        out,
                    );
                }
            }
            ActionKind::FollowUp {
                assignee: f.assignee.clone(),
            }
        }
        ActionKindSpec::Beehiiv(b) => super::integrations::beehiiv(c, env, b, ptr, out),
        ActionKindSpec::Hubspot(h) => super::integrations::hubspot(c, env, h, ptr, out),
    };
    Some(Action {
        key: format!("{}/{id}", env.rule_id).into(),
        id,
        delay_s: a.delay.map(|d| d.secs()).unwrap_or(0),
        at: a.at.clone(),
        entity: a.entity.clone(),
        window: match a.window.as_deref() {
            None => WindowChoice::Entity,
            Some(w) => match c.window(w, &format!("{ptr}/window"), out) {
                Some(found) => WindowChoice::Named(found),
                None => WindowChoice::Anytime,
            },
        },
        kind,
    })
}

pub(super) fn json_template(
    c: &mut Compiler,
    v: &Value,
    ptr: &str,
    out: &mut Vec<Finding>,
) -> JsonTemplate {
    match v {
        Value::String(s) => JsonTemplate::Text(c.text(s, ptr, out)),
        Value::Array(a) => JsonTemplate::Array(
            a.iter()
                .enumerate()
                .map(|(i, x)| json_template(c, x, &format!("{ptr}/{i}"), out))
                .collect(),
        ),
        Value::Object(o) => JsonTemplate::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), json_template(c, x, &format!("{ptr}/{k}"), out)))
                .collect(),
        ),
        other => JsonTemplate::Literal(other.clone()),
    }
}
