//! Outbound webhooks after Standard Webhooks 1.0
//! (<https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md>):
//! the signing secrets and signatures, the policy on target URLs that keeps
//! deliveries off internal networks (SSRF), one delivery attempt with its
//! outcome, the retry schedule, and the JSON envelope.
//!
//! No storage and no jobs here: which events go where, when to try again and
//! what to record is the caller's; this crate makes one signed attempt and says
//! how it went.

mod deliver;
mod envelope;
mod schedule;
mod secret;
mod target;

pub use deliver::{
    Attempt, Deliverer, DeliveryConfig, Endpoint, Failure, InvalidMessageId, Message, Outcome,
    DEFAULT_TIMEOUT, MAX_RESPONSE_BYTES,
};
pub use envelope::{envelope, is_valid_event_type};
pub use schedule::{
    retry_delay, should_disable, DISABLE_AFTER_DAYS, JITTER, MAX_ATTEMPTS, RETRY_SCHEDULE,
};
pub use secret::{sign, Secret, SecretError, ROTATION_OVERLAP};
pub use target::{
    classify, AddressKind, Resolve, SystemResolver, TargetError, TargetPolicy, TargetUrl,
    MAX_URL_LEN,
};

/// The header names of the scheme.
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
