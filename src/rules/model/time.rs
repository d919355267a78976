//! Durations ("30m", "2h", "3d", "1w") and date-relative schedules
//! ("7d before retreat_start", "1d before retreat_start at 10:00").
//!
//! Both are parsed exactly once, when the rule file is loaded; the engine only
//! ever sees seconds. The JSON Schema carries the same pattern the parser
//! accepts, so an editor flags `"2 hours"` while it is being typed.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer};

/// The pattern a duration must match; shared by the parser's error message and the schema.
pub const DURATION_PATTERN: &str = r"^([0-9]+[smhdw])+$";
/// The pattern of a date-relative schedule.
pub const RELATIVE_PATTERN: &str =
    r"^(([0-9]+[smhdw])+ (before|after) |at )[A-Za-z_][A-Za-z0-9_.]*( at [0-9]{1,2}:[0-9]{2})?$";

/// A non-negative span of time, held in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub u64);

impl Duration {
    pub fn secs(self) -> u64 {
        self.0
    }

    /// Parse "30m", "2h", "3d", "1w", "45s" or a sum such as "1h30m".
    pub fn parse(s: &str) -> Result<Duration, String> {
        let bad = || {
            format!(
                "`{s}` is not a duration: write a whole number followed by a unit, \
                 like \"30m\", \"2h\", \"3d\" or \"1w\" (s, m, h, d, w)"
            )
        };
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(bad());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in s_trim.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit = match c {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(bad()),
            };
            if digits.is_empty() {
                return Err(bad());
            }
            let n: u64 = digits.parse().map_err(|_| bad())?;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(bad)?;
            digits.clear();
        }
        if !digits.is_empty() {
            return Err(bad());
        }
        Ok(Duration(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        for (unit, len) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
            if s != 0 && s.is_multiple_of(len) {
                return write!(f, "{}{unit}", s / len);
            }
        }
        write!(f, "{s}s")
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A span of time: a whole number and a unit (s, m, h, d, w), e.g. \"30m\", \"2h\", \"3d\", \"1w\", or a sum like \"1h30m\".",
            "examples": ["0m", "2h", "3d", "1w"]
        })
    }
}

/// When an action runs relative to a date carried by the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelativeTime {
    /// Signed offset in seconds: negative is "before".
    pub offset_s: i64,
    /// The normalised field holding the date.
    pub field: String,
    /// "at 10:00": the time of day (hours, minutes) on the day reached, in the entity's zone.
    pub clock: Option<(u32, u32)>,
    /// The text as written, for explanations.
    pub text: String,
}

impl RelativeTime {
    pub fn parse(s: &str) -> Result<RelativeTime, String> {
        let bad = || {
            format!(
                "`{s}` is not a schedule: write \"<duration> before <field>\", \
                 \"<duration> after <field>\" or \"at <field>\", like \"7d before retreat_start\", \
                 optionally with a time of day: \"7d before retreat_start at 10:00\""
            )
        };
        let mut words: Vec<&str> = s.split_whitespace().collect();
        let mut clock = None;
        if let [.., "at", hhmm] = words.as_slice() {
            if words.len() > 2 {
                let (h, m) = hhmm.split_once(':').ok_or_else(bad)?;
                let (h, m) = (
                    h.parse::<u32>().map_err(|_| bad())?,
                    m.parse::<u32>().map_err(|_| bad())?,
                );
                if h > 23 || m > 59 || hhmm.len() > 5 {
                    return Err(format!(
                        "`{hhmm}` in `{s}` is not a time of day: write it as 24-hour HH:MM, e.g. 10:00"
                    ));
                }
                clock = Some((h, m));
                words.truncate(words.len() - 2);
            }
        }
        let (offset_s, field) = match words.as_slice() {
            ["at", field] => (0, *field),
            [dur, dir @ ("before" | "after"), field] => {
                let d = Duration::parse(dur).map_err(|_| bad())?;
                let secs = i64::try_from(d.secs()).map_err(|_| bad())?;
                (if *dir == "before" { -secs } else { secs }, *field)
            }
            _ => return Err(bad()),
        };
        let valid_ident = field
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && field
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !valid_ident {
            return Err(bad());
        }
        Ok(RelativeTime {
            offset_s,
            field: field.to_string(),
            clock,
            text: s.to_string(),
        })
    }
}

