//! A change to one field of an action, in a few words, for people: short
//! values whole ("after 1 day → after 12 hours"), long texts (an email's
//! HTML) by the part that differs, with a little of what comes before it.

use serde_json::Value;

/// "1 event", "3 events".
pub fn count(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The what-if's summary in one sentence.
pub fn summary(s: &super::whatif::Summary) -> String {
    let mut out = format!(
        "{} replayed: {} would change ({} added, {} removed, {} changed",
        count(s.events_replayed, "event"),
        s.events_changed,
        count(s.actions_added, "action"),
        s.actions_removed,
        s.actions_changed
    );
    if s.events_refused > 0 {
        out.push_str(&format!("; {} refused", count(s.events_refused, "event")));
    }
    out.push(')');
    out
}

/// The summary, and how many waiting actions a changed calendar would hold.
pub fn with_held(mut summary: String, held: usize) -> String {
    if held > 0 {
        summary.push_str(&format!(
            "; {} already waiting would be held for a send window",
            count(held, "action")
        ));
    }
    summary
}

/// At most `n` characters of `s`, with an ellipsis when cut.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// A change in words, for people: whole when short, else the part that differs.
pub fn change(before: &Value, after: &Value) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    };
    let (a, b) = (text(before), text(after));
    if a.chars().count() <= 60 && b.chars().count() <= 60 {
        return format!("{a} → {b}");
    }
    let (ac, bc): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let prefix = ac.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    let suffix = ac[prefix..]
        .iter()
        .rev()
        .zip(bc[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mid = |c: &[char]| c[prefix..c.len() - suffix].iter().collect::<String>();
    let (gone, new) = (mid(&ac), mid(&bc));
    let context: String = ac[prefix.saturating_sub(24)..prefix].iter().collect();
    let context = context.replace('\n', " ");
    match (gone.is_empty(), new.is_empty()) {
        (true, _) => format!("added “{}” after “…{context}”", clip(&new, 80)),
        (_, true) => format!("removed “{}” after “…{context}”", clip(&gone, 80)),
        _ => format!(
            "“…{context}{}” → “…{context}{}”",
            clip(&gone, 60),
            clip(&new, 60)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::change as said;
    use serde_json::json;

    #[test]
    fn a_change_is_said_whole_when_short_and_by_its_difference_when_long() {
        assert_eq!(
            said(&json!("after 1 day"), &json!("after 12 hours")),
            "after 1 day → after 12 hours"
        );
        let long = "<p>Dear Ada,</p><p>Thank you for reaching out to The 7 Space.</p>";
        let more = format!("{long}<p>Edited</p>");
        assert_eq!(
            said(&json!(long), &json!(more)),
            "added “<p>Edited</p>” after “… out to The 7 Space.</p>”"
        );
        let other = long.replace("Thank you", "Thanks");
        assert!(said(&json!(long), &json!(other)).contains("Thank you"));
        assert!(said(&json!(long), &json!(other)).contains("→"));
    }
}
