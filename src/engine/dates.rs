//! Reading the dates that payloads carry, in the forms senders use.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// RFC 3339, "YYYY-MM-DD HH:MM[:SS]", "YYYY-MM-DDTHH:MM:SS" (UTC), Acuity's
/// "2013-07-02T10:15:00-0700", or a plain date (midnight UTC).
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sender_form_parses() {
        for s in [
            "2026-03-01T10:00:00Z",
            "2026-03-01 10:00",
            "2026-03-01 10:00:00",
            "2013-07-02T10:15:00-0700",
            "2026-03-01",
        ] {
            assert!(parse(s).is_some(), "{s}");
        }
        assert!(parse("next tuesday").is_none());
    }
}
