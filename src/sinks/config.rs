//! Which sink backs each action kind, read from the environment.
//!
//! Each kind is `local` (the default: no accounts, nothing leaves the
//! machine) or real, chosen explicitly (`HSFLOW_NOTION=api`) or implied by
//! its credentials being set (`NOTION_API_TOKEN`). Asking for a real sink
//! without its credentials is an error at startup, not a surprise at the
//! first send. Secrets are only ever read from the environment and never
//! printed: [`SinkSettings::describe`] names what is used, not the values.

use std::time::Duration;

use super::beehiiv::BeehiivConfig;
use super::hubspot::HubspotConfig;
use super::notion::NotionConfig;
use super::outgoing::NotifyTarget;
use super::smtp::{Security, SmtpConfig};

/// The real sinks configured; `None` means that kind stays local.
#[derive(Debug, Clone, Default)]
pub struct SinkSettings {
    pub notion: Option<NotionConfig>,
    pub smtp: Option<SmtpConfig>,
    pub notify: Option<NotifyTarget>,
    /// Send `webhook` actions (true) or record them in webhooks.jsonl (false).
    pub send_webhooks: bool,
    pub beehiiv: Option<BeehiivConfig>,
    pub hubspot: Option<HubspotConfig>,
    pub http_timeout: Duration,
}

/// A variable's value, treating empty as unset.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn choice(env: Env<'_>, var: &str, allowed: &[&str], implied: bool) -> Result<String, String> {
    match env(var) {
        None => Ok(if implied { allowed[1] } else { allowed[0] }.to_string()),
        Some(v) if allowed.contains(&v.to_ascii_lowercase().as_str()) => Ok(v.to_ascii_lowercase()),
        Some(v) => Err(format!(
            "{var} is \"{v}\"; use one of: {}",
            allowed.join(", ")
        )),
    }
}

fn required(env: Env<'_>, var: &str, why: &str) -> Result<String, String> {
    env(var).ok_or_else(|| format!("{why}, but {var} is not set"))
}

fn number<T: std::str::FromStr>(env: Env<'_>, var: &str, default: T) -> Result<T, String> {
    match env(var) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{var} is \"{v}\", which is not a number")),
    }
}

