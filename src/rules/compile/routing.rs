//! Compiling entities.toml, lead_sources.toml and databases.toml.

use std::collections::{BTreeMap, BTreeSet};

use super::{suggest, Compiler};
use crate::rules::diagnostic::Finding;
use crate::rules::model::{DatabasesFile, EntitiesFile, LeadSourcesFile};
use crate::rules::ruleset::{EntityInfo, LeadOverride, LeadSourceRule, LeadTiming, Routing};

pub fn entities(c: &mut Compiler, file: &EntitiesFile, out: &mut Vec<Finding>) -> Routing {
    let zone = file
        .zone
        .as_deref()
        .and_then(|z| match super::calendar::zone(z) {
            Ok(tz) => Some(tz),
            Err(why) => {
                out.push(
                    Finding::error("bad-zone", "/zone", why)
                        .hint("the network's zone, e.g. zone = \"America/New_York\""),
                );
                None
            }
        });
    // Routes' time conditions (and every rule's, unless its entity has a zone) read this zone.
    c.zone = zone.unwrap_or(chrono_tz::Tz::UTC);
    let mut seen = BTreeSet::new();
    let mut entities = Vec::new();
    for (i, e) in file.entities.iter().enumerate() {
        if !seen.insert(e.id.clone()) {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("/entities/{i}/id"),
                    format!("the entity id `{}` is used twice", e.id),
                )
                .hint("entity ids must be unique"),
            );
        }
        let ptr = format!("/entities/{i}");
        let own_zone = e.zone.as_deref().and_then(|z| match super::calendar::zone(z) {
            Ok(tz) => Some(tz),
            Err(why) => {
                out.push(Finding::error("bad-zone", format!("{ptr}/zone"), why).hint(
                    "leave `zone` out to use the network's zone (the `zone` at the top of this file)",
                ));
                None
            }
        });
        let email_window = e
            .email_window
            .as_deref()
            .and_then(|w| c.window(w, &format!("{ptr}/email_window"), out));
        if let Some(z) = own_zone {
            c.entity_zones.insert(e.id.clone(), z);
        }
        entities.push(EntityInfo {
            id: e.id.as_str().into(),
            name: e.name.as_str().into(),
            from_email: e.from_email.as_deref().map(Into::into),
            reply_to: e.reply_to.as_deref().map(Into::into),
            vars: e.vars.clone(),
            zone: own_zone,
            email_window,
            track_engagement: e.track_engagement,
        });
    }
    let ids: Vec<&str> = file.entities.iter().map(|e| e.id.as_str()).collect();
    let known = |id: &str, ptr: String, out: &mut Vec<Finding>| {
        if !ids.contains(&id) {
            out.push(
                Finding::error("unknown-entity", ptr, format!("there is no entity `{id}`"))
                    .hint(suggest(id, ids.iter().copied(), "entity")),
            );
        }
    };
    known(&file.fallback, "/fallback".into(), out);
    let mut routes = Vec::new();
    for (i, r) in file.routes.iter().enumerate() {
        known(&r.entity, format!("/routes/{i}/entity"), out);
        let cond = c.conditions(&r.when, &format!("/routes/{i}/when"), out);
        routes.push((r.entity.as_str().into(), cond));
    }
    let explicit_slot = file.explicit_field.as_ref().map(|f| c.fields.intern(f));
    Routing {
        zone,
        entities,
        fallback: Some(file.fallback.as_str().into()),
        explicit_slot,
        routes,
    }
}

