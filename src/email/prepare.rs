//! The last step before an email leaves: its links, signed for this email.
//!
//! Templates are rendered when the event is accepted, but the links that
//! identify one email (its unsubscribe link, its open pixel, its
//! click-throughs) are made when it is sent, from the job's id, so they are
//! the same on a retry and need nothing stored beside the action:
//! - a marketing email gets its unsubscribe link where the template wrote
//!   `{{unsubscribe_url}}`, or a plain footer line in each part that lacks
//!   it (so no marketing email ever leaves without a way out), and the
//!   `List-Unsubscribe` and `List-Unsubscribe-Post` headers (RFC 2369, RFC
//!   8058) that put an "Unsubscribe" button in Gmail, Yahoo and Apple Mail;
//! - when its entity tracks engagement, each http(s) link of the HTML part
//!   goes through hsflow's click-through (signed with the URL it leads to)
//!   and an invisible image records the open. The text part is left alone.

use super::token::{Link, Signer};
use super::UNSUBSCRIBE_MARKER;
use crate::rules::model::EmailCategory;

/// One email about to be sent.
pub struct Mail<'a> {
    /// The job's id: what the links are about.
    pub job: &'a str,
    pub to: &'a str,
    pub category: EmailCategory,
    pub text: &'a str,
    pub html: &'a str,
    /// Where a mail program's "unsubscribe" may also write (the mailto in
    /// `List-Unsubscribe`), e.g. the entity's reply-to address.
    pub mailto: Option<&'a str>,
    /// Rewrite links and add the open pixel.
    pub track: bool,
}

/// The parts and extra headers as they are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub text: String,
    pub html: String,
    pub headers: Vec<(&'static str, String)>,
}

pub fn prepare(signer: &Signer, m: &Mail<'_>) -> Prepared {
    let unsubscribe = signer.url(&Link::Unsubscribe {
        job: m.job.to_string(),
        address: super::normal(m.to),
    });
    let mut text = m.text.replace(UNSUBSCRIBE_MARKER, &unsubscribe);
    let mut html = m.html.replace(UNSUBSCRIBE_MARKER, &unsubscribe);
    let mut headers = Vec::new();
    if m.category == EmailCategory::Marketing {
        if !m.text.contains(UNSUBSCRIBE_MARKER) {
            text = format!(
                "{}\n\n--\nTo stop receiving these emails, open {unsubscribe}\n",
                text.trim_end()
            );
        }
        if !m.html.contains(UNSUBSCRIBE_MARKER) {
            html = before_body_end(
                &html,
                &format!("<p style=\"font-size:12px;color:#666\">Don't want these emails? <a href=\"{unsubscribe}\">Unsubscribe</a>.</p>"),
            );
        }
        let mut list = format!("<{unsubscribe}>");
        if let Some(to) = m.mailto.map(super::normal).filter(|a| a.contains('@')) {
            list.push_str(&format!(", <mailto:{to}?subject=unsubscribe>"));
        }
        headers.push(("List-Unsubscribe", list));
        headers.push(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
    }
    if m.track {
        html = rewrite_links(signer, m.job, &html);
        let pixel = signer.url(&Link::Open {
            job: m.job.to_string(),
        });
        html = before_body_end(
            &html,
            &format!("<img src=\"{pixel}\" width=\"1\" height=\"1\" alt=\"\" style=\"border:0\">"),
        );
    }
    Prepared {
        text,
        html,
        headers,
    }
}

/// `html` with `insert` just before its `</body>`, or at its end.
fn before_body_end(html: &str, insert: &str) -> String {
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => format!("{}{insert}\n{}", &html[..at], &html[at..]),
        None => format!("{html}\n{insert}"),
    }
}

/// Every `href` of `html`: the byte range of its value and the URL it
/// means (HTML entities read back, so `&amp;` is `&`).
pub fn hrefs(html: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find("href=") {
        let start = from + found + "href=".len();
        let quote = html[start..].chars().next();
        let (value_start, end) = match quote {
            Some(q @ ('"' | '\'')) => {
                let vs = start + 1;
                match html[vs..].find(q) {
                    Some(e) => (vs, vs + e),
                    None => break,
                }
            }
            _ => {
                let e = html[start..]
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .map_or(html.len(), |e| start + e);
                (start, e)
            }
        };
        let url: String = unescape(&html[value_start..end])
            .chars()
            .filter(|c| *c != '\n' && *c != '\r')
            .collect();
        out.push((value_start..end, url.trim().to_string()));
        from = end;
    }
    out
}

