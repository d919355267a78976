//! Compiling the actions that sync a contact to another service: a Beehiiv
//! newsletter subscription and a HubSpot contact upsert. Their texts are
//! templates like any other, checked against the fields the rule can see.

use super::action::ActionEnv;
use super::Compiler;
use crate::rules::diagnostic::Finding;
use crate::rules::model::{BeehiivSpec, HubspotSpec};
use crate::rules::ruleset::ActionKind;
use crate::rules::templates::Text;

/// One templated text, its variables checked.
fn checked(
    c: &mut Compiler,
    env: &ActionEnv<'_>,
    src: &str,
    what: &str,
    ptr: &str,
    out: &mut Vec<Finding>,
) -> Text {
    let t = c.text(src, ptr, out);
    env.check_vars(&t.vars(), what, ptr, super::action::UsedIn::Rule, out);
    t
}

pub fn beehiiv(
    c: &mut Compiler,
    env: &ActionEnv<'_>,
    b: &BeehiivSpec,
    ptr: &str,
    out: &mut Vec<Finding>,
) -> ActionKind {
    let email = checked(
        c,
        env,
        b.email.as_deref().unwrap_or("{{email}}"),
        "the email",
        &format!("{ptr}/email"),
        out,
    );
    let utm_source = b
        .utm_source
        .as_ref()
        .map(|s| checked(c, env, s, "utm_source", &format!("{ptr}/utm_source"), out));
    let utm_campaign = b.utm_campaign.as_ref().map(|s| {
        checked(
            c,
            env,
            s,
            "utm_campaign",
            &format!("{ptr}/utm_campaign"),
            out,
        )
    });
    let custom_fields = b
        .custom_fields
        .iter()
        .map(|(k, v)| {
            let p = format!("{ptr}/custom_fields/{k}");
            (
                k.clone(),
                checked(c, env, v, &format!("the custom field `{k}`"), &p, out),
            )
        })
        .collect();
    ActionKind::Beehiiv {
        email,
        utm_source,
        utm_campaign,
        custom_fields,
        send_welcome_email: b.send_welcome_email,
        reactivate_existing: b.reactivate_existing,
    }
}

pub fn hubspot(
    c: &mut Compiler,
    env: &ActionEnv<'_>,
    h: &HubspotSpec,
    ptr: &str,
    out: &mut Vec<Finding>,
) -> ActionKind {
    if !h.properties.contains_key("email") {
        out.push(
            Finding::error(
                "hubspot-without-email",
                format!("{ptr}/properties"),
                "a hubspot action needs the `email` property: HubSpot finds the contact by it",
            )
            .hint("add email = \"{{email}}\" to its properties"),
        );
    }
    let properties = h
        .properties
        .iter()
        .map(|(k, v)| {
            let p = format!("{ptr}/properties/{k}");
            (
                k.clone(),
                checked(c, env, v, &format!("the property `{k}`"), &p, out),
            )
        })
        .collect();
    ActionKind::Hubspot { properties }
}