pub fn lead_sources(
    c: &mut Compiler,
    file: &LeadSourcesFile,
    out: &mut Vec<Finding>,
) -> LeadTiming {
    if !c.may_produce(&file.field) {
        out.push(
            Finding::warning(
                "unknown-field",
                "/field",
                format!("no source produces a field called `{}`", file.field),
            )
            .hint("lead sources are chosen by this field; map it in a source's [fields]"),
        );
    }
    let slot = c.fields.intern(&file.field);
    let mut seen = BTreeSet::new();
    let mut sources = Vec::new();
    for (i, ls) in file.lead_sources.iter().enumerate() {
        let ptr = format!("/lead_sources/{i}");
        if !seen.insert(ls.id.clone()) {
            out.push(Finding::error(
                "duplicate-id",
                format!("{ptr}/id"),
                format!("the lead source id `{}` is used twice", ls.id),
            )
            .hint("give each [[lead_sources]] its own id; to accept more values for one source, list them in its `values`"));
        }
        let sequence = follow_ups(c, &ls.follow_ups, &format!("{ptr}/follow_ups"), out);
        let mut overrides = Vec::new();
        for (j, o) in ls.overrides.iter().enumerate() {
            let optr = format!("{ptr}/overrides/{j}");
            let when = c.conditions(&o.when, &format!("{optr}/when"), out);
            let fu = o
                .follow_ups
                .as_ref()
                .map(|f| follow_ups(c, f, &format!("{optr}/follow_ups"), out));
            overrides.push(LeadOverride {
                id: o.id.clone(),
                when,
                first_response_s: o.first_response.secs(),
                follow_ups: fu,
            });
        }
        sources.push(LeadSourceRule {
            id: ls.id.clone(),
            values: ls.values.clone(),
            first_response_s: ls.first_response.secs(),
            assignee: ls.assignee.clone(),
            follow_ups: sequence,
            overrides,
        });
    }
    if let Some(d) = &file.default {
        if !seen.contains(d) {
            out.push(
                Finding::error(
                    "unknown-lead-source",
                    "/default",
                    format!("there is no lead source `{d}`"),
                )
                .hint(suggest(d, seen.iter().map(String::as_str), "lead source")),
            );
        }
    }
    LeadTiming {
        slot,
        field: file.field.clone(),
        default: file.default.clone(),
        sources,
    }
}

fn follow_ups(
    c: &Compiler,
    list: &[crate::rules::model::FollowUp],
    ptr: &str,
    out: &mut Vec<Finding>,
) -> Vec<(u32, std::sync::Arc<str>)> {
    let mut days = BTreeSet::new();
    for (i, f) in list.iter().enumerate() {
        if !c.templates.emails.contains_key(&f.template) {
            out.push(unknown_email(c, &f.template, format!("{ptr}/{i}/template")));
        }
        if !days.insert(f.day) {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/{i}/day"),
                    format!("day {} appears twice in this sequence", f.day),
                )
                .hint("keep one follow-up per day, or change one of the days"),
            );
        }
    }
    list.iter()
        .map(|f| (f.day, f.template.as_str().into()))
        .collect()
}

pub fn unknown_email(c: &Compiler, name: &str, ptr: String) -> Finding {
    let finding = Finding::error(
        "unknown-template",
        ptr,
        format!("there is no email template `{name}`"),
    );
    // `welcome.html.hbs` or `emails/welcome`: the file's name, not the template's.
    let bare = name
        .trim_start_matches("templates/")
        .trim_start_matches("emails/")
        .split('.')
        .next()
        .unwrap_or(name);
    if bare != name && c.templates.emails.contains_key(bare) {
        return finding.hint(format!(
            "name the template without its folder or extension: template = \"{bare}\" (hsflow picks its .subject, .html and .txt files itself)"
        ));
    }
    finding.hint(format!(
        "{} (an email is three files: templates/emails/{name}.subject.hbs, {name}.html.hbs and {name}.txt.hbs)",
        suggest(
            name,
            c.templates.emails.keys().map(String::as_str),
            "email template"
        )
    ))
}

