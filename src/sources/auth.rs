//! Proving a webhook came from its sender, before anything else is done with it.
//!
//! HMAC signatures are computed over the raw body bytes, exactly as received,
//! and compared in constant time; so are shared secrets. There is no "skip the
//! check when the header is absent": a missing header is a failure.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::rules::model::{Auth, SignatureEncoding};

/// Why a request was not authenticated. Shown to the caller as a 401 reason
/// and in logs; it never contains the secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the {0} header is missing")]
    MissingHeader(String),
    #[error("the {0} header does not start with `{1}`")]
    BadPrefix(String, String),
    #[error("the {0} header is not valid {1}")]
    BadEncoding(String, &'static str),
    #[error("the signature in {0} does not match the body")]
    BadSignature(String),
    #[error("the secret in {0} is wrong")]
    BadSecret(String),
    #[error("the secret is not configured: set the environment variable {0}")]
    SecretNotSet(String),
    #[error("this source is fed by hsflow itself and takes no requests")]
    Internal,
}

/// The env var a source's secret lives in, if it has one.
pub fn secret_env(auth: &Auth) -> Option<&str> {
    match auth {
        Auth::HmacSha256 { secret_env, .. } | Auth::SharedSecret { secret_env, .. } => {
            Some(secret_env)
        }
        Auth::None { .. } | Auth::Internal {} => None,
    }
}

/// Check a request. `header` looks a header up by lower-case name; `secret`
/// reads an environment variable (injected so tests need not touch the process env).
pub fn verify(
    auth: &Auth,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<(), AuthError> {
    match auth {
        Auth::None { .. } => Ok(()),
        Auth::Internal {} => Err(AuthError::Internal),
        Auth::SharedSecret {
            header: name,
            secret_env,
        } => {
            let expected = secret(secret_env)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| AuthError::SecretNotSet(secret_env.clone()))?;
            let got = header(&name.to_ascii_lowercase())
                .ok_or_else(|| AuthError::MissingHeader(name.clone()))?;
            if bool::from(got.trim().as_bytes().ct_eq(expected.as_bytes())) {
                Ok(())
            } else {
                Err(AuthError::BadSecret(name.clone()))
            }
        }
        Auth::HmacSha256 {
            header: name,
            encoding,
            prefix,
            secret_env,
        } => {
            let key = secret(secret_env)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| AuthError::SecretNotSet(secret_env.clone()))?;
            let got = header(&name.to_ascii_lowercase())
                .ok_or_else(|| AuthError::MissingHeader(name.clone()))?;
            let got = got.trim();
            let encoded = match prefix {
                Some(p) => got
                    .strip_prefix(p.as_str())
                    .ok_or_else(|| AuthError::BadPrefix(name.clone(), p.clone()))?,
                None => got,
            };
            let sig = match encoding {
                SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .map_err(|_| AuthError::BadEncoding(name.clone(), "base64"))?,
                SignatureEncoding::Hex => {
                    hex::decode(encoded).map_err(|_| AuthError::BadEncoding(name.clone(), "hex"))?
                }
            };
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes())
                .map_err(|_| AuthError::SecretNotSet(secret_env.clone()))?;
            mac.update(body);
            mac.verify_slice(&sig)
                .map_err(|_| AuthError::BadSignature(name.clone()))
        }
    }
}

/// Sign a body the way `auth` expects (for `hsflow simulate`, tests and outgoing webhooks).
pub fn sign(
    encoding: SignatureEncoding,
    prefix: Option<&str>,
    secret: &str,
    body: &[u8],
) -> String {
    let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).map(|mut m| {
        m.update(body);
        m.finalize().into_bytes().to_vec()
    });
    let bytes = mac.unwrap_or_default();
    let enc = match encoding {
        SignatureEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        SignatureEncoding::Hex => hex::encode(bytes),
    };
    format!("{}{enc}", prefix.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typeform() -> Auth {
        Auth::HmacSha256 {
            header: "Typeform-Signature".into(),
            encoding: SignatureEncoding::Base64,
            prefix: Some("sha256=".into()),
            secret_env: "TF".into(),
        }
    }

    fn check(auth: &Auth, sig: Option<String>, body: &[u8]) -> Result<(), AuthError> {
        let h = move |n: &str| {
            if n == "typeform-signature" {
                sig.clone()
            } else {
                None
            }
        };
        verify(auth, &h, body, &|e: &str| {
            (e == "TF").then(|| "s3cret".to_string())
        })
    }

    #[test]
    fn a_correct_signature_passes_and_any_change_fails() {
        let body = br#"{"event_id":"x"}"#;
        let sig = sign(SignatureEncoding::Base64, Some("sha256="), "s3cret", body);
        assert_eq!(check(&typeform(), Some(sig.clone()), body), Ok(()));
        assert!(matches!(
            check(&typeform(), Some(sig.clone()), br#"{"event_id":"y"}"#),
            Err(AuthError::BadSignature(_))
        ));
        assert!(matches!(
            check(&typeform(), None, body),
            Err(AuthError::MissingHeader(_))
        ));
        assert!(matches!(
            check(&typeform(), Some(sig.replace("sha256=", "")), body),
            Err(AuthError::BadPrefix(..))
        ));
        assert!(matches!(
            check(&typeform(), Some("sha256=!!".into()), body),
            Err(AuthError::BadEncoding(..))
        ));
    }

    #[test]
    fn an_unset_secret_is_an_error_not_a_skipped_check() {
        let r = verify(
            &typeform(),
            &|_: &str| Some("sha256=AAAA".into()),
            b"{}",
            &|_: &str| None,
        );
        assert_eq!(r, Err(AuthError::SecretNotSet("TF".into())));
    }

    #[test]
    fn hex_signatures_and_shared_secrets() {
        let woo = Auth::HmacSha256 {
            header: "X-Sig".into(),
            encoding: SignatureEncoding::Hex,
            prefix: None,
            secret_env: "TF".into(),
        };
        let sig = sign(SignatureEncoding::Hex, None, "s3cret", b"body");
        let h = move |n: &str| (n == "x-sig").then(|| sig.clone());
        assert_eq!(
            verify(&woo, &h, b"body", &|_: &str| Some("s3cret".into())),
            Ok(())
        );
        let shared = Auth::SharedSecret {
            header: "X-Token".into(),
            secret_env: "TF".into(),
        };
        let ok = |n: &str| (n == "x-token").then(|| "s3cret".to_string());
        let bad = |n: &str| (n == "x-token").then(|| "s3cre".to_string());
        assert_eq!(
            verify(&shared, &ok, b"", &|_: &str| Some("s3cret".into())),
            Ok(())
        );
        assert!(verify(&shared, &bad, b"", &|_: &str| Some("s3cret".into())).is_err());
    }
}
