//! Building planned actions: what a fired rule will do, fully resolved.
//!
//! Each planned action (engine::payload) is built here, already rendered
//! (subject, bodies, titles, Notion properties) unless planning was asked not
//! to render. Scheduling is resolved to `delay_s` and an absolute `run_at`. An
//! action whose text can't be rendered (a missing variable) stays in the plan
//! with `error` set: it is reported and never sent.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use std::cell::OnceCell;
use std::sync::Arc;

use serde_json::{Map, Value};

use handlebars::Context as HbContext;

use super::event::Event;
pub use super::payload::*;

use super::notion::property_value;
use crate::rules::model::{PropertyType, RelativeTime};
use crate::rules::ruleset::{ActionKind, JsonTemplate, NotifyBody, RuleSet};
use crate::rules::templates::Text;

/// What building actions for one event needs.
pub struct Ctx<'a> {
    pub rules: &'a RuleSet,
    pub event: &'a Event,
    pub received_at: DateTime<Utc>,
    pub render: bool,
    /// Render this A/B variant's template (`artist_welcome.b`) wherever its
    /// email is planned, whoever the contact (the studio previews one variant).
    pub show_variant: Option<&'a str>,
    /// Template data (the fields, `fields`, `event`, `now`), built on first use:
    /// planning without rendering never needs it.
    data: OnceCell<Value>,
}

impl<'a> Ctx<'a> {
    pub fn new(rules: &'a RuleSet, event: &'a Event, render: bool) -> Ctx<'a> {
        Ctx {
            rules,
            event,
            received_at: event.received_at,
            render,
            show_variant: None,
            data: OnceCell::new(),
        }
    }

    /// The template data shared by every action of the event (without `entity`).
    pub fn data(&self) -> &Value {
        self.data.get_or_init(|| {
            let ev = self.event;
            super::deferred::event_data(
                self.rules.fields.to_object(&ev.fields),
                &ev.source,
                &ev.event_type,
                &ev.id,
                ev.received_at,
            )
        })
    }

    /// A value by dotted name: a field straight from its slot, anything else from the data.
    pub fn lookup(&self, dotted: &str) -> Option<&Value> {
        let (first, rest) = dotted.split_once('.').unwrap_or((dotted, ""));
        if let Some(v) = self
            .rules
            .fields
            .slot(first)
            .and_then(|s| self.event.fields.get(s))
        {
            return if rest.is_empty() {
                Some(v)
            } else {
                lookup(v, rest)
            };
        }
        if self.rules.fields.slot(first).is_some() {
            return None;
        }
        lookup(self.data(), dotted)
    }
}

/// Collects render failures of one action.
pub struct Renderer<'a, 'b> {
    ctx: &'a Ctx<'b>,
    /// The data with `entity` set; only present when rendering.
    data: Option<&'a HbContext>,
    pub error: Option<String>,
}

impl<'a, 'b> Renderer<'a, 'b> {
    pub fn new(ctx: &'a Ctx<'b>, data: Option<&'a HbContext>) -> Self {
        Renderer {
            ctx,
            data,
            error: None,
        }
    }

    fn fail(&mut self, e: String) -> String {
        if self.error.is_none() {
            self.error = Some(e);
        }
        String::new()
    }

    /// A rule-file text. Without rendering, fixed texts are kept and templated ones left empty.
    pub fn text(&mut self, t: &Text) -> String {
        let Some(data) = self.data.filter(|_| self.ctx.render) else {
            return match t {
                Text::Plain(s) => s.clone(),
                Text::Template { .. } => String::new(),
            };
        };
        self.ctx
            .rules
            .templates
            .render_text(t, data)
            .unwrap_or_else(|e| self.fail(e))
    }

    pub fn email(&mut self, name: &str, part: &str) -> String {
        let Some(data) = self.data.filter(|_| self.ctx.render) else {
            return String::new();
        };
        self.ctx
            .rules
            .templates
            .render_email(name, part, data)
            .unwrap_or_else(|e| self.fail(e))
    }

    pub fn notification(&mut self, name: &str) -> String {
        let Some(data) = self.data.filter(|_| self.ctx.render) else {
            return String::new();
        };
        self.ctx
            .rules
            .templates
            .render_notification(name, data)
            .unwrap_or_else(|e| self.fail(e))
    }

    /// Whether texts are being rendered.
    pub fn rendering(&self) -> bool {
        self.ctx.render && self.data.is_some()
    }

    /// A JSON template: `"{{field}}"` alone passes the field's value through with its type.
    pub fn json(&mut self, t: &JsonTemplate) -> Value {
        match t {
            JsonTemplate::Text(text) => match text.sole_variable() {
                Some(var) => self
                    .data
                    .and_then(|d| lookup(d.data(), var))
                    .or_else(|| self.ctx.lookup(var))
                    .cloned()
                    .unwrap_or(Value::Null),
                None => Value::String(self.text(text)),
            },
            JsonTemplate::Array(a) => Value::Array(a.iter().map(|x| self.json(x)).collect()),
            JsonTemplate::Object(o) => {
                Value::Object(o.iter().map(|(k, x)| (k.clone(), self.json(x))).collect())
            }
            JsonTemplate::Literal(v) => v.clone(),
        }
    }
}

