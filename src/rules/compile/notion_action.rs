//! Compiling a `notion` action: the database and every property it names
//! must exist, fixed select values must be options, additions must target
//! number properties.

use super::action::{json_template, ActionEnv};
use super::{suggest, Compiler};
use crate::rules::diagnostic::Finding;
use crate::rules::model::{Database, NotionOperation, NotionSpec, PropertyType};
use crate::rules::ruleset::{ActionKind, JsonTemplate, NotionProperty};
use crate::rules::templates::Text;

pub fn compile(
    c: &mut Compiler,
    env: &ActionEnv<'_>,
    n: &NotionSpec,
    ptr: &str,
    out: &mut Vec<Finding>,
) -> ActionKind {
    let db = env.flow.databases.get(&n.database);
    if db.is_none() && !env.flow.databases_broken {
        out.push(
            Finding::error(
                "unknown-database",
                format!("{ptr}/database"),
                format!(
                    "there is no database `{}` in rules/databases.toml",
                    n.database
                ),
            )
            .hint(suggest(
                &n.database,
                env.flow.databases.keys().map(String::as_str),
                "database",
            )),
        );
    }
    if n.operation != NotionOperation::Create && n.match_on.is_none() {
        out.push(
            Finding::error(
                "missing-key",
                ptr,
                format!(
                    "an {} needs `match`: the property that finds the page",
                    if n.operation == NotionOperation::Upsert {
                        "upsert"
                    } else {
                        "update"
                    }
                ),
            )
            .hint("add match = \"Email\" (and give Email in properties)"),
        );
    }
    if let Some(m) = &n.match_on {
        let in_database = db.is_none_or(|db| db.properties.contains_key(m));
        if let (false, Some(db)) = (in_database, db) {
            // A misspelt property: say so, not "add it to properties".
            out.push(
                Finding::error(
                    "unknown-property",
                    format!("{ptr}/match"),
                    format!("`{m}` is not a property of the `{}` database, so no page can be found by it", n.database),
                )
                .hint(suggest(m, db.properties.keys().map(String::as_str), "property")),
            );
        } else if !n.properties.contains_key(m)
            && crate::rules::diagnostic::did_you_mean(m, n.properties.keys().map(String::as_str))
                .is_none_or(|near| db.is_none_or(|db| db.properties.contains_key(near)))
        {
            // (A property misspelt in `properties` is that key's own finding.)
            out.push(
                Finding::error(
                    "missing-property",
                    format!("{ptr}/match"),
                    format!("`{m}` must also be given in `properties`, since its value finds the page"),
                )
                .hint(format!("add \"{m}\" = \"{{{{...}}}}\" to this action's properties, e.g. \"{m}\" = \"{{{{email}}}}\"")),
            );
        }
    }
    let mut properties = Vec::new();
    for (name, value) in &n.properties {
        let pptr = format!(
            "{ptr}/properties/{}",
            crate::rules::document::escape_segment(name)
        );
        let kind = match db {
            Some(db) => match db.properties.get(name) {
                Some(k) => *k,
                None => {
                    out.push(
                        Finding::error(
                            "unknown-property",
                            pptr.clone(),
                            format!(
                                "`{name}` is not a property of the `{}` database",
                                n.database
                            ),
                        )
                        .hint(suggest(
                            name,
                            db.properties.keys().map(String::as_str),
                            "property",
                        ))
                        .on_key(),
                    );
                    continue;
                }
            },
            None => continue,
        };
        let value = json_template(c, value, &pptr, out);
        env.check_vars(
            &value.vars(),
            &format!("the property `{name}`"),
            &pptr,
            super::action::UsedIn::LeftOutIfMissing,
            out,
        );
        if let Some(db) = db {
            check_options(db, name, kind, &value, &pptr, out);
        }
        properties.push(NotionProperty {
            name: name.clone(),
            kind,
            value,
        });
    }
    let mut add = Vec::new();
    for (name, inc) in &n.add {
        let aptr = format!("{ptr}/add/{}", crate::rules::document::escape_segment(name));
        match db.and_then(|db| db.properties.get(name)) {
            Some(PropertyType::Number) => add.push((name.clone(), inc.clone())),
            Some(other) => out.push(Finding::error(
                "bad-increment",
                aptr,
                format!(
                    "only a number property can be added to; `{name}` is a {}",
                    other.api_name()
                ),
            )
            .hint("use `add` only on a number property (e.g. \"Engagement Score\"); to set other properties, put them in `properties`")),
            None if db.is_some() => out.push(
                Finding::error(
                    "unknown-property",
                    aptr,
                    format!(
                        "`{name}` is not a property of the `{}` database",
                        n.database
                    ),
                )
                .on_key(),
            ),
            None => {}
        }
    }
    ActionKind::Notion {
        database: n.database.clone(),
        operation: n.operation,
        match_on: n.match_on.clone(),
        properties,
        add,
    }
}

/// A fixed select value outside the database's options would fail in Notion.
fn check_options(
    db: &Database,
    name: &str,
    kind: PropertyType,
    value: &JsonTemplate,
    ptr: &str,
    out: &mut Vec<Finding>,
) {
    let Some(opts) = db.options.get(name) else {
        return;
    };
    if !kind.has_options() {
        return;
    }
    let mut fixed = Vec::new();
    match value {
        JsonTemplate::Text(Text::Plain(s)) => fixed.push(s.clone()),
        JsonTemplate::Array(items) => {
            for i in items {
                if let JsonTemplate::Text(Text::Plain(s)) = i {
                    fixed.push(s.clone());
                }
            }
        }
        _ => {}
    }
    for f in fixed {
        if !opts.contains(&f) {
            out.push(
                Finding::error(
                    "unknown-option",
                    ptr,
                    format!("\"{f}\" is not an option of `{name}` in `{}`", db.key),
                )
                .hint(suggest(&f, opts.iter().map(String::as_str), "option")),
            );
        }
    }
}
