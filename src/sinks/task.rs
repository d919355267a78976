//! A task as a page of the Tasks database, the same for the local store and
//! for Notion: keyed by `Task ID` (the job id), so a retried task updates its
//! page instead of adding a second.

use serde_json::{json, Map, Value};

use crate::engine::action::{Payload, PlannedAction};
use crate::engine::notion::property_value;
use crate::rules::model::{Priority, PropertyType};

/// The key property of a task page.
pub const KEY: &str = "Task ID";

/// The Tasks database properties of a task action run as job `job_id`.
pub fn properties(job_id: &str, action: &PlannedAction) -> Map<String, Value> {
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
    ];
    let mut props = Map::new();
    let mut notes = Vec::new();
    for (name, kind, v) in want {
        if let Ok(body) = property_value(kind, &v, name, &mut notes) {
            props.insert(name.to_string(), body);
        }
    }
    props
}