impl<'de> Deserialize<'de> for RelativeTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelativeTime::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for RelativeTime {
    fn schema_name() -> Cow<'static, str> {
        "RelativeTime".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": RELATIVE_PATTERN,
            "description": "A time relative to a date field of the event, on the wall clock of the entity's zone: \"7d before retreat_start\", \"1d after retreat_end\" or \"at event_date\", optionally at a time of day: \"7d before retreat_start at 10:00\".",
            "examples": ["7d before retreat_start", "1d before retreat_start at 10:00", "1d after retreat_end"]
        })
    }
}

/// A duration in seconds as people say it: 90 -> "90 seconds", 7200 -> "2
/// hours", 104400 -> "1 day 5 hours" (to the minute past an hour).
pub fn in_words(secs: u64) -> String {
    let unit = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match secs {
        0 => "at once".to_string(),
        s if s < 3_600 && s % 60 != 0 => format!("{s} seconds"),
        s => {
            let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
            let parts: Vec<String> = [(d, "day"), (h, "hour"), (m, "minute")]
                .into_iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, one)| unit(n, one))
                .collect();
            parts.join(" ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_every_unit_and_sums() {
        assert_eq!(Duration::parse("30m"), Ok(Duration(1800)));
        assert_eq!(Duration::parse("2h"), Ok(Duration(7200)));
        assert_eq!(Duration::parse("3d"), Ok(Duration(259_200)));
        assert_eq!(Duration::parse("1w"), Ok(Duration(604_800)));
        assert_eq!(Duration::parse("1h30m"), Ok(Duration(5400)));
        assert_eq!(Duration::parse("0h"), Ok(Duration(0)));
    }

    #[test]
    fn bad_durations_explain_the_format() {
        for bad in [
            "2 hours",
            "h",
            "2",
            "-1h",
            "",
            "2x",
            "99999999999999999999w",
        ] {
            let err = Duration::parse(bad).err().unwrap_or_default();
            assert!(err.contains("not a duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn pattern_and_parser_agree() {
        let re = regex_lite_match;
        for s in ["30m", "1h30m", "2 hours", "2", "h"] {
            assert_eq!(re(s), Duration::parse(s).is_ok(), "{s}");
        }
    }

    // The schema's pattern, spelt out without a regex engine.
    fn regex_lite_match(s: &str) -> bool {
        let mut saw_digit = false;
        let mut groups = 0;
        for c in s.chars() {
            if c.is_ascii_digit() {
                saw_digit = true;
            } else if "smhdw".contains(c) && saw_digit {
                saw_digit = false;
                groups += 1;
            } else {
                return false;
            }
        }
        !saw_digit && groups > 0
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(in_words(0), "at once");
        assert_eq!(in_words(90), "90 seconds");
        assert_eq!(in_words(120), "2 minutes");
        assert_eq!(in_words(3_600), "1 hour");
        assert_eq!(in_words(86_400), "1 day");
        assert_eq!(in_words(104_400), "1 day 5 hours");
        assert_eq!(in_words(125_242), "1 day 10 hours 47 minutes");
    }

    #[test]
    fn relative_times_parse() {
        let r = RelativeTime::parse("7d before retreat_start").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.offset_s, r.field.as_str()), (-604_800, "retreat_start"));
        let r = RelativeTime::parse("1d after retreat_end").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.offset_s, 86_400);
        let r = RelativeTime::parse("at event_date").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.offset_s, 0);
        let r = RelativeTime::parse("7d before retreat_start at 10:00")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.offset_s, r.clock), (-604_800, Some((10, 0))));
        assert_eq!(r.field, "retreat_start");
        let r = RelativeTime::parse("at retreat_start at 7:30").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.offset_s, r.clock), (0, Some((7, 30))));
        assert!(RelativeTime::parse("7d before retreat_start at 25:00")
            .err()
            .is_some_and(|e| e.contains("not a time of day")));
        assert!(RelativeTime::parse("7d before retreat_start at noon").is_err());
        assert!(RelativeTime::parse("7 days before start").is_err());
        assert!(RelativeTime::parse("7d around start").is_err());
    }
}
