//! Device tokens: the credential of one technician's tracker app.
//!
//! `fcrm_dev_` and 32 random bytes in base64url without padding: 256 bits, so
//! stored as a plain SHA-256 hash like API keys and refresh tokens (a slow
//! hash would add cost and no safety). The alphabet has no `:` (GPSLogger
//! splits header lines on it; Basic auth splits on it), no `+`, `/` or `=`
//! (they change meaning in URLs and forms), so the token travels unescaped in
//! a URL path, a form, a header or a QR code.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Device tokens start with this, so scanners and people recognise them.
pub const DEVICE_TOKEN_PREFIX: &str = "fcrm_dev_";

/// Random bytes in a token.
const SECRET_BYTES: usize = 32;
/// Their length in base64url without padding.
const SECRET_CHARS: usize = (SECRET_BYTES * 4).div_ceil(3);

/// How much of a token a list may show: the prefix and four characters.
pub const SHOWN_CHARS: usize = DEVICE_TOKEN_PREFIX.len() + 4;

/// A new device token, from the operating system's random source.
pub fn new_device_token() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{DEVICE_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `text` has the shape of a device token (prefix, then 43
/// base64url characters). A cheap check before any lookup, and what keeps a
/// token out of labels; it proves nothing about the token being issued.
pub fn is_device_token(text: &str) -> bool {
    text.strip_prefix(DEVICE_TOKEN_PREFIX)
        .is_some_and(|secret| {
            secret.len() == SECRET_CHARS
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What is stored of a token: SHA-256 of its text. The same computation as
/// `secret_hash` for API keys in the api crate (`auth/tokens.rs`).
pub fn device_token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The part of a token a list shows, so a person can tell their devices apart.
pub fn shown_prefix(token: &str) -> String {
    token.chars().take(SHOWN_CHARS).collect()
}

/// The device token in an `Authorization` header: `Bearer <token>`
/// (Overland), or Basic with the token as password (OwnTracks), or as user
/// name. `None` when the header holds no device token.
pub fn from_authorization(header: &str) -> Option<String> {
    let (scheme, credentials) = header.trim().split_once(' ')?;
    let credentials = credentials.trim();
    let token = if scheme.eq_ignore_ascii_case("bearer") {
        credentials.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        if is_device_token(password) {
            password.to_owned()
        } else {
            user.to_owned()
        }
    } else {
        return None;
    };
    is_device_token(&token).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_prefix_and_an_alphabet_safe_everywhere() {
        for _ in 0..200 {
            let token = new_device_token();
            assert!(token.starts_with("fcrm_dev_"));
            assert_eq!(token.len(), 9 + 43);
            assert!(is_device_token(&token), "{token}");
            for forbidden in [':', '+', '/', '=', '%', '&', '?', '#', ' '] {
                assert!(!token.contains(forbidden), "{token}");
            }
            let secret = URL_SAFE_NO_PAD.decode(&token[9..]).unwrap();
            assert_eq!(secret.len(), 32);
        }
    }

    #[test]
    fn tokens_differ() {
        let tokens: std::collections::HashSet<String> =
            (0..100).map(|_| new_device_token()).collect();
        assert_eq!(tokens.len(), 100);
    }

    #[test]
    fn the_shape_check_refuses_near_misses() {
        let token = new_device_token();
        assert!(!is_device_token(&token[..token.len() - 1]));
        assert!(!is_device_token(&format!("{token}A")));
        assert!(!is_device_token(&token.replacen(
            "fcrm_dev_",
            "fcrm_key_",
            1
        )));
        assert!(!is_device_token(&format!(
            "{}+{}",
            &token[..20],
            &token[21..]
        )));
        assert!(!is_device_token(&format!(
            "{}é{}",
            &token[..20],
            &token[22..]
        )));
        assert!(!is_device_token(""));
    }

    #[test]
    fn the_stored_hash_is_sha256_of_the_text() {
        // The same bytes the api crate stores for API keys.
        assert_eq!(
            device_token_hash("fcrm_dev_x"),
            Sha256::digest(b"fcrm_dev_x").to_vec()
        );
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(device_token_hash("abc")),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_ne!(device_token_hash("a"), device_token_hash("b"));
    }

    #[test]
    fn the_shown_prefix_is_short() {
        let token = new_device_token();
        assert_eq!(shown_prefix(&token), &token[..13]);
    }

    #[test]
    fn tokens_come_out_of_the_headers_the_apps_send() {
        let token = new_device_token();
        assert_eq!(
            from_authorization(&format!("Bearer {token}")),
            Some(token.clone())
        );
        assert_eq!(
            from_authorization(&format!("bearer  {token} ")),
            Some(token.clone())
        );
        // OwnTracks: okhttp's Credentials.basic(username, password).
        let basic = |user: &str, password: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        };
        assert_eq!(
            from_authorization(&basic("fieldcrm", &token)),
            Some(token.clone())
        );
        assert_eq!(from_authorization(&basic(&token, "")), Some(token.clone()));
        assert_eq!(from_authorization(&basic("fieldcrm", "secret")), None);
        assert_eq!(from_authorization("Bearer fcrm_key_abc"), None);
        assert_eq!(from_authorization(&format!("Token {token}")), None);
        assert_eq!(from_authorization("Basic !!!"), None);
        assert_eq!(from_authorization(""), None);
    }
}
