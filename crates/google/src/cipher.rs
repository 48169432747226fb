//! Sealing third-party tokens at rest with AES-256-GCM.
//!
//! A sealed value is `v1:<key id>:<base64url(nonce ‖ ciphertext)>`. Keys are
//! configured as `id:base64key` pairs; the first seals, all of them open, so a
//! key can be rotated by putting a new one first and dropping the old one once
//! every row has been sealed again (they are, on the next token refresh). The
//! row's owner goes in as associated data: a sealed token copied into another
//! account's row does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;

const NONCE_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("{0}")]
    Config(String),
    #[error("sealed with key `{0}`, which is not configured")]
    UnknownKey(String),
    #[error("the sealed value is damaged or belongs to another owner")]
    Damaged,
}

/// Reads a list of named keys, `id:base64key[,id:base64key…]`, each 32 bytes
/// in standard base64, ids 1 to 32 letters, digits, `-` or `_`, in the order
/// given (the first is the one that seals or signs). Shared by every setting
/// that holds rotating keys.
pub fn parse_key_list(spec: &str) -> Result<Vec<(String, [u8; 32])>, CipherError> {
    let mut keys: Vec<(String, [u8; 32])> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, key) = part
            .split_once(':')
            .ok_or_else(|| CipherError::Config("each key is written `id:base64key`".into()))?;
        if id.is_empty()
            || id.len() > 32
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(CipherError::Config(format!(
                "key id `{id}` must be 1 to 32 letters, digits, `-` or `_`"
            )));
        }
        let bytes = STANDARD
            .decode(key)
            .map_err(|_| CipherError::Config(format!("key `{id}` is not base64")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            CipherError::Config(format!(
                "key `{id}` must be 32 bytes, found {}",
                bytes.len()
            ))
        })?;
        if keys.iter().any(|(known, _)| known == id) {
            return Err(CipherError::Config(format!("key id `{id}` appears twice")));
        }
        keys.push((id.to_owned(), key));
    }
    if keys.is_empty() {
        return Err(CipherError::Config("no key given".into()));
    }
    Ok(keys)
}

#[derive(Clone)]
pub struct TokenCipher {
    /// The first key seals.
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("TokenCipher")
            .field("key_ids", &ids)
            .finish()
    }
}

impl TokenCipher {
    /// Reads `id:base64key[,id:base64key…]`; each key is 32 bytes in standard base64.
    pub fn from_spec(spec: &str) -> Result<Self, CipherError> {
        let keys = parse_key_list(spec)?
            .into_iter()
            .map(|(id, key)| (id, Aes256Gcm::new(&Key::<Aes256Gcm>::from(key))))
            .collect();
        Ok(TokenCipher { keys })
    }

    pub fn seal(&self, plaintext: &str, owner: &[u8]) -> String {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: owner,
                },
            )
            .expect("AES-GCM encrypts any input of this size");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("v1:{id}:{}", URL_SAFE_NO_PAD.encode(out))
    }

    pub fn open(&self, sealed: &str, owner: &[u8]) -> Result<String, CipherError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CipherError::Damaged);
        };
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(known, _)| known == id)
            .ok_or_else(|| CipherError::UnknownKey(id.to_owned()))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CipherError::Damaged)?;
        if bytes.len() <= NONCE_LEN {
            return Err(CipherError::Damaged);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CipherError::Damaged)?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner,
                },
            )
            .map_err(|_| CipherError::Damaged)?;
        String::from_utf8(plain).map_err(|_| CipherError::Damaged)
    }

    /// The id of the key that seals now.
    pub fn current_key_id(&self) -> &str {
        &self.keys[0].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn seals_and_opens_for_the_same_owner_only() {
        let cipher = TokenCipher::from_spec(&format!("k1:{}", key(1))).unwrap();
        let sealed = cipher.seal("1//refresh-token", b"account-a");
        assert!(sealed.starts_with("v1:k1:"));
        assert!(!sealed.contains("refresh-token"));
        assert_eq!(
            cipher.open(&sealed, b"account-a").unwrap(),
            "1//refresh-token"
        );
        assert_eq!(
            cipher.open(&sealed, b"account-b"),
            Err(CipherError::Damaged)
        );
        // A fresh nonce each time: the same token never seals to the same text.
        assert_ne!(sealed, cipher.seal("1//refresh-token", b"account-a"));
    }

    #[test]
    fn rotated_keys_still_open_old_values() {
        let old = TokenCipher::from_spec(&format!("old:{}", key(1))).unwrap();
        let sealed = old.seal("token", b"owner");
        let rotated = TokenCipher::from_spec(&format!("new:{},old:{}", key(2), key(1))).unwrap();
        assert_eq!(rotated.open(&sealed, b"owner").unwrap(), "token");
        assert!(rotated.seal("token", b"owner").starts_with("v1:new:"));
        let dropped = TokenCipher::from_spec(&format!("new:{}", key(2))).unwrap();
        assert_eq!(
            dropped.open(&sealed, b"owner"),
            Err(CipherError::UnknownKey("old".into()))
        );
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        for spec in ["", "nokey", "k1:notbase64!", "k1:AAAA", "a b:AAAA"] {
            assert!(TokenCipher::from_spec(spec).is_err(), "{spec}");
        }
        let twice = format!("k:{},k:{}", key(1), key(2));
        assert!(TokenCipher::from_spec(&twice).is_err());
    }
}
