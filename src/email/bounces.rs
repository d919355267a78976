//! Bounce and complaint notifications from email providers, read into one
//! shape: which address, and whether it bounced for good, complained (marked
//! the email as spam) or unsubscribed through the provider.
//!
//! When hsflow hands email to a provider's SMTP relay, the relay answers
//! 250 and only learns later that the mailbox doesn't exist; the provider
//! then posts a notification. Three common shapes are read:
//! - **Amazon SES**, through SNS: an envelope `{"Type": "Notification",
//!   "Message": "<SES JSON as a string>"}` (or the SES JSON itself) with
//!   `notificationType`/`eventType` Bounce (only `bounceType` Permanent
//!   counts) or Complaint. SNS first posts a `SubscriptionConfirmation`.
//! - **Postmark**: one record, `RecordType` Bounce (`Type` HardBounce or
//!   BadEmailAddress count) or SpamComplaint.
//! - **SendGrid** event webhook: a list of events; `bounce` (not `blocked`,
//!   which is temporary), `spamreport`, `unsubscribe`, `group_unsubscribe`.
//!
//! Soft bounces and anything else are acknowledged and left alone: the
//! provider retries those itself.

use serde_json::Value;

/// The providers whose notifications are read.
pub const PROVIDERS: [&str; 3] = ["ses", "postmark", "sendgrid"];

/// One address to suppress.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub address: String,
    /// bounced, complained or unsubscribed.
    pub reason: &'static str,
    /// In words, for the suppression list.
    pub detail: String,
}

/// What a notification holds.
#[derive(Debug, Default, PartialEq)]
pub struct Read {
    pub notices: Vec<Notice>,
    /// Records that need nothing (soft bounces, deliveries, opens).
    pub ignored: usize,
    /// SNS asks to confirm the subscription at this URL first.
    pub confirm_url: Option<String>,
}

