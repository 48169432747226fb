//! The senders this process uses, built from the settings. A channel whose
//! provider is not configured is `None`: its messages fail with a clear reason
//! instead of waiting forever.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use fieldcrm_google::{
    Authorizer, CalendarApi, GoogleCalendar, GoogleOAuth, OAuthConfig, TokenCipher,
};

use fieldcrm_notify::{
    EmailSender, SmsSender, SmtpAuth, SmtpConfig, SmtpRelay, SmtpTls, Twilio, TwilioConfig,
};

use base64::Engine;
use fieldcrm_webhooks::{Deliverer, DeliveryConfig, TargetPolicy};

use crate::config::{Settings, SmtpTlsMode};

/// Google, when this service has an OAuth client.
pub struct Google {
    pub oauth: Arc<dyn Authorizer>,
    pub calendar: Arc<dyn CalendarApi>,
    pub cipher: TokenCipher,
    pub calendar_id: String,
    /// Where Google sends push notifications.
    pub webhook_url: String,
    pub push_enabled: bool,
    /// Gmail's SMTP server, for accounts that granted sending.
    pub gmail_host: String,
    pub gmail_port: u16,
    pub gmail_tls: SmtpTls,
    pub timeout: Duration,
}

impl Google {
    /// Sends as `address` with XOAUTH2 and the account's access token.
    pub fn gmail_smtp(&self, address: String, access_token: SecretString) -> SmtpConfig {
        SmtpConfig {
            host: self.gmail_host.clone(),
            port: self.gmail_port,
            tls: self.gmail_tls,
            ..SmtpConfig::gmail(address, access_token, self.timeout)
        }
    }
}

pub struct Outbound {
    pub sms: Option<Arc<dyn SmsSender>>,
    pub email: Option<Arc<dyn EmailSender>>,
    /// Without a trailing slash.
    pub public_base_url: String,
    /// Signs Twilio's webhooks.
    pub twilio_auth_token: Option<SecretString>,
    pub google: Option<Arc<Google>>,
    /// Delivers webhooks (one client, its connections kept between deliveries).
    pub webhooks: Deliverer,
    /// Seals webhook signing secrets: with the configured encryption keys (the
    /// first seals), and with the key kept in the database, which seals when
    /// none is configured and still opens what it sealed once one is.
    pub sealer: TokenCipher,
}

impl Outbound {
    pub fn from_settings(
        settings: &Settings,
        bound_port: u16,
        stored_sealing_key: &[u8],
    ) -> anyhow::Result<Self> {
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
                    tls: tls_of(settings.smtp_tls),
                    auth,
                    from_address: from.clone(),
                    timeout,
                })))
            }
            _ => None,
        };
        let public_base_url = settings.public_base_url(bound_port);
        let google = match (
            &settings.google_client_id,
            &settings.google_client_secret,
            &settings.token_encryption_keys,
        ) {
            (Some(client_id), Some(secret), Some(keys)) => {
                let oauth = GoogleOAuth::new(OAuthConfig {
                    client_id: client_id.clone(),
                    client_secret: secret.clone(),
                    auth_url: settings.google_auth_url.clone(),
                    token_url: settings.google_token_url.clone(),
                    revoke_url: settings.google_revoke_url.clone(),
                    redirect_url: format!("{public_base_url}/v1/integrations/google/callback"),
                    timeout,
                })?;
                let calendar = GoogleCalendar::new(&settings.google_api_root_url, timeout)?;
                Some(Arc::new(Google {
                    oauth: Arc::new(oauth),
                    calendar: Arc::new(calendar),
                    cipher: TokenCipher::from_spec(keys.expose_secret())?,
                    calendar_id: settings.google_calendar_id.clone(),
                    webhook_url: format!("{public_base_url}/v1/webhooks/google/calendar"),
                    push_enabled: settings.google_push_enabled,
                    gmail_host: settings.google_smtp_host.clone(),
                    gmail_port: settings.google_smtp_port,
                    gmail_tls: tls_of(settings.google_smtp_tls),
                    timeout,
                }))
            }
            _ => None,
        };
        let webhooks = Deliverer::new(DeliveryConfig {
            timeout: Duration::from_secs(settings.webhook_timeout_secs),
            policy: TargetPolicy {
                allow_private_targets: settings.webhooks_allow_private_targets,
            },
            ..DeliveryConfig::default()
        })?;
        let stored = format!(
            "{}:{}",
            fieldcrm_db::link_keys::SEALING_KEY_ID,
            base64::engine::general_purpose::STANDARD.encode(stored_sealing_key)
        );
        let sealer = TokenCipher::from_spec(&match &settings.token_encryption_keys {
            Some(keys) => format!("{},{stored}", keys.expose_secret()),
            None => stored,
        })?;
        Ok(Outbound {
            webhooks,
            sealer,
            google,
            sms,
            email,
            public_base_url,
            twilio_auth_token: settings.twilio_auth_token.clone(),
        })
    }
}

fn tls_of(mode: SmtpTlsMode) -> SmtpTls {
    match mode {
        SmtpTlsMode::Starttls => SmtpTls::StartTls,
        SmtpTlsMode::Tls => SmtpTls::Wrapper,
        SmtpTlsMode::None => SmtpTls::None,
    }
}
