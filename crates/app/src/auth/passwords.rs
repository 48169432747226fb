//! argon2id with OWASP's parameters of 12 MiB, 3 passes, 1 lane: one of the
//! configurations its Password Storage Cheat Sheet gives as equally strong
//! (19 MiB with 2 passes is another, 7 MiB with 5 a third), chosen for the
//! memory each check holds: a sign-in takes 12 MiB for its duration, and a
//! server meant to run in 100 MB checks several at once. The passes make up
//! the time, so a guess costs an attacker as much.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use fieldcrm_domain::Password;

const MEMORY_KIB: u32 = 12 * 1024;
const PASSES: u32 = 3;
const LANES: u32 = 1;

fn hasher() -> Argon2<'static> {
    // The parameters are constants that argon2 accepts; see the unit test.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=12288,t=3,p=1$...`). CPU-heavy: call it on
/// the blocking pool.
pub fn hash(password: &Password) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.expose().as_bytes(), &salt)?
        .to_string())
}

/// Checks a candidate against a stored hash. With no stored hash (no such user,
/// or no password set) it checks against a fixed one anyway, so the answer takes
/// as long whether or not the email exists.
pub fn verify(stored: Option<&str>, candidate: &str) -> bool {
    static DECOY: LazyLock<String> = LazyLock::new(|| {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(b"decoy password never matched", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (DECOY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let matches = hasher()
        .verify_password(candidate.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

/// Whether a stored hash was made otherwise than [`hash`] makes one now (with
/// the 19 MiB parameters of earlier releases, say). Checking it still works,
/// as the hash names its own parameters; a right password then replaces it,
/// so every check comes to cost what the current parameters cost.
pub fn is_outdated(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let current = (MEMORY_KIB, PASSES, LANES);
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || Params::try_from(&parsed)
            .map_or(true, |p| (p.m_cost(), p.t_cost(), p.p_cost()) != current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let password = Password::parse("correct horse battery staple").unwrap();
        let phc = hash(&password).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{phc}");
        assert!(!is_outdated(&phc));
        assert!(verify(Some(&phc), "correct horse battery staple"));
        assert!(!verify(Some(&phc), "correct horse battery stapler"));
        assert!(!verify(None, "decoy password never matched"));
        assert_ne!(phc, hash(&password).unwrap(), "salted");
    }

    #[test]
    fn a_hash_with_other_parameters_still_verifies_and_is_outdated() {
        let salt = SaltString::generate(&mut OsRng);
        let earlier = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19 * 1024, 2, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery staple", &salt)
        .unwrap()
        .to_string();
        assert!(verify(Some(&earlier), "correct horse battery staple"));
        assert!(!verify(Some(&earlier), "correct horse battery stapler"));
        assert!(is_outdated(&earlier));
        assert!(!is_outdated("not a hash"), "nothing to renew it from");
    }
}
