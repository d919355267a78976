//! Slips inside a `{ ... }` table written on one line.
//!
//! Conditions and Notion properties are written as inline tables, several to
//! a line: `when = [{ field = "email", exists = yes }]`. A slip there belongs
//! to the key right before it (`exists`), not to the line's first key
//! (`when`): a hint built from the line's first key would tell the author to
//! write `when = true` and wipe out the condition. These helpers find the
//! key a position belongs to, and a `{` left open before a `]` or the next
//! `{` on the same line.

/// The `key = value` that byte `at` of `line` stands in: the key (quotes
/// kept, as it must be written) and the value's text up to the `,`, `}` or
/// `]` that ends it.
pub fn assignment_at(line: &str, at: usize) -> Option<(&str, &str)> {
    let at = at.min(line.len());
    let mut eq = None;
    // The key starts after the last `{`, `,` or `[` outside quotes before its `=`.
    let mut key_start = 0;
    let mut quote: Option<char> = None;
    for (i, c) in line[..at].char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '=') => eq = Some((key_start, i)),
            (None, '{' | ',' | '[') => key_start = i + 1,
            _ => {}
        }
    }
    let (start, eq) = eq?;
    let key = line.get(start..eq)?.trim();
    let rest = &line[eq + 1..];
    let end = value_end(rest);
    Some((key, rest[..end].trim()))
}

/// Where the value at the start of `rest` ends: the first `,`, `}` or `]`
/// outside quotes, else the end of the line.
fn value_end(rest: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in rest.char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ',' | '}' | ']' | '#') => return i,
            _ => {}
        }
    }
    rest.len()
}

/// A `{` opened on this line and not closed when the parser stumbled at byte
/// `at`: on the `]` that ends the list, or on the next `{` (a `,` came where
/// `}, ` belonged). Returns the line with the `}` put in, and what it closes
/// before.
pub fn unclosed_on_line(line: &str, at: usize) -> Option<(String, &'static str)> {
    let at = at.min(line.len());
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    let mut last_comma = None;
    for (i, c) in line[..at].char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => stack.push(c),
            (None, '}' | ']') => {
                stack.pop();
            }
            (None, ',') => last_comma = Some(i),
            _ => {}
        }
    }
    if stack.last() != Some(&'{') {
        return None;
    }
    let (insert, close, before) = match line[at..].chars().next()? {
        ']' if line[..at].ends_with(' ') => (at, "}", "the `]`"),
        ']' => (at, " }", "the `]`"),
        '{' => (last_comma?, " }", "the next `{`"),
        _ => return None,
    };
    let fixed = format!("{}{close}{}", &line[..insert], &line[insert..]);
    Some((fixed, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_right_before_a_position_is_found_inside_a_table() {
        let line = r#"when = [{ field = "email", exists = yes }]"#;
        let at = line.find("yes").unwrap_or(0);
        assert_eq!(assignment_at(line, at), Some(("exists", "yes")));
        let line = r#"properties = { "Email" = "{{email}}", "Email Opt-Out" = yes }"#;
        let at = line.find("yes").unwrap_or(0);
        assert_eq!(assignment_at(line, at), Some(("\"Email Opt-Out\"", "yes")));
        assert_eq!(assignment_at("urgent = yes", 9), Some(("urgent", "yes")));
    }

    #[test]
    fn a_brace_left_open_before_the_list_ends_or_the_next_table_is_closed_in_the_fix() {
        let line = r#"when = [{ field = "skus", starts_with = "ART-" ]"#;
        let at = line.find(']').unwrap_or(0);
        let (fixed, before) = unclosed_on_line(line, at).expect("found");
        assert_eq!(
            fixed,
            r#"when = [{ field = "skus", starts_with = "ART-" }]"#
        );
        assert_eq!(before, "the `]`");
        let line = r#"when = [{ a = "x", { b = "y" }]"#;
        let at = line.rfind('{').unwrap_or(0);
        let (fixed, _) = unclosed_on_line(line, at).expect("found");
        assert_eq!(fixed, r#"when = [{ a = "x" }, { b = "y" }]"#);
        assert_eq!(unclosed_on_line(r#"a = [{ b = 1 }]"#, 14), None);
    }
}
