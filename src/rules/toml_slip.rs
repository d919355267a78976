//! Turning a TOML parser error into the slip a person made, and its fix.
//!
//! The parser speaks of what it expected next ("invalid inline table element,
//! expected `,`", "string values must be quoted, expected literal string").
//! A rule author made a slip they would name differently: a brace left open,
//! quotes pasted from a word processor, `:` typed for `=`, `yes` for `true`.
//! This module looks at the text around the parser's position, recognises the
//! common slips, and says what went wrong and how to write it instead, at the
//! place the slip is (which, for an unclosed bracket, is a line or more
//! before where the parser noticed).

use std::ops::Range;

use super::diagnostic::line_col;
use super::toml_inline::{assignment_at, unclosed_on_line};

/// What went wrong, where, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct Slip {
    pub span: Range<usize>,
    pub message: String,
    pub hint: String,
}

const CURLY: [char; 6] = [
    '\u{201c}', '\u{201d}', '\u{2018}', '\u{2019}', '\u{201e}', '\u{00ab}',
];

/// Explain one parser error at `span` of `text`.
pub fn explain(text: &str, span: Range<usize>, parser: &str) -> Slip {
    // Every slice below starts at `at` or a line boundary: make `at` a char boundary.
    let mut at = span.start.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let line = line_around(text, at);
    let line_text = &text[line.clone()];
    let say = |span: Range<usize>, message: String, hint: String| Slip {
        span,
        message,
        hint,
    };

    // Quotes from a word processor look right and aren't: say so first, when
    // one stands where a value's quote should (not an apostrophe inside text).
    let curly_at = |i: usize| i < line_text.len() && line_text[i..].starts_with(CURLY);
    let value_start = line_text.find('=').map(|eq| {
        let rest = &line_text[eq + 1..];
        eq + 1 + rest.len() - rest.trim_start().len()
    });
    let stumbled = at.checked_sub(line.start).filter(|i| curly_at(*i));
    if let Some(i) = stumbled.or(value_start.filter(|i| curly_at(*i))) {
        let start = line.start + i;
        let fixed = straighten(line_text, i);
        return say(
            start..start + line_text[i..].chars().next().map_or(1, char::len_utf8),
            "this line has curly quotes (“ ” or ‘ ’), which word processors and chat apps put in; TOML needs straight double quotes".into(),
            format!("retype the quotes, or write the line as: {}", fixed.trim()),
        );
    }
    let (key, value) = split_assignment(line_text);

    if parser.contains("duplicate key") {
        return duplicate(text, span, line);
    }
    if parser.contains("unclosed array table") || parser.contains("unclosed table") {
        let header = line_text.trim_end();
        let want = if header.starts_with("[[") { "]]" } else { "]" };
        let name = header.trim_matches(|c| c == '[' || c == ']');
        let close = if want == "]]" {
            format!("[[{name}]]")
        } else {
            format!("[{name}]")
        };
        return say(
            line.start + header.len()..line.start + header.len(),
            format!("this table header is missing its closing `{want}`"),
            format!("write it as: {close}"),
        );
    }
    if let Some(slip) = unclosed_bracket(text, at) {
        return slip;
    }
    // `template: "welcome"`: a colon where TOML wants `=`.
    if let Some(colon) = colon_for_equals(line_text) {
        let k = line_text[..colon].trim();
        let v = line_text[colon + 1..].trim();
        return say(
            line.start + colon..line.start + colon + 1,
            format!("`{k}` is followed by `:`; TOML puts `=` between a key and its value"),
            format!("write it as: {k} = {v}"),
        );
    }
    if parser.contains("key with no value") {
        let k = line_text.trim();
        if let Some(eq) = line_text.find('=') {
            let name = line_text[..eq].trim();
            if name.contains(' ') {
                return say(
                    line.start + line_text.find(name).unwrap_or(0)..line.start + eq,
                    format!("the key `{name}` has a space in it, which TOML allows only in quotes"),
                    format!(
                        "write \"{name}\" = ... (a Notion property name), or use an underscore: {} = ...",
                        name.replace(' ', "_")
                    ),
                );
            }
        }
        let mut words = k.splitn(2, char::is_whitespace);
        let name = words.next().unwrap_or("");
        let rest = words.next().unwrap_or("").trim();
        return say(
            span,
            format!("`{name}` has no `=` before its value"),
            format!("write it as: {name} = {rest}"),
        );
    }
    // A value's slip belongs to the key right before it, which inside a
    // `{ ... }` table is not the line's first key.
    let (key, value) = match assignment_at(line_text, at - line.start) {
        Some((k, v))
            if parser.contains("invalid boolean")
                || parser.contains("must be quoted")
                || parser.contains("invalid string") =>
        {
            (Some(k), Some(v))
        }
        _ => (key, value),
    };
    if let Some((fixed, before)) = unclosed_on_line(line_text, at - line.start) {
        return say(
            span,
            format!("this {{ ... }} table is not closed before {before}"),
            format!("add `}}` to close it: {}", fixed.trim()),
        );
    }
    if parser.contains("invalid boolean") {
        let word = value.unwrap_or("").trim();
        let lower = word.to_ascii_lowercase();
        let fixed = if lower.starts_with('t') {
            "true"
        } else {
            "false"
        };
        return say(
            span,
            format!("`{word}` is written in lowercase in TOML: {fixed}"),
            format!("write it as: {} = {fixed}", key.unwrap_or("key")),
        );
    }
    if parser.contains("must be quoted") || parser.contains("invalid string") {
        let word = value
            .filter(|v| !v.is_empty())
            .unwrap_or(text[at..line.end].trim());
        let k = key.unwrap_or("the key");
        if word.is_empty() {
            return say(
                at..at,
                format!("`{k}` has no value after `=`"),
                format!("give it a value, e.g. {k} = \"...\" (text goes in double quotes), or delete the line"),
            );
        }
        let first = word.split_whitespace().next().unwrap_or(word);
        let yes_no = ["yes", "no", "on", "off", "y", "n"];
        if yes_no.contains(&first.to_ascii_lowercase().as_str()) {
            let fixed = if matches!(first.to_ascii_lowercase().as_str(), "yes" | "on" | "y") {
                "true"
            } else {
                "false"
            };
            return say(
                span,
                format!(
                    "`{first}` is not a TOML value; a yes-or-no setting is written true or false"
                ),
                format!("write it as: {k} = {fixed}"),
            );
        }
        let quoted = format!("\"{}\"", word.trim_end_matches(['"', '\'']));
        return say(
            span,
            format!("the text `{word}` needs double quotes around it"),
            format!("write it as: {k} = {quoted}"),
        );
    }
    if parser.contains("invalid basic string") || parser.contains("invalid literal string") {
        let v = value.unwrap_or("").trim();
        let opened = v.chars().next().unwrap_or('"');
        let body = v.trim_matches(['"', '\'']);
        let k = key.unwrap_or("key");
        if v.len() > 1 && v.ends_with(['"', '\'']) && !v.ends_with(opened) {
            return say(
                span,
                format!("this text starts with {opened} but ends with a different quote"),
                format!("use the same quote at both ends: {k} = \"{body}\""),
            );
        }
        return say(
            span,
            "this text has no closing quote".into(),
            format!("add \" at the end: {k} = \"{body}\""),
        );
    }
    if parser.contains("missing comma between array elements") {
        return say(
            span,
            "the items of this list need a comma between them".into(),
            match (key, value) {
                (Some(k), Some(v)) if v.starts_with('[') => {
                    format!("write it as: {k} = {}", v.replace("\" \"", "\", \""))
                }
                _ => "write it as: [\"first\", \"second\"]".into(),
            },
        );
    }
    if parser.contains("expected newline") {
        let rest = text[at..line.end].trim();
        if rest.starts_with("//") {
            return say(
                at..line.end,
                "comments in TOML start with #, not //".into(),
                format!(
                    "write it as: {}# {}",
                    &text[line.start..at],
                    rest.trim_start_matches('/').trim()
                ),
            );
        }
        if rest == "," {
            return say(
                at..line.end,
                "this line ends with a comma; TOML puts commas only between the items of a [ ] list or a { } table".into(),
                format!("delete the comma: {}", text[line.start..at].trim()),
            );
        }
        return say(
            at..line.end,
            format!("there is something after the value on this line: `{rest}`"),
            "put each key on its own line, and start a comment with #".into(),
        );
    }
    say(
        span,
        format!("this line is not valid TOML (the parser says: {})", parser.trim()),
        "check the quotes, brackets and `=` on this line: text goes in \"double quotes\", lists in [ ], tables in { }".into(),
    )
}

