//! Signed links: the unsubscribe link, the open pixel and click-throughs.
//!
//! Each link carries what it is about (the email's job id, the address, the
//! URL a click goes on to) in the clear, base64url-encoded, followed by an
//! HMAC-SHA256 of it under hsflow's link key, cut to 128 bits. Nobody without
//! the key can make a link for another address (so a stranger can't
//! unsubscribe someone), and a click-through can't be pointed at a URL that
//! was not in the email (so hsflow is no open redirect). Each kind of link is
//! signed with its own prefix: an open-pixel token is no unsubscribe token.
//!
//! The key comes from `HSFLOW_LINK_SECRET`, or else is made once and kept in
//! the store, so links keep working across restarts and between servers on
//! one database. Changing the key invalidates every link already sent.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// Bytes of the MAC kept in a link.
const MAC_BYTES: usize = 16;

/// What a link is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Unsubscribe `address`, which `job`'s email went to.
    Unsubscribe { job: String, address: String },
    /// `job`'s email was opened (the pixel).
    Open { job: String },
    /// A link in `job`'s email, on its way to `url`.
    Click { job: String, url: String },
}

impl Link {
    /// The path segment under /email/ and the prefix the MAC covers.
    fn kind(&self) -> &'static str {
        match self {
            Link::Unsubscribe { .. } => "unsubscribe",
            Link::Open { .. } => "open",
            Link::Click { .. } => "click",
        }
    }

    fn fields(&self) -> Vec<&str> {
        match self {
            Link::Unsubscribe { job, address } => vec![job, address],
            Link::Open { job } => vec![job],
            Link::Click { job, url } => vec![job, url],
        }
    }

    /// The email (job) the link came in.
    pub fn job(&self) -> &str {
        match self {
            Link::Unsubscribe { job, .. } | Link::Open { job } | Link::Click { job, .. } => job,
        }
    }
}

/// Why a link was refused, in words for the person who followed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub &'static str);

const ALTERED: Refused = Refused(
    "this link is not one hsflow made, or it was changed on the way (a mail program may have cut it): open it again from the email itself",
);

/// Makes and checks links under one key, for one public address.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    /// Where hsflow is reached from outside, without a trailing slash.
    base: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "Signer({})", self.base)
    }
}

impl Signer {
    pub fn new(key: &[u8], base: &str) -> Signer {
        Signer {
            key: key.to_vec(),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// A signer with a key made now and kept nowhere: links it makes stop
    /// working when the process ends (for `hsflow simulate` and tests).
    pub fn ephemeral(base: &str) -> Signer {
        let key: [u8; 32] = rand::random();
        Signer::new(&key, base)
    }

    /// The public address links start with.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn mac(&self, kind: &str, payload: &[u8]) -> Vec<u8> {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(kind.as_bytes());
        mac.update(b"\n");
        mac.update(payload);
        mac.finalize().into_bytes()[..MAC_BYTES].to_vec()
    }

    /// The token for `link`: its fields and their MAC.
    pub fn token(&self, link: &Link) -> String {
        // Fields are joined by a newline, which none of them can hold
        // (a URL's newlines are stripped when it is read from the HTML).
        let payload = link.fields().join("\n");
        format!(
            "{}.{}",
            B64.encode(payload.as_bytes()),
            B64.encode(self.mac(link.kind(), payload.as_bytes()))
        )
    }

    /// The full URL of `link` (`/email/open/…` ends in `.gif`, so that mail
    /// programs that look at the name see an image).
    pub fn url(&self, link: &Link) -> String {
        let ext = if matches!(link, Link::Open { .. }) {
            ".gif"
        } else {
            ""
        };
        format!(
            "{}/email/{}/{}{ext}",
            self.base,
            link.kind(),
            self.token(link)
        )
    }

    /// Read a token of `kind` ("unsubscribe", "open", "click") back, if it
    /// is one this key made and nothing in it changed.
    pub fn read(&self, kind: &str, token: &str) -> Result<Link, Refused> {
        let token = token.strip_suffix(".gif").unwrap_or(token);
        let (payload, mac) = token.split_once('.').ok_or(ALTERED)?;
        let payload = B64.decode(payload).map_err(|_| ALTERED)?;
        let mac = B64.decode(mac).map_err(|_| ALTERED)?;
        let mut check = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        check.update(kind.as_bytes());
        check.update(b"\n");
        check.update(&payload);
        // Compared in constant time, so the MAC can't be guessed byte by byte.
        check.verify_truncated_left(&mac).map_err(|_| ALTERED)?;
        if mac.len() != MAC_BYTES {
            return Err(ALTERED);
        }
        let text = String::from_utf8(payload).map_err(|_| ALTERED)?;
        let fields: Vec<&str> = text.split('\n').collect();
        match (kind, fields.as_slice()) {
            ("unsubscribe", [job, address]) => Ok(Link::Unsubscribe {
                job: job.to_string(),
                address: address.to_string(),
            }),
            ("open", [job]) => Ok(Link::Open {
                job: job.to_string(),
            }),
            ("click", [job, url]) => Ok(Link::Click {
                job: job.to_string(),
                url: url.to_string(),
            }),
            _ => Err(ALTERED),
        }
    }
}

/// A short, stable name for `text` (a clicked URL in an event id).
pub fn short_hash(text: &str) -> String {
    use sha2::Digest;
    B64.encode(&Sha256::digest(text.as_bytes())[..9])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsub() -> Link {
        Link::Unsubscribe {
            job: "job-1".into(),
            address: "ada@example.com".into(),
        }
    }

    #[test]
    fn a_link_reads_back_and_an_altered_one_does_not() {
        let s = Signer::new(b"a key for the test", "https://hooks.example/");
        let url = s.url(&unsub());
        assert!(
            url.starts_with("https://hooks.example/email/unsubscribe/"),
            "{url}"
        );
        let token = s.token(&unsub());
        assert_eq!(s.read("unsubscribe", &token), Ok(unsub()));
        // Another address in the same MAC: refused.
        let (_, mac) = token.split_once('.').expect("two parts");
        let forged = format!(
            "{}.{mac}",
            B64.encode("job-1\nsomeone-else@example.com".as_bytes())
        );
        assert!(s.read("unsubscribe", &forged).is_err());
        // One character of the MAC changed, or the MAC cut short: refused.
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(bytes).expect("ascii");
        assert!(s.read("unsubscribe", &changed).is_err());
        assert!(s.read("unsubscribe", &token[..token.len() - 4]).is_err());
        // Another key, or the same token read as another kind: refused.
        let other = Signer::new(b"another key", "https://hooks.example");
        assert!(other.read("unsubscribe", &token).is_err());
        assert!(s.read("click", &token).is_err());
        assert!(s.read("unsubscribe", "not-a-token").is_err());
    }

    #[test]
    fn click_and_open_links_carry_their_url_and_job() {
        let s = Signer::ephemeral("http://127.0.0.1:8080");
        let click = Link::Click {
            job: "j".into(),
            url: "https://the7space.example/events?x=1&y=2".into(),
        };
        let url = s.url(&click);
        let token = url.rsplit('/').next().expect("a token");
        assert_eq!(s.read("click", token), Ok(click));
        let open = s.url(&Link::Open { job: "j".into() });
        assert!(open.ends_with(".gif"), "{open}");
        let token = open.rsplit('/').next().expect("a token");
        assert_eq!(s.read("open", token), Ok(Link::Open { job: "j".into() }));
    }
}
