use std::fmt;
use std::str::FromStr;

use crate::Invalid;

/// Where a person stands with the business: a customer, or a prospect until
/// converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Customer,
    Prospect,
}

impl Stage {
    /// Every stage, for what reads people stage by stage (the export).
    pub const ALL: [Stage; 2] = [Stage::Customer, Stage::Prospect];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Customer => "customer",
            Stage::Prospect => "prospect",
        }
    }
}

impl FromStr for Stage {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s {
            "customer" => Ok(Stage::Customer),
            "prospect" => Ok(Stage::Prospect),
            _ => Err(Invalid("must be `customer` or `prospect`".into())),
        }
    }
}

/// A person's name: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        crate::single_line(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An email address, validated (RFC 5321/5322 syntax) and kept in lower case,
/// so `Ann@Example.com` and `ann@example.com` are one address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        let invalid = || Invalid("is not a valid email address".into());
        if email.is_empty() || email.len() > Self::MAX_LEN {
            return Err(invalid());
        }
        let parsed = email_address::EmailAddress::from_str(&email).map_err(|_| invalid())?;
        // A bare host such as `ann@localhost` is valid syntax but not deliverable.
        if !parsed.domain().contains('.') || parsed.domain().starts_with('[') {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Addresses are personal data: debug output never shows them whole.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        write!(f, "Email(***@{domain})")
    }
}

/// A password as typed: 12 to 128 characters. The upper bound keeps hashing
/// cost bounded; the lower is OWASP's advice for passwords without other factors.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Invalid(format!(
                "must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if chars > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if raw.trim().is_empty() {
            return Err(Invalid("must not be only spaces".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_validated_and_lower_cased() {
        assert_eq!(
            Email::parse(" Ann.Lee@Example.COM ").unwrap().as_str(),
            "ann.lee@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@localhost",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
        assert!(!format!("{:?}", Email::parse("ann@example.com").unwrap()).contains("ann"));
    }

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&" ".repeat(12)).is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let ok = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{ok:?}"), "Password(***)");
        // Characters, not bytes: twelve accented letters are enough.
        assert!(Password::parse(&"é".repeat(12)).is_ok());
    }

    #[test]
    fn names_are_trimmed() {
        assert_eq!(PersonName::parse("  Zoë  ").unwrap().as_str(), "Zoë");
        assert!(PersonName::parse("").is_err());
    }
}