/// A `[` or `{` opened on an earlier line (or this one) and never closed,
/// found when the parser stumbles at `at`: point at the end of the line that
/// should have closed it.
fn unclosed_bracket(text: &str, at: usize) -> Option<Slip> {
    let mut stack: Vec<(char, usize)> = Vec::new();
    let mut in_string: Option<char> = None;
    // Comments and table headers (`[[rules.actions]]`) hold no open brackets.
    let mut skip_line = false;
    let mut line_blank = true;
    let mut last_item_end = 0;
    let mut escaped = false;
    let mut skip_to = 0;
    for (i, c) in text[..at].char_indices() {
        if i < skip_to {
            continue;
        }
        if c == '\n' {
            skip_line = false;
            line_blank = true;
            in_string = None;
            continue;
        }
        if skip_line {
            continue;
        }
        if escaped {
            escaped = false;
            continue;
        }
        match (in_string, c) {
            (Some('"'), '\\') => escaped = true,
            (Some(q), _) if c == q => in_string = None,
            (Some(_), _) => {}
            // A multi-line string (""" or '''): its text holds no brackets.
            (None, '"' | '\'') if text[i..].starts_with(fence(c).as_str()) => {
                match text[i + 3..at].find(fence(c).as_str()) {
                    Some(end) => skip_to = i + 3 + end + 3,
                    None => return None, // the parser stumbled inside it
                }
            }
            (None, '"' | '\'') => in_string = Some(c),
            (None, '#') => {
                skip_line = true;
                continue;
            }
            (None, '[') if line_blank => {
                skip_line = true;
                continue;
            }
            (None, '[' | '{') => stack.push((c, i)),
            (None, ']' | '}') => {
                stack.pop();
            }
            _ => {}
        }
        if !c.is_whitespace() {
            line_blank = false;
            last_item_end = i + c.len_utf8();
        }
    }
    let &(open, pos) = stack.last()?;
    let opened_line = line_around(text, pos);
    let here_line = line_around(text, at);
    // Inside a list that spans lines, a slip on an item's line is that
    // item's slip; the bracket was left open only if the parser stumbled on
    // what looks like the next key (`entity = ...`) or a table header.
    let stumble = text[here_line.clone()].trim_start();
    let next_key = stumble.starts_with('[')
        || stumble
            .split_once('=')
            .is_some_and(|(k, _)| !k.trim().is_empty() && !k.contains(['"', '{', ',']));
    if !next_key {
        return None;
    }
    // Only when the parser stumbled on a later line: a slip within one line is
    // better explained by the line itself.
    if opened_line.start == here_line.start {
        return None;
    }
    let close = if open == '[' { ']' } else { '}' };
    let what = if open == '[' { "list" } else { "{ ... } table" };
    let end = last_item_end.max(opened_line.start);
    let number = line_col(text, pos).0;
    let reported = line_col(text, end).0;
    let opened = if number == reported {
        String::new()
    } else {
        format!(" (opened on line {number})")
    };
    Some(Slip {
        span: end..end,
        message: format!("this {what}{opened} is not closed"),
        hint: format!("add `{close}` at the end of the {what}"),
    })
}

