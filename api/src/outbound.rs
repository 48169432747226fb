//! The senders this process uses, built from the settings. A channel whose
//! provider is not configured is `None`: its messages fail with a clear reason
//! instead of waiting forever.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use fieldcrm_notify::{
    EmailSender, SmsSender, SmtpAuth, SmtpConfig, SmtpRelay, SmtpTls, Twilio, TwilioConfig,
};

use crate::config::{Settings, SmtpTlsMode};

pub struct Outbound {
    pub sms: Option<Arc<dyn SmsSender>>,
    pub email: Option<Arc<dyn EmailSender>>,
    /// Without a trailing slash.
    pub public_base_url: String,
    /// Signs Twilio's webhooks.
    pub twilio_auth_token: Option<SecretString>,
}

impl Outbound {
    pub fn from_settings(settings: &Settings, bound_port: u16) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(settings.outbound_timeout_secs.max(1));
        let sms: Option<Arc<dyn SmsSender>> =
            match (&settings.twilio_account_sid, &settings.twilio_auth_token) {
                (Some(sid), Some(token)) => Some(Arc::new(Twilio::new(TwilioConfig {
                    api_base_url: settings.twilio_api_base_url.clone(),
                    account_sid: sid.clone(),
                    auth_token: token.clone(),
                    from: settings.twilio_from.clone(),
                    messaging_service_sid: settings.twilio_messaging_service_sid.clone(),
                    timeout,
                })?)),
                _ => None,
            };
        let email: Option<Arc<dyn EmailSender>> = match (&settings.smtp_host, &settings.email_from)
        {
            (Some(host), Some(from)) => {
                let auth = match (
                    &settings.smtp_username,
                    &settings.smtp_oauth2_token,
                    &settings.smtp_password,
                ) {
                    (Some(user), Some(token), _) => SmtpAuth::Xoauth2 {
                        user: user.clone(),
                        token: token.clone(),
                    },
                    (Some(user), None, Some(password)) => SmtpAuth::Password {
                        user: user.clone(),
                        password: password.clone(),
                    },
                    _ => SmtpAuth::None,
                };
                Some(Arc::new(SmtpRelay::new(SmtpConfig {
                    host: host.clone(),
                    port: settings.smtp_port,
                    tls: match settings.smtp_tls {
                        SmtpTlsMode::Starttls => SmtpTls::StartTls,
                        SmtpTlsMode::Tls => SmtpTls::Wrapper,
                        SmtpTlsMode::None => SmtpTls::None,
                    },
                    auth,
                    from_address: from.clone(),
                    timeout,
                })))
            }
            _ => None,
        };
        Ok(Outbound {
            sms,
            email,
            public_base_url: settings.public_base_url(bound_port),
            twilio_auth_token: settings.twilio_auth_token.clone(),
        })
    }
}
