//! Email statistics: per template (and A/B variant), per rule and per flow,
//! how many emails were sent, not sent to a suppressed address, bounced,
//! opened, clicked, led to an unsubscribe or a complaint, and the rates
//! that compare them.
//!
//! Counts are of distinct emails (an email opened five times is one open).
//! Opens and clicks are only known for entities that track engagement, and
//! opens undercount (mail programs that block images never report one), so
//! they compare variants better than they measure a whole audience.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::store::email::ActivityCount;

/// What is counted, in the order shown.
pub const WHAT: [&str; 7] = [
    "sent",
    "suppressed",
    "bounced",
    "opened",
    "clicked",
    "unsubscribed",
    "complained",
];

type Tally = BTreeMap<&'static str, i64>;

fn add(t: &mut Tally, c: &ActivityCount) {
    if let Some(what) = WHAT.iter().find(|w| **w == c.what) {
        *t.entry(what).or_default() += c.emails;
    }
}

fn row(mut key: serde_json::Map<String, Value>, t: &Tally) -> Value {
    let n = |w: &str| t.get(w).copied().unwrap_or(0);
    for w in WHAT {
        key.insert(w.into(), json!(n(w)));
    }
    let sent = n("sent");
    let rate = |w: &str| {
        if sent > 0 {
            json!((n(w) as f64 / sent as f64 * 1000.0).round() / 1000.0)
        } else {
            Value::Null
        }
    };
    key.insert("open_rate".into(), rate("opened"));
    key.insert("click_rate".into(), rate("clicked"));
    key.insert("unsubscribe_rate".into(), rate("unsubscribed"));
    Value::Object(key)
}

/// `{"templates": [...], "rules": [...], "flows": [...]}` from the store's counts.
pub fn summarise(counts: &[ActivityCount]) -> Value {
    let mut templates: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut rules: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut flows: BTreeMap<&str, Tally> = BTreeMap::new();
    for c in counts {
        add(templates.entry((&c.template, &c.variant)).or_default(), c);
        add(rules.entry((&c.flow, &c.rule)).or_default(), c);
        add(flows.entry(&c.flow).or_default(), c);
    }
    let obj = |pairs: &[(&str, Value)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<serde_json::Map<_, _>>()
    };
    json!({
        "templates": templates.iter().map(|((t, v), tally)| row(obj(&[
            ("template", json!(t)),
            ("variant", if v.is_empty() { Value::Null } else { json!(v) }),
        ]), tally)).collect::<Vec<_>>(),
        "rules": rules.iter().map(|((f, r), tally)| row(obj(&[("flow", json!(f)), ("rule", json!(r))]), tally)).collect::<Vec<_>>(),
        "flows": flows.iter().map(|(f, tally)| row(obj(&[("flow", json!(f))]), tally)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(template: &str, variant: &str, what: &str, emails: i64) -> ActivityCount {
        ActivityCount {
            template: template.into(),
            variant: variant.into(),
            rule: "welcome".into(),
            flow: "contact_workflows".into(),
            what: what.into(),
            emails,
        }
    }

    #[test]
    fn variants_are_compared_side_by_side_and_rules_add_them_up() {
        let s = summarise(&[
            c("artist_welcome", "a", "sent", 10),
            c("artist_welcome", "a", "opened", 4),
            c("artist_welcome", "b", "sent", 10),
            c("artist_welcome", "b", "opened", 7),
            c("artist_welcome", "b", "unsubscribed", 1),
        ]);
        let t = &s["templates"];
        assert_eq!(t[0]["variant"], "a");
        assert_eq!(t[0]["open_rate"], 0.4);
        assert_eq!(t[1]["open_rate"], 0.7);
        assert_eq!(t[1]["unsubscribe_rate"], 0.1);
        assert_eq!(s["rules"][0]["sent"], 20);
        assert_eq!(s["rules"][0]["opened"], 11);
        assert_eq!(s["flows"][0]["unsubscribed"], 1);
    }
}