/// The entities Handlebars writes when it escapes (and the common named ones).
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x60;", "`")
        .replace("&#x3D;", "=")
        .replace("&#61;", "=")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Whether a click on `url` is one hsflow passes through (and records).
pub fn trackable(signer: &Signer, url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.starts_with(&format!("{}/email/", signer.base()))
}

/// Each trackable link of `html` through hsflow's signed click-through.
fn rewrite_links(signer: &Signer, job: &str, html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 256);
    let mut last = 0;
    for (range, url) in hrefs(html) {
        if !trackable(signer, &url) {
            continue;
        }
        out.push_str(&html[last..range.start]);
        out.push_str(&signer.url(&Link::Click {
            job: job.to_string(),
            url,
        }));
        last = range.end;
    }
    out.push_str(&html[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail<'a>(category: EmailCategory, text: &'a str, html: &'a str, track: bool) -> Mail<'a> {
        Mail {
            job: "job-7",
            to: "Ada@Example.com",
            category,
            text,
            html,
            mailto: Some("The 7 Space <hello@the7space.example>"),
            track,
        }
    }

    #[test]
    fn marketing_email_gets_its_link_where_the_template_put_it_and_the_headers() {
        let s = Signer::new(b"k", "https://hooks.example");
        let p = prepare(
            &s,
            &mail(
                EmailCategory::Marketing,
                "Hi\nUnsubscribe: %unsubscribe_url%",
                "<html><body><p>Hi</p><a href=\"%unsubscribe_url%\">Unsubscribe</a></body></html>",
                false,
            ),
        );
        let link = s.url(&Link::Unsubscribe {
            job: "job-7".into(),
            address: "ada@example.com".into(),
        });
        assert_eq!(p.text, format!("Hi\nUnsubscribe: {link}"));
        assert!(
            p.html.contains(&format!("<a href=\"{link}\">")),
            "{}",
            p.html
        );
        assert_eq!(
            p.headers,
            vec![
                (
                    "List-Unsubscribe",
                    format!("<{link}>, <mailto:hello@the7space.example?subject=unsubscribe>")
                ),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()),
            ]
        );
    }

    #[test]
    fn a_template_without_the_link_gets_a_footer_and_transactional_mail_gets_nothing() {
        let s = Signer::new(b"k", "https://hooks.example");
        let p = prepare(
            &s,
            &mail(EmailCategory::Marketing, "Hi", "<body>Hi</body>", false),
        );
        assert!(p.text.contains(
            "To stop receiving these emails, open https://hooks.example/email/unsubscribe/"
        ));
        assert!(
            p.html.contains("Unsubscribe</a>.</p>\n</body>"),
            "{}",
            p.html
        );
        let t = prepare(
            &s,
            &mail(
                EmailCategory::Transactional,
                "Booked",
                "<p>Booked</p>",
                false,
            ),
        );
        assert_eq!(
            (t.text.as_str(), t.html.as_str()),
            ("Booked", "<p>Booked</p>")
        );
        assert!(t.headers.is_empty());
    }

    #[test]
    fn tracking_rewrites_web_links_only_and_adds_the_pixel() {
        let s = Signer::new(b"k", "https://hooks.example");
        let html = "<p><a href=\"https://the7space.example/events?a&#x3D;1&amp;b=2\">Events</a> \
                    <a href='mailto:hello@the7space.example'>Write</a> \
                    <a href=\"%unsubscribe_url%\">Unsubscribe</a></p>";
        let p = prepare(
            &s,
            &mail(EmailCategory::Marketing, "x %unsubscribe_url%", html, true),
        );
        let links = hrefs(&p.html);
        assert_eq!(links.len(), 3, "{}", p.html);
        // The web link now passes through hsflow, signed with the real URL.
        let token = links[0].1.rsplit('/').next().expect("a token");
        assert_eq!(
            s.read("click", token),
            Ok(Link::Click {
                job: "job-7".into(),
                url: "https://the7space.example/events?a=1&b=2".into()
            })
        );
        assert_eq!(links[1].1, "mailto:hello@the7space.example");
        assert!(links[2].1.contains("/email/unsubscribe/"), "{:?}", links[2]);
        assert!(p.html.contains("/email/open/") && p.html.contains(".gif\" width=\"1\""));
        // Without tracking, links are left as written.
        let q = prepare(&s, &mail(EmailCategory::Marketing, "x", html, false));
        assert!(q
            .html
            .contains("https://the7space.example/events?a&#x3D;1&amp;b=2"));
        assert!(!q.html.contains("/email/open/"));
    }
}
