//! The outside services that carry messages, each behind a trait so the worker
//! does not care which one it talks to: SMS through Twilio's Messages REST API,
//! email through SMTP (a relay, or Gmail with XOAUTH2). Also the check of the
//! signature Twilio puts on its webhooks.

mod email;
mod sms;
pub mod twilio_signature;

pub use email::{EmailSender, OutgoingEmail, SmtpAuth, SmtpConfig, SmtpRelay, SmtpTls};
pub use sms::{OutgoingSms, SmsSender, Twilio, TwilioConfig};

/// Why a message did not go out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later: timeouts, rate limits, the provider's own errors.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Trying again will not help: a bad number, a refused address, bad credentials.
    #[error("permanent failure{}: {message}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Permanent {
        code: Option<String>,
        message: String,
    },
    /// The carrier says the recipient has opted out of messages from this sender.
    #[error("the recipient has unsubscribed")]
    Unsubscribed { code: String },
}
