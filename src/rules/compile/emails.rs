//! Compiling emails.toml: each email template's category, and every
//! template accounted for (lint requires each to say whether it is
//! transactional or marketing).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::suggest;
use crate::rules::diagnostic::Finding;
use crate::rules::model::{EmailCategory, EmailsFile};

/// Templates with A/B variants: the name rules use -> each variant's own
/// name (`artist_welcome.a`) and weight.
pub type Variants = BTreeMap<String, Arc<[Variant]>>;

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `a`, as written in emails.toml.
    pub id: Arc<str>,
    /// The template rendered for it: `artist_welcome.a`.
    pub template: Arc<str>,
    pub weight: u32,
}

/// Compiled emails.toml: categories by template (variants and the name
/// rules use alike), variants, the findings inside the file, and the
/// templates it doesn't mention (reported at the templates themselves).
#[derive(Debug, Default)]
pub struct Compiled {
    pub categories: BTreeMap<String, EmailCategory>,
    pub variants: Variants,
    pub findings: Vec<Finding>,
    pub missing: Vec<String>,
}

fn files_of(name: &str) -> String {
    format!("templates/emails/{name}.subject.hbs and its .html.hbs and .txt.hbs")
}

pub fn compile(file: Option<&EmailsFile>, templates: &[String]) -> Compiled {
    let mut c = Compiled::default();
    for (name, spec) in file.map(|f| &f.emails).into_iter().flatten() {
        if spec.variants.is_empty() {
            if templates.contains(name) {
                c.categories.insert(name.clone(), spec.category);
            } else {
                c.findings.push(
                    Finding::error(
                        "unknown-template",
                        format!("/emails/{name}"),
                        format!("there is no email template `{name}` ({})", files_of(name)),
                    )
                    .on_key()
                    .hint(suggest(
                        name,
                        templates.iter().map(String::as_str),
                        "email template",
                    )),
                );
            }
            continue;
        }
        let mut list = Vec::new();
        for (id, weight) in &spec.variants {
            let ptr = format!("/emails/{name}/variants/{id}");
            let template = format!("{name}.{id}");
            if id.is_empty() || !id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                c.findings.push(
                    Finding::error(
                        "bad-variant",
                        ptr,
                        format!("`{id}` can't name a variant: use letters, digits and _ only"),
                    )
                    .on_key()
                    .hint("name variants a, b, c, or short words such as short_subject"),
                );
                continue;
            }
            if !templates.contains(&template) {
                c.findings.push(
                    Finding::error(
                        "unknown-template",
                        ptr,
                        format!("variant `{id}` of `{name}` has no template ({})", files_of(&template)),
                    )
                    .on_key()
                    .hint(format!("copy templates/emails/{name}.*.hbs (or another variant's files) to {template}.subject.hbs, {template}.html.hbs and {template}.txt.hbs, and change what this variant tries")),
                );
                continue;
            }
            c.categories.insert(template.clone(), spec.category);
            list.push(Variant {
                id: id.as_str().into(),
                template: template.into(),
                weight: *weight,
            });
        }
        if !spec.variants.is_empty() && spec.variants.values().all(|w| *w == 0) {
            c.findings.push(
                Finding::error(
                    "no-weight",
                    format!("/emails/{name}/variants"),
                    format!("every variant of `{name}` has weight 0, so none could be sent"),
                )
                .hint("give at least one variant a weight above 0, e.g. { a = 50, b = 50 }"),
            );
        }
        c.categories.insert(name.clone(), spec.category);
        if !list.is_empty() {
            c.variants.insert(name.clone(), list.into());
        }
    }
    c.missing = templates
        .iter()
        .filter(|t| !c.categories.contains_key(*t))
        .cloned()
        .collect();
    c
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
        let c = compile(Some(&f), &templates);
        assert_eq!(c.categories.get("welcome"), Some(&EmailCategory::Marketing));
        assert_eq!(c.missing, ["receipt"]);
        assert_eq!(c.findings.len(), 1);
        assert_eq!(c.findings[0].code, "unknown-template");
        assert_eq!(
            c.findings[0].hint.as_deref(),
            Some("did you mean `receipt`?")
        );
        // Without the file, every template is missing.
        assert_eq!(compile(None, &templates).missing, ["welcome", "receipt"]);
    }

    #[test]
    fn variants_are_their_own_templates_under_one_entry() {
        let templates = vec!["welcome.a".to_string(), "welcome.b".to_string()];
        let f = file(
            "[emails.welcome]\ncategory = \"marketing\"\nvariants = { a = 70, b = 30, c = 10 }\n",
        );
        let c = compile(Some(&f), &templates);
        // Both variants and the name rules use are categorised; none is missing.
        assert!(c.missing.is_empty(), "{:?}", c.missing);
        assert_eq!(
            c.categories.get("welcome.b"),
            Some(&EmailCategory::Marketing)
        );
        let v = c.variants.get("welcome").expect("variants");
        assert_eq!(
            v.iter()
                .map(|v| (&*v.template, v.weight))
                .collect::<Vec<_>>(),
            [("welcome.a", 70), ("welcome.b", 30)]
        );
        // The variant without templates is reported at its key.
        assert_eq!(c.findings.len(), 1);
        assert_eq!(c.findings[0].code, "unknown-template");
        assert!(
            c.findings[0].message.contains("variant `c` of `welcome`"),
            "{}",
            c.findings[0].message
        );
    }
}
