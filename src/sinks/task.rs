//! A task as a page of the Tasks database, the same for the local store and
//! for Notion: keyed by `Task ID` (the job id), so a retried task updates its
//! page instead of adding a second.

use serde_json::{json, Map, Value};

use crate::engine::action::{Link, Payload, PlannedAction};
use crate::engine::notion::property_value;
use crate::rules::model::{Priority, PropertyType};
use crate::rules::RuleSet;

/// The key property of a task page.
pub const KEY: &str = "Task ID";
/// The database tasks go to.
pub const DATABASE: &str = "tasks";

/// A task links to its contact through every relation of the Tasks database
/// whose linked pages are found by an email (the contact's page, the
/// contact's workflow instance...), when rules/databases.toml declares one.
pub fn links(rules: &RuleSet, contact: Option<&str>) -> Vec<Link> {
    let (Some(contact), Some(tasks)) = (contact, rules.databases.get(DATABASE)) else {
        return Vec::new();
    };
    tasks
        .relations
        .iter()
        .filter(|(_, t)| {
            rules
                .databases
                .get(&t.database)
                .and_then(|d| d.properties.get(&t.by))
                == Some(&PropertyType::Email)
        })
        .map(|(property, t)| Link {
            property: property.clone(),
            database: t.database.clone(),
            by: t.by.clone(),
            values: vec![contact.to_string()],
        })
        .collect()
}

/// The Tasks database properties of a task action run as job `job_id`, for
/// the contact `contact`. Only properties the Tasks database declares in
/// rules/databases.toml are written (Notion refuses unknown ones).
pub fn properties(
    rules: &RuleSet,
    job_id: &str,
    contact: Option<&str>,
    action: &PlannedAction,
) -> Map<String, Value> {
    let Payload::Task {
        title,
        description,
        assignee,
        priority,
        due_at,
    } = &action.payload
    else {
        return Map::new();
    };
    let priority = match priority {
        Priority::Urgent | Priority::High => "High",
        Priority::Medium => "Medium",
        Priority::Low => "Low",
    };
    let want = [
        (KEY, PropertyType::Title, json!(job_id)),
        ("Task Name", PropertyType::RichText, json!(title)),
        (
            "Description",
            PropertyType::RichText,
            json!(description.clone().unwrap_or_default()),
        ),
        ("Assigned To", PropertyType::RichText, json!(assignee)),
        ("Priority", PropertyType::Select, json!(priority)),
        ("Status", PropertyType::Select, json!("To Do")),
        ("Due Date", PropertyType::Date, json!(due_at.to_rfc3339())),
        (
            "Related Business Entity",
            PropertyType::RichText,
            json!(action.entity.as_deref().unwrap_or("")),
        ),
        (
            "Created By",
            PropertyType::RichText,
            json!(format!("hsflow rule {}", action.rule)),
        ),
        // The contact whose workflow instances the task belongs to: staff
        // marking it Done can move them on (task_management.toml).
        (
            "Related Workflow Instance",
            PropertyType::RichText,
            json!(contact.unwrap_or("")),
        ),
    ];
    let declared = rules.databases.get(DATABASE).map(|d| &d.properties);
    let mut props = Map::new();
    let mut notes = Vec::new();
    for (name, kind, v) in want {
        if declared.is_some_and(|d| !d.contains_key(name)) {
            continue;
        }
        if let Ok(body) = property_value(kind, &v, name, &mut notes) {
            props.insert(name.to_string(), body);
        }
    }
    props
}
