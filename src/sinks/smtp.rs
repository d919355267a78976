//! Email over SMTP (lettre): STARTTLS, implicit TLS or plain, with AUTH when
//! credentials are set.
//!
//! The message is the same RFC 5322 text the .eml outbox writes, so what is
//! sent is what `hsflow simulate` and the outbox show. Its Message-ID comes
//! from the job: if a send is interrupted after the server took the message
//! and the job runs again, the second copy carries the same Message-ID, which
//! mail systems use to recognise a duplicate. (SMTP has no way to ask "did
//! you already get this?", so that is as idempotent as email can be.)
//!
//! A 4xx reply (greylisting, "try later") or a lost connection is retried;
//! a 5xx reply (no such mailbox, rejected) parks the job with the server's words.

use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use lettre::transport::smtp::response::{Category, Code, Detail, Severity};

use super::eml;
use super::SinkError;
use crate::email::prepare::Prepared;

/// What the SMTP server did with an email.
#[derive(Debug, PartialEq)]
pub enum Sent {
    /// Taken for delivery (the server's words).
    Accepted(String),
    /// Refused for good because of the address: the mailbox doesn't exist,
    /// isn't local, or its name isn't allowed (550, 551, 553). A full
    /// mailbox (552), a refused message (554) or a refused login (535) are
    /// not the address's fault, and stay ordinary failures.
    HardBounce(String),
}

/// Whether a reply code says the recipient's address is no good.
fn hard_bounce(code: Code) -> bool {
    code.severity == Severity::PermanentNegativeCompletion
        && code.category == Category::MailSystem
        && matches!(code.detail, Detail::Zero | Detail::One | Detail::Three)
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    None,
}

impl std::str::FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "starttls" => Ok(Security::StartTls),
            "tls" | "ssl" => Ok(Security::Tls),
            "none" | "plain" => Ok(Security::None),
            other => Err(format!(
                "HSFLOW_SMTP_TLS is \"{other}\"; use starttls, tls or none"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User and password (from the environment; never logged).
    pub credentials: Option<(String, String)>,
    /// The sender when the entity has no `from_email`.
    pub default_from: String,
    pub timeout: Duration,
}

pub struct SmtpSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    default_from: String,
}

/// The bare address of `"Name <a@b>"` or `"a@b"`.
fn address(s: &str) -> Result<Address, SinkError> {
    let bare = match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    };
    bare.trim()
        .parse::<Address>()
        .map_err(|e| SinkError::Permanent(format!("\"{s}\" is not an email address: {e}")))
}

impl SmtpSink {
    pub fn new(cfg: &SmtpConfig) -> Result<SmtpSink, String> {
        let tls = || {
            TlsParameters::new(cfg.host.clone())
                .map_err(|e| format!("can't set up TLS for {}: {e}", cfg.host))
        };
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            .port(cfg.port)
            .timeout(Some(cfg.timeout))
            .tls(match cfg.security {
                Security::StartTls => Tls::Required(tls()?),
                Security::Tls => Tls::Wrapper(tls()?),
                Security::None => Tls::None,
            });
        let builder = match &cfg.credentials {
            Some((user, pass)) => builder.credentials(Credentials::new(user.clone(), pass.clone())),
            None => builder,
        };
        Ok(SmtpSink {
            transport: builder.build(),
            default_from: cfg.default_from.clone(),
        })
    }

    /// Can we connect (and, with STARTTLS, upgrade)? For `hsflow check`.
    pub async fn reachable(&self) -> Result<(), String> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("the server did not answer NOOP".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Send one email (its parts and headers as prepared); `job_id` makes the Message-ID.
    pub async fn send(
        &self,
        job_id: &str,
        from: Option<&str>,
        reply_to: Option<&str>,
        to: &str,
        subject: &str,
        body: &Prepared,
    ) -> Result<Sent, SinkError> {
        let from = from.unwrap_or(&self.default_from);
        let envelope = Envelope::new(Some(address(from)?), vec![address(to)?])
            .map_err(|e| SinkError::Permanent(format!("can't address the message: {e}")))?;
        let domain = from
            .rsplit('@')
            .next()
            .unwrap_or("hsflow")
            .trim_end_matches('>');
        let message = eml::render(&eml::Message {
            message_id: format!("<{job_id}@{domain}>"),
            from,
            reply_to,
            to,
            subject,
            text: &body.text,
            html: &body.html,
            headers: &body.headers,
            date: chrono::Utc::now(),
        });
        match self.transport.send_raw(&envelope, message.as_bytes()).await {
            Ok(r) => Ok(Sent::Accepted(format!(
                "email to {to} accepted by the SMTP server ({})",
                r.code()
            ))),
            Err(e) if e.status().is_some_and(hard_bounce) => Ok(Sent::HardBounce(e.to_string())),
            Err(e) if e.is_permanent() => Err(SinkError::Permanent(format!(
                "the SMTP server refused the email to {to}: {e}"
            ))),
            Err(e) => Err(SinkError::retryable(format!(
                "the email to {to} was not sent: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_with_or_without_a_display_name() {
        assert_eq!(
            address("The 7 Space <hello@the7space.example>").map(|a| a.to_string()),
            Ok("hello@the7space.example".to_string())
        );
        assert!(address("ada@example.com").is_ok());
        assert!(matches!(
            address("not an address"),
            Err(SinkError::Permanent(_))
        ));
    }

    #[test]
    fn only_a_refused_mailbox_is_a_hard_bounce() {
        let code = |s: Severity, c: Category, d: Detail| Code::new(s, c, d);
        let perm = Severity::PermanentNegativeCompletion;
        assert!(hard_bounce(code(perm, Category::MailSystem, Detail::Zero))); // 550
        assert!(hard_bounce(code(perm, Category::MailSystem, Detail::Three))); // 553
        assert!(!hard_bounce(code(perm, Category::MailSystem, Detail::Two))); // 552 full
        assert!(!hard_bounce(code(perm, Category::MailSystem, Detail::Four))); // 554
        assert!(!hard_bounce(code(
            perm,
            Category::Unspecified3,
            Detail::Five
        ))); // 535 auth
        assert!(!hard_bounce(code(
            Severity::TransientNegativeCompletion,
            Category::MailSystem,
            Detail::Zero
        ))); // 450
    }

    #[test]
    fn tls_modes_parse_and_unknown_ones_say_what_to_use() {
        assert_eq!("STARTTLS".parse::<Security>(), Ok(Security::StartTls));
        assert_eq!("tls".parse::<Security>(), Ok(Security::Tls));
        let e = "maybe".parse::<Security>().unwrap_err();
        assert!(e.contains("starttls, tls or none"), "{e}");
    }
}
