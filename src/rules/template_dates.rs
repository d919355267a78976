//! The `date` template helper: a date from the event as people read it, on
//! the wall clock of the entity the message is sent for.
//!
//! `{{date retreat_start}}` renders "Saturday 14 February 2026, 10:00" in the
//! entity's zone (`entity.zone`, set for every render from entities.toml),
//! and a plain date ("2026-02-14") as "Saturday 14 February 2026". A
//! `format` in strftime's words picks another shape:
//! `{{date retreat_start format="%A %-d %B"}}`. A value that isn't a date
//! fails the render, like a missing variable, so no email goes out saying
//! "starts soon-ish".

use chrono_tz::Tz;
use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};

/// The helper's name, as templates write it.
pub const NAME: &str = "date";

const WITH_TIME: &str = "%A %-d %B %Y, %H:%M";
const DAY_ONLY: &str = "%A %-d %B %Y";

pub fn date(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    ctx: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let param = h
        .param(0)
        .ok_or(RenderErrorReason::ParamNotFoundForIndex(NAME, 0))?;
    let name = param.relative_path().cloned().unwrap_or_default();
    let text = param.value().as_str().ok_or_else(|| {
        RenderErrorReason::Other(format!(
            "`{{{{date {name}}}}}`: `{name}` is {}, not a date",
            param.value()
        ))
    })?;
    let zone = ctx
        .data()
        .pointer("/entity/zone")
        .and_then(|z| z.as_str())
        .and_then(|z| z.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC);
    let when = crate::engine::dates::parse_in(text, zone).ok_or_else(|| {
        RenderErrorReason::Other(format!(
            "`{{{{date {name}}}}}`: `{name}` is \"{text}\", not a date hsflow can read"
        ))
    })?;
    let plain_day = text.trim().len() == 10;
    let format = match h.hash_get("format").and_then(|f| f.value().as_str()) {
        Some(f) => f.to_string(),
        None if plain_day => DAY_ONLY.to_string(),
        None => WITH_TIME.to_string(),
    };
    let mut s = String::new();
    // A format chrono can't follow is reported, not rendered as a panic.
    if std::fmt::Write::write_fmt(
        &mut s,
        format_args!("{}", when.with_timezone(&zone).format(&format)),
    )
    .is_err()
    {
        return Err(RenderErrorReason::Other(format!(
            "`format=\"{format}\"` is not a date format: use strftime's words, e.g. \"%A %-d %B\""
        ))
        .into());
    }
    out.write(&s)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn render(template: &str, data: serde_json::Value) -> Result<String, String> {
        let mut h = handlebars::Handlebars::new();
        h.set_strict_mode(true);
        h.register_helper(super::NAME, Box::new(super::date));
        h.render_template(template, &data)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn dates_read_on_the_entitys_clock() {
        let ny = json!({"entity": {"zone": "America/New_York"}, "start": "2026-02-14 10:00", "utc": "2026-02-14T15:00:00Z", "day": "2026-02-14"});
        assert_eq!(
            render("{{date start}}", ny.clone()).as_deref(),
            Ok("Saturday 14 February 2026, 10:00")
        );
        assert_eq!(
            render("{{date utc}}", ny.clone()).as_deref(),
            Ok("Saturday 14 February 2026, 10:00")
        );
        assert_eq!(
            render("{{date day}}", ny.clone()).as_deref(),
            Ok("Saturday 14 February 2026")
        );
        assert_eq!(
            render("{{date utc format=\"%a %-d %b, %H:%M\"}}", ny).as_deref(),
            Ok("Sat 14 Feb, 10:00")
        );
        let london = json!({"entity": {"zone": "Europe/London"}, "utc": "2026-07-01T12:00:00Z"});
        assert_eq!(
            render("{{date utc}}", london).as_deref(),
            Ok("Wednesday 1 July 2026, 13:00")
        );
    }

    #[test]
    fn a_value_that_is_not_a_date_fails_the_render_and_says_which() {
        let err = render("{{date start}}", json!({"start": "soon"}))
            .err()
            .unwrap_or_default();
        assert!(err.contains("`start` is \"soon\", not a date"), "{err}");
        let err = render("{{date n}}", json!({"n": 5}))
            .err()
            .unwrap_or_default();
        assert!(err.contains("not a date"), "{err}");
        let err = render("{{date d format=\"%Q\"}}", json!({"d": "2026-01-01"}))
            .err()
            .unwrap_or_default();
        assert!(err.contains("not a date format"), "{err}");
    }
}