/// Read `body` as `provider` sends it.
pub fn read(provider: &str, body: &Value) -> Result<Read, String> {
    match provider {
        "ses" => ses(body),
        "postmark" => Ok(postmark(body)),
        "sendgrid" => sendgrid(body),
        other => Err(format!(
            "hsflow doesn't read notifications from {other:?}; it reads {}",
            PROVIDERS.join(", ")
        )),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn ses(body: &Value) -> Result<Read, String> {
    let mut out = Read::default();
    match s(body, "Type") {
        "SubscriptionConfirmation" => {
            out.confirm_url = Some(s(body, "SubscribeURL").to_string()).filter(|u| !u.is_empty());
            return Ok(out);
        }
        "Notification" => {
            let inner: Value = serde_json::from_str(s(body, "Message"))
                .map_err(|e| format!("the SNS notification's `Message` is not SES JSON: {e}"))?;
            return ses(&inner);
        }
        _ => {}
    }
    let kind = match s(body, "notificationType") {
        "" => s(body, "eventType"),
        k => k,
    };
    match kind {
        "Bounce" => {
            let b = &body["bounce"];
            if s(b, "bounceType") != "Permanent" {
                out.ignored += 1;
                return Ok(out);
            }
            for r in b["bouncedRecipients"].as_array().into_iter().flatten() {
                out.notices.push(Notice {
                    address: s(r, "emailAddress").to_string(),
                    reason: "bounced",
                    detail: format!(
                        "Amazon SES: permanent bounce ({}){}",
                        s(b, "bounceSubType"),
                        match s(r, "diagnosticCode") {
                            "" => String::new(),
                            d => format!(": {d}"),
                        }
                    ),
                });
            }
        }
        "Complaint" => {
            for r in body["complaint"]["complainedRecipients"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.notices.push(Notice {
                    address: s(r, "emailAddress").to_string(),
                    reason: "complained",
                    detail: "Amazon SES: the recipient marked the email as spam".into(),
                });
            }
        }
        "" => return Err("this is not an SES notification: it has no `notificationType` (or `eventType`), and no SNS `Type`".into()),
        _ => out.ignored += 1,
    }
    Ok(out)
}

fn postmark(body: &Value) -> Read {
    let mut out = Read::default();
    let address = s(body, "Email").to_string();
    match (s(body, "RecordType"), s(body, "Type")) {
        ("Bounce", t @ ("HardBounce" | "BadEmailAddress")) => out.notices.push(Notice {
            address,
            reason: "bounced",
            detail: format!("Postmark: {t}: {}", s(body, "Description")),
        }),
        ("SpamComplaint", _) => out.notices.push(Notice {
            address,
            reason: "complained",
            detail: "Postmark: the recipient marked the email as spam".into(),
        }),
        _ => out.ignored += 1,
    }
    out
}

fn sendgrid(body: &Value) -> Result<Read, String> {
    let events = body
        .as_array()
        .ok_or("a SendGrid event webhook posts a list of events: [{\"email\": ..., \"event\": \"bounce\"}, ...]")?;
    let mut out = Read::default();
    for e in events {
        let address = s(e, "email").to_string();
        let notice = match (s(e, "event"), s(e, "type")) {
            ("bounce", "blocked") => None,
            ("bounce", _) => Some(("bounced", format!("SendGrid: bounce: {}", s(e, "reason")))),
            ("spamreport", _) => Some((
                "complained",
                "SendGrid: the recipient marked the email as spam".to_string(),
            )),
            ("unsubscribe" | "group_unsubscribe", _) => Some((
                "unsubscribed",
                "SendGrid: the recipient unsubscribed there".to_string(),
            )),
            _ => None,
        };
        match notice {
            Some((reason, detail)) => out.notices.push(Notice {
                address,
                reason,
                detail,
            }),
            None => out.ignored += 1,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ses_bounces_and_complaints_arrive_inside_sns() {
        let bounce = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "gone@example.com", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}});
        let sns = json!({"Type": "Notification", "Message": bounce.to_string()});
        let r = read("ses", &sns).expect("reads");
        assert_eq!(r.notices.len(), 1);
        assert_eq!(r.notices[0].address, "gone@example.com");
        assert_eq!(r.notices[0].reason, "bounced");
        assert!(
            r.notices[0].detail.contains("550 5.1.1"),
            "{}",
            r.notices[0].detail
        );
        let soft = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "full@example.com"}]}});
        assert_eq!(read("ses", &soft).expect("reads").ignored, 1);
        let complaint = json!({"eventType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "angry@example.com"}]}});
        assert_eq!(
            read("ses", &complaint).expect("reads").notices[0].reason,
            "complained"
        );
        let confirm = json!({"Type": "SubscriptionConfirmation", "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"});
        assert!(read("ses", &confirm).expect("reads").confirm_url.is_some());
        assert!(read("ses", &json!({"hello": 1})).is_err());
    }

    #[test]
    fn postmark_and_sendgrid_hard_bounces_count_and_soft_ones_do_not() {
        let hard = json!({"RecordType": "Bounce", "Type": "HardBounce", "Email": "gone@example.com", "Description": "The server was unable to deliver your message"});
        assert_eq!(
            read("postmark", &hard).expect("reads").notices[0].reason,
            "bounced"
        );
        let soft =
            json!({"RecordType": "Bounce", "Type": "SoftBounce", "Email": "full@example.com"});
        assert_eq!(read("postmark", &soft).expect("reads").ignored, 1);
        let events = json!([
            {"email": "gone@example.com", "event": "bounce", "type": "bounce", "reason": "550 5.1.1 unknown"},
            {"email": "later@example.com", "event": "bounce", "type": "blocked"},
            {"email": "angry@example.com", "event": "spamreport"},
            {"email": "ok@example.com", "event": "delivered"}
        ]);
        let r = read("sendgrid", &events).expect("reads");
        let got: Vec<(&str, &str)> = r
            .notices
            .iter()
            .map(|n| (n.address.as_str(), n.reason))
            .collect();
        assert_eq!(
            got,
            [
                ("gone@example.com", "bounced"),
                ("angry@example.com", "complained")
            ]
        );
        assert_eq!(r.ignored, 2);
        assert!(read("sendgrid", &json!({"email": "x"})).is_err());
        assert!(read("mailgun", &json!({})).is_err());
    }
}