pub fn databases(
    file: &DatabasesFile,
    out: &mut Vec<Finding>,
) -> BTreeMap<String, crate::rules::model::Database> {
    let mut map = BTreeMap::new();
    for (i, db) in file.databases.iter().enumerate() {
        let ptr = format!("/databases/{i}");
        if map.contains_key(&db.key) {
            out.push(
                Finding::error(
                    "duplicate-id",
                    format!("{ptr}/key"),
                    format!("the database key `{}` is used twice", db.key),
                )
                .hint("give each [[databases]] its own key: rules name databases by it"),
            );
        }
        if !db
            .env
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            || db.env.is_empty()
        {
            out.push(
                Finding::error(
                    "bad-env-name",
                    format!("{ptr}/env"),
                    format!("`{}` is not an environment variable name", db.env),
                )
                .hint("write the variable's name in capitals, e.g. NOTION_CONTACTS_PROFILES_DB"),
            );
        }
        let titles = db
            .properties
            .values()
            .filter(|t| **t == crate::rules::model::PropertyType::Title)
            .count();
        if titles != 1 {
            let named: Vec<&str> = db
                .properties
                .iter()
                .filter(|(_, t)| **t == crate::rules::model::PropertyType::Title)
                .map(|(n, _)| n.as_str())
                .collect();
            let hint = if named.is_empty() {
                "mark the page's name column as \"title\", e.g. \"Name\" = \"title\" (as it is in Notion)".to_string()
            } else {
                format!("keep \"title\" on the one Notion shows as the page name ({}) and give the others their real type, e.g. \"rich_text\" or \"email\"", named.join(", "))
            };
            out.push(
                Finding::error(
                    "bad-database",
                    format!("{ptr}/properties"),
                    format!(
                        "a Notion database has exactly one title property; `{}` has {titles}",
                        db.key
                    ),
                )
                .hint(hint),
            );
        }
        for (prop, opts) in &db.options {
            let optr = format!(
                "{ptr}/options/{}",
                crate::rules::document::escape_segment(prop)
            );
            match db.properties.get(prop) {
                None => out.push(Finding::error("unknown-property", optr, format!("`{prop}` is not a property of `{}`", db.key)).hint(suggest(prop, db.properties.keys().map(String::as_str), "property"))),
                Some(t) if !t.has_options() => out.push(Finding::error("bad-database", optr, format!("`{prop}` is not a select, multi_select or status property, so it has no options")).hint("list options only for select, multi_select and status properties; remove this line or fix the property's type")),
                Some(_) if opts.is_empty() => out.push(Finding::warning("bad-database", optr, "an empty option list allows nothing").hint("list the options exactly as Notion shows them, e.g. [\"Lead\", \"Client\"]")),
                _ => {}
            }
        }
        map.insert(db.key.clone(), db.clone());
    }
    for (i, db) in file.databases.iter().enumerate() {
        relations(i, db, &map, out);
    }
    map
}

/// Each relation names a relation property, a known database, and a property of it to find pages by.
fn relations(
    i: usize,
    db: &crate::rules::model::Database,
    all: &BTreeMap<String, crate::rules::model::Database>,
    out: &mut Vec<Finding>,
) {
    use crate::rules::model::PropertyType;
    for (prop, target) in &db.relations {
        let rptr = format!(
            "/databases/{i}/relations/{}",
            crate::rules::document::escape_segment(prop)
        );
        match db.properties.get(prop) {
            Some(PropertyType::Relation) => {}
            Some(t) => out.push(Finding::error(
                "bad-relation",
                rptr.clone(),
                format!("`{prop}` is a {} property, not a relation", t.api_name()),
            )
            .hint(format!("list `{prop}` as \"relation\" under [databases.properties] if it is one in Notion, or remove it from [databases.relations]"))),
            None => out.push(
                Finding::error(
                    "unknown-property",
                    rptr.clone(),
                    format!("`{prop}` is not a property of `{}`", db.key),
                )
                .hint(suggest(
                    prop,
                    db.properties.keys().map(String::as_str),
                    "property",
                )),
            ),
        }
        let Some(linked) = all.get(&target.database) else {
            out.push(
                Finding::error(
                    "unknown-database",
                    format!("{rptr}/database"),
                    format!("there is no database `{}`", target.database),
                )
                .hint(suggest(
                    &target.database,
                    all.keys().map(String::as_str),
                    "database",
                )),
            );
            continue;
        };
        match linked.properties.get(&target.by) {
            None => out.push(
                Finding::error(
                    "unknown-property",
                    format!("{rptr}/by"),
                    format!("`{}` is not a property of `{}`", target.by, linked.key),
                )
                .hint(suggest(
                    &target.by,
                    linked.properties.keys().map(String::as_str),
                    "property",
                )),
            ),
            Some(
                PropertyType::Relation
                | PropertyType::People
                | PropertyType::MultiSelect
                | PropertyType::Date,
            ) => out.push(Finding::error(
                "bad-relation",
                format!("{rptr}/by"),
                format!(
                    "pages can't be found by `{}`: Notion can't match it by equality",
                    target.by
                ),
            )
            .hint("find pages by a title, text, email, phone, number or select property, e.g. by = \"Email\"")),
            Some(_) => {}
        }
    }
}