impl SinkSettings {
    /// From the process environment.
    pub fn from_env() -> Result<SinkSettings, String> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self::from_vars(&get)
    }

    /// From any variable lookup (tests pass a map).
    pub fn from_vars(env: Env<'_>) -> Result<SinkSettings, String> {
        let http_timeout = Duration::from_secs(number(env, "HSFLOW_HTTP_TIMEOUT_SECS", 30u64)?);

        let notion = match choice(
            env,
            "HSFLOW_NOTION",
            &["local", "api"],
            env("NOTION_API_TOKEN").is_some(),
        )?
        .as_str()
        {
            "api" => Some(NotionConfig {
                token: required(
                    env,
                    "NOTION_API_TOKEN",
                    "HSFLOW_NOTION=api writes to Notion",
                )?,
                base_url: env("HSFLOW_NOTION_URL")
                    .unwrap_or_else(|| "https://api.notion.com".into()),
                version: env("HSFLOW_NOTION_VERSION")
                    .unwrap_or_else(|| NotionConfig::DEFAULT_VERSION.into()),
                rate: number(env, "HSFLOW_NOTION_RATE", 3.0f64)?,
                timeout: http_timeout,
            }),
            _ => None,
        };

        let smtp = match choice(
            env,
            "HSFLOW_EMAIL",
            &["local", "smtp"],
            env("HSFLOW_SMTP_HOST").is_some(),
        )?
        .as_str()
        {
            "smtp" => {
                let security: Security = env("HSFLOW_SMTP_TLS")
                    .unwrap_or_else(|| "starttls".into())
                    .parse()?;
                let default_port = match security {
                    Security::StartTls => 587,
                    Security::Tls => 465,
                    Security::None => 25,
                };
                let credentials = match (env("HSFLOW_SMTP_USER"), env("HSFLOW_SMTP_PASSWORD")) {
                    (Some(u), Some(p)) => Some((u, p)),
                    (None, None) => None,
                    _ => {
                        return Err(
                            "set both HSFLOW_SMTP_USER and HSFLOW_SMTP_PASSWORD, or neither".into(),
                        )
                    }
                };
                Some(SmtpConfig {
                    host: required(
                        env,
                        "HSFLOW_SMTP_HOST",
                        "HSFLOW_EMAIL=smtp sends through an SMTP server",
                    )?,
                    port: number(env, "HSFLOW_SMTP_PORT", default_port)?,
                    security,
                    credentials,
                    default_from: env("HSFLOW_SMTP_FROM")
                        .unwrap_or_else(|| "hsflow@localhost".into()),
                    timeout: http_timeout,
                })
            }
            _ => None,
        };

        let implied_notify = if env("HSFLOW_SLACK_WEBHOOK_URL").is_some() {
            "slack"
        } else if env("HSFLOW_NOTIFY_WEBHOOK_URL").is_some() {
            "webhook"
        } else {
            "local"
        };
        let notify = match env("HSFLOW_NOTIFY")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
            .unwrap_or(implied_notify)
        {
            "local" => None,
            "slack" => Some(NotifyTarget::Slack {
                url: required(
                    env,
                    "HSFLOW_SLACK_WEBHOOK_URL",
                    "HSFLOW_NOTIFY=slack posts to a Slack incoming webhook",
                )?,
            }),
            "webhook" => Some(NotifyTarget::Json {
                url: required(
                    env,
                    "HSFLOW_NOTIFY_WEBHOOK_URL",
                    "HSFLOW_NOTIFY=webhook posts notifications as JSON",
                )?,
            }),
            other => {
                return Err(format!(
                    "HSFLOW_NOTIFY is \"{other}\"; use one of: local, slack, webhook"
                ))
            }
        };

        let send_webhooks = choice(env, "HSFLOW_WEBHOOKS", &["record", "send"], false)? == "send";
        let beehiiv = match choice(
            env,
            "HSFLOW_BEEHIIV",
            &["local", "api"],
            env("BEEHIIV_API_KEY").is_some(),
        )?
        .as_str()
        {
            "api" => Some(BeehiivConfig {
                api_key: required(
                    env,
                    "BEEHIIV_API_KEY",
                    "HSFLOW_BEEHIIV=api subscribes contacts on Beehiiv",
                )?,
                publication_id: required(
                    env,
                    "BEEHIIV_PUBLICATION_ID",
                    "Beehiiv subscriptions go to a publication",
                )?,
                base_url: env("HSFLOW_BEEHIIV_URL")
                    .unwrap_or_else(|| "https://api.beehiiv.com".into()),
            }),
            _ => None,
        };
        let hubspot = match choice(
            env,
            "HSFLOW_HUBSPOT",
            &["local", "api"],
            env("HUBSPOT_ACCESS_TOKEN").is_some(),
        )?
        .as_str()
        {
            "api" => Some(HubspotConfig {
                token: required(
                    env,
                    "HUBSPOT_ACCESS_TOKEN",
                    "HSFLOW_HUBSPOT=api writes contacts to HubSpot",
                )?,
                base_url: env("HSFLOW_HUBSPOT_URL")
                    .unwrap_or_else(|| "https://api.hubapi.com".into()),
            }),
            _ => None,
        };
        Ok(SinkSettings {
            notion,
            smtp,
            notify,
            send_webhooks,
            beehiiv,
            hubspot,
            http_timeout,
        })
    }

    /// One line per kind saying what backs it (no secrets).
    pub fn describe(&self) -> Vec<String> {
        vec![
            match &self.notion {
                Some(n) => format!(
                    "notion, task: Notion API at {} (Notion-Version {})",
                    n.base_url, n.version
                ),
                None => "notion, task: kept in hsflow's own store (no NOTION_API_TOKEN)".into(),
            },
            match &self.smtp {
                Some(s) => format!("email: SMTP {}:{} ({:?})", s.host, s.port, s.security),
                None => {
                    "email: written to outbox/*.eml in the data directory (no HSFLOW_SMTP_HOST)"
                        .into()
                }
            },
            match &self.notify {
                Some(NotifyTarget::Slack { .. }) => {
                    "notify: Slack (HSFLOW_SLACK_WEBHOOK_URL_<CHANNEL> overrides a channel)".into()
                }
                Some(NotifyTarget::Json { url }) => format!("notify: JSON webhook {url}"),
                None => "notify: written to notifications.jsonl in the data directory".into(),
            },
            if self.send_webhooks {
                "webhook: sent".into()
            } else {
                "webhook: recorded in webhooks.jsonl in the data directory (HSFLOW_WEBHOOKS=send to send)".into()
            },
            match &self.beehiiv {
                Some(b) => format!(
                    "beehiiv: publication {} at {}",
                    b.publication_id, b.base_url
                ),
                None => "beehiiv: recorded in beehiiv.jsonl in the data directory".into(),
            },
            match &self.hubspot {
                Some(h) => format!("hubspot: {}", h.base_url),
                None => "hubspot: recorded in hubspot.jsonl in the data directory".into(),
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn nothing_configured_means_every_sink_is_local() {
        let s = SinkSettings::from_vars(&vars(&[])).expect("settings");
        assert!(s.notion.is_none() && s.smtp.is_none() && s.notify.is_none() && !s.send_webhooks);
        assert!(s.beehiiv.is_none() && s.hubspot.is_none());
    }

    #[test]
    fn credentials_imply_the_real_sink() {
        let s = SinkSettings::from_vars(&vars(&[
            ("NOTION_API_TOKEN", "secret_x"),
            ("HSFLOW_SMTP_HOST", "mail.example"),
            (
                "HSFLOW_SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T/B/C",
            ),
        ]))
        .expect("settings");
        let n = s.notion.expect("notion");
        assert_eq!((n.version.as_str(), n.rate), ("2022-06-28", 3.0));
        let m = s.smtp.expect("smtp");
        assert_eq!((m.port, m.security), (587, Security::StartTls));
        assert!(matches!(s.notify, Some(NotifyTarget::Slack { .. })));
        // Secrets never appear in the description.
        assert!(
            !SinkSettings::from_vars(&vars(&[("NOTION_API_TOKEN", "secret_x")]))
                .expect("settings")
                .describe()
                .join("\n")
                .contains("secret_x")
        );
    }

    #[test]
    fn asking_for_a_real_sink_without_credentials_is_an_error() {
        let e = SinkSettings::from_vars(&vars(&[("HSFLOW_NOTION", "api")])).unwrap_err();
        assert!(e.contains("NOTION_API_TOKEN is not set"), "{e}");
        let e = SinkSettings::from_vars(&vars(&[("HSFLOW_EMAIL", "smtp")])).unwrap_err();
        assert!(e.contains("HSFLOW_SMTP_HOST"), "{e}");
        let e = SinkSettings::from_vars(&vars(&[("BEEHIIV_API_KEY", "k")])).unwrap_err();
        assert!(e.contains("BEEHIIV_PUBLICATION_ID is not set"), "{e}");
        let e = SinkSettings::from_vars(&vars(&[("HSFLOW_NOTIFY", "pager")])).unwrap_err();
        assert!(e.contains("local, slack, webhook"), "{e}");
        let e = SinkSettings::from_vars(&vars(&[
            ("HSFLOW_SMTP_HOST", "h"),
            ("HSFLOW_SMTP_USER", "u"),
        ]))
        .unwrap_err();
        assert!(e.contains("both"), "{e}");
    }

    #[test]
    fn an_explicit_local_wins_over_credentials() {
        let s = SinkSettings::from_vars(&vars(&[
            ("NOTION_API_TOKEN", "t"),
            ("HSFLOW_NOTION", "local"),
        ]))
        .expect("settings");
        assert!(s.notion.is_none());
    }
}