/// The fence of a multi-line string opened by `quote`: `"""` or `'''`.
fn fence(quote: char) -> String {
    [quote; 3].iter().collect()
}

/// `key: value` with no `=`: the position of the colon.
fn colon_for_equals(line: &str) -> Option<usize> {
    if line.contains('=') {
        return None;
    }
    let colon = line.find(':')?;
    let key = line[..colon].trim();
    let is_key = !key.is_empty()
        && (key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            || (key.starts_with('"') && key.ends_with('"')));
    is_key.then_some(colon)
}

/// "`x` is set twice", with where the first one is.
fn duplicate(text: &str, span: Range<usize>, line: Range<usize>) -> Slip {
    let name = text
        .get(span.clone())
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    let this_line = &text[line.clone()];
    let number = |pos: usize| line_col(text, pos).0;
    if this_line.trim_start().starts_with('[') {
        let header = this_line.trim();
        // `[rules.actions]` once and `[[rules.actions]]` later: one pair of
        // brackets where a list of tables needs two.
        let name = header.trim_matches(|c| c == '[' || c == ']').trim();
        let single = format!("[{name}]");
        let double = format!("[[{name}]]");
        // Byte offsets of line starts (\r\n or \n alike).
        let earlier_single = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .take_while(|s| *s < line.start)
            .find(|s| {
                text[*s..]
                    .lines()
                    .next()
                    .is_some_and(|l| l.trim() == single)
            })
            .filter(|_| header == double);
        let this_single =
            (header == single && text[..line.start].contains(&double)).then_some(line.start);
        if let Some(line_start) = earlier_single.or(this_single) {
            let rest = &text[line_start..];
            let start = line_start + rest.len() - rest.trim_start().len();
            return Slip {
                span: start..start + single.len(),
                message: format!("{single} has one pair of brackets, but `{name}` is a list of tables here, which takes two"),
                hint: format!("write {double}, as on the other headers of `{name}`"),
            };
        }
        let first = text[..line.start]
            .match_indices(header)
            .next()
            .map(|(i, _)| number(i));
        let where_ = first.map_or(String::new(), |n| format!(" (first on line {n})"));
        return Slip {
            span,
            message: format!("the table {header} appears twice in this file{where_}"),
            hint: "merge the two into one: keep one header and put all its keys under it".into(),
        };
    }
    // The first assignment of the same key in the same table, above this line.
    // (Offsets from split_inclusive, so \r\n line ends count right.)
    let mut first = None;
    let mut pos = line.start;
    for earlier in text[..line.start].split_inclusive('\n').rev() {
        pos -= earlier.len();
        if earlier.trim_start().starts_with('[') {
            break;
        }
        if split_assignment(earlier.trim_end()).0 == Some(name) {
            first = Some(number(pos));
        }
    }
    let where_ = first.map_or(String::new(), |n| format!(" (first on line {n})"));
    Slip {
        span,
        message: format!("`{name}` is set twice in the same table{where_}"),
        hint: format!("keep one `{name} = ...` line and delete the other"),
    }
}