/// A text that must not come out empty (when rendering): the action fails if it does.
fn required(r: &mut Renderer<'_, '_>, t: &Text, why: &str) -> String {
    let v = r.text(t);
    if v.trim().is_empty() && r.rendering() {
        r.fail(format!("{why}; nothing was sent"));
    }
    v
}

fn lookup<'v>(data: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(data, |v, k| v.get(k))
}

/// When an action runs: `delay` after the event, or relative to a date field
/// read on the wall clock of `zone` (the entity's). Whole days count on that
/// clock, so "7d before" a 15:00 start is 15:00 across a daylight-saving
/// change, and "at 10:00" sets the time of day on the day reached. A time
/// already past runs at once (with a note); a missing date is an error.
pub fn schedule(
    delay_s: u64,
    at: Option<&RelativeTime>,
    ctx: &Ctx<'_>,
    zone: chrono_tz::Tz,
    notes: &mut Vec<String>,
) -> Result<(i64, DateTime<Utc>), String> {
    let received = ctx.received_at;
    let Some(at) = at else {
        let d = i64::try_from(delay_s).unwrap_or(i64::MAX);
        return Ok((d, received + Duration::seconds(d)));
    };
    let field = ctx.lookup(&at.field).ok_or_else(|| {
        format!(
            "can't schedule \"{}\": the event has no `{}`",
            at.text, at.field
        )
    })?;
    let date = field
        .as_str()
        .and_then(|s| super::dates::parse_in(s, zone))
        .ok_or_else(|| {
            format!(
                "can't schedule \"{}\": `{}` is {field}, not a date",
                at.text, at.field
            )
        })?;
    let when = super::dates::relative(date, at, zone);
    if when < received {
        notes.push(format!(
            "\"{}\" ({when}) is already past, so it runs at once",
            at.text
        ));
        return Ok((0, received));
    }
    Ok(((when - received).num_seconds(), when))
}

/// An email from a template, sent as `entity`.
pub fn email(
    r: &mut Renderer<'_, '_>,
    template: &Arc<str>,
    to: String,
    entity: Option<&crate::rules::ruleset::EntityInfo>,
    notes: &mut Vec<String>,
) -> Payload {
    // A template with A/B variants renders the variant this contact gets.
    let variants = r.ctx.rules.email_variants.get(&**template);
    let shown = r.ctx.show_variant;
    let chosen = variants.and_then(|vs| {
        vs.iter()
            .find(|v| shown == Some(&*v.template))
            .or_else(|| crate::email::variants::choose(vs, template, &to))
    });
    if let (Some(vs), Some(v)) = (variants, chosen) {
        notes.push(crate::email::variants::note(vs, template, v, &to));
    }
    let rendered = chosen.map_or(&**template, |v| &*v.template);
    Payload::Email {
        template: template.clone(),
        variant: chosen.map(|v| v.id.clone()),
        category: r
            .ctx
            .rules
            .email_categories
            .get(&**template)
            .copied()
            .unwrap_or_default(),
        subject: r.email(rendered, "subject").trim().to_string(),
        text: r.email(rendered, "txt"),
        html: r.email(rendered, "html"),
        from: entity.and_then(|e| e.from_email.clone()),
        reply_to: entity.and_then(|e| e.reply_to.clone()),
        to,
    }
}

