//! What a sender posts that is not an event: a creation ping and a
//! subscription handshake. Both come unsigned, by the senders' own design,
//! so both are recognised narrowly and neither is stored as an event.
//!
//! - A **ping** (WooCommerce, when a webhook is created): a form body with
//!   only the ping field. Answered 200 and forgotten.
//! - A **verification handshake** (Notion, when a subscription is made): a
//!   JSON object holding only the verification token, which then becomes the
//!   source's signing secret. hsflow keeps it in
//!   `<data>/verification/<source>.txt` for the operator (never in the log:
//!   it is a secret). Because anyone can post one, a handshake is taken only
//!   while the source is unverified (its secret unset), each line records
//!   when and from where it came, and the file holds at most
//!   [`MAX_TOKENS`] of them, so a flood can't fill the disk. Once the secret
//!   is set, an unsigned handshake is refused.

use std::path::{Path, PathBuf};

use chrono::Utc;
use serde_json::Value;

use super::auth::secret_env;
use crate::rules::model::Auth;
use crate::rules::ruleset::Source;

/// Tokens kept per source before new ones are refused.
pub const MAX_TOKENS: usize = 20;

/// Why a handshake was not kept.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("source `{0}` is already verified (its secret is set), so an unsigned verification request is refused; to verify again, unset the secret and restart")]
    AlreadyVerified(String),
    #[error("{} already holds {MAX_TOKENS} verification tokens; nothing more is kept until the operator clears it (someone may be flooding the endpoint)", .0.display())]
    Full(PathBuf),
    #[error("the verification token could not be kept ({0}); nothing was stored, send it again")]
    Io(#[from] std::io::Error),
}

fn signed(src: &Source, headers: &[(String, String)]) -> bool {
    match &src.auth {
        Auth::HmacSha256 { header, .. } | Auth::SharedSecret { header, .. } => {
            headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(header))
        }
        Auth::None { .. } | Auth::Internal {} => false,
    }
}

/// The sender's creation ping: a form body with only the ping field, and no signature.
pub fn is_ping(src: &Source, headers: &[(String, String)], body: &[u8]) -> bool {
    let Some(field) = &src.ping_field else {
        return false;
    };
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    !signed(src, headers) && pairs.len() == 1 && pairs[0].0 == *field
}

/// The sender's subscription handshake: an unsigned JSON object holding only
/// the verification field. Returns the token.
pub fn verification(src: &Source, headers: &[(String, String)], body: &[u8]) -> Option<String> {
    let field = src.verification_field.as_ref()?;
    if signed(src, headers) {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object().filter(|o| o.len() == 1)?;
    let token = obj.get(field)?.as_str()?;
    // A token is short and printable; anything else is not a handshake.
    (token.len() <= 512 && token.chars().all(|c| c.is_ascii_graphic())).then(|| token.to_string())
}

/// Keep a handshake's token where the operator can read it; `peer` is the
/// sender's address. `secret` reads an environment variable.
pub fn keep(
    src: &Source,
    data_dir: &Path,
    token: &str,
    peer: Option<&str>,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, Refused> {
    let verified = secret_env(&src.auth)
        .and_then(secret)
        .is_some_and(|s| !s.trim().is_empty());
    if verified {
        return Err(Refused::AlreadyVerified(src.name.clone()));
    }
    let dir = data_dir.join("verification");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.txt", src.name));
    // Appended, never overwritten: a stranger's token must not replace the
    // sender's. The operator picks the line that matches the subscription.
    let kept = std::fs::read_to_string(&path)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    if kept >= MAX_TOKENS {
        return Err(Refused::Full(path));
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&path)?;
    let line = format!(
        "{} from {} {token}\n",
        Utc::now().to_rfc3339(),
        peer.unwrap_or("unknown")
    );
    std::io::Write::write_all(&mut f, line.as_bytes())?;
    Ok(path)
}
