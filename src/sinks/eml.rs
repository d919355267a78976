//! Writing an email as an RFC 5322 message (multipart text + HTML).
//!
//! The Message-ID is derived from the job, so a message written twice (a
//! retry after a crash mid-send) is recognisably the same message.

use base64::Engine as _;

pub struct Message<'a> {
    pub message_id: String,
    pub from: &'a str,
    pub reply_to: Option<&'a str>,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// More headers (List-Unsubscribe...), written after the standard ones.
    pub headers: &'a [(&'static str, String)],
    pub date: chrono::DateTime<chrono::Utc>,
}

/// A header value: plain ASCII as is, anything else as an RFC 2047 encoded word.
fn header_value(s: &str) -> String {
    let clean: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    if clean.is_ascii() {
        clean
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(clean.as_bytes())
        )
    }
}

fn body_part(content_type: &str, body: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!("Content-Type: {content_type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n", wrapped.join("\r\n"))
}

pub fn render(m: &Message<'_>) -> String {
    let boundary = format!(
        "hsflow-{}",
        m.message_id
            .trim_matches(['<', '>'])
            .replace(['@', '.'], "-")
    );
    let mut out = String::new();
    out.push_str(&format!("Message-ID: {}\r\n", m.message_id));
    out.push_str(&format!("Date: {}\r\n", m.date.to_rfc2822()));
    out.push_str(&format!("From: {}\r\n", header_value(m.from)));
    if let Some(r) = m.reply_to {
        out.push_str(&format!("Reply-To: {}\r\n", header_value(r)));
    }
    out.push_str(&format!("To: {}\r\n", header_value(m.to)));
    out.push_str(&format!("Subject: {}\r\n", header_value(m.subject)));
    for (name, value) in m.headers {
        out.push_str(&format!("{name}: {}\r\n", header_value(value)));
    }
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str(&format!(
        "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
    ));
    out.push_str(&format!(
        "--{boundary}\r\n{}",
        body_part("text/plain", m.text)
    ));
    out.push_str(&format!(
        "--{boundary}\r\n{}",
        body_part("text/html", m.html)
    ));
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_both_parts_and_encoded_headers() {
        let m = Message {
            message_id: "<job-1@hsflow>".into(),
            from: "hello@the7space.example",
            reply_to: Some("gallery@the7space.example"),
            to: "ada@example.com",
            subject: "Bienvenue, Zoë",
            text: "Hello Zoë",
            html: "<p>Hello Zoë</p>",
            headers: &[("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into())],
            date: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
        };
        let s = render(&m);
        assert!(s.contains("Message-ID: <job-1@hsflow>\r\n"));
        assert!(s.contains("Subject: =?UTF-8?B?"));
        assert!(
            s.contains("Content-Type: text/plain; charset=utf-8")
                && s.contains("Content-Type: text/html; charset=utf-8")
        );
        assert!(s.contains("Reply-To: gallery@the7space.example"));
        assert!(s.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version"));
    }
}
