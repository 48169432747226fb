//! Access tokens (JWT, HS256), refresh tokens and API key secrets.
//!
//! Access tokens are short-lived and carry user, account, role, session and a
//! token version; every request still checks that the user exists with that
//! version, so deleting a user or account ends its tokens at once. Refresh
//! tokens and API keys are random secrets stored only as SHA-256 hashes: they
//! have 256 bits of entropy, so a slow hash would add cost and no safety.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::Settings;

pub const ISSUER: &str = "fieldcrm";
pub const AUDIENCE: &str = "fieldcrm-api";
/// The audience of a browser's session token (its cookie). Tokens of one
/// audience are refused as the other: a session cookie never authenticates the
/// JSON API, and an access token never opens a page.
pub const BROWSER_AUDIENCE: &str = "fieldcrm-web";
/// API key secrets start with this, so scanners and people recognise them.
pub const API_KEY_PREFIX: &str = "fcrm_key_";
/// Refresh tokens start with this.
pub const REFRESH_PREFIX: &str = "fcrm_rt_";

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user.
    pub sub: Uuid,
    /// The user's account.
    pub acc: Uuid,
    pub role: String,
    /// The login session (refresh token family) the token belongs to.
    pub sid: Uuid,
    /// The user's token version when issued.
    pub ver: i32,
    pub iat: i64,
    pub exp: i64,
    /// A browser's session token: when the person signed in, which bounds
    /// how long renewing it may keep them signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// A new access and refresh token.
#[derive(Debug)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    browser_validation: Validation,
    verified_access: VerifiedTokens,
    verified_browser: VerifiedTokens,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long a browser's session lasts without a request.
    pub browser_idle: Duration,
    /// Keys the hashes of emails and addresses kept for login throttling.
    pepper: Vec<u8>,
    /// Keys the CSRF tokens of the web pages' forms.
    csrf_key: Vec<u8>,
    /// Sign links sent to people (unsubscribe), so ids in them cannot be forged.
    links: LinkKeys,
}

/// The keys of links sent to people. They outlive a process and a JWT secret
/// rotation: an unsubscribe link must work as long as its email is read.
pub struct LinkKeys {
    /// The first signs; each link names its key, so every one listed checks.
    keys: Vec<(String, Vec<u8>)>,
    /// The key links were signed with before they named one (derived from
    /// the JWT secret), checked while that secret is configured.
    unnamed: Option<Vec<u8>>,
}

impl LinkKeys {
    /// `configured` is `FIELDCRM_LINK_KEYS` when set; otherwise `stored` is the
    /// key kept in the database (`fieldcrm_db::link_keys`).
    pub fn new(
        settings: &Settings,
        stored: impl FnOnce() -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Self> {
        let keys = match &settings.link_keys {
            Some(spec) => fieldcrm_google::parse_key_list(spec.expose_secret())?
                .into_iter()
                .map(|(id, key)| (id, key.to_vec()))
                .collect(),
            None => vec![(fieldcrm_db::link_keys::STORED_KEY_ID.to_owned(), stored()?)],
        };
        let unnamed = settings.jwt_secret.as_ref().map(|secret| {
            Sha256::new()
                .chain_update(b"fieldcrm link signing")
                .chain_update(secret.expose_secret().as_bytes())
                .finalize()
                .to_vec()
        });
        Ok(Self { keys, unnamed })
    }

    /// A fresh key for the database to keep, should it hold none yet.
    pub fn candidate() -> Vec<u8> {
        random_bytes(32)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

impl Tokens {
    pub fn new(settings: &Settings, links: LinkKeys) -> Self {
        let secret: Vec<u8> = match &settings.jwt_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "FIELDCRM_JWT_SECRET is not set: using a random key for this process; \
                     access tokens end at restart and are not shared between processes"
                );
                random_bytes(32)
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let mut browser_validation = validation.clone();
        browser_validation.set_audience(&[BROWSER_AUDIENCE]);
        // Issued and checked by this service alone, and its expiry is the
        // idle timeout: no allowance for other clocks.
        browser_validation.leeway = 0;
        let csrf_key = Sha256::new()
            .chain_update(b"fieldcrm csrf")
            .chain_update(&secret)
            .finalize()
            .to_vec();
        let pepper = Sha256::new()
            .chain_update(b"fieldcrm login throttle")
            .chain_update(&secret)
            .finalize()
            .to_vec();
        Self {
            links,
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            browser_validation,
            verified_access: VerifiedTokens::default(),
            verified_browser: VerifiedTokens::default(),
            csrf_key,
            access_ttl: Duration::from_secs(settings.access_token_ttl_secs),
            refresh_ttl: Duration::from_secs(settings.refresh_token_ttl_days * 24 * 3600),
            browser_idle: Duration::from_secs(settings.web_idle_timeout_secs),
            pepper,
        }
    }

    /// Signs claims: an access token, or a browser's session token (by `aud`).
    pub fn issue_access(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
    }

    /// When a browser's session token signed in at `signed_in_at` (Unix
    /// seconds) and issued at `now` expires: one idle timeout on, but never
    /// past the refresh lifetime from signing in.
    pub fn browser_expiry(&self, signed_in_at: i64, now: i64) -> i64 {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
        (now + secs(self.browser_idle)).min(signed_in_at + secs(self.refresh_ttl))
    }

    /// A browser's session token issued again for another idle period, once
    /// the one shown is a quarter of that period (at most a minute) old, so a
    /// person who keeps using the pages stays signed in and each request does
    /// not sign a token. `None` when it is too fresh or would not last longer.
    pub fn renewed_browser(&self, claims: &Claims, now: i64) -> Option<Claims> {
        let idle = i64::try_from(self.browser_idle.as_secs()).unwrap_or(i64::MAX / 4);
        if now - claims.iat < (idle / 4).clamp(1, 60) {
            return None;
        }
        let exp = self.browser_expiry(claims.auth_time.unwrap_or(claims.iat), now);
        (exp > claims.exp).then(|| Claims {
            iat: now,
            exp,
            ..claims.clone()
        })
    }

    /// Checks signature, algorithm, issuer, audience and expiry.
    pub fn verify_access(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify(token, &self.validation, &self.verified_access, now())
    }

    /// As `verify_access`, for a browser's session token.
    pub fn verify_browser(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify(
            token,
            &self.browser_validation,
            &self.verified_browser,
            now(),
        )
    }

    fn verify(
        &self,
        token: &str,
        validation: &Validation,
        verified: &VerifiedTokens,
        now: i64,
    ) -> Result<Claims, TokenError> {
        let leeway = i64::try_from(validation.leeway).unwrap_or(i64::MAX);
        if let Some(claims) = verified.get(token) {
            // As `decode` judges expiry: past `exp` by more than the leeway.
            return if claims.exp.saturating_add(leeway) < now {
                Err(TokenError::Expired)
            } else {
                Ok(claims)
            };
        }
        let claims = decode::<Claims>(token, &self.decoding, validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })?;
        verified.keep(token, &claims);
        Ok(claims)
    }

    /// The CSRF token of forms shown to whoever holds `binding` (a session's
    /// id, or the random value of a browser not signed in yet): a MAC, so
    /// nothing is stored and another site cannot make one.
    pub fn csrf_token(&self, binding: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.csrf_mac(binding).finalize().into_bytes())
    }

