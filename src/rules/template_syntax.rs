//! Where a broken template's mistake really is, in words.
//!
//! Handlebars notices an unclosed `{{#if}}` only at the end of the file, and a
//! stray `}` where the next tag begins. A person wants the tag they left open.
//! This module scans the template's tags itself (a small, forgiving scan, run
//! only after Handlebars has refused the file) and names the tag at fault.

/// One finding: byte offset in the template, message, hint.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSlip {
    pub offset: usize,
    pub message: String,
    pub hint: String,
}

/// A `{{...}}` tag: where it starts and what is inside.
struct Tag<'a> {
    start: usize,
    inner: &'a str,
}

/// The name a tag left open starts with (`entity.vars.team` of
/// `{{entity.vars.team}</p>`), to show it closed.
fn tag_word(body: &str) -> &str {
    let body = body.trim_start();
    let end = body
        .find(|c: char| c.is_whitespace() || matches!(c, '}' | '<' | '{'))
        .unwrap_or(body.len());
    &body[..end]
}

/// Explain why `text` does not parse; `None` when the scan finds nothing
/// (the caller then uses Handlebars' own position and reason).
pub fn explain(text: &str) -> Option<TemplateSlip> {
    let mut tags = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find("{{") {
        let start = at + i;
        let body_start = start + 2;
        // The tag ends at the first `}}`; a `{{` before it means this one was left open.
        let close = text[body_start..].find("}}").map(|j| body_start + j);
        let next_open = text[body_start..].find("{{").map(|j| body_start + j);
        match close {
            Some(c) if next_open.is_none_or(|n| c < n) => {
                let inner = text[body_start..c].trim_start_matches('{');
                tags.push(Tag { start, inner });
                at = c + 2;
            }
            _ => {
                let shown: String = text[start..]
                    .chars()
                    .take(30)
                    .take_while(|c| *c != '\n')
                    .collect();
                return Some(TemplateSlip {
                    offset: start,
                    message: format!("`{}` has no closing `}}}}`", shown.trim_end()),
                    hint: match tag_word(&text[body_start..]) {
                        "" => "close the tag with }}, e.g. {{first_name}}".into(),
                        word => format!("close the tag with }}}}: {{{{{word}}}}}"),
                    },
                });
            }
        }
    }
    let mut open: Vec<(&Tag<'_>, &str)> = Vec::new();
    for tag in &tags {
        let inner = tag.inner.trim().trim_start_matches('~').trim();
        if let Some(rest) = inner.strip_prefix('#') {
            let name = rest
                .trim_start_matches(['>', '*'])
                .split_whitespace()
                .next()
                .unwrap_or("");
            open.push((tag, name));
        } else if let Some(rest) = inner.strip_prefix('/') {
            let name = rest.trim().trim_end_matches('~').trim();
            match open.pop() {
                Some((_, opened)) if opened == name => {}
                Some((opener, opened)) => {
                    let line = super::diagnostic::line_col(text, opener.start).0;
                    return Some(TemplateSlip {
                        offset: tag.start,
                        message: format!(
                            "`{{{{/{name}}}}}` closes a block that was opened as `{{{{#{opened}}}}}` (line {line})"
                        ),
                        hint: format!("write {{{{/{opened}}}}} here, or close the {{{{#{name}}}}} block you meant first"),
                    });
                }
                None => {
                    return Some(TemplateSlip {
                        offset: tag.start,
                        message: format!("`{{{{/{name}}}}}` closes a block that was never opened"),
                        hint: format!(
                            "remove it, or open the block before it with {{{{#{name} ...}}}}"
                        ),
                    });
                }
            }
        }
    }
    let (opener, name) = open.pop()?;
    let shown = format!("{{{{{}}}}}", opener.inner.trim());
    Some(TemplateSlip {
        offset: opener.start,
        message: format!("`{shown}` is never closed"),
        hint: format!("add {{{{/{name}}}}} where the part it controls ends"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_if_is_found_at_its_opening_tag() {
        let t = "<p>Hello {{#if first_name}}{{first_name}}</p>\n<p>Bye</p>\n";
        let s = explain(t).expect("a slip");
        assert_eq!(s.offset, t.find("{{#if").unwrap_or(0));
        assert!(
            s.message.contains("`{{#if first_name}}` is never closed"),
            "{s:?}"
        );
        assert!(s.hint.contains("{{/if}}"));
    }

    #[test]
    fn a_wrong_closing_tag_names_both() {
        let t = "{{#each items}}{{this}}{{/if}}";
        let s = explain(t).expect("a slip");
        assert_eq!(s.offset, t.find("{{/if}}").unwrap_or(0));
        assert!(s.message.contains("opened as `{{#each}}`"), "{s:?}");
    }

    #[test]
    fn a_tag_without_its_closing_braces_is_found() {
        let t = "Hello {{first_name}, welcome {{email}}";
        let s = explain(t).expect("a slip");
        assert_eq!(s.offset, 6);
        assert!(s.message.contains("has no closing `}}`"), "{s:?}");
    }

    #[test]
    fn a_good_template_has_no_slip() {
        assert!(explain("{{#if a}}{{a}}{{else}}x{{/if}} {{{b}}}").is_none());
    }
}