/// Build the payload of one compiled action (not `follow_up`: the planner expands that).
pub fn payload(
    kind: &ActionKind,
    r: &mut Renderer<'_, '_>,
    entity: Option<&crate::rules::ruleset::EntityInfo>,
    run_at: DateTime<Utc>,
    notes: &mut Vec<String>,
) -> Option<Payload> {
    Some(match kind {
        ActionKind::Email { template, to } => {
            let to = r.text(to);
            email(r, template, to, entity, notes)
        }
        ActionKind::Notify {
            channel,
            body,
            urgent,
        } => Payload::Notify {
            channel: channel.clone(),
            text: match body {
                NotifyBody::Template(t) => r.notification(t).trim_end().to_string(),
                NotifyBody::Text(t) => r.text(t),
            },
            urgent: *urgent,
        },
        ActionKind::Task {
            title,
            description,
            assignee,
            priority,
            due_s,
            due_at,
        } => {
            let due = match (due_s, due_at) {
                (Some(s), _) => {
                    run_at + Duration::seconds(i64::try_from(*s).unwrap_or(i64::MAX / 2))
                }
                (None, Some(at)) => match schedule(
                    0,
                    Some(at),
                    r.ctx,
                    super::send_window::zone_of(r.ctx.rules, entity),
                    notes,
                ) {
                    Ok((_, when)) => when.max(run_at),
                    Err(e) => {
                        r.fail(e);
                        run_at
                    }
                },
                (None, None) => run_at,
            };
            Payload::Task {
                title: r.text(title),
                description: description.as_ref().map(|d| r.text(d)),
                assignee: r.text(assignee),
                priority: *priority,
                due_at: due,
            }
        }
        ActionKind::Notion {
            database,
            operation,
            match_on,
            properties,
            add,
        } => {
            let mut props = Map::new();
            let mut links = Vec::new();
            let mut match_value = None;
            for p in properties {
                let is_key = match_on.as_deref() == Some(p.name.as_str());
                // Without rendering, only the key that finds the page is worked out:
                // the property bodies are rendered content.
                if !is_key && !r.rendering() {
                    continue;
                }
                // A property that can't be rendered (a missing variable) is left
                // out with a note: the page is still written. Only the key that
                // finds the page is required.
                let mut pr = Renderer::new(r.ctx, r.data);
                let value = pr.json(&p.value);
                if is_key {
                    match_value = Some(value.clone());
                }
                if let Some(e) = pr.error {
                    if is_key {
                        r.fail(e);
                    } else {
                        notes.push(format!(
                            "`{}` is left out: {}",
                            p.name,
                            e.trim_end_matches("; nothing was sent")
                        ));
                    }
                    continue;
                }
                if !r.rendering() {
                    continue;
                }
                // A passed-through field the event lacks is left out rather than blanked.
                if value.is_null()
                    && matches!(p.value, JsonTemplate::Text(ref t) if t.sole_variable().is_some())
                {
                    notes.push(format!(
                        "`{}` is not set: the event has no value for it",
                        p.name
                    ));
                    continue;
                }
                // A relation with a declared target links by key values, looked up when it runs.
                let target = r
                    .ctx
                    .rules
                    .databases
                    .get(database)
                    .and_then(|db| db.relations.get(&p.name));
                if let (PropertyType::Relation, Some(t)) = (p.kind, target) {
                    links.push(Link {
                        property: p.name.clone(),
                        database: t.database.clone(),
                        by: t.by.clone(),
                        values: super::notion::as_list(&value),
                    });
                    continue;
                }
                match property_value(p.kind, &value, &p.name, notes) {
                    Ok(mut v) => {
                        // A date without an offset is on the entity's clock: Notion is told which.
                        if p.kind == PropertyType::Date {
                            super::notion::on_clock(
                                &mut v,
                                super::send_window::zone_of(r.ctx.rules, entity),
                            );
                        }
                        props.insert(p.name.clone(), v);
                    }
                    Err(e) => {
                        r.fail(e);
                    }
                }
            }
            let match_on = match_on.as_ref().map(|m| MatchOn {
                property: m.clone(),
                value: match_value.unwrap_or(Value::Null),
            });
            if let Some(MatchOn {
                property,
                value: Value::Null,
            }) = &match_on
            {
                r.fail(format!(
                    "the page can't be found: the event has no value for `{property}`"
                ));
            }
            Payload::Notion {
                database: database.clone(),
                operation: *operation,
                match_on,
                properties: props,
                links,
                add: add
                    .iter()
                    .map(|(property, how)| Increment {
                        property: property.clone(),
                        how: how.clone(),
                    })
                    .collect(),
            }
        }
        ActionKind::Webhook {
            url,
            method,
            headers,
            body,
            sign_secret_env,
        } => Payload::Webhook {
            url: r.text(url),
            method: *method,
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), r.text(v)))
                .collect(),
            body: match body {
                Some(b) => r.json(b),
                None => Value::Object(r.ctx.rules.fields.to_object(&r.ctx.event.fields)),
            },
            sign_secret_env: sign_secret_env.clone(),
        },
        ActionKind::Workflow { workflow, to, from } => Payload::Workflow {
            workflow: workflow.clone(),
            from_state: if from.len() == 1 {
                from.first().cloned()
            } else {
                None
            },
            from_states: from.clone(),
            to_state: to.clone(),
        },
        ActionKind::Beehiiv {
            email,
            utm_source,
            utm_campaign,
            custom_fields,
            send_welcome_email,
            reactivate_existing,
        } => Payload::Beehiiv {
            email: required(r, email, "the subscriber has no email"),
            utm_source: utm_source.as_ref().map(|t| r.text(t)),
            utm_campaign: utm_campaign.as_ref().map(|t| r.text(t)),
            custom_fields: custom_fields
                .iter()
                .map(|(k, v)| (k.clone(), r.text(v)))
                .collect(),
            send_welcome_email: *send_welcome_email,
            reactivate_existing: *reactivate_existing,
        },
        ActionKind::Hubspot { properties } => {
            let properties: BTreeMap<String, String> = properties
                .iter()
                .map(|(k, v)| (k.clone(), r.text(v)))
                .collect();
            let email = properties.get("email").cloned().unwrap_or_default();
            if email.trim().is_empty() && r.rendering() {
                r.fail("the HubSpot contact has no email".into());
            }
            Payload::Hubspot { email, properties }
        }
        ActionKind::FollowUp { .. } => return None,
    })
}
