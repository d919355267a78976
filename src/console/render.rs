//! The console's templates, compiled once and embedded in the binary.
//! Handlebars escapes every value for HTML, so text from an event (a name,
//! a message) is shown as text, whatever it holds.

use std::sync::OnceLock;

use axum::response::Html;
use handlebars::Handlebars;
use serde_json::Value;

const TEMPLATES: &[(&str, &str)] = &[
    ("header", include_str!("templates/header.hbs")),
    ("footer", include_str!("templates/footer.hbs")),
    ("signin", include_str!("templates/signin.hbs")),
    ("overview", include_str!("templates/overview.hbs")),
    ("events", include_str!("templates/events.hbs")),
    ("event", include_str!("templates/event.hbs")),
    ("event_body", include_str!("templates/event_body.hbs")),
    ("try", include_str!("templates/try.hbs")),
    ("rules", include_str!("templates/rules.hbs")),
    ("failed", include_str!("templates/failed.hbs")),
    ("followups", include_str!("templates/followups.hbs")),
    ("contact", include_str!("templates/contact.hbs")),
    ("problem", include_str!("templates/problem.hbs")),
    ("email", include_str!("templates/email.hbs")),
    // The studio's pages (src/studio/pages.rs).
    ("studio", include_str!("../studio/templates/studio.hbs")),
    ("history", include_str!("../studio/templates/history.hbs")),
    ("diff", include_str!("../studio/templates/diff.hbs")),
];

fn registry() -> &'static Handlebars<'static> {
    static REGISTRY: OnceLock<Handlebars<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut h = Handlebars::new();
        for (name, text) in TEMPLATES {
            // Embedded and covered by the console's tests: a template that
            // doesn't compile is a bug caught before release, never data.
            if let Err(e) = h.register_template_string(name, *text) {
                tracing::error!("the console template `{name}` does not compile: {e}");
            }
        }
        h
    })
}

/// A page rendered from template `name` with `data`.
pub fn page(name: &str, data: Value) -> Html<String> {
    match registry().render(name, &data) {
        Ok(html) => Html(html),
        Err(e) => {
            tracing::error!("the console page `{name}` could not be rendered: {e}");
            Html(format!(
                "<!doctype html><title>hsflow</title><p>This page could not be shown ({}). The server's log has the details.</p>",
                handlebars::html_escape(&e.to_string())
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles_and_values_are_escaped() {
        for (name, text) in super::TEMPLATES {
            handlebars::Template::compile(text)
                .unwrap_or_else(|e| panic!("{name} does not compile: {e}"));
        }
        let html = super::page(
            "problem",
            serde_json::json!({"title": "<script>alert(1)</script>", "message": "x"}),
        )
        .0;
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>alert"));
    }
}
