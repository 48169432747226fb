//! Signing secrets (`whsec_` + base64 of 24 to 64 random bytes) and the
//! `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
//! one per secret, separated by spaces.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

const PREFIX: &str = "whsec_";
const MIN_LEN: usize = 24;
const MAX_LEN: usize = 64;
/// As long as the HMAC's hash: more adds nothing.
const GENERATED_LEN: usize = 32;

/// How long a replaced secret keeps signing beside the new one, so receivers
/// can switch without losing a delivery.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);

/// An endpoint's signing secret. Never printed: `Debug` hides it, and its text
/// form comes out only through [`Secret::to_whsec`].
#[derive(Clone)]
pub struct Secret(SecretSlice<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("must start with `whsec_`")]
    MissingPrefix,
    #[error("must be base64 after `whsec_`")]
    NotBase64,
    #[error("must hold 24 to 64 bytes, found {0}")]
    Length(usize),
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Secret(key.into())
    }

    /// Reads the `whsec_...` form.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !(MIN_LEN..=MAX_LEN).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Secret(key.into()))
    }

    /// The `whsec_...` form: shown once to the endpoint's owner, and what gets
    /// sealed for storage.
    pub fn to_whsec(&self) -> SecretString {
        format!("{PREFIX}{}", STANDARD.encode(self.0.expose_secret())).into()
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::new_from_slice(self.0.expose_secret()).expect("HMAC accepts keys of any length")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// The `webhook-signature` value: one `v1,<signature>` per secret, in the
/// order given, separated by spaces. During a rotation pass the new secret and
/// the old one; a receiver accepts the message if any signature matches.
pub fn sign<'a>(
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: impl IntoIterator<Item = &'a Secret>,
) -> String {
    let timestamp = timestamp.to_string();
    let signatures: Vec<String> = secrets
        .into_iter()
        .map(|secret| {
            let mut mac = secret.mac();
            mac.update(msg_id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.as_bytes());
            mac.update(b".");
            mac.update(body);
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect();
    signatures.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};
    use standardwebhooks::{Webhook, WebhookError};

    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const BODY: &[u8] = br#"{"type":"customer.created","timestamp":"2026-01-01T00:00:00.000000Z","data":{"id":"x"}}"#;

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(crate::HEADER_ID, HeaderValue::from_str(id).unwrap());
        headers.insert(crate::HEADER_TIMESTAMP, HeaderValue::from(timestamp));
        headers.insert(
            crate::HEADER_SIGNATURE,
            HeaderValue::from_str(signature).unwrap(),
        );
        headers
    }

    fn receiver(secret: &Secret) -> Webhook {
        Webhook::new(secret.to_whsec().expose_secret()).unwrap()
    }

    /// The vector from the reference implementation's own tests.
    #[test]
    fn matches_the_reference_vector() {
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            sign(
                ID,
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#,
                [&secret]
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn the_reference_implementation_accepts_what_we_sign() {
        let secret = Secret::generate();
        let ts = now();
        let signature = sign(ID, ts, BODY, [&secret]);
        receiver(&secret)
            .verify(BODY, &headers(ID, ts, &signature))
            .unwrap();
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let new = Secret::generate();
        let old = Secret::generate();
        let ts = now();
        let signature = sign(ID, ts, BODY, [&new, &old]);
        assert_eq!(signature.split(' ').count(), 2);
        assert!(signature.split(' ').all(|s| s.starts_with("v1,")));
        let headers = headers(ID, ts, &signature);
        receiver(&new).verify(BODY, &headers).unwrap();
        receiver(&old).verify(BODY, &headers).unwrap();
        assert!(matches!(
            receiver(&Secret::generate()).verify(BODY, &headers),
            Err(WebhookError::InvalidSignature)
        ));
    }

    #[test]
    fn a_tampered_body_id_or_timestamp_fails_verification() {
        let secret = Secret::generate();
        let ts = now();
        let signature = sign(ID, ts, BODY, [&secret]);
        let wh = receiver(&secret);
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("created", "deleted");
        assert!(matches!(
            wh.verify(tampered.as_bytes(), &headers(ID, ts, &signature)),
            Err(WebhookError::InvalidSignature)
        ));
        assert!(matches!(
            wh.verify(BODY, &headers("msg_other", ts, &signature)),
            Err(WebhookError::InvalidSignature)
        ));
        assert!(matches!(
            wh.verify(BODY, &headers(ID, ts - 1, &signature)),
            Err(WebhookError::InvalidSignature)
        ));
    }

    #[test]
    fn an_old_timestamp_fails_verification() {
        let secret = Secret::generate();
        let old = now() - 10 * 60;
        let signature = sign(ID, old, BODY, [&secret]);
        assert!(matches!(
            receiver(&secret).verify(BODY, &headers(ID, old, &signature)),
            Err(WebhookError::TimestampTooOldError)
        ));
    }

    #[test]
    fn generated_secrets_are_whsec_base64_of_32_random_bytes() {
        let a = Secret::generate();
        let text = a.to_whsec();
        let text = text.expose_secret();
        let encoded = text.strip_prefix("whsec_").unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap().len(), 32);
        let b = Secret::generate();
        assert_ne!(text, b.to_whsec().expose_secret());
        // Round trip: the parsed secret signs the same.
        let parsed = Secret::parse(text).unwrap();
        assert_eq!(sign(ID, 1, BODY, [&a]), sign(ID, 1, BODY, [&parsed]));
    }

    #[test]
    fn parse_takes_24_to_64_bytes_with_the_prefix() {
        let of_len = |n: usize| format!("whsec_{}", STANDARD.encode(vec![7u8; n]));
        assert!(Secret::parse(&of_len(24)).is_ok());
        assert!(Secret::parse(&of_len(64)).is_ok());
        assert_eq!(
            Secret::parse(&of_len(23)).unwrap_err(),
            SecretError::Length(23)
        );
        assert_eq!(
            Secret::parse(&of_len(65)).unwrap_err(),
            SecretError::Length(65)
        );
        let bare = of_len(32).replace("whsec_", "");
        assert_eq!(
            Secret::parse(&bare).unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            Secret::parse("whsec_not base64!").unwrap_err(),
            SecretError::NotBase64
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::generate();
        let shown = format!("{secret:?}");
        let whsec = secret.to_whsec();
        let encoded = whsec.expose_secret().trim_start_matches("whsec_");
        assert!(!shown.contains(encoded), "{shown}");
        assert_eq!(shown, "Secret([REDACTED])");
    }
}
