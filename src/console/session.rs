//! Who is looking at the console, and what they may do.
//!
//! Signing in takes a token once: the admin token (`HSFLOW_ADMIN_TOKEN`:
//! sees everything, may retry and cancel) or the viewer token
//! (`HSFLOW_VIEWER_TOKEN`: sees everything, changes nothing). The browser
//! then holds only a random session id in an HttpOnly, SameSite=Strict
//! cookie (Secure when the request came over HTTPS through a proxy), so the
//! token itself is never stored in the browser. Sessions live in memory and
//! end after eight hours, at sign-out, or when the server restarts.
//!
//! Every form that changes something carries the session's CSRF token; a
//! POST without it (or with another session's) is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// The cookie holding the session id.
pub const COOKIE: &str = "hsflow_session";
/// How long a session lasts.
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Sessions kept at most (the oldest go first): a bound on memory.
const MAX_SESSIONS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Viewer,
}

impl Role {
    pub fn can_change(self) -> bool {
        self == Role::Admin
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    /// The name given at sign-in, if any: who the audit log says did what.
    pub name: Option<String>,
    pub csrf: String,
    started: Instant,
}

#[derive(Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

fn random() -> String {
    // Two v4 UUIDs: 244 random bits, from the OS's generator.
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn equal(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Which role `token` signs in as, given the configured tokens.
pub fn role_of(token: &str, admin: Option<&str>, viewer: Option<&str>) -> Option<Role> {
    let token = token.trim();
    if token.is_empty() {
        return None;
    }
    if admin.is_some_and(|a| equal(token, a)) {
        Some(Role::Admin)
    } else if viewer.is_some_and(|v| equal(token, v)) {
        Some(Role::Viewer)
    } else {
        None
    }
}

impl Sessions {
    /// Start a session; its id (for the cookie).
    pub fn start(&self, role: Role, name: Option<String>) -> String {
        let id = random();
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.started.elapsed() < LIFETIME);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Session {
                role,
                name,
                csrf: random(),
                started: Instant::now(),
            },
        );
        id
    }

    /// The session the request's cookie names, if it is still live.
    pub fn of(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, COOKIE)?;
        let map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.get(&id)?;
        (s.started.elapsed() < LIFETIME).then(|| (id.clone(), s.clone()))
    }

    pub fn end(&self, id: &str) {
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(id);
    }
}

impl Session {
    /// Who this is, for the audit log: "Ana (console)" or "console admin".
    pub fn who(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} (console)"),
            None => format!("console {}", self.role.name()),
        }
    }
}

/// A name typed at sign-in, kept short and printable; none if blank.
pub fn clean_name(raw: &str) -> Option<String> {
    let n: String = raw.chars().filter(|c| !c.is_control()).take(60).collect();
    let n = n.trim();
    (!n.is_empty()).then(|| n.to_string())
}

/// Whether a form's CSRF token is the session's.
pub fn csrf_ok(session: &Session, sent: &str) -> bool {
    !sent.is_empty() && equal(&session.csrf, sent)
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// The Set-Cookie value for a session id (empty and expired: sign-out).
pub fn set_cookie(id: Option<&str>, headers: &HeaderMap) -> String {
    // Behind a TLS-terminating proxy the request says how it came.
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let secure = if https { "; Secure" } else { "" };
    match id {
        Some(id) => format!(
            "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            LIFETIME.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_signs_in_as_its_role_and_nothing_else_does() {
        let (a, v) = (Some("admin-secret"), Some("viewer-secret"));
        assert_eq!(role_of("admin-secret", a, v), Some(Role::Admin));
        assert_eq!(role_of(" viewer-secret ", a, v), Some(Role::Viewer));
        assert_eq!(role_of("admin-secre", a, v), None);
        assert_eq!(role_of("", a, None), None);
        assert_eq!(role_of("viewer-secret", a, None), None);
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_ends_at_sign_out() {
        let sessions = Sessions::default();
        let id = sessions.start(Role::Viewer, None);
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            format!("other=1; {COOKIE}={id}").parse().expect("header"),
        );
        let (_, s) = sessions.of(&h).expect("the session");
        assert_eq!(s.role, Role::Viewer);
        assert!(csrf_ok(&s, &s.csrf) && !csrf_ok(&s, "") && !csrf_ok(&s, "x"));
        sessions.end(&id);
        assert!(sessions.of(&h).is_none());
        let c = set_cookie(Some("abc"), &HeaderMap::new());
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        let mut https = HeaderMap::new();
        https.insert("x-forwarded-proto", "https".parse().expect("header"));
        assert!(set_cookie(Some("abc"), &https).ends_with("; Secure"));
    }
}
