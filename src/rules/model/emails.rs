//! `rules/emails.toml`: what kind of message each email template is.
//!
//! Every email template under templates/emails/ is either `transactional`
//! (it answers something the person did: a booking confirmation, an order
//! or shipping update, a retreat's preparation) or `marketing` (follow-ups,
//! welcome and introduction series, content). The law and the mailbox
//! providers treat the two differently: marketing email must carry a way
//! out and stop when someone takes it; a transactional one still goes. Lint
//! requires every template to say which it is.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "hsflow emails",
    description = "Each email template's category: transactional or marketing."
)]
pub struct EmailsFile {
    /// One [emails.<template>] table per email template under templates/emails/.
    pub emails: BTreeMap<String, EmailTemplateSpec>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplateSpec {
    /// "transactional" (it answers something the person did: a confirmation, an order or shipping update, a retreat's preparation) or "marketing" (follow-ups, welcome and introduction series, content).
    pub category: EmailCategory,
    /// What the email is for, for the people reading the file.
    #[serde(default)]
    pub description: Option<String>,
    /// A/B variants and their weights, e.g. { a = 50, b = 50 }: each is its own three files (templates/emails/<name>.a.subject.hbs, .a.html.hbs, .a.txt.hbs); rules still say template = "<name>", and each contact always gets the same variant.
    #[serde(default)]
    pub variants: BTreeMap<String, u32>,
}

/// Transactional or marketing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailCategory {
    /// It answers something the person did; it goes even to someone who unsubscribed.
    Transactional,
    /// Anything else; it carries a way out. An email planned before categories
    /// existed counts as marketing, the careful reading.
    #[default]
    Marketing,
}

impl EmailCategory {
    pub fn word(self) -> &'static str {
        match self {
            EmailCategory::Transactional => "transactional",
            EmailCategory::Marketing => "marketing",
        }
    }
}
