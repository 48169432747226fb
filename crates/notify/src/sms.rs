//! SMS through Twilio's Messages REST API, with reqwest. The `twilio` crate is
//! not used: it hard-codes Twilio's host, so it could not be pointed at a
//! stand-in, and the one call needed is a form POST.

use std::time::Duration;

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::SendError;

/// One text to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingSms {
    /// E.164.
    pub to: String,
    pub body: String,
    /// Where the provider reports delivery.
    pub status_callback: Option<String>,
}

pub trait SmsSender: Send + Sync {
    /// Hands the text to the provider; the provider's message id on success.
    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> BoxFuture<'a, Result<String, SendError>>;
}

#[derive(Clone)]
pub struct TwilioConfig {
    /// `https://api.twilio.com` in production.
    pub api_base_url: String,
    pub account_sid: String,
    pub auth_token: SecretString,
    /// The sending number; used when no messaging service is set.
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub timeout: Duration,
}

pub struct Twilio {
    config: TwilioConfig,
    client: reqwest::Client,
}

impl Twilio {
    pub fn new(config: TwilioConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Twilio { config, client })
    }

    fn messages_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.config.api_base_url.trim_end_matches('/'),
            self.config.account_sid
        )
    }

    async fn post(&self, sms: &OutgoingSms) -> Result<String, SendError> {
        let mut form: Vec<(&str, &str)> = vec![("To", &sms.to), ("Body", &sms.body)];
        match (&self.config.messaging_service_sid, &self.config.from) {
            (Some(service), _) => form.push(("MessagingServiceSid", service)),
            (None, Some(from)) => form.push(("From", from)),
            (None, None) => {
                return Err(SendError::Permanent {
                    code: None,
                    message: "no sending number or messaging service is configured".into(),
                })
            }
        }
        if let Some(callback) = &sms.status_callback {
            form.push(("StatusCallback", callback));
        }
        let response = self
            .client
            .post(self.messages_url())
            .basic_auth(
                &self.config.account_sid,
                Some(self.config.auth_token.expose_secret()),
            )
            .form(&form)
            .send()
            .await
            .map_err(|err| unsent_or_unknown(&err))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|err| unsent_or_unknown(&err))?;
        if status.is_success() {
            return serde_json::from_slice::<Created>(&body)
                .map(|created| created.sid)
                .map_err(|_| {
                    SendError::Transient("the provider's answer had no message id".into())
                });
        }
        let error: TwilioError = serde_json::from_slice(&body).unwrap_or_default();
        let code = error.code.map(|c| c.to_string());
        // Twilio's own wording can quote the phone number; the code says enough.
        let message = match &code {
            Some(code) => format!("Twilio answered {} with error {code}", status.as_u16()),
            None => format!("Twilio answered {}", status.as_u16()),
        };
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(SendError::Transient(message));
        }
        match code.as_deref() {
            // "Attempt to send to unsubscribed recipient": they texted STOP.
            Some("21610") => Err(SendError::Unsubscribed {
                code: "21610".into(),
            }),
            _ => Err(SendError::Permanent { code, message }),
        }
    }
}

impl SmsSender for Twilio {
    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(self.post(sms))
    }
}

/// A request that never reached Twilio is retried. One that failed after it
/// was sent (a timeout waiting for the answer, a dropped connection) may have
/// been accepted, and SMS has no idempotency key: a retry could text the person
/// twice, so it is not retried and the message fails with the reason.
fn unsent_or_unknown(err: &reqwest::Error) -> SendError {
    if err.is_connect() {
        SendError::Transient(describe(err))
    } else {
        SendError::Permanent {
            code: None,
            message: format!(
                "{}; whether Twilio got it is unknown, so it is not sent again",
                describe(err)
            ),
        }
    }
}

/// What went wrong, without the URL (it holds the account SID).
fn describe(err: &reqwest::Error) -> String {
    if err.is_connect() {
        "could not connect to Twilio".into()
    } else if err.is_timeout() {
        "Twilio did not answer in time".into()
    } else {
        "the request to Twilio failed".into()
    }
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize, Default)]
struct TwilioError {
    code: Option<i64>,
}
