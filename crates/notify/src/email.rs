//! Email through SMTP with lettre: a configured relay, or Gmail
//! (smtp.gmail.com:587, STARTTLS) with AUTH XOAUTH2 and a fresh access token.
//! Every email carries a one-click unsubscribe (RFC 8058).

use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::SendError;

/// One email to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Shown as the sender's name: the business.
    pub from_name: String,
    pub to: String,
    pub subject: String,
    /// Plain text, footer included.
    pub text: String,
    /// The https link that unsubscribes with one POST.
    pub unsubscribe_url: String,
    /// `<id@host>`, so a retry after a lost answer can be recognised downstream.
    pub message_id: String,
}

pub trait EmailSender: Send + Sync {
    /// Hands the email to the server; the Message-ID on success.
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, SendError>>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text; for a relay on the same host only.
    None,
    /// STARTTLS, required (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Wrapper,
}

#[derive(Clone)]
pub enum SmtpAuth {
    None,
    /// PLAIN or LOGIN, whichever the server offers.
    Password {
        user: String,
        password: SecretString,
    },
    /// SASL XOAUTH2 with an OAuth 2.0 access token (Gmail).
    Xoauth2 {
        user: String,
        token: SecretString,
    },
}

#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub auth: SmtpAuth,
    /// The envelope and header sender address.
    pub from_address: String,
    pub timeout: Duration,
}

impl SmtpConfig {
    /// Gmail's submission server for `user`, authenticated with an access token.
    pub fn gmail(user: String, token: SecretString, timeout: Duration) -> Self {
        SmtpConfig {
            host: "smtp.gmail.com".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            from_address: user.clone(),
            auth: SmtpAuth::Xoauth2 { user, token },
            timeout,
        }
    }
}

pub struct SmtpRelay {
    config: SmtpConfig,
}

impl SmtpRelay {
    pub fn new(config: SmtpConfig) -> Self {
        SmtpRelay { config }
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let c = &self.config;
        let tls = match c.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls | SmtpTls::Wrapper => {
                let params =
                    TlsParameters::new(c.host.clone()).map_err(|err| SendError::Permanent {
                        code: None,
                        message: format!("TLS set-up failed: {err}"),
                    })?;
                if c.tls == SmtpTls::StartTls {
                    Tls::Required(params)
                } else {
                    Tls::Wrapper(params)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
            .port(c.port)
            .tls(tls)
            .timeout(Some(c.timeout));
        match &c.auth {
            SmtpAuth::None => {}
            SmtpAuth::Password { user, password } => {
                builder = builder
                    .credentials(Credentials::new(
                        user.clone(),
                        password.expose_secret().to_owned(),
                    ))
                    .authentication(vec![Mechanism::Plain, Mechanism::Login]);
            }
            SmtpAuth::Xoauth2 { user, token } => {
                builder = builder
                    .credentials(Credentials::new(
                        user.clone(),
                        token.expose_secret().to_owned(),
                    ))
                    .authentication(vec![Mechanism::Xoauth2]);
            }
        }
        Ok(builder.build())
    }

    fn message(&self, email: &OutgoingEmail) -> Result<Message, SendError> {
        let invalid = |what: &str| SendError::Permanent {
            code: None,
            message: format!("the {what} address is not usable"),
        };
        let from = Mailbox::new(
            Some(email.from_name.clone()),
            self.config
                .from_address
                .parse()
                .map_err(|_| invalid("sender"))?,
        );
        let to: Mailbox = email.to.parse().map_err(|_| invalid("recipient"))?;
        Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            .header(ListUnsubscribe(format!("<{}>", email.unsubscribe_url)))
            .header(ListUnsubscribePost)
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone())
            .map_err(|err| SendError::Permanent {
                code: None,
                message: format!("the email could not be built: {err}"),
            })
    }

    async fn deliver(&self, email: &OutgoingEmail) -> Result<String, SendError> {
        let message = self.message(email)?;
        let transport = self.transport()?;
        match transport.send(message).await {
            Ok(_) => Ok(email.message_id.clone()),
            Err(err) => {
                let code = err.status().map(|c| c.to_string());
                if err.is_permanent() {
                    Err(SendError::Permanent {
                        code,
                        message: "the mail server refused the message".into(),
                    })
                } else if err.is_timeout() {
                    Err(SendError::Transient(
                        "the mail server did not answer in time".into(),
                    ))
                } else if err.is_transient() {
                    Err(SendError::Transient(format!(
                        "the mail server asked to try later ({})",
                        code.unwrap_or_default()
                    )))
                } else {
                    Err(SendError::Transient(
                        "could not talk to the mail server".into(),
                    ))
                }
            }
        }
    }
}

impl EmailSender for SmtpRelay {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(self.deliver(email))
    }
}

/// `List-Unsubscribe: <https://...>` (RFC 2369).
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): mail clients
/// unsubscribe with one POST, which link scanners do not send.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}