/// The byte range of the line holding `at`, without its newline.
fn line_around(text: &str, at: usize) -> Range<usize> {
    let at = at.min(text.len());
    let mut start = at;
    while start > 0 && !text.is_char_boundary(start) {
        start -= 1;
    }
    let start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    start..end
}

/// `key = value` -> (key, value), trimmed; quotes kept on the value.
fn split_assignment(line: &str) -> (Option<&str>, Option<&str>) {
    match line.split_once('=') {
        Some((k, v)) => (Some(k.trim().trim_matches('"')), Some(v.trim())),
        None => (None, None),
    }
}

/// The line with the curly quote at byte `open`, and the last curly quote
/// after it, made straight; apostrophes inside the text stay as they are.
fn straighten(line: &str, open: usize) -> String {
    let close = line[open..]
        .char_indices()
        .skip(1)
        .filter(|(_, c)| CURLY.contains(c) || *c == '\u{00bb}')
        .last()
        .map(|(i, _)| open + i);
    line.char_indices()
        .map(|(i, c)| {
            if i == open || Some(i) == close {
                '"'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slip(text: &str) -> Slip {
        let (_, errors) = toml::de::DeTable::parse_recoverable(text);
        let e = errors.first().expect("an error");
        explain(text, e.span().unwrap_or(0..0), e.message())
    }

    fn line_col(text: &str, at: usize) -> (usize, usize) {
        let before = &text[..at];
        (
            before.matches('\n').count() + 1,
            before.chars().rev().take_while(|c| *c != '\n').count() + 1,
        )
    }

    #[test]
    fn a_missing_closing_brace_is_named_at_its_line() {
        let t = "a = 1\np = { \"Name\" = \"x\", \"Email\" = \"y\"\n[[rules]]\nid = \"r\"\n";
        let s = slip(t);
        assert!(
            s.message.contains("this { ... } table is not closed"),
            "{s:?}"
        );
        assert_eq!(line_col(t, s.span.start).0, 2);
        assert!(s.hint.contains('}'));
    }

    #[test]
    fn a_list_left_open_is_reported_where_it_should_close() {
        let t = "on = [\"form:a\"\nentity = \"x\"\n";
        let s = slip(t);
        assert!(s.message.contains("this list is not closed"), "{s:?}");
        assert_eq!(line_col(t, s.span.start), (1, 15));
    }

    #[test]
    fn curly_quotes_colons_yes_and_bare_words_are_named() {
        assert!(slip("t = \u{201c}welcome\u{201d}\n")
            .message
            .contains("curly quotes"));
        assert!(slip("t = \u{201c}welcome\u{201d}\n")
            .hint
            .contains("t = \"welcome\""));
        let colon = slip("template: \"welcome\"\n");
        assert!(colon.hint.contains("template = \"welcome\""), "{colon:?}");
        let yes = slip("enabled = yes\n");
        assert!(yes.hint.contains("enabled = true"), "{yes:?}");
        let bare = slip("delay = 2h\n");
        assert!(bare.hint.contains("delay = \"2h\""), "{bare:?}");
        let upper = slip("enabled = True\n");
        assert!(upper.hint.contains("enabled = true"), "{upper:?}");
    }

    #[test]
    fn a_slip_inside_a_one_line_table_is_fixed_at_its_own_key() {
        let yes = slip("when = [{ field = \"email\", exists = yes }]\n");
        assert!(yes.hint.ends_with("exists = true"), "{yes:?}");
        let prop = slip("p = { \"Email\" = \"x\", \"Opt Out\" = yes }\n");
        assert!(prop.hint.ends_with("\"Opt Out\" = true"), "{prop:?}");
        let upper = slip("w = [{ field = \"i\", contains = \"w\", ignore_case = True }]\n");
        assert!(upper.hint.ends_with("ignore_case = true"), "{upper:?}");
        let bare = slip("w = [{ field = \"s\", equals = processing }, { field = \"t\" }]\n");
        assert!(bare.hint.ends_with("equals = \"processing\""), "{bare:?}");
        let comma = slip("priority = \"medium\",\n");
        assert!(comma.hint.contains("delete the comma"), "{comma:?}");
    }

    #[test]
    fn a_duplicate_names_the_key_and_the_first_line() {
        let s = slip("[t]\na = 1\nb = 2\na = 3\n");
        assert!(s.message.contains("`a` is set twice"), "{s:?}");
        assert!(s.message.contains("first on line 2"), "{s:?}");
        let t = slip("[w.x]\na = 1\n[w.x]\nb = 2\n");
        assert!(t.message.contains("[w.x] appears twice"), "{t:?}");
    }

    #[test]
    fn windows_line_ends_and_non_ascii_keys_do_not_upset_a_duplicate() {
        let s = slip("[x]\r\n\"\u{dc}ber\" = 1\r\nb = 2\r\n\"\u{dc}ber\" = 3\r\n");
        assert!(s.message.contains("first on line 2"), "{s:?}");
    }

    #[test]
    fn a_slip_inside_a_list_that_spans_lines_is_that_items_slip() {
        let t = "on = [\n  \"a:b\"\n  \"c:d\",\n]\n";
        let s = slip(t);
        assert!(s.message.contains("comma"), "{s:?}");
        let t = "on = [\n  \"a:b\",\n  yes,\n]\n";
        assert!(!slip(t).message.contains("not closed"), "{:?}", slip(t));
    }

    #[test]
    fn an_apostrophe_inside_text_is_not_taken_for_a_curly_quote() {
        let s = slip("t = \"We\u{2019}re glad\"\nu = yes\n");
        assert!(!s.message.contains("curly"), "{s:?}");
        let c = slip("t = \u{201c}We\u{2019}re glad\u{201d}\n");
        assert!(c.hint.contains("t = \"We\u{2019}re glad\""), "{c:?}");
    }

    #[test]
    fn unclosed_text_slash_comments_and_missing_equals_are_named() {
        assert!(slip("t = \"welcome\n").message.contains("no closing quote"));
        assert!(slip("t = \"welcome'\n").message.contains("different quote"));
        assert!(slip("t = \"x\" // note\n").message.contains("start with #"));
        assert!(slip("template \"welcome\"\n")
            .hint
            .contains("template = \"welcome\""));
        assert!(slip("my key = 1\n").message.contains("has a space in it"));
        assert!(slip("delay =\n").message.contains("has no value"));
    }
}
