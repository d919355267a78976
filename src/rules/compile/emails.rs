//! Compiling emails.toml: each email template's category, and every
//! template accounted for (lint requires each to say whether it is
//! transactional or marketing).

use std::collections::BTreeMap;

use super::suggest;
use crate::rules::diagnostic::Finding;
use crate::rules::model::{EmailCategory, EmailsFile};

/// The categories by template, the findings inside emails.toml, and the
/// templates it doesn't mention (reported at the templates themselves).
pub fn categories(
    file: Option<&EmailsFile>,
    templates: &[String],
) -> (BTreeMap<String, EmailCategory>, Vec<Finding>, Vec<String>) {
    let mut out = Vec::new();
    let mut found = BTreeMap::new();
    for (name, spec) in file.map(|f| &f.emails).into_iter().flatten() {
        if templates.contains(name) {
            found.insert(name.clone(), spec.category);
        } else {
            out.push(
                Finding::error(
                    "unknown-template",
                    format!("/emails/{name}"),
                    format!("there is no email template `{name}` (templates/emails/{name}.subject.hbs and its .html.hbs and .txt.hbs)"),
                )
                .on_key()
                .hint(suggest(name, templates.iter().map(String::as_str), "email template")),
            );
        }
    }
    let missing = templates
        .iter()
        .filter(|t| !found.contains_key(*t))
        .cloned()
        .collect();
    (found, out, missing)
}

/// What to write for a template emails.toml doesn't mention.
pub fn missing_hint(name: &str) -> String {
    format!(
        "add to rules/emails.toml:\n    [emails.{name}]\n    category = \"marketing\"      # follow-ups, welcome and introduction series, content\n  or category = \"transactional\" for a confirmation, an order or shipping update, a retreat's preparation"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> EmailsFile {
        toml::from_str(text).expect("test emails.toml")
    }

    #[test]
    fn every_template_is_accounted_for_and_no_other() {
        let templates = vec!["welcome".to_string(), "receipt".to_string()];
        let f = file("[emails.welcome]\ncategory = \"marketing\"\n[emails.reciept]\ncategory = \"transactional\"\n");
        let (found, findings, missing) = categories(Some(&f), &templates);
        assert_eq!(found.get("welcome"), Some(&EmailCategory::Marketing));
        assert_eq!(missing, ["receipt"]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].code, "unknown-template");
        assert_eq!(findings[0].hint.as_deref(), Some("did you mean `receipt`?"));
        // Without the file, every template is missing.
        let (_, _, missing) = categories(None, &templates);
        assert_eq!(missing, ["welcome", "receipt"]);
    }
}
