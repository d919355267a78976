//! Lint for routing written twice: rules that restate entities.toml.
//!
//! Which business a contact belongs to is written once, in rules/entities.toml.
//! A rule that tests the same contact types in its own `when` works until
//! someone edits the routes, then silently disagrees with them. These checks
//! point such rules to `for_entity`, and warn when a rule is scoped to an
//! entity no route can reach.

use super::flow::FlowEnv;
use crate::rules::diagnostic::Finding;
use crate::rules::model::{ConditionSpec, RuleSpec};

/// A route as the flows see it: the entity and its conditions.
pub struct RouteSpec {
    pub entity: String,
    pub when: Vec<ConditionSpec>,
}

/// Checks on a rule scoped with `for_entity = "<entity>"`: warn when nothing
/// can put its events there. `named` says whether a sender reaching the rule
/// can name entities itself (its events carry entities.toml's `explicit_field`).
///
/// A rule may also say `entity`: it then fires for events routed to its
/// `for_entity` and acts for `entity` (The 7 Space answering a general
/// contact's wellness question).
pub fn scope(entity: &str, named: bool, ptr: &str, env: &FlowEnv<'_>, out: &mut Vec<Finding>) {
    let Some(routes) = env.routes else { return };
    let routed = routes.iter().any(|r| r.entity == entity);
    let known = env.entities.iter().any(|e| e == entity); // else: unknown-entity says so
    if known && !routed && !named && !env.entities_broken {
        out.push(
            Finding::warning(
                "never-routed",
                format!("{ptr}/for_entity"),
                format!("no route in rules/entities.toml leads to `{entity}`, and no sender this rule listens to can name it, so this rule never fires (the fallback alone doesn't count)"),
            )
            .hint(format!("add a [[routes]] table with entity = \"{entity}\" and the conditions of its contacts, or scope the rule to another entity")),
        );
    }
}

/// Warn when a rule's `when` repeats the route of the entity it acts for.
pub fn restated(
    spec: &RuleSpec,
    acting: Option<&str>,
    ptr: &str,
    env: &FlowEnv<'_>,
    out: &mut Vec<Finding>,
) {
    let (Some(entity), Some(routes)) = (acting, env.routes) else {
        return;
    };
    for route in routes
        .iter()
        .filter(|r| r.entity == entity && !r.when.is_empty())
    {
        let positions: Option<Vec<usize>> = route
            .when
            .iter()
            .map(|rc| spec.when.iter().position(|c| same_test(c, rc)))
            .collect();
        let Some(first) = positions.and_then(|p| p.into_iter().min()) else {
            continue;
        };
        let routes_to_it = routes.iter().filter(|r| r.entity == entity).count();
        let widens = match (routes_to_it > 1, env.explicit_field.is_some()) {
            (false, false) => String::new(),
            (true, false) => format!(" (for_entity also takes contacts the other routes to `{entity}` bring)"),
            (false, true) => format!(" (for_entity also takes events whose sender names `{entity}` itself)"),
            (true, true) => format!(" (for_entity also takes contacts the other routes to `{entity}` bring, and events whose sender names it)"),
        };
        let already = if spec.for_entity.is_some() {
            "for_entity already checks it; delete this condition".to_string()
        } else {
            format!("write for_entity = \"{entity}\" instead, so that editing entities.toml moves this rule with the route{widens}")
        };
        out.push(
            Finding::warning(
                "routing-restated",
                format!("{ptr}/when/{first}"),
                format!("this repeats the `{entity}` route in rules/entities.toml; the two will drift apart when someone edits one of them"),
            )
            .hint(already),
        );
    }
}

/// The same test, whatever the order of its values.
fn same_test(a: &ConditionSpec, b: &ConditionSpec) -> bool {
    normalised(a) == normalised(b)
}

fn normalised(c: &ConditionSpec) -> ConditionSpec {
    let mut c = c.clone();
    for list in [
        &mut c.in_,
        &mut c.contains_any,
        &mut c.contains_all,
        &mut c.contains_none,
        &mut c.contains_other_than,
    ]
    .into_iter()
    .flatten()
    {
        list.sort_by_key(|v| format!("{v:?}"));
        list.dedup();
    }
    c
}