    /// Whether `token` is the CSRF token of `binding` (compared in constant time).
    pub fn check_csrf(&self, binding: &[u8], token: &str) -> bool {
        URL_SAFE_NO_PAD
            .decode(token.trim())
            .is_ok_and(|tag| self.csrf_mac(binding).verify_slice(&tag).is_ok())
    }

    fn csrf_mac(&self, binding: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.csrf_key).expect("HMAC takes keys of any length");
        mac.update(binding);
        mac
    }

    /// A keyed hash for the login throttle: the table never holds a readable
    /// email or address, and without the key nobody can test guesses against it.
    pub fn throttle_key(&self, kind: &str, value: &str) -> Vec<u8> {
        Sha256::new()
            .chain_update(&self.pepper)
            .chain_update(kind.as_bytes())
            .chain_update(b":")
            .chain_update(value.as_bytes())
            .finalize()
            .to_vec()
    }
}

impl Tokens {
    fn link_mac(key: &[u8], purpose: &[u8], id: &Uuid) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(purpose);
        mac.update(id.as_bytes());
        mac
    }

    /// The token of a person's unsubscribe link: the signing key's id, then
    /// their id and a MAC over it.
    pub fn unsubscribe_token(&self, person: Uuid) -> String {
        let (key_id, key) = &self.links.keys[0];
        let tag = Self::link_mac(key, b"unsubscribe", &person)
            .finalize()
            .into_bytes();
        let mut raw = person.as_bytes().to_vec();
        raw.extend_from_slice(&tag[..LINK_TAG_BYTES]);
        format!("{key_id}.{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// The person an unsubscribe token names, if one of the link keys signed it.
    pub fn verify_unsubscribe(&self, token: &str) -> Option<Uuid> {
        let token = token.trim();
        let (key, signed) = match token.split_once('.') {
            Some((id, signed)) => (
                self.links
                    .keys
                    .iter()
                    .find(|(known, _)| known == id)
                    .map(|(_, key)| key)?,
                signed,
            ),
            None => (self.links.unnamed.as_ref()?, token),
        };
        let raw = URL_SAFE_NO_PAD.decode(signed).ok()?;
        if raw.len() != 16 + LINK_TAG_BYTES {
            return None;
        }
        let person = Uuid::from_slice(&raw[..16]).ok()?;
        Self::link_mac(key, b"unsubscribe", &person)
            .verify_truncated_left(&raw[16..])
            .ok()?;
        Some(person)
    }
}

/// Tokens that passed every check of one validation, with their claims, so a
/// client's next requests with the same token skip the signature and the JSON:
/// about a tenth of a GET by id's CPU. Kept under the token's exact text, so
/// nothing unverified is ever taken from here; only expiry changes with time,
/// and it is checked on every use. The facts a token is checked against
/// (user, session, token version) are not kept here: `SessionCache`.
#[derive(Default)]
struct VerifiedTokens {
    entries: Mutex<HashMap<Box<str>, Claims>>,
}

/// Beyond this many tokens the kept ones start over, so memory stays bounded
/// (about 5 MB) whatever the number of clients.
const MOST_VERIFIED_TOKENS: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, token: &str) -> Option<Claims> {
        self.lock().get(token).cloned()
    }

    fn keep(&self, token: &str, claims: &Claims) {
        let mut entries = self.lock();
        if entries.len() >= MOST_VERIFIED_TOKENS {
            entries.clear();
        }
        entries.insert(token.into(), claims.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Claims>> {
        // The map is whole after any panic: an insert or a clear.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// 128 bits of MAC: forging a link means guessing them.
const LINK_TAG_BYTES: usize = 16;

/// A new random secret with the given prefix.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random_bytes(32)))
}

pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let settings = Settings::default();
        let links = LinkKeys::new(&settings, || Ok(LinkKeys::candidate())).expect("link keys");
        Tokens::new(&settings, links)
    }

    fn claims(aud: &str) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            iss: ISSUER.into(),
            aud: aud.into(),
            sub: Uuid::now_v7(),
            acc: Uuid::now_v7(),
            role: "owner".into(),
            sid: Uuid::now_v7(),
            ver: 0,
            iat: now,
            exp: now + 60,
            auth_time: None,
        }
    }

    #[test]
    fn a_browser_token_is_renewed_for_an_idle_period_but_not_past_the_refresh_lifetime() {
        let mut tokens = tokens();
        tokens.browser_idle = Duration::from_secs(3600);
        tokens.refresh_ttl = Duration::from_secs(24 * 3600);
        let signed_in = 1_000_000;
        let first = Claims {
            iat: signed_in,
            exp: tokens.browser_expiry(signed_in, signed_in),
            auth_time: Some(signed_in),
            ..claims(BROWSER_AUDIENCE)
        };
        assert_eq!(first.exp, signed_in + 3600);
        // Too fresh to sign again.
        assert!(tokens.renewed_browser(&first, signed_in + 59).is_none());
        let renewed = tokens.renewed_browser(&first, signed_in + 600).unwrap();
        assert_eq!(
            (renewed.iat, renewed.exp),
            (signed_in + 600, signed_in + 4200)
        );
        assert_eq!(renewed.auth_time, Some(signed_in));
        assert_eq!(renewed.sid, first.sid);
        // Near the end of the refresh lifetime the expiry stops there.
        let late = Claims {
            iat: signed_in + 23 * 3600,
            exp: signed_in + 24 * 3600,
            ..first.clone()
        };
        assert!(tokens
            .renewed_browser(&late, signed_in + 23 * 3600 + 1800)
            .is_none());
    }

    #[test]
    fn a_browser_token_and_an_access_token_are_each_refused_as_the_other() {
        let tokens = tokens();
        let access = tokens.issue_access(&claims(AUDIENCE)).unwrap();
        let browser = tokens.issue_access(&claims(BROWSER_AUDIENCE)).unwrap();
        // Twice: the second time each is taken from the tokens already verified.
        for _ in 0..2 {
            assert!(tokens.verify_access(&access).is_ok());
            assert!(tokens.verify_browser(&browser).is_ok());
            assert!(tokens.verify_access(&browser).is_err());
            assert!(tokens.verify_browser(&access).is_err());
        }
    }

    #[test]
    fn a_kept_token_still_expires_and_only_its_exact_text_is_taken() {
        let tokens = tokens();
        let claims = claims(AUDIENCE);
        let token = tokens.issue_access(&claims).unwrap();
        assert_eq!(tokens.verify_access(&token).unwrap().sub, claims.sub);
        assert!(tokens.verified_access.get(&token).is_some(), "kept");
        let at = |now| tokens.verify(&token, &tokens.validation, &tokens.verified_access, now);
        // The access leeway is 30 s, as `decode` allows.
        assert!(at(claims.exp + 30).is_ok());
        assert!(matches!(at(claims.exp + 31), Err(TokenError::Expired)));
        // The same claims signed with another key, and a token cut short,
        // are not the kept token.
        let forged = self::tokens().issue_access(&claims).unwrap();
        assert!(matches!(
            tokens.verify_access(&forged),
            Err(TokenError::Invalid)
        ));
        assert!(tokens.verify_access(&token[..token.len() - 1]).is_err());
    }

    #[test]
    fn a_csrf_token_holds_only_for_its_binding_and_key() {
        let tokens = tokens();
        let token = tokens.csrf_token(b"session:one");
        assert!(tokens.check_csrf(b"session:one", &token));
        assert!(!tokens.check_csrf(b"session:two", &token));
        assert!(!tokens.check_csrf(b"session:one", ""));
        assert!(!tokens.check_csrf(b"session:one", "not base64 !"));
        // Another process without a shared secret makes other tokens.
        assert!(!self::tokens().check_csrf(b"session:one", &token));
    }
}
